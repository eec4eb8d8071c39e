"""Writes the fuzzers' seed corpus and JSON dictionary with the official runtime (clarifai-grpc).

    .venv/bin/python Tests/Fuzz/make_corpus.py
Every seed is one byte naming the message type (its index in TYPES, the same list as in
fuzz_codec.c) followed by the data: protobuf binary in corpus/binary/, JSON text in corpus/json/.
The JSON seeds come in the REST form (original names, enum numbers), the official runtime's default
form (lowerCamel names, enum names) and a few hand-written spellings the parser must accept.
codec.dict lists the field names, enum names and JSON tokens of these types for libFuzzer (-dict).
The output is deterministic; re-running rewrites the same files.
"""
import json
import shutil
from pathlib import Path

from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2
from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2, wrappers_pb2

HERE = Path(__file__).resolve().parent

# Same order as TYPES in fuzz_codec.c.
TYPES = [
    service_pb2.PostModelOutputsRequest,
    service_pb2.MultiOutputResponse,
    struct_pb2.Struct,
    resources_pb2.Input,
    struct_pb2.Value,
    timestamp_pb2.Timestamp,
    duration_pb2.Duration,
    wrappers_pb2.UInt64Value,
]


def samples():
    """(name, message) pairs, a few small ones per type."""
    out = []
    PostModelOutputsRequest = service_pb2.PostModelOutputsRequest

    request = PostModelOutputsRequest(model_id="general-image-recognition", version_id="aa7f35c01e0642fd")
    request.user_app_id.user_id, request.user_app_id.app_id = "clarifai", "main"
    request.inputs.add().data.image.url = "https://samples.clarifai.com/metro-north.jpg"
    out.append(("predict-url", request))

    request = PostModelOutputsRequest(model_id="m")
    item = request.inputs.add(id="img-1")
    item.data.image.base64 = bytes(range(0, 256, 7)) + b"\xff\xd8\xff\xe0"
    item.data.concepts.add(id="dog", value=1.0)
    request.model.output_info.output_config.max_concepts = 5
    request.model.output_info.output_config.min_value = 0.25
    request.model.output_info.output_config.select_concepts.add(id="cat", name="Cat")
    request.use_predict_cache = True
    out.append(("predict-bytes-config", request))

    request = PostModelOutputsRequest(model_id="llm")
    item = request.inputs.add()
    item.data.text.raw = "Caf\u00e9 \u2603 \U0001f600 \"quoted\" \\ tab\t newline\n"
    item.data.metadata.update({"k": [1, 2.5, "x", None, True, {"n": {}}]})
    request.model.model_version.output_info.params.update({"temperature": 0.7, "max_tokens": 64})
    request.runner_selector.nodepool.id = "np"
    out.append(("predict-text-params", request))

    MultiOutputResponse = service_pb2.MultiOutputResponse
    response = MultiOutputResponse()
    response.status.code = status_code_pb2.SUCCESS
    response.status.description = "Ok"
    response.status.req_id = "0123456789abcdef"
    for i in range(2):
        output = response.outputs.add(id=f"out-{i}")
        output.status.code = status_code_pb2.SUCCESS
        output.created_at.seconds, output.created_at.nanos = 1_700_000_000 + i, 123_000_000
        output.model.id, output.model.app_id = "general-image-recognition", "main"
        output.model.model_version.id = "aa7f35c01e0642fd"
        output.model.model_version.active_concept_count = 9000
        output.model.workflow_recommended.value = True
        output.input.id = "in-1"
        output.input.data.image.url = "https://samples.clarifai.com/dog.jpg"
        for j, value in enumerate((0.99, 0.5, 1e-7)):
            output.data.concepts.add(id=f"ai_{j}", name=f"concept {j}", value=value, app_id="main")
    out.append(("concepts", response))

    response = MultiOutputResponse()
    response.status.code = status_code_pb2.MIXED_STATUS
    output = response.outputs.add(id="r")
    region = output.data.regions.add(id="reg")
    box = region.region_info.bounding_box
    box.top_row, box.left_col, box.bottom_row, box.right_col = 0.1, 0.2, 0.9, 1.0
    region.data.concepts.add(id="face", value=0.875)
    output.data.embeddings.add(vector=[0.0, -0.0, 1.5, -2.25, 3.4028234663852886e38, 1e-45], num_dimensions=6)
    output.data.text.raw = "hello"
    output.prompt_tokens, output.completion_tokens = 4294967295, 1
    failed = response.outputs.add(id="f")
    failed.status.code = status_code_pb2.INPUT_DOWNLOAD_FAILED
    failed.status.details = "404"
    out.append(("regions-embeddings-mixed", response))

    out.append(("nan-infinity", MultiOutputResponse(outputs=[resources_pb2.Output(data=resources_pb2.Data(
        concepts=[resources_pb2.Concept(id="n", value=float("nan")),
                  resources_pb2.Concept(id="i", value=float("inf")),
                  resources_pb2.Concept(id="m", value=float("-inf"))]))])))

    struct = struct_pb2.Struct()
    struct.update({"a": 1, "b": [True, None, "s", 2.5e-300, -0.0], "c": {"d": {"e": []}}, "": "empty key",
                   "\u00fc": "\u00e9\u0000nul"})
    out.append(("nested", struct))
    out.append(("empty", struct_pb2.Struct()))

    item = resources_pb2.Input(id="in", dataset_ids=["d1", "d2"])
    item.created_at.seconds = 253402300799  # 9999-12-31T23:59:59Z, the last valid second
    item.data.geo.geo_point.latitude, item.data.geo.geo_point.longitude = 48.85, 2.35
    item.data.metadata.update({"source": "fuzz", "n": 3})
    item.data.video.url = "https://example.com/v.mp4"
    item.data.frames.add().frame_info.time = 1000
    out.append(("geo-video-metadata", item))
    item = resources_pb2.Input(id="audio")
    item.data.audio.base64 = b"\x00\x01\x02"
    item.status.code = status_code_pb2.INPUT_DOWNLOAD_SUCCESS
    item.settings.SetInParent()
    out.append(("audio-status", item))

    for name, value in (("number", struct_pb2.Value(number_value=-12.5)),
                        ("string", struct_pb2.Value(string_value="x\u2028y")),
                        ("null", struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)),
                        ("list", struct_pb2.Value(list_value=struct_pb2.ListValue(values=[
                            struct_pb2.Value(bool_value=False), struct_pb2.Value(struct_value=struct_pb2.Struct())])))):
        out.append((name, value))

    out.append(("epoch", timestamp_pb2.Timestamp()))
    out.append(("nanos", timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=5)))
    out.append(("min", timestamp_pb2.Timestamp(seconds=-62135596800)))
    out.append(("zero", duration_pb2.Duration()))
    out.append(("negative", duration_pb2.Duration(seconds=-1, nanos=-500_000_000)))
    out.append(("big", duration_pb2.Duration(seconds=315576000000, nanos=999_999_999)))
    out.append(("max", wrappers_pb2.UInt64Value(value=2**64 - 1)))
    out.append(("small", wrappers_pb2.UInt64Value(value=7)))
    return out


# Hand-written JSON the parser must accept: (type index, name, text).
HANDWRITTEN = [
    (0, "camel-enum-names", '{"userAppId":{"userId":"u","appId":"a"},"modelId":"m","inputs":[{"data":'
                            '{"image":{"base64":"_-8"}}}],"model":{"outputInfo":{"outputConfig":'
                            '{"maxConcepts":"3","minValue":"NaN"}}}}'),
    (1, "enum-name-int64-strings", '{"status":{"code":"SUCCESS"},"outputs":[{"created_at":'
                                   '"2024-02-29T12:00:00.5+01:00","prompt_tokens":"12","data":{"concepts":'
                                   '[{"value":"Infinity"},{"value":-1E-3}]}}]}'),
    (2, "escapes", '{"k\\u00e9y":"\\ud83d\\ude00","n":1e308,"z":-0,"l":[[],{},null]}'),
    (3, "padded-base64", '{"id":"x","data":{"image":{"base64":"AAEC/w=="}},"created_at":"1970-01-01T00:00:00Z"}'),
    (4, "bare-number", "3.5"),
    (5, "offset", '"2000-01-01T23:59:59.999999999-08:00"'),
    (6, "fraction", '"-0.000000001s"'),
    (7, "number", "18446744073709551615"),
]


def dictionary():
    """Field names (original and lowerCamel), enum value names, JSON tokens."""
    names, seen = set(), set()

    def walk(descriptor):
        if descriptor.full_name in seen:
            return
        seen.add(descriptor.full_name)
        for field in descriptor.fields:
            names.add(field.name)
            names.add(field.json_name)
            if field.enum_type is not None:
                names.update(value.name for value in field.enum_type.values)
            if field.message_type is not None:
                walk(field.message_type)

    for cls in TYPES:
        walk(cls.DESCRIPTOR)
    tokens = ["{", "}", "[", "]", ":", ",", "null", "true", "false", "\"NaN\"", "\"Infinity\"",
              "\"-Infinity\"", "\\u0000", "\\ud800", "1e400", "-0", "\"1970-01-01T00:00:00Z\"", "\"1s\"",
              "\"18446744073709551616\"", "9007199254740993"]
    lines = [json.dumps(token) for token in tokens]  # libFuzzer reads \\ and \" escapes, as JSON writes them
    lines += [json.dumps(json.dumps(name)) for name in sorted(names)]  # "\"name\"" with its quotes
    return lines


def main():
    for sub in ("binary", "json"):
        shutil.rmtree(HERE / "corpus" / sub, ignore_errors=True)
        (HERE / "corpus" / sub).mkdir(parents=True)
    index_of = {cls.DESCRIPTOR.full_name: i for i, cls in enumerate(TYPES)}
    count = 0
    for name, message in samples():
        index = index_of[message.DESCRIPTOR.full_name]
        stem = f"{index}-{message.DESCRIPTOR.name}-{name}"
        (HERE / "corpus/binary" / f"{stem}.bin").write_bytes(bytes([index]) + message.SerializeToString(deterministic=True))
        rest = json_format.MessageToJson(message, preserving_proto_field_name=True, use_integers_for_enums=True,
                                         indent=None, ensure_ascii=False, sort_keys=True)
        camel = json_format.MessageToJson(message, indent=None, sort_keys=True)  # sorted: maps iterate unordered
        (HERE / "corpus/json" / f"{stem}.json").write_bytes(bytes([index]) + rest.encode())
        if camel != rest:
            (HERE / "corpus/json" / f"{stem}-camel.json").write_bytes(bytes([index]) + camel.encode())
        count += 1
    for index, name, text in HANDWRITTEN:
        json_format.Parse(text, TYPES[index]())  # the official runtime accepts it too
        (HERE / "corpus/json" / f"{index}-{TYPES[index].DESCRIPTOR.name}-{name}.json").write_bytes(
            bytes([index]) + text.encode())
    (HERE / "codec.dict").write_text("# libFuzzer dictionary for fuzz_json_to_proto, written by make_corpus.py\n"
                                     + "\n".join(dictionary()) + "\n")
    print(f"{count} binary seeds, {len(list((HERE / 'corpus/json').iterdir()))} JSON seeds, codec.dict")


if __name__ == "__main__":
    main()
