"""Streams pulled message by message (clarifai_stream_*) on both gRPC channel kinds, against the
local server's bidirectional and server-streaming methods: every streaming method callable,
1,000-message conversations with a slow sender or a slow receiver, a cancel from a third thread
that the server sees, a server that ends early or fails, a deadline mid-stream, and an upload
conversation compared message by message with the official gRPC client's."""
import ctypes
import json
import threading
import time

import grpc
import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from google.protobuf import json_format

import capi
from testserver import clear_recorded_requests, recorded_requests

KINDS = ("grpc", "grpcs")
# libcurl before 8.1 (Debian 12's 7.88) can lose the last answers of a stream the server ends while the
# request is still open (clarifai.h, Streams).
LOSES_ANSWERS_ENDED_EARLY = capi.LIBCURL_VERSION < (8, 1)
STREAMING_METHODS = [m for m in service_pb2.DESCRIPTOR.services_by_name["V2"].methods if m.client_streaming or m.server_streaming]


@pytest.fixture(params=KINDS)
def stream_client(request, lib, tls_server):
    """A client on cleartext or TLS gRPC with a 20 s deadline; (client, kind)."""
    kind = request.param
    address = tls_server.grpc_target if kind == "grpc" else tls_server.grpcs_target
    channel = getattr(lib, capi.CHANNELS[kind])(address.encode())
    if kind == "grpcs":
        assert lib.clarifai_channel_set_ca_file(channel, str(tls_server.tls_cert).encode()) == capi.OK
    assert lib.clarifai_channel_set_timeout_ms(channel, 20000) == capi.OK
    client = lib.clarifai_client_new(channel, tls_server.token.encode(), b"test-user", b"main")
    lib.clarifai_channel_free(channel)
    yield client
    lib.clarifai_client_free(client)


def echo_request(text, model="text-echo"):
    return {"model_id": model, "inputs": [{"data": {"text": {"raw": str(text)}}}]}


def echoes(messages):
    return [m["outputs"][0]["data"]["text"]["raw"] for m in messages]


@pytest.mark.parametrize("method", [m.name for m in STREAMING_METHODS])
def test_every_streaming_method_is_callable(lib, tls_server, stream_client, method):
    """The library sends each streaming method's request and ends the call cleanly, whatever the
    server answers (the local server implements some of them: the others answer UNIMPLEMENTED)."""
    clear_recorded_requests(tls_server.rest_url)
    stream = capi.Stream(lib, stream_client, method)
    assert stream.send({}) == capi.OK, lib.clarifai_last_error()
    assert stream.close_send() == capi.OK
    _, code, error = stream.recv_all()
    stream.free()
    assert code in (capi.OK, capi.UNSUPPORTED), error
    assert method in [r["method"] for r in recorded_requests(tls_server.rest_url)], error


@pytest.mark.parametrize("count", [1, 1000])
def test_a_conversation_both_ways_with_a_sender_thread(lib, stream_client, count):
    stream = capi.Stream(lib, stream_client, "StreamModelOutputs")
    failures = []

    def send_all():
        for i in range(count):
            if stream.send(echo_request(i)) != capi.OK:
                failures.append(lib.clarifai_last_error().decode())
                return
        stream.close_send()

    sender = threading.Thread(target=send_all)
    sender.start()
    messages, code, error = stream.recv_all()
    sender.join()
    stream.free()
    assert (code, failures) == (capi.OK, []), error
    assert echoes(messages) == [f"echo: {i}" for i in range(count)]


def test_a_slow_sender_and_a_slow_receiver(lib, stream_client):
    """200 messages, sent 2 ms apart, answered by a receiver that takes 2 ms per message."""
    stream = capi.Stream(lib, stream_client, "StreamModelOutputs")

    def send_slowly():
        for i in range(200):
            stream.send(echo_request(i))
            time.sleep(0.002)
        stream.close_send()

    sender = threading.Thread(target=send_slowly)
    sender.start()
    messages, code, error = stream.recv_all(on_message=lambda _: time.sleep(0.002))
    sender.join()
    stream.free()
    assert code == capi.OK, error
    assert echoes(messages) == [f"echo: {i}" for i in range(200)]


def resident_kib():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])


def test_a_receiver_that_does_not_keep_up_holds_the_server_back(lib, stream_client):
    """Answers of 1 MiB for 300 requests (300 MiB in all) to a receiver that waits 1 s before it
    starts: the library holds a bounded amount, not the whole answer."""
    big = "x" * (1 << 20)
    stream = capi.Stream(lib, stream_client, "StreamModelOutputs")

    def send_all():
        for _ in range(300):
            if stream.send(echo_request(big)) != capi.OK:
                return
        stream.close_send()

    before = resident_kib()
    sender = threading.Thread(target=send_all)
    sender.start()
    time.sleep(1)
    grown = resident_kib() - before
    messages, code, error = stream.recv_all()
    sender.join()
    stream.free()
    assert code == capi.OK and len(messages) == 300, error
    assert grown < 64 * 1024, f"{grown} KiB held while the receiver waited"


def test_a_cancel_from_a_third_thread_unblocks_the_receiver_and_reaches_the_server(lib, tls_server, stream_client):
    clear_recorded_requests(tls_server.rest_url)
    stream = capi.Stream(lib, stream_client, "StreamModelOutputs")
    assert stream.send(echo_request("first")) == capi.OK
    code, answer, _ = stream.recv()
    assert code == capi.OK and echoes([answer]) == ["echo: first"]
    threading.Timer(0.2, stream.cancel).start()
    started = time.monotonic()
    code, answer, error = stream.recv()  # blocks: the client sends nothing more
    assert (code, answer) == (capi.CANCELLED, None) and time.monotonic() - started < 2, error
    assert stream.recv()[0] == capi.CANCELLED and stream.send(echo_request("late")) != capi.OK
    stream.free()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        [record] = [r for r in recorded_requests(tls_server.rest_url) if r["method"] == "StreamModelOutputs"]
        if record["stream"]["cancelled"]:
            break
        time.sleep(0.05)
    assert record["stream"]["cancelled"] and record["stream"]["code"] == "CANCELLED", record["stream"]


@pytest.mark.parametrize("model, code, answers, words", [
    ("bidi-end-early", capi.OK, 2, []),
    ("bidi-error-after-2", capi.PROTOCOL, 2, ["gRPC status 13 INTERNAL: model crashed after 2 answers"]),
])
def test_a_server_that_ends_the_stream_first(lib, stream_client, model, code, answers, words):
    """The client answers each message before sending the next (as a conversation does); the
    server ends after its 2nd answer while the request stream is still open.

    libcurl before 8.x (Debian 12's 7.88) can lose the answer that arrives with the end while the
    upload waits (a documented limit; Tests/C/test_capi.c asserts the whole answer on Debian 13's
    libcurl in `make test-trixie`): here it must then still end as the server ended it, with the
    answers it kept in order."""
    stream = capi.Stream(lib, stream_client, "StreamModelOutputs")
    received = []
    for i in range(4):
        # A send after the server's end fails (CANCELLED); the end itself is read below.
        if stream.send(echo_request(i, model)) != capi.OK:
            break
        got, answer, error = stream.recv()
        if answer is None:
            break
        received.append(answer)
    got, answer, error = stream.recv()  # the end, read again once it came
    assert answer is None
    stream.close_send()
    stream.free()
    if LOSES_ANSWERS_ENDED_EARLY:
        assert got == code and 1 <= len(received) <= answers, error
    else:
        assert (got, len(received)) == (code, answers), error
    assert echoes(received) == ["echo: 0", "echo: 1"][:len(received)]
    for word in words:
        assert word in error


def test_the_deadline_bounds_the_whole_stream(lib, tls_server):
    """stream-echo-slow answers 50 ms after each message: 100 messages cannot be done in 300 ms."""
    client = capi.new_client(lib, tls_server.grpc_target, tls_server.token, "test-user", "main", kind="grpc")
    assert lib.clarifai_client_set_timeout_ms(client, 300) == capi.OK
    stream = capi.Stream(lib, client, "StreamModelOutputs")
    started = time.monotonic()
    for i in range(100):
        if stream.send(echo_request(i, "stream-echo-slow")) != capi.OK:
            break
    messages, code, error = stream.recv_all()
    stream.free()
    lib.clarifai_client_free(client)
    assert code == capi.TIMEOUT and len(messages) < 100, error
    assert time.monotonic() - started < 2


def upload_conversation(parts):
    """PostModelVersionsUpload requests: the config, then `parts` of 1,000 bytes."""
    data = bytes(range(256)) * 4 * parts
    requests = [service_pb2.PostModelVersionsUploadRequest(upload_config=service_pb2.PostModelVersionsUploadConfig(
        user_app_id=resources_pb2.UserAppIDSet(user_id="test-user", app_id="main"), model_id="text-echo",
        total_size=parts * 1000))]
    for number in range(parts):
        requests.append(service_pb2.PostModelVersionsUploadRequest(content_part=resources_pb2.UploadContentPart(
            part_number=number + 1, range_start=number * 1000, data=data[number * 1000:(number + 1) * 1000])))
    return requests


def comparable(answer):
    """An upload answer without what differs from call to call (version id, request id)."""
    answer.model_version_id = ""
    answer.status.req_id = ""
    answer.status.details = answer.status.details.split(":")[0]
    return json_format.MessageToDict(answer)


def test_an_upload_conversation_gives_what_the_official_client_gets(lib, tls_server, stream_client):
    requests = upload_conversation(5)
    with grpc.insecure_channel(tls_server.grpc_target) as channel:
        # The official generated method, without V2Stub (its response deserializer is set by the
        # official ClarifaiChannel only).
        upload = channel.stream_stream("/clarifai.api.V2/PostModelVersionsUpload",
                                       request_serializer=service_pb2.PostModelVersionsUploadRequest.SerializeToString,
                                       response_deserializer=service_pb2.PostModelVersionsUploadResponse.FromString)
        theirs = [comparable(a) for a in upload(iter(requests), metadata=(("authorization", "Key " + tls_server.token),))]
    stream = capi.Stream(lib, stream_client, "PostModelVersionsUpload")
    ours = []
    for request in requests:
        serialized = request.SerializeToString()
        assert lib.clarifai_stream_send_proto(stream.handle, serialized, len(serialized)) == capi.OK, lib.clarifai_last_error()
        code, answer, error = stream.recv()
        assert code == capi.OK, error
        ours.append(comparable(json_format.ParseDict(answer, service_pb2.PostModelVersionsUploadResponse())))
    assert stream.close_send() == capi.OK
    rest, code, error = stream.recv_all()
    stream.free()
    ours += [comparable(json_format.ParseDict(a, service_pb2.PostModelVersionsUploadResponse())) for a in rest]
    assert code == capi.OK, error
    assert ours == theirs and len(ours) == len(requests) + 1
    assert ours[-1]["status"]["code"] == "MODEL_BUILDING"  # the upload is complete
