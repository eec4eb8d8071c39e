"""Any field of a response by path (clarifai_response_count, _string, _int64, _double), checked
against the response's own JSON, on REST and cleartext gRPC, and what bad paths give."""
import ctypes
import json
import struct

import pytest

import capi


def f32(value):
    """What a float field holds: the value rounded to single precision."""
    return struct.unpack("f", struct.pack("f", value))[0]


@pytest.fixture
def batch(lib, any_client):
    """A prediction of three inputs (two images by URL, one with an id), and its JSON."""
    handle = ctypes.c_void_p()
    inputs = (capi.Input * 3)(capi.Input(capi.INPUT_IMAGE, b"https://x/1.jpg", None, 0, None, b"first"),
                              capi.Input(capi.INPUT_IMAGE, b"https://x/2.jpg", None, 0, None, None),
                              capi.Input(capi.INPUT_IMAGE, b"https://x/3.jpg", None, 0, None, b"third"))
    code = lib.clarifai_predict(any_client, b"general-image-recognition", None, inputs, 3, ctypes.byref(handle))
    assert code == capi.OK, lib.clarifai_last_error()
    yield handle, json.loads(lib.clarifai_response_json(handle))
    lib.clarifai_response_free(handle)


def string(lib, handle, path):
    text = lib.clarifai_response_string(handle, path.encode())
    assert text is not None and lib.clarifai_last_error_code() == capi.OK, (path, lib.clarifai_last_error())
    return text.decode()


def int64(lib, handle, path):
    value = ctypes.c_longlong(-1)
    assert lib.clarifai_response_int64(handle, path.encode(), ctypes.byref(value)) == capi.OK, lib.clarifai_last_error()
    return value.value


def double(lib, handle, path):
    value = ctypes.c_double(-1)
    assert lib.clarifai_response_double(handle, path.encode(), ctypes.byref(value)) == capi.OK, lib.clarifai_last_error()
    return value.value


def test_paths_read_what_the_json_says(lib, batch):
    handle, answer = batch
    assert int64(lib, handle, "status.code") == answer["status"]["code"] == 10000
    assert string(lib, handle, "status.description") == answer["status"]["description"]
    assert string(lib, handle, "status.req_id") == lib.clarifai_response_request_id(handle).decode()
    assert lib.clarifai_response_count(handle, b"outputs") == len(answer["outputs"]) == 3
    for i, output in enumerate(answer["outputs"]):
        assert string(lib, handle, f"outputs[{i}].id") == output["id"]
        assert int64(lib, handle, f"outputs[{i}].status.code") == output["status"]["code"]
        assert string(lib, handle, f"outputs[{i}].input.id") == output["input"].get("id", "")
        concepts = output["data"]["concepts"]
        assert lib.clarifai_response_count(handle, f"outputs[{i}].data.concepts".encode()) == len(concepts)
        for j, concept in enumerate(concepts):
            assert string(lib, handle, f"outputs[{i}].data.concepts[{j}].name") == concept["name"]
            assert double(lib, handle, f"outputs[{i}].data.concepts[{j}].value") == f32(concept["value"])
    # The same pointer for the same path: asking again adds nothing to the response.
    address_of = lib["clarifai_response_string"]  # a function object of its own, returning the address
    address_of.restype, address_of.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]
    assert address_of(handle, b"outputs[0].id") == address_of(handle, b"outputs[0].id") != address_of(handle, b"outputs[1].id")


def test_absent_fields_read_as_their_defaults(lib, batch):
    handle, answer = batch
    assert "text" not in answer["outputs"][0]["data"] and "regions" not in answer["outputs"][0]["data"]
    assert string(lib, handle, "outputs[0].data.text.raw") == ""
    assert int64(lib, handle, "outputs[0].data.text.text_info.char_count") == 0
    assert int64(lib, handle, "outputs[0].data.text.allow_duplicate_url") == 0
    assert lib.clarifai_response_count(handle, b"outputs[0].data.regions") == 0


@pytest.mark.parametrize("getter, path, words", [
    ("string", "outputs[9].id", "index 9 is past the end of outputs (3 elements)"),
    ("string", "outputs.id", "outputs is a repeated field: name an element, e.g. outputs[0]"),
    ("string", "status.nope", "clarifai.api.status.Status has no field 'nope'"),
    ("string", "status.code[0]", "status.code is not a repeated field"),
    ("string", "outputs[0].data.concepts[0].value", "a float field, not a string or enum"),
    ("count", "status", "not a repeated field"),
    ("count", "outputs[0]", "not a repeated field"),
    ("int64", "status.description", "not an integer"),
    ("double", "status.code", "not a float or double"),
    ("string", "outputs[x].id", "'outputs[x]' is not name or name[index]"),
    ("string", "outputs[].id", "is not name or name[index]"),
    ("string", "", "the path is empty"),
    ("string", "status..code", "an empty field name"),
])
def test_bad_paths_are_refused_with_the_reason(lib, batch, getter, path, words):
    handle, _ = batch
    if getter == "string":
        assert lib.clarifai_response_string(handle, path.encode()) is None
    elif getter == "count":
        assert lib.clarifai_response_count(handle, path.encode()) == 0
    else:
        value = (ctypes.c_longlong if getter == "int64" else ctypes.c_double)(7)
        assert getattr(lib, f"clarifai_response_{getter}")(handle, path.encode(), ctypes.byref(value)) == capi.INVALID_ARGUMENT
        assert value.value == 0
    assert lib.clarifai_last_error_code() == capi.INVALID_ARGUMENT
    assert words in lib.clarifai_last_error().decode()


def test_enums_read_by_name_and_number(lib, any_client):
    """ListModels answers models whose fields carry enums; status.code is an enum too."""
    handle = ctypes.c_void_p()
    assert lib.clarifai_call(any_client, b"ListModels", b'{"per_page": 3}', ctypes.byref(handle)) == capi.OK
    answer = json.loads(lib.clarifai_response_json(handle))
    assert string(lib, handle, "status.code") == "SUCCESS"
    assert lib.clarifai_response_count(handle, b"models") == len(answer["models"]) > 0
    for i, model in enumerate(answer["models"]):
        assert string(lib, handle, f"models[{i}].id") == model["id"]
    lib.clarifai_response_free(handle)
