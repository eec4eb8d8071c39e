"""ctypes declarations of Include/clarifai.h for the tests, and small helpers around them."""
import ctypes
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

OK, INVALID_ARGUMENT, TRANSPORT, TIMEOUT, PROTOCOL, API, UNSUPPORTED, CANCELLED, INTERNAL, AUTH = range(10)
INPUT_IMAGE, INPUT_TEXT, INPUT_VIDEO, INPUT_AUDIO = range(4)


class Concept(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char_p), ("name", ctypes.c_char_p), ("value", ctypes.c_float),
                ("app_id", ctypes.c_char_p)]


class Region(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char_p), ("top_row", ctypes.c_float), ("left_col", ctypes.c_float),
                ("bottom_row", ctypes.c_float), ("right_col", ctypes.c_float), ("value", ctypes.c_float),
                ("concepts", ctypes.POINTER(Concept)), ("concept_count", ctypes.c_size_t)]


STREAM_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class Input(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("url", ctypes.c_char_p), ("data", ctypes.c_void_p),
                ("data_len", ctypes.c_size_t), ("text", ctypes.c_char_p), ("id", ctypes.c_char_p)]


def load(path=None):
    """Loads libclarifai with the signatures of clarifai.h."""
    lib = ctypes.CDLL(path or os.environ.get("LIBCLARIFAI_PATH") or str(ROOT / "build/lib/libclarifai.so.1"))
    p, s, i, z = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
    out = ctypes.POINTER(ctypes.c_void_p)
    signatures = {
        "clarifai_error_name": (s, [i]),
        "clarifai_last_error": (s, []),
        "clarifai_last_error_code": (i, []),
        "clarifai_last_error_http_status": (i, []),
        "clarifai_last_error_grpc_status": (i, []),
        "clarifai_last_error_transient": (i, []),
        "clarifai_version_number": (ctypes.c_uint, []),
        "clarifai_version": (s, []),
        "clarifai_api_version": (s, []),
        "clarifai_channel_new_json": (p, [s]),
        "clarifai_channel_new_grpc": (p, [s]),
        "clarifai_channel_new_grpc_insecure": (p, [s]),
        "clarifai_channel_set_timeout_ms": (i, [p, ctypes.c_long]),
        "clarifai_channel_set_ca_file": (i, [p, s]),
        "clarifai_channel_set_max_retries": (i, [p, i]),
        "clarifai_channel_set_max_receive_bytes": (i, [p, z]),
        "clarifai_channel_set_idle_timeout_ms": (i, [p, ctypes.c_long]),
        "clarifai_channel_free": (None, [p]),
        "clarifai_client_new": (p, [p, s, s, s]),
        "clarifai_client_new_session": (p, [p, s, s, s]),
        "clarifai_client_dup": (p, [p]),
        "clarifai_client_set_timeout_ms": (i, [p, ctypes.c_long]),
        "clarifai_client_set_max_retries": (i, [p, i]),
        "clarifai_client_set_header": (i, [p, s, s]),
        "clarifai_client_free": (None, [p]),
        "clarifai_call": (i, [p, s, s, out]),
        "clarifai_call_proto": (i, [p, s, ctypes.c_char_p, z, out]),
        "clarifai_call_stream": (i, [p, s, s, STREAM_FN, p]),
        "clarifai_response_proto": (i, [p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(z)]),
        "clarifai_json_to_proto": (i, [s, s, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(z)]),
        "clarifai_proto_to_json": (i, [s, ctypes.c_char_p, z, ctypes.POINTER(ctypes.c_void_p)]),
        "clarifai_free": (None, [p]),
        "clarifai_method_count": (z, []),
        "clarifai_method_name": (s, [z]),
        "clarifai_predict": (i, [p, s, s, ctypes.POINTER(Input), z, out]),
        "clarifai_predict_url": (i, [p, s, s, s, out]),
        "clarifai_predict_bytes": (i, [p, s, s, ctypes.c_char_p, z, out]),
        "clarifai_predict_file": (i, [p, s, s, s, out]),
        "clarifai_predict_text": (i, [p, s, s, s, out]),
        "clarifai_response_status_code": (i, [p]),
        "clarifai_response_status_description": (s, [p]),
        "clarifai_response_status_details": (s, [p]),
        "clarifai_response_request_id": (s, [p]),
        "clarifai_response_json": (s, [p]),
        "clarifai_response_output_count": (z, [p]),
        "clarifai_response_concepts": (i, [p, z, ctypes.POINTER(ctypes.POINTER(Concept)), ctypes.POINTER(z)]),
        "clarifai_response_regions": (i, [p, z, ctypes.POINTER(ctypes.POINTER(Region)), ctypes.POINTER(z)]),
        "clarifai_response_text": (s, [p, z]),
        "clarifai_response_embedding": (i, [p, z, ctypes.POINTER(ctypes.POINTER(ctypes.c_float)), ctypes.POINTER(z)]),
        "clarifai_response_count": (z, [p, s]),
        "clarifai_response_string": (s, [p, s]),
        "clarifai_response_int64": (i, [p, s, ctypes.POINTER(ctypes.c_longlong)]),
        "clarifai_response_double": (i, [p, s, ctypes.POINTER(ctypes.c_double)]),
        "clarifai_response_free": (None, [p]),
    }
    for name, (restype, argtypes) in signatures.items():
        try:
            function = getattr(lib, name)
        except AttributeError:
            continue  # a function this build lacks: calling it raises AttributeError
        function.restype, function.argtypes = restype, argtypes
    return lib


class Result:
    """A call's code, its last-error message and its response (decoded JSON, status), freed at once."""

    def __init__(self, lib, code, handle):
        self.code = code
        self.error = lib.clarifai_last_error().decode()
        self.json = json.loads(lib.clarifai_response_json(handle)) if handle else None
        self.status_code = lib.clarifai_response_status_code(handle) if handle else None
        lib.clarifai_response_free(handle)


def call(lib, client, method, request=None):
    """clarifai_call with a dict (or raw str) request."""
    handle = ctypes.c_void_p()
    text = request if isinstance(request, (str, type(None))) else json.dumps(request)
    code = lib.clarifai_call(client, method.encode(), text.encode() if text is not None else None, ctypes.byref(handle))
    return Result(lib, code, handle.value)


CHANNELS = {"rest": "clarifai_channel_new_json", "grpc": "clarifai_channel_new_grpc_insecure",
            "grpcs": "clarifai_channel_new_grpc"}


def new_client(lib, address, token, user_id=None, app_id=None, kind="rest"):
    """A client on a new channel of `kind` (rest: a base URL, grpc/grpcs: host:port); the channel
    is released at once (the client keeps it)."""
    channel = getattr(lib, CHANNELS[kind])(address.encode() if address else None)
    assert channel, lib.clarifai_last_error()
    client = lib.clarifai_client_new(channel, token.encode() if token else None,
                                     user_id.encode() if user_id else None, app_id.encode() if app_id else None)
    lib.clarifai_channel_free(channel)
    assert client, lib.clarifai_last_error()
    return client
