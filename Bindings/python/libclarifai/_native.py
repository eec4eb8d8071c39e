"""Finding and loading libclarifai, and the ctypes declarations of Include/clarifai.h."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple

__all__ = ["LibraryNotFoundError", "load_library", "library_path", "declare", "SIGNATURES"]

#: This package's version (libclarifai.__version__).
PACKAGE_VERSION = "1.1.0"
#: The package's calls carry it as x-clarifai-request-id-prefix, as the SDK sends its own.
REQUEST_ID_PREFIX = f"libclarifai-python-{PACKAGE_VERSION}"
#: The library's file name, its SONAME: the major version this package speaks to.
LIBRARY_NAME = "libclarifai.so.1"
#: clarifai_version_number() of the oldest library this package works with: 1.1.0 brought the
#: error details, per-client settings and session tokens the package uses.
MINIMUM_VERSION_NUMBER = 10100
PACKAGE_DIR = Path(__file__).resolve().parent


class LibraryNotFoundError(OSError):
    """libclarifai could not be loaded; the message lists every place that was searched."""


class ConceptStruct(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char_p), ("name", ctypes.c_char_p), ("value", ctypes.c_float),
                ("app_id", ctypes.c_char_p)]


class RegionStruct(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char_p), ("top_row", ctypes.c_float), ("left_col", ctypes.c_float),
                ("bottom_row", ctypes.c_float), ("right_col", ctypes.c_float), ("value", ctypes.c_float),
                ("concepts", ctypes.POINTER(ConceptStruct)), ("concept_count", ctypes.c_size_t)]


class InputStruct(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("url", ctypes.c_char_p), ("data", ctypes.c_void_p),
                ("data_len", ctypes.c_size_t), ("text", ctypes.c_char_p), ("id", ctypes.c_char_p)]


#: int (*clarifai_stream_fn)(const clarifai_response *message, void *userdata)
STREAM_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class BulkProgressStruct(ctypes.Structure):
    _fields_ = [("supplied", ctypes.c_size_t), ("done", ctypes.c_size_t), ("failed", ctypes.c_size_t),
                ("in_flight", ctypes.c_size_t), ("rate", ctypes.c_double)]


class ResourceIdsStruct(ctypes.Structure):
    _fields_ = [("user_id", ctypes.c_char_p), ("app_id", ctypes.c_char_p), ("resource_type", ctypes.c_char_p),
                ("resource_id", ctypes.c_char_p), ("version_id", ctypes.c_char_p)]


class UploadInputStruct(ctypes.Structure):
    _fields_ = [("input", InputStruct), ("concepts", ctypes.POINTER(ctypes.c_char_p)), ("concept_count", ctypes.c_size_t),
                ("metadata_json", ctypes.c_char_p)]


#: int (*clarifai_input_fn)(void *userdata, clarifai_input *input)
INPUT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(InputStruct))
#: int (*clarifai_result_fn)(void *userdata, size_t index, int code, const clarifai_response *result)
RESULT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p)
#: void (*clarifai_progress_fn)(void *userdata, const clarifai_bulk_progress *progress)
PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(BulkProgressStruct))
#: int (*clarifai_upload_input_fn)(void *userdata, clarifai_upload_input *input)
UPLOAD_INPUT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(UploadInputStruct))
#: int (*clarifai_upload_result_fn)(void *userdata, size_t index, int code, const char *input_id, int status_code,
#:                                  unsigned tries)
UPLOAD_RESULT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                    ctypes.c_uint)

_p, _s, _i, _z, _long = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_long
_out = ctypes.POINTER(ctypes.c_void_p)
_strings = ctypes.POINTER(ctypes.c_char_p)
#: restype and argtypes of every function of clarifai.h, in the header's order. Handles are
#: c_void_p; byte buffers passed in (const void *) are c_char_p, so that bytes go without a copy.
SIGNATURES: Dict[str, Tuple[object, List[object]]] = {
    "clarifai_error_name": (_s, [_i]),
    "clarifai_last_error": (_s, []),
    "clarifai_last_error_code": (_i, []),
    "clarifai_last_error_http_status": (_i, []),
    "clarifai_last_error_grpc_status": (_i, []),
    "clarifai_last_error_transient": (_i, []),
    "clarifai_last_error_metadata_count": (_z, []),
    "clarifai_last_error_metadata": (_i, [_z, _strings, _strings, ctypes.POINTER(_i)]),
    "clarifai_version": (_s, []),
    "clarifai_version_number": (ctypes.c_uint, []),
    "clarifai_api_version": (_s, []),
    "clarifai_channel_new_json": (_p, [_s]),
    "clarifai_channel_new_grpc": (_p, [_s]),
    "clarifai_channel_new_grpc_insecure": (_p, [_s]),
    "clarifai_channel_set_timeout_ms": (_i, [_p, _long]),
    "clarifai_channel_set_idle_timeout_ms": (_i, [_p, _long]),
    "clarifai_channel_set_keepalive_ms": (_i, [_p, _long]),
    "clarifai_channel_set_max_receive_bytes": (_i, [_p, _z]),
    "clarifai_channel_set_max_retries": (_i, [_p, _i]),
    "clarifai_channel_set_connections": (_i, [_p, _i]),
    "clarifai_channel_set_ca_file": (_i, [_p, _s]),
    "clarifai_channel_free": (None, [_p]),
    "clarifai_client_new": (_p, [_p, _s, _s, _s]),
    "clarifai_client_new_session": (_p, [_p, _s, _s, _s]),
    "clarifai_client_new_authorization": (_p, [_p, _s, _s, _s]),
    "clarifai_client_dup": (_p, [_p]),
    "clarifai_client_set_timeout_ms": (_i, [_p, _long]),
    "clarifai_client_set_max_retries": (_i, [_p, _i]),
    "clarifai_client_set_header": (_i, [_p, _s, _s]),
    "clarifai_client_free": (None, [_p]),
    "clarifai_call": (_i, [_p, _s, _s, _out]),
    "clarifai_call_proto": (_i, [_p, _s, _s, _z, _out]),
    "clarifai_call_stream": (_i, [_p, _s, _s, STREAM_FN, _p]),
    "clarifai_stream_open": (_i, [_p, _s, _out]),
    "clarifai_stream_send": (_i, [_p, _s]),
    "clarifai_stream_send_proto": (_i, [_p, _s, _z]),
    "clarifai_stream_close_send": (_i, [_p]),
    "clarifai_stream_recv": (_i, [_p, _out]),
    "clarifai_stream_cancel": (None, [_p]),
    "clarifai_stream_free": (None, [_p]),
    "clarifai_method_count": (_z, []),
    "clarifai_method_name": (_s, [_z]),
    "clarifai_predict": (_i, [_p, _s, _s, ctypes.POINTER(InputStruct), _z, _out]),
    "clarifai_predict_url": (_i, [_p, _s, _s, _s, _out]),
    "clarifai_predict_bytes": (_i, [_p, _s, _s, _s, _z, _out]),
    "clarifai_predict_file": (_i, [_p, _s, _s, _s, _out]),
    "clarifai_predict_text": (_i, [_p, _s, _s, _s, _out]),
    "clarifai_queue_new": (_p, []),
    "clarifai_queue_fd": (_i, [_p]),
    "clarifai_call_async": (_i, [_p, _s, _s, _p, _p]),
    "clarifai_call_proto_async": (_i, [_p, _s, _s, _z, _p, _p]),
    "clarifai_predict_async": (_i, [_p, _s, _s, ctypes.POINTER(InputStruct), _z, _p, _p]),
    "clarifai_queue_next": (_i, [_p, _long, _out, ctypes.POINTER(_i), _out]),
    "clarifai_queue_cancel": (_z, [_p, _p]),
    "clarifai_queue_free": (None, [_p]),
    "clarifai_predict_many": (_i, [_p, _s, _s, _z, _z, ctypes.c_double, INPUT_FN, RESULT_FN, PROGRESS_FN, _p]),
    "clarifai_upload_inputs": (_i, [_p, _z, _z, ctypes.c_uint, UPLOAD_INPUT_FN, UPLOAD_RESULT_FN, PROGRESS_FN, _p]),
    "clarifai_pager_new": (_p, [_p, _s, _s, ctypes.c_uint]),
    "clarifai_pager_next": (_i, [_p, _out]),
    "clarifai_pager_free": (None, [_p]),
    "clarifai_parse_resource_url": (_i, [_s, ctypes.POINTER(ResourceIdsStruct), _p, _z]),
    "clarifai_response_status_code": (_i, [_p]),
    "clarifai_response_status_description": (_s, [_p]),
    "clarifai_response_status_details": (_s, [_p]),
    "clarifai_response_request_id": (_s, [_p]),
    "clarifai_response_metadata_count": (_z, [_p]),
    "clarifai_response_metadata": (_i, [_p, _z, _strings, _strings, ctypes.POINTER(_i)]),
    "clarifai_response_json": (_s, [_p]),
    "clarifai_response_proto": (_i, [_p, _out, ctypes.POINTER(_z)]),
    "clarifai_response_output_count": (_z, [_p]),
    "clarifai_response_concepts": (_i, [_p, _z, ctypes.POINTER(ctypes.POINTER(ConceptStruct)), ctypes.POINTER(_z)]),
    "clarifai_response_regions": (_i, [_p, _z, ctypes.POINTER(ctypes.POINTER(RegionStruct)), ctypes.POINTER(_z)]),
    "clarifai_response_text": (_s, [_p, _z]),
    "clarifai_response_embedding": (_i, [_p, _z, ctypes.POINTER(ctypes.POINTER(ctypes.c_float)), ctypes.POINTER(_z)]),
    "clarifai_response_concepts_text": (_i, [_p, _z, _strings, ctypes.POINTER(_z), ctypes.POINTER(_z)]),
    "clarifai_response_outputs_text": (_i, [_p, _strings, ctypes.POINTER(_z), ctypes.POINTER(_z),
                                           ctypes.POINTER(ctypes.POINTER(_z)), ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))]),
    "clarifai_response_count": (_z, [_p, _s]),
    "clarifai_response_string": (_s, [_p, _s]),
    "clarifai_response_int64": (_i, [_p, _s, ctypes.POINTER(ctypes.c_longlong)]),
    "clarifai_response_double": (_i, [_p, _s, ctypes.POINTER(ctypes.c_double)]),
    "clarifai_response_free": (None, [_p]),
    "clarifai_json_to_proto": (_i, [_s, _s, _out, ctypes.POINTER(_z)]),
    "clarifai_proto_to_json": (_i, [_s, _s, _z, _out]),
    "clarifai_free": (None, [_p]),
}

_lock = threading.Lock()
_library: Optional[ctypes.CDLL] = None
_library_path: Optional[str] = None


# Functions that return at once (a response's fields, the last error): called with the GIL held.
# ctypes releases the GIL around every other call; with threads calling at once, each release
# hands the GIL to another thread and the caller waits to get it back, several times per
# prediction read.
GIL_HELD = frozenset({
    "clarifai_last_error", "clarifai_last_error_code", "clarifai_last_error_http_status",
    "clarifai_last_error_grpc_status", "clarifai_last_error_transient", "clarifai_last_error_metadata_count",
    "clarifai_last_error_metadata", "clarifai_response_status_code", "clarifai_response_status_description",
    "clarifai_response_status_details", "clarifai_response_request_id", "clarifai_response_metadata_count",
    "clarifai_response_metadata", "clarifai_response_proto", "clarifai_response_output_count",
    "clarifai_response_outputs_text", "clarifai_response_concepts_text", "clarifai_response_concepts",
    "clarifai_response_regions", "clarifai_response_text", "clarifai_response_embedding", "clarifai_response_free",
})


def declare(library: ctypes.CDLL) -> List[str]:
    """Sets restype and argtypes of each function of clarifai.h that `library` exports (those of
    GIL_HELD taken from a PyDLL handle of the same library); returns the names of those it lacks."""
    held = ctypes.PyDLL(library._name)
    missing = []
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            function = getattr(held if name in GIL_HELD else library, name)
        except AttributeError:
            missing.append(name)
            continue
        function.restype, function.argtypes = restype, argtypes
        setattr(library, name, function)
    return missing


def _open(path: str) -> ctypes.CDLL:
    """Loads `path` and declares the C API on it; OSError when it cannot be loaded or is not a
    libclarifai 1.x of MINIMUM_VERSION_NUMBER or later."""
    library = ctypes.CDLL(path)
    missing = declare(library)
    if "clarifai_version" in missing:
        raise OSError("not a libclarifai: it has no clarifai_version")
    found = (library.clarifai_version() or b"").decode()
    # Libraries before 1.1 have no clarifai_version_number.
    number = 0 if "clarifai_version_number" in missing else library.clarifai_version_number()
    major, minor = divmod(MINIMUM_VERSION_NUMBER // 100, 100)
    if number // 10000 != major or number < MINIMUM_VERSION_NUMBER:
        raise OSError(f"libclarifai {found} is not supported: this package needs {major}.{minor} or a later {major}.x")
    if missing:
        raise OSError(f"libclarifai {found} lacks {', '.join(missing[:3])}"
                      + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    return library


def _search() -> Tuple[ctypes.CDLL, str]:
    looked: List[str] = []

    def attempt(path: str, where: str) -> Optional[ctypes.CDLL]:
        try:
            return _open(path)
        except OSError as error:
            looked.append(f"{where}: {path}: {error}")
            return None

    # 1. $LIBCLARIFAI_PATH: the library file, or a directory holding it.
    env = os.environ.get("LIBCLARIFAI_PATH")
    if env:
        given = Path(env)
        candidate = given / LIBRARY_NAME if given.is_dir() else given
        if candidate.exists():
            library = attempt(str(candidate), "$LIBCLARIFAI_PATH")
            if library:
                return library, str(candidate)
        else:
            looked.append(f"$LIBCLARIFAI_PATH: {candidate}: no such file")
    else:
        looked.append("$LIBCLARIFAI_PATH: not set")

    # 2. Next to the package (a copy bundled into the installed package).
    bundled = PACKAGE_DIR / LIBRARY_NAME
    if bundled.exists():
        library = attempt(str(bundled), "next to the package")
        if library:
            return library, str(bundled)
    else:
        looked.append(f"next to the package: {PACKAGE_DIR} has no {LIBRARY_NAME}")

    # 3. The system: ctypes.util.find_library, then the dynamic linker's own search
    #    (LD_LIBRARY_PATH, rpath, ld.so.cache, default directories) for the SONAME.
    found = ctypes.util.find_library("clarifai")
    if found:
        library = attempt(found, "system (ctypes.util.find_library('clarifai'))")
        if library:
            return library, found
    else:
        looked.append("system: ctypes.util.find_library('clarifai') found nothing")
    try:
        return _open(LIBRARY_NAME), LIBRARY_NAME
    except OSError as error:
        looked.append(f"system: the dynamic linker: {error}")

    raise LibraryNotFoundError(
        "cannot load libclarifai, the Clarifai C library. Looked in:\n"
        + "".join(f"  - {line}\n" for line in looked)
        + "Set LIBCLARIFAI_PATH to the library file (e.g. /path/to/build/lib/libclarifai.so.1) "
          "or install libclarifai on the system.")


def load_library() -> ctypes.CDLL:
    """The loaded libclarifai (loaded on first use: $LIBCLARIFAI_PATH, then next to this package,
    then the system). Raises LibraryNotFoundError naming every place searched."""
    global _library, _library_path
    if _library is None:
        with _lock:
            if _library is None:
                _library, _library_path = _search()
    return _library


def library_path() -> str:
    """The path (or system name) the library was loaded from."""
    load_library()
    assert _library_path is not None
    return _library_path
