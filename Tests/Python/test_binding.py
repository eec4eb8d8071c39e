"""The Python package `libclarifai` (Bindings/python) against the local server, on the REST and the
cleartext gRPC channel: its declarations of clarifai.h, calls, predictions read through the C
struct buffers, streams and their cancellation, errors and their detail, per-call and per-client
settings, session tokens, lifetimes, 8 threads on one client, streams both ways (open_stream),
the drop-in channel for the official V2Stub compared message by message with the official gRPC
channel (unary, server-streaming and bidirectional methods), the library search and its version
check, and the examples of Bindings/python/README.md.

The package is imported as installed (`pip install ./Bindings/python`) or, when it is not, from
the source tree.
"""
import concurrent.futures
import copy
import ctypes
import filecmp
import gc
import json
import math
import os
import pickle
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
from clarifai_grpc.channel import clarifai_channel as official_channel_module
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2 as res
from clarifai_grpc.grpc.api import service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_pb2
from google.protobuf import json_format, timestamp_pb2

import capi
from testserver import clear_recorded_requests, recorded_requests, start_server

BINDING = capi.ROOT / "Bindings" / "python"
LIBRARY = capi.ROOT / "build" / "lib" / "libclarifai.so.1"
os.environ.setdefault("LIBCLARIFAI_PATH", str(LIBRARY))

try:
    import libclarifai
except ImportError:
    sys.path.insert(0, str(BINDING))
    import libclarifai
import grpc  # noqa: E402  (after libclarifai: the package itself must not need it)
from libclarifai import (ApiError, AuthError, CancelledError, Channel, ClarifaiError, ClarifaiTimeoutError,  # noqa: E402
                         Client, Concept, Input, InvalidArgumentError, ProtocolError, TransportError, UnsupportedError,
                         _native)

USER = "test-user"
IMAGE_URL = "https://samples.clarifai.com/metro-north.jpg"
V2 = service_pb2.DESCRIPTOR.services_by_name["V2"]


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(params=["rest", "grpc"])
def kind(request):
    return request.param


@pytest.fixture
def channel(kind, server):
    with (Channel.json(server.rest_url) if kind == "rest" else Channel.grpc_insecure(server.grpc_target)) as made:
        yield made


@pytest.fixture
def pyclient(channel, server, app_id):
    with Client(channel, server.token, USER, app_id) as made:
        yield made


@pytest.fixture
def grpc_client(server, app_id):
    with Channel.grpc_insecure(server.grpc_target) as made, Client(made, server.token, USER, app_id) as client:
        yield client


def count_request(model, text):
    return {"model_id": model, "inputs": [{"data": {"text": {"raw": str(text)}}}]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def text_request(model, text="x"):
    return {"model_id": model, "inputs": [{"data": {"text": {"raw": text}}}]}


def only_record(server, method="ListConcepts"):
    [record] = [r for r in recorded_requests(server.rest_url) if r["method"] == method]
    return record


def stream_record(server, model):
    records = [r for r in recorded_requests(server.rest_url)
               if r["method"] == "GenerateModelOutputs" and (r["request"] or {}).get("model_id") == model]
    return records[-1]["stream"]


def echo_request(text, model="text-echo"):
    return service_pb2.PostModelOutputsRequest(model_id=model, inputs=[res.Input(data=res.Data(text=res.Text(raw=text)))])


def wait_cancelled(server, model):
    deadline = time.monotonic() + 5
    while not stream_record(server, model)["cancelled"] and time.monotonic() < deadline:
        time.sleep(0.02)
    return stream_record(server, model)


# ---------------------------------------------------------------------------------------------
# The package itself


def test_installed_copy_is_the_source():
    """When the package is installed, it is the current source (else: pip install ./Bindings/python)."""
    installed = os.path.dirname(libclarifai.__file__)
    source = BINDING / "libclarifai"
    if os.path.samefile(installed, source):
        pytest.skip("imported from the source tree")
    names = sorted(p.name for p in source.iterdir() if p.suffix in (".py", ".typed"))
    match, mismatch, errors = filecmp.cmpfiles(source, installed, names, shallow=False)
    assert not mismatch and not errors, f"stale install in {installed}: run pip install ./Bindings/python"


def test_versions_and_methods():
    header = (capi.ROOT / "Include" / "clarifai.h").read_text()
    assert f'CLARIFAI_VERSION_STRING "{libclarifai.version()}"' in header
    assert libclarifai.__version__ == libclarifai.version()
    assert libclarifai.api_version() == "12.6.0"
    assert libclarifai.methods() == [m.name for m in V2.methods]
    assert (BINDING / "libclarifai" / "py.typed").exists()
    assert os.path.samefile(libclarifai.library_path(), os.environ["LIBCLARIFAI_PATH"])


def header_functions():
    """{name: (return type, [parameter types])} of every function clarifai.h declares, each type
    as written, without the parameter's name ("const char *", "clarifai_response **")."""
    text = re.sub(r"/\*.*?\*/", "", (capi.ROOT / "Include" / "clarifai.h").read_text(), flags=re.S)
    functions = {}
    for returns, name, parameters in re.findall(r"^([\w ]+?\**) *(clarifai_\w+)\(([^)]*)\);", text, re.M):
        types = [" ".join(re.sub(r"\w+$", "", p).split()) for p in parameters.split(",") if p.strip() != "void"]
        functions[name] = (" ".join(returns.split()), types)
    return functions


# The ctypes type each C type of clarifai.h is declared with; handles are c_void_p.
HANDLE = r"clarifai_(channel|client|response|stream|queue|pager)"
C_TYPES = {
    "void": None, "int": ctypes.c_int, "unsigned": ctypes.c_uint, "long": ctypes.c_long, "size_t": ctypes.c_size_t,
    "const char *": ctypes.c_char_p, "void *": ctypes.c_void_p, "clarifai_stream_fn": _native.STREAM_FN,
    "double": ctypes.c_double, "clarifai_input_fn": _native.INPUT_FN, "clarifai_result_fn": _native.RESULT_FN,
    "clarifai_progress_fn": _native.PROGRESS_FN, "clarifai_upload_input_fn": _native.UPLOAD_INPUT_FN,
    "clarifai_upload_result_fn": _native.UPLOAD_RESULT_FN,
    "const void *": ctypes.c_char_p,  # bytes in, passed without a copy
    "void **": ctypes.POINTER(ctypes.c_void_p), "const void **": ctypes.POINTER(ctypes.c_void_p),
    "char **": ctypes.POINTER(ctypes.c_void_p),
    "int *": ctypes.POINTER(ctypes.c_int), "size_t *": ctypes.POINTER(ctypes.c_size_t), "long long *": ctypes.POINTER(ctypes.c_longlong),
    "double *": ctypes.POINTER(ctypes.c_double), "const float **": ctypes.POINTER(ctypes.POINTER(ctypes.c_float)),
    "const clarifai_input *": ctypes.POINTER(_native.InputStruct),
    "const clarifai_concept **": ctypes.POINTER(ctypes.POINTER(_native.ConceptStruct)),
    "const clarifai_region **": ctypes.POINTER(ctypes.POINTER(_native.RegionStruct)),
    "clarifai_resource_ids *": ctypes.POINTER(_native.ResourceIdsStruct),
    "char *": ctypes.c_void_p,  # a buffer the library writes into
    "const char **": ctypes.POINTER(ctypes.c_char_p),
    "const size_t **": ctypes.POINTER(ctypes.POINTER(ctypes.c_size_t)),
    "const unsigned char **": ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)),
}


def ctypes_of(c_type):
    if re.fullmatch(rf"(const )?{HANDLE} \*", c_type):
        return ctypes.c_void_p
    if re.fullmatch(rf"{HANDLE} \*\*", c_type):  # a handle handed out
        return ctypes.POINTER(ctypes.c_void_p)
    return C_TYPES[c_type]


def test_one_declaration_of_every_function_of_the_header():
    """The package declares each function of clarifai.h with its C types, and the C-level tests'
    capi.load() uses those very declarations."""
    functions = header_functions()
    assert len(functions) == len(_native.SIGNATURES) and "clarifai_response_double" in functions
    assert list(functions) == list(_native.SIGNATURES)  # in the header's order
    for name, (returns, parameters) in functions.items():
        assert _native.SIGNATURES[name] == (ctypes_of(returns), [ctypes_of(p) for p in parameters]), name
    lib = capi.load()
    for name, (restype, argtypes) in _native.SIGNATURES.items():
        function = getattr(lib, name)
        assert (function.restype, function.argtypes) == (restype, argtypes), name
    assert (capi.Input, capi.Concept, capi.Region, capi.STREAM_FN) == (
        _native.InputStruct, _native.ConceptStruct, _native.RegionStruct, _native.STREAM_FN)


def test_json_and_proto_conversions():
    request = {"user_app_id": {"user_id": USER, "app_id": "a"}, "page": 2, "per_page": 5}
    official = service_pb2.ListConceptsRequest(user_app_id=res.UserAppIDSet(user_id=USER, app_id="a"), page=2, per_page=5)
    assert libclarifai.json_to_proto("clarifai.api.ListConceptsRequest", request) == official.SerializeToString()
    # lowerCamel JSON text; the library writes fields in the JSON's order (valid protobuf, not
    # byte-identical to the official runtime's field-number order), so compare parsed messages.
    data = libclarifai.json_to_proto("clarifai.api.ListConceptsRequest",
                                     '{"perPage": 5, "page": 2, "userAppId": {"userId": "test-user", "appId": "a"}}')
    assert service_pb2.ListConceptsRequest.FromString(data) == official
    assert libclarifai.json_to_proto("clarifai.api.ListConceptsRequest", {}) == b""
    assert libclarifai.proto_to_json("clarifai.api.ListConceptsRequest", official.SerializeToString()) == request
    concept = res.Concept(id="c", value=0.1, created_at={"seconds": 1})
    assert libclarifai.proto_to_json("clarifai.api.Concept", concept.SerializeToString()) == {
        "id": "c", "value": 0.1, "created_at": "1970-01-01T00:00:01Z"}
    with pytest.raises(InvalidArgumentError, match=r"inputs\[0\]\.data\.image\.base64: invalid base64") as raised:
        libclarifai.json_to_proto("clarifai.api.PostInputsRequest", {"inputs": [{"data": {"image": {"base64": "!"}}}]})
    assert isinstance(raised.value, ValueError) and raised.value.error_name == "CLARIFAI_ERROR_INVALID_ARGUMENT"
    with pytest.raises(InvalidArgumentError, match="clarifai.api.NoSuchMessage"):
        libclarifai.proto_to_json("clarifai.api.NoSuchMessage", b"")


# ---------------------------------------------------------------------------------------------
# Calls and predictions, on both channels


def test_resource_urls_as_the_sdk_reads_them():
    from libclarifai import ResourceIds, parse_resource_url
    assert parse_resource_url("https://clarifai.com/clarifai/main/models/general-image-recognition/model_version/aa7f") == \
        ResourceIds("clarifai", "main", "models", "general-image-recognition", "aa7f")
    assert parse_resource_url("https://clarifai.com/u/a/workflows/w/?tab=1") == ResourceIds("u", "a", "workflows", "w", None)
    assert parse_resource_url("http://localhost:3000/u/a") == ResourceIds("u", "a", None, None, None)
    assert parse_resource_url("https://clarifai.com/ü/a").user_id == "ü"
    for bad in ("https://clarifai.com/u/a/models", "clarifai.com/u/a/models/m", "https://clarifai.com//a/models/m"):
        with pytest.raises(InvalidArgumentError, match="names no Clarifai resource|not a Clarifai URL") as raised:
            parse_resource_url(bad)
        assert bad in str(raised.value)


def test_call_any_method(pyclient):
    created = pyclient.call("PostConcepts", {"concepts": [{"id": "cat", "name": "Cat"}, {"id": "dog", "name": "Dog"}]})
    assert created["status"]["code"] == 10000 and [c["id"] for c in created["concepts"]] == ["cat", "dog"]
    listed = pyclient.call("ListConcepts", '{"per_page": 1, "page": 2}')  # JSON text works too
    assert [c["id"] for c in listed["concepts"]] == ["dog"]
    assert pyclient.call("GetConcept", {"concept_id": "cat"})["concept"]["name"] == "Cat"


def test_call_proto(pyclient, app_id):
    request = service_pb2.PostConceptsRequest(concepts=[res.Concept(id="cat", name="Cat")])
    answer = service_pb2.MultiConceptResponse.FromString(pyclient.call_proto("PostConcepts", request.SerializeToString()))
    assert answer.status.code == 10000 and answer.concepts[0].app_id == app_id
    listed = service_pb2.MultiConceptResponse.FromString(pyclient.call_proto("ListConcepts", service_pb2.ListConceptsRequest()))
    assert [c.id for c in listed.concepts] == ["cat"]
    assert service_pb2.MultiConceptResponse.FromString(pyclient.call_proto("ListConcepts")).concepts[0].name == "Cat"


def test_predict_concepts_from_url_bytes_file(pyclient, tmp_path):
    image = b"\x89PNG\r\n\x1a\n not really an image"
    (tmp_path / "image.png").write_bytes(image)
    by_url = pyclient.predict("general-image-recognition", url=IMAGE_URL)
    by_bytes = pyclient.predict("general-image-recognition", bytes=image)
    by_file = pyclient.predict("general-image-recognition", file=tmp_path / "image.png")
    for prediction in (by_url, by_bytes, by_file):
        assert prediction.status_code == 10000 and prediction.status_description == "Ok"
        assert re.fullmatch(r"libclarifai-python-[\d.]+-\d+", prediction.request_id)
        assert prediction.request_id == prediction.json["status"]["req_id"]
        [output] = prediction.json["outputs"]
        # The struct buffers give the very values of the JSON (floats in their shortest form).
        assert prediction.concepts == [Concept(c["id"], c["name"], c["value"], c["app_id"]) for c in output["data"]["concepts"]]
        assert len(prediction.concepts) == 20 and prediction.regions == [] and prediction.text is None
        assert prediction.embedding is None
    assert by_bytes.concepts == by_file.concepts != by_url.concepts  # the same bytes, the same answer


def test_a_prediction_makes_its_proto_on_first_use_and_copies_carry_it(pyclient):
    """Since 1.1 a prediction holds its response and makes its protobuf form when first asked for
    (a REST answer is otherwise never converted): once, whichever threads ask at the same time, the
    official message's bytes; a copy or pickle of a prediction carries them."""
    prediction = pyclient.predict("general-image-recognition", url=IMAGE_URL)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        protos = list(pool.map(lambda _: prediction.proto, range(32)))
    assert all(proto is protos[0] for proto in protos)
    message = service_pb2.MultiOutputResponse.FromString(protos[0])
    assert message.status.req_id == prediction.request_id and message.status.code == prediction.status_code
    concepts = message.outputs[0].data.concepts
    assert [(c.id, c.name, c.app_id) for c in concepts] == [(c.id, c.name, c.app_id) for c in prediction.concepts]
    assert [c.value for c in concepts] == [ctypes.c_float(c.value).value for c in prediction.concepts]
    fresh = pyclient.predict("general-image-recognition", url=IMAGE_URL)  # its proto never asked for
    for copied in (pickle.loads(pickle.dumps(fresh)), copy.deepcopy(fresh)):
        assert copied == fresh and copied.proto == fresh.proto and copied.json == fresh.json


def test_predict_takes_data_and_its_old_name_bytes(pyclient):
    """data= does not shadow the builtin bytes; bytes= goes on working, as an alias."""
    image = b"\x89PNG\r\n\x1a\n not really an image"
    expected = pyclient.predict("general-image-recognition", bytes=image).concepts
    for data in (image, bytearray(image), memoryview(image)):
        assert pyclient.predict("general-image-recognition", data=data).concepts == expected
    with pytest.raises(InvalidArgumentError, match=r"exactly one of url=, data=, .*\(got data, bytes\)"):
        pyclient.predict("general-image-recognition", data=image, bytes=image)


def test_predict_regions_embedding_text(pyclient):
    detection = pyclient.predict("general-image-detection", url=IMAGE_URL)
    regions = detection.json["outputs"][0]["data"]["regions"]
    assert 1 <= len(detection.regions) == len(regions)
    for region, js in zip(detection.regions, regions):
        box = js["region_info"]["bounding_box"]
        assert region.id == js["id"] and region.value == js["value"]
        assert (region.box.top_row, region.box.left_col, region.box.bottom_row, region.box.right_col) == (
            box["top_row"], box["left_col"], box["bottom_row"], box["right_col"])
        assert region.concepts == [Concept(c["id"], c["name"], c["value"], c["app_id"]) for c in js["data"]["concepts"]]
    embedded = pyclient.predict("general-image-embedding", url=IMAGE_URL)
    vector = embedded.json["outputs"][0]["data"]["embeddings"][0]["vector"]
    assert embedded.embedding == [ctypes.c_float(v).value for v in vector]  # the float32 values
    assert len(embedded.embedding) == 16 and abs(sum(v * v for v in embedded.embedding) - 1) < 1e-5
    assert pyclient.predict("text-echo", text="héllo").text == "echo: héllo"


def test_predict_sends_each_model_id_as_its_own_bytes(pyclient):
    """The same text in two Unicode forms (é precomposed, then e and a combining accent) is two
    model ids: the second call's path (made once per set of ids, then reused) is its own."""
    for model_id in ("caf\u00e9", "cafe\u0301", "caf\u00e9"):
        with pytest.raises(ApiError) as raised:
            pyclient.predict(model_id, url=IMAGE_URL)
        assert f"model '{model_id}' not found" in raised.value.details, raised.value.details


def test_predict_many_inputs(pyclient):
    inputs = [Input(text="one", id="in-1"), {"text": "two"}, Input(url="https://example.com/a.txt", kind="text")]
    prediction = pyclient.predict("text-echo", inputs=inputs)
    assert [o.text for o in prediction.outputs][:2] == ["echo: one", "echo: two"]
    assert prediction.json["outputs"][0]["input"]["id"] == "in-1"
    images = pyclient.predict("general-image-recognition", inputs=[Input(data=b"a"), Input(data=b"b", kind="image")])
    assert images.outputs[0].concepts == pyclient.predict("general-image-recognition", bytes=b"a").concepts
    assert len(images.outputs) == 2 and images.outputs[0].concepts != images.outputs[1].concepts
    many = pyclient.predict("text-echo", inputs=[Input(text=str(i)) for i in range(130)])  # two requests, merged
    assert [o.text for o in many.outputs] == [f"echo: {i}" for i in range(130)]


def test_a_prediction_leaves_no_garbage_for_the_collector(pyclient):
    """Reading a prediction makes no reference cycle (ctypes.cast made two per call: the collector
    found them and moved what was alive meanwhile into its older generations, toward full
    collections); everything a prediction holds goes by reference counting alone."""
    batches = [[Input(data=b"a"), Input(url="u")],  # an array made by the accelerator
               [Input(data=b"a"), Input(data=b"b", kind="image")]]  # made in Python (a kind by name)
    for inputs in batches:
        pyclient.predict("general-image-recognition", inputs=inputs)
    gc.collect()
    gc.disable()
    try:
        for inputs in batches * 2:
            prediction = pyclient.predict("general-image-recognition", inputs=inputs)
            assert prediction.outputs[1].concepts
            del prediction
        assert gc.collect() == 0
    finally:
        gc.enable()


# ---------------------------------------------------------------------------------------------
# Errors


def test_errors_map_to_exception_classes(pyclient, channel, kind, server, app_id):
    with Client(channel, "not-a-token", USER, app_id) as bad:
        with pytest.raises(ApiError) as raised:
            bad.call("ListConcepts")
    error = raised.value
    assert error.status_code == 11008 and error.json["status"]["code"] == 11008
    assert error.description == "API key not found" and "authorization" in error.details
    assert error.request_id.startswith("libclarifai-python-") and error.request_id in str(error)
    assert "not-a-token" not in str(error) and error.error_name == "CLARIFAI_ERROR_API"

    with pytest.raises(InvalidArgumentError, match="unknown method 'NoSuchMethod'"):
        pyclient.call("NoSuchMethod")
    with pytest.raises(InvalidArgumentError, match="invalid JSON"):
        pyclient.call("ListConcepts", "{not json")
    with pytest.raises(InvalidArgumentError, match="exactly one of"):
        pyclient.predict("general-image-recognition", url=IMAGE_URL, text="x")
    with pytest.raises(InvalidArgumentError, match="no-such-file"):
        pyclient.predict("general-image-recognition", file="/no-such-file.jpg")
    with pytest.raises(ApiError) as raised:  # one input without data: MIXED_STATUS, outputs in .json
        pyclient.predict("text-echo", inputs=[Input(text="a"), Input(url="https://example.com/x.jpg", kind="image")])
    assert raised.value.status_code == 10010 and len(raised.value.json["outputs"]) == 2
    assert [o.text for o in raised.value.prediction.outputs] == ["echo: a", None]

    port = free_port()
    refused = Channel.json(f"http://127.0.0.1:{port}") if kind == "rest" else Channel.grpc_insecure(f"127.0.0.1:{port}")
    with refused, Client(refused, server.token, USER, app_id) as nowhere:
        with pytest.raises(TransportError, match="Couldn't connect") as raised:
            nowhere.call("ListConcepts")
    assert raised.value.error_code == libclarifai.ErrorCode.TRANSPORT

    with pytest.raises(InvalidArgumentError, match="ftp://"):
        Channel.json("ftp://example.com")
    with pytest.raises(InvalidArgumentError, match="no-such.pem"):
        Channel.json(server.rest_url, ca_file="/no-such.pem")


def test_errors_carry_the_librarys_detail(pyclient, channel, kind, server, app_id):
    """error_code, http_status, grpc_status and transient as clarifai_last_error_* told them,
    read before the package's next call into the library (here: the ApiError's response)."""
    with Client(channel, "not-a-token", USER, app_id) as bad, pytest.raises(ApiError) as raised:
        bad.call("ListConcepts")
    detail = (raised.value.error_code, raised.value.http_status, raised.value.grpc_status, raised.value.transient)
    assert detail == ((5, 401, -1, False) if kind == "rest" else (5, 200, 0, False))
    with pytest.raises(InvalidArgumentError) as raised:
        pyclient.call("NoSuchMethod")
    assert (raised.value.http_status, raised.value.grpc_status, raised.value.transient) == (0, -1, False)
    refused = Channel.json(f"http://127.0.0.1:{free_port()}", max_retries=0) if kind == "rest" else \
        Channel.grpc_insecure(f"127.0.0.1:{free_port()}", max_retries=0)
    with refused, Client(refused, server.token, USER, app_id) as nowhere, pytest.raises(TransportError) as raised:
        nowhere.call("ListConcepts")
    assert (raised.value.http_status, raised.value.grpc_status, raised.value.transient) == (0, -1, True)


def test_grpc_failures_carry_the_servers_status(grpc_client):
    with grpc_client.with_options(max_retries=0) as client:
        for model, error_class, grpc_status, transient in (("grpc-unavailable", TransportError, 14, True),
                                                           ("grpc-unauthenticated", AuthError, 16, False),
                                                           ("grpc-status-5", InvalidArgumentError, 5, False),
                                                           ("grpc-status-13", ProtocolError, 13, False)):
            with pytest.raises(error_class) as raised:
                client.predict(model, text="x")
            assert (raised.value.grpc_status, raised.value.transient) == (grpc_status, transient), model


def test_constructors_raise_the_class_of_the_librarys_code(monkeypatch, server, app_id):
    """A constructor that returns NULL raises the class of clarifai_last_error_code(), with the
    failure's detail: here each constructor is replaced by one that leaves a gRPC UNAUTHENTICATED
    (AUTH) as the thread's last failure."""
    lib = libclarifai.load_library()
    raw_client = capi.new_client(lib, server.grpc_target, server.token, kind="grpc")
    request = json.dumps(text_request("grpc-unauthenticated")).encode()

    def refused(*args):
        assert lib.clarifai_call(raw_client, b"PostModelOutputs", request, ctypes.byref(ctypes.c_void_p())) == capi.AUTH
        return None

    with Channel.grpc_insecure(server.grpc_target) as channel, Client(channel, server.token) as client:
        for name, construct in (("clarifai_channel_new_grpc_insecure", lambda: Channel.grpc_insecure(server.grpc_target)),
                                ("clarifai_client_new", lambda: Client(channel, server.token)),
                                ("clarifai_client_new_session", lambda: Client(channel, session_token="test-session-token")),
                                ("clarifai_client_dup", lambda: client.with_options(max_retries=1))):
            monkeypatch.setattr(lib, name, refused)
            with pytest.raises(AuthError, match="invalid credentials") as raised:
                construct()
            assert raised.value.grpc_status == 16, name
            monkeypatch.undo()
    lib.clarifai_client_free(raw_client)


def test_missing_token(monkeypatch, server):
    monkeypatch.delenv("CLARIFAI_PAT", raising=False)
    with Channel.json(server.rest_url) as channel, pytest.raises(InvalidArgumentError, match="CLARIFAI_PAT"):
        Client(channel)
    monkeypatch.setenv("CLARIFAI_PAT", server.token)
    with Channel.json(server.rest_url) as channel, Client(channel, user_id=USER, app_id="env") as client:
        assert client.call("ListConcepts")["status"]["code"] == 10000


def test_timeout_and_grpc_failures(server, app_id):
    with Channel.grpc_insecure(server.grpc_target, timeout=0.3) as channel, Client(channel, server.token, USER, app_id) as client:
        started = time.monotonic()
        with pytest.raises(ClarifaiTimeoutError) as raised:
            client.predict("grpc-deadline", text="x")
        assert time.monotonic() - started < 3 and isinstance(raised.value, TimeoutError)
    with Channel.grpc_insecure(server.grpc_target) as channel, Client(channel, server.token, USER, app_id) as client:
        with pytest.raises(TransportError, match="UNAVAILABLE"):
            client.predict("grpc-unavailable", text="x")
        with pytest.raises(ProtocolError, match="bad ünïcode 100%"):
            client.predict("grpc-message-encoding", text="x")
    with pytest.raises(InvalidArgumentError):
        Channel.grpc_insecure(server.grpc_target, timeout=-1)


def test_max_retries(server, app_id):
    """gRPC UNAVAILABLE is retried max_retries times (the fault model answers it on gRPC only)."""
    attempts = []
    for retries in (0, 2):
        clear_recorded_requests(server.rest_url)
        with Channel.grpc_insecure(server.grpc_target, max_retries=retries) as channel, \
                Client(channel, server.token, USER, app_id) as client:
            with pytest.raises(TransportError, match="UNAVAILABLE"):
                client.predict("grpc-unavailable", text="x")
        attempts.append(len([r for r in recorded_requests(server.rest_url)
                             if (r["request"] or {}).get("model_id") == "grpc-unavailable"]))
    assert attempts == [1, 3]
    for make, address in ((Channel.json, server.rest_url), (Channel.grpc_insecure, server.grpc_target)):
        with pytest.raises(InvalidArgumentError):
            make(address, max_retries=101)
        make(address, max_retries=0).close()


def test_channel_connections_option(server, app_id):
    """connections=: concurrent calls over that many connections (test_connections counts them);
    out of 1..64 refused when the channel is made."""
    for wrong in (0, 65):
        with pytest.raises(InvalidArgumentError, match="count"):
            Channel.grpc_insecure(server.grpc_target, connections=wrong)
    with Channel.grpc_insecure(server.grpc_target, connections=2) as channel, Client(channel, server.token, USER, app_id) as client:
        assert client.predict("general-image-recognition", url=IMAGE_URL).concepts


def test_gil_is_released_during_calls(server, app_id):
    """8 calls that each wait 0.5 s on the server finish together: ctypes drops the GIL."""
    with Channel.grpc_insecure(server.grpc_target, timeout=0.5) as channel, Client(channel, server.token, USER, app_id) as client:
        def slow(_):
            with pytest.raises(ClarifaiTimeoutError):
                client.predict("grpc-deadline", text="x")
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(slow, range(8)))
        assert time.monotonic() - started < 3  # one after the other: 4 s


def test_only_quick_getters_keep_the_gil():
    """A response's fields and the last error are read with the GIL held (no hand-off to another
    thread per getter); every other function, any of which may wait on the network or a lock,
    releases it."""
    lib = _native.load_library()
    assert _native.GIL_HELD <= set(_native.SIGNATURES)
    assert all(name.startswith(("clarifai_response_", "clarifai_last_error")) for name in _native.GIL_HELD)
    assert "clarifai_response_json" not in _native.GIL_HELD  # writes JSON: as long as the answer
    for name in _native.SIGNATURES:
        holds = bool(getattr(lib, name)._flags_ & ctypes._FUNCFLAG_PYTHONAPI)
        assert holds == (name in _native.GIL_HELD), name


def test_tls_channel_with_ca_file(tls_server):
    with Channel.grpc(tls_server.grpcs_target) as untrusted, Client(untrusted, tls_server.token, USER, "tls") as client:
        with pytest.raises(TransportError, match="(?i)certificate"):
            client.call("ListConcepts")
    with Channel.grpc(tls_server.grpcs_target, ca_file=tls_server.tls_cert, timeout=10) as trusted:
        with Client(trusted, tls_server.token, USER, "tls") as client:
            assert client.call("ListConcepts")["status"]["code"] == 10000
            assert [m["outputs"][0]["data"]["text"]["raw"] for m in client.stream("GenerateModelOutputs", count_request("stream-count", 3))] == ["0", "1", "2"]


def test_per_call_timeout(grpc_client):
    """timeout= on a call bounds that call only (grpc-deadline answers after 5 s)."""
    started = time.monotonic()
    with pytest.raises(ClarifaiTimeoutError, match="300 ms"):
        grpc_client.call("PostModelOutputs", text_request("grpc-deadline"), timeout=0.3)
    with pytest.raises(ClarifaiTimeoutError, match="300 ms"):
        grpc_client.predict("grpc-deadline", text="x", timeout=0.3)
    with pytest.raises(ClarifaiTimeoutError):
        grpc_client.call_proto("PostModelOutputs", libclarifai.json_to_proto(
            "clarifai.api.PostModelOutputsRequest", text_request("grpc-deadline")), timeout=0.3)
    received = []
    with pytest.raises(ClarifaiTimeoutError):
        for message in grpc_client.stream("GenerateModelOutputs", count_request("stream-forever", 0), timeout=0.5):
            received.append(message)
    assert 5 <= len(received) <= 30  # one every 20 ms for 0.5 s
    assert time.monotonic() - started < 4
    assert grpc_client.call("ListConcepts", timeout=math.inf)["status"]["code"] == 10000  # math.inf: none
    assert grpc_client.call("ListConcepts")["status"]["code"] == 10000  # the client itself has no deadline
    with pytest.raises(InvalidArgumentError, match="timeout: -1"):
        grpc_client.call("ListConcepts", timeout=-1)


def test_client_with_options(pyclient, server):
    """Copies of a client with headers of their own, on the same channel; the original unchanged."""
    with pyclient.with_options(headers={"X-Test-Extra": "first", "x-clarifai-request-id-prefix": "mine"}) as tagged, \
            tagged.with_options(headers={"x-test-extra": None}) as untagged:
        clear_recorded_requests(server.rest_url)
        assert tagged.call("ListConcepts")["status"]["req_id"].startswith("mine-")
        assert only_record(server)["headers"]["x-test-extra"] == "first"
        for client in (untagged, pyclient):
            clear_recorded_requests(server.rest_url)
            assert client.call("ListConcepts")["status"]["code"] == 10000
            assert "x-test-extra" not in only_record(server)["headers"]
        assert untagged.call("ListConcepts")["status"]["req_id"].startswith("mine-")
        assert tagged.channel is pyclient.channel and (tagged.user_id, tagged.app_id) == (pyclient.user_id, pyclient.app_id)
    with pytest.raises(InvalidArgumentError, match="authorization"):
        pyclient.with_options(headers={"authorization": "Key other"})
    with pytest.raises(InvalidArgumentError):
        pyclient.with_options(max_retries=101)


def test_client_with_its_own_timeout_and_retry_budget(grpc_client, server):
    """grpc-unavailable fails every attempt; grpc-deadline answers after 5 s."""
    def attempts(client):
        clear_recorded_requests(server.rest_url)
        with pytest.raises(TransportError, match="UNAVAILABLE"):
            client.predict("grpc-unavailable", text="x")
        return len([r for r in recorded_requests(server.rest_url) if r["method"] == "PostModelOutputs"])

    with grpc_client.with_options(max_retries=0) as once, grpc_client.with_options(max_retries=1) as twice:
        assert (attempts(once), attempts(twice)) == (1, 2)
    with grpc_client.with_options(timeout=0.3) as hasty:
        with pytest.raises(ClarifaiTimeoutError, match="300 ms"):
            hasty.predict("grpc-deadline", text="x")
        with pytest.raises(ClarifaiTimeoutError, match="200 ms"):
            hasty.predict("grpc-deadline", text="x", timeout=0.2)  # a call's own timeout comes first


def test_session_token_client(channel, server, app_id):
    with Client(channel, session_token="test-session-token", user_id=USER, app_id=app_id) as client:
        clear_recorded_requests(server.rest_url)
        assert client.call("ListConcepts")["status"]["code"] == 10000
        record = only_record(server)
        assert record["authorization"] in ("", None)
        assert record["headers"]["x-clarifai-session-token"] == "test-session-token"
    with Client(channel, session_token="another-token", user_id=USER, app_id=app_id) as client:
        with pytest.raises(ApiError, match="11008"):
            client.call("ListConcepts")
    with pytest.raises(InvalidArgumentError, match="not both"):
        Client(channel, server.token, session_token="test-session-token")


def test_channel_idle_timeout_and_receive_limit(server, app_id):
    with Channel.grpc_insecure(server.grpc_target, idle_timeout=1) as channel, Client(channel, server.token, USER, app_id) as client:
        started = time.monotonic()
        with pytest.raises(ClarifaiTimeoutError, match="idle for 1000 ms"):
            client.predict("grpc-deadline", text="x")  # silent for 5 s
        assert time.monotonic() - started < 4
    for make, address in ((Channel.json, server.rest_url), (Channel.grpc_insecure, server.grpc_target)):
        with make(address, max_receive_bytes=500) as channel, Client(channel, server.token, USER, app_id) as client:
            assert client.call("ListConcepts")["status"]["code"] == 10000
            with pytest.raises(ProtocolError, match="receive limit"):
                client.predict("general-image-recognition", url=IMAGE_URL)  # 20 concepts: about 1 kB
        for wrong in ({"max_receive_bytes": 0}, {"max_receive_bytes": -1}, {"idle_timeout": -1}):
            with pytest.raises(InvalidArgumentError):
                make(address, **wrong)
    with Channel.grpc_insecure(server.grpc_target, idle_timeout=math.inf) as channel:  # off
        assert channel.kind == "grpc_insecure"


PAST_YEAR_9999 = timestamp_pb2.Timestamp(seconds=253402300800 + 86400)  # valid protobuf, without a JSON form


@pytest.fixture(scope="module")
def far_future_server():
    """A gRPC server whose answers hold a timestamp past year 9999: ListConcepts,
    PostModelOutputs, and GenerateModelOutputs after one good message."""
    success = status_pb2.Status(code=10000)

    def concepts(request, context):
        return service_pb2.MultiConceptResponse(status=success, concepts=[res.Concept(id="far", created_at=PAST_YEAR_9999)])

    def outputs(request, context):
        return service_pb2.MultiOutputResponse(status=success, outputs=[res.Output(created_at=PAST_YEAR_9999)])

    def stream(request, context):
        yield service_pb2.MultiOutputResponse(status=success)
        yield outputs(request, context)

    handlers = {
        "ListConcepts": grpc.unary_unary_rpc_method_handler(concepts, response_serializer=lambda m: m.SerializeToString()),
        "PostModelOutputs": grpc.unary_unary_rpc_method_handler(outputs, response_serializer=lambda m: m.SerializeToString()),
        "GenerateModelOutputs": grpc.unary_stream_rpc_method_handler(stream, response_serializer=lambda m: m.SerializeToString()),
    }
    running = grpc.server(concurrent.futures.ThreadPoolExecutor(4))
    running.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("clarifai.api.V2", handlers)])
    port = running.add_insecure_port("127.0.0.1:0")
    running.start()
    yield f"127.0.0.1:{port}"
    running.stop(0)


def test_a_response_without_a_json_form_is_a_protocol_error(far_future_server):
    """clarifai_response_json gives NULL (the reason in the last error) for such a message: the
    package raises that failure, from calls, at that message of a stream, and from a prediction's
    json."""
    with Channel.grpc_insecure(far_future_server) as channel, Client(channel, "token", USER, "app") as client:
        with pytest.raises(ProtocolError, match=r"no JSON form: clarifai.api.MultiConceptResponse: concepts\[0\].created_at"):
            client.call("ListConcepts")
        # A prediction reads its outputs from the protobuf; its JSON is written only when asked for.
        prediction = client.predict("any-model", text="x")
        assert prediction.outputs
        with pytest.raises(ProtocolError, match="no JSON form: .*created_at"):
            prediction.json
        stream = client.stream("GenerateModelOutputs", count_request("any-model", 2))
        assert next(stream)["status"]["code"] == 10000
        with pytest.raises(ProtocolError, match=r"no JSON form: .*outputs\[0\].created_at"):
            next(stream)
        with pytest.raises(StopIteration):
            next(stream)
        # The message itself is fine: its protobuf form is there.
        answer = service_pb2.MultiConceptResponse.FromString(client.call_proto("ListConcepts"))
        assert answer.concepts[0].created_at == PAST_YEAR_9999


# ---------------------------------------------------------------------------------------------
# Streams


def test_stream_yields_every_message_in_order(grpc_client):
    messages = list(grpc_client.stream("GenerateModelOutputs", count_request("stream-count", 300), buffer=4))
    assert [m["outputs"][0]["data"]["text"]["raw"] for m in messages] == [str(i) for i in range(300)]
    assert all(m["status"]["code"] == 10000 for m in messages)
    logs = list(grpc_client.stream("StreamLogEntries", {"log_type": "builder"}))
    assert [m["log_entries"][0]["message"] for m in logs] == ["log line 0", "log line 1", "log line 2"]


def test_stream_failures(grpc_client, server, app_id):
    stream = grpc_client.stream("GenerateModelOutputs", count_request("stream-error", 0))
    assert [next(stream)["outputs"][0]["data"]["text"]["raw"] for _ in range(3)] == ["0", "1", "2"]
    with pytest.raises(ProtocolError, match="model crashed after 3 messages"):
        next(stream)
    with pytest.raises(StopIteration):
        next(stream)
    statuses = [m["status"]["code"] for m in grpc_client.stream("GenerateModelOutputs", count_request("stream-api-error", 0))]
    assert statuses == [10000, 10000, 10020]  # a failed message is delivered, not raised
    with Channel.json(server.rest_url) as rest, Client(rest, server.token, USER, app_id) as client:
        with pytest.raises(UnsupportedError, match="gRPC channel"):
            next(iter(client.stream("GenerateModelOutputs", count_request("stream-count", 1))))


def test_breaking_out_of_a_stream_cancels_it(grpc_client, server):
    clear_recorded_requests(server.rest_url)
    received = []
    for message in grpc_client.stream("GenerateModelOutputs", count_request("stream-forever", 0)):
        received.append(message["outputs"][0]["data"]["text"]["raw"])
        if len(received) == 3:
            break
    assert received == ["0", "1", "2"]
    record = wait_cancelled(server, "stream-forever")
    assert record["cancelled"] and not record["finished"] and record["code"] == "CANCELLED", record
    assert record["sent"] <= 25, record  # one every 20 ms: stopped within a fraction of a second

    # close() and the with statement cancel too, and the client goes on working.
    clear_recorded_requests(server.rest_url)
    with grpc_client.stream("GenerateModelOutputs", count_request("stream-forever", 0)) as stream:
        next(stream)
    assert stream.wait(5) and wait_cancelled(server, "stream-forever")["cancelled"]
    with pytest.raises(StopIteration):
        next(stream)
    assert len(list(grpc_client.stream("GenerateModelOutputs", count_request("stream-count", 2)))) == 2


def test_open_stream_sends_from_one_thread_while_another_iterates(grpc_client):
    """100 requests (dicts, protobuf messages and serialized bytes) from a sender thread; their
    answers, in order, from the loop."""
    requests = [text_request("text-echo", f"message {i}") if i % 3 == 0
                else echo_request(f"message {i}") if i % 3 == 1
                else echo_request(f"message {i}").SerializeToString() for i in range(100)]
    with grpc_client.open_stream("StreamModelOutputs") as stream:
        def send_all():
            for request in requests:
                stream.send(request)
            stream.close_send()
        sender = threading.Thread(target=send_all)
        sender.start()
        answers = list(stream)
        sender.join(5)
        assert stream.recv() is None  # the clean end, again
    assert [a["outputs"][0]["data"]["text"]["raw"] for a in answers] == [f"echo: message {i}" for i in range(100)]
    assert {a["status"]["code"] for a in answers} == {10000}
    assert stream.closed and not sender.is_alive()
    with pytest.raises(InvalidArgumentError, match="stream is closed"):
        stream.recv()


def test_open_stream_failures(grpc_client, server, app_id):
    with Channel.json(server.rest_url) as rest, Client(rest, server.token, USER, app_id) as client:
        with pytest.raises(UnsupportedError):
            client.open_stream("StreamModelOutputs")
    with pytest.raises(UnsupportedError):
        grpc_client.open_stream("ListConcepts")  # unary: clarifai_call's
    with grpc_client.open_stream("StreamModelOutputs") as stream:
        with pytest.raises(InvalidArgumentError, match="no_such_field"):
            stream.send({"no_such_field": 1})  # checked against the schema before it goes
        stream.send(text_request("no-such-model"))  # a failed Clarifai status is an answer
        assert stream.recv()["status"]["code"] == 21200
        stream.close_send()
        with pytest.raises(InvalidArgumentError):
            stream.close_send()
        assert stream.recv() is None
    with grpc_client.open_stream("StreamModelOutputs") as stream:
        stream.send(text_request("bidi-error-after-2", "a"))
        stream.send(text_request("bidi-error-after-2", "b"))
        # Half-closed first: with libcurl 7.88 a server ending the stream while the request is
        # still open can lose the answer's last messages (the known limit in clarifai.h; seen
        # once in CI), which is not what this test is about.
        stream.close_send()
        assert [m["outputs"][0]["data"]["text"]["raw"] for m in (next(stream), next(stream))] == ["echo: a", "echo: b"]
        for _ in range(2):  # and every later recv the same
            with pytest.raises(ProtocolError, match="model crashed after 2 answers") as raised:
                next(stream)
            assert raised.value.grpc_status == 13


def test_open_stream_timeout_and_cancel(grpc_client, server):
    """timeout= bounds the whole stream (stream-echo-slow answers 50 ms after each request);
    cancel() from another thread wakes a recv waiting, and the server sees it."""
    started = time.monotonic()
    answers = []
    with grpc_client.open_stream("StreamModelOutputs", timeout=0.3) as stream:
        for i in range(20):
            stream.send(text_request("stream-echo-slow", str(i)))
        with pytest.raises(ClarifaiTimeoutError, match="300 ms"):
            for answer in stream:
                answers.append(answer)
    assert 0 < len(answers) < 20 and time.monotonic() - started < 3

    clear_recorded_requests(server.rest_url)
    with grpc_client.open_stream("StreamModelOutputs") as stream:
        stream.send(text_request("text-echo", "first"))
        assert stream.recv()["outputs"][0]["data"]["text"]["raw"] == "echo: first"
        threading.Timer(0.2, stream.cancel).start()
        with pytest.raises(CancelledError):
            stream.recv()  # nothing more comes until the cancel
        with pytest.raises(CancelledError):
            stream.send(text_request("text-echo", "too late"))
    [record] = [r for r in recorded_requests(server.rest_url) if r["method"] == "StreamModelOutputs"]
    deadline = time.monotonic() + 5
    while not record["stream"]["cancelled"] and time.monotonic() < deadline:
        time.sleep(0.02)
        [record] = [r for r in recorded_requests(server.rest_url) if r["method"] == "StreamModelOutputs"]
    assert record["stream"]["cancelled"] and record["stream"]["received"] == 1, record

    # close() while another thread waits in recv: the stream is cancelled, then freed.
    stream = grpc_client.open_stream("StreamModelOutputs")
    waiting = concurrent.futures.ThreadPoolExecutor(1).submit(stream.recv)
    time.sleep(0.2)
    stream.close()
    with pytest.raises(CancelledError):
        waiting.result(5)
    assert stream.closed and grpc_client.call("ListConcepts")["status"]["code"] == 10000


# ---------------------------------------------------------------------------------------------
# Lifetimes and threads


def test_handles_are_freed_deterministically_and_by_gc(server, app_id):
    channel = Channel.grpc_insecure(server.grpc_target)
    client = Client(channel, server.token, USER, app_id)
    channel.close()  # the client keeps the C channel alive
    assert channel.closed and client.call("ListConcepts")["status"]["code"] == 10000
    with pytest.raises(InvalidArgumentError, match="channel is closed"):
        Client(channel, server.token)

    # A client closed while a stream runs is freed when the stream is done.
    stream = client.stream("GenerateModelOutputs", count_request("stream-count", 50), buffer=1)
    client.close()
    client.close()  # idempotent
    assert len(list(stream)) == 50 and stream.wait(5)
    with pytest.raises(InvalidArgumentError, match="client is closed"):
        client.call("ListConcepts")

    # Dropped without close(): the finalizers free them.
    channel = Channel.json(server.rest_url)
    client = Client(channel, server.token, USER, app_id)
    finalizers = [channel._finalizer, client._finalizer]
    del channel, client
    gc.collect()
    assert not any(f.alive for f in finalizers)


def test_eight_threads_share_one_client(pyclient, kind):
    expected = pyclient.predict("general-image-recognition", url=IMAGE_URL).concepts
    pyclient.call("PostConcepts", {"concepts": [{"id": "shared"}]})

    def work(thread):
        for i in range(8):
            assert pyclient.predict("general-image-recognition", url=IMAGE_URL).concepts == expected
            assert pyclient.predict("text-echo", text=f"{thread}-{i}").text == f"echo: {thread}-{i}"
            assert [c["id"] for c in pyclient.call("ListConcepts")["concepts"]] == ["shared"]
            if kind == "grpc":
                got = [m["outputs"][0]["data"]["text"]["raw"]
                       for m in pyclient.stream("GenerateModelOutputs", count_request("stream-count", 10))]
                assert got == [str(n) for n in range(10)]
        return thread

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(work, range(8))) == list(range(8))


# ---------------------------------------------------------------------------------------------
# The drop-in channel for the official stub


@pytest.fixture(scope="module")
def official_server():
    """A second server for the official client: both sides start empty, so generated ids match."""
    with start_server() as running:
        yield running


def message_dict(message):
    """A response as a dict without what differs between two servers: req_id and wall-clock times."""
    def clean(value):
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()
                    if k not in ("created_at", "modified_at") and not (k == "req_id")}
        return value
    return type(message).__name__, clean(json_format.MessageToDict(message, preserving_proto_field_name=True))


def stub_scenario(stub, token, app_id, streaming):
    """The same calls through any V2Stub; returns every response message, in order."""
    auth = (("authorization", "Key " + token),)
    ids = res.UserAppIDSet(user_id=USER, app_id=app_id)
    image = res.Data(image=res.Image(base64=b"\x89PNG fake image bytes"))
    out = [
        stub.PostConcepts(service_pb2.PostConceptsRequest(
            user_app_id=ids, concepts=[res.Concept(id="cat", name="Cat"), res.Concept(id="dog", name="Dog")]), metadata=auth),
        stub.PostConcepts(service_pb2.PostConceptsRequest(user_app_id=ids, concepts=[res.Concept(id="cat")]), metadata=auth),
        stub.ListConcepts(service_pb2.ListConceptsRequest(user_app_id=ids, per_page=10), metadata=auth),
        stub.PostInputs(service_pb2.PostInputsRequest(user_app_id=ids, inputs=[
            res.Input(data=res.Data(image=res.Image(url=IMAGE_URL), concepts=[res.Concept(id="cat", value=1)])),
            res.Input(id="text-1", data=res.Data(text=res.Text(raw="hello")))]), metadata=auth),
        stub.ListInputs(service_pb2.ListInputsRequest(user_app_id=ids, per_page=5), metadata=auth),
        stub.ListConcepts(service_pb2.ListConceptsRequest(user_app_id=ids), metadata=(("authorization", "Key wrong"),)),
    ]
    for model in ("general-image-recognition", "general-image-detection", "general-image-embedding"):
        out.append(stub.PostModelOutputs(service_pb2.PostModelOutputsRequest(
            user_app_id=ids, model_id=model, inputs=[res.Input(data=image)]), metadata=auth))
    out.append(stub.PostModelOutputs(service_pb2.PostModelOutputsRequest(
        user_app_id=ids, model_id="text-echo", inputs=[res.Input(data=res.Data(text=res.Text(raw="hi"))), res.Input()]),
        metadata=auth))
    if streaming:
        request = service_pb2.PostModelOutputsRequest(user_app_id=ids, model_id="stream-count",
                                                      inputs=[res.Input(data=res.Data(text=res.Text(raw="25")))])
        out.extend(stub.GenerateModelOutputs(request, metadata=auth))
    return out


def requests_seen(server, app_id):
    return [(r["method"], r["request"]) for r in recorded_requests(server.rest_url)
            if ((r["request"] or {}).get("user_app_id") or {}).get("app_id") == app_id]


def test_stub_matches_the_official_grpc_channel(channel, kind, server, official_server, app_id):
    official = ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=official_server.grpc_port)
    streaming = kind == "grpc"  # REST carries the unary methods only
    expected = stub_scenario(service_pb2_grpc.V2Stub(official), official_server.token, app_id, streaming)
    official.close()
    with libclarifai.stub_channel(channel) as ours:
        assert isinstance(ours, grpc.Channel)
        got = stub_scenario(service_pb2_grpc.V2Stub(ours), server.token, app_id, streaming)
    assert len(got) == len(expected) == (10 + 25 if kind == "grpc" else 10)
    for ours_message, theirs in zip(got, expected):
        assert message_dict(ours_message) == message_dict(theirs)
    assert [m.status.code for m in got[:2]] == [10000, 40003] and got[5].status.code == 11008
    # The server received the same requests from both.
    assert requests_seen(server, app_id) == requests_seen(official_server, app_id)


def test_stub_calls_and_errors(channel, kind, server, app_id):
    auth = (("authorization", "Key " + server.token),)
    request = service_pb2.ListConceptsRequest(user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id))
    with libclarifai.stub_channel(channel) as ours:
        stub = service_pb2_grpc.V2Stub(ours)
        response, call = stub.ListConcepts.with_call(request, metadata=auth)
        assert response.status.code == 10000 and call.code() == grpc.StatusCode.OK
        future = stub.ListConcepts.future(request, metadata=auth)
        assert future.result(10).status.code == 10000 and future.code() == grpc.StatusCode.OK
        # One C client per token; the stub's own token (never $CLARIFAI_PAT) when the call has none.
        assert stub.ListConcepts(request, metadata=(("authorization", b"Key bad"),)).status.code == 11008
        assert len(ours._clients) == 2
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListWorkflows(service_pb2.ListWorkflowsRequest(user_app_id=request.user_app_id), metadata=auth)
        assert isinstance(raised.value, UnsupportedError)  # both a libclarifai error and a grpc.RpcError
        # code() is the server's gRPC status, else the nearest to the library's code (REST 501);
        # details() is the library's message, which quotes the server's.
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert raised.value.grpc_status == (12 if kind == "grpc" else -1)
        assert raised.value.http_status == (200 if kind == "grpc" else 501)
        assert raised.value.details() == str(raised.value) and "ot implemented" in raised.value.details()
        if kind == "rest":  # REST cannot carry a stream
            with pytest.raises(grpc.RpcError) as raised:
                next(stub.StreamModelOutputs(iter([]), metadata=auth))
            assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED and isinstance(raised.value, UnsupportedError)
        else:  # no requests: no answers, and the call ends OK
            call = stub.StreamModelOutputs(iter([]), metadata=auth)
            assert list(call) == [] and call.code() == grpc.StatusCode.OK and not call.is_active()
    with libclarifai.stub_channel(channel, pat=server.token) as ours:
        assert service_pb2_grpc.V2Stub(ours).ListConcepts(request).status.code == 10000


def test_stub_timeout_and_refused_connection(server, app_id):
    auth = (("authorization", "Key " + server.token),)
    request = service_pb2.PostModelOutputsRequest(user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id),
                                                  model_id="grpc-deadline", inputs=[res.Input(data=res.Data(text=res.Text(raw="x")))])
    with Channel.grpc_insecure(server.grpc_target) as channel, libclarifai.stub_channel(channel) as ours:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as raised:
            service_pb2_grpc.V2Stub(ours).PostModelOutputs(request, timeout=0.3, metadata=auth)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and isinstance(raised.value, ClarifaiTimeoutError)
        assert time.monotonic() - started < 3
    with Channel.grpc_insecure(f"127.0.0.1:{free_port()}") as channel, libclarifai.stub_channel(channel) as ours:
        with pytest.raises(grpc.RpcError) as raised:
            service_pb2_grpc.V2Stub(ours).ListConcepts(service_pb2.ListConceptsRequest(), metadata=auth)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE and isinstance(raised.value, TransportError)


def test_stub_timeouts_are_clients_on_the_same_channel(monkeypatch, server, app_id):
    """A call's timeout gets a client of the token with that deadline, not a new channel
    (connections, TLS sessions and an I/O thread of its own)."""
    auth = (("authorization", "Key " + server.token),)
    request = service_pb2.ListConceptsRequest(user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id))
    slow = service_pb2.PostModelOutputsRequest(user_app_id=request.user_app_id, model_id="grpc-deadline",
                                               inputs=[res.Input(data=res.Data(text=res.Text(raw="x")))])
    with Channel.grpc_insecure(server.grpc_target) as channel, libclarifai.stub_channel(channel) as ours:
        def no_new_channel(*args):
            raise AssertionError("a call made a channel")
        monkeypatch.setattr(libclarifai.load_library(), "clarifai_channel_new_grpc_insecure", no_new_channel)
        stub = service_pb2_grpc.V2Stub(ours)
        for timeout in (None, 5, 10, 5):
            assert stub.ListConcepts(request, timeout=timeout, metadata=auth).status.code == 10000
        with pytest.raises(grpc.RpcError) as raised:
            stub.PostModelOutputs(slow, timeout=0.3, metadata=auth)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and "300 ms" in raised.value.details()
        key = "Key " + server.token
        assert sorted(((identity.credential, ms) for identity, ms in ours._clients), key=lambda key: key[1] or 0) == [
            (key, None), (key, 300), (key, 5000), (key, 10000)]


def test_stub_stream_cancel_and_errors(server, app_id):
    auth = (("authorization", "Key " + server.token),)
    ids = res.UserAppIDSet(user_id=USER, app_id=app_id)
    clear_recorded_requests(server.rest_url)
    with Channel.grpc_insecure(server.grpc_target) as channel, libclarifai.stub_channel(channel) as ours:
        stub = service_pb2_grpc.V2Stub(ours)
        call = stub.GenerateModelOutputs(service_pb2.PostModelOutputsRequest(user_app_id=ids, model_id="stream-forever"),
                                         metadata=auth)
        assert [next(call).outputs[0].data.text.raw for _ in range(3)] == ["0", "1", "2"]
        assert call.is_active() and call.cancel()
        with pytest.raises(grpc.RpcError) as raised:
            next(call)
        assert raised.value.code() == call.code() == grpc.StatusCode.CANCELLED
        assert wait_cancelled(server, "stream-forever")["cancelled"]

        call = stub.GenerateModelOutputs(service_pb2.PostModelOutputsRequest(user_app_id=ids, model_id="stream-error"),
                                         metadata=auth)
        with pytest.raises(grpc.RpcError) as raised:
            for _ in call:
                pass
        assert raised.value.code() == grpc.StatusCode.INTERNAL == call.code() and raised.value.grpc_status == 13
        assert raised.value.details().endswith(": model crashed after 3 messages") and isinstance(raised.value, ProtocolError)


def official_and_ours(server, official_server, conversation):
    """conversation(stub, auth) through the official gRPC channel to official_server, then
    through the stub channel to server; each V2Stub built right after its channel (the official
    ClarifaiChannel sets the module-global deserializer V2Stub reads)."""
    official = ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=official_server.grpc_port)
    theirs = conversation(service_pb2_grpc.V2Stub(official), (("authorization", "Key " + official_server.token),))
    official.close()
    with Channel.grpc_insecure(server.grpc_target) as channel, libclarifai.stub_channel(channel) as stub_channel:
        ours = conversation(service_pb2_grpc.V2Stub(stub_channel), (("authorization", "Key " + server.token),))
    return theirs, ours


def test_stub_stream_model_outputs_matches_the_official_grpc_channel(server, official_server, app_id):
    ids = res.UserAppIDSet(user_id=USER, app_id=app_id)
    requests = [service_pb2.PostModelOutputsRequest(
        user_app_id=ids, model_id="no-such-model" if i % 10 == 9 else "text-echo",
        inputs=[res.Input(data=res.Data(text=res.Text(raw=f"request {i}")))]) for i in range(50)]

    def conversation(stub, auth):
        call = stub.StreamModelOutputs(iter(requests), metadata=auth)
        answers = list(call)
        assert call.code() == grpc.StatusCode.OK and not call.is_active()
        return answers

    theirs, ours = official_and_ours(server, official_server, conversation)
    assert [message_dict(m) for m in ours] == [message_dict(m) for m in theirs]
    assert [(m.status.code, m.outputs[0].data.text.raw if m.outputs else None) for m in ours] == [
        (21200, None) if i % 10 == 9 else (10000, f"echo: request {i}") for i in range(50)]


def test_stub_upload_matches_the_official_grpc_channel(server, official_server, app_id):
    data = bytes(range(256)) * 12
    config = service_pb2.PostModelVersionsUploadConfig(user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id),
                                                       model_id="text-echo", total_size=3000)
    requests = [service_pb2.PostModelVersionsUploadRequest(upload_config=config)] + [
        service_pb2.PostModelVersionsUploadRequest(content_part=res.UploadContentPart(
            part_number=part + 1, range_start=part * 1000, data=data[part * 1000:(part + 1) * 1000]))
        for part in range(3)]

    def conversation(stub, auth):
        return [(answer.status.code, answer.bytes_remaining, answer.status.percent_completed)
                for answer in stub.PostModelVersionsUpload(iter(requests), metadata=auth)]

    theirs, ours = official_and_ours(server, official_server, conversation)
    assert ours == theirs == [(68000, 3000, 0), (68000, 2000, 33), (68000, 1000, 66), (68000, 0, 100),
                              (21107, 0, 100)]


def test_stub_bidirectional_cancel(server, app_id):
    """cancel() ends the call at once, with the request iterator still open (as grpcio's); an
    iterator that raises ends the call with UNKNOWN, as grpcio's does."""
    auth = (("authorization", "Key " + server.token),)
    more = threading.Event()

    def requests():
        yield echo_request("first")
        more.wait(10)  # the call is cancelled meanwhile
        yield echo_request("never answered")

    clear_recorded_requests(server.rest_url)
    with Channel.grpc_insecure(server.grpc_target) as channel, libclarifai.stub_channel(channel) as ours:
        stub = service_pb2_grpc.V2Stub(ours)
        call = stub.StreamModelOutputs(requests(), timeout=30, metadata=auth)
        assert next(call).outputs[0].data.text.raw == "echo: first"
        assert call.is_active() and 0 < call.time_remaining() <= 30
        assert call.cancel() and not call.cancel()
        with pytest.raises(grpc.RpcError) as raised:
            next(call)
        assert raised.value.code() == call.code() == grpc.StatusCode.CANCELLED and not call.is_active()
        more.set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            [record] = [r for r in recorded_requests(server.rest_url) if r["method"] == "StreamModelOutputs"]
            if record["stream"]["cancelled"]:
                break
            time.sleep(0.02)
        assert record["stream"]["cancelled"] and not record["stream"]["half_closed"], record

        def failing():
            yield echo_request("first")
            raise RuntimeError("no more requests")
        with pytest.raises(grpc.RpcError) as raised:
            list(stub.StreamModelOutputs(failing(), metadata=auth))
        assert raised.value.code() == grpc.StatusCode.UNKNOWN and "no more requests" in raised.value.details()
        assert isinstance(raised.value.__cause__, RuntimeError)


def test_stub_takes_any_official_deserializer_setting(monkeypatch, server, app_id):
    """V2Stub asks the official module-global wrap_response_deserializer for each response class:
    None before any official channel was made (we then set the gRPC one), the class itself after
    ClarifaiChannel.get_json_channel(): either way our channel deserializes with FromString."""
    auth = (("authorization", "Key " + server.token),)
    request = service_pb2.ListConceptsRequest(user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id))
    with Channel.grpc_insecure(server.grpc_target) as channel:
        monkeypatch.setattr(official_channel_module, "wrap_response_deserializer", None)
        with libclarifai.stub_channel(channel) as ours:
            assert service_pb2_grpc.V2Stub(ours).ListConcepts(request, metadata=auth).status.code == 10000
        monkeypatch.setattr(official_channel_module, "wrap_response_deserializer",
                            official_channel_module._response_deserializer_for_json)
        with libclarifai.stub_channel(channel) as ours:
            response = service_pb2_grpc.V2Stub(ours).ListConcepts(request, metadata=auth)
            assert isinstance(response, service_pb2.MultiConceptResponse) and response.status.code == 10000


# ---------------------------------------------------------------------------------------------
# Finding the library


SHOW_LIBRARY = ("import sys, libclarifai; print(libclarifai.library_path()); print(libclarifai.version()); "
                "print('grpc' in sys.modules)")  # grpcio is needed by the stub channel only


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the package's source, without a library, and show(**env): SHOW_LIBRARY run with
    it in a process of its own, without $LIBCLARIFAI_PATH and $LD_LIBRARY_PATH unless given."""
    package = tmp_path / "site" / "libclarifai"
    package.mkdir(parents=True)
    for source in (BINDING / "libclarifai").iterdir():
        if source.suffix in (".py", ".typed"):
            (package / source.name).write_bytes(source.read_bytes())
    base = {k: v for k, v in os.environ.items() if k not in ("LIBCLARIFAI_PATH", "LD_LIBRARY_PATH")}
    base["PYTHONPATH"] = str(package.parent)

    def show(**env):
        return subprocess.run([sys.executable, "-c", SHOW_LIBRARY], env=dict(base, **env), cwd=tmp_path,
                              capture_output=True, text=True, timeout=30)
    return package, show


def test_library_search_order_and_not_found_message(package_copy, tmp_path):
    package, show = package_copy
    nowhere = tmp_path / "nowhere" / "libclarifai.so.1"
    result = show(LIBCLARIFAI_PATH=str(nowhere))
    assert result.returncode == 1 and "LibraryNotFoundError" in result.stderr, result.stderr
    message = result.stderr
    assert f"$LIBCLARIFAI_PATH: {nowhere}: no such file" in message
    assert f"next to the package: {package} has no libclarifai.so.1" in message
    assert "ctypes.util.find_library('clarifai')" in message
    assert "the dynamic linker" in message and "Set LIBCLARIFAI_PATH" in message

    # The system's dynamic linker search (here through LD_LIBRARY_PATH).
    result = show(LD_LIBRARY_PATH=str(LIBRARY.parent))
    assert result.returncode == 0 and result.stdout.split()[1:] == ["1.1.0", "False"], result.stderr

    # A copy next to the package comes before the system.
    (package / "libclarifai.so.1").symlink_to(LIBRARY)
    result = show(LD_LIBRARY_PATH="/nonexistent")
    assert result.returncode == 0 and result.stdout.split()[0] == str(package / "libclarifai.so.1"), result.stderr

    # $LIBCLARIFAI_PATH comes first, and may name the directory.
    result = show(LIBCLARIFAI_PATH=str(LIBRARY.parent))
    assert result.returncode == 0 and result.stdout.split()[0] == str(LIBRARY), result.stderr


def test_only_the_linux_soname_is_looked_for(package_copy, tmp_path):
    """libclarifai.so.1 only: not macOS or Windows names, nor the unversioned development link
    (which may lead to another major version)."""
    package, show = package_copy
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for directory in (package, elsewhere):
        for name in ("libclarifai.so", "libclarifai.dylib", "libclarifai.1.dylib", "clarifai.dll"):
            (directory / name).symlink_to(LIBRARY)
    result = show(LIBCLARIFAI_PATH=str(elsewhere))
    assert result.returncode == 1 and "LibraryNotFoundError" in result.stderr, result.stdout
    assert f"$LIBCLARIFAI_PATH: {elsewhere / 'libclarifai.so.1'}: no such file" in result.stderr
    assert f"next to the package: {package} has no libclarifai.so.1" in result.stderr


def test_a_library_older_than_1_1_is_refused_by_its_version_number(package_copy, tmp_path):
    """The version is checked once, at load, with clarifai_version_number() (which 1.0 lacks),
    rather than each feature probing for its functions."""
    _, show = package_copy
    fakes = {
        "1.0": 'const char *clarifai_version(void) { return "1.0.0"; }',
        "2.0": 'const char *clarifai_version(void) { return "2.0.0"; }\n'
               'unsigned clarifai_version_number(void) { return 20000; }',
        "1.1 without its functions": 'const char *clarifai_version(void) { return "1.1.0"; }\n'
                                     'unsigned clarifai_version_number(void) { return 10100; }',
    }
    messages = {}
    for label, source in fakes.items():
        library = tmp_path / label.replace(" ", "-") / "libclarifai.so.1"
        library.parent.mkdir()
        (library.parent / "fake.c").write_text(source + "\n")
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(library.parent / "fake.c")], check=True)
        result = show(LIBCLARIFAI_PATH=str(library))
        assert result.returncode == 1 and "LibraryNotFoundError" in result.stderr, result.stdout
        [messages[label]] = [line for line in result.stderr.splitlines() if "$LIBCLARIFAI_PATH" in line]
        assert str(library) in messages[label]
    assert messages["1.0"].endswith("libclarifai 1.0.0 is not supported: this package needs 1.1 or a later 1.x")
    assert messages["2.0"].endswith("libclarifai 2.0.0 is not supported: this package needs 1.1 or a later 1.x")
    assert messages["1.1 without its functions"].endswith(  # all but clarifai_version and _version_number
        "libclarifai 1.1.0 lacks clarifai_error_name, clarifai_last_error, clarifai_last_error_code"
        f" and {len(_native.SIGNATURES) - 5} more")


# ---------------------------------------------------------------------------------------------
# The README's examples


def readme_blocks():
    return re.findall(r"```python\n(.*?)```", (BINDING / "README.md").read_text(), re.S)


@pytest.mark.parametrize("number", range(len(readme_blocks())))
def test_readme_example_runs(number, tls_server):
    """Each block as pasted, against the TLS server: Channel.grpc() finds it through
    $CLARIFAI_GRPC_BASE and trusts it through $CLARIFAI_ROOT_CERTIFICATES_PATH."""
    env = {k: v for k, v in os.environ.items() if k != "CLARIFAI_LOG"}
    env.update(CLARIFAI_API_BASE=tls_server.rest_url, CLARIFAI_GRPC_BASE=tls_server.grpcs_target,
               CLARIFAI_ROOT_CERTIFICATES_PATH=str(tls_server.tls_cert), CLARIFAI_PAT=tls_server.token,
               CLARIFAI_SESSION_TOKEN="test-session-token", CLARIFAI_USER_ID=USER, CLARIFAI_APP_ID=f"readme-{number}",
               LIBCLARIFAI_PATH=str(LIBRARY),
               PYTHONPATH=os.pathsep.join([str(BINDING), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", readme_blocks()[number]], env=env, capture_output=True, text=True,
                            timeout=60, cwd=capi.ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and result.stderr == ""


def test_upload_inputs_finishes(channel, server, app_id):
    """URLs, bytes, text and dicts with concepts and metadata: the failing download reported after
    its retries, the flaky one in after a second try, ids made from content so that a second
    upload adds nothing."""
    from libclarifai import UploadResult
    inputs = ["https://x/up/0.jpg", b"\x89PNG raw bytes", {"text": "hello", "concepts": ["greeting"], "metadata": {"n": 1}},
              "https://x/fail/1.jpg", f"https://x/flaky-1/{app_id}.jpg", {"url": "https://x/up/5.jpg", "id": "mine"},
              {"nonsense": 1}]
    seen = []
    with Client(channel, server.token, USER, app_id) as client:
        results = client.upload_inputs(inputs, batch_size=2, concurrency=2, max_retries=2, on_progress=seen.append)
        assert [r.index for r in results] == list(range(7)) and all(isinstance(r, UploadResult) for r in results)
        assert [r.error is None for r in results] == [True, True, True, False, True, True, False]
        assert (results[3].status_code, results[3].tries, type(results[3].error)) == (30002, 3, ApiError)
        assert results[4].tries == 2 and results[5].input_id == "mine" and results[0].input_id.startswith("in-")
        assert isinstance(results[6].error, InvalidArgumentError) and "input 6" in str(results[6].error)
        assert seen[-1].supplied == seen[-1].done == 7 and seen[-1].failed == 2
        listed = client.call("ListInputs", {"per_page": 100})["inputs"]
        assert sorted(i["id"] for i in listed) == sorted(r.input_id for r in results if r.error is None)
        [text] = [i for i in listed if i["id"] == results[2].input_id]
        assert text["data"]["concepts"][0]["id"] == "greeting" and text["data"]["metadata"] == {"n": 1}
        again = client.upload_inputs(inputs[:3])
        assert [r.input_id for r in again] == [r.input_id for r in results[:3]] and all(r.error is None for r in again)
        assert len(client.call("ListInputs", {"per_page": 100})["inputs"]) == len(listed)
        with pytest.raises(InvalidArgumentError, match="batch_size"):
            client.upload_inputs(inputs, batch_size=129)
        with pytest.raises(ZeroDivisionError):
            client.upload_inputs(1 / 0 for _ in range(3))
