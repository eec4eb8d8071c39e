"""Connections are reused: many sequential calls through one client travel over a handful of
TCP connections, on REST (HTTP/1.1 keep-alive) and on gRPC, over TLS and cleartext (one HTTP/2
connection), and concurrent gRPC calls from many threads are multiplexed as streams of a few
connections (opened as threads calling at once need them, or as many as set). The cleartext
channel too where libcurl cannot reuse such a connection by itself (before 8.0, curl bug #10634:
the multi handle chooses each call's connection, Multiplexer.chooseCleartextConnection)."""
import ctypes
import json
import threading
import time

import pytest

import capi
from testserver import clear_predict_stats, clear_recorded_requests, predict_stats, recorded_requests

CALLS = 1000  # the server keeps the last 1000 records
GRPC_KINDS = ("grpc", "grpcs")


def peers_of(lib, client, server):
    clear_recorded_requests(server.rest_url)
    for number in range(CALLS):
        result = capi.call(lib, client, "ListConcepts", {"per_page": 1 + number % 3})
        assert result.code == capi.OK, result.error
    records = recorded_requests(server.rest_url)
    assert len(records) == CALLS
    return {record["peer"] for record in records}


def grpc_client(lib, tls_server, kind, app_id, connections=None):
    """A client on a gRPC channel to the test server, TLS (grpcs) or cleartext (grpc), over
    `connections` connections."""
    if kind == "grpcs":
        channel = lib.clarifai_channel_new_grpc(tls_server.grpcs_target.encode())
        assert lib.clarifai_channel_set_ca_file(channel, str(tls_server.tls_cert).encode()) == capi.OK
    else:
        channel = lib.clarifai_channel_new_grpc_insecure(tls_server.grpc_target.encode())
    if connections is not None:
        assert lib.clarifai_channel_set_connections(channel, connections) == capi.OK
    client = lib.clarifai_client_new(channel, tls_server.token.encode(), b"test-user", app_id.encode())
    lib.clarifai_channel_free(channel)
    return client


def concurrent_peers(lib, client, server, threads_count, calls_each):
    """The peer of every request when threads_count threads make calls_each calls at once
    through `client` (which is freed); every call must succeed."""
    clear_recorded_requests(server.rest_url)
    start = threading.Barrier(threads_count)
    failures = []

    def work():
        start.wait()
        for _ in range(calls_each):
            result = capi.call(lib, client, "ListConcepts", {"per_page": 2})
            if result.code != capi.OK:
                failures.append(result.error)

    threads = [threading.Thread(target=work) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lib.clarifai_client_free(client)
    assert not failures, failures[:3]
    peers = [record["peer"] for record in recorded_requests(server.rest_url)]
    assert len(peers) == threads_count * calls_each
    return peers


def test_rest_reuses_its_connection(lib, server):
    client = capi.new_client(lib, server.rest_url, server.token, "test-user", "reuse")
    peers = peers_of(lib, client, server)
    lib.clarifai_client_free(client)
    assert len(peers) <= 2, peers


@pytest.mark.parametrize("kind", GRPC_KINDS)
def test_grpc_reuses_its_connection(lib, tls_server, kind):
    client = grpc_client(lib, tls_server, kind, "reuse")
    peers = peers_of(lib, client, tls_server)
    lib.clarifai_client_free(client)
    assert len(peers) <= 2, peers


@pytest.mark.parametrize("kind", GRPC_KINDS)
def test_grpc_opens_connections_as_concurrent_calls_need_them(lib, tls_server, kind):
    """By default, 16 threads calling at once through one client open more than one HTTP/2
    connection (a blocking call that finds every connection busy opens another), at most 8 (each
    multi handle opens one; a second may come of a race at its start)."""
    peers = set(concurrent_peers(lib, grpc_client(lib, tls_server, kind, "multiplex"), tls_server, 16, 30))
    assert 3 <= len(peers) <= 16, peers


@pytest.mark.parametrize("kind", GRPC_KINDS)
def test_grpc_asynchronous_calls_share_a_connection(lib, tls_server, kind):
    """Asynchronous calls join the least busy connection instead of opening one each: 40 calls
    in flight at once from one thread travel over one connection (two: a race at its start)."""
    client = grpc_client(lib, tls_server, kind, "async")
    queue = lib.clarifai_queue_new()
    clear_recorded_requests(tls_server.rest_url)
    for tag in range(1, 41):
        assert lib.clarifai_call_async(client, b"ListConcepts", b"{}", queue, tag) == capi.OK, lib.clarifai_last_error()
    tag, code, response = ctypes.c_void_p(), ctypes.c_int(), ctypes.c_void_p()
    done = set()
    for _ in range(40):
        assert lib.clarifai_queue_next(queue, 30_000, ctypes.byref(tag), ctypes.byref(code), ctypes.byref(response)) == capi.OK
        assert code.value == capi.OK, lib.clarifai_last_error()
        lib.clarifai_response_free(response)
        done.add(tag.value)
    lib.clarifai_queue_free(queue)
    lib.clarifai_client_free(client)
    assert done == set(range(1, 41))
    peers = {record["peer"] for record in recorded_requests(tls_server.rest_url)}
    assert 1 <= len(peers) <= 2, peers


@pytest.mark.parametrize("kind", GRPC_KINDS)
@pytest.mark.parametrize("connections", [1, 3])
def test_grpc_spreads_concurrent_calls_over_the_connections_asked(lib, tls_server, kind, connections):
    """clarifai_channel_set_connections(n): 16 threads' calls travel over n connections, taken in
    turn (each multi handle opens one, its later streams waiting for it; a second may come of a
    race at the start)."""
    peers = concurrent_peers(lib, grpc_client(lib, tls_server, kind, "spread", connections), tls_server, 16, 20)
    assert connections <= len(set(peers)) <= 2 * connections, set(peers)


@pytest.mark.parametrize("kind", GRPC_KINDS)
def test_grpc_moves_to_new_connections_every_500_calls_where_libcurl_resets_streams(lib, tls_server, kind):
    """libcurl before 8.0 (Debian 12's 7.88) resets every finished HTTP/2 stream, and servers
    guarding against rapid resets (nghttp2: 1,000, then 33/s) close a connection that sent too
    many: the channel then starts a new multi handle, with a new connection, every 500 calls (1,000
    calls: two connections, in order). Later libcurl keeps one connection for all."""
    client = grpc_client(lib, tls_server, kind, "rotate")
    clear_recorded_requests(tls_server.rest_url)
    for _ in range(CALLS):
        result = capi.call(lib, client, "ListConcepts")
        assert result.code == capi.OK, result.error
    lib.clarifai_client_free(client)
    peers = [record["peer"] for record in recorded_requests(tls_server.rest_url)]
    assert len(peers) == CALLS
    if capi.LIBCURL_VERSION >= (8, 0):
        assert len(set(peers)) == 1, set(peers)
    else:
        assert len(set(peers[:500])) == 1 and len(set(peers[500:])) == 1 and peers[0] != peers[500], (peers[0], peers[500])


@pytest.mark.parametrize("kind", GRPC_KINDS)
@pytest.mark.parametrize("others", [0, 9])
def test_a_cancelled_call_ends_on_the_server_at_once(lib, tls_server, kind, others):
    """Cancelling one of the calls in flight on a connection (alone, or beside 9 others) ends it
    on the server within a moment, not when the connection next has something to send: libcurl
    before 8.1 holds the stream's RST_STREAM until then (Multiplexer.flushConnections)."""
    client = grpc_client(lib, tls_server, kind, "cancel")
    queue = lib.clarifai_queue_new()
    clear_predict_stats(tls_server.rest_url)
    request = json.dumps({"model_id": "slow-3000", "inputs": [{"data": {"image": {"url": "https://x/c.jpg"}}}]}).encode()
    calls = others + 1
    for tag in range(1, calls + 1):
        assert lib.clarifai_call_async(client, b"PostModelOutputs", request, queue, tag) == capi.OK, lib.clarifai_last_error()

    def in_flight():
        return predict_stats(tls_server.rest_url).get("slow-3000", {}).get("in_flight", 0)

    def in_flight_becomes(count, seconds):
        deadline = time.monotonic() + seconds
        while in_flight() != count and time.monotonic() < deadline:
            time.sleep(0.02)
        return in_flight() == count

    assert in_flight_becomes(calls, 2)
    assert lib.clarifai_queue_cancel(queue, 1) == 1
    assert in_flight_becomes(others, 1)
    tag, code, response = ctypes.c_void_p(), ctypes.c_int(), ctypes.c_void_p()
    codes = {}
    for _ in range(calls):
        assert lib.clarifai_queue_next(queue, 10_000, ctypes.byref(tag), ctypes.byref(code), ctypes.byref(response)) == capi.OK
        lib.clarifai_response_free(response)
        codes[tag.value] = code.value
    lib.clarifai_queue_free(queue)
    lib.clarifai_client_free(client)
    assert codes == {1: capi.CANCELLED, **{tag: capi.OK for tag in range(2, calls + 1)}}
