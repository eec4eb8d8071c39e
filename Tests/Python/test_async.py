"""Asynchronous calls: the C example that drives a completion queue from poll(), and the Python
binding's asyncio calls (acall, apredict) on the REST and cleartext gRPC channels, compared with
what the official gRPC client gets from the same server; concurrency, deadlines, cancellation
and errors as for blocking calls, without a thread per call.

(The C API's own checks, queue by queue and tag by tag, are in Tests/C/test_capi.c.)"""
import asyncio
import math
import resource
import os
import socket
import subprocess
import sys
import time

import pytest
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2 as res
from clarifai_grpc.grpc.api import service_pb2, service_pb2_grpc

import capi
from testserver import clear_predict_stats, clear_recorded_requests, predict_stats, recorded_requests, start_server

sys.path.insert(0, str(capi.ROOT / "Bindings" / "python"))
os.environ.setdefault("LIBCLARIFAI_PATH", str(capi.ROOT / "build" / "lib" / "libclarifai.so.1"))
import libclarifai  # noqa: E402
from libclarifai import (ApiError, Channel, Client, ClarifaiTimeoutError,  # noqa: E402
                         Input, InvalidArgumentError)

USER = "test-user"
EXAMPLE = capi.ROOT / "build" / "examples" / "predict_async"


def official_top_concepts(server, app_id, urls):
    """The top concept (name, value) of each URL as the official gRPC client gets it."""
    stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=server.grpc_port))
    metadata = (("authorization", f"Key {server.token}"),)
    tops = {}
    for url in urls:
        answer = stub.PostModelOutputs(service_pb2.PostModelOutputsRequest(
            user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id), model_id="general-image-recognition",
            inputs=[res.Input(data=res.Data(image=res.Image(url=url)))]), metadata=metadata)
        concept = answer.outputs[0].data.concepts[0]
        tops[url] = (concept.name, concept.value)
    return tops


@pytest.fixture(params=["rest", "grpc"])
def kind(request):
    return request.param


@pytest.fixture
def pyclient(kind, server, app_id):
    channel = Channel.json(server.rest_url) if kind == "rest" else Channel.grpc_insecure(server.grpc_target)
    with channel, Client(channel, server.token, USER, app_id) as client:
        yield client


def run(coroutine):
    return asyncio.run(coroutine)


def task_count():
    return len(os.listdir("/proc/self/task"))


# ---------------------------------------------------------------------------------------------
# The C example: a poll() loop over the queue's descriptor


def test_poll_example_predicts_every_url_as_the_official_client(server, app_id):
    urls = [f"https://samples.clarifai.com/async/{i}.jpg" for i in range(150)]
    failing = "https://samples.clarifai.com/fail/broken.jpg"
    result = subprocess.run([str(EXAMPLE), "general-image-recognition"], input="\n".join(urls + [failing]) + "\n",
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_PAT=server.token,
                                     CLARIFAI_USER_ID=USER, CLARIFAI_APP_ID=app_id))
    assert result.returncode == 1, result.stderr  # the failing URL
    lines = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    assert len(lines) == len(urls) + 1
    assert lines[failing].startswith("error\tCLARIFAI_ERROR_API")
    expected = official_top_concepts(server, app_id, urls)
    for url in urls:
        name, value = lines[url].split("\t")
        assert (name, round(float(value), 4)) == (expected[url][0], round(expected[url][1], 4))


# ---------------------------------------------------------------------------------------------
# asyncio


def test_acall_answers_as_call(pyclient):
    async def main():
        return await pyclient.acall("ListModels", {"per_page": 3})
    answer = run(main())
    assert answer["status"]["code"] == 10000
    blocking = pyclient.call("ListModels", {"per_page": 3})
    del answer["status"]["req_id"], blocking["status"]["req_id"]
    assert answer == blocking


def test_many_apredicts_from_one_thread_match_the_official_client(pyclient, server, app_id):
    urls = [f"https://samples.clarifai.com/many/{i % 40}.jpg" for i in range(400)]
    threads_before = task_count()

    async def main():
        predictions = await asyncio.gather(*(pyclient.apredict("general-image-recognition", url=url) for url in urls))
        return predictions, task_count()
    predictions, threads_during = run(main())
    # No thread per call: at most the channel's I/O thread(s) more.
    assert threads_during - threads_before <= 3
    expected = official_top_concepts(server, app_id, urls[:40])
    for url, prediction in zip(urls, predictions):
        top = prediction.concepts[0]
        assert (top.name, top.value) == pytest.approx(expected[url])


def test_apredict_takes_every_kind_of_input(pyclient, tmp_path):
    image = tmp_path / "photo.jpg"
    image.write_bytes(b"\xff\xd8 some jpeg bytes")
    large = b"\xff\xd8" + bytes(range(256)) * 1024  # over 128 KiB: on gRPC sent behind its frame's header

    async def main():
        return await asyncio.gather(
            pyclient.apredict("general-image-recognition", data=image.read_bytes()),
            pyclient.apredict("general-image-recognition", data=large),
            pyclient.apredict("general-image-recognition", file=image),
            pyclient.apredict("text-echo", text="hello"),
            pyclient.apredict("general-image-recognition", inputs=[Input(url=f"https://x/{i}.jpg", id=f"in-{i}")
                                                                  for i in range(300)]))
    by_data, by_large, by_file, by_text, many = run(main())
    assert by_data.concepts == by_file.concepts and by_data.concepts
    assert by_data.concepts == pyclient.predict("general-image-recognition", data=image.read_bytes()).concepts
    assert by_large.concepts == pyclient.predict("general-image-recognition", data=large).concepts != by_data.concepts
    assert by_text.text == "echo: hello"
    assert len(many.outputs) == 300  # three requests, one answer in input order
    assert [o["input"]["id"] for o in many.json["outputs"]] == [f"in-{i}" for i in range(300)]

    async def fifo():
        os.mkfifo(tmp_path / "pipe")
        await pyclient.apredict("general-image-recognition", file=tmp_path / "pipe")
    with pytest.raises(InvalidArgumentError, match="not a regular file"):
        run(fifo())


def test_errors_are_those_of_blocking_calls(pyclient):
    async def main():
        return await asyncio.gather(pyclient.acall("GetModel", {"model_id": "no-such-model"}),
                                    pyclient.apredict("general-image-recognition",
                                                      inputs=[Input(url="https://x/ok.jpg"),
                                                              Input(url="https://x/fail/no.jpg")]),
                                    return_exceptions=True)
    missing, mixed = run(main())
    assert isinstance(missing, ApiError) and missing.status_code == 21200 and "no-such-model" in missing.details
    assert isinstance(mixed, ApiError) and mixed.status_code == 10010
    assert [o.concepts != [] for o in mixed.prediction.outputs] == [True, False]

    async def before_sending():
        await pyclient.acall("NoSuchMethod")
    with pytest.raises(InvalidArgumentError, match="NoSuchMethod"):
        run(before_sending())


def test_deadline_and_cancellation_reach_the_server(pyclient, server):
    clear_predict_stats(server.rest_url)

    async def timed_out():
        started = time.monotonic()
        with pytest.raises(ClarifaiTimeoutError):
            await pyclient.apredict("slow-3000", url="https://x/slow.jpg", timeout=0.3)
        return time.monotonic() - started
    assert run(timed_out()) < 2

    async def cancelled():
        task = asyncio.ensure_future(pyclient.apredict("slow-3001", url="https://x/slow.jpg"))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The loop goes on, and the next call on the same queue works.
        prediction = await pyclient.apredict("general-image-recognition", url="https://x/after.jpg")
        return time.monotonic() - started, prediction
    elapsed, prediction = run(cancelled())
    assert elapsed < 2 and prediction.concepts
    # The server saw the call go away (its handler stops waiting when the client cancels).
    deadline = time.monotonic() + 5
    while predict_stats(server.rest_url).get("slow-3001", {}).get("in_flight", 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert predict_stats(server.rest_url)["slow-3001"]["in_flight"] == 0

    async def wait_for():
        await asyncio.wait_for(pyclient.acall("PostModelOutputs", {"model_id": "slow-3002",
                                                                   "inputs": [{"data": {"image": {"url": "https://x/y"}}}]}), 0.2)
    with pytest.raises(asyncio.TimeoutError):
        run(wait_for())


def test_calls_run_concurrently_within_the_channels_connection_limit(pyclient, server, kind):
    clear_predict_stats(server.rest_url)

    async def main():
        started = time.monotonic()
        await asyncio.gather(*(pyclient.apredict("slow-300", url=f"https://x/c{i}.jpg") for i in range(64)))
        return time.monotonic() - started
    elapsed = run(main())
    stats = predict_stats(server.rest_url)["slow-300"]
    assert stats["requests"] == 64 and stats["duplicates"] == 0
    if kind == "rest":  # 16 connections at most (HTTP/1.1 takes one per call), all busy
        assert 8 <= stats["max_in_flight"] <= 16
    else:  # streams of one connection: all at once
        assert stats["max_in_flight"] > 16
    assert elapsed < 64 * 0.3 / 4


def test_a_closed_client_lets_its_calls_finish(server, app_id):
    async def main():
        with Channel.grpc_insecure(server.grpc_target) as channel:
            client = Client(channel, server.token, USER, app_id)
            pending = asyncio.ensure_future(client.apredict("slow-200", url="https://x/z.jpg"))
            await asyncio.sleep(0)  # started
            client.close()
        return await pending
    assert run(main()).concepts


def test_cancelled_before_the_answer_is_reported_once(pyclient):
    async def main():
        tasks = [asyncio.ensure_future(pyclient.apredict("slow-500", url=f"https://x/k{i}.jpg")) for i in range(20)]
        await asyncio.sleep(0.1)
        for task in tasks[::2]:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return results
    results = run(main())
    assert all(isinstance(r, asyncio.CancelledError) for r in results[::2])
    assert all(r.concepts for r in results[1::2])


# ---------------------------------------------------------------------------------------------
# Bulk prediction: predict_many (clarifai_predict_many underneath)


def test_predict_many_reports_every_input_once_as_the_official_client(pyclient, server, app_id):
    clear_predict_stats(server.rest_url)
    count = 2000
    failing = {17, 1501}
    urls = (f"https://samples.clarifai.com/{'fail' if i in failing else 'bulk'}/{i}.jpg" for i in range(count))
    progress = []
    results = dict(pyclient.predict_many("general-image-recognition", urls, batch_size=32, concurrency=8,
                                         on_progress=progress.append))
    assert sorted(results) == list(range(count))
    failed = {i for i, value in results.items() if not isinstance(value, libclarifai.Prediction)}
    assert failed == failing
    for i in failing:
        assert isinstance(results[i], ApiError) and results[i].status_code == 30002
    stats = predict_stats(server.rest_url)["general-image-recognition"]
    assert stats["inputs"] == count and stats["duplicates"] == 0 and stats["requests"] == count // 32 + 1
    assert progress[-1] == libclarifai.BulkProgress(count, count, len(failing), 0, progress[-1].rate)
    sample = [f"https://samples.clarifai.com/bulk/{i}.jpg" for i in range(0, count, 250)]
    expected = official_top_concepts(server, app_id, sample)
    for url in sample:
        top = results[int(url.rsplit("/", 1)[1][:-4])].concepts[0]
        assert (top.name, top.value) == pytest.approx(expected[url])


def test_predict_many_holds_a_rate_and_loses_nothing_when_throttled(pyclient, server):
    clear_predict_stats(server.rest_url)
    started = time.monotonic()
    held = dict(pyclient.predict_many("rate-limited-15", (f"https://x/held/{i}.jpg" for i in range(45)),
                                      batch_size=1, concurrency=8, rate=15))
    elapsed = time.monotonic() - started
    assert all(isinstance(v, libclarifai.Prediction) for v in held.values()) and len(held) == 45
    stats = predict_stats(server.rest_url)["rate-limited-15"]
    assert stats["throttled"] <= 2 and stats["inputs"] == 45 and stats["duplicates"] == 0
    assert elapsed >= 44 / 15 * 0.9

    # No limit given: the server's throttling slows the requests down; every input comes back once.
    clear_predict_stats(server.rest_url)
    pushed = dict(pyclient.predict_many("rate-limited-15", (f"https://x/pushed/{i}.jpg" for i in range(30)),
                                        batch_size=1, concurrency=16))
    assert sorted(pushed) == list(range(30)) and all(isinstance(v, libclarifai.Prediction) for v in pushed.values())
    stats = predict_stats(server.rest_url)["rate-limited-15"]
    assert stats["throttled"] > 0 and stats["inputs"] == 30 and stats["duplicates"] == 0


def test_predict_many_waits_without_spinning_when_throttled(pyclient):
    """Throttled requests waiting for their turn cost no CPU while they wait (a busy loop once
    polled the completion queue until the rate's next slot)."""
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    results = dict(pyclient.predict_many("rate-limited-4", (f"https://x/spin/{i}.jpg" for i in range(16)),
                                         batch_size=1, concurrency=8))
    wall, after = time.monotonic() - started, resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    assert len(results) == 16 and all(isinstance(r, libclarifai.Prediction) for r in results.values())
    assert wall > 1.5 and cpu < 0.25 * wall, (cpu, wall)


def test_predict_many_ends_with_its_last_answer_under_a_rate(pyclient):
    started = time.monotonic()
    assert len(list(pyclient.predict_many("general-image-recognition", ["https://x/one.jpg"], rate=0.5))) == 1
    assert time.monotonic() - started < 1  # not a rate slot (2 s) later


def test_predict_many_pulls_inputs_lazily_and_stops_when_left(pyclient, server):
    pulled = []

    def endless():
        i = 0
        while True:
            pulled.append(i)
            yield Input(url=f"https://x/endless/{i}.jpg", id=f"e{i}")
            i += 1
    taken = []
    for index, prediction in pyclient.predict_many("general-image-recognition", endless(), batch_size=10, concurrency=4,
                                                   buffer=16):
        taken.append(index)
        if len(taken) == 50:
            break
    # Bounded: what is held is the requests in flight, the next one, and the buffer (16 inputs,
    # rounded up to whole requests, plus the request being handed over), not the whole iterable.
    assert len(pulled) <= 50 + 20 + 10 + 10 * 4 + 10
    # The client goes on working.
    assert pyclient.predict("general-image-recognition", url="https://x/after.jpg").concepts


def test_predict_many_errors(pyclient):
    def broken():
        yield "https://x/1.jpg"
        raise RuntimeError("the source broke")
    with pytest.raises(RuntimeError, match="the source broke"):
        list(pyclient.predict_many("general-image-recognition", broken()))
    bad = dict(pyclient.predict_many("general-image-recognition",
                                     ["https://x/ok.jpg", {"id": "nothing"}, b"\xff\xd8", None, {"color": "red"}, 42]))
    assert isinstance(bad[0], libclarifai.Prediction) and isinstance(bad[2], libclarifai.Prediction)
    assert isinstance(bad[1], InvalidArgumentError) and "exactly one of url" in str(bad[1])
    # What is not an input at all fails alone too, naming its type.
    assert all(isinstance(bad[i], InvalidArgumentError) for i in (3, 4, 5)) and "NoneType" in str(bad[3])
    missing = dict(pyclient.predict_many("no-such-model", ["https://x/1.jpg", "https://x/2.jpg"]))
    assert all(isinstance(v, ApiError) and v.status_code == 21200 for v in missing.values())
    for arguments in ({"batch_size": 129}, {"concurrency": 0}, {"rate": -1}, {"rate": math.nan}):
        with pytest.raises(InvalidArgumentError):
            list(pyclient.predict_many("general-image-recognition", [], **arguments))
    assert list(pyclient.predict_many("general-image-recognition", [])) == []


# ---------------------------------------------------------------------------------------------
# The official V2Stub on asyncio: libclarifai.aio_stub_channel beside grpc.aio


async def on_official_aio(server, use):
    """use(channel) on the official client's grpc.aio channel to the local server, closed after."""
    channel = ClarifaiChannel.get_aio_insecure_grpc_channel(base="127.0.0.1", port=server.grpc_port)
    try:
        return await use(channel)
    finally:
        await channel.close()


async def on_our_aio(made, use):
    """use(channel) on libclarifai's aio stub channel over the Channel `made`."""
    async with libclarifai.aio_stub_channel(made) as channel:
        return await use(channel)


def test_aio_stub_answers_as_the_official_aio_channel(kind, server, app_id):
    metadata = (("authorization", f"Key {server.token}"),)
    ids = res.UserAppIDSet(user_id=USER, app_id=app_id)
    requests = [service_pb2.PostModelOutputsRequest(user_app_id=ids, model_id="general-image-recognition",
                                                    inputs=[res.Input(data=res.Data(image=res.Image(url=f"https://x/{i}.jpg")))])
                for i in range(20)]
    missing = service_pb2.GetModelRequest(user_app_id=ids, model_id="no-such-model")

    async def run_with(channel):
        stub = service_pb2_grpc.V2Stub(channel)
        answers = await asyncio.gather(*(stub.PostModelOutputs(r, metadata=metadata) for r in requests))
        failed = await stub.GetModel(missing, metadata=metadata)  # a Clarifai failure is an answer
        return answers, failed

    async def ours():
        with Channel.json(server.rest_url) if kind == "rest" else Channel.grpc_insecure(server.grpc_target) as made:
            return await on_our_aio(made, run_with)
    (our_answers, our_failed), (their_answers, their_failed) = run(ours()), run(on_official_aio(server, run_with))
    for a, b in zip(our_answers, their_answers):
        a.status.req_id = b.status.req_id = ""
        for output in (*a.outputs, *b.outputs):
            output.ClearField("created_at")
        assert a == b
    assert our_failed.status.code == their_failed.status.code == 21200


def test_aio_stub_errors_deadlines_and_cancel(server, app_id):
    import grpc
    metadata = (("authorization", f"Key {server.token}"),)
    slow = service_pb2.PostModelOutputsRequest(user_app_id=res.UserAppIDSet(user_id=USER, app_id=app_id), model_id="slow-3000",
                                               inputs=[res.Input(data=res.Data(image=res.Image(url="https://x/s.jpg")))])

    async def main():
        with Channel.grpc_insecure(server.grpc_target) as made:
            stub = service_pb2_grpc.V2Stub(libclarifai.aio_stub_channel(made))
            with pytest.raises(grpc.RpcError) as timed_out:
                await stub.PostModelOutputs(slow, metadata=metadata, timeout=0.3)
            call = stub.PostModelOutputs(slow, metadata=metadata)
            await asyncio.sleep(0.2)
            started = time.monotonic()
            assert call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            assert await call.code() == grpc.StatusCode.CANCELLED
            unauthenticated = await stub.ListModels(service_pb2.ListModelsRequest())  # sent without a credential
            return timed_out.value, time.monotonic() - started, unauthenticated
    timed_out, cancel_time, unauthenticated = run(main())
    assert timed_out.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert cancel_time < 1
    assert unauthenticated.status.code == 11009  # CONN_KEY_NOT_FOUND, as over grpcio


def test_aio_stub_streams_as_the_official_aio_channel(server, app_id):
    """Server-streaming and bidirectional calls on asyncio: async for, read() to EOF, an async
    request generator, write()/done_writing(), cancel and a deadline, beside grpc.aio."""
    import grpc
    metadata = (("authorization", f"Key {server.token}"),)
    ids = res.UserAppIDSet(user_id=USER, app_id=app_id)

    def text(model, raw):
        return service_pb2.PostModelOutputsRequest(user_app_id=ids, model_id=model,
                                                   inputs=[res.Input(data=res.Data(text=res.Text(raw=raw)))])

    def texts(answers):
        return [(a.status.code, [o.data.text.raw for o in a.outputs]) for a in answers]

    async def run_with(channel):
        stub = service_pb2_grpc.V2Stub(channel)
        counted = texts([a async for a in stub.GenerateModelOutputs(text("stream-count", "3"), metadata=metadata)])
        call = stub.GenerateModelOutputs(text("stream-count", "2"), metadata=metadata)
        read = []
        while (answer := await call.read()) is not grpc.aio.EOF:
            read.append(answer)
        ended = await call.code()

        async def requests():
            for word in ("one", "two", "three"):
                yield text("text-echo", word)
        echoed = texts([a async for a in stub.StreamModelOutputs(requests(), metadata=metadata)])
        written = stub.StreamModelOutputs(metadata=metadata)
        await written.write(text("text-echo", "a"))
        first = await written.read()
        await written.write(text("text-echo", "b"))
        await written.done_writing()
        rest = []
        while (answer := await written.read()) is not grpc.aio.EOF:
            rest.append(answer)
        forever = stub.GenerateModelOutputs(text("stream-forever", "x"), metadata=metadata)
        await forever.read()
        cancelled = forever.cancel()
        cancel_code = await forever.code()
        with pytest.raises(grpc.RpcError) as expired:
            [a async for a in stub.GenerateModelOutputs(text("stream-forever", "x"), metadata=metadata, timeout=0.3)]
        return (counted, texts(read), ended, echoed, texts([first, *rest]), cancelled, cancel_code, expired.value.code())

    async def ours():
        with Channel.grpc_insecure(server.grpc_target) as made:
            return await on_our_aio(made, run_with)
    theirs = run(on_official_aio(server, run_with))
    assert run(ours()) == theirs
    assert theirs[0] == [(10000, ["0"]), (10000, ["1"]), (10000, ["2"])] and theirs[2] == grpc.StatusCode.OK
    assert theirs[5:] == (True, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED)


@pytest.mark.parametrize("kind", ["grpc", "grpcs"])
def test_grpc_calls_open_another_connection_at_the_servers_stream_limit(app_id, kind):
    """A server that takes 4 streams per connection: 24 slow calls in flight from one loop use
    several connections (libcurl opens another when one is full; on cleartext with libcurl 7.88,
    a call refused a connection of its own goes again to open one), all finish, and in about the
    time of 24 / (4 x connections) rounds."""
    with start_server(tls=True, extra_args=["--max-concurrent-streams", "4"]) as limited:
        clear_recorded_requests(limited.rest_url)

        async def main():
            made = (Channel.grpc(limited.grpcs_target, ca_file=str(limited.tls_cert)) if kind == "grpcs"
                    else Channel.grpc_insecure(limited.grpc_target))
            with made as channel:
                with Client(channel, limited.token, USER, app_id) as client:
                    started = time.monotonic()
                    predictions = await asyncio.gather(*(client.apredict("slow-500", url=f"https://x/t{i}.jpg")
                                                         for i in range(24)))
                    return predictions, time.monotonic() - started
        predictions, elapsed = run(main())
        assert all(p.concepts for p in predictions)
        peers = {r["peer"] for r in recorded_requests(limited.rest_url) if r["method"] == "PostModelOutputs"}
        # (Counted over the whole run: a stream the server refused before libcurl read its limit
        # goes again on a new connection, so connections made can pass the 16 open at once.)
        assert len(peers) >= 2, peers
        assert elapsed < 24 / 4 * 0.5  # one connection of 4 streams would take 3 s


@pytest.mark.parametrize("kind", ["rest", "grpc"])
def test_calls_to_a_server_that_never_accepts_end_at_their_deadline(app_id, kind):
    """A listener whose backlog is full leaves every connect hanging: three calls at once, each
    with a 2 s deadline, all end at it. (On cleartext gRPC with libcurl 7.88 a call waiting for
    another's connection is refused a socket of its own when that connect fails, and goes again
    to open one: with the time left of its deadline, not a new one.)"""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    backlog = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        backlog.append(filler)
    time.sleep(0.3)

    async def one(client):
        started = time.monotonic()
        with pytest.raises(ClarifaiTimeoutError):
            await client.apredict("m", url="https://x/a.jpg", timeout=2.0)
        return time.monotonic() - started

    async def main():
        made = Channel.json(f"http://127.0.0.1:{port}") if kind == "rest" else Channel.grpc_insecure(f"127.0.0.1:{port}")
        with made as channel, Client(channel, "token", USER, app_id) as client:
            return [await asyncio.gather(*(one(client) for _ in range(3))) for _ in range(3)]
    try:
        rounds = run(main())
    finally:
        for held in backlog + [listener]:
            held.close()
    assert all(1.9 < elapsed < 2.6 for taken in rounds for elapsed in taken), rounds


# ---------------------------------------------------------------------------------------------
# Pagination: clarifai_pager underneath


def post_inputs(client, ids):
    for start in range(0, len(ids), 128):
        client.call("PostInputs", {"inputs": [{"id": i, "data": {"image": {"url": f"https://x/{i}.jpg"}}}
                                              for i in ids[start:start + 128]]})


def test_paginate_every_input_of_an_app_in_pages(pyclient, server):
    ids = [f"in-{i:04d}" for i in range(1000)]
    post_inputs(pyclient, ids)
    clear_recorded_requests(server.rest_url)
    pages = list(pyclient.paginate("ListInputs", per_page=128))
    assert [len(p.get("inputs", [])) for p in pages] == [128] * 7 + [104]
    # The short last page ended it: no ninth call.
    calls = [r for r in recorded_requests(server.rest_url) if r["method"] == "ListInputs"]
    assert [c["request"].get("page") for c in calls] == list(range(1, 9))
    assert sorted(i["id"] for i in pyclient.iterate("ListInputs", per_page=128)) == ids
    # As the official client pages it, page by page.
    expected = []
    for page in range(1, 9):
        expected += [i["id"] for i in pyclient.call("ListInputs", {"page": page, "per_page": 128}).get("inputs", [])]
    assert [i["id"] for i in pyclient.iterate("ListInputs", per_page=128)] == expected


def test_iterate_while_items_are_added(pyclient):
    ids = [f"first-{i:03d}" for i in range(300)]
    post_inputs(pyclient, ids)
    seen = []
    for number, item in enumerate(pyclient.iterate("ListInputs", per_page=50)):
        seen.append(item["id"])
        if number == 60:
            post_inputs(pyclient, [f"later-{i:03d}" for i in range(40)])
    assert set(ids) <= set(seen)  # every item there from the start is seen (maybe twice, as the API pages it)


def test_pager_errors_and_other_kinds_of_paging(pyclient, kind):
    with pytest.raises(InvalidArgumentError, match="not paginated"):
        next(pyclient.paginate("GetModel", {"model_id": "x"}))
    with pytest.raises(InvalidArgumentError, match="per_page"):
        next(pyclient.paginate("ListInputs", per_page=-1))
    with pytest.raises(InvalidArgumentError, match="NoSuchMethod"):
        next(pyclient.paginate("NoSuchMethod"))
    concepts = [{"id": f"c{i}", "name": f"c{i}"} for i in range(25)]
    pyclient.call("PostConcepts", {"concepts": concepts})
    # The server's default page size: only an empty page ends it.
    assert sorted(c["id"] for c in pyclient.iterate("ListConcepts")) == sorted(c["id"] for c in concepts)
    assert [len(p["concepts"]) for p in pyclient.paginate("ListConcepts", per_page=10)] == [10, 10, 5]


def test_pager_follows_a_cursor(pyclient, server):
    """StreamInputs takes last_id, the id of the previous page's last input."""
    ids = [f"cursor-{i:03d}" for i in range(230)]
    post_inputs(pyclient, ids)
    clear_recorded_requests(server.rest_url)
    pages = list(pyclient.paginate("StreamInputs", {"order_by_id": True}, per_page=100))
    assert [len(p["inputs"]) for p in pages] == [100, 100, 30]
    assert [i["id"] for p in pages for i in p["inputs"]] == ids
    calls = [r["request"] for r in recorded_requests(server.rest_url) if r["method"] == "StreamInputs"]
    assert [c.get("last_id") for c in calls] == [None, "cursor-099", "cursor-199"]
