"""Hostile servers: what the library must do when Tests/Server/faults.py sends compression bombs,
echoes credentials back, ends connections right after the trailers or with a GOAWAY, trickles,
answers like a gateway that timed out, streams without end, or puts a NUL into a message. Each
case runs on every channel kind it applies to: rest, grpc (cleartext h2c) and grpcs (TLS).

Every library call runs on a worker thread that the test waits for a bounded time
(Harness.run), so that a call that hangs fails its test rather than the run."""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

import capi
from test_faults import APP, CERT, KINDS, PREDICT_INPUTS, FaultServer, fault_model, predict

MIB = 1 << 20
GRPC_KINDS = ("grpc", "grpcs")
# How long Harness.close waits for a worker still running after its bound passed (its calls
# end at their deadline, or stop at `expired`) before leaving its clients allocated.
WORKER_GRACE = 10.0


def new_client(lib, address, token, kind, timeout_ms=5000, retries=None, max_receive_bytes=None, idle_ms=None):
    """A client of the fault server (grpcs: trusting its certificate); None leaves a setting at
    its default."""
    channel = getattr(lib, capi.CHANNELS[kind])(address.encode())
    assert channel, lib.clarifai_last_error()
    try:
        settings = [(lib.clarifai_channel_set_timeout_ms, timeout_ms), (lib.clarifai_channel_set_max_retries, retries)]
        if max_receive_bytes is not None:
            settings.append((lib.clarifai_channel_set_max_receive_bytes, max_receive_bytes))
        if idle_ms is not None:
            settings.append((lib.clarifai_channel_set_idle_timeout_ms, idle_ms))
        if kind == "grpcs":
            settings.append((lib.clarifai_channel_set_ca_file, str(CERT).encode()))
        for setter, value in settings:
            if value is not None:
                assert setter(channel, value) == capi.OK, lib.clarifai_last_error()
        client = lib.clarifai_client_new(channel, token.encode(), b"test-user", APP.encode())
    finally:
        lib.clarifai_channel_free(channel)  # the client holds the channel
    assert client, lib.clarifai_last_error()
    return client


@pytest.fixture(scope="module")
def faults(lib, server):
    running = FaultServer(server)
    for kind in KINDS:  # faults.py's connections to the server are made before the tests' deadlines
        client = new_client(lib, running.address(kind), server.token, kind)
        assert predict(lib, client, "text-echo").code == capi.OK
        lib.clarifai_client_free(client)
    yield running
    running.stop()


def recorded_headers(faults, model):
    """The headers of each request faults.py saw with model id `model`."""
    with urllib.request.urlopen(faults.rest_url + "/_faults/headers", timeout=5) as answer:
        return json.load(answer).get(model, [])


class Harness:
    """Clients of the fault server, and library calls on a worker thread bounded in time.

    A call still running when its bound passes fails the test and sets `expired`, which tells
    loops and stream callbacks to stop. Clients are freed at the end only when no worker still
    runs (freeing a client under a call would crash the process); else they are left allocated."""

    def __init__(self, lib, faults, token):
        self.lib, self.faults, self.token = lib, faults, token
        self.clients, self.workers = [], []
        self.expired = threading.Event()
        self.elapsed = None  # seconds the last run took

    def client(self, kind, address=None, **settings):
        """A client on `kind` (address: the fault server's by default); settings as new_client's."""
        client = new_client(self.lib, address or self.faults.address(kind), self.token, kind, **settings)
        self.clients.append(client)
        return client

    def run(self, seconds, function, *args):
        """function(*args) on a worker thread: its result, or the test fails after `seconds`."""
        outcome = {}
        started = time.monotonic()

        def work():
            try:
                outcome["value"] = function(*args)
            except BaseException as error:  # handed to the test's thread
                outcome["error"] = error

        worker = threading.Thread(target=work, daemon=True)
        self.workers.append(worker)
        worker.start()
        worker.join(seconds)
        self.elapsed = time.monotonic() - started
        if worker.is_alive():
            self.expired.set()
            pytest.fail(f"{function.__name__} did not return within {seconds} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def close(self):
        for worker in self.workers:
            worker.join(WORKER_GRACE)
        if not any(worker.is_alive() for worker in self.workers):
            for client in self.clients:
                self.lib.clarifai_client_free(client)


@pytest.fixture
def harness(lib, faults, server):
    running = Harness(lib, faults, server.token)
    yield running
    running.close()


def status_kib(field):
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith(field + ":")).split()[1])


class PeakMemory:
    """`grown`: how far this process's resident memory rose above its level at the start of the
    block, at its peak within it, in KiB (VmHWM, reset at the start through clear_refs)."""

    def __enter__(self):
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # resets the peak (VmHWM) to the current resident size
        self.start = status_kib("VmRSS")
        return self

    def __exit__(self, *exc):
        self.grown = status_kib("VmHWM") - self.start


# ---------------------------------------------------------------------------------------------
# Compression bombs: a small answer that inflates to 64 MiB.


@pytest.mark.parametrize("kind, fault", [("rest", "gzip-bomb"), ("grpc", "gzip-bomb"), ("grpcs", "gzip-bomb"),
                                         ("rest", "zstd-bomb")])
def test_compression_bomb_stops_at_the_receive_limit(lib, harness, kind, fault):
    client = harness.client(kind, max_receive_bytes=MIB)
    with PeakMemory() as memory:
        result = harness.run(15, predict, lib, client, fault_model(fault))
    assert result.code == capi.PROTOCOL, (lib.clarifai_error_name(result.code), result.error)
    # libcurl may leave a zstd body alone now that the library offers gzip only: then the raw
    # bytes are no JSON.
    if not (fault == "zstd-bomb" and "invalid JSON" in result.error):
        assert "receive limit" in result.error and str(MIB) in result.error, result.error
    assert harness.elapsed < 5, result.error
    assert memory.grown < 100 * 1024, f"resident memory rose by {memory.grown} KiB during the call"


def test_rest_offers_gzip_only(lib, harness, faults):
    """Every decoder offered is code exposed to the server's bytes: gzip is the one the API uses."""
    client = harness.client("rest")
    model = fault_model("gzip-bomb", 0)  # a count of 0: passed through, only recorded
    result = harness.run(10, predict, lib, client, model)
    assert result.code == capi.OK, result.error
    assert [headers.get("accept-encoding") for headers in recorded_headers(faults, model)] == ["gzip"]


def test_new_settings_check_their_arguments(lib):
    channel = lib.clarifai_channel_new_json(b"http://127.0.0.1:1")
    try:
        assert lib.clarifai_channel_set_max_receive_bytes(channel, 0) == capi.INVALID_ARGUMENT
        assert lib.clarifai_channel_set_max_receive_bytes(channel, 1) == capi.OK
        assert lib.clarifai_channel_set_idle_timeout_ms(channel, -1) == capi.INVALID_ARGUMENT
        assert lib.clarifai_channel_set_idle_timeout_ms(channel, 0) == capi.OK  # no idle limit
        assert lib.clarifai_channel_set_idle_timeout_ms(channel, 120000) == capi.OK
    finally:
        lib.clarifai_channel_free(channel)
    assert lib.clarifai_channel_set_max_receive_bytes(None, MIB) == capi.INVALID_ARGUMENT
    assert lib.clarifai_channel_set_idle_timeout_ms(None, 1000) == capi.INVALID_ARGUMENT


# ---------------------------------------------------------------------------------------------
# Credentials never shown: an error page echoing the request's headers, a gRPC status quoting
# the authorization metadata, a base URL with user:password.

# One call in a child process with CLARIFAI_LOG=debug: prints {"code", "error"} as JSON; its
# stderr is the library's log. Retries 1, so that a retried failure is logged twice.
LOGGED_CALL = """
import json, sys
import capi
kind, address, token, ca_file, request = sys.argv[1:]
lib = capi.load()
channel = getattr(lib, capi.CHANNELS[kind])(address.encode())
assert channel, lib.clarifai_last_error()
if kind == "grpcs":
    assert lib.clarifai_channel_set_ca_file(channel, ca_file.encode()) == capi.OK
assert lib.clarifai_channel_set_timeout_ms(channel, 5000) == capi.OK
assert lib.clarifai_channel_set_max_retries(channel, 1) == capi.OK
client = lib.clarifai_client_new(channel, token.encode(), b"test-user", b"faults")
lib.clarifai_channel_free(channel)
result = capi.call(lib, client, "PostModelOutputs", request)
print(json.dumps({"code": result.code, "error": result.error}))
"""


def logged_call(kind, address, token, model):
    """LOGGED_CALL's (code, message, stderr)."""
    request = json.dumps({"model_id": model, "inputs": PREDICT_INPUTS})
    child = subprocess.run([sys.executable, "-c", LOGGED_CALL, kind, address, token, str(CERT), request],
                           env=dict(os.environ, CLARIFAI_LOG="debug", PYTHONPATH=str(capi.ROOT / "Tests" / "Python")),
                           capture_output=True, text=True, timeout=30)
    assert child.returncode == 0, child.stderr[-2000:]
    outcome = json.loads(child.stdout)
    assert "libclarifai: " in child.stderr  # the log is on
    return outcome["code"], outcome["error"], child.stderr


# What the message of an echo-auth failure still says, whatever it leaves out.
ECHO_WORDS = {"rest": "HTTP 502", "grpc": "UNAUTHENTICATED", "grpcs": "UNAUTHENTICATED"}


@pytest.mark.parametrize("kind", KINDS)
def test_echoed_token_is_not_in_the_message(lib, harness, faults, server, kind):
    client = harness.client(kind, retries=0)
    model = fault_model("echo-auth")
    result = harness.run(10, predict, lib, client, model)
    assert recorded_headers(faults, model)[0]["authorization"] == f"Key {server.token}"  # there to echo
    assert server.token not in result.error, result.error
    assert ECHO_WORDS[kind] in result.error, result.error


@pytest.mark.parametrize("kind", KINDS)
def test_echoed_token_is_not_in_the_debug_log(faults, server, kind):
    _, error, log = logged_call(kind, faults.address(kind), server.token, fault_model("echo-auth"))
    assert server.token not in error, error
    assert server.token not in log, log
    assert ECHO_WORDS[kind] in error, error


def test_base_url_password_is_not_in_the_message(lib, harness, faults):
    address = faults.rest_url.replace("http://", "http://user:s3cret-pw@")
    client = harness.client("rest", address=address, retries=0)
    result = harness.run(10, predict, lib, client, fault_model("html502"))
    assert "s3cret-pw" not in result.error, result.error
    assert result.code == capi.TRANSPORT and "HTTP 502" in result.error, result.error


def test_base_url_password_is_not_in_the_debug_log(faults, server):
    address = faults.rest_url.replace("http://", "http://user:s3cret-pw@")
    code, error, log = logged_call("rest", address, server.token, fault_model("html502"))
    assert "s3cret-pw" not in error, error
    assert "s3cret-pw" not in log, log
    assert code == capi.TRANSPORT and "HTTP 502" in error, error


# ---------------------------------------------------------------------------------------------
# Connections that end right after a complete answer, or refuse a request with a GOAWAY.

SEQUENTIAL_CALLS = 100
# libcurl before 8.1 (Debian 12's 7.88) loses HTTP/2 trailers when the connection closes right after them.
LOSES_TRAILERS_ON_CLOSE = tuple(map(int, subprocess.run(["curl-config", "--version"], capture_output=True, text=True)
                                    .stdout.split()[-1].split(".")[:2])) < (8, 1)


# A text over 128 KiB: its gRPC request goes out from where it is, behind its frame's header,
# read by libcurl through a callback that every attempt (libcurl's own retries too) starts over.
LARGE_TEXT = "large " * (32 << 10)


def call_repeatedly(lib, client, model, count, expired, text="hi"):
    """`count` predictions of `text`, one after the other (stopping early at `expired`): the
    failures, as (call number, error name, message)."""
    failures = []
    for number in range(count):
        if expired.is_set():
            break
        result = capi.call(lib, client, "PostModelOutputs", {"model_id": model, "inputs": [{"data": {"text": {"raw": text}}}]})
        if result.code != capi.OK or result.json["outputs"][0]["data"]["text"]["raw"] != "fault server":
            failures.append((number, lib.clarifai_error_name(result.code).decode(), result.error))
    return failures


@pytest.mark.parametrize("text", ["hi", LARGE_TEXT], ids=["small", "large"])
@pytest.mark.parametrize("kind", GRPC_KINDS)
@pytest.mark.parametrize("fault", ["trailers-fin", "goaway-close"])
def test_connection_closed_after_the_trailers(lib, harness, kind, fault, text):
    """The answer is complete (message and grpc-status 0) before the connection ends: every call
    succeeds, whichever of the trailers and the end of the connection libcurl sees first.

    Except one case libcurl before 8.1 cannot get right: after a GOAWAY it sometimes drops the
    message along with the trailers (seen in up to 6 of 100 cleartext calls). The library then
    reports that the status never came, never a result it did not get; PostModelOutputs is not
    idempotent, so it is not sent again."""
    client = harness.client(kind)
    failures = harness.run(90, call_repeatedly, lib, client, fault_model(fault), SEQUENTIAL_CALLS, harness.expired, text)
    if fault == "goaway-close" and LOSES_TRAILERS_ON_CLOSE:
        lost = "the connection closed before the gRPC status arrived (libcurl before 8.1 loses the trailers then)"
        assert all(code == "CLARIFAI_ERROR_TRANSPORT" and error.endswith(lost) for _, code, error in failures), failures[:3]
        assert len(failures) <= SEQUENTIAL_CALLS // 10, f"{len(failures)} of {SEQUENTIAL_CALLS} calls failed"
        return
    assert not failures, f"{len(failures)} of {SEQUENTIAL_CALLS} calls failed, the first: {failures[:3]}"


@pytest.mark.parametrize("text", ["hi", LARGE_TEXT], ids=["small", "large"])
@pytest.mark.parametrize("kind", GRPC_KINDS)
def test_request_refused_by_goaway_is_sent_again(lib, harness, faults, kind, text):
    client = harness.client(kind)
    model = fault_model("goaway-refuse", 1)
    result = harness.run(10, capi.call, lib, client, "PostModelOutputs", {"model_id": model, "inputs": [{"data": {"text": {"raw": text}}}]})
    assert result.code == capi.OK, (lib.clarifai_error_name(result.code), result.error)
    assert result.json["outputs"][0]["data"]["text"]["raw"] == "echo: " + text
    assert faults.attempts(model) == 2
    assert harness.elapsed < 3


@pytest.mark.parametrize("kind", GRPC_KINDS)
def test_large_request_cut_off_by_a_reset_goes_again_whole(lib, harness, faults, kind):
    """The server resets a reused connection while a large request comes in: the request goes out
    again on a new connection (libcurl's retry, or the library's), whole, from its first byte."""
    client = harness.client(kind)
    assert harness.run(10, predict, lib, client, "text-echo").code == capi.OK  # a connection to reuse
    model = fault_model("reset-mid-request", 1)
    result = harness.run(10, capi.call, lib, client, "PostModelOutputs", {"model_id": model, "inputs": [{"data": {"text": {"raw": LARGE_TEXT}}}]})
    assert result.code == capi.OK, (lib.clarifai_error_name(result.code), result.error)
    assert result.json["outputs"][0]["data"]["text"]["raw"] == "echo: " + LARGE_TEXT
    assert faults.attempts(model) == 2


@pytest.mark.parametrize("kind", GRPC_KINDS)
def test_large_request_on_a_connection_found_dead_goes_again_whole(lib, harness, faults, kind):
    """The reused connection is reset as a large request starts out on it, before the server read
    any of its body: the request goes again on a new connection, whole, from its first byte
    (libcurl 7.88 does not rewind a body none of which it counted as written, though its upload
    buffer may have read up to 64 KiB of it: the library starts every attempt over itself)."""
    client = harness.client(kind)
    assert harness.run(10, predict, lib, client, "text-echo").code == capi.OK  # a connection to reuse
    fault = fault_model("reset-on-headers", 1)
    assert lib.clarifai_client_set_header(client, b"x-fault-model", fault.encode()) == capi.OK
    result = harness.run(10, capi.call, lib, client, "PostModelOutputs", {"model_id": "text-echo", "inputs": [{"data": {"text": {"raw": LARGE_TEXT}}}]})
    assert result.code == capi.OK, (lib.clarifai_error_name(result.code), result.error)
    assert result.json["outputs"][0]["data"]["text"]["raw"] == "echo: " + LARGE_TEXT
    assert faults.attempts(fault) == 1


# ---------------------------------------------------------------------------------------------
# A server that trickles: the idle limit ends unary calls that have no deadline.


@pytest.mark.parametrize("kind", KINDS)
def test_trickling_server_meets_the_idle_limit(lib, harness, kind):
    client = harness.client(kind, timeout_ms=0, idle_ms=2000)
    result = harness.run(15, predict, lib, client, fault_model("trickle"))
    assert result.code == capi.TIMEOUT, (lib.clarifai_error_name(result.code), result.error)
    assert "idle" in result.error, result.error
    assert harness.elapsed < 6, result.error


@pytest.mark.parametrize("kind", KINDS)
def test_idle_limit_leaves_normal_calls_alone(lib, harness, kind):
    client = harness.client(kind, timeout_ms=0, idle_ms=2000)
    result = harness.run(10, predict, lib, client, "text-echo")
    assert result.code == capi.OK, result.error
    assert result.json["outputs"][0]["data"]["text"]["raw"] == "echo: hi"


# ---------------------------------------------------------------------------------------------
# A gateway's 504: the server may have carried out the request, so only reads are retried.


@pytest.mark.parametrize("kind", KINDS)
def test_gateway_timeout_of_a_post_is_not_retried(lib, harness, faults, kind):
    client = harness.client(kind, retries=4)
    model = fault_model("gateway-timeout")
    result = harness.run(10, predict, lib, client, model)
    assert result.code == capi.TRANSPORT, (lib.clarifai_error_name(result.code), result.error)
    assert "HTTP 504" in result.error, result.error
    assert faults.attempts(model) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_gateway_timeout_of_a_get_is_retried(lib, harness, faults, kind):
    client = harness.client(kind, retries=4)
    model = fault_model("gateway-timeout", 2)
    result = harness.run(10, capi.call, lib, client, "GetModel", {"model_id": model})
    assert result.code == capi.OK, (lib.clarifai_error_name(result.code), result.error)
    assert result.json["model"]["id"] == "text-echo"  # the third attempt went through
    assert faults.attempts(model) == 3


# ---------------------------------------------------------------------------------------------
# A NUL in a gRPC status message.


@pytest.mark.parametrize("kind", GRPC_KINDS)
def test_nul_in_grpc_message_does_not_cut_the_message(lib, harness, kind):
    client = harness.client(kind)
    result = harness.run(10, predict, lib, client, fault_model("nul-message"))
    assert "gRPC status 3" in result.error, result.error
    assert "before" in result.error and "after" in result.error.partition("before")[2], result.error


# ---------------------------------------------------------------------------------------------
# A slow consumer of an endless stream of 1 MiB messages: memory stays bounded (the library
# holds back the transfer rather than buffering it) and the deadline still ends the call.
# (Last: a failure here may leave a worker taking messages for a while.)


def consume_slowly(lib, client, model, expired):
    """GenerateModelOutputs with a callback that takes 50 ms a message: (code, message, count)."""
    delivered = 0

    @capi.STREAM_FN
    def on_message(handle, userdata):
        nonlocal delivered
        delivered += 1
        time.sleep(0.05)
        return 1 if expired.is_set() else 0

    request = json.dumps({"model_id": model, "inputs": PREDICT_INPUTS}).encode()
    code = lib.clarifai_call_stream(client, b"GenerateModelOutputs", request, on_message, None)
    return code, lib.clarifai_last_error().decode(), delivered


@pytest.mark.parametrize("kind", GRPC_KINDS)
def test_slow_consumer_of_a_big_stream(lib, harness, kind):
    client = harness.client(kind, timeout_ms=3000)
    with PeakMemory() as memory:
        code, error, delivered = harness.run(20, consume_slowly, lib, client, fault_model("big-stream"),
                                             harness.expired)
    summary = f"{delivered} messages in {harness.elapsed:.1f} s, resident memory rose by {memory.grown} KiB: {error}"
    assert code == capi.TIMEOUT, (lib.clarifai_error_name(code), summary)
    assert delivered > 0 and harness.elapsed < 5, summary
    assert memory.grown < 200 * 1024, summary
