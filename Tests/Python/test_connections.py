"""Connections are reused: many sequential calls through one client travel over a handful of
TCP connections, on REST (HTTP/1.1 keep-alive) and on TLS gRPC (one HTTP/2 connection), and
concurrent gRPC calls from many threads are multiplexed as streams of a few connections (opened
as threads calling at once need them, or as many as set). The cleartext gRPC channel opens one
per call on libcurl < 8.0 (curl bug #10634), as documented."""
import ctypes
import threading

import pytest

import capi
from testserver import clear_recorded_requests, recorded_requests

CALLS = 1000  # the server keeps the last 1000 records


def peers_of(lib, client, server):
    clear_recorded_requests(server.rest_url)
    for number in range(CALLS):
        result = capi.call(lib, client, "ListConcepts", {"per_page": 1 + number % 3})
        assert result.code == capi.OK, result.error
    records = recorded_requests(server.rest_url)
    assert len(records) == CALLS
    return {record["peer"] for record in records}


def tls_grpc_client(lib, tls_server, app_id, connections=None):
    """A client on a TLS gRPC channel to the test server (over `connections` connections)."""
    channel = lib.clarifai_channel_new_grpc(tls_server.grpcs_target.encode())
    assert lib.clarifai_channel_set_ca_file(channel, str(tls_server.tls_cert).encode()) == capi.OK
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


def test_tls_grpc_reuses_its_connection(lib, tls_server):
    client = tls_grpc_client(lib, tls_server, "reuse")
    peers = peers_of(lib, client, tls_server)
    lib.clarifai_client_free(client)
    assert len(peers) <= 2, peers


def test_tls_grpc_opens_connections_as_concurrent_calls_need_them(lib, tls_server):
    """By default, 16 threads calling at once through one client open more than one HTTP/2
    connection (a blocking call that finds every connection busy opens another), at most 8 (each
    multi handle opens one; a second may come of a race at its start)."""
    peers = set(concurrent_peers(lib, tls_grpc_client(lib, tls_server, "multiplex"), tls_server, 16, 30))
    assert 3 <= len(peers) <= 16, peers


def test_tls_grpc_asynchronous_calls_share_a_connection(lib, tls_server):
    """Asynchronous calls join the least busy connection instead of opening one each: 40 calls
    in flight at once from one thread travel over one connection (two: a race at its start)."""
    client = tls_grpc_client(lib, tls_server, "async")
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


@pytest.mark.parametrize("connections", [1, 3])
def test_tls_grpc_spreads_concurrent_calls_over_the_connections_asked(lib, tls_server, connections):
    """clarifai_channel_set_connections(n): 16 threads' calls travel over n connections, taken in
    turn (each multi handle opens one, its later streams waiting for it; a second may come of a
    race at the start)."""
    peers = concurrent_peers(lib, tls_grpc_client(lib, tls_server, "spread", connections), tls_server, 16, 20)
    assert connections <= len(set(peers)) <= 2 * connections, set(peers)


def test_tls_grpc_moves_to_new_connections_every_500_calls_where_libcurl_resets_streams(lib, tls_server):
    """libcurl before 8.0 (Debian 12's 7.88) resets every finished HTTP/2 stream, and servers
    guarding against rapid resets (nghttp2: 1,000, then 33/s) close a connection that sent too
    many: the channel then starts a new multi handle, with a new connection, every 500 calls (1,000
    calls: two connections, in order). Later libcurl keeps one connection for all."""
    client = tls_grpc_client(lib, tls_server, "rotate")
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
