"""The Python package `libclarifai` (Bindings/python) against the local server, on the REST and the
cleartext gRPC channel: calls, predictions read through the C struct buffers, streams and their
cancellation, errors, lifetimes, 8 threads on one client, the drop-in channel for the official
V2Stub compared message by message with the official gRPC channel, the library search, and the
examples of Bindings/python/README.md.

The package is imported as installed (`pip install ./Bindings/python`) or, when it is not, from
the source tree.
"""
import concurrent.futures
import ctypes
import filecmp
import gc
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from clarifai_grpc.channel import clarifai_channel as official_channel_module
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2 as res
from clarifai_grpc.grpc.api import service_pb2, service_pb2_grpc
from google.protobuf import json_format

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
from libclarifai import (ApiError, Channel, ClarifaiError, ClarifaiTimeoutError, Client, Concept,  # noqa: E402
                         Input, InvalidArgumentError, ProtocolError, TransportError, UnsupportedError)

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


def stream_record(server, model):
    records = [r for r in recorded_requests(server.rest_url)
               if r["method"] == "GenerateModelOutputs" and (r["request"] or {}).get("model_id") == model]
    return records[-1]["stream"]


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
        assert re.fullmatch(r"c-libclarifai-[\d.]+-\d+", prediction.request_id)
        assert prediction.request_id == prediction.json["status"]["req_id"]
        [output] = prediction.json["outputs"]
        # The struct buffers give the very values of the JSON (floats in their shortest form).
        assert prediction.concepts == [Concept(c["id"], c["name"], c["value"], c["app_id"]) for c in output["data"]["concepts"]]
        assert len(prediction.concepts) == 20 and prediction.regions == [] and prediction.text is None
        assert prediction.embedding is None
    assert by_bytes.concepts == by_file.concepts != by_url.concepts  # the same bytes, the same answer


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


# ---------------------------------------------------------------------------------------------
# Errors


def test_errors_map_to_exception_classes(pyclient, channel, kind, server, app_id):
    with Client(channel, "not-a-token", USER, app_id) as bad:
        with pytest.raises(ApiError) as raised:
            bad.call("ListConcepts")
    error = raised.value
    assert error.status_code == 11008 and error.json["status"]["code"] == 11008
    assert error.description == "API key not found" and "authorization" in error.details
    assert error.request_id.startswith("c-libclarifai-") and error.request_id in str(error)
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


def test_tls_channel_with_ca_file(tls_server):
    with Channel.grpc(tls_server.grpcs_target) as untrusted, Client(untrusted, tls_server.token, USER, "tls") as client:
        with pytest.raises(TransportError, match="(?i)certificate"):
            client.call("ListConcepts")
    with Channel.grpc(tls_server.grpcs_target, ca_file=tls_server.tls_cert, timeout=10) as trusted:
        with Client(trusted, tls_server.token, USER, "tls") as client:
            assert client.call("ListConcepts")["status"]["code"] == 10000
            assert [m["outputs"][0]["data"]["text"]["raw"] for m in client.stream("GenerateModelOutputs", count_request("stream-count", 3))] == ["0", "1", "2"]


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
        # One C client per token; the stub's own token (else $CLARIFAI_PAT) when the call has none.
        assert stub.ListConcepts(request, metadata=(("authorization", b"Key bad"),)).status.code == 11008
        assert len(ours._clients) == 2
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListWorkflows(service_pb2.ListWorkflowsRequest(user_app_id=request.user_app_id), metadata=auth)
        assert isinstance(raised.value, UnsupportedError)  # both a libclarifai error and a grpc.RpcError
        if kind == "grpc":
            assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
            assert raised.value.details() == "Method not implemented!"
        with pytest.raises(grpc.RpcError) as raised:
            next(stub.StreamModelOutputs(iter([]), metadata=auth))
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
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
        assert raised.value.code() == grpc.StatusCode.INTERNAL == call.code()
        assert raised.value.details() == "model crashed after 3 messages" and isinstance(raised.value, ProtocolError)


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


def test_library_search_order_and_not_found_message(tmp_path):
    package = tmp_path / "site" / "libclarifai"
    package.mkdir(parents=True)
    for source in (BINDING / "libclarifai").iterdir():
        if source.suffix in (".py", ".typed"):
            (package / source.name).write_bytes(source.read_bytes())
    base = {k: v for k, v in os.environ.items() if k not in ("LIBCLARIFAI_PATH", "LD_LIBRARY_PATH")}
    base["PYTHONPATH"] = str(package.parent)
    show = ("import sys, libclarifai; print(libclarifai.library_path()); print(libclarifai.version()); "
            "print('grpc' in sys.modules)")  # grpcio is needed by the stub channel only

    nowhere = tmp_path / "nowhere" / "libclarifai.so.1"
    result = subprocess.run([sys.executable, "-c", show], env=dict(base, LIBCLARIFAI_PATH=str(nowhere)), cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "LibraryNotFoundError" in result.stderr, result.stderr
    message = result.stderr
    assert f"$LIBCLARIFAI_PATH: {nowhere}: no such file" in message
    assert f"next to the package: {package} holds none of libclarifai.so.1" in message
    assert "ctypes.util.find_library('clarifai')" in message
    assert "the dynamic linker" in message and "Set LIBCLARIFAI_PATH" in message

    # The system's dynamic linker search (here through LD_LIBRARY_PATH).
    result = subprocess.run([sys.executable, "-c", show], env=dict(base, LD_LIBRARY_PATH=str(LIBRARY.parent)),
                            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.split()[1:] == ["1.1.0", "False"], result.stderr

    # A copy next to the package comes before the system.
    (package / "libclarifai.so.1").symlink_to(LIBRARY)
    result = subprocess.run([sys.executable, "-c", show], env=dict(base, LD_LIBRARY_PATH="/nonexistent"),
                            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.split()[0] == str(package / "libclarifai.so.1"), result.stderr

    # $LIBCLARIFAI_PATH comes first, and may name the directory.
    result = subprocess.run([sys.executable, "-c", show], env=dict(base, LIBCLARIFAI_PATH=str(LIBRARY.parent)),
                            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.split()[0] == str(LIBRARY), result.stderr


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
               LIBCLARIFAI_PATH=str(LIBRARY),
               PYTHONPATH=os.pathsep.join([str(BINDING), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", readme_blocks()[number]], env=env, capture_output=True, text=True,
                            timeout=60, cwd=capi.ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and result.stderr == ""
