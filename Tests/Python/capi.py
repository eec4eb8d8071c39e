"""Helpers for the tests that call the C API directly. The ctypes declarations of Include/clarifai.h
are the package's (libclarifai._native.SIGNATURES): the tests and the package cannot disagree."""
import ctypes
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

try:
    from libclarifai import _native
except ImportError:  # not installed: the source tree's
    sys.path.insert(0, str(ROOT / "Bindings" / "python"))
    from libclarifai import _native

OK, INVALID_ARGUMENT, TRANSPORT, TIMEOUT, PROTOCOL, API, UNSUPPORTED, CANCELLED, INTERNAL, AUTH = range(10)
INPUT_IMAGE, INPUT_TEXT, INPUT_VIDEO, INPUT_AUDIO = range(4)

Concept, Region, Input = _native.ConceptStruct, _native.RegionStruct, _native.InputStruct
STREAM_FN = _native.STREAM_FN


def _libcurl_version():
    curl = ctypes.CDLL("libcurl.so.4")
    curl.curl_version.restype = ctypes.c_char_p
    # "libcurl/7.88.1 OpenSSL/3.0.17 ...": the first word's numbers.
    return tuple(int(part) for part in re.findall(rb"\d+", curl.curl_version().split()[0])[:3])


# The libcurl the library runs with, as (major, minor, patch).
LIBCURL_VERSION = _libcurl_version()


def load(path=None):
    """Loads libclarifai (`path`, else $LIBCLARIFAI_PATH, else the build's) with the declarations
    of clarifai.h; a function the library lacks raises AttributeError when called."""
    lib = ctypes.CDLL(path or os.environ.get("LIBCLARIFAI_PATH") or str(ROOT / "build/lib/libclarifai.so.1"))
    _native.declare(lib)
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


class Stream:
    """clarifai_stream_* around one stream; messages as decoded JSON."""

    def __init__(self, lib, client, method):
        self.lib = lib
        self.handle = ctypes.c_void_p()
        assert lib.clarifai_stream_open(client, method.encode(), ctypes.byref(self.handle)) == OK, lib.clarifai_last_error()

    def send(self, request):
        return self.lib.clarifai_stream_send(self.handle, json.dumps(request).encode())

    def close_send(self):
        return self.lib.clarifai_stream_close_send(self.handle)

    def recv(self):
        """(code, message JSON or None, last error)."""
        message = ctypes.c_void_p()
        code = self.lib.clarifai_stream_recv(self.handle, ctypes.byref(message))
        error = self.lib.clarifai_last_error().decode()
        if not message.value:
            return code, None, error
        answer = json.loads(self.lib.clarifai_response_json(message))
        self.lib.clarifai_response_free(message)
        return code, answer, error

    def recv_all(self, on_message=lambda answer: None):
        """Every message until the end: (messages, end code, last error)."""
        messages = []
        while True:
            code, answer, error = self.recv()
            if answer is None:
                return messages, code, error
            messages.append(answer)
            on_message(answer)

    def cancel(self):
        self.lib.clarifai_stream_cancel(self.handle)

    def free(self):
        self.lib.clarifai_stream_free(self.handle)


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
