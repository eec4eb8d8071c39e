"""REST answers read lazily (Response/RESTAnswer): the call reads a plain answer's status, its
outputs and concepts are read straight from its JSON when asked for, and any other form, or any
other reader, converts the answer to protobuf whole. Every answer below is read both ways:
concepts asked for at once (the JSON reading, or its fallback), and after clarifai_response_proto
(which converts the whole answer first); the two must agree, in values or in the error."""
import ctypes
import http.server
import json
import math
import struct
import threading

import pytest

import capi

OK_STATUS = '"status": {"code": 10000, "description": "Ok"}'
SERVER_STATUS = '"status": {"code": 10000, "description": "Ok", "req_id": "r-1"}'


def answer(concepts, status=OK_STATUS, output_extra=""):
    return '{%s, "outputs": [{"id": "o1"%s, "data": {"concepts": [%s]}}]}' % (status, output_extra, concepts)


# name: (answer body, whether the call itself succeeds)
ANSWERS = {
    "plain": (answer('{"id": "a", "name": "cat", "value": 0.5, "app_id": "main"}, {"id": "b", "name": "dog", "value": 0.25}'), True),
    "compact": (answer('{"id":"a","name":"cat","value":0.991420447826385,"app_id":"main"}').replace(" ", ""), True),
    # The form servers write, in both spacings: strings ended where they lie, empty ones too; a
    # ninth digit and a value of 1 leave the one-pass reading for the general one.
    "formed": (answer('{"id": "ai_1", "name": "", "value": 0.99142045, "app_id": "main"}, '
                      '{"id": "", "name": "subway system", "value": 0.1, "app_id": ""}, '
                      '{"id": "n", "name": "nine", "value": 0.123456789, "app_id": "main"}, '
                      '{"id": "o", "name": "one", "value": 1, "app_id": "main"}, '
                      '{"id": "z", "name": "last", "value": 0.00000001, "app_id": "main"}', status=SERVER_STATUS), True),
    "formed-compact": (json.dumps(json.loads(answer('{"id": "ai_1", "name": "", "value": 0.99142045, "app_id": "main"}, '
                                                    '{"id": "", "name": "sub way", "value": 0.1, "app_id": ""}',
                                                    status=SERVER_STATUS)), separators=(",", ":")), True),
    "status-empty-strings": (answer('', status='"status": {"code": 10000, "description": "", "req_id": ""}'), True),
    "status-code-leading-zero": (answer('', status='"status": {"code": 010000, "description": "Ok", "req_id": "r"}'), False),
    # Too large to copy whole (an input's image besides the concepts): strings copied one by one.
    "formed-large": (answer('{"id": "ai_1", "name": "train", "value": 0.99142045, "app_id": "main"}, '
                            '{"id": "ai_2", "name": "", "value": 0.5, "app_id": "main"}',
                            output_extra=', "input": {"data": {"image": {"base64": "%s"}}}' % ("QUJD" * 40000)), True),
    "pretty": (json.dumps(json.loads(answer('{"id": "a", "name": "cat", "value": 0.5, "app_id": "main"}')), indent=3), True),
    "odd-spacing": (answer('{ "id" : "a" ,  "name":"cat", "value" :0.5,"app_id":  "main"}, {"id":"b","name": "dog" ,"value":0.25}'), True),
    "escapes": (answer(r'{"id": "a\/b", "name": "caf\u00e9 \"quoted\" \n", "value": 0.5, "app_id": "m\u0000n"}'), True),
    "utf8": (answer('{"id": "\u732b", "name": "caf\u00e9", "value": 0.5, "app_id": "main"}'), True),
    "camel-case": (answer('{"id": "a", "name": "cat", "value": 0.5, "appId": "main"}'), True),
    "reordered": (answer('{"app_id": "main", "value": 0.75, "name": "cat", "id": "a"}'), True),
    "more-fields": (answer('{"id": "a", "name": "cat", "value": 0.5, "created_at": "2024-01-02T03:04:05Z", "language": "en", '
                           '"app_id": "main", "metadata": {"k": [1, {"x": null}]}, "visibility": {"gettable": 10}}'), True),
    "unknown-field": (answer('{"id": "a", "name": "cat", "brand_new": [1, "]"], "value": 0.5}'), True),
    "null-name": (answer('{"id": "a", "name": null, "value": 0.5}'), True),
    "nan": (answer('{"id": "a", "value": "NaN"}, {"id": "b", "value": "-Infinity"}'), True),
    "exponent": (answer('{"id": "a", "value": 1e-3}, {"id": "b", "value": -2.5E+2}, {"id": "c", "value": 0}'), True),
    "number-in-string": (answer('{"id": "a", "value": "0.5"}'), True),
    "fractions": (answer(", ".join('{"id": "f%d", "value": %s}' % (i, v) for i, v in enumerate(
        ["0.0", "0.5", "0.12345678", "0.123456789", "0.99999999", "0.00000001", "0.5e1", "0.25E-1", "0.7"]))), True),
    "rounding": (answer('{"id": "a", "value": 0.1}, {"id": "b", "value": 3.4028235e38}, {"id": "c", "value": 1e-46}'), True),
    "status-last": ('{"outputs": [{"data": {"concepts": [{"id": "a", "value": 0.5}]}}], %s}' % OK_STATUS, True),
    "status-code-string": (answer('{"id": "a", "value": 0.5}', status='"status": {"code": "10000", "req_id": "r"}'), True),
    "status-code-name": (answer('{"id": "a", "value": 0.5}', status='"status": {"code": "SUCCESS"}'), True),
    "no-concepts": ('{%s, "outputs": [{"id": "o1", "data": {}}, {"id": "o2"}]}' % OK_STATUS, True),
    "null-data": ('{%s, "outputs": [{"id": "o1", "data": null}]}' % OK_STATUS, True),
    "empty-concepts": (answer(""), True),
    "other-contents": ('{%s, "outputs": [{"data": {"regions": [{"id": "r", "value": 0.5}], "text": {"raw": "hi"}, '
                       '"embeddings": [{"vector": [0.5]}], "concepts": [{"id": "a", "value": 0.5}]}}, '
                       '{"data": {"regions": [ ], "text": null, "embeddings": []}}, {"data": {"text": {}, "regions": [{}]}}]}'
                       % OK_STATUS, True),
    "many-outputs": ('{%s, "outputs": [%s]}' % (OK_STATUS, ", ".join(
        '{"data": {"concepts": [{"id": "c%d", "name": "n%d", "value": %s}]}}' % (i, i, i / 7) for i in range(40))), True),
    # Malformed where the call does not read: the call succeeds, the reading fails (PROTOCOL).
    "wrong-type": (answer('{"id": "a", "name": 5, "value": 0.5}'), True),
    "duplicate-key": (answer('{"id": "a", "name": "x", "name": "y", "value": 0.5}'), True),
    "overflow": (answer('{"id": "a", "value": 1e39}'), True),
    "null-element": ('{%s, "outputs": [{"data": {"concepts": [null]}}]}' % OK_STATUS, True),
    "bad-syntax-inside": (answer('{"id" "a"}'), True),
    # (Here the concepts are well formed: reading them succeeds, the whole answer's JSON fails.)
    "bad-output-field": (answer('{"id": "a", "value": 0.5}', output_extra=', "created_at": 7'), True),
    "truncated": (answer('{"id": "a", "value": 0.5}')[:-5], True),
    "trailing-text": (answer('{"id": "a", "value": 0.5}') + " x", True),
    "status-twice": (answer('{"id": "a", "value": 0.5}', status=OK_STATUS + ", " + OK_STATUS), True),
    "outputs-not-list": ('{%s, "outputs": {"data": {}}}' % OK_STATUS, True),
    # Malformed where the call reads, up to the status: the call fails, as it did before answers
    # were read lazily.
    "status-wrong-type": (answer('{"id": "a", "value": 0.5}', status='"status": {"code": 10000, "description": 3}'), False),
    "outputs-then-truncated-status": ('{"outputs": [], "status": {"code": 10000', False),
    "no-status": ('{"outputs": []}', False),
    "invalid-utf8-in-status": (answer('{"id": "a"}', status='"status": {"code": 10000, "description": "INVALID"}'), False),
}
# Malformed outside outputs[*].data.concepts: the concepts read well, the message does not.
CONCEPTS_WELL_FORMED = {"bad-output-field"}


def body_of(name):
    """ANSWERS[name] as bytes (the UTF-8 check's one with a byte that is not UTF-8)."""
    return ANSWERS[name][0].encode().replace(b"INVALID", b"\xff")


class AnswerServer(http.server.ThreadingHTTPServer):
    """Answers a predict for model NAME with ANSWERS[NAME]."""

    daemon_threads = True

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = self.path.split("/")
            body = body_of(parts[parts.index("models") + 1])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass


@pytest.fixture(scope="module")
def answer_server():
    server = AnswerServer(("127.0.0.1", 0), AnswerServer.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def answering(lib, answer_server):
    client = capi.new_client(lib, answer_server, "t", "u", "a")
    yield client
    lib.clarifai_client_free(client)


def predict(lib, client, name):
    handle = ctypes.c_void_p()
    code = lib.clarifai_predict_url(client, name.encode(), None, b"https://x/1.jpg", ctypes.byref(handle))
    return code, handle.value


def read_concepts(lib, handle):
    """Every output's concepts as (id, name, value bits, app_id), or the code of the failure (with
    no outputs counted, output 0's concepts tell none from outputs that do not read)."""
    outputs = []
    output_count = lib.clarifai_response_output_count(handle)
    for output in range(max(output_count, 1)):
        concepts, count = ctypes.POINTER(capi.Concept)(), ctypes.c_size_t()
        code = lib.clarifai_response_concepts(handle, output, ctypes.byref(concepts), ctypes.byref(count))
        if output_count == 0:
            return [] if code == capi.INVALID_ARGUMENT else code
        if code != capi.OK:
            return code
        outputs.append([(c.id, c.name, struct.pack("<f", c.value), c.app_id) for c in concepts[:count.value]])
    return outputs


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_json_reading_agrees_with_the_whole_conversion(lib, answering, name):
    call_succeeds = ANSWERS[name][1]
    code, lazy = predict(lib, answering, name)
    if not call_succeeds:
        assert (code, lazy) == (capi.PROTOCOL, None), name
        assert "answer" in lib.clarifai_last_error().decode()
        return
    assert code == capi.OK, lib.clarifai_last_error()
    assert lib.clarifai_response_status_code(lazy) == 10000
    code, converted = predict(lib, answering, name)
    data, length = ctypes.c_void_p(), ctypes.c_size_t()
    converts = lib.clarifai_response_proto(converted, ctypes.byref(data), ctypes.byref(length))
    read_lazily, read_converted = read_concepts(lib, lazy), read_concepts(lib, converted)
    if converts == capi.OK:
        assert read_lazily == read_converted and isinstance(read_lazily, list)
        assert lib.clarifai_response_output_count(lazy) == len(json.loads(body_of(name))["outputs"])
    else:
        # Both read the concepts from the JSON then: well formed, or PROTOCOL like the conversion.
        assert converts == capi.PROTOCOL and read_lazily == read_converted
        assert isinstance(read_lazily, list) if name in CONCEPTS_WELL_FORMED else read_lazily == capi.PROTOCOL
        assert lib.clarifai_response_json(lazy) is None and "answer" in lib.clarifai_last_error().decode()
    lib.clarifai_response_free(lazy)
    lib.clarifai_response_free(converted)


def read_outputs_text(lib, handle):
    """clarifai_response_outputs_text as (text, concept counts, contents bits) and every output's
    clarifai_response_concepts_text, or the code of the failure."""
    text, length, outputs = ctypes.c_char_p(), ctypes.c_size_t(), ctypes.c_size_t()
    counts, contents = ctypes.POINTER(ctypes.c_size_t)(), ctypes.POINTER(ctypes.c_ubyte)()
    code = lib.clarifai_response_outputs_text(handle, ctypes.byref(text), ctypes.byref(length), ctypes.byref(outputs),
                                              ctypes.byref(counts), ctypes.byref(contents))
    if code != capi.OK:
        return code
    per_output = []
    for output in range(outputs.value):
        one, one_length, count = ctypes.c_char_p(), ctypes.c_size_t(), ctypes.c_size_t()
        code = lib.clarifai_response_concepts_text(handle, output, ctypes.byref(one), ctypes.byref(one_length), ctypes.byref(count))
        per_output.append(code if code != capi.OK else (ctypes.string_at(one, one_length.value), count.value))
    return (ctypes.string_at(text, length.value), counts[:outputs.value], contents[:outputs.value], per_output)


@pytest.mark.parametrize("name", sorted(name for name, (_, call_succeeds) in ANSWERS.items() if call_succeeds))
def test_outputs_text_from_the_json_agrees_with_the_whole_conversion(lib, answering, name):
    """The binding's one-call reading (outputs text, what else each output holds), asked for first
    (written from the concepts read from the JSON) and after the whole conversion."""
    _, lazy = predict(lib, answering, name)
    _, converted = predict(lib, answering, name)
    data, length = ctypes.c_void_p(), ctypes.c_size_t()
    converts = lib.clarifai_response_proto(converted, ctypes.byref(data), ctypes.byref(length))
    read_lazily, read_converted = read_outputs_text(lib, lazy), read_outputs_text(lib, converted)
    if isinstance(read_lazily, tuple):  # the one block is the outputs' blocks one after the other
        text, counts, _, per_output = read_lazily
        assert b"".join(one for one, _ in per_output) == text and [count for _, count in per_output] == counts
    assert read_lazily == read_converted
    if converts != capi.OK:  # both read from the JSON then: well formed, or PROTOCOL like the conversion
        assert converts == capi.PROTOCOL
        assert isinstance(read_lazily, tuple) if name in CONCEPTS_WELL_FORMED else read_lazily == capi.PROTOCOL
    lib.clarifai_response_free(lazy)
    lib.clarifai_response_free(converted)


def parses(name):
    try:
        return isinstance(json.loads(body_of(name)), dict)
    except ValueError:
        return False


@pytest.mark.parametrize("name", sorted(name for name, (_, call_succeeds) in ANSWERS.items() if call_succeeds and parses(name)))
def test_status_read_as_the_answer_gives_it(lib, answering, name):
    """The status the call reads (in the form servers write, or any other) is the answer's."""
    status = json.loads(body_of(name))["status"]
    _, handle = predict(lib, answering, name)
    assert lib.clarifai_response_status_code(handle) == (10000 if status["code"] == "SUCCESS" else int(status["code"]))
    assert lib.clarifai_response_status_description(handle).decode() == status.get("description", "")
    assert lib.clarifai_response_request_id(handle).decode() == status.get("req_id", "")
    assert lib.clarifai_response_status_details(handle) == b""
    lib.clarifai_response_free(handle)


@pytest.mark.parametrize("code", ["0", "7", "123456789", "1234567890", "2147483647", "-5"])
def test_status_codes_of_every_length(lib, answer_server, code):
    """A failing status's code as the answer gives it, in the form servers write (9 digits and
    fewer read in one pass) and past it."""
    body = answer('', status='"status": {"code": %s, "description": "no", "req_id": "r"}' % code)
    ANSWERS["status-code"] = (body, False)
    client = capi.new_client(lib, answer_server, "t", "u", "a")
    try:
        code_returned, handle = predict(lib, client, "status-code")
        assert code_returned != capi.OK and f"Clarifai status {code} (no) [req_id r]" in lib.clarifai_last_error().decode()
        assert lib.clarifai_response_status_code(handle) == int(code) and lib.clarifai_response_request_id(handle) == b"r"
        lib.clarifai_response_free(handle)
    finally:
        del ANSWERS["status-code"]
        lib.clarifai_client_free(client)


def test_values_read_as_the_official_parser_reads_them(lib, answering):
    code, handle = predict(lib, answering, "rounding")
    assert code == capi.OK
    (concepts,) = read_concepts(lib, handle)
    values = [struct.unpack("<f", value)[0] for _, _, value, _ in concepts]
    assert values[0] == struct.unpack("<f", struct.pack("<f", 0.1))[0]
    assert values[1] == 3.4028234663852886e38 and values[2] == 0.0
    lib.clarifai_response_free(handle)
    code, handle = predict(lib, answering, "nan")
    (concepts,) = read_concepts(lib, handle)
    values = [struct.unpack("<f", value)[0] for _, _, value, _ in concepts]
    assert math.isnan(values[0]) and values[1] == -math.inf
    lib.clarifai_response_free(handle)


def test_output_past_the_end_is_an_invalid_argument(lib, answering):
    code, handle = predict(lib, answering, "plain")
    concepts, count = ctypes.POINTER(capi.Concept)(), ctypes.c_size_t()
    for output in (1, 2**63):
        assert lib.clarifai_response_concepts(handle, output, ctypes.byref(concepts), ctypes.byref(count)) == capi.INVALID_ARGUMENT
        assert "out of range" in lib.clarifai_last_error().decode()
    lib.clarifai_response_free(handle)


def test_malformed_part_fails_the_reader_that_reads_it(lib, answering):
    """The call reads the status; a malformed concept fails clarifai_response_concepts and the
    JSON, with PROTOCOL naming where, and the status stays readable."""
    code, handle = predict(lib, answering, "wrong-type")
    assert code == capi.OK and lib.clarifai_response_status_code(handle) == 10000
    assert lib.clarifai_response_output_count(handle) == 1
    concepts, count = ctypes.POINTER(capi.Concept)(), ctypes.c_size_t()
    assert lib.clarifai_response_concepts(handle, 0, ctypes.byref(concepts), ctypes.byref(count)) == capi.PROTOCOL
    error = lib.clarifai_last_error().decode()
    assert "outputs[0].data.concepts[0].name" in error and "PostModelOutputs" in error, error
    assert lib.clarifai_response_json(handle) is None
    assert lib.clarifai_response_status_description(handle) == b"Ok"
    lib.clarifai_response_free(handle)


def test_outputs_that_do_not_read_count_none_and_say_why(lib, answering):
    code, handle = predict(lib, answering, "truncated")
    assert code == capi.OK and lib.clarifai_response_status_code(handle) == 10000
    assert lib.clarifai_response_output_count(handle) == 0
    assert lib.clarifai_last_error_code() == capi.PROTOCOL and "answer" in lib.clarifai_last_error().decode()
    lib.clarifai_response_free(handle)


def test_the_binding_reads_outputs_without_the_rest_of_the_answer(answer_server):
    """A Python prediction reads its outputs from the JSON; a malformed field elsewhere fails its
    proto (and json) when asked for, every time, not the call."""
    from libclarifai import Channel, Client, Concept, ProtocolError
    with Channel.json(answer_server) as channel, Client(channel, "t", "u", "a") as client:
        prediction = client.predict("bad-output-field", url="https://x/1.jpg")
        assert prediction.status_code == 10000 and prediction.concepts == [Concept("a", "", 0.5, "")]
        for _ in range(2):
            with pytest.raises(ProtocolError, match=r"outputs\[0\]\.created_at"):
                prediction.proto
        with pytest.raises(ProtocolError, match=r"outputs\[0\]\.created_at"):
            prediction.json
        assert client.predict("other-contents", url="https://x/1.jpg").outputs[1].text is None
