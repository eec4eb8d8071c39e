"""Replays the fuzzers' regression inputs (Tests/Fuzz/regressions/) through the release library.

Each file is what fuzz_codec.c gets: one byte choosing the message type, then the data. Like the
fuzz targets, every file goes through both directions with the same checks:
  binary -> JSON: OK or INVALID_ARGUMENT; on OK the JSON reads back (OK) and prints the same JSON;
  JSON -> binary (data up to its first NUL): OK or INVALID_ARGUMENT; on OK the binary prints as JSON,
  that JSON reads back and prints the same JSON again.
Run: LIBCLARIFAI_PATH=build/lib/libclarifai.so.1 .venv/bin/python -m pytest -q Tests/Fuzz
"""
import ctypes
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OK, INVALID_ARGUMENT = 0, 1

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


@pytest.mark.skipif(not REGRESSIONS, reason="no regression inputs")
@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_regression_input(codec, path):
    raw = path.read_bytes()
    if not raw:
        return
    type_name, data = TYPES[raw[0] % len(TYPES)], raw[1:]

    printed = to_json(codec, type_name, data)
    if printed is not None:
        binary = to_binary(codec, type_name, printed)
        assert binary is not None, f"JSON printed by clarifai_proto_to_json does not read back: {printed!r}"
        assert to_json(codec, type_name, binary) == printed

    text = data.split(b"\0", 1)[0]
    binary = to_binary(codec, type_name, text)
    if binary is not None:
        printed = to_json(codec, type_name, binary)
        assert printed is not None, f"binary made by clarifai_json_to_proto does not print: {binary.hex()}"
        again = to_binary(codec, type_name, printed)
        assert again is not None, f"JSON printed by clarifai_proto_to_json does not read back: {printed!r}"
        assert to_json(codec, type_name, again) == printed
