"""The stub channel (libclarifai.stub) as the official SDK uses it: grpc._channel's rendezvous
class, futures, credentials and metadata, retries, and grpcio's edge cases. Against the local
server; where grpcio's behaviour is the reference, the official gRPC channel to the same server
(each V2Stub built right after its own channel: the official ClarifaiChannel sets a module-global
deserializer)."""
import asyncio
import os
import subprocess
import sys
import time

import pytest
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2 as res
from clarifai_grpc.grpc.api import service_pb2, service_pb2_grpc

from test_async import on_official_aio, on_our_aio
from test_binding import BINDING, USER, libclarifai  # noqa: F401  (sets LIBCLARIFAI_PATH, sys.path)
from testserver import clear_predict_stats, clear_recorded_requests, predict_stats, recorded_requests

import grpc  # noqa: E402
from libclarifai import Channel  # noqa: E402


def text_request(app_id, model, text="x"):
    return service_pb2.PostModelOutputsRequest(user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id),
                                               model_id=model, inputs=[res.Input(data=res.Data(text=res.Text(raw=text)))])


def official_stub(server):
    return service_pb2_grpc.V2Stub(ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=server.grpc_port))


def ours(server, **options):
    channel = Channel.grpc_insecure(server.grpc_target)
    return channel, libclarifai.stub_channel(channel, **options)


# -- 1. grpc._channel._MultiThreadedRendezvous --------------------------------------------------


def test_importing_the_stub_makes_grpc_channel_available():
    code = ("import grpc, libclarifai.stub; print(hasattr(grpc, '_channel'), "
            "hasattr(grpc._channel, '_MultiThreadedRendezvous'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(BINDING)}).stdout
    assert out.split() == ["True", "True"]


def test_stream_calls_are_multithreaded_rendezvous(server, app_id):
    auth = (("authorization", "Key " + server.token),)
    channel, stub_channel = ours(server)
    with channel, stub_channel:
        stub = service_pb2_grpc.V2Stub(stub_channel)
        call = stub.GenerateModelOutputs(text_request(app_id, "stream-count", "3"), metadata=auth)
        assert isinstance(call, grpc._channel._MultiThreadedRendezvous)
        assert isinstance(call, grpc.Call) and isinstance(call, grpc.Future)
        assert call.running() and not call.done()
        with pytest.raises(grpc.FutureTimeoutError):
            call.result(timeout=0.01)
        assert [m.outputs[0].data.text.raw for m in call] == ["0", "1", "2"]
        assert call.code() == grpc.StatusCode.OK and call.done() and call.result() is None and call.exception() is None

        call = stub.GenerateModelOutputs(text_request(app_id, "stream-error"), metadata=auth)
        assert isinstance(call, grpc._channel._MultiThreadedRendezvous)
        with pytest.raises(grpc.RpcError) as raised:
            list(call)
        assert call.exception() is raised.value and call.code() == grpc.StatusCode.INTERNAL
        with pytest.raises(grpc.RpcError):
            call.result()

        requests = [text_request(app_id, "text-echo", word) for word in ("a", "b")]
        call = stub.StreamModelOutputs(iter(requests), metadata=auth)
        assert isinstance(call, grpc._channel._MultiThreadedRendezvous)
        assert [m.outputs[0].data.text.raw for m in call] == ["echo: a", "echo: b"]
        assert call.code() == grpc.StatusCode.OK and call.result() is None

        call = stub.StreamModelOutputs(iter(requests), metadata=auth)
        assert call.cancel() and call.cancelled()
        with pytest.raises(grpc.FutureCancelledError):
            call.result()
        future = stub.ListConcepts.future(service_pb2.ListConceptsRequest(), metadata=auth)
        assert isinstance(future, grpc._channel._MultiThreadedRendezvous) and future.result(10).status.code == 10000


# -- 2. Futures ------------------------------------------------------------------------------------


def test_future_deadline_is_an_rpc_error_as_grpcio(server, app_id):
    auth = (("authorization", "Key " + server.token),)
    slow = text_request(app_id, "grpc-deadline")
    official = official_stub(server)
    expected = official.PostModelOutputs.future(slow, timeout=0.3, metadata=auth)
    with pytest.raises(grpc.RpcError) as theirs:
        expected.result()
    channel, stub_channel = ours(server)
    with channel, stub_channel:
        future = service_pb2_grpc.V2Stub(stub_channel).PostModelOutputs.future(slow, timeout=0.3, metadata=auth)
        with pytest.raises(grpc.FutureTimeoutError):  # still running: waiting for it times out
            future.exception(timeout=0.01)
        with pytest.raises(grpc.FutureTimeoutError):
            future.traceback(timeout=0.01)
        with pytest.raises(grpc.RpcError) as raised:
            future.result()
        assert raised.value.code() == theirs.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert future.exception() is raised.value and isinstance(future.exception(), grpc.RpcError)
        assert future.traceback() is not None and future.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_future_cancel_reaches_the_server_as_grpcio(server, app_id):
    """grpcio: cancel() of a running future returns True, the call ends CANCELLED on both sides;
    closing the channel cancels the futures still running."""
    auth = (("authorization", "Key " + server.token),)
    slow = service_pb2.PostModelOutputsRequest(
        user_app_id=res.UserAppIDSet(user_id="test-user", app_id=app_id), model_id="slow-3000",
        inputs=[res.Input(data=res.Data(image=res.Image(url="https://x/f.jpg")))])
    clear_predict_stats(server.rest_url)
    channel, stub_channel = ours(server)
    with channel, stub_channel:
        stub = service_pb2_grpc.V2Stub(stub_channel)
        futures = [stub.PostModelOutputs.future(slow, metadata=auth) for _ in range(10)]
        time.sleep(0.3)
        assert all(f.running() or not f.done() for f in futures)
        started = time.monotonic()
        assert futures[0].cancel() and futures[0].cancelled() and futures[0].done()
        with pytest.raises(grpc.FutureCancelledError):
            futures[0].result()
        assert futures[0].code() == grpc.StatusCode.CANCELLED
        assert time.monotonic() - started < 1
        # The server saw it go: one call fewer in flight, long before the others end.
        deadline = time.monotonic() + 2
        while predict_stats(server.rest_url)["slow-3000"]["in_flight"] != 9 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert predict_stats(server.rest_url)["slow-3000"]["in_flight"] == 9
    # Closing the channel cancelled the other 9.
    for future in futures[1:]:
        with pytest.raises(grpc.FutureCancelledError):
            future.result(timeout=2)


# -- 3. Credentials and metadata ---------------------------------------------------------------


def last_recorded(server, model=None):
    entries = [r for r in recorded_requests(server.rest_url) if r.get("front") == "grpc" or "headers" in r]
    return entries[-1]


def test_credentials_are_only_the_callers(monkeypatch, server, app_id):
    monkeypatch.setenv("CLARIFAI_PAT", server.token)  # never used by the stub
    monkeypatch.setenv("CLARIFAI_SESSION_TOKEN", "test-session-token")
    monkeypatch.setenv("CLARIFAI_USER_ID", "env-user")
    monkeypatch.setenv("CLARIFAI_APP_ID", "env-app")
    channel, stub_channel = ours(server)
    official = official_stub(server)
    with channel, stub_channel:
        stub = service_pb2_grpc.V2Stub(stub_channel)
        # No credentials, or another scheme: sent as they are, as grpcio sends them, and the
        # server's answers are the same (11009 for none, 11008 for a scheme it does not take).
        for metadata, code in (((), 11009), ((("authorization", "Bearer " + server.token),), 11008),
                               ((("authorization", "Key not-a-known-token"),), 11008)):
            clear_recorded_requests(server.rest_url)
            response = stub.ListConcepts(service_pb2.ListConceptsRequest(), metadata=metadata)
            [entry] = recorded_requests(server.rest_url)
            assert entry["authorization"] in ((metadata[0][1],) if metadata else (None, ""))
            assert response.status.code == code
            assert official.ListConcepts(service_pb2.ListConceptsRequest(), metadata=metadata).status.code == code
        # A session token alone is sent as such, with the caller's other metadata.
        clear_recorded_requests(server.rest_url)
        metadata = (("x-clarifai-session-token", "test-session-token"), ("x-clarifai-request-id-prefix", "mine"),
                    ("x-test-extra", "hello"))
        response = stub.ListConcepts(service_pb2.ListConceptsRequest(), metadata=metadata)
        assert response.status.code == 10000 and response.status.req_id.startswith("mine-")
        [entry] = recorded_requests(server.rest_url)
        assert entry["authorization"] in (None, "")
        assert entry["headers"]["x-clarifai-session-token"] == "test-session-token"
        assert entry["headers"]["x-test-extra"] == "hello"
        assert not (entry["request"] or {}).get("user_app_id")  # not $CLARIFAI_USER_ID / $CLARIFAI_APP_ID
        assert stub.ListConcepts(service_pb2.ListConceptsRequest(),
                                 metadata=(("x-clarifai-session-token", "other"),)).status.code == 11008
        # A key with a request-id prefix: the prefix reaches the server; one client per metadata set.
        response = stub.ListConcepts(service_pb2.ListConceptsRequest(user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id)),
                                     metadata=(("authorization", "Key " + server.token), ("x-clarifai-request-id-prefix", "p")))
        assert response.status.code == 10000 and response.status.req_id.startswith("p-")
        assert len(stub_channel._clients) == 6


def test_server_metadata_comes_back_as_over_grpcio(server, app_id):
    """with_call()'s Call, an RpcError, a future and an aio call show the server's initial and
    trailing metadata as grpcio's do."""
    metadata = (("authorization", "Key " + server.token), ("x-test-metadata", "m1"))
    listed = service_pb2.ListConceptsRequest(user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id))

    def seen(stub):
        _, call = stub.ListConcepts.with_call(listed, metadata=metadata)
        with pytest.raises(grpc.RpcError) as failed:
            stub.PostModelOutputs(text_request(app_id, "grpc-status-12"), metadata=metadata)
        future = stub.ListConcepts.future(listed, metadata=metadata)
        future.result()
        return [(call.initial_metadata(), call.trailing_metadata()),
                (failed.value.initial_metadata(), failed.value.trailing_metadata(), failed.value.code()),
                (future.initial_metadata(), future.trailing_metadata())]

    async def seen_on_asyncio(channel):
        call = service_pb2_grpc.V2Stub(channel).ListConcepts(listed, metadata=metadata)
        await call
        return await call.initial_metadata(), await call.trailing_metadata()

    theirs = seen(official_stub(server)) + [asyncio.run(on_official_aio(server, seen_on_asyncio))]
    channel, stub_channel = ours(server)
    with channel, stub_channel:
        mine = seen(service_pb2_grpc.V2Stub(stub_channel)) + [asyncio.run(on_our_aio(channel, seen_on_asyncio))]
    assert mine == theirs
    assert dict(mine[0][0])["x-test-initial"] == "m1" and dict(mine[0][1])["x-test-trailing"] == "m1"
    assert dict(mine[1][1])["x-test-trailing"] == "m1" and mine[1][2] == grpc.StatusCode.UNIMPLEMENTED


# -- 4. Retries ----------------------------------------------------------------------------------


def test_retries_unavailable_only_as_grpcio(server, app_id):
    from test_faults import FaultServer, fault_model
    faults = FaultServer(server)
    try:
        auth = (("authorization", "Key " + server.token),)
        channel = Channel.grpc_insecure(faults.grpc_target)
        with channel, libclarifai.stub_channel(channel) as stub_channel:
            stub = service_pb2_grpc.V2Stub(stub_channel)
            throttled = fault_model("throttled", 1)
            assert stub.PostModelOutputs(text_request(app_id, throttled), metadata=auth).status.code == 11005
            assert faults.attempts(throttled) == 1  # an answer: grpcio does not retry it
            twice = fault_model("unavailable", 2)
            assert stub.PostModelOutputs(text_request(app_id, twice), metadata=auth).status.code == 10000
            assert faults.attempts(twice) == 3
            always = fault_model("unavailable")
            with pytest.raises(grpc.RpcError) as raised:
                stub.PostModelOutputs(text_request(app_id, always), metadata=auth)
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE and faults.attempts(always) == 5
        # The official channel: the same attempts.
        stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=faults.grpc_port))
        throttled = fault_model("throttled", 1)
        assert stub.PostModelOutputs(text_request(app_id, throttled), metadata=auth).status.code == 11005
        assert faults.attempts(throttled) == 1
        always = fault_model("unavailable")
        with pytest.raises(grpc.RpcError):
            stub.PostModelOutputs(text_request(app_id, always), metadata=auth)
        assert faults.attempts(always) == 5
    finally:
        faults.stop()


def test_streams_retried_on_unavailable_before_their_first_answer_as_grpcio(server, app_id):
    """A server-streaming call that ends with UNAVAILABLE before any answer is started again,
    at most 5 attempts; one that already answered is not: as over grpcio."""
    from test_faults import FaultServer, fault_model
    faults = FaultServer(server)
    auth = (("authorization", "Key " + server.token),)

    def outcomes(stub):
        twice, always, late = fault_model("unavailable", 2), fault_model("unavailable"), fault_model("messages-then-unavailable", 1)
        answers = [response.status.code for response in stub.GenerateModelOutputs(text_request(app_id, twice), metadata=auth)]
        with pytest.raises(grpc.RpcError) as failed:
            list(stub.GenerateModelOutputs(text_request(app_id, always), metadata=auth))
        received = []
        with pytest.raises(grpc.RpcError) as failed_late:
            for response in stub.GenerateModelOutputs(text_request(app_id, late), metadata=auth):
                received.append(response)
        return (len(answers) > 0, faults.attempts(twice), failed.value.code(), faults.attempts(always),
                len(received), failed_late.value.code(), faults.attempts(late))
    try:
        channel = Channel.grpc_insecure(faults.grpc_target)
        with channel, libclarifai.stub_channel(channel) as stub_channel:
            ours = outcomes(service_pb2_grpc.V2Stub(stub_channel))
        theirs = outcomes(service_pb2_grpc.V2Stub(ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1",
                                                                                          port=faults.grpc_port)))
    finally:
        faults.stop()
    assert ours == theirs == (True, 3, grpc.StatusCode.UNAVAILABLE, 5, 2, grpc.StatusCode.UNAVAILABLE, 1)


# -- 5. Edge cases as grpcio ---------------------------------------------------------------------


def test_negative_timeout_and_none_request_as_grpcio(server, app_id):
    auth = (("authorization", "Key " + server.token),)
    request = service_pb2.ListConceptsRequest(user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id))
    official = official_stub(server)
    with pytest.raises(grpc.RpcError) as negative:
        official.ListConcepts(request, timeout=-1, metadata=auth)
    with pytest.raises(grpc.RpcError) as none:
        official.ListConcepts(None, metadata=auth)
    channel, stub_channel = ours(server)
    with channel, stub_channel:
        stub = service_pb2_grpc.V2Stub(stub_channel)
        clear_recorded_requests(server.rest_url)
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListConcepts(request, timeout=-1, metadata=auth)
        assert raised.value.code() == negative.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        with pytest.raises(grpc.RpcError) as raised:
            next(stub.GenerateModelOutputs(text_request(app_id, "stream-count", "3"), timeout=-1, metadata=auth))
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListConcepts(None, metadata=auth)
        assert raised.value.code() == none.value.code() == grpc.StatusCode.INTERNAL
        assert raised.value.details() == none.value.details()
        assert recorded_requests(server.rest_url) == []  # none of them was sent
