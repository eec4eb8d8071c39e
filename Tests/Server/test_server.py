"""Tests of the local Clarifai test server, through the OFFICIAL clarifai-grpc client.

`stub` runs a test over both channels of the official client: its JSON channel (REST) and its
insecure gRPC channel. Each stub is built right after its own channel (the client switches a
module-global deserializer when a channel is created; `plain_stub` sets it for channels made
with grpc directly). The JSON channel cannot send a request holding a Concept (it crashes in its
own code), so those requests go over gRPC only. Streaming, fault hooks, compression and TLS are
gRPC only; `test_wire_with_curl` looks at the HTTP/2 wire as a libcurl client sees it.
"""

import base64
import hashlib
import http.client
import json
import os
import queue
import shutil
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from clarifai_grpc.channel import clarifai_channel
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2 as r
from clarifai_grpc.grpc.api import service_pb2 as s
from clarifai_grpc.grpc.api import service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2 as sc
from clarifai_grpc.grpc.api.status import status_pb2 as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
import server as server_module  # noqa: E402
from testserver import (clear_predict_stats, clear_recorded_requests, predict_stats,  # noqa: E402
                        recorded_requests, start_server)


@pytest.fixture(scope="module")
def server():
    with start_server() as srv:
        yield srv


def json_stub(srv):
    stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_json_channel(base_url=srv.rest_url))
    stub.kind = "json"
    return stub


def grpc_stub(srv):
    host, port = srv.grpc_target.rsplit(":", 1)
    stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port)))
    stub.kind = "grpc"
    return stub


@pytest.fixture(params=["json", "grpc"])
def stub(request, server):
    return json_stub(server) if request.param == "json" else grpc_stub(server)


def key(token="test-pat"):
    return (("authorization", "Key " + token),)


def app(name):
    return r.UserAppIDSet(user_id="me", app_id=name)


def rest(srv, verb, path, body=None, token="test-pat"):
    """A raw HTTP request (urllib sends the path exactly as given): (HTTP status, JSON)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(srv.rest_url + path, data=data, method=verb)
    if token:
        req.add_header("Authorization", "Key " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def predict(stub, model_id, *datas, **kwargs):
    inputs = [r.Input(data=d) for d in datas]
    return stub.PostModelOutputs(s.PostModelOutputsRequest(model_id=model_id, inputs=inputs, **kwargs),
                                 metadata=key())


IMAGE = r.Data(image=r.Image(url="https://samples.clarifai.com/metro-north.jpg"))
BYTES = r.Data(image=r.Image(base64=b"\x89PNG\r\n\x1a\n fake image bytes"))
TEXT = r.Data(text=r.Text(raw="hello world"))


# --- routing ---------------------------------------------------------------------------------


def test_inputs_add_job_downloads_fail_and_flaky_urls_succeed_on_retry(stub):
    """PostInputs as the API takes a bulk upload: the add job in progress for a while, then its
    counts; /fail/ URLs never download, /flaky-1/ ones on the second try; ListInputs by status
    finds the failed ones (what the SDK's upload reads to retry)."""
    ids = app(f"add-job-{stub.kind}")
    urls = ["https://x/ok.jpg", "https://x/fail/a.jpg", "https://x/flaky-1/b.jpg"]
    inputs = [r.Input(id=f"in{i}", data=r.Data(image=r.Image(url=url))) for i, url in enumerate(urls)]
    posted = stub.PostInputs(s.PostInputsRequest(user_app_id=ids, inputs=inputs, inputs_add_job_id="job-1"), metadata=key())
    assert posted.status.code == sc.SUCCESS and posted.inputs_add_job.id == "job-1"
    pending = stub.GetInputsAddJob(s.GetInputsAddJobRequest(user_app_id=ids, id="job-1"), metadata=key())
    assert pending.inputs_add_job.progress.in_progress_count == 3
    time.sleep(server_module.ADD_JOB_SECONDS)
    done = stub.GetInputsAddJob(s.GetInputsAddJobRequest(user_app_id=ids, id="job-1"), metadata=key()).inputs_add_job
    assert (done.progress.in_progress_count, done.progress.success_count, done.progress.failed_count) == (0, 1, 2)
    succeeded = stub.ListInputs(s.ListInputsRequest(user_app_id=ids, ids=["in0", "in1", "in2"],
                                                    status=st.Status(code=sc.INPUT_DOWNLOAD_SUCCESS)), metadata=key())
    assert [i.id for i in succeeded.inputs] == ["in0"]
    # Sent again (after deleting the failed ones): the flaky URL downloads now, the failing one never.
    assert stub.DeleteInputs(s.DeleteInputsRequest(user_app_id=ids, ids=["in1", "in2"]), metadata=key()).status.code == sc.SUCCESS
    again = stub.PostInputs(s.PostInputsRequest(user_app_id=ids, inputs=inputs[1:]), metadata=key())
    assert [i.status.code for i in again.inputs] == [sc.INPUT_DOWNLOAD_FAILED, sc.INPUT_DOWNLOAD_SUCCESS]
    missing = stub.GetInputsAddJob(s.GetInputsAddJobRequest(user_app_id=ids, id="no-such-job"), metadata=key())
    assert missing.status.code == sc.INPUT_DOES_NOT_EXIST


def test_every_http_binding_is_routed():
    router = server_module.Router()
    assert len(router.routes) == 467
    assert {rt.method.name for rt in router.routes} == {m.name for m in server_module.V2.methods}
    find = router.find
    assert find("GET", "/v2/models/types/x")[0].method.name == "GetModelType"  # more literals win
    assert find("GET", "/v2/models/m1/versions")[0].method.name == "ListModelVersions"
    assert find("DELETE", "/v2/inputs")[0].method.name == "DeleteInputs"
    assert find("DELETE", "/v2/inputs/a%2Fb") == (find("DELETE", "/v2/inputs/x")[0], {"input_id": "a/b"})
    assert find("GET", "/v2/nowhere") is None


# --- predictions -----------------------------------------------------------------------------


def test_predict_concepts_by_url(stub):
    resp = predict(stub, "general-image-recognition", IMAGE)
    assert resp.status.code == sc.SUCCESS
    (out,) = resp.outputs
    assert out.status.code == sc.SUCCESS and out.id and out.created_at.seconds > 0
    assert out.model.id == "general-image-recognition" and out.model.model_version.id
    assert out.input.data.image.url == IMAGE.image.url and out.input.id
    concepts = out.data.concepts
    assert len(concepts) == 20
    values = [c.value for c in concepts]
    assert values == sorted(values, reverse=True) and all(0 < v <= 1 for v in values)
    assert all(c.id.startswith("ai_") and c.name in server_module.VOCABULARY and c.app_id == "main"
               for c in concepts)
    again = predict(stub, "general-image-recognition", IMAGE).outputs[0].data
    assert again == out.data
    other = predict(stub, "general-image-recognition", r.Data(image=r.Image(url="https://x/other.jpg")))
    assert [c.id for c in other.outputs[0].data.concepts] != [c.id for c in concepts]


def test_predict_bytes_and_url_keep_input_order(stub):
    resp = predict(stub, "general-image-recognition", BYTES, IMAGE)
    assert resp.status.code == sc.SUCCESS
    assert resp.outputs[0].input.data.image.base64 == BYTES.image.base64
    assert resp.outputs[1].input.data.image.url == IMAGE.image.url
    assert resp.outputs[0].data != resp.outputs[1].data


def test_predict_text_echo(stub):
    resp = stub.PostModelOutputs(s.PostModelOutputsRequest(
        model_id="text-echo", inputs=[r.Input(id="t1", data=TEXT)]), metadata=key())
    assert resp.status.code == sc.SUCCESS
    assert resp.outputs[0].data.text.raw == "echo: hello world"
    assert resp.outputs[0].input.id == "t1"


def test_predict_embedding(stub):
    (emb,) = predict(stub, "general-image-embedding", IMAGE).outputs[0].data.embeddings
    assert emb.num_dimensions == 16 and len(emb.vector) == 16
    assert abs(sum(x * x for x in emb.vector) - 1) < 1e-4


def test_predict_detection(stub):
    regions = predict(stub, "general-image-detection", BYTES).outputs[0].data.regions
    assert 1 <= len(regions) <= 3
    for region in regions:
        box = region.region_info.bounding_box
        assert 0 <= box.top_row < box.bottom_row <= 1 and 0 <= box.left_col < box.right_col <= 1
        assert len(region.data.concepts) == 3


def test_both_channels_predict_the_same(server):
    outputs = [predict(make(server), "general-image-recognition", IMAGE, BYTES, TEXT).outputs
               for make in (json_stub, grpc_stub)]
    assert [o.data for o in outputs[0]] == [o.data for o in outputs[1]]


def test_predict_input_without_data(stub):
    resp = predict(stub, "general-image-recognition", IMAGE, r.Data())
    assert resp.status.code == sc.MIXED_STATUS
    assert [o.status.code for o in resp.outputs] == [sc.SUCCESS, sc.INPUT_INVALID_ARGUMENT]
    assert predict(stub, "general-image-recognition", r.Data()).status.code == sc.FAILURE
    assert predict(stub, "text-echo", IMAGE).outputs[0].status.code == sc.INPUT_INVALID_ARGUMENT


def test_predict_input_limit(stub):
    texts = [r.Data(text=r.Text(raw=str(i))) for i in range(129)]
    assert predict(stub, "text-echo", *texts[:128]).status.code == sc.SUCCESS
    resp = predict(stub, "text-echo", *texts)
    assert resp.status.code == sc.PREDICT_INVALID_REQUEST and "128" in resp.status.details
    assert not resp.outputs


def test_unknown_model_and_version(stub, server):
    assert predict(stub, "no-such-model", IMAGE).status.code == sc.MODEL_DOES_NOT_EXIST
    version = stub.GetModel(s.GetModelRequest(model_id="general-image-recognition"),
                            metadata=key()).model.model_version.id
    assert predict(stub, "general-image-recognition", IMAGE, version_id=version).status.code == sc.SUCCESS
    assert predict(stub, "general-image-recognition", IMAGE, version_id="nope").status.code == sc.MODEL_DOES_NOT_EXIST
    status, body = rest(server, "GET", "/v2/models/no-such-model")
    assert status == 404 and body["status"]["code"] == sc.MODEL_DOES_NOT_EXIST


def test_models(stub):
    where = app(f"models-{stub.kind}")
    listed = stub.ListModels(s.ListModelsRequest(user_app_id=where), metadata=key())
    assert [m.id for m in listed.models] == list(server_module.BUILTIN_MODELS)
    made = stub.PostModels(s.PostModelsRequest(user_app_id=where, model=r.Model(
        id="my-echo", model_type_id="text-to-text")), metadata=key())
    assert made.status.code == sc.SUCCESS and made.model.app_id == where.app_id
    again = stub.PostModels(s.PostModelsRequest(user_app_id=where, model=r.Model(id="my-echo")), metadata=key())
    assert again.status.code == sc.MODEL_INVALID_ARGUMENT
    builtin = len(server_module.BUILTIN_MODELS)
    page = stub.ListModels(s.ListModelsRequest(user_app_id=where, page=2, per_page=builtin), metadata=key())
    assert [m.id for m in page.models] == ["my-echo"]
    got = stub.GetModel(s.GetModelRequest(user_app_id=where, model_id="my-echo"), metadata=key())
    assert got.model.model_version.id == made.model.model_version.id
    out = stub.PostModelOutputs(s.PostModelOutputsRequest(user_app_id=where, model_id="my-echo",
                                                          inputs=[r.Input(data=TEXT)]), metadata=key())
    assert out.outputs[0].data.text.raw == "echo: hello world"


# --- bulk predictions: behaviour models, failing inputs, counters -----------------------------


def image_request(model_id, *urls):
    return s.PostModelOutputsRequest(model_id=model_id, inputs=[r.Input(data=r.Data(image=r.Image(url=u)))
                                                                for u in urls])


def rest_predict(srv, model_id, *urls):
    """PostModelOutputs over REST with plain HTTP: (HTTP status, JSON)."""
    return rest(srv, "POST", f"/v2/models/{model_id}/outputs",
                {"inputs": [{"data": {"image": {"url": u}}} for u in urls]})


def test_behaviour_models_need_no_creation(stub):
    for model_id in ("rate-limited-3", "slow-50", "slow-0"):
        got = stub.GetModel(s.GetModelRequest(model_id=model_id), metadata=key())
        assert got.status.code == sc.SUCCESS and got.model.id == model_id and got.model.user_id == "clarifai"
        resp = predict(stub, model_id, IMAGE)
        assert resp.status.code == sc.SUCCESS
        assert resp.outputs[0].data == predict(stub, "general-image-recognition", IMAGE).outputs[0].data
        made = stub.PostModels(s.PostModelsRequest(model=r.Model(id=model_id)), metadata=key())
        assert made.status.code == sc.MODEL_INVALID_ARGUMENT
    for model_id in ("rate-limited-0", "rate-limited-05", "slow-", "slow-x", "slow-600001"):
        assert predict(stub, model_id, IMAGE).status.code == sc.MODEL_DOES_NOT_EXIST, model_id
    listed = stub.ListModels(s.ListModelsRequest(), metadata=key()).models
    assert [m.id for m in listed] == list(server_module.BUILTIN_MODELS)


def test_rate_limited_model(server):
    clear_predict_stats(server.rest_url)
    model_id, url = "rate-limited-5", "https://samples.clarifai.com/metro-north.jpg"
    stub = grpc_stub(server)
    over_grpc = lambda: stub.PostModelOutputs(image_request(model_id, url), metadata=key())  # noqa: E731
    over_rest = lambda: rest_predict(server, model_id, url)  # noqa: E731
    barrier = threading.Barrier(20)

    def together(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(20) as pool:  # 20 at once, half over each front: one limit for both
        started = time.monotonic()
        grpc_answers = [pool.submit(together, over_grpc) for _ in range(10)]
        rest_answers = [pool.submit(together, over_rest) for _ in range(10)]
        grpc_answers = [f.result() for f in grpc_answers]
        rest_answers = [f.result() for f in rest_answers]
    assert time.monotonic() - started < 1.0  # all in one window
    codes = [a.status.code for a in grpc_answers] + [body["status"]["code"] for _, body in rest_answers]
    assert sorted(codes) == [sc.SUCCESS] * 5 + [sc.CONN_THROTTLED] * 15
    throttled = next(a for a in grpc_answers if a.status.code == sc.CONN_THROTTLED)
    assert throttled.status.description == "Making too many requests" and not throttled.outputs
    assert "at most 5 requests per second" in throttled.status.details
    assert throttled.status.req_id
    assert {status for status, body in rest_answers if body["status"]["code"] == sc.CONN_THROTTLED} == {429}
    assert all(status == 200 and len(body["outputs"]) == 1
               for status, body in rest_answers if body["status"]["code"] == sc.SUCCESS)

    time.sleep(1.0)  # the window has passed: admitted again, over both fronts
    assert over_grpc().status.code == sc.SUCCESS
    assert over_rest()[0] == 200
    stats = predict_stats(server.rest_url)[model_id]
    assert stats["requests"] == 7 and stats["throttled"] == 15 and stats["inputs"] == 7
    assert stats["duplicates"] == 6  # the same URL each time
    assert stats["in_flight"] == 0 and 1 <= stats["max_in_flight"] <= 20


def test_slow_model_calls_overlap(server):
    clear_predict_stats(server.rest_url)
    stub = grpc_stub(server)
    started = time.monotonic()
    assert predict(stub, "slow-200", IMAGE).status.code == sc.SUCCESS
    assert time.monotonic() - started >= 0.2
    clear_predict_stats(server.rest_url)
    urls = [f"https://samples.clarifai.com/slow/{i}.jpg" for i in range(16)]
    with ThreadPoolExecutor(16) as pool:  # 8 over each front
        started = time.monotonic()
        answers = [pool.submit(stub.PostModelOutputs, image_request("slow-200", u), metadata=key()) for u in urls[:8]]
        answers += [pool.submit(rest_predict, server, "slow-200", u) for u in urls[8:]]
        answers = [f.result() for f in answers]
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.0, elapsed  # not 16 x 200 ms
    assert all(a.status.code == sc.SUCCESS for a in answers[:8]) and all(a[0] == 200 for a in answers[8:])
    stats = predict_stats(server.rest_url)["slow-200"]
    assert stats["max_in_flight"] >= 8 and stats["in_flight"] == 0
    assert (stats["requests"], stats["inputs"], stats["duplicates"], stats["throttled"]) == (16, 16, 0, 0)


def test_slow_model_stops_waiting_when_the_grpc_call_ends(server):
    clear_predict_stats(server.rest_url)
    with pytest.raises(grpc.RpcError) as err:
        grpc_stub(server).PostModelOutputs(image_request("slow-5000", "https://x/1.jpg"), metadata=key(), timeout=0.2)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    deadline = time.monotonic() + 2
    while predict_stats(server.rest_url)["slow-5000"]["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.02)
    stats = predict_stats(server.rest_url)["slow-5000"]
    assert stats["in_flight"] == 0 and stats["requests"] == 1  # predicted, then the pause was cut short


def test_slow_model_holds_256_calls_on_each_front(server):
    clear_predict_stats(server.rest_url)
    with grpc.insecure_channel(server.grpc_target) as channel:  # one HTTP/2 connection, 256 streams
        stub = plain_stub(channel)
        started = time.monotonic()
        calls = [stub.PostModelOutputs.future(image_request("slow-1500", f"https://x/{i}.jpg"), metadata=key(),
                                              timeout=10) for i in range(256)]
        barrier = threading.Barrier(256)

        def over_rest(i):
            barrier.wait()  # 256 new connections at once
            return rest_predict(server, "slow-1501", f"https://y/{i}.jpg")

        with ThreadPoolExecutor(256) as pool:
            rest_answers = list(pool.map(over_rest, range(256)))
        grpc_answers = [c.result() for c in calls]
        elapsed = time.monotonic() - started
    assert all(a.status.code == sc.SUCCESS for a in grpc_answers) and all(a[0] == 200 for a in rest_answers)
    stats = predict_stats(server.rest_url)
    for model_id in ("slow-1500", "slow-1501"):
        assert stats[model_id]["requests"] == 256 and stats[model_id]["duplicates"] == 0
        assert stats[model_id]["max_in_flight"] >= 200, stats  # 256 unless the last arrive 1.5 s late
    assert elapsed < 5, elapsed  # one after the other: 384 s each


def test_duplicate_inputs_are_counted(server):
    clear_predict_stats(server.rest_url)
    model_id = "general-image-recognition"

    def request(*inputs):
        return s.PostModelOutputsRequest(model_id=model_id, inputs=list(inputs))

    url = r.Data(image=r.Image(url="https://samples.clarifai.com/dup.jpg"))
    first = request(r.Input(id="a", data=IMAGE), r.Input(data=url), r.Input(data=BYTES), r.Input(data=TEXT),
                    r.Input(id="b", data=url))
    assert grpc_stub(server).PostModelOutputs(first, metadata=key()).status.code == sc.SUCCESS
    assert predict_stats(server.rest_url)[model_id]["duplicates"] == 0  # "b" is keyed by its id, not its URL
    second = request(r.Input(id="a", data=TEXT),  # the same id: a duplicate whatever its data
                     r.Input(data=url),  # the same URL without an id
                     r.Input(data=BYTES),  # the same bytes
                     r.Input(data=r.Data(text=r.Text(raw="other"))))
    assert json_stub(server).PostModelOutputs(second, metadata=key()).status.code == sc.SUCCESS  # both fronts
    stats = predict_stats(server.rest_url, clear=True)[model_id]
    assert (stats["requests"], stats["inputs"], stats["duplicates"]) == (2, 9, 3)
    assert predict_stats(server.rest_url) == {}  # cleared, the keys too
    grpc_stub(server).PostModelOutputs(second, metadata=key())
    assert predict_stats(server.rest_url)[model_id]["duplicates"] == 0


def test_failing_url_fails_its_input_only(stub, server):
    clear_predict_stats(server.rest_url)
    failing = r.Data(image=r.Image(url="https://samples.clarifai.com/fail/1.jpg"))
    resp = predict(stub, "general-image-recognition", IMAGE, failing, BYTES)
    assert resp.status.code == sc.MIXED_STATUS
    assert [o.status.code for o in resp.outputs] == [sc.SUCCESS, sc.INPUT_DOWNLOAD_FAILED, sc.SUCCESS]
    failed = resp.outputs[1]
    assert failed.status.description == "Download failed" and "/fail/1.jpg" in failed.status.details
    assert not failed.data.concepts and failed.input.data.image.url == failing.image.url
    assert resp.outputs[0].data.concepts and resp.outputs[2].data.concepts
    text_url = r.Data(text=r.Text(url="https://x/fail/a.txt"))
    all_failed = predict(stub, "text-echo", failing, text_url)
    assert all_failed.status.code == sc.FAILURE
    assert [o.status.code for o in all_failed.outputs] == [sc.INPUT_DOWNLOAD_FAILED] * 2
    stats = predict_stats(server.rest_url)
    assert (stats["general-image-recognition"]["inputs"], stats["general-image-recognition"]["failed_inputs"]) == (3, 1)
    assert (stats["text-echo"]["requests"], stats["text-echo"]["failed_inputs"]) == (1, 2)


def test_predict_stats_count_only_answered_predictions(server):
    clear_predict_stats(server.rest_url)
    stub = grpc_stub(server)
    assert stub.PostModelOutputs(image_request("slow-0", "https://x/1.jpg"),
                                 metadata=key("wrong")).status.code == sc.CONN_KEY_INVALID
    assert predict(stub, "slow-0", *[TEXT] * 129).status.code == sc.PREDICT_INVALID_REQUEST
    assert predict_stats(server.rest_url)["slow-0"] == {
        "requests": 0, "throttled": 0, "inputs": 0, "failed_inputs": 0, "duplicates": 0, "in_flight": 0,
        "max_in_flight": 1}
    status, body = rest(server, "DELETE", "/_test/predict-stats")
    assert status == 200 and "slow-0" in body
    assert rest(server, "GET", "/_test/predict-stats") == (200, {})


# --- auth ------------------------------------------------------------------------------------


def test_bad_or_missing_token(stub, server):
    resp = stub.ListConcepts(s.ListConceptsRequest(), metadata=key("wrong"))
    assert resp.status.code == sc.CONN_KEY_INVALID and resp.status.description
    status, body = rest(server, "GET", "/v2/concepts", token="wrong")
    assert status == 401 and body["status"]["code"] == sc.CONN_KEY_INVALID
    status, body = rest(server, "GET", "/v2/concepts", token=None)
    assert status == 401 and body["status"]["code"] == sc.CONN_KEY_NOT_FOUND


def test_missing_metadata_over_grpc(server):
    resp = grpc_stub(server).ListConcepts(s.ListConceptsRequest())
    assert resp.status.code == sc.CONN_KEY_NOT_FOUND


def test_app_key(stub):
    ok = stub.ListInputs(s.ListInputsRequest(), metadata=key("test-app-key"))
    assert ok.status.code == sc.SUCCESS
    other = stub.ListInputs(s.ListInputsRequest(user_app_id=app("other")), metadata=key("test-app-key"))
    assert other.status.code == sc.CONN_KEY_INVALID


# --- inputs and concepts ---------------------------------------------------------------------


def test_inputs_crud(stub):
    where = app(f"inputs-{stub.kind}")

    def call(name, **kw):
        request = getattr(s, name + "Request")(user_app_id=where, **kw)
        return getattr(stub, name)(request, metadata=key())

    def metadata_of(input_id):
        return dict(call("GetInput", input_id=input_id).input.data.metadata)

    posted = call("PostInputs", inputs=[
        r.Input(id=f"in-{i}", data=r.Data(text=r.Text(raw=f"text {i}"))) for i in range(5)])
    assert posted.status.code == sc.SUCCESS and [i.id for i in posted.inputs] == [f"in-{i}" for i in range(5)]
    assert call("PostInputs", inputs=[r.Input(id="in-0", data=TEXT)]).status.code == sc.INPUT_DUPLICATE
    generated = call("PostInputs", inputs=[r.Input(data=IMAGE)]).inputs[0].id
    assert len(generated) == 32

    pages = [[i.id for i in call("ListInputs", page=p, per_page=2).inputs] for p in (1, 2, 3, 4)]
    assert pages == [["in-0", "in-1"], ["in-2", "in-3"], ["in-4", generated], []]
    assert len(call("ListInputs").inputs) == 6

    got = call("GetInput", input_id="in-3").input
    assert got.data.text.raw == "text 3" and got.created_at.seconds > 0

    def patch(action, metadata):
        data = r.Data()
        data.metadata.update(metadata)
        return call("PatchInputs", action=action, inputs=[r.Input(id="in-1", data=data)])

    assert patch("merge", {"a": 1, "deep": {"x": 1}}).status.code == sc.SUCCESS
    patch("merge", {"b": "two", "deep": {"y": 2}})
    assert metadata_of("in-1") == {"a": 1, "b": "two", "deep": {"x": 1, "y": 2}}
    patch("remove", {"a": 1, "deep": {"x": 1}})
    assert metadata_of("in-1") == {"b": "two", "deep": {"y": 2}}
    patch("overwrite", {"c": True})
    assert metadata_of("in-1") == {"c": True}
    assert patch("explode", {}).status.code == sc.INPUT_INVALID_ARGUMENT

    assert call("DeleteInput", input_id="in-0").status.code == sc.SUCCESS
    assert call("GetInput", input_id="in-0").status.code == sc.INPUT_DOES_NOT_EXIST
    assert call("DeleteInputs", ids=["in-1", "nope"]).status.code == sc.INPUT_DOES_NOT_EXIST
    assert call("DeleteInputs", ids=["in-1", "in-2"]).status.code == sc.SUCCESS
    assert [i.id for i in call("ListInputs").inputs] == ["in-3", "in-4", generated]


def test_concepts_crud(server):
    where = app("concepts")
    stub = grpc_stub(server)  # the JSON channel cannot send Concepts
    posted = stub.PostConcepts(s.PostConceptsRequest(user_app_id=where, concepts=[
        r.Concept(id=f"c{i}", name=f"Concept {i}") for i in range(3)]), metadata=key())
    assert posted.status.code == sc.SUCCESS and [c.id for c in posted.concepts] == ["c0", "c1", "c2"]
    dup = stub.PostConcepts(s.PostConceptsRequest(user_app_id=where, concepts=[r.Concept(id="c1")]),
                            metadata=key())
    assert dup.status.code == sc.CONCEPTS_INVALID_REQUEST
    # concepts in input annotations are added to the app
    stub.PostInputs(s.PostInputsRequest(user_app_id=where, inputs=[r.Input(id="i", data=r.Data(
        image=IMAGE.image, concepts=[r.Concept(id="dog", value=1)]))]), metadata=key())

    patched = stub.PatchConcepts(s.PatchConceptsRequest(user_app_id=where, action="overwrite", concepts=[
        r.Concept(id="c1", name="renamed")]), metadata=key())
    assert patched.status.code == sc.SUCCESS and patched.concepts[0].name == "renamed"
    assert patched.concepts[0].created_at == posted.concepts[1].created_at

    reader = json_stub(server)  # listing and reading work over both channels
    for stub in (reader, grpc_stub(server)):
        page = stub.ListConcepts(s.ListConceptsRequest(user_app_id=where, page=2, per_page=2), metadata=key())
        assert [c.id for c in page.concepts] == ["c2", "dog"]
        got = stub.GetConcept(s.GetConceptRequest(user_app_id=where, concept_id="c1"), metadata=key())
        assert got.concept.name == "renamed" and got.concept.app_id == "concepts"
        missing = stub.GetConcept(s.GetConceptRequest(user_app_id=where, concept_id="zz"), metadata=key())
        assert missing.status.code == sc.CONN_DOES_NOT_EXIST


# --- REST specifics --------------------------------------------------------------------------


def test_percent_encoded_path_values_arrive_intact(server):
    clear_recorded_requests(server.rest_url)
    status, body = rest(server, "GET", "/v2/users/me/apps/main/models/..%2F..%2Fx")
    assert status == 404 and body["status"]["code"] == sc.MODEL_DOES_NOT_EXIST
    (rec,) = recorded_requests(server.rest_url)
    assert rec["method"] == "GetModel" and rec["request"]["model_id"] == "../../x"
    assert rec["raw_path"] == "/v2/users/me/apps/main/models/..%2F..%2Fx"

    status, _ = rest(server, "POST", "/v2/users/me/apps/pct/inputs",
                     {"inputs": [{"id": "a/b c", "data": {"text": {"raw": "x"}}}]})
    assert status == 200
    status, body = rest(server, "GET", "/v2/users/me/apps/pct/inputs/a%2Fb%20c")
    assert status == 200 and body["input"]["id"] == "a/b c"


def test_rest_json_and_query_parameters(server):
    status, body = rest(server, "GET", "/v2/users/me/apps/empty/concepts")
    assert status == 200 and body["concepts"] == []  # cl_show_if_empty
    assert body["status"]["code"] == sc.SUCCESS and body["status"]["req_id"].startswith("req-")
    rest(server, "POST", "/v2/users/me/apps/q/inputs",
         {"inputs": [{"id": i, "data": {"text": {"raw": i}}} for i in "abc"]})
    ids = lambda b: [i["id"] for i in b["inputs"]]  # noqa: E731
    assert ids(rest(server, "GET", "/v2/users/me/apps/q/inputs?perPage=1&page=2")[1]) == ["b"]
    assert ids(rest(server, "GET", "/v2/inputs?user_app_id.app_id=q&ids=c&ids=a")[1]) == ["a", "c"]
    status, body = rest(server, "GET", "/v2/models?per_page=1&page=2")
    assert status == 200 and [m["id"] for m in body["models"]] == ["general-image-detection"]
    status, body = rest(server, "GET", "/v2/models?trained_only=true&visibility.gettable=PUBLIC")
    assert status == 200


@pytest.mark.parametrize("verb,path,body,detail", [
    ("POST", "/v2/inputs", b"{not json", "Expecting"),
    ("POST", "/v2/inputs", {"inputs": [], "bogus": 1}, "bogus"),
    ("GET", "/v2/inputs?bogus=1", None, "bogus"),
    ("GET", "/v2/inputs?page=two", None, "page"),
    ("GET", "/v2/models?trained_only=maybe", None, "trained_only"),
    ("POST", "/v2/inputs?page=1", {}, "page"),
])
def test_rest_bad_requests(server, verb, path, body, detail):
    status, answer = rest(server, verb, path, body)
    assert status == 400 and answer["status"]["code"] == sc.BAD_REQUEST
    assert detail in answer["status"]["details"]


def test_rest_keep_alive_and_no_route(server):
    conn = http.client.HTTPConnection(server.rest_url.removeprefix("http://"), timeout=10)
    for _ in range(2):  # same connection twice
        conn.request("GET", "/v2/nowhere", headers={"Authorization": "Key test-pat"})
        resp = conn.getresponse()
        assert resp.status == 404 and resp.getheader("Content-Length")
        assert json.loads(resp.read()) == {"code": 5, "message": "Not Found"}
    conn.close()


# --- recording and unimplemented methods -----------------------------------------------------


def test_unimplemented_method_is_recorded(server):
    clear_recorded_requests(server.rest_url)
    with pytest.raises(grpc.RpcError) as err:
        grpc_stub(server).ListWorkflows(s.ListWorkflowsRequest(user_app_id=app("w"), per_page=3), metadata=key())
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert rest(server, "GET", "/v2/users/me/apps/w/workflows?per_page=3") == (
        501, {"code": 12, "message": "Method not implemented"})
    recs = recorded_requests(server.rest_url)
    assert [(x["front"], x["method"]) for x in recs] == [("grpc", "ListWorkflows"), ("rest", "ListWorkflows")]
    assert recs[0]["request"] == recs[1]["request"] == {"user_app_id": {"user_id": "me", "app_id": "w"},
                                                        "per_page": 3}


def test_recording_endpoint_and_request_ids(server):
    clear_recorded_requests(server.rest_url)
    resp = json_stub(server).ListInputs(s.ListInputsRequest(user_app_id=app("rec"), per_page=7), metadata=key())
    assert resp.status.req_id.startswith("python-json-")  # the client's X-Clarifai-Request-ID-Prefix
    resp = grpc_stub(server).PostModelOutputs(
        s.PostModelOutputsRequest(model_id="text-echo", inputs=[r.Input(data=TEXT)]),
        metadata=key() + (("x-clarifai-request-id-prefix", "swift-test"),))
    assert resp.status.req_id.startswith("swift-test-") and resp.status.req_id[-6:].isdigit()

    rest_rec, grpc_rec = recorded_requests(server.rest_url)
    assert rest_rec["front"] == "rest" and rest_rec["method"] == "ListInputs"
    assert rest_rec["http_method"] == "GET" and rest_rec["raw_path"].startswith("/v2/users/me/apps/rec/inputs?")
    assert rest_rec["request"] == {"user_app_id": {"user_id": "me", "app_id": "rec"}, "per_page": 7}
    assert rest_rec["authorization"] == "Key test-pat"
    assert rest_rec["headers"]["x-clarifai-request-id-prefix"].startswith("python-json-")
    assert grpc_rec["front"] == "grpc" and grpc_rec["method"] == "PostModelOutputs"
    assert "raw_path" not in grpc_rec and grpc_rec["headers"]["x-clarifai-request-id-prefix"] == "swift-test"
    assert grpc_rec["request"]["inputs"] == [{"data": {"text": {"raw": "hello world"}}}]
    assert "user-agent" in grpc_rec["headers"]
    clear_recorded_requests(server.rest_url)
    assert recorded_requests(server.rest_url) == []


def test_custom_token_and_clean_exit():
    with start_server(token=["tok-1", "tok-2"]) as srv:
        stub = grpc_stub(srv)
        assert stub.ListInputs(s.ListInputsRequest(), metadata=key("tok-2")).status.code == sc.SUCCESS
        assert stub.ListInputs(s.ListInputsRequest(), metadata=key("test-pat")).status.code == sc.CONN_KEY_INVALID
        assert srv.token == "tok-1"
    assert srv.process.returncode == 0


def test_base64_bytes_in_rest_json(server):
    raw = b"\x00\xffbinary"
    status, body = rest(server, "POST", "/v2/models/general-image-embedding/outputs",
                        {"inputs": [{"data": {"image": {"base64": base64.b64encode(raw).decode()}}}]})
    assert status == 200 and base64.b64decode(body["outputs"][0]["input"]["data"]["image"]["base64"]) == raw
    assert body["outputs"][0]["data"]["embeddings"][0]["num_dimensions"] == 16


# --- server streaming (gRPC) -----------------------------------------------------------------


def text_request(model_id, text="", **kwargs):
    return s.PostModelOutputsRequest(model_id=model_id, inputs=[r.Input(data=r.Data(text=r.Text(raw=text)))],
                                     **kwargs)


def generate(stub, model_id, text="", metadata=key(), **kwargs):
    return stub.GenerateModelOutputs(text_request(model_id, text), metadata=metadata, **kwargs)


def stream_record(srv, model_id, timeout=5.0, until=lambda st: st["finished"] or st["cancelled"]):
    """The last recorded GenerateModelOutputs of `model_id`, once `until(its "stream")` holds."""
    deadline = time.monotonic() + timeout
    while True:
        recs = [x for x in recorded_requests(srv.rest_url)
                if x["method"] == "GenerateModelOutputs" and x["request"].get("model_id") == model_id]
        if recs and until(recs[-1]["stream"]) or time.monotonic() > deadline:
            return recs[-1] if recs else None
        time.sleep(0.02)


def test_stream_count_1000_in_order(server):
    stub = grpc_stub(server)
    started = time.monotonic()
    messages = list(generate(stub, "stream-count", "1000"))
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed
    assert [m.outputs[0].data.text.raw for m in messages] == [str(i) for i in range(1000)]
    assert [m.outputs[0].id for m in messages] == [f"out-{i}" for i in range(1000)]
    assert all(m.status.code == sc.SUCCESS and m.outputs[0].status.code == sc.SUCCESS for m in messages)
    assert len({m.status.req_id for m in messages}) == 1  # one request, one req_id
    rec = stream_record(server, "stream-count")
    assert rec["front"] == "grpc" and rec["request"]["inputs"][0]["data"]["text"]["raw"] == "1000"
    assert rec["stream"] == {"sent": 1000, "cancelled": False, "finished": True, "code": "OK"}


def test_stream_count_edge_cases(server):
    stub = grpc_stub(server)
    assert list(generate(stub, "stream-count", "0")) == []
    for bad in ("", "-1", "ten", "100001"):
        (only,) = generate(stub, "stream-count", bad)
        assert only.status.code == sc.PREDICT_INVALID_REQUEST and "100000" in only.status.details


def test_stream_cancel_is_observed(server):
    clear_recorded_requests(server.rest_url)
    stream = generate(grpc_stub(server), "stream-forever")
    got = []
    for message in stream:
        got.append(message.outputs[0].data.text.raw)
        if len(got) == 3:
            break
    stream.cancel()
    assert got == ["0", "1", "2"]
    rec = stream_record(server, "stream-forever")
    assert rec["stream"]["cancelled"] and not rec["stream"]["finished"] and rec["stream"]["code"] == "CANCELLED"
    assert 3 <= rec["stream"]["sent"] <= 10  # a message every 20 ms: a few more at most
    sent = rec["stream"]["sent"]
    time.sleep(0.2)  # 10 intervals: the server has stopped sending
    assert stream_record(server, "stream-forever")["stream"]["sent"] == sent


def test_stream_deadline_is_observed(server):
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as err:
        for _ in generate(grpc_stub(server), "stream-forever", timeout=0.3):
            pass
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and time.monotonic() - started < 2
    rec = stream_record(server, "stream-forever")
    assert rec["stream"]["cancelled"] and rec["stream"]["code"] == "DEADLINE_EXCEEDED"
    assert 2 <= rec["stream"]["sent"] <= 16  # 0.3 s / 20 ms


def test_stream_error_mid_stream(server):
    got = []
    with pytest.raises(grpc.RpcError) as err:
        for message in generate(grpc_stub(server), "stream-error"):
            got.append(message.outputs[0].id)
    assert got == ["out-0", "out-1", "out-2"]
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert err.value.details() == "model crashed after 3 messages"
    assert stream_record(server, "stream-error")["stream"] == {
        "sent": 3, "cancelled": False, "finished": True, "code": "INTERNAL"}


def test_stream_api_error(server):
    messages = list(generate(grpc_stub(server), "stream-api-error"))
    assert [m.status.code for m in messages] == [sc.SUCCESS, sc.SUCCESS, sc.FAILURE]
    assert messages[2].status.description == "generation failed" and not messages[2].outputs
    assert stream_record(server, "stream-api-error")["stream"]["code"] == "OK"


def test_stream_other_models_and_auth(server):
    stub = grpc_stub(server)
    (echo,) = generate(stub, "text-echo", "hi")
    assert echo.status.code == sc.SUCCESS and echo.outputs[0].data.text.raw == "echo: hi"
    unary = stub.PostModelOutputs(text_request("text-echo", "hi"), metadata=key())
    assert echo.outputs[0].data == unary.outputs[0].data
    (missing,) = generate(stub, "no-such-model", "hi")
    assert missing.status.code == sc.MODEL_DOES_NOT_EXIST
    (bad,) = generate(stub, "stream-count", "5", metadata=key("wrong"))
    assert bad.status.code == sc.CONN_KEY_INVALID and not bad.outputs
    (none,) = generate(stub, "stream-count", "5", metadata=())
    assert none.status.code == sc.CONN_KEY_NOT_FOUND


def test_stream_log_entries(server):
    messages = list(grpc_stub(server).StreamLogEntries(s.StreamLogEntriesRequest(log_type="builder"),
                                                        metadata=key()))
    assert [m.log_entries[0].message for m in messages] == ["log line 0", "log line 1", "log line 2"]
    assert all(m.status.code == sc.SUCCESS and m.log_entries[0].log_type == "builder" for m in messages)


def test_unimplemented_streams(server):
    clear_recorded_requests(server.rest_url)
    with pytest.raises(grpc.RpcError) as err:
        list(grpc_stub(server).StreamAnnotations(s.StreamAnnotationsRequest(), metadata=key()))
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    status, _ = rest(server, "POST", "/v2/users/me/apps/main/models/stream-count/outputs/generate",
                     {"inputs": [{"data": {"text": {"raw": "3"}}}]})
    assert status == 501  # streaming is gRPC only
    (grpc_rec, rest_rec) = recorded_requests(server.rest_url)
    assert grpc_rec["method"] == "StreamAnnotations" and "stream" not in grpc_rec
    assert rest_rec["method"] == "GenerateModelOutputs" and "stream" not in rest_rec


# --- bidirectional streaming (gRPC) ----------------------------------------------------------


@pytest.fixture
def v2(server):
    """The official V2Stub over a plain grpc.insecure_channel to the server's gRPC port."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield plain_stub(channel)


class Duplex:
    """A bidirectional call driven step by step: send() queues messages, recv() waits for the next
    answer, close() half-closes, rest() reads the answers up to the end."""

    def __init__(self, method, metadata=key(), timeout=10):
        self.outbox = queue.Queue()
        self.answers = method(iter(self.outbox.get, None), metadata=metadata, timeout=timeout)

    def send(self, *messages):
        for message in messages:
            self.outbox.put(message)

    def recv(self):
        return next(self.answers)

    def close(self):
        self.outbox.put(None)

    def rest(self):
        return list(self.answers)


def last_record(srv, method, timeout=5.0, until=lambda st: st["finished"] or st["cancelled"]):
    """The last recorded call of `method`, once `until(its "stream")` holds."""
    deadline = time.monotonic() + timeout
    while True:
        recs = [x for x in recorded_requests(srv.rest_url) if x["method"] == method]
        if recs and until(recs[-1]["stream"]) or time.monotonic() > deadline:
            return recs[-1] if recs else None
        time.sleep(0.02)


def test_stream_model_outputs_conversation(server, v2):
    clear_recorded_requests(server.rest_url)
    call = Duplex(v2.StreamModelOutputs)
    call.send(text_request("text-echo", "a"))
    first = call.recv()
    assert first.status.code == sc.SUCCESS and first.outputs[0].data.text.raw == "echo: a"
    call.send(s.PostModelOutputsRequest(model_id="general-image-recognition", inputs=[r.Input(data=IMAGE)]))
    concepts = call.recv()
    assert concepts.outputs[0].data == predict(v2, "general-image-recognition", IMAGE).outputs[0].data
    call.send(text_request("no-such-model", "x"))
    missing = call.recv()
    assert missing.status.code == sc.MODEL_DOES_NOT_EXIST and not missing.outputs  # and the stream goes on
    call.send(text_request("text-echo", "b"))
    assert call.recv().outputs[0].data.text.raw == "echo: b"
    call.close()
    assert call.rest() == []
    assert len({first.status.req_id, concepts.status.req_id, missing.status.req_id}) == 1
    rec = last_record(server, "StreamModelOutputs")
    assert rec["request"]["model_id"] == "text-echo" and rec["front"] == "grpc"  # the first message
    assert rec["stream"] == {"received": 4, "sent": 4, "half_closed": True, "cancelled": False, "finished": True,
                             "code": "OK"}


def test_stream_model_outputs_1000_in_order(server, v2):
    started = time.monotonic()
    answers = list(v2.StreamModelOutputs((text_request("text-echo", str(i)) for i in range(1000)),
                                         metadata=key(), timeout=30))
    elapsed = time.monotonic() - started
    assert elapsed < 5.0, elapsed
    assert [a.outputs[0].data.text.raw for a in answers] == [f"echo: {i}" for i in range(1000)]
    assert all(a.status.code == sc.SUCCESS for a in answers)
    rec = last_record(server, "StreamModelOutputs")
    assert rec["stream"] == {"received": 1000, "sent": 1000, "half_closed": True, "cancelled": False,
                             "finished": True, "code": "OK"}


def test_stream_model_outputs_cancel_is_observed(server, v2):
    clear_recorded_requests(server.rest_url)
    call = Duplex(v2.StreamModelOutputs)
    for i in range(3):
        call.send(text_request("text-echo", str(i)))
        assert call.recv().outputs[0].data.text.raw == f"echo: {i}"
    call.answers.cancel()  # the server is waiting for the 4th request
    rec = last_record(server, "StreamModelOutputs")
    assert rec["stream"] == {"received": 3, "sent": 3, "half_closed": False, "cancelled": True, "finished": False,
                             "code": "CANCELLED"}
    with pytest.raises(grpc.RpcError) as err:
        call.recv()
    assert err.value.code() == grpc.StatusCode.CANCELLED


def test_stream_model_outputs_hooks(server, v2):
    started = time.monotonic()
    answers = list(v2.StreamModelOutputs(iter([text_request("stream-echo-slow", str(i)) for i in range(3)]),
                                         metadata=key(), timeout=10))
    assert time.monotonic() - started >= 0.15
    assert [a.outputs[0].data.text.raw for a in answers] == ["echo: 0", "echo: 1", "echo: 2"]

    # bidi-end-early: the server ends with OK after its 2nd answer, not waiting for the half-close
    call = Duplex(v2.StreamModelOutputs)
    call.send(*[text_request("bidi-end-early", str(i)) for i in range(5)])
    assert [a.outputs[0].data.text.raw for a in call.rest()] == ["echo: 0", "echo: 1"]  # ends OK, no close()
    rec = last_record(server, "StreamModelOutputs")
    assert rec["stream"] == {"received": 2, "sent": 2, "half_closed": False, "cancelled": False, "finished": True,
                             "code": "OK"}

    got = []
    with pytest.raises(grpc.RpcError) as err:
        for a in v2.StreamModelOutputs(iter([text_request("bidi-error-after-2", str(i)) for i in range(5)]),
                                       metadata=key(), timeout=10):
            got.append(a.outputs[0].data.text.raw)
    assert got == ["echo: 0", "echo: 1"]
    assert (err.value.code(), err.value.details()) == (grpc.StatusCode.INTERNAL, "model crashed after 2 answers")
    assert last_record(server, "StreamModelOutputs")["stream"]["code"] == "INTERNAL"


def test_stream_model_outputs_auth(v2):
    requests = [text_request("text-echo", "a"), text_request("text-echo", "b")]
    bad = list(v2.StreamModelOutputs(iter(requests), metadata=key("wrong"), timeout=10))
    assert [a.status.code for a in bad] == [sc.CONN_KEY_INVALID] * 2  # each request answered, as unary
    none = list(v2.StreamModelOutputs(iter(requests), metadata=(), timeout=10))
    assert [a.status.code for a in none] == [sc.CONN_KEY_NOT_FOUND] * 2


def test_bidi_methods_are_grpc_only(server):
    for path in ("/v2/models/outputs/stream", "/v2/models/versions/upload", "/v2/runners/items/process",
                 "/v2/pipeline_step_versions/upload", "/v2/artifact_versions/upload"):
        status, body = rest(server, "POST", path, {})
        assert (status, body) == (501, {"code": 12, "message": "Method not implemented"}), path


# by method: the resource its fields are named after, its version message, the status of the
# stream's last message and the version's status once uploaded
UPLOADS = {
    "PostModelVersionsUpload": ("model", r.ModelVersion, sc.MODEL_BUILDING, sc.MODEL_TRAINED),
    "PostPipelineStepVersionsUpload": ("pipeline_step", r.PipelineStepVersion, sc.PIPELINE_STEP_BUILDING,
                                       sc.PIPELINE_STEP_READY),
    "PostArtifactVersionsUpload": ("artifact", r.ArtifactVersion, sc.UPLOAD_DONE, sc.UPLOAD_DONE),
}
UPLOAD_TARGET = "upload-target"  # a model the module's server gets once (the SDK creates the model first)
DATA = bytes(range(256)) * 10  # 2,560 bytes


@pytest.fixture(scope="module")
def upload_target(server):
    model = r.Model(id=UPLOAD_TARGET, model_type_id="text-to-text")
    grpc_stub(server).PostModels(s.PostModelsRequest(model=model), metadata=key())
    return UPLOAD_TARGET


def config(method, total_size, version_id="", resource_id=UPLOAD_TARGET):
    resource, version = UPLOADS[method][:2]
    fields = {f"{resource}_id": resource_id, f"{resource}_version": version(id=version_id)}
    return getattr(s, method + "Request")(upload_config=getattr(s, method + "Config")(
        user_app_id=app("main"), total_size=total_size, **fields))


def part(method, number, range_start, data):
    content = r.UploadContentPart(part_number=number, range_start=range_start, data=data)
    return getattr(s, method + "Request")(content_part=content)


def version_id(method, answer):
    return getattr(answer, UPLOADS[method][0] + "_version_id")


def upload(v2, method, *messages, metadata=key()):
    return list(getattr(v2, method)(iter(messages), metadata=metadata, timeout=10))


def version_status(stub, method, vid):
    """The uploaded version's status, as its Get method shows it."""
    ids = {"user_app_id": app("main")}
    if method == "PostModelVersionsUpload":
        got = stub.GetModelVersion(s.GetModelVersionRequest(model_id=UPLOAD_TARGET, version_id=vid, **ids),
                                   metadata=key())
        return got.status, got.model_version.status
    if method == "PostPipelineStepVersionsUpload":
        got = stub.GetPipelineStepVersion(s.GetPipelineStepVersionRequest(
            pipeline_step_id=UPLOAD_TARGET, pipeline_step_version_id=vid, **ids), metadata=key())
        return got.status, got.pipeline_step_version.status
    got = stub.GetArtifactVersion(s.GetArtifactVersionRequest(
        artifact_id=UPLOAD_TARGET, artifact_version_id=vid, **ids), metadata=key())
    return got.status, got.artifact_version.upload.status


@pytest.mark.parametrize("method", UPLOADS)
def test_upload_conversation(server, v2, upload_target, method):
    clear_recorded_requests(server.rest_url)
    call = Duplex(getattr(v2, method))
    call.send(config(method, len(DATA)))
    started = call.recv()
    vid = version_id(method, started)
    assert started.status.code == sc.UPLOAD_IN_PROGRESS and started.bytes_remaining == len(DATA) and len(vid) == 32
    for number, start in enumerate(range(0, len(DATA), 1000), 1):
        call.send(part(method, number, start, DATA[start:start + 1000]))
        ack = call.recv()
        remaining = max(0, len(DATA) - start - 1000)
        assert (ack.status.code, ack.bytes_remaining) == (sc.UPLOAD_IN_PROGRESS, remaining)
        assert version_id(method, ack) == vid
        assert ack.status.details == f"part {number} received"
        assert ack.status.percent_completed == (len(DATA) - remaining) * 100 // len(DATA)
    done = call.recv()  # after the last part's acknowledgement, without waiting for the half-close
    assert (done.status.code, done.bytes_remaining, version_id(method, done)) == (UPLOADS[method][2], 0, vid)
    call.close()
    assert call.rest() == []
    rec = last_record(server, method)
    assert rec["stream"] == {"received": 4, "sent": 5, "half_closed": True, "cancelled": False, "finished": True,
                             "code": "OK"}
    assert rec["request"]["upload_config"]["total_size"] == str(len(DATA))
    for stub in (json_stub(server), grpc_stub(server)):  # GetModelVersion & co. serve both fronts
        got, status = version_status(stub, method, vid)
        assert got.code == sc.SUCCESS and status.code == UPLOADS[method][3]
    (listed,) = [u for u in rest(server, "GET", "/_test/uploads")[1] if u["version_id"] == vid]
    assert listed == {"resource": UPLOADS[method][0], "id": UPLOAD_TARGET, "version_id": vid,
                      "user_id": "test-user", "app_id": "main", "total_size": len(DATA), "received": len(DATA),
                      "parts": 3, "complete": True, "sha256": hashlib.sha256(DATA).hexdigest()}


def test_uploaded_model_version_predicts(v2, upload_target):
    method = "PostModelVersionsUpload"
    answers = upload(v2, method, config(method, 3), part(method, 1, 0, b"abc"))
    vid = version_id(method, answers[-1])
    resp = predict(v2, UPLOAD_TARGET, r.Data(text=r.Text(raw="hi")), version_id=vid)
    assert resp.outputs[0].data.text.raw == "echo: hi" and resp.outputs[0].model.model_version.id == vid


@pytest.mark.parametrize("method", UPLOADS)
@pytest.mark.parametrize("case", ["part first", "second config", "wrong part_number", "wrong range_start",
                                  "past total_size", "after completion", "empty message"])
def test_upload_refused_orders(server, v2, upload_target, method, case):
    c = config(method, 20)
    p1, p2 = part(method, 1, 0, b"x" * 10), part(method, 2, 10, b"y" * 10)
    messages, expected, remaining = {  # the messages, the refusal's status and its bytes_remaining
        "part first": ([p1, c], sc.UPLOAD_FAILED, 0),
        "second config": ([c, c, p1], sc.UPLOAD_CONFLICT, 20),
        "wrong part_number": ([c, part(method, 2, 0, b"x" * 10), p1], sc.UPLOAD_CONFLICT, 20),
        "wrong range_start": ([c, p1, part(method, 2, 5, b"y" * 10), p2], sc.UPLOAD_CONFLICT, 10),
        "past total_size": ([c, p1, part(method, 2, 10, b"y" * 11), p2], sc.UPLOAD_FAILED, 10),
        "after completion": ([c, p1, p2, part(method, 3, 20, b"z")], sc.UPLOAD_CONFLICT, 0),
        "empty message": ([c, getattr(s, method + "Request")(), p1], sc.UPLOAD_FAILED, 20),
    }[case]
    answers = upload(v2, method, *messages)
    refusal = answers[-1]  # the last message: the server reads no further
    assert refusal.status.code == expected and refusal.status.details and refusal.bytes_remaining == remaining
    assert all(a.status.code != expected for a in answers[:-1])
    if case == "part first":
        assert len(answers) == 1 and not version_id(method, refusal)
    else:  # where the upload stands, to resume it
        assert version_id(method, refusal) == version_id(method, answers[0])
    assert last_record(server, method)["stream"]["code"] == "OK"


@pytest.mark.parametrize("method", UPLOADS)
def test_upload_config_is_checked(v2, upload_target, method):
    (no_size,) = upload(v2, method, config(method, 0))
    (no_id,) = upload(v2, method, config(method, 5, resource_id=""))
    invalid = {"model": sc.MODEL_INVALID_ARGUMENT, "pipeline_step": sc.PIPELINE_STEP_INVALID_ARGUMENT,
               "artifact": sc.ARTIFACT_INVALID_ARGUMENT}[UPLOADS[method][0]]
    assert no_size.status.code == no_id.status.code == invalid
    (bad_key,) = upload(v2, method, config(method, 5), part(method, 1, 0, b"12345"), metadata=key("wrong"))
    assert bad_key.status.code == sc.CONN_KEY_INVALID
    (no_key,) = upload(v2, method, config(method, 5), metadata=())
    assert no_key.status.code == sc.CONN_KEY_NOT_FOUND


def test_upload_needs_an_existing_model(v2):
    method = "PostModelVersionsUpload"
    (answer,) = upload(v2, method, config(method, 5, resource_id="no-such-model"), part(method, 1, 0, b"12345"))
    assert answer.status.code == sc.MODEL_DOES_NOT_EXIST


def test_upload_range_start_conventions(v2, upload_target):
    # ModelBuilder (`clarifai model upload`) sends range_start = where the part ENDS; Model.upload the start
    method = "PostModelVersionsUpload"
    answers = upload(v2, method, config(method, 20), part(method, 1, 10, b"x" * 10), part(method, 2, 20, b"y" * 10))
    assert [a.status.code for a in answers] == [sc.UPLOAD_IN_PROGRESS] * 3 + [sc.MODEL_BUILDING]
    # the pipeline step and artifact uploaders send the start only
    for method in ("PostPipelineStepVersionsUpload", "PostArtifactVersionsUpload"):
        answers = upload(v2, method, config(method, 20), part(method, 1, 10, b"x" * 10))
        assert answers[-1].status.code == sc.UPLOAD_CONFLICT


def test_upload_takes_the_sdks_part_size(v2, upload_target):
    # Model.create_version_by_file sends 10,240,000-byte parts, ModelBuilder 127 MiB: over grpc's default 4 MiB
    method, data = "PostModelVersionsUpload", os.urandom(10_240_000)
    answers = upload(v2, method, config(method, len(data)), part(method, 1, 0, data))
    assert [a.status.code for a in answers] == [sc.UPLOAD_IN_PROGRESS] * 2 + [sc.MODEL_BUILDING]


@pytest.mark.parametrize("method", UPLOADS)
def test_upload_resumes_in_a_new_stream(server, v2, upload_target, method):
    first = upload(v2, method, config(method, 20), part(method, 1, 0, b"x" * 10))  # then half-closed
    vid = version_id(method, first[0])
    assert [(a.status.code, a.bytes_remaining) for a in first] == [(sc.UPLOAD_IN_PROGRESS, 20),
                                                                    (sc.UPLOAD_IN_PROGRESS, 10)]
    _, status = version_status(grpc_stub(server), method, vid)
    assert status.code == {"model": sc.MODEL_UPLOADING, "pipeline_step": sc.PIPELINE_STEP_UPLOADING,
                           "artifact": sc.UPLOAD_IN_PROGRESS}[UPLOADS[method][0]]
    (conflict,) = upload(v2, method, config(method, 30, vid))
    assert conflict.status.code == sc.UPLOAD_CONFLICT  # another total_size
    second = upload(v2, method, config(method, 20, vid), part(method, 2, 10, b"y" * 10))
    assert [(a.status.code, a.bytes_remaining, version_id(method, a)) for a in second] == [
        (sc.UPLOAD_IN_PROGRESS, 10, vid), (sc.UPLOAD_IN_PROGRESS, 0, vid), (UPLOADS[method][2], 0, vid)]
    assert second[0].status.details == "resumed after part 1: send part 2 at range_start 10"
    (complete,) = upload(v2, method, config(method, 20, vid))
    assert complete.status.code == sc.UPLOAD_CONFLICT
    # a version id the client picks (the pipeline step uploader does) names a new upload
    (mine,) = upload(v2, method, config(method, 20, "my-version"))
    assert version_id(method, mine) == "my-version"


def runner_hello(runner_id, code=sc.RUNNER_STREAM_START):
    """The runner's first message, as clarifai_protocol's BaseRunner sends it."""
    return s.PostRunnerItemOutputsRequest(user_app_id=app("main"), nodepool_id="nodepool",
                                          compute_cluster_id="cluster", runner_id=runner_id,
                                          status=st.Status(code=code))


def runner_result(item):
    text = item.post_model_outputs_request.inputs[0].data.text.raw
    output = r.Output(status=st.Status(code=sc.SUCCESS), data=r.Data(text=r.Text(raw="done: " + text)))
    response = s.MultiOutputResponse(status=st.Status(code=sc.SUCCESS), outputs=[output])
    return s.PostRunnerItemOutputsRequest(runner_item_id=item.id, status=st.Status(code=sc.SUCCESS),
                                          runner_item_outputs=[s.RunnerItemOutput(multi_output_response=response)])


def runner_results(srv, clear=False):
    req = urllib.request.Request(srv.rest_url + "/_test/runner-results", method="DELETE" if clear else "GET")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


@pytest.mark.parametrize("runner_id,count", [("runner-3-items", 3), ("my-runner", 1), ("runner-0-items", 0)])
def test_runner_conversation(server, v2, runner_id, count):
    runner_results(server, clear=True)
    call = Duplex(v2.ProcessRunnerItems)
    call.send(runner_hello(runner_id))
    items = [call.recv() for _ in range(count)]  # pushed at once, one per message
    assert all(m.status.code == sc.SUCCESS and len(m.runner_items) == 1 for m in items)
    items = [m.runner_items[0] for m in items]
    assert [i.id for i in items] == [f"item-{n}" for n in range(count)]
    for n, item in enumerate(items):
        request = item.post_model_outputs_request
        assert request.model_id == "text-echo" and request.inputs[0].data.text.raw == f"work item {n}"
        assert item.processing_info.runner_method_type == r.UNARY_UNARY
    call.send(*[runner_result(item) for item in reversed(items)])  # results in any order
    end = call.recv()
    assert end.status.code == sc.RUNNER_STREAM_END and not end.runner_items
    call.close()
    assert call.rest() == []
    results = runner_results(server)
    assert [x["result"]["runner_item_id"] for x in results] == [f"item-{n}" for n in reversed(range(count))]
    assert all(x["runner_id"] == runner_id for x in results)
    if count:
        output = results[-1]["result"]["runner_item_outputs"][0]["multi_output_response"]["outputs"][0]
        assert output["data"]["text"]["raw"] == "done: work item 0"
    rec = last_record(server, "ProcessRunnerItems")
    assert rec["request"]["runner_id"] == runner_id and rec["request"]["status"]["code"] == sc.RUNNER_STREAM_START
    assert rec["stream"] == {"received": 1 + count, "sent": count + 1, "half_closed": True, "cancelled": False,
                             "finished": True, "code": "OK"}


def test_runner_refusals(v2):
    def run(*messages, metadata=key()):
        return list(v2.ProcessRunnerItems(iter(messages), metadata=metadata, timeout=10))

    (no_handshake,) = run(runner_hello("runner-3-items", code=sc.SUCCESS))
    assert no_handshake.status.code == sc.RUNNER_INVALID_REQUEST and not no_handshake.runner_items
    (no_id,) = run(runner_hello(""))
    assert no_id.status.code == sc.RUNNER_INVALID_ARGUMENT
    (bad_key,) = run(runner_hello("runner-3-items"), metadata=key("wrong"))
    assert bad_key.status.code == sc.CONN_KEY_INVALID
    answers = run(runner_hello("runner-1-items"), s.PostRunnerItemOutputsRequest(runner_item_id="item-7"))
    assert [a.status.code for a in answers] == [sc.SUCCESS, sc.RUNNER_INVALID_ARGUMENT]
    assert "item-7" in answers[1].status.details
    assert run() == []  # half-closed at once: nothing to say


def test_runner_control_connection_gets_no_work(server, v2):
    # BaseRunner (clarifai-protocol) also opens a stream as "control-<runner id>" to hear of cancellations
    clear_recorded_requests(server.rest_url)
    call = Duplex(v2.ProcessRunnerItems)
    call.send(runner_hello("control-my-runner"))
    call.close()
    assert call.rest() == []
    assert last_record(server, "ProcessRunnerItems")["stream"] == {
        "received": 1, "sent": 0, "half_closed": True, "cancelled": False, "finished": True, "code": "OK"}


def test_runner_cancel_is_observed(server, v2):
    runner_results(server, clear=True)
    clear_recorded_requests(server.rest_url)
    call = Duplex(v2.ProcessRunnerItems)
    call.send(runner_hello("runner-3-items"))
    items = [call.recv().runner_items[0] for _ in range(3)]
    call.send(runner_result(items[0]))
    deadline = time.monotonic() + 5
    while not runner_results(server) and time.monotonic() < deadline:
        time.sleep(0.02)
    call.answers.cancel()
    rec = last_record(server, "ProcessRunnerItems")
    assert rec["stream"] == {"received": 2, "sent": 3, "half_closed": False, "cancelled": True, "finished": False,
                             "code": "CANCELLED"}
    assert [x["result"]["runner_item_id"] for x in runner_results(server)] == ["item-0"]


# --- gRPC fault hooks ------------------------------------------------------------------------


def plain_stub(channel):
    """A V2Stub over a channel made without ClarifaiChannel: V2Stub reads a module global that
    only ClarifaiChannel's factories set, so set it for the gRPC (binary) case first."""
    clarifai_channel.wrap_response_deserializer = clarifai_channel._response_deserializer_for_grpc
    return service_pb2_grpc.V2Stub(channel)


@pytest.mark.parametrize("model_id,code,details", [
    ("grpc-unavailable", grpc.StatusCode.UNAVAILABLE, "try later"),
    ("grpc-unauthenticated", grpc.StatusCode.UNAUTHENTICATED, "invalid credentials"),
    ("grpc-message-encoding", grpc.StatusCode.INTERNAL, "bad ünïcode 100%"),
])
def test_grpc_fault_aborts(server, model_id, code, details):
    stub = grpc_stub(server)
    calls = [lambda: stub.PostModelOutputs(text_request(model_id), metadata=key("wrong")),  # before auth
             lambda: list(stub.GenerateModelOutputs(text_request(model_id), metadata=key()))]
    for call in calls:
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert (err.value.code(), err.value.details()) == (code, details)


def test_grpc_unavailable_is_retried_by_the_official_client(server):
    clear_recorded_requests(server.rest_url)
    with pytest.raises(grpc.RpcError):
        grpc_stub(server).PostModelOutputs(text_request("grpc-unavailable"), metadata=key())
    tries = [x for x in recorded_requests(server.rest_url) if x["request"].get("model_id") == "grpc-unavailable"]
    assert 1 <= len(tries) <= 5  # its service config: retryPolicy maxAttempts 5 on UNAVAILABLE


def test_grpc_fault_deadline(server):
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as err:
        grpc_stub(server).PostModelOutputs(text_request("grpc-deadline"), metadata=key(), timeout=0.3)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and time.monotonic() - started < 2


def test_grpc_fault_big(server):
    resp = grpc_stub(server).PostModelOutputs(text_request("grpc-big"), metadata=key())  # 1 GB limit
    assert resp.status.code == sc.SUCCESS and resp.outputs[0].data.text.raw == "x" * (5 * 1024 * 1024)
    with grpc.insecure_channel(server.grpc_target) as channel:  # grpc's default limit: 4 MB
        with pytest.raises(grpc.RpcError) as err:
            plain_stub(channel).PostModelOutputs(text_request("grpc-big"), metadata=key())
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_grpc_faults_are_grpc_only(server):
    status, body = rest(server, "POST", "/v2/models/grpc-unavailable/outputs",
                        {"inputs": [{"data": {"text": {"raw": "x"}}}]})
    assert status == 404 and body["status"]["code"] == sc.MODEL_DOES_NOT_EXIST


# --- compression -----------------------------------------------------------------------------


def test_compression_round_trip(server):
    stub = grpc_stub(server)
    compress = key() + (("x-test-compress", "gzip"),)
    resp = stub.PostModelOutputs(text_request("grpc-big"), metadata=compress)
    assert len(resp.outputs[0].data.text.raw) == 5 * 1024 * 1024
    assert [m.outputs[0].id for m in generate(stub, "stream-count", "3", metadata=compress)] == [
        "out-0", "out-1", "out-2"]
    # the client compressing its request works too
    resp = stub.PostModelOutputs(text_request("text-echo", "zipped"), metadata=key(),
                                 compression=grpc.Compression.Gzip)
    assert resp.outputs[0].data.text.raw == "echo: zipped"


def curl_has_http2():
    if not shutil.which("curl"):
        return False
    return "HTTP2" in subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout


def curl_grpc(target, method, request, *headers):
    """One gRPC call with curl (h2c prior knowledge), as a libcurl client makes it:
    (response headers and trailers as lowercase name -> value, body bytes)."""
    frame = b"\0" + struct.pack(">I", request.ByteSize()) + request.SerializeToString()
    args = ["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10", "-D", "-", "-o", "/dev/stderr",
            "-H", "content-type: application/grpc", "-H", "te: trailers", "-H", "authorization: Key test-pat",
            *[a for h in headers for a in ("-H", h)], "--data-binary", "@-",
            f"http://{target}/clarifai.api.V2/{method}"]
    done = subprocess.run(args, input=frame, capture_output=True, check=True)
    fields = dict(line.split(": ", 1) for line in done.stdout.decode().splitlines() if ": " in line)
    return {k.lower(): v for k, v in fields.items()}, done.stderr


@pytest.mark.skipif(not curl_has_http2(), reason="needs curl with HTTP/2")
def test_wire_with_curl(server):
    # x-test-compress: gzip -> grpc-encoding gzip, compressed-flag 1 on a compressible message
    fields, body = curl_grpc(server.grpc_target, "PostModelOutputs", text_request("grpc-big"),
                             "x-test-compress: gzip")
    assert fields["grpc-encoding"] == "gzip" and fields["grpc-status"] == "0"
    assert body[0] == 1 and len(body) < 100000
    # grpc-core sends gzip even when the client does not accept it (grpcio cannot see that header)
    fields, body = curl_grpc(server.grpc_target, "PostModelOutputs", text_request("grpc-big"),
                             "x-test-compress: gzip", "grpc-accept-encoding: identity")
    assert fields["grpc-encoding"] == "gzip" and body[0] == 1
    # without the option: identity
    fields, body = curl_grpc(server.grpc_target, "PostModelOutputs", text_request("text-echo", "hi"))
    assert "grpc-encoding" not in fields and body[0] == 0 and fields["grpc-status"] == "0"
    # grpc-message is percent-encoded (UTF-8 bytes and "%"), in a trailers-only response
    fields, body = curl_grpc(server.grpc_target, "PostModelOutputs", text_request("grpc-message-encoding"))
    assert fields["grpc-status"] == "13" and fields["grpc-message"] == "bad %C3%BCn%C3%AFcode 100%25"
    assert body == b""


# --- TLS -------------------------------------------------------------------------------------


def test_no_tls_port_by_default(server):
    assert server.grpcs_port is None and server.grpcs_target is None and server.tls_cert is None


def test_tls_port():
    with start_server(tls=True) as srv:
        assert srv.grpcs_target == f"127.0.0.1:{srv.grpcs_port}" and os.path.exists(srv.tls_cert)
        assert srv.grpcs_port not in (srv.grpc_port, srv.rest_port)
        cert = Path(srv.tls_cert).read_bytes()
        assert cert.startswith(b"-----BEGIN CERTIFICATE-----")

        # trusted: the official secure channel given the certificate as its root
        stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_grpc_channel(
            base=srv.grpcs_target, root_certificates_path=srv.tls_cert))
        resp = stub.PostModelOutputs(text_request("text-echo", "tls"), metadata=key(), timeout=10)
        assert resp.outputs[0].data.text.raw == "echo: tls"
        assert len(list(generate(stub, "stream-count", "100", timeout=10))) == 100
        # also by name (DNS:localhost) with plain grpc
        with grpc.secure_channel(f"localhost:{srv.grpcs_port}",
                                 grpc.ssl_channel_credentials(root_certificates=cert)) as channel:
            assert plain_stub(channel).ListModels(s.ListModelsRequest(), metadata=key(), timeout=10).models

        # not trusted: the system roots do not know the self-signed certificate
        untrusting = service_pb2_grpc.V2Stub(ClarifaiChannel.get_grpc_channel(base=srv.grpcs_target))
        with pytest.raises(grpc.RpcError) as err:
            untrusting.ListModels(s.ListModelsRequest(), metadata=key(), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        # cleartext to the TLS port fails; the cleartext port still works
        with grpc.insecure_channel(srv.grpcs_target) as channel:
            with pytest.raises(grpc.RpcError) as err:
                plain_stub(channel).ListModels(s.ListModelsRequest(), metadata=key(), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert grpc_stub(srv).ListModels(s.ListModelsRequest(), metadata=key()).models
    assert srv.process.returncode == 0 and not os.path.exists(srv.tls_cert)  # the temp dir is gone


def test_tls_options_go_together():
    with pytest.raises(RuntimeError):
        start_server(extra_args=["--tls-cert", __file__], stderr=subprocess.DEVNULL)
