"""The C API through ctypes: calls, struct buffers, environment, headers and failure modes."""
import ctypes
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time

import pytest

import capi
from testserver import clear_recorded_requests, recorded_requests


def predict_url(lib, client, model, url):
    handle = ctypes.c_void_p()
    code = lib.clarifai_predict_url(client, model.encode(), None, url.encode(), ctypes.byref(handle))
    return code, handle.value


class MisbehavingServer(http.server.ThreadingHTTPServer):
    """Answers every request by the first path segment of its URL: a stand-in for proxies and
    broken servers that the local Clarifai server is not."""

    daemon_threads = True

    class Handler(http.server.BaseHTTPRequestHandler):
        answers = {
            "html502": (502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
            "foreign-json": (200, "application/json", b'{"hello": "world"}'),
            "not-json": (200, "text/plain", b"this is not json"),
            "gateway-json": (503, "application/json", b'{"code": 14, "message": "unavailable"}'),
            "enum-status": (200, "application/json", b'{"status": {"code": "CONN_THROTTLED", "description": "slow down"}}'),
            # What a newer server may send: a field and an enum value this schema does not know.
            "newer-server": (200, "application/json", b'{"status": {"code": 10000, "description": "Ok"}, "concepts": '
                             b'[{"id": "c1", "name": "cat", "value": 0.5, "visibility": {"gettable": "FUTURE_LEVEL"}}], '
                             b'"brand_new_field": {"x": [1, 2]}}'),
        }

        def do_GET(self):
            kind = self.path.split("/")[1]
            if kind == "hang":
                time.sleep(5)
            status, content_type, body = self.answers.get(kind, (404, "text/plain", b"no"))
            # "<kind>-N-<tag>": N failures of <kind> for <tag>, then a Clarifai success. A "slow"
            # failure is an html502 one (503 text/html) that comes after 200 ms.
            if kind.count("-") >= 2 and kind.split("-")[0] in ("html502", "throttled", "slow"):
                failing, count, _ = kind.split("-", 2)
                with self.server.lock:
                    seen = self.server.attempts[kind] = self.server.attempts.get(kind, 0) + 1
                if seen > int(count):
                    status, content_type, body = 200, "application/json", b'{"status": {"code": 10000}}'
                elif failing == "throttled":
                    status, content_type, body = 429, "application/json", b'{"status": {"code": 11005}}'
                else:
                    if failing == "slow":
                        time.sleep(0.2)
                    status, content_type, body = 503, "text/html", b"<html>busy</html>"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (the deadline test)

        do_POST = do_GET

        def log_message(self, *args):
            pass


MISBEHAVING_COUNTS = {}


@pytest.fixture(scope="module")
def misbehaving():
    server = MisbehavingServer(("127.0.0.1", 0), MisbehavingServer.Handler)
    server.lock, server.attempts = threading.Lock(), {}
    url = f"http://127.0.0.1:{server.server_address[1]}"
    MISBEHAVING_COUNTS[url] = lambda kind: server.attempts.get(kind, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield url
    server.shutdown()


def test_versions(lib):
    assert lib.clarifai_version() == b"1.1.0"
    assert lib.clarifai_api_version() == b"12.6.0"
    names = [lib.clarifai_method_name(i).decode() for i in range(lib.clarifai_method_count())]
    assert len(names) == 273 and "PostModelOutputs" in names and "ListConcepts" in names
    assert lib.clarifai_method_name(273) is None


def test_call_returns_the_servers_json(lib, any_client, server):
    created = capi.call(lib, any_client, "PostInputs", {"inputs": [{"id": "one", "data": {"image": {"url": "https://x/1.jpg"}}}]})
    assert created.code == capi.OK, created.error
    listed = capi.call(lib, any_client, "ListInputs", {"per_page": 10})
    assert listed.code == capi.OK and listed.error == ""
    assert listed.status_code == 10000
    assert [item["id"] for item in listed.json["inputs"]] == ["one"]
    assert listed.json["status"]["req_id"].startswith("libclarifai-c-1.1.0")


def test_sends_auth_and_identifying_headers(lib, client, server):
    clear_recorded_requests(server.rest_url)
    assert capi.call(lib, client, "ListConcepts").code == capi.OK
    [record] = recorded_requests(server.rest_url)
    assert record["authorization"] == "Key " + server.token
    assert record["headers"]["x-clarifai-request-id-prefix"] == "libclarifai-c-1.1.0"
    assert record["headers"]["user-agent"].startswith("libclarifai/1.1.0 (libcurl/")
    assert record["http_method"] == "GET" and record["raw_path"].startswith("/v2/users/test-user/apps/")


def test_user_app_id_filled_from_the_client_where_the_request_leaves_it_out(lib, any_client, server, app_id):
    clear_recorded_requests(server.rest_url)
    capi.call(lib, any_client, "ListConcepts")
    capi.call(lib, any_client, "ListConcepts", {"user_app_id": {"user_id": "someone", "app_id": "other"}})
    capi.call(lib, any_client, "ListConcepts", {"userAppId": {"appId": "other"}})
    first, second, third = recorded_requests(server.rest_url)
    assert first["request"]["user_app_id"] == {"user_id": "test-user", "app_id": app_id}
    assert second["request"]["user_app_id"] == {"user_id": "someone", "app_id": "other"}
    assert third["request"]["user_app_id"] == {"user_id": "test-user", "app_id": "other"}


def test_prediction_structs(lib, any_client):
    code, handle = predict_url(lib, any_client, "general-image-recognition", "https://samples.clarifai.com/metro-north.jpg")
    assert code == capi.OK
    concepts, count = ctypes.POINTER(capi.Concept)(), ctypes.c_size_t()
    assert lib.clarifai_response_concepts(handle, 0, ctypes.byref(concepts), ctypes.byref(count)) == capi.OK
    body = json.loads(lib.clarifai_response_json(handle))
    expected = body["outputs"][0]["data"]["concepts"]
    assert count.value == len(expected) == 20
    for got, want in zip(concepts[:count.value], expected):
        assert (got.id.decode(), got.name.decode(), got.app_id.decode()) == (want["id"], want["name"], want.get("app_id", ""))
        assert got.value == pytest.approx(want["value"], rel=1e-6)
    lib.clarifai_response_free(handle)


def test_region_and_embedding_structs(lib, any_client):
    code, handle = predict_url(lib, any_client, "general-image-detection", "https://x/regions.jpg")
    assert code == capi.OK
    regions, count = ctypes.POINTER(capi.Region)(), ctypes.c_size_t()
    assert lib.clarifai_response_regions(handle, 0, ctypes.byref(regions), ctypes.byref(count)) == capi.OK
    expected = json.loads(lib.clarifai_response_json(handle))["outputs"][0]["data"]["regions"]
    assert count.value == len(expected) >= 1
    for got, want in zip(regions[:count.value], expected):
        box = want["region_info"]["bounding_box"]
        assert got.top_row == pytest.approx(box["top_row"]) and got.right_col == pytest.approx(box["right_col"])
        assert [got.concepts[i].name.decode() for i in range(got.concept_count)] == [c["name"] for c in want["data"]["concepts"]]
    lib.clarifai_response_free(handle)

    code, handle = predict_url(lib, any_client, "general-image-embedding", "https://x/embed.jpg")
    vector, dim = ctypes.POINTER(ctypes.c_float)(), ctypes.c_size_t()
    assert lib.clarifai_response_embedding(handle, 0, ctypes.byref(vector), ctypes.byref(dim)) == capi.OK
    expected = json.loads(lib.clarifai_response_json(handle))["outputs"][0]["data"]["embeddings"][0]["vector"]
    assert vector[:dim.value] == pytest.approx(expected, rel=1e-6)
    lib.clarifai_response_free(handle)


def test_predict_inputs_of_every_kind(lib, any_client, server):
    image = b"\x00\x01binary\xff"
    inputs = (capi.Input * 4)(
        capi.Input(capi.INPUT_IMAGE, b"https://x/a.jpg", None, 0, None, b"by-url"),
        capi.Input(capi.INPUT_IMAGE, None, ctypes.cast(ctypes.c_char_p(image), ctypes.c_void_p), len(image), None, b"by-bytes"),
        capi.Input(capi.INPUT_VIDEO, b"https://x/v.mp4", None, 0, None, None),
        capi.Input(capi.INPUT_AUDIO, b"https://x/a.wav", None, 0, None, None),
    )
    clear_recorded_requests(server.rest_url)
    handle = ctypes.c_void_p()
    code = lib.clarifai_predict(any_client, b"general-image-recognition", None, inputs, 4, ctypes.byref(handle))
    assert code == capi.OK, lib.clarifai_last_error()
    assert lib.clarifai_response_output_count(handle) == 4
    lib.clarifai_response_free(handle)
    [record] = recorded_requests(server.rest_url)
    sent = record["request"]["inputs"]
    assert sent[0] == {"id": "by-url", "data": {"image": {"url": "https://x/a.jpg"}}}
    import base64
    assert base64.b64decode(sent[1]["data"]["image"]["base64"]) == image
    assert sent[2]["data"]["video"]["url"] == "https://x/v.mp4" and sent[3]["data"]["audio"]["url"] == "https://x/a.wav"


def test_version_id_selects_the_versioned_path(lib, client, server, app_id):
    clear_recorded_requests(server.rest_url)
    handle = ctypes.c_void_p()
    code = lib.clarifai_predict_url(client, b"general-image-recognition", b"v-1", b"https://x/a.jpg", ctypes.byref(handle))
    error = lib.clarifai_last_error().decode()
    lib.clarifai_response_free(handle)
    [record] = recorded_requests(server.rest_url)
    assert record["raw_path"] == f"/v2/users/test-user/apps/{app_id}/models/general-image-recognition/versions/v-1/outputs"
    assert code == capi.API and "version 'v-1' not found" in error, error  # the server read v-1 from the path


def test_api_error_hands_out_the_response(lib, any_client):
    result = capi.call(lib, any_client, "GetInput", {"input_id": "missing"})
    assert result.code == capi.API
    assert result.status_code == 30102 and result.json["status"]["code"] == 30102
    assert "GetInput" in result.error and "30102" in result.error


def test_environment_supplies_base_url_and_token(server):
    """CLARIFAI_API_BASE and CLARIFAI_PAT are read when the arguments are NULL (in a child
    process, so that this process's environment stays as it is)."""
    script = (
        "import sys, ctypes; sys.path.insert(0, %r); import capi\n"
        "lib = capi.load(); client = capi.new_client(lib, None, None, 'test-user', 'env-app')\n"
        "print(capi.call(lib, client, 'ListConcepts').status_code)\n" % str(capi.ROOT / "Tests" / "Python"))
    env = dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_PAT=server.token)
    assert subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "10000"
    env.pop("CLARIFAI_PAT")
    script = "import sys; sys.path.insert(0, %r); import capi; lib = capi.load(); ch = lib.clarifai_channel_new_json(None)\n" \
             "print(lib.clarifai_client_new(ch, None, None, None), lib.clarifai_last_error().decode())" % str(capi.ROOT / "Tests" / "Python")
    assert subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "None no token: pass a PAT or API key, or set CLARIFAI_PAT"


def test_bad_token_is_an_api_error_that_does_not_echo_it(lib, server):
    client = capi.new_client(lib, server.rest_url, "not-the-token", None, None)
    result = capi.call(lib, client, "ListConcepts")
    lib.clarifai_client_free(client)
    assert result.code == capi.API and result.status_code == 11008
    assert "not-the-token" not in result.error


@pytest.mark.parametrize("kind, code, words", [
    ("html502", capi.TRANSPORT, ["HTTP 502", "text/html", "Bad Gateway", "ListConcepts"]),
    ("gateway-json", capi.TRANSPORT, ["HTTP 503", "without a Clarifai status"]),
    ("foreign-json", capi.PROTOCOL, ["without a Clarifai status", "hello"]),
    ("not-json", capi.PROTOCOL, ["invalid JSON"]),
])
def test_answers_that_are_not_clarifai_replies(lib, misbehaving, kind, code, words):
    client = capi.new_client(lib, f"{misbehaving}/{kind}", "t", None, None)
    result = capi.call(lib, client, "ListConcepts")
    lib.clarifai_client_free(client)
    assert (result.code, result.json) == (code, None), result.error
    for word in words:
        assert word in result.error


def test_answer_from_a_newer_server(lib, misbehaving):
    """Fields and enum values the built-in schema does not know are skipped, as the official JSON
    parser's ignore_unknown_fields does: the call succeeds, and the JSON handed out is the
    message's (the same on every channel), without what the schema does not know."""
    client = capi.new_client(lib, f"{misbehaving}/newer-server", "t", None, None)
    result = capi.call(lib, client, "ListConcepts")
    lib.clarifai_client_free(client)
    assert (result.code, result.status_code) == (capi.OK, 10000), result.error
    assert "brand_new_field" not in result.json and result.json["status"]["code"] == 10000


def test_status_code_as_enum_name(lib, misbehaving):
    client = capi.new_client(lib, f"{misbehaving}/enum-status", "t", None, None)
    result = capi.call(lib, client, "ListConcepts")
    lib.clarifai_client_free(client)
    assert result.code == capi.API and result.status_code == 11005  # CONN_THROTTLED


def test_deadline(lib, misbehaving):
    channel = lib.clarifai_channel_new_json(f"{misbehaving}/hang".encode())
    assert lib.clarifai_channel_set_timeout_ms(channel, 300) == capi.OK
    client = lib.clarifai_client_new(channel, b"t", None, None)
    lib.clarifai_channel_free(channel)
    started = time.monotonic()
    result = capi.call(lib, client, "ListConcepts")
    elapsed = time.monotonic() - started
    lib.clarifai_client_free(client)
    assert result.code == capi.TIMEOUT and "300 ms" in result.error
    assert elapsed < 3


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """An HTTPS server with a certificate made for this test run, answering a Clarifai reply."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = MisbehavingServer(("127.0.0.1", 0), MisbehavingServer.Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()


def test_tls_is_verified_and_ca_file_is_trusted(lib, tls_server):
    url, cert = tls_server

    def list_concepts(ca_file):
        channel = lib.clarifai_channel_new_json(f"{url}/enum-status".encode())
        if ca_file:
            assert lib.clarifai_channel_set_ca_file(channel, str(ca_file).encode()) == capi.OK
        client = lib.clarifai_client_new(channel, b"t", None, None)
        lib.clarifai_channel_free(channel)
        result = capi.call(lib, client, "ListConcepts")
        lib.clarifai_client_free(client)
        return result

    untrusted = list_concepts(None)
    assert untrusted.code == capi.TRANSPORT and "certificate" in untrusted.error.lower()
    trusted = list_concepts(cert)
    assert trusted.code == capi.API and trusted.status_code == 11005


def test_last_error_is_cleared_by_success(lib, any_client):
    assert capi.call(lib, any_client, "NoSuchMethod").code == capi.INVALID_ARGUMENT
    assert lib.clarifai_last_error() != b""
    assert capi.call(lib, any_client, "ListConcepts").code == capi.OK
    assert lib.clarifai_last_error() == b""


def test_threads_share_one_client(lib, any_client):
    """ctypes releases the GIL during calls: 8 threads run through one client at once."""
    failures = []

    def work(n):
        for i in range(10):
            code, handle = predict_url(lib, any_client, "general-image-recognition", f"https://x/{n}-{i}.jpg")
            if code != capi.OK or lib.clarifai_response_output_count(handle) != 1:
                failures.append((n, i, code))
            lib.clarifai_response_free(handle)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def call_proto(lib, client, method, request_bytes):
    handle = ctypes.c_void_p()
    code = lib.clarifai_call_proto(client, method.encode(), request_bytes, len(request_bytes), ctypes.byref(handle))
    return code, handle.value


def response_bytes(lib, handle):
    data, size = ctypes.c_void_p(), ctypes.c_size_t()
    assert lib.clarifai_response_proto(handle, ctypes.byref(data), ctypes.byref(size)) == capi.OK, lib.clarifai_last_error()
    return ctypes.string_at(data, size.value)


def test_call_proto_sends_the_message_and_returns_binary(lib, any_client, server):
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2
    from google.protobuf import json_format
    request = service_pb2.PostConceptsRequest(concepts=[resources_pb2.Concept(id="cat", name="Cat")])
    code, handle = call_proto(lib, any_client, "PostConcepts", request.SerializeToString())
    assert code == capi.OK, lib.clarifai_last_error()
    answer = service_pb2.MultiConceptResponse.FromString(response_bytes(lib, handle))
    expected = json_format.Parse(lib.clarifai_response_json(handle), service_pb2.MultiConceptResponse())
    assert answer == expected and [c.id for c in answer.concepts] == ["cat"]
    lib.clarifai_response_free(handle)

    code, handle = call_proto(lib, any_client, "ListConcepts", b"")
    assert code == capi.OK and [c.id for c in service_pb2.MultiConceptResponse.FromString(response_bytes(lib, handle)).concepts] == ["cat"]
    lib.clarifai_response_free(handle)


def test_call_proto_rejects_malformed_bytes_before_sending(lib, any_client, server):
    clear_recorded_requests(server.rest_url)
    code, handle = call_proto(lib, any_client, "ListConcepts", b"\x0a\x05ab")
    assert (code, handle) == (capi.INVALID_ARGUMENT, None)
    assert "user_app_id" in lib.clarifai_last_error().decode()
    assert recorded_requests(server.rest_url) == []


@pytest.mark.parametrize("request_json, path", [
    ({"nope": 1}, "nope: unknown field"),
    ({"inputs": [{}, {"data": {"image": {"base64": "%%%"}}}]}, "inputs[1].data.image.base64: invalid base64"),
    ({"model_id": 7}, "model_id: expected a string"),
])
def test_requests_are_checked_against_the_schema_before_sending(lib, any_client, server, request_json, path):
    clear_recorded_requests(server.rest_url)
    result = capi.call(lib, any_client, "PostModelOutputs", request_json)
    assert result.code == capi.INVALID_ARGUMENT and path in result.error, result.error
    assert "PostModelOutputs" in result.error and "clarifai.api.PostModelOutputsRequest" in result.error
    assert recorded_requests(server.rest_url) == []


def test_requests_reach_the_server_in_canonical_form(lib, client, server, app_id):
    """lowerCamel names, enum names and integers as strings arrive as the same message."""
    clear_recorded_requests(server.rest_url)
    result = capi.call(lib, client, "PostInputs", {"inputs": [{"id": "a", "data": {"image": {"url": "https://x/a.jpg"}},
                                                               "status": {"code": "INPUT_DOWNLOAD_PENDING"}}]})
    assert result.code == capi.OK, result.error
    capi.call(lib, client, "ListInputs", {"perPage": "2", "page": 1})
    posted, listed = recorded_requests(server.rest_url)
    assert posted["request"]["inputs"][0]["status"] == {"code": 30001}
    assert listed["request"]["per_page"] == 2 and listed["raw_path"].endswith("?page=1&per_page=2")


def test_grpc_sends_auth_and_identifying_metadata(lib, server, app_id):
    client = capi.new_client(lib, server.grpc_target, server.token, "test-user", app_id, kind="grpc")
    clear_recorded_requests(server.rest_url)
    assert capi.call(lib, client, "ListConcepts").code == capi.OK
    lib.clarifai_client_free(client)
    [record] = recorded_requests(server.rest_url)
    assert record["front"] == "grpc" and record["method"] == "ListConcepts"
    assert record["authorization"] == "Key " + server.token
    assert record["headers"]["x-clarifai-request-id-prefix"] == "libclarifai-c-1.1.0"
    assert "libclarifai/1.1.0" in record["headers"]["user-agent"]
    assert record["request"]["user_app_id"] == {"user_id": "test-user", "app_id": app_id}


@pytest.mark.parametrize("target, words", [
    ("https://api.clarifai.com", ["without a URL scheme"]),
    ("http://127.0.0.1:1", ["without a URL scheme"]),
    ("host:0", ["port must be 1-65535"]),
    ("host:99999", ["port must be 1-65535"]),
    ("[::1", ["host[:port]"]),
    ("a/b:1", ["host[:port]"]),
])
def test_grpc_targets_are_checked(lib, target, words):
    for constructor in (lib.clarifai_channel_new_grpc, lib.clarifai_channel_new_grpc_insecure):
        assert constructor(target.encode()) is None
        for word in words:
            assert word in lib.clarifai_last_error().decode()


def test_grpc_target_from_the_environment(server):
    script = (
        "import sys; sys.path.insert(0, %r); import capi\n"
        "lib = capi.load(); client = capi.new_client(lib, None, 'test-pat', 'test-user', 'env', kind='grpc')\n"
        "print(capi.call(lib, client, 'ListConcepts').status_code)\n"
        "print(lib.clarifai_channel_new_grpc_insecure(None) is not None)\n" % str(capi.ROOT / "Tests" / "Python"))
    env = dict(os.environ, CLARIFAI_GRPC_BASE=server.grpc_target)
    assert subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          check=True).stdout.split() == ["10000", "True"]
    env.pop("CLARIFAI_GRPC_BASE")
    script = ("import sys; sys.path.insert(0, %r); import capi; lib = capi.load()\n"
              "print(lib.clarifai_channel_new_grpc_insecure(None), lib.clarifai_last_error().decode())"
              % str(capi.ROOT / "Tests" / "Python"))
    assert "CLARIFAI_GRPC_BASE" in subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                                  text=True, check=True).stdout


def test_grpc_refused_connection_is_a_transport_error(lib):
    client = capi.new_client(lib, "127.0.0.1:1", "t", kind="grpc")
    result = capi.call(lib, client, "ListConcepts")
    lib.clarifai_client_free(client)
    assert result.code == capi.TRANSPORT and "ListConcepts" in result.error and "127.0.0.1" in result.error


def test_grpc_unimplemented_method_names_the_status(lib, server):
    client = capi.new_client(lib, server.grpc_target, server.token, kind="grpc")
    result = capi.call(lib, client, "ListApps")
    lib.clarifai_client_free(client)
    assert result.code == capi.UNSUPPORTED and "gRPC status 12 UNIMPLEMENTED" in result.error


def test_streaming_on_the_rest_channel_is_unsupported(lib, client):
    callback = capi.STREAM_FN(lambda message, userdata: 0)
    code = lib.clarifai_call_stream(client, b"GenerateModelOutputs", b"{}", callback, None)
    assert code == capi.UNSUPPORTED and "gRPC channel" in lib.clarifai_last_error().decode()
    code = lib.clarifai_call_stream(client, b"ListConcepts", b"{}", callback, None)
    assert code == capi.UNSUPPORTED and "clarifai_call" in lib.clarifai_last_error().decode()
    assert lib.clarifai_call_stream(client, b"GenerateModelOutputs", b"{}", capi.STREAM_FN(), None) == capi.INVALID_ARGUMENT


def client_with_retries(lib, address, retries, timeout_ms=0, kind="rest", token=b"t"):
    channel = getattr(lib, capi.CHANNELS[kind])(address.encode())
    assert lib.clarifai_channel_set_max_retries(channel, retries) == capi.OK
    assert lib.clarifai_channel_set_timeout_ms(channel, timeout_ms) == capi.OK
    client = lib.clarifai_client_new(channel, token, b"test-user", b"retries")
    lib.clarifai_channel_free(channel)
    return client


@pytest.mark.parametrize("failing", ["html502", "throttled"])
def test_transient_failures_are_retried(lib, misbehaving, failing):
    client = client_with_retries(lib, f"{misbehaving}/{failing}-3-ok", 4)
    result = capi.call(lib, client, "ListConcepts")
    lib.clarifai_client_free(client)
    assert result.code == capi.OK and result.status_code == 10000, result.error
    assert misbehaving_attempts(misbehaving, f"{failing}-3-ok") == 4


def misbehaving_attempts(url, kind):
    """How many requests the misbehaving server got for `kind` (it counts in its handler)."""
    return MISBEHAVING_COUNTS[url](kind)


@pytest.mark.parametrize("failing, code", [("html502", capi.TRANSPORT), ("throttled", capi.API)])
def test_retries_stop_at_the_budget(lib, misbehaving, failing, code):
    client = client_with_retries(lib, f"{misbehaving}/{failing}-9-budget", 2)
    result = capi.call(lib, client, "ListConcepts")
    lib.clarifai_client_free(client)
    assert result.code == code, result.error
    assert misbehaving_attempts(misbehaving, f"{failing}-9-budget") == 3


def test_retries_never_pass_the_deadline(lib, misbehaving):
    """Every attempt fails after 200 ms: the second, after a pause of at most 10 ms, has only the
    rest of the 300 ms deadline, which passes while it waits (TIMEOUT), with 99 retries left.
    (Failures that come at once make the outcome a race: a retry may start with 1 ms left.)"""
    client = client_with_retries(lib, f"{misbehaving}/slow-100000-deadline", 100, timeout_ms=300)
    started = time.monotonic()
    result = capi.call(lib, client, "ListConcepts")
    elapsed = time.monotonic() - started
    lib.clarifai_client_free(client)
    assert result.code == capi.TIMEOUT and "deadline" in result.error, result.error
    assert misbehaving_attempts(misbehaving, "slow-100000-deadline") == 2
    assert 0.3 <= elapsed < 1.5


def test_grpc_unavailable_is_retried_then_reported(lib, server):
    client = client_with_retries(lib, server.grpc_target, 2, kind="grpc", token=server.token.encode())
    clear_recorded_requests(server.rest_url)
    result = capi.call(lib, client, "PostModelOutputs", {"model_id": "grpc-unavailable", "inputs": [{"data": {"text": {"raw": "x"}}}]})
    lib.clarifai_client_free(client)
    assert result.code == capi.TRANSPORT and "UNAVAILABLE" in result.error
    assert len([r for r in recorded_requests(server.rest_url) if r["method"] == "PostModelOutputs"]) == 3


def test_other_failures_are_not_retried(lib, server):
    client = client_with_retries(lib, server.grpc_target, 4, kind="grpc", token=server.token.encode())
    clear_recorded_requests(server.rest_url)
    result = capi.call(lib, client, "GetModel", {"model_id": "no-such-model"})
    lib.clarifai_client_free(client)
    assert result.code == capi.API
    assert len(recorded_requests(server.rest_url)) == 1


def test_max_retries_is_checked(lib):
    channel = lib.clarifai_channel_new_json(b"http://127.0.0.1:1")
    assert lib.clarifai_channel_set_max_retries(channel, -1) == capi.INVALID_ARGUMENT
    assert lib.clarifai_channel_set_max_retries(channel, 101) == capi.INVALID_ARGUMENT
    assert lib.clarifai_channel_set_max_retries(channel, 0) == capi.OK
    lib.clarifai_channel_free(channel)


def test_debug_log_names_calls_and_retries_but_not_the_token(misbehaving, server):
    def run(tag, env):
        script = (
            "import sys; sys.path.insert(0, %r); import capi\n"
            "lib = capi.load()\n"
            "client = capi.new_client(lib, %r, 'secret-token-123', 'test-user', 'log')\n"
            "capi.call(lib, client, 'ListConcepts')\n"
            "client = capi.new_client(lib, %r, %r, 'test-user', 'log')\n"
            "capi.call(lib, client, 'PostModelOutputs', {'model_id': 'text-echo', 'inputs': [{'data': {'image': {'base64': 'c2VjcmV0LWltYWdl'}}}]})\n"
            % (str(capi.ROOT / "Tests" / "Python"), f"{misbehaving}/html502-2-{tag}", server.rest_url, server.token))
        return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)

    quiet = run("quiet", dict(os.environ))
    assert quiet.stderr == "" and quiet.stdout == ""
    logged = run("debug", dict(os.environ, CLARIFAI_LOG="debug")).stderr
    assert "ListConcepts: retry 1 of 4" in logged and "ListConcepts: retry 2 of 4" in logged
    assert "HTTP 200, status 10000" in logged and "PostModelOutputs" in logged
    assert "secret-token-123" not in logged and "c2VjcmV0LWltYWdl" not in logged and server.token not in logged


def test_a_batch_whose_every_request_fails_gives_the_servers_status(lib, any_client):
    """130 inputs, both requests refused: the first failure is the batch's, with its own status
    (not MIXED_STATUS, which would claim some inputs went through)."""
    def predict_images(count):
        inputs = (capi.Input * count)(*[capi.Input(capi.INPUT_IMAGE, b"https://x/a.jpg", None, 0, None, None)] * count)
        handle = ctypes.c_void_p()
        code = lib.clarifai_predict(any_client, b"text-echo", None, inputs, count, ctypes.byref(handle))
        status = lib.clarifai_response_status_code(handle) if handle.value else None
        lib.clarifai_response_free(handle)
        return code, status

    single = predict_images(2)
    assert single == (capi.API, 10020), single  # FAILURE: every input refused
    assert predict_images(130) == single


def test_a_failing_request_of_a_batch_keeps_the_other_outputs(lib, any_client):
    """130 inputs go out as 128 + 2; the second request fails as a whole (text-echo refuses images)."""
    texts = [f"t{i}".encode() for i in range(128)]
    inputs = (capi.Input * 130)(*[capi.Input(capi.INPUT_TEXT, None, None, 0, text, None) for text in texts],
                                capi.Input(capi.INPUT_IMAGE, b"https://x/a.jpg", None, 0, None, b"img-a"),
                                capi.Input(capi.INPUT_IMAGE, b"https://x/b.jpg", None, 0, None, b"img-b"))
    handle = ctypes.c_void_p()
    code = lib.clarifai_predict(any_client, b"text-echo", None, inputs, 130, ctypes.byref(handle))
    assert code == capi.API and handle.value
    answer = json.loads(lib.clarifai_response_json(handle))
    assert answer["status"]["code"] == 10010 and "1 of 2 requests" in answer["status"]["details"]
    assert lib.clarifai_response_output_count(handle) == 130
    assert lib.clarifai_response_text(handle, 127) == b"echo: t127"
    assert [o["status"]["code"] for o in answer["outputs"][128:]] == [30104, 30104]  # INPUT_INVALID_ARGUMENT
    assert [o["input"]["id"] for o in answer["outputs"][128:]] == ["img-a", "img-b"]
    lib.clarifai_response_free(handle)


@pytest.mark.parametrize("field", ["nan-in-struct", "timestamp-past-9999"])
def test_call_proto_sends_what_protobuf_allows_and_json_cannot_carry(lib, server, field):
    """Checked on the wire, not by a JSON round trip: a Struct holding NaN and a timestamp past
    year 9999 are valid protobuf, which the official gRPC client sends; the library sends them
    too, and gets the same answer from the server."""
    import grpc
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2
    from google.protobuf import struct_pb2, timestamp_pb2
    data = resources_pb2.Data(image=resources_pb2.Image(url="https://x/1.jpg"))
    if field == "nan-in-struct":
        data.metadata.CopyFrom(struct_pb2.Struct(fields={"score": struct_pb2.Value(number_value=float("nan"))}))
    item = resources_pb2.Input(id=f"proto-{field}", data=data)
    if field == "timestamp-past-9999":
        item.created_at.CopyFrom(timestamp_pb2.Timestamp(seconds=253402300800 + 86400))  # 10000-01-02
    request = service_pb2.PostInputsRequest(user_app_id=resources_pb2.UserAppIDSet(user_id="test-user", app_id=f"proto-{field}"),
                                            inputs=[item]).SerializeToString()
    client = capi.new_client(lib, server.grpc_target, server.token, kind="grpc")
    code, handle = call_proto(lib, client, "PostInputs", request)
    # The local server fails to record such a request (its JSON form), so both clients see it end
    # with the same gRPC status: what matters is that it was sent, as the official client sends it.
    ours = 0 if code in (capi.OK, capi.API) else lib.clarifai_last_error_grpc_status()
    assert code != capi.INVALID_ARGUMENT, lib.clarifai_last_error()
    lib.clarifai_response_free(handle)
    lib.clarifai_client_free(client)
    with grpc.insecure_channel(server.grpc_target) as channel:
        try:
            channel.unary_unary("/clarifai.api.V2/PostInputs")(request, metadata=(("authorization", "Key " + server.token),),
                                                               timeout=10)
            theirs = 0
        except grpc.RpcError as error:
            theirs = error.code().value[0]
    assert ours == theirs


def test_json_is_the_same_text_on_every_channel(lib, server, app_id):
    """The REST server's own text (pretty-printed, without "concepts": [] on an empty page) is not
    what the library hands out: both channels give the codec's text of the message."""
    texts = []
    for kind, address in (("rest", server.rest_url), ("grpc", server.grpc_target)):
        client = capi.new_client(lib, address, server.token, "test-user", app_id, kind=kind)
        handle = ctypes.c_void_p()
        assert lib.clarifai_call(client, b"ListConcepts", b'{"per_page": 5}', ctypes.byref(handle)) == capi.OK
        text = lib.clarifai_response_json(handle).decode()
        lib.clarifai_response_free(handle)
        lib.clarifai_client_free(client)
        request_id = json.loads(text)["status"]["req_id"]
        texts.append(text.replace(request_id, "REQ"))
    rest, grpc = texts
    assert rest == grpc
    assert '"concepts":[]' in rest and "\n" not in rest


@pytest.mark.parametrize("kind, port, words", [
    ("rest", "grpc", ["the server did not answer in HTTP/1.1: is this a gRPC port", "(Received HTTP/0.9"]),
    ("rest-tls", "rest", ["the server did not answer in TLS: is this a cleartext (http://) port?", "wrong version number"]),
    ("grpcs", "grpc", ["the server did not answer in TLS: is this a cleartext port", "wrong version number"]),
    ("grpc", "rest", ["the server closed the connection without answering: the wrong port or protocol (a REST or a TLS port?)"]),
])
def test_a_channel_on_the_wrong_port_says_what_it_probably_means(lib, server, kind, port, words):
    """libcurl's words ("Received HTTP/0.9 when not allowed") come after what they probably mean."""
    address = {"rest": server.rest_url, "grpc": server.grpc_target}[port].removeprefix("http://")
    scheme = {"rest": "http://", "rest-tls": "https://"}.get(kind, "")
    client = capi.new_client(lib, scheme + address, server.token, kind="rest" if kind.startswith("rest") else kind)
    result = capi.call(lib, client, "ListConcepts")
    lib.clarifai_client_free(client)
    assert result.code == capi.TRANSPORT, result.error
    for word in words:
        assert word in result.error, result.error
