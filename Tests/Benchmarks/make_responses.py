"""Generates the benchmark's canned answers and prebuilt requests ONCE, with the official
clarifai-grpc classes, into the directory given as argv[1] (build/bench/data):

  predict1.{pb,json}   MultiOutputResponse: 1 output with 20 concepts (PostModelOutputs answer)
  predict32.{pb,json}  the same for a 32-input batch (32 outputs x 20 concepts)
  stream.pb            1,000 gRPC-framed MultiOutputResponse messages (GenerateModelOutputs)
  req_{url,bytes,batch,stream}.{pb,json}  requests for the raw libcurl floor client
  image.bin            1 MiB of random bytes (the "image" of scenario c)
  nginx_predict1.conf  the `return 200 '<json>';` snippet for nginx
JSON is the REST form: original field names, enums as numbers (json_format).
"""
import os
import random
import sys

from google.protobuf import json_format
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_pb2, status_code_pb2

USER, APP, MODEL, BATCH_MODEL, VERSION = "bench-user", "bench-app", "general-image-recognition", "batch32", ""
IMAGE_URL = "https://samples.clarifai.com/metro-north.jpg"
CONCEPTS = ["train", "railway", "subway system", "station", "locomotive", "transportation system",
            "travel", "commuter", "platform", "light", "traffic", "blur", "city", "urban",
            "no person", "public", "rush", "business", "road", "fast"]


def ts(message, seconds):
    message.seconds = seconds
    message.nanos = 123456000


def output(index):
    out = resources_pb2.Output(id=f"{index:032x}")
    out.status.code = status_code_pb2.SUCCESS
    out.status.description = "Ok"
    ts(out.created_at, 1700000000 + index)
    model = out.model
    model.id = MODEL
    model.name = "general-image-recognition"
    model.app_id = "main"
    model.user_id = "clarifai"
    ts(model.created_at, 1457543499)
    model.model_version.id = "aa7f35c01e0642fda5cf400f543e7c40"
    ts(model.model_version.created_at, 1520370624)
    model.model_version.status.code = status_code_pb2.MODEL_TRAINED
    model.model_version.status.description = "Model is trained and ready"
    model.output_info.output_config.max_concepts = 20
    out.input.id = f"input-{index}"
    out.input.data.image.url = IMAGE_URL
    rnd = random.Random(index)
    for rank, name in enumerate(CONCEPTS):
        c = out.data.concepts.add()
        c.id = f"ai_{rnd.randrange(1 << 30):08x}"
        c.name = name
        c.value = 0.999 - rank * 0.03 - rnd.random() * 0.01
        c.app_id = "main"
    return out


def multi(n):
    resp = service_pb2.MultiOutputResponse()
    resp.status.code = status_code_pb2.SUCCESS
    resp.status.description = "Ok"
    resp.status.req_id = "bench-0123456789abcdef"
    for i in range(n):
        resp.outputs.append(output(i))
    return resp


def to_json(message):
    return json_format.MessageToJson(message, preserving_proto_field_name=True,
                                     use_integers_for_enums=True, indent=None)


def frame(data):
    return b"\x00" + len(data).to_bytes(4, "big") + data


def write(directory, name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(directory, name), mode) as f:
        f.write(data)


def main():
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    for n in (1, 32):
        m = multi(n)
        js = to_json(m)
        write(directory, f"predict{n}.pb", m.SerializeToString())
        write(directory, f"predict{n}.json", js)
        assert "'" not in js and "\\" not in js
        if n == 1:  # nginx's config strings are limited to 4 kB: the batch answer is a file
            write(directory, "nginx_predict1.conf", f"return 200 '{js}';\n")

    chunks = []
    for i in range(1000):
        m = service_pb2.MultiOutputResponse()
        m.status.code = status_code_pb2.SUCCESS
        m.status.req_id = "bench-stream"
        o = m.outputs.add()
        o.id = "stream-output"
        o.status.code = status_code_pb2.SUCCESS
        o.data.text.raw = f"token{i} "
        chunks.append(frame(m.SerializeToString()))
    write(directory, "stream.pb", b"".join(chunks))

    image = random.Random(1).randbytes(1 << 20)
    write(directory, "image.bin", image)

    def request(model, inputs):
        r = service_pb2.PostModelOutputsRequest(model_id=model)
        r.user_app_id.user_id = USER
        r.user_app_id.app_id = APP
        for inp in inputs:
            r.inputs.append(inp)
        return r

    url_input = resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(url=IMAGE_URL)))
    reqs = {
        "url": request(MODEL, [url_input]),
        "bytes": request(MODEL, [resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(base64=image)))]),
        "batch": request(BATCH_MODEL, [url_input] * 32),
    }
    for name, r in reqs.items():
        write(directory, f"req_{name}.pb", frame(r.SerializeToString()))
        # The REST body: user_app_id and model_id travel in the path.
        body = service_pb2.PostModelOutputsRequest()
        body.CopyFrom(r)
        body.ClearField("user_app_id")
        body.ClearField("model_id")
        write(directory, f"req_{name}.json", to_json(body))
    stream = service_pb2.PostModelOutputsRequest(model_id="llm")
    stream.user_app_id.user_id = USER
    stream.user_app_id.app_id = APP
    stream.inputs.append(resources_pb2.Input(data=resources_pb2.Data(text=resources_pb2.Text(raw="Write 1000 tokens"))))
    write(directory, "req_stream.pb", frame(stream.SerializeToString()))


if __name__ == "__main__":
    main()
