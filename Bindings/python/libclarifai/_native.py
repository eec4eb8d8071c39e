"""Finding and loading libclarifai, and the ctypes declarations of Include/clarifai.h."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple

__all__ = ["LibraryNotFoundError", "load_library", "library_path"]

#: File names tried in a directory (LIBCLARIFAI_PATH pointing at one, and the package's own).
LIBRARY_NAMES = ("libclarifai.so.1", "libclarifai.so", "libclarifai.1.dylib", "libclarifai.dylib", "clarifai.dll")
#: The library's major version this package speaks to (the SONAME's number).
ABI_MAJOR = 1
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

_p, _s, _i, _z = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
_out = ctypes.POINTER(ctypes.c_void_p)
_SIGNATURES: Dict[str, Tuple[object, List[object]]] = {
    "clarifai_error_name": (_s, [_i]),
    "clarifai_last_error": (_s, []),
    "clarifai_version": (_s, []),
    "clarifai_api_version": (_s, []),
    "clarifai_channel_new_json": (_p, [_s]),
    "clarifai_channel_new_grpc": (_p, [_s]),
    "clarifai_channel_new_grpc_insecure": (_p, [_s]),
    "clarifai_channel_set_timeout_ms": (_i, [_p, ctypes.c_long]),
    "clarifai_channel_set_ca_file": (_i, [_p, _s]),
    "clarifai_channel_free": (None, [_p]),
    "clarifai_client_new": (_p, [_p, _s, _s, _s]),
    "clarifai_client_free": (None, [_p]),
    "clarifai_call": (_i, [_p, _s, _s, _out]),
    "clarifai_call_proto": (_i, [_p, _s, _s, _z, _out]),
    "clarifai_call_stream": (_i, [_p, _s, _s, STREAM_FN, _p]),
    "clarifai_method_count": (_z, []),
    "clarifai_method_name": (_s, [_z]),
    "clarifai_predict": (_i, [_p, _s, _s, ctypes.POINTER(InputStruct), _z, _out]),
    "clarifai_predict_url": (_i, [_p, _s, _s, _s, _out]),
    "clarifai_predict_bytes": (_i, [_p, _s, _s, _s, _z, _out]),
    "clarifai_predict_file": (_i, [_p, _s, _s, _s, _out]),
    "clarifai_predict_text": (_i, [_p, _s, _s, _s, _out]),
    "clarifai_response_status_code": (_i, [_p]),
    "clarifai_response_status_description": (_s, [_p]),
    "clarifai_response_status_details": (_s, [_p]),
    "clarifai_response_request_id": (_s, [_p]),
    "clarifai_response_json": (_s, [_p]),
    "clarifai_response_proto": (_i, [_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_z)]),
    "clarifai_response_output_count": (_z, [_p]),
    "clarifai_response_concepts": (_i, [_p, _z, ctypes.POINTER(ctypes.POINTER(ConceptStruct)), ctypes.POINTER(_z)]),
    "clarifai_response_regions": (_i, [_p, _z, ctypes.POINTER(ctypes.POINTER(RegionStruct)), ctypes.POINTER(_z)]),
    "clarifai_response_text": (_s, [_p, _z]),
    "clarifai_response_embedding": (_i, [_p, _z, ctypes.POINTER(ctypes.POINTER(ctypes.c_float)), ctypes.POINTER(_z)]),
    "clarifai_response_free": (None, [_p]),
    "clarifai_json_to_proto": (_i, [_s, _s, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_z)]),
    "clarifai_proto_to_json": (_i, [_s, _s, _z, ctypes.POINTER(ctypes.c_void_p)]),
    "clarifai_free": (None, [_p]),
}
#: Declared when the library has them (newer releases); callers check with hasattr.
_OPTIONAL_SIGNATURES: Dict[str, Tuple[object, List[object]]] = {
    "clarifai_channel_set_max_retries": (_i, [_p, _i]),
}

_lock = threading.Lock()
_library: Optional[ctypes.CDLL] = None
_library_path: Optional[str] = None


def _open(path: str) -> ctypes.CDLL:
    """Loads `path` and declares the C API on it; OSError when it cannot be loaded or is not a
    compatible libclarifai."""
    library = ctypes.CDLL(path)
    missing = [name for name in _SIGNATURES if not hasattr(library, name)]
    if missing:
        raise OSError(f"not a compatible libclarifai: lacks {', '.join(missing[:3])}"
                      + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    for name, (restype, argtypes) in list(_SIGNATURES.items()) + list(_OPTIONAL_SIGNATURES.items()):
        if hasattr(library, name):
            function = getattr(library, name)
            function.restype, function.argtypes = restype, argtypes
    found = (library.clarifai_version() or b"").decode()
    if found.split(".")[0] != str(ABI_MAJOR):
        raise OSError(f"libclarifai version {found}, this package needs {ABI_MAJOR}.x")
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
        if given.is_dir():
            names = [given / name for name in LIBRARY_NAMES if (given / name).exists()]
            if not names:
                looked.append(f"$LIBCLARIFAI_PATH: directory {given} holds none of {', '.join(LIBRARY_NAMES)}")
        elif given.exists():
            names = [given]
        else:
            names = []
            looked.append(f"$LIBCLARIFAI_PATH: {given}: no such file")
        for candidate in names:
            library = attempt(str(candidate), "$LIBCLARIFAI_PATH")
            if library:
                return library, str(candidate)
    else:
        looked.append("$LIBCLARIFAI_PATH: not set")

    # 2. Next to the package (a copy bundled into the installed package).
    present = [PACKAGE_DIR / name for name in LIBRARY_NAMES if (PACKAGE_DIR / name).exists()]
    if not present:
        looked.append(f"next to the package: {PACKAGE_DIR} holds none of {', '.join(LIBRARY_NAMES)}")
    for candidate in present:
        library = attempt(str(candidate), "next to the package")
        if library:
            return library, str(candidate)

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
        return _open(LIBRARY_NAMES[0]), LIBRARY_NAMES[0]
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
