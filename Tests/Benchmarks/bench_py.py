"""Python benchmark clients: the official clarifai-grpc client (gRPC or JSON channel) and the
libclarifai Python binding. Same options and JSON result line as the C clients (bench_common.h):
each thread makes `warmup` unmeasured calls, then the process's user+sys CPU time
(resource.getrusage) and wall time are taken around the measured calls only.

  bench_py.py --client official|binding --transport rest|grpc|grpcs --scenario a|b|c|d|e --target T ...

One channel kind per process: creating an official channel switches a module-global deserializer.
"""
import argparse
import json
import os
import resource
import sys
import threading
import time

MODEL, URL, USER, APP, TOKEN = "general-image-recognition", "https://samples.clarifai.com/metro-north.jpg", "bench-user", "bench-app", "bench-token"


def official(args, image):
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
    from clarifai_grpc.grpc.api.status import status_code_pb2

    if args.transport == "grpc":
        host, port = args.target.rsplit(":", 1)
        channel = ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port))
    elif args.transport == "grpcs":
        channel = ClarifaiChannel.get_grpc_channel(base=args.target,
                                                   root_certificates_path=os.environ["CLARIFAI_ROOT_CERTIFICATES_PATH"])
    else:
        channel = ClarifaiChannel.get_json_channel(base_url=args.target)
    stub = service_pb2_grpc.V2Stub(channel)
    metadata = (("authorization", "Key " + TOKEN),)
    user_app = resources_pb2.UserAppIDSet(user_id=USER, app_id=APP)

    def image_input():
        if args.scenario == "c":
            return resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(base64=image)))
        return resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(url=URL)))

    if args.scenario == "e":
        def call():
            request = service_pb2.PostModelOutputsRequest(user_app_id=user_app, model_id="llm", inputs=[
                resources_pb2.Input(data=resources_pb2.Data(text=resources_pb2.Text(raw="Write 1000 tokens")))])
            n = sum(1 for m in stub.GenerateModelOutputs(request, metadata=metadata) if m.outputs[0].data.text.raw)
            return n == 1000
        return call

    count, model = (32, "batch32") if args.scenario == "d" else (1, MODEL)

    def call():
        request = service_pb2.PostModelOutputsRequest(user_app_id=user_app, model_id=model,
                                                      inputs=[image_input() for _ in range(count)])
        response = stub.PostModelOutputs(request, metadata=metadata)
        if response.status.code != status_code_pb2.SUCCESS or len(response.outputs) != count:
            return False
        for output in response.outputs:
            concepts = [(c.name, c.value) for c in output.data.concepts]
            if len(concepts) != 20:
                return False
        return True
    return call


def binding(args, image):
    from libclarifai import Channel, Client, Input
    # grpcs trusts the responder's certificate through $CLARIFAI_ROOT_CERTIFICATES_PATH.
    channel = {"grpc": Channel.grpc_insecure, "grpcs": Channel.grpc, "rest": Channel.json}[args.transport](args.target)
    client = Client(channel, pat=TOKEN, user_id=USER, app_id=APP)
    if args.scenario == "e":
        request = {"model_id": "llm", "inputs": [{"data": {"text": {"raw": "Write 1000 tokens"}}}]}

        def call():
            n = sum(1 for m in client.stream("GenerateModelOutputs", request) if m["outputs"][0]["data"]["text"]["raw"])
            return n == 1000
        return call

    def call():
        if args.scenario == "c":
            prediction = client.predict(MODEL, bytes=image)
        elif args.scenario == "d":
            prediction = client.predict("batch32", inputs=[Input(url=URL) for _ in range(32)])
        else:
            prediction = client.predict(MODEL, url=URL)
        outputs = prediction.outputs
        if len(outputs) != (32 if args.scenario == "d" else 1):
            return False
        return all(len([(c.name, c.value) for c in o.concepts]) == 20 for o in outputs)
    return call


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--client", required=True, choices=["official", "binding"])
    p.add_argument("--transport", default="rest", choices=["rest", "grpc", "grpcs"])
    p.add_argument("--scenario", default="a")
    p.add_argument("--target", required=True)
    p.add_argument("--data", default="build/bench/data")
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--api", default="")
    args = p.parse_args()
    with open(os.path.join(args.data, "image.bin"), "rb") as f:
        image = f.read()
    call = (official if args.client == "official" else binding)(args, image)
    per = args.calls // args.threads
    lat = [0.0] * (per * args.threads)
    failures = [0]
    b1 = threading.Barrier(args.threads + 1)
    b2 = threading.Barrier(args.threads + 1)

    def worker(t):
        for _ in range(args.warmup):
            if not call():
                failures[0] += 1
        b1.wait()
        b2.wait()
        for i in range(per):
            s = time.perf_counter()
            if not call():
                failures[0] += 1
            lat[t * per + i] = time.perf_counter() - s

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for t in threads:
        t.start()
    b1.wait()
    c0, w0 = cpu(), time.perf_counter()
    b2.wait()
    for t in threads:
        t.join()
    w1, c1 = time.perf_counter(), cpu()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"calls": len(lat), "failures": failures[0], "cpu_s": c1 - c0, "wall_s": w1 - w0,
                      "maxrss_kb": rss, "lat_us": [round(x * 1e6, 1) for x in lat]}))
    if failures[0]:
        print(f"{failures[0]} failed calls", file=sys.stderr)
    sys.stdout.flush()
    os._exit(1 if failures[0] else 0)  # no slow interpreter/grpc teardown


if __name__ == "__main__":
    main()
