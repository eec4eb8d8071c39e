"""Replays the fuzzers' regression inputs (Tests/Fuzz/regressions/) through the release library.

Each file is what fuzz_codec.c gets: one byte choosing the message type, then the data. Every file
goes through both directions, and the official runtime (clarifai-grpc's protobuf) decides what the
library must do with it:
  binary -> JSON: where FromString reads the bytes and MessageToJson prints them, the library
  prints JSON that reads back (OK) as the message FromString read (unknown fields aside) and
  prints the same JSON again; where the official runtime refuses, the library refuses
  (INVALID_ARGUMENT). The library's JSON is not given to json_format.Parse: that refuses FLT_MAX
  (3.4028235e+38), which its own MessageToJson prints (see Tests/Python/messagegen.py).
  JSON -> binary (data up to its first NUL): where json_format.Parse accepts the text, the library
  writes the message it read, and that prints as JSON which reads back as the same message and
  prints the same JSON again; where json_format.Parse refuses, the library refuses.
Run: LIBCLARIFAI_PATH=build/lib/libclarifai.so.1 .venv/bin/python -m pytest -q Tests/Fuzz
"""
import ctypes
import os
from pathlib import Path

import pytest
from clarifai_grpc.grpc.api import service_pb2  # noqa: F401  (puts the clarifai.api types in the pool)
from google.protobuf import descriptor_pool, json_format
from google.protobuf.message import DecodeError
from google.protobuf.message_factory import GetMessageClass

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OK, INVALID_ARGUMENT = 0, 1
# How the official runtime says no: bad bytes, no JSON form, bad JSON, bad UTF-8, too deep for json.
REFUSALS = (DecodeError, json_format.Error, ValueError, RecursionError)

# Same order as TYPES in fuzz_codec.c.
TYPES = [
    b"clarifai.api.PostModelOutputsRequest",
    b"clarifai.api.MultiOutputResponse",
    b"google.protobuf.Struct",
    b"clarifai.api.Input",
    b"google.protobuf.Value",
    b"google.protobuf.Timestamp",
    b"google.protobuf.Duration",
    b"google.protobuf.UInt64Value",
]

REGRESSIONS = sorted(p for p in (HERE / "regressions").glob("*") if p.is_file() and p.suffix not in (".md", ".log"))


@pytest.fixture(scope="module")
def codec():
    lib = ctypes.CDLL(os.environ.get("LIBCLARIFAI_PATH") or str(ROOT / "build/lib/libclarifai.so.1"))
    p, s, z = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    lib.clarifai_json_to_proto.restype = ctypes.c_int
    lib.clarifai_json_to_proto.argtypes = [s, s, ctypes.POINTER(p), ctypes.POINTER(z)]
    lib.clarifai_proto_to_json.restype = ctypes.c_int
    lib.clarifai_proto_to_json.argtypes = [s, s, z, ctypes.POINTER(p)]
    lib.clarifai_free.restype, lib.clarifai_free.argtypes = None, [p]
    lib.clarifai_last_error.restype, lib.clarifai_last_error.argtypes = s, []
    return lib


def regression(path):
    """(type name, message class, data) of a regression input."""
    raw = path.read_bytes()
    assert raw, f"{path.name} is empty: a regression input starts with its message type byte"
    type_name = TYPES[raw[0] % len(TYPES)]
    return type_name, GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(type_name.decode())), raw[1:]


def handed_out(lib, code, out, read):
    """What a codec call handed over (read, then freed once), or None when it refused the input."""
    error = lib.clarifai_last_error().decode()
    assert code in (OK, INVALID_ARGUMENT), (code, error)
    if code != OK:
        assert error
        return None
    assert out.value
    try:
        return read(out)
    finally:
        lib.clarifai_free(out)


def to_binary(lib, type_name, text):
    out, size = ctypes.c_void_p(), ctypes.c_size_t()
    code = lib.clarifai_json_to_proto(type_name, text, ctypes.byref(out), ctypes.byref(size))
    return handed_out(lib, code, out, lambda pointer: ctypes.string_at(pointer, size.value))


def to_json(lib, type_name, data):
    out = ctypes.c_void_p()
    code = lib.clarifai_proto_to_json(type_name, data, len(data), ctypes.byref(out))
    return handed_out(lib, code, out, ctypes.string_at)


def same(expected, actual):
    """upb's == compares floats by their bits; the deterministic bytes check that once more."""
    return expected == actual and (expected.SerializeToString(deterministic=True)
                                   == actual.SerializeToString(deterministic=True))


def reads_back(lib, type_name, printed):
    """What the library's JSON reads back as, once it prints the same JSON again (the fuzzers' fixed point)."""
    binary = to_binary(lib, type_name, printed)
    assert binary is not None, f"JSON printed by clarifai_proto_to_json does not read back: {printed!r}"
    assert to_json(lib, type_name, binary) == printed
    return binary


@pytest.mark.skipif(not REGRESSIONS, reason="no regression inputs")
@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_binary_to_json(codec, path):
    type_name, cls, data = regression(path)
    try:
        expected = cls.FromString(data)
        official = json_format.MessageToJson(expected, indent=None)
    except REFUSALS as e:
        printed = to_json(codec, type_name, data)
        assert printed is None, f"the official runtime refuses these bytes ({e}), the library prints {printed!r}"
        return
    expected.DiscardUnknownFields()  # the library skips them
    printed = to_json(codec, type_name, data)
    assert printed is not None, f"the official runtime prints these bytes as {official}"
    assert same(expected, cls.FromString(reads_back(codec, type_name, printed))), (printed, official)


@pytest.mark.skipif(not REGRESSIONS, reason="no regression inputs")
@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_json_to_binary(codec, path):
    type_name, cls, data = regression(path)
    text = data.split(b"\0", 1)[0]
    try:
        expected = json_format.Parse(text, cls())
    except REFUSALS as e:
        binary = to_binary(codec, type_name, text)
        assert binary is None, f"json_format.Parse refuses this text ({e}), the library writes {binary.hex()}"
        return
    binary = to_binary(codec, type_name, text)
    assert binary is not None, f"json_format.Parse reads this text as {json_format.MessageToJson(expected, indent=None)}"
    assert same(expected, cls.FromString(binary)), binary.hex()
    printed = to_json(codec, type_name, binary)
    assert printed is not None, f"binary made by clarifai_json_to_proto does not print: {binary.hex()}"
    assert same(expected, cls.FromString(reads_back(codec, type_name, printed))), printed
