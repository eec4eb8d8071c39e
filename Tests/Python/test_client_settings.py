"""Per-client settings (1.1) as the server sees them: extra headers, a request-id prefix of the
caller's, session tokens, copies of a client, a client's own deadline and retries, and the ids
read from the environment; on REST and on cleartext gRPC (the `any_client` kinds)."""
import os
import time

import pytest

import capi
from testserver import clear_recorded_requests, recorded_requests

KINDS = ["rest", "grpc"]


def address(server, kind):
    return server.rest_url if kind == "rest" else server.grpc_target


def new_channel(lib, server, kind):
    channel = getattr(lib, capi.CHANNELS[kind])(address(server, kind).encode())
    assert channel, lib.clarifai_last_error()
    return channel


def only_record(server, method="ListConcepts"):
    [record] = [r for r in recorded_requests(server.rest_url) if r["method"] == method]
    return record


@pytest.mark.parametrize("kind", KINDS)
def test_extra_headers_go_with_every_call_of_the_client_and_its_copies(lib, server, kind):
    client = capi.new_client(lib, address(server, kind), server.token, "test-user", "main", kind=kind)
    assert lib.clarifai_client_set_header(client, b"X-Test-Extra", b"first") == capi.OK
    assert lib.clarifai_client_set_header(client, b"x-test-extra", b"second") == capi.OK  # replaces
    assert lib.clarifai_client_set_header(client, b"x-clarifai-request-id-prefix", b"my-app") == capi.OK
    copy = lib.clarifai_client_dup(client)
    assert lib.clarifai_client_set_header(client, b"x-test-extra", None) == capi.OK  # not in the copy
    clear_recorded_requests(server.rest_url)
    for caller, extra in ((client, None), (copy, "second")):
        assert capi.call(lib, caller, "ListConcepts").code == capi.OK
        record = only_record(server)
        assert record["authorization"] == "Key " + server.token
        assert record["headers"].get("x-test-extra") == extra
        # The caller's prefix replaces the library's, as the official SDK's does.
        assert record["headers"]["x-clarifai-request-id-prefix"] == "my-app"
        clear_recorded_requests(server.rest_url)
    lib.clarifai_client_free(client)
    lib.clarifai_client_free(copy)


@pytest.mark.parametrize("kind", KINDS)
def test_session_token_clients_send_the_sdks_header_and_no_authorization(lib, server, kind):
    channel = new_channel(lib, server, kind)
    client = lib.clarifai_client_new_session(channel, b"test-session-token", b"test-user", b"main")
    lib.clarifai_channel_free(channel)
    clear_recorded_requests(server.rest_url)
    result = capi.call(lib, client, "ListConcepts")
    assert result.code == capi.OK and result.status_code == 10000, result.error
    record = only_record(server)
    assert record["authorization"] in ("", None)
    assert record["headers"]["x-clarifai-session-token"] == "test-session-token"
    lib.clarifai_client_free(client)


def test_session_token_from_the_environment(lib, server, monkeypatch):
    channel = new_channel(lib, server, "rest")
    monkeypatch.delenv("CLARIFAI_SESSION_TOKEN", raising=False)
    assert lib.clarifai_client_new_session(channel, None, None, None) is None
    assert lib.clarifai_last_error_code() == capi.INVALID_ARGUMENT
    assert "CLARIFAI_SESSION_TOKEN" in lib.clarifai_last_error().decode()
    monkeypatch.setenv("CLARIFAI_SESSION_TOKEN", "test-session-token")
    client = lib.clarifai_client_new_session(channel, None, b"test-user", b"main")
    lib.clarifai_channel_free(channel)
    assert capi.call(lib, client, "ListConcepts").code == capi.OK
    lib.clarifai_client_free(client)


def test_user_and_app_ids_from_the_environment(lib, server, monkeypatch):
    """NULL ids: $CLARIFAI_USER_ID and $CLARIFAI_APP_ID, as the official SDK reads them; "" means none."""
    monkeypatch.setenv("CLARIFAI_USER_ID", "env-user")
    monkeypatch.setenv("CLARIFAI_APP_ID", "env-app")
    from_environment = capi.new_client(lib, server.rest_url, server.token)
    channel = new_channel(lib, server, "rest")
    without_ids = lib.clarifai_client_new(channel, server.token.encode(), b"", b"")
    lib.clarifai_channel_free(channel)
    clear_recorded_requests(server.rest_url)
    assert capi.call(lib, from_environment, "ListConcepts").code == capi.OK
    assert only_record(server)["raw_path"].startswith("/v2/users/env-user/apps/env-app/concepts")
    clear_recorded_requests(server.rest_url)
    assert capi.call(lib, without_ids, "ListConcepts").code == capi.OK
    assert only_record(server)["raw_path"].startswith("/v2/concepts")
    # A copy has the ids of its original, not the environment's.
    copy = lib.clarifai_client_dup(without_ids)
    clear_recorded_requests(server.rest_url)
    assert capi.call(lib, copy, "ListConcepts").code == capi.OK
    assert only_record(server)["raw_path"].startswith("/v2/concepts")
    lib.clarifai_client_free(copy)
    lib.clarifai_client_free(from_environment)
    lib.clarifai_client_free(without_ids)


def test_a_clients_deadline_overrides_the_channels(lib, server):
    """Model grpc-deadline answers after 5 s: the copy with 300 ms meets its deadline, the original
    (the channel's 20 s) is untouched, and -1 gives the copy the channel's deadline again."""
    channel = new_channel(lib, server, "grpc")
    assert lib.clarifai_channel_set_timeout_ms(channel, 20000) == capi.OK
    client = lib.clarifai_client_new(channel, server.token.encode(), b"test-user", b"main")
    lib.clarifai_channel_free(channel)
    copy = lib.clarifai_client_dup(client)
    assert lib.clarifai_client_set_timeout_ms(copy, 300) == capi.OK
    request = {"model_id": "grpc-deadline", "inputs": [{"data": {"text": {"raw": "x"}}}]}
    started = time.monotonic()
    result = capi.call(lib, copy, "PostModelOutputs", request)
    assert result.code == capi.TIMEOUT and time.monotonic() - started < 2, result.error
    assert "300 ms" in result.error
    assert lib.clarifai_client_set_timeout_ms(copy, -1) == capi.OK
    result = capi.call(lib, client, "ListConcepts")
    assert result.code == capi.OK, result.error
    lib.clarifai_client_free(copy)
    lib.clarifai_client_free(client)


def test_a_clients_retry_budget_overrides_the_channels(lib, server):
    """grpc-unavailable fails every attempt: the channel's default 4 retries make 5 requests, a
    client with 1 retry makes 2, and -1 brings back the channel's budget."""
    client = capi.new_client(lib, server.grpc_target, server.token, "test-user", "main", kind="grpc")
    request = {"model_id": "grpc-unavailable", "inputs": [{"data": {"text": {"raw": "x"}}}]}

    def attempts():
        clear_recorded_requests(server.rest_url)
        assert capi.call(lib, client, "PostModelOutputs", request).code == capi.TRANSPORT
        return len([r for r in recorded_requests(server.rest_url) if r["method"] == "PostModelOutputs"])

    assert attempts() == 5
    assert lib.clarifai_client_set_max_retries(client, 1) == capi.OK
    assert attempts() == 2
    assert lib.clarifai_client_set_max_retries(client, -1) == capi.OK
    assert attempts() == 5
    lib.clarifai_client_free(client)
