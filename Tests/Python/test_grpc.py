"""The gRPC channels: server streaming, cancellation, deadlines, TLS, and how gRPC failures map
to the library's errors, against the local server's grpcio side."""
import ctypes
import json
import os
import subprocess
import sys
import threading
import time

import pytest

import capi
from testserver import clear_recorded_requests, recorded_requests


@pytest.fixture
def grpc_client(lib, server, app_id):
    client = capi.new_client(lib, server.grpc_target, server.token, "test-user", app_id, kind="grpc")
    yield client
    lib.clarifai_client_free(client)


def stream(lib, client, model, text="", stop_after=None):
    """GenerateModelOutputs on `model`; returns (code, error, [message JSON], [status codes])."""
    messages = []

    @capi.STREAM_FN
    def on_message(handle, userdata):
        messages.append(json.loads(lib.clarifai_response_json(handle)))
        return 1 if stop_after is not None and len(messages) >= stop_after else 0

    request = {"model_id": model, "inputs": [{"data": {"text": {"raw": text}}}]}
    code = lib.clarifai_call_stream(client, b"GenerateModelOutputs", json.dumps(request).encode(), on_message, None)
    return code, lib.clarifai_last_error().decode(), messages


def stream_record(server, model):
    [record] = [r for r in recorded_requests(server.rest_url)
                if r["method"] == "GenerateModelOutputs" and r["request"].get("model_id") == model]
    return record["stream"]


@pytest.mark.parametrize("count", [1, 50, 1000])
def test_streams_every_message_in_order(lib, grpc_client, count):
    code, error, messages = stream(lib, grpc_client, "stream-count", str(count))
    assert code == capi.OK, error
    assert [m["outputs"][0]["data"]["text"]["raw"] for m in messages] == [str(i) for i in range(count)]
    assert all(m["status"]["code"] == 10000 for m in messages)


def test_callback_reads_struct_buffers_of_each_message(lib, grpc_client):
    texts = []

    @capi.STREAM_FN
    def on_message(handle, userdata):
        texts.append(lib.clarifai_response_text(handle, 0).decode())
        return 0

    request = json.dumps({"model_id": "stream-count", "inputs": [{"data": {"text": {"raw": "3"}}}]}).encode()
    assert lib.clarifai_call_stream(grpc_client, b"GenerateModelOutputs", request, on_message, None) == capi.OK
    assert texts == ["0", "1", "2"]


def test_cancel_stops_the_server_side_stream(lib, grpc_client, server):
    clear_recorded_requests(server.rest_url)
    code, error, messages = stream(lib, grpc_client, "stream-forever", stop_after=3)
    assert code == capi.CANCELLED and "after 3 message" in error
    assert len(messages) == 3
    deadline = time.monotonic() + 5
    while not stream_record(server, "stream-forever")["cancelled"] and time.monotonic() < deadline:
        time.sleep(0.05)
    record = stream_record(server, "stream-forever")
    assert record["cancelled"] and not record["finished"], record
    assert record["sent"] <= 6, record  # one every 20 ms: the server stopped at once
    # The client still works after a cancelled stream.
    assert stream(lib, grpc_client, "stream-count", "2")[0] == capi.OK


def test_server_error_mid_stream(lib, grpc_client):
    code, error, messages = stream(lib, grpc_client, "stream-error")
    assert len(messages) == 3
    assert code == capi.PROTOCOL and "gRPC status 13 INTERNAL: model crashed after 3 messages" in error


def test_clarifai_failure_inside_a_stream_is_delivered(lib, grpc_client):
    code, error, messages = stream(lib, grpc_client, "stream-api-error")
    assert code == capi.OK, error
    assert [m["status"]["code"] for m in messages] == [10000, 10000, 10020]


def cleartext_client(lib, server, app_id, setting, value):
    """A cleartext gRPC client whose channel has one setting changed (e.g. set_timeout_ms, 300)."""
    channel = lib.clarifai_channel_new_grpc_insecure(server.grpc_target.encode())
    assert getattr(lib, f"clarifai_channel_{setting}")(channel, value) == capi.OK
    client = lib.clarifai_client_new(channel, server.token.encode(), b"test-user", app_id.encode())
    lib.clarifai_channel_free(channel)
    return client


@pytest.fixture
def client_300ms(lib, server, app_id):
    """A cleartext gRPC client whose calls have a 300 ms deadline."""
    client = cleartext_client(lib, server, app_id, "set_timeout_ms", 300)
    yield client
    lib.clarifai_client_free(client)


def test_deadline_cuts_an_endless_stream(lib, client_300ms):
    started = time.monotonic()
    code, error, messages = stream(lib, client_300ms, "stream-forever")
    assert code == capi.TIMEOUT, error
    assert 1 <= len(messages) and time.monotonic() - started < 3


@pytest.mark.parametrize("model, code, words", [
    ("grpc-unavailable", capi.TRANSPORT, ["gRPC status 14 UNAVAILABLE", "try later"]),
    ("grpc-unauthenticated", capi.AUTH, ["gRPC status 16 UNAUTHENTICATED"]),
    ("grpc-message-encoding", capi.PROTOCOL, ["bad ünïcode 100%"]),
])
def test_grpc_statuses_map_to_errors(lib, grpc_client, model, code, words):
    result = capi.call(lib, grpc_client, "PostModelOutputs", {"model_id": model, "inputs": [{"data": {"text": {"raw": "x"}}}]})
    assert result.code == code and result.json is None, result.error
    for word in words:
        assert word in result.error
    assert "PostModelOutputs" in result.error


def test_grpc_deadline_is_sent_and_enforced(lib, client_300ms):
    started = time.monotonic()
    result = capi.call(lib, client_300ms, "PostModelOutputs", {"model_id": "grpc-deadline", "inputs": [{"data": {"text": {"raw": "x"}}}]})
    assert result.code == capi.TIMEOUT, result.error
    assert time.monotonic() - started < 3


def test_large_message(lib, grpc_client):
    handle = ctypes.c_void_p()
    code = lib.clarifai_predict_text(grpc_client, b"grpc-big", None, b"x", ctypes.byref(handle))
    assert code == capi.OK, lib.clarifai_last_error()
    assert len(lib.clarifai_response_text(handle, 0)) == 5 * 1024 * 1024
    lib.clarifai_response_free(handle)


def test_tls_needs_a_trusted_certificate(lib, tls_server):
    def list_concepts(ca_file):
        channel = lib.clarifai_channel_new_grpc(tls_server.grpcs_target.encode())
        if ca_file:
            assert lib.clarifai_channel_set_ca_file(channel, ca_file.encode()) == capi.OK
        client = lib.clarifai_client_new(channel, tls_server.token.encode(), b"test-user", b"tls")
        lib.clarifai_channel_free(channel)
        result = capi.call(lib, client, "ListConcepts")
        lib.clarifai_client_free(client)
        return result

    refused = list_concepts(None)
    assert refused.code == capi.TRANSPORT and "certificate" in refused.error.lower(), refused.error
    trusted = list_concepts(str(tls_server.tls_cert))
    assert trusted.code == capi.OK and trusted.status_code == 10000, trusted.error


def test_tls_ca_from_the_environment(tls_server):
    script = (
        "import sys; sys.path.insert(0, %r); import capi\n"
        "lib = capi.load(); client = capi.new_client(lib, %r, %r, 'test-user', 'tls', kind='grpcs')\n"
        "print(capi.call(lib, client, 'ListConcepts').status_code)\n"
        % (str(capi.ROOT / "Tests" / "Python"), tls_server.grpcs_target, tls_server.token))
    env = dict(os.environ, CLARIFAI_ROOT_CERTIFICATES_PATH=str(tls_server.tls_cert))
    assert subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "10000"


def test_tls_channel_carries_streams_and_calls_in_turn(lib, tls_server):
    channel = lib.clarifai_channel_new_grpc(tls_server.grpcs_target.encode())
    assert lib.clarifai_channel_set_ca_file(channel, str(tls_server.tls_cert).encode()) == capi.OK
    client = lib.clarifai_client_new(channel, tls_server.token.encode(), b"test-user", b"tls")
    lib.clarifai_channel_free(channel)
    for _ in range(3):
        code, error, messages = stream(lib, client, "stream-count", "20")
        assert code == capi.OK and len(messages) == 20, error
        assert capi.call(lib, client, "ListConcepts").code == capi.OK
    lib.clarifai_client_free(client)


def test_gzip_compressed_answers_are_decoded(lib, grpc_client, server):
    """grpc-accept-encoding offers gzip; a 5 MiB answer the server compresses comes back whole."""
    clear_recorded_requests(server.rest_url)
    handle = ctypes.c_void_p()
    code = lib.clarifai_predict_text(grpc_client, b"grpc-big-gzip", None, b"x", ctypes.byref(handle))
    assert code == capi.OK, lib.clarifai_last_error()
    assert lib.clarifai_response_text(handle, 0) == b"x" * (5 * 1024 * 1024)
    lib.clarifai_response_free(handle)


def test_tls_channel_multiplexes_streams_of_many_threads(lib, tls_server):
    """8 threads on one TLS channel at once, each running whole streams, cancelled streams and
    unary calls: over the channel's one multi handle every result stays right and every
    cancelled stream ends at once."""
    channel = lib.clarifai_channel_new_grpc(tls_server.grpcs_target.encode())
    assert lib.clarifai_channel_set_ca_file(channel, str(tls_server.tls_cert).encode()) == capi.OK
    client = lib.clarifai_client_new(channel, tls_server.token.encode(), b"test-user", b"tls-threads")
    lib.clarifai_channel_free(channel)
    problems = []

    def work():
        for _ in range(4):
            code, error, messages = stream(lib, client, "stream-count", "200")
            if code != capi.OK or [m["outputs"][0]["data"]["text"]["raw"] for m in messages] != [str(i) for i in range(200)]:
                problems.append(("whole", code, error, len(messages)))
            started = time.monotonic()
            code, error, messages = stream(lib, client, "stream-forever", stop_after=3)
            if code != capi.CANCELLED or len(messages) != 3 or time.monotonic() - started > 2:
                problems.append(("cancelled", code, error, len(messages), time.monotonic() - started))
            if capi.call(lib, client, "ListConcepts").code != capi.OK:
                problems.append(("unary",))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    lib.clarifai_client_free(client)
    assert not any(thread.is_alive() for thread in threads), "a call did not end"
    assert not problems, problems[:3]


# What each gRPC status tells the caller to do (the table in clarifai.h): fix the request, fix
# the credentials, try again, wait longer, or report the server's failure.
GRPC_STATUS_ERRORS = {
    1: capi.TRANSPORT, 2: capi.PROTOCOL, 3: capi.INVALID_ARGUMENT, 4: capi.TIMEOUT, 5: capi.INVALID_ARGUMENT,
    6: capi.INVALID_ARGUMENT, 7: capi.AUTH, 8: capi.TRANSPORT, 9: capi.INVALID_ARGUMENT, 10: capi.TRANSPORT,
    11: capi.INVALID_ARGUMENT, 12: capi.UNSUPPORTED, 13: capi.PROTOCOL, 14: capi.TRANSPORT, 15: capi.PROTOCOL,
    16: capi.AUTH,
}
GRPC_STATUS_NAMES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                     "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                     "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]


@pytest.fixture
def grpc_client_without_retries(lib, server, app_id):
    client = cleartext_client(lib, server, app_id, "set_max_retries", 0)
    yield client
    lib.clarifai_client_free(client)


@pytest.mark.parametrize("status", sorted(GRPC_STATUS_ERRORS))
def test_every_grpc_status_maps_to_its_error_with_detail(lib, server, grpc_client_without_retries, status):
    """The real grpcio server ends the call with each status; the library's code, message and
    error detail (statuses, transient) follow the header's table."""
    result = capi.call(lib, grpc_client_without_retries, "PostModelOutputs",
                       {"model_id": f"grpc-status-{status}", "inputs": [{"data": {"text": {"raw": "x"}}}]})
    assert (result.code, result.json) == (GRPC_STATUS_ERRORS[status], None), result.error
    name = GRPC_STATUS_NAMES[status]
    assert f"gRPC status {status} {name}: the server ended the call with {name}" in result.error, result.error
    # The detail of the failure, read after capi.call (which reads only the message) as a C caller would.
    assert lib.clarifai_last_error_code() == result.code
    assert lib.clarifai_last_error_grpc_status() == status
    assert lib.clarifai_last_error_http_status() == 200
    assert lib.clarifai_last_error_transient() == (1 if status in (8, 14) else 0)
