"""Fault injection on every channel kind (REST, cleartext gRPC, and TLS gRPC, whose calls run on
the channel's multi handle) with Tests/Server/faults.py, a misbehaving server that passes normal
calls on to the local Clarifai server.

Every case checks the error code, a message naming the method, the URL and what happened, that
the call ended in bounded time, how many requests the server saw (retries), and that the SAME
client then completes a normal call through the same server. The library runs in this process:
a crash fails the whole run. The last test makes many faulted calls and checks that neither
memory nor file descriptors grow."""
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

import capi
from testserver import make_self_signed_cert

FAULTS = capi.ROOT / "Tests" / "Server" / "faults.py"
READY = re.compile(r"^READY rest=(\d+) grpc=(\d+) grpcs=(\d+)$")
CERTIFICATE_DIRECTORY = tempfile.TemporaryDirectory(prefix="clarifai-faults-tls-")
CERT, KEY = make_self_signed_cert(CERTIFICATE_DIRECTORY.name)
APP = "faults"
PREDICT_INPUTS = [{"data": {"text": {"raw": "hi"}}}]


class FaultServer:
    """faults.py in a child process, passing normal calls on to `upstream` (the local server)."""

    def __init__(self, upstream, rest_port=0, grpc_port=0, grpcs_port=0):
        self.upstream = upstream
        self.process = subprocess.Popen(
            [sys.executable, str(FAULTS), "--upstream-rest", upstream.rest_url, "--upstream-grpc", upstream.grpc_target,
             "--rest-port", str(rest_port), "--grpc-port", str(grpc_port), "--grpcs-port", str(grpcs_port),
             "--tls-cert", str(CERT), "--tls-key", str(KEY)],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline().strip()
        ready = READY.match(line)
        if not ready:
            self.process.kill()
            raise RuntimeError(f"faults.py did not start: {line!r}, exit {self.process.wait()}")
        self.rest_port, self.grpc_port, self.grpcs_port = int(ready[1]), int(ready[2]), int(ready[3])
        self.rest_url = f"http://127.0.0.1:{self.rest_port}"
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self.grpcs_target = f"127.0.0.1:{self.grpcs_port}"

    def restarted(self):
        """A new instance on the same ports (after this one died)."""
        self.stop()
        return FaultServer(self.upstream, self.rest_port, self.grpc_port, self.grpcs_port)

    def address(self, kind):
        return {"rest": self.rest_url, "grpc": self.grpc_target, "grpcs": self.grpcs_target}[kind]

    def attempts(self, model):
        """How many requests carried model id `model`."""
        with urllib.request.urlopen(self.rest_url + "/_faults/attempts", timeout=5) as answer:
            return json.load(answer).get(model, 0)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()


@pytest.fixture(scope="module")
def faults(lib, server):
    running = FaultServer(server)
    for kind in KINDS:  # faults.py's connections to the server are made before the tests' deadlines
        client = new_fault_client(lib, running.address(kind), server.token, kind)
        assert_normal_call_works(lib, client)
        lib.clarifai_client_free(client)
    yield running
    running.stop()


KINDS = ("rest", "grpc", "grpcs")
_tags = itertools.count(1)


def fault_model(kind, count="all"):
    """A model id that makes faults.py answer the first `count` requests with fault `kind`."""
    return f"fault.{kind}.{count}.t{next(_tags)}"


def new_fault_client(lib, address, token, kind, timeout_ms=5000, retries=None):
    channel = getattr(lib, capi.CHANNELS[kind])(address.encode())
    assert channel, lib.clarifai_last_error()
    if kind == "grpcs":
        assert lib.clarifai_channel_set_ca_file(channel, str(CERT).encode()) == capi.OK
    assert lib.clarifai_channel_set_timeout_ms(channel, timeout_ms) == capi.OK
    if retries is not None:
        assert lib.clarifai_channel_set_max_retries(channel, retries) == capi.OK
    client = lib.clarifai_client_new(channel, token.encode(), b"test-user", APP.encode())
    lib.clarifai_channel_free(channel)
    assert client, lib.clarifai_last_error()
    return client


@pytest.fixture
def make_client(lib, faults, server):
    """make_client(kind, timeout_ms=5000, retries=None): a client on the fault server, freed after the test."""
    clients = []

    def make(kind, timeout_ms=5000, retries=None):
        client = new_fault_client(lib, faults.address(kind), server.token, kind, timeout_ms, retries)
        clients.append(client)
        return client

    yield make
    for client in clients:
        lib.clarifai_client_free(client)


def predict(lib, client, model):
    return capi.call(lib, client, "PostModelOutputs", {"model_id": model, "inputs": PREDICT_INPUTS})


def assert_normal_call_works(lib, client):
    """A normal prediction through the same client completes (faults.py passes it to the server)."""
    result = predict(lib, client, "text-echo")
    assert result.code == capi.OK, result.error
    assert result.error == ""
    assert result.json["outputs"][0]["data"]["text"]["raw"] == "echo: hi"
    listed = capi.call(lib, client, "ListConcepts")
    assert listed.code == capi.OK and listed.status_code == 10000, listed.error


def url_of(faults, kind, model):
    """The URL the library calls for `predict(model)`, as its messages name it."""
    if kind == "rest":
        return f"{faults.rest_url}/v2/users/test-user/apps/{APP}/models/{model}/outputs"
    scheme = "https" if kind == "grpcs" else "http"
    return f"{scheme}://{faults.address(kind)}/clarifai.api.V2/PostModelOutputs"


def check_fault(lib, faults, client, kind, model, code, words, attempts=(1,), seconds=3.0):
    started = time.monotonic()
    result = predict(lib, client, model)
    elapsed = time.monotonic() - started
    assert (result.code, result.json) == (code, None), (lib.clarifai_error_name(result.code), result.error)
    assert result.error.startswith("PostModelOutputs: "), result.error
    assert url_of(faults, kind, model) in result.error, result.error
    for word in words:
        assert word in result.error, result.error
    assert elapsed < seconds, (elapsed, result.error)
    assert faults.attempts(model) in attempts, result.error
    assert_normal_call_works(lib, client)
    return result



def case(kind, fault, code, words, attempts=(1,), bug=None):
    """A row of CASES; `bug`: what the library gets wrong (the case is a strict xfail)."""
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(kind, fault, code, words, attempts, id=f"{kind}-{fault}", marks=marks)


# (channel, fault, error code, key phrases, requests the server sees with the default 4 retries)
CASES = [
    # The server closes or resets the connection after reading the request, before answering.
    # (The connection is reused: when it dies before any answer, the request is sent once more,
    # by libcurl itself on REST, by the library on gRPC, hence 1 or 2 requests.)
    case("rest", "close", capi.TRANSPORT, ["Empty reply from server"], (1, 2)),
    case("grpc", "close", capi.TRANSPORT, ["not closed cleanly"], (1, 2)),
    case("rest", "reset", capi.TRANSPORT, ["Connection reset by peer"], (1, 2)),
    case("grpc", "reset", capi.TRANSPORT, ["Connection reset by peer"], (1, 2)),
    # Reset after the response headers.
    case("rest", "reset-after-headers", capi.TRANSPORT, ["Connection reset by peer"]),
    case("grpc", "reset-after-headers", capi.TRANSPORT, ["not closed cleanly", "INTERNAL_ERROR"]),
    case("grpc", "tcp-reset-after-headers", capi.TRANSPORT, ["Connection reset by peer"]),
    # The body ends early: REST short of its Content-Length, gRPC inside a message; a length
    # prefix larger than the body; a length over the 1 GiB message limit.
    case("rest", "truncated", capi.TRANSPORT, ["479 bytes remaining"]),
    case("grpc", "truncated", capi.PROTOCOL, ["the answer ended inside a message"]),
    case("grpc", "truncated-eos", capi.PROTOCOL, ["HTTP 200 (application/grpc) ended without gRPC trailers"]),
    case("grpc", "long-prefix", capi.PROTOCOL, ["the answer ended inside a message (50 bytes of a frame)"]),
    case("grpc", "huge-prefix", capi.PROTOCOL, ["2147483647 bytes is over the 1073741824-byte limit"]),
    # Garbage where the message should be; frames the client did not ask for.
    case("rest", "garbage", capi.PROTOCOL, ["invalid JSON"]),
    case("grpc", "garbage", capi.PROTOCOL, ["does not decode as clarifai.api.MultiOutputResponse", "invalid tag"]),
    case("grpc", "compressed", capi.PROTOCOL, ["compressed message"]),
    case("grpc", "bad-flag", capi.PROTOCOL, ["invalid gRPC frame flag 2"]),
    case("grpc", "bad-status", capi.PROTOCOL, ["invalid grpc-status 'abc'"]),
    case("grpc", "two-messages", capi.PROTOCOL, ["more than one message in a unary answer"]),
    case("grpc", "no-message", capi.PROTOCOL, ["the answer carried no message"]),
    # A proxy's HTML error page: transient (502), retried, then reported as a transport error.
    case("rest", "html502", capi.TRANSPORT, ["HTTP 502 (text/html) without a Clarifai status", "502 Bad Gateway"], (5,)),
    case("grpc", "html502", capi.TRANSPORT, ["HTTP 502 (text/html) without a gRPC status", "502"], (5,)),
    # A JSON answer that is not a Clarifai reply.
    case("rest", "foreign-json", capi.PROTOCOL, ["answer is JSON without a Clarifai status", '{"hello": "world"}']),
]
# The same gRPC faults over TLS.
CASES += [case("grpcs", *param.values[1:]) for param in CASES if param.values[0] == "grpc"]


@pytest.mark.parametrize("kind, fault, code, words, attempts", CASES)
def test_fault(lib, faults, make_client, kind, fault, code, words, attempts):
    client = make_client(kind)
    assert_normal_call_works(lib, client)  # a warm (REST: kept-alive) connection first
    check_fault(lib, faults, client, kind, fault_model(fault), code, words, attempts)


@pytest.mark.parametrize("kind", KINDS)
def test_server_that_never_answers_meets_the_deadline(lib, faults, make_client, kind):
    client = make_client(kind, timeout_ms=500)
    check_fault(lib, faults, client, kind, fault_model("hang"), capi.TIMEOUT, ["deadline of 500 ms passed"], seconds=2.0)


@pytest.mark.parametrize("kind", KINDS)
def test_server_process_killed_mid_call(lib, server, kind):
    """faults.py exits (os._exit) after reading the request; started again on the same ports, the
    same client works."""
    target = FaultServer(server)
    client = new_fault_client(lib, target.address(kind), server.token, kind)
    try:
        assert_normal_call_works(lib, client)
        model = fault_model("exit")
        started = time.monotonic()
        result = predict(lib, client, model)
        assert result.code == capi.TRANSPORT and result.json is None, result.error
        assert result.error.startswith("PostModelOutputs: ") and url_of(target, kind, model) in result.error, result.error
        # What the client meets: its connection closed or reset, and (REST: libcurl sends the request
        # again on a new connection when a reused one dies) the port refusing connections.
        assert re.search("Empty reply from server|not closed cleanly|Connection reset by peer|Couldn't connect",
                         result.error), result.error
        assert time.monotonic() - started < 3
        assert target.process.wait(5) == 3
        target = target.restarted()
        assert_normal_call_works(lib, client)
    finally:
        lib.clarifai_client_free(client)
        target.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_throttled_twice_then_success_is_retried(lib, faults, make_client, kind):
    client = make_client(kind, retries=4)
    model = fault_model("throttled", 2)
    result = predict(lib, client, model)
    assert result.code == capi.OK and result.status_code == 10000, result.error
    assert result.json["outputs"][0]["data"]["text"]["raw"] == "echo: hi"
    assert faults.attempts(model) == 3
    assert_normal_call_works(lib, client)


@pytest.mark.parametrize("kind", KINDS)
def test_throttled_past_the_budget_hands_out_the_last_answer(lib, faults, make_client, kind):
    client = make_client(kind, retries=1)
    model = fault_model("throttled")
    result = predict(lib, client, model)
    assert result.code == capi.API and result.status_code == 11005, result.error
    assert result.error.startswith("PostModelOutputs: Clarifai status 11005"), result.error
    assert faults.attempts(model) == 2
    assert_normal_call_works(lib, client)


@pytest.mark.parametrize("kind", KINDS)
def test_flaky_unavailable_then_success_is_retried(lib, faults, make_client, kind):
    client = make_client(kind, retries=4)
    model = fault_model("unavailable", 3)
    started = time.monotonic()
    result = predict(lib, client, model)
    assert result.code == capi.OK and result.status_code == 10000, result.error
    assert faults.attempts(model) == 4
    assert time.monotonic() - started < 2
    assert_normal_call_works(lib, client)


@pytest.mark.parametrize("kind, words", [
    ("rest", ["HTTP 503 (application/json) without a Clarifai status", '"unavailable"']),
    ("grpc", ["gRPC status 14 UNAVAILABLE: try later"]),
    ("grpcs", ["gRPC status 14 UNAVAILABLE: try later"]),
])
def test_flaky_unavailable_past_the_budget_is_a_transport_error(lib, faults, make_client, kind, words):
    client = make_client(kind, retries=2)
    check_fault(lib, faults, client, kind, fault_model("unavailable", 5), capi.TRANSPORT, words, attempts=(3,))


def stream(lib, client, model):
    """GenerateModelOutputs; returns (code, last error, [message JSON])."""
    messages = []

    @capi.STREAM_FN
    def on_message(handle, userdata):
        messages.append(json.loads(lib.clarifai_response_json(handle)))
        return 0

    request = json.dumps({"model_id": model, "inputs": PREDICT_INPUTS}).encode()
    code = lib.clarifai_call_stream(client, b"GenerateModelOutputs", request, on_message, None)
    return code, lib.clarifai_last_error().decode(), messages


def stream_case(fault, code, words, delivered=0, attempts=1, count="all", bug=None):
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(fault, code, words, delivered, attempts, count, id=fault, marks=marks)


@pytest.mark.parametrize("kind", ["grpc", "grpcs"])
@pytest.mark.parametrize("fault, code, words, delivered, attempts, count", [
    stream_case("close", capi.TRANSPORT, ["not closed cleanly"]),
    stream_case("reset-after-headers", capi.TRANSPORT, ["INTERNAL_ERROR"]),
    stream_case("truncated", capi.PROTOCOL, ["the answer ended inside a message"]),
    stream_case("compressed", capi.PROTOCOL, ["compressed message"]),
    stream_case("garbage", capi.PROTOCOL, ["does not decode as clarifai.api.MultiOutputResponse"]),
    # Messages arrived: never retried, even after a transient failure.
    stream_case("messages-then-reset", capi.TRANSPORT, ["INTERNAL_ERROR"], delivered=2),
    stream_case("messages-then-unavailable", capi.TRANSPORT, ["gRPC status 14 UNAVAILABLE: lost the model"], delivered=2),
    # No message yet: UNAVAILABLE is retried, then the stream goes through.
    stream_case("unavailable", capi.OK, [], delivered=1, attempts=3, count=2),
])
def test_faults_on_a_grpc_stream(lib, faults, make_client, kind, fault, code, words, delivered, attempts, count):
    client = make_client(kind, retries=4)
    model = fault_model(fault, count)
    started = time.monotonic()
    got, error, messages = stream(lib, client, model)
    assert got == code, (lib.clarifai_error_name(got), error)
    assert len(messages) == delivered and time.monotonic() - started < 3
    if code != capi.OK:
        assert error.startswith("GenerateModelOutputs: "), error
        assert url_of(faults, kind, "").replace("PostModelOutputs", "GenerateModelOutputs") in error, error
    for word in words:
        assert word in error, error
    assert faults.attempts(model) == attempts
    # The same client streams normally afterwards (faults.py passes the stream through).
    got, error, messages = stream(lib, client, "text-echo")
    assert got == capi.OK and [m["outputs"][0]["data"]["text"]["raw"] for m in messages] == ["echo: hi"], error


@pytest.mark.parametrize("kind", ["grpc", "grpcs"])
def test_a_stream_ended_with_its_answer_while_the_request_is_open(lib, faults, make_client, kind):
    """The server sends the whole answer, its trailers and RST_STREAM NO_ERROR at once while the
    client's side of the stream is open. libcurl 8.1 and later deliver the two messages; libcurl
    before 8.1 drops all but the trailers (clarifai.h, Streams): the stream must then fail saying
    so, at once, rather than hang or end as if the server had sent nothing."""
    client = make_client(kind)
    model = fault_model("answers-with-reset")
    stream = capi.Stream(lib, client, "StreamModelOutputs")
    started = time.monotonic()
    assert stream.send({"model_id": model, "inputs": PREDICT_INPUTS}) == capi.OK
    messages, code, error = stream.recv_all()
    assert stream.recv()[0] == code  # and every later recv the same
    stream.free()
    assert time.monotonic() - started < 3 and faults.attempts(model) == 1
    if capi.LIBCURL_VERSION >= (8, 1):
        assert (code, len(messages)) == (capi.OK, 2), error
    else:
        assert (code, messages) == (capi.TRANSPORT, []), error
        assert error.startswith("StreamModelOutputs: POST ") and "only its trailers arrived" in error, error
        assert "RST_STREAM" in error and "libcurl 7." in error, error


def resident_kib():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])


def open_fds():
    return len(os.listdir("/proc/self/fd"))


LEAK_FAULTS = [("rest", "reset", capi.TRANSPORT), ("rest", "garbage", capi.PROTOCOL), ("rest", "html502", capi.TRANSPORT),
               ("rest", "reset-after-headers", capi.TRANSPORT), ("grpc", "truncated", capi.PROTOCOL),
               ("grpc", "compressed", capi.PROTOCOL), ("grpc", "reset-after-headers", capi.TRANSPORT),
               ("grpc", "close", capi.TRANSPORT), ("grpc", "unavailable", capi.TRANSPORT),
               ("grpc", "huge-prefix", capi.PROTOCOL), ("grpcs", "truncated", capi.PROTOCOL),
               ("grpcs", "reset-after-headers", capi.TRANSPORT), ("grpcs", "close", capi.TRANSPORT),
               ("grpcs", "garbage", capi.PROTOCOL)]


def test_many_faulted_calls_leak_neither_memory_nor_descriptors(lib, faults, make_client):
    """~280 faulted calls on every channel kind (no retries), after a warm-up: RSS grows < 5 MB
    and no socket stays open."""
    clients = {kind: make_client(kind, retries=0) for kind in KINDS}
    models = {(kind, fault): fault_model(fault) for kind, fault, _ in LEAK_FAULTS}

    def run(rounds):
        for _ in range(rounds):
            for kind, fault, code in LEAK_FAULTS:
                result = predict(lib, clients[kind], models[kind, fault])
                assert result.code == code, (kind, fault, result.error)
        for client in clients.values():
            assert predict(lib, client, "text-echo").code == capi.OK

    run(5)
    memory, descriptors = resident_kib(), open_fds()
    run(20)
    grown = resident_kib() - memory
    assert grown < 5 * 1024, f"RSS grew by {grown} KiB over {20 * len(LEAK_FAULTS)} faulted calls"
    assert open_fds() <= descriptors + 2, (descriptors, open_fds())


# What an HTTP status without a Clarifai (or gRPC) status tells the caller to do (the header's
# table): (status, error code, transient for PostModelOutputs, which is not idempotent).
HTTP_STATUS_ERRORS = [
    (301, capi.INVALID_ARGUMENT, 0), (400, capi.INVALID_ARGUMENT, 0), (401, capi.AUTH, 0), (403, capi.AUTH, 0),
    (404, capi.INVALID_ARGUMENT, 0), (408, capi.TIMEOUT, 0), (413, capi.INVALID_ARGUMENT, 0), (429, capi.TRANSPORT, 1),
    (500, capi.TRANSPORT, 0), (501, capi.UNSUPPORTED, 0), (502, capi.TRANSPORT, 1), (503, capi.TRANSPORT, 1),
    (504, capi.TRANSPORT, 0),
]


@pytest.mark.parametrize("kind", ["rest", "grpc"])
@pytest.mark.parametrize("status, code, transient", HTTP_STATUS_ERRORS)
def test_every_http_status_class_maps_to_its_error_with_detail(lib, faults, make_client, kind, status, code, transient):
    client = make_client(kind, retries=0)
    model = fault_model(f"http-{status}")
    result = predict(lib, client, model)
    assert (result.code, result.json) == (code, None), (lib.clarifai_error_name(result.code), result.error)
    assert f"HTTP {status} (text/html) without a" in result.error, result.error
    assert lib.clarifai_last_error_code() == code
    assert lib.clarifai_last_error_http_status() == status
    assert lib.clarifai_last_error_grpc_status() == -1
    assert lib.clarifai_last_error_transient() == transient
    assert faults.attempts(model) == 1
