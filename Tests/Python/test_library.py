"""The shared library as users get it: its exports, its SONAME, what it links, where it loads."""
import subprocess

import capi

LIBRARY = capi.ROOT / "build" / "lib" / "libclarifai.so.1"
HEADER = capi.ROOT / "Include" / "clarifai.h"


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, check=True, **kwargs).stdout


def test_exports_only_the_clarifai_api():
    symbols = [line.split()[-1] for line in run("nm", "-D", "--defined-only", str(LIBRARY)).splitlines()]
    names = {symbol.split("@")[0] for symbol in symbols if symbol != "LIBCLARIFAI_1"}
    assert names and all(name.startswith("clarifai_") for name in names), sorted(names)


def test_every_exported_function_is_declared_in_the_header():
    header = HEADER.read_text()
    exported = {line.split()[-1].split("@")[0] for line in run("nm", "-D", "--defined-only", str(LIBRARY)).splitlines()}
    missing = [name for name in exported if name.startswith("clarifai_") and name + "(" not in header]
    assert not missing


def test_soname_and_symlinks():
    assert "Library soname: [libclarifai.so.1]" in run("readelf", "-d", str(LIBRARY))
    assert (LIBRARY.parent / "libclarifai.so").resolve() == (LIBRARY.parent / "libclarifai.so.1.1.0").resolve()


def test_links_no_swift_runtime():
    linked = run("ldd", str(LIBRARY))
    assert "swift" not in linked.lower() and "foundation" not in linked.lower(), linked
    for needed in ("libcurl.so.4", "libjansson.so.4", "libcrypto.so.3", "libz.so.1"):
        assert needed in linked


def test_loads_with_an_empty_environment():
    """No Swift toolchain on any path: `env -i` leaves no PATH or LD_LIBRARY_PATH at all."""
    script = ("import ctypes; lib = ctypes.CDLL(%r); lib.clarifai_version.restype = ctypes.c_char_p; "
              "print(lib.clarifai_version().decode(), lib.clarifai_method_count())" % str(LIBRARY))
    assert run("env", "-i", "/usr/bin/python3", "-c", script).split() == ["1.1.0", "273"]


def test_library_sources_do_not_import_foundation():
    hits = subprocess.run(["grep", "-rlE", r"^\s*import\s+(Foundation|FoundationEssentials)\b", str(capi.ROOT / "Sources")],
                          capture_output=True, text=True)
    assert hits.stdout == ""
