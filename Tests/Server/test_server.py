"""Tests of the local Clarifai test server, through the OFFICIAL clarifai-grpc client.

`stub` runs a test over both channels of the official client: its JSON channel (REST) and its
insecure gRPC channel. Each stub is built right after its own channel (the client switches a
module-global deserializer when a channel is created). The JSON channel cannot send a request
holding a Concept (it crashes in its own code), so those requests go over gRPC only.
"""

import base64
import http.client
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2 as r
from clarifai_grpc.grpc.api import service_pb2 as s
from clarifai_grpc.grpc.api import service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2 as sc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import server as server_module  # noqa: E402
from testserver import clear_recorded_requests, recorded_requests, start_server  # noqa: E402


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
    page = stub.ListModels(s.ListModelsRequest(user_app_id=where, page=3, per_page=2), metadata=key())
    assert [m.id for m in page.models] == ["my-echo"]
    got = stub.GetModel(s.GetModelRequest(user_app_id=where, model_id="my-echo"), metadata=key())
    assert got.model.model_version.id == made.model.model_version.id
    out = stub.PostModelOutputs(s.PostModelOutputsRequest(user_app_id=where, model_id="my-echo",
                                                          inputs=[r.Input(data=TEXT)]), metadata=key())
    assert out.outputs[0].data.text.raw == "echo: hello world"


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
