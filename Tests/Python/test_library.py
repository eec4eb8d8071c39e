"""The shared library as users get it: its exports, its SONAME, what it links, where it loads."""
import re
import subprocess

import capi

LIBRARY = capi.ROOT / "build" / "lib" / "libclarifai.so.1"
HEADER = capi.ROOT / "Include" / "clarifai.h"


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, check=True, **kwargs).stdout


def exported_functions():
    """The names of the library's dynamic symbols, each checked to be a function of LIBCLARIFAI_1."""
    names = set()
    for line in run("nm", "-D", "--defined-only", str(LIBRARY)).splitlines():
        kind, symbol = line.split()[1:]
        if (kind, symbol) == ("A", "LIBCLARIFAI_1"):
            continue  # the version node itself: GNU ld and gold list it, lld does not
        name, _, version = symbol.partition("@@")
        assert (kind, version) == ("T", "LIBCLARIFAI_1"), line
        names.add(name)
    return names


def declared_functions(folder):
    """The functions clarifai.h declares, as gcc parses it: -aux-info writes one prototype a line,
    after the file and line it comes from (comments and macros are not declarations)."""
    listing = folder / "clarifai.aux"
    run("gcc", "-std=c99", "-fsyntax-only", f"-aux-info={listing}", "-x", "c", str(HEADER))
    names = set()
    for line in listing.read_text().splitlines():
        origin = re.match(r"/\* (.+):\d+:\w+ \*/ (.*);$", line)
        if origin and origin[1] == str(HEADER):
            names.add(re.search(r"(\w+) \(", origin[2])[1])
    return names


def test_exports_exactly_the_functions_declared_in_the_header(tmp_path):
    declared = declared_functions(tmp_path)
    assert declared and all(name.startswith("clarifai_") for name in declared), sorted(declared)
    assert exported_functions() == declared


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
    assert (hits.returncode, hits.stdout) == (1, ""), hits.stderr  # grep: 1 is no match, 2 an error
