"""Packaging: the symbols file guarding the ABI, `make install`, pkg-config and CMake files, the
Debian packages (contents, Depends, lintian), the extract variant of the clean-room test, and
the C examples built against build/lib and run against the local server."""
import json
import os
import re
import shutil
import subprocess

import pytest

import capi

ROOT = capi.ROOT
LIBRARY = ROOT / "build" / "lib" / "libclarifai.so.1"
HEADER = ROOT / "Include" / "clarifai.h"
DEBIAN = ROOT / "Bindings" / "debian"
SYMBOLS_FILE = DEBIAN / "libclarifai1.symbols"
EXAMPLES = ROOT / "Bindings" / "c" / "examples"
INSTALL = ROOT / "Bindings" / "c" / "install.sh"
README = (ROOT / "README.md").read_text()
VERSION = re.search(r'#define CLARIFAI_VERSION_STRING "(.*)"', HEADER.read_text()).group(1)
MAJOR = VERSION.split(".")[0]


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, check=True, **kwargs).stdout


def needs(*tools):
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip("not installed: " + ", ".join(missing))


def multiarch():
    try:
        return run("dpkg-architecture", "-qDEB_HOST_MULTIARCH").strip()
    except (OSError, subprocess.CalledProcessError):
        return run("gcc", "-print-multiarch").strip()


def readme_c_example():
    return re.search(r"```c\n(.*?)```", README, re.S).group(1)


# ---------------------------------------------------------------------------------------------
# The ABI: Bindings/debian/libclarifai1.symbols
# ---------------------------------------------------------------------------------------------
def exported_symbols(library=LIBRARY):
    """name@VERSION of each defined dynamic symbol, as dpkg-gensymbols writes them."""
    names = set()
    for line in run("nm", "-D", "--defined-only", str(library)).splitlines():
        symbol = line.split()[-1]
        names.add(re.sub(r"@@?", "@", symbol) if "@" in symbol else symbol + "@Base")
    return names


def listed_symbols(text=None):
    """{name@VERSION: minimal package version} from the symbols file."""
    text = SYMBOLS_FILE.read_text() if text is None else text
    return {line.split()[0]: line.split()[1] for line in text.splitlines() if line.startswith(" ")}


def symbols_difference(exported, listed):
    added, removed = sorted(exported - set(listed)), sorted(set(listed) - exported)
    problems = []
    if added:
        problems.append("exported but not in Bindings/debian/libclarifai1.symbols (run "
                        "Bindings/debian/update-symbols.sh): " + ", ".join(added))
    if removed:
        problems.append("listed in Bindings/debian/libclarifai1.symbols but no longer exported "
                        "(an ABI break: restore them or bump the SONAME): " + ", ".join(removed))
    return problems


def test_symbols_file_lists_exactly_the_exported_abi():
    problems = symbols_difference(exported_symbols(), listed_symbols())
    assert not problems, "\n".join(problems)


def test_symbols_guard_notices_a_missing_and_an_unlisted_symbol():
    listed = listed_symbols()
    exported = exported_symbols()
    one = sorted(listed)[0]
    assert symbols_difference(exported - {one}, listed)[0].startswith("listed in")
    assert symbols_difference(exported | {"clarifai_new_thing@LIBCLARIFAI_1"}, listed)[0].startswith("exported but not")


def test_symbols_file_header_and_versions():
    lines = SYMBOLS_FILE.read_text().splitlines()
    assert lines[0] == f"libclarifai.so.{MAJOR} libclarifai{MAJOR} #MINVER#"
    assert "* Build-Depends-Package: libclarifai-dev" in lines
    soname = re.search(r"Library soname: \[(.*)\]", run("readelf", "-d", str(LIBRARY))).group(1)
    assert lines[0].split()[0] == soname
    for symbol, version in listed_symbols().items():
        assert re.fullmatch(r"clarifai_\w+@LIBCLARIFAI_" + MAJOR, symbol), symbol
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), (symbol, version)
        # a symbol cannot be newer than the library that exports it
        if shutil.which("dpkg"):
            assert subprocess.run(["dpkg", "--compare-versions", version, "le", VERSION]).returncode == 0, (symbol, version)


def test_shlibs_file_names_the_soname_and_package():
    assert (DEBIAN / "libclarifai1.shlibs").read_text().split()[:3] == ["libclarifai", MAJOR, f"libclarifai{MAJOR}"]


def test_changelog_version_is_the_header_version():
    needs("dpkg-parsechangelog")
    version = run("dpkg-parsechangelog", "-l", str(DEBIAN / "changelog"), "-SVersion").strip()
    assert version == VERSION or version.startswith(VERSION + "-"), (version, VERSION)


# ---------------------------------------------------------------------------------------------
# make install: Bindings/c/install.sh
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """build/lib installed with PREFIX=<tmp>/prefix (no DESTDIR: the paths are the real ones)."""
    path = tmp_path_factory.mktemp("install") / "prefix"
    run(str(INSTALL), "--prefix", str(path))
    return path


def pkg_config(prefix, *args):
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    return run("pkg-config", *args, "clarifai", env=env).strip()


def test_install_lays_out_library_links_header_pc_and_cmake(prefix):
    lib = prefix / "lib"
    real = lib / f"libclarifai.so.{VERSION}"
    assert real.is_file() and not real.is_symlink()
    assert oct(real.stat().st_mode & 0o777) == "0o644"
    assert os.readlink(lib / f"libclarifai.so.{MAJOR}") == real.name
    assert os.readlink(lib / "libclarifai.so") == f"libclarifai.so.{MAJOR}"
    assert (prefix / "include" / "clarifai.h").read_bytes() == HEADER.read_bytes()
    assert (lib / "cmake" / "clarifai" / "clarifai-config.cmake").is_file()
    assert (lib / "cmake" / "clarifai" / "clarifai-config-version.cmake").is_file()
    dynamic = run("readelf", "-d", str(real))
    assert f"Library soname: [libclarifai.so.{MAJOR}]" in dynamic
    if shutil.which("patchelf") or shutil.which("chrpath"):
        assert "RUNPATH" not in dynamic and "RPATH" not in dynamic
    assert exported_symbols(real) == exported_symbols()


def test_installed_pc_file(prefix):
    needs("pkg-config")
    pc = (prefix / "lib" / "pkgconfig" / "clarifai.pc").read_text()
    assert f"prefix={prefix}\n" in pc and "libdir=${prefix}/lib\n" in pc and "includedir=${prefix}/include\n" in pc
    assert re.search(r"^Requires\.private: libcurl jansson libcrypto zlib$", pc, re.M)
    assert pkg_config(prefix, "--modversion") == VERSION
    flags = pkg_config(prefix, "--cflags", "--libs").split()
    assert f"-I{prefix}/include" in flags and f"-L{prefix}/lib" in flags and "-lclarifai" in flags


def test_readme_example_builds_with_pkg_config_and_runs(prefix, server, tmp_path):
    needs("pkg-config", "gcc")
    (tmp_path / "app.c").write_text(readme_c_example())
    flags = pkg_config(prefix, "--cflags", "--libs").split()
    run("gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", str(tmp_path / "app.c"), *flags,
        f"-Wl,-rpath,{prefix}/lib", "-o", str(tmp_path / "app"))
    assert f"{prefix}/lib/libclarifai.so.{MAJOR}" in run("ldd", str(tmp_path / "app"))
    result = subprocess.run(["env", "-i", f"CLARIFAI_API_BASE={server.rest_url}", f"CLARIFAI_PAT={server.token}",
                             str(tmp_path / "app")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert len(result.stdout.splitlines()) == 20


def test_install_for_usr_uses_the_multiarch_libdir_and_destdir(tmp_path):
    run(str(INSTALL), "--prefix", "/usr", "--destdir", str(tmp_path))
    libdir = tmp_path / "usr" / "lib" / multiarch()
    assert (libdir / f"libclarifai.so.{VERSION}").is_file()
    pc = (libdir / "pkgconfig" / "clarifai.pc").read_text()
    assert "prefix=/usr\n" in pc and f"libdir=${{prefix}}/lib/{multiarch()}\n" in pc
    assert str(tmp_path) not in pc
    assert str(tmp_path) not in (libdir / "cmake" / "clarifai" / "clarifai-config.cmake").read_text()


def test_uninstall_removes_what_install_put(tmp_path):
    run(str(INSTALL), "--prefix", str(tmp_path / "p"), "--libdir", str(tmp_path / "p" / "lib64"))
    assert (tmp_path / "p" / "lib64" / "pkgconfig" / "clarifai.pc").is_file()
    run(str(INSTALL), "--prefix", str(tmp_path / "p"), "--libdir", str(tmp_path / "p" / "lib64"), "--uninstall")
    assert [p for p in (tmp_path / "p").rglob("*") if not p.is_dir()] == []


def test_install_rejects_a_relative_prefix():
    result = subprocess.run([str(INSTALL), "--prefix", "usr/local"], capture_output=True, text=True)
    assert result.returncode != 0 and "absolute" in result.stderr


@pytest.mark.parametrize("mode", ["config", "pkg-config"])
def test_cmake_finds_the_installed_library(prefix, server, tmp_path, mode):
    """examples/CMakeLists.txt against the installed tree: find_package(clarifai) or pkg_check_modules."""
    needs("cmake", "pkg-config", "gcc")
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    configure = ["cmake", "-S", str(EXAMPLES), "-B", str(tmp_path / "build"), f"-DCMAKE_PREFIX_PATH={prefix}",
                 f"-DCMAKE_BUILD_RPATH={prefix}/lib"]
    if mode == "pkg-config":
        configure.append("-DCLARIFAI_WITH_PKG_CONFIG=ON")
    run(*configure, env=env)
    run("cmake", "--build", str(tmp_path / "build"), env=env)
    call = str(tmp_path / "build" / "call")
    assert f"{prefix}/lib/libclarifai.so.{MAJOR}" in run("ldd", call)
    result = subprocess.run([call, "ListModels"], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_PAT=server.token))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"]["code"] == 10000


def test_cmake_version_check_rejects_another_major(prefix, tmp_path):
    needs("cmake")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(v C)\n"
        f"find_package(clarifai {int(MAJOR) + 1}.0 CONFIG REQUIRED)\n")
    result = subprocess.run(["cmake", "-S", str(tmp_path / "src"), "-B", str(tmp_path / "b"),
                             f"-DCMAKE_PREFIX_PATH={prefix}"], capture_output=True, text=True)
    assert result.returncode != 0 and "clarifai" in result.stderr


# ---------------------------------------------------------------------------------------------
# make deb: Bindings/debian/build-deb.sh
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    """The three packages, built from build/lib into a temporary folder (lintian runs separately)."""
    needs("dpkg-deb", "dpkg-shlibdeps", "dpkg-gensymbols", "dpkg-parsechangelog")
    out = tmp_path_factory.mktemp("deb")
    result = subprocess.run([str(DEBIAN / "build-deb.sh")], capture_output=True, text=True,
                            env=dict(os.environ, OUT=str(out), LINTIAN="0"))
    assert result.returncode == 0, result.stdout + result.stderr
    arch = run("dpkg", "--print-architecture").strip()
    version = run("dpkg-parsechangelog", "-l", str(DEBIAN / "changelog"), "-SVersion").strip()
    runtime, dev = out / f"libclarifai{MAJOR}_{version}_{arch}.deb", out / f"libclarifai-dev_{version}_{arch}.deb"
    tools = out / f"clarifai-tools_{version}_{arch}.deb"
    assert runtime.is_file() and dev.is_file() and tools.is_file(), sorted(os.listdir(out))
    return {"runtime": runtime, "dev": dev, "tools": tools, "dir": out, "version": version, "arch": arch}


def control(deb):
    fields, key = {}, None
    for line in run("dpkg-deb", "-f", str(deb)).splitlines():
        if line.startswith(" ") and key:
            fields[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def contents(deb):
    """{path: (mode string, owner, link target)} of a package's data."""
    entries = {}
    for line in run("dpkg-deb", "-c", str(deb)).splitlines():
        mode, owner, _size, _date, _time, path, *link = line.split(None, 6)
        entries[path.lstrip(".")] = (mode, owner, link[0].split("-> ")[-1] if link else None)
    return entries


def depends_names(field):
    """Package names of a Depends field, alternatives flattened."""
    return {re.match(r"[a-z0-9][a-z0-9.+-]*", alt.strip()).group(0) for dep in field.split(",") for alt in dep.split("|")}


def test_runtime_package_holds_the_library_and_its_soname_link(debs):
    libdir = f"/usr/lib/{multiarch()}"
    files = contents(debs["runtime"])
    assert files[f"{libdir}/libclarifai.so.{VERSION}"][0] == "-rw-r--r--"
    assert files[f"{libdir}/libclarifai.so.{MAJOR}"][2] == f"libclarifai.so.{VERSION}"
    assert "/usr/share/doc/libclarifai1/copyright" in files
    assert {"/usr/share/doc/libclarifai1/changelog.gz", "/usr/share/doc/libclarifai1/changelog.Debian.gz"} & set(files)
    assert not any(path.endswith((".h", ".pc", ".cmake")) or path.endswith("libclarifai.so") for path in files)
    assert {owner for _mode, owner, _link in files.values()} == {"root/root"}
    fields = control(debs["runtime"])
    assert fields["Package"] == f"libclarifai{MAJOR}" and fields["Section"] == "libs"
    assert fields["Version"] == debs["version"] and fields["Architecture"] == debs["arch"]
    assert fields["Multi-Arch"] == "same"


def package_owning(path):
    """The Debian package that ships a file (dpkg records /lib/... or /usr/lib/... as shipped)."""
    candidates = []
    for candidate in (path, os.path.realpath(path)):
        candidates += [candidate, candidate[4:] if candidate.startswith("/usr/") else "/usr" + candidate]
    for candidate in candidates:
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0]
    raise AssertionError(f"no package ships {path}")


def test_runtime_depends_cover_exactly_the_linked_libraries(debs):
    """Depends (from dpkg-shlibdeps) = the packages that own the libraries in readelf -d NEEDED."""
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", run("readelf", "-d", str(LIBRARY)))
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", run("ldd", str(LIBRARY)), re.M))
    owners = set()
    for name in needed:
        path = resolved.get(name) or run("sh", "-c", f"ldconfig -p | awk '$1 == \"{name}\" {{ print $NF; exit }}'").strip()
        if not path and name.startswith("ld-linux"):
            path = f"/lib64/{name}"
        owners.add(package_owning(path))
    depends = control(debs["runtime"])["Depends"]
    assert depends_names(depends) == owners, (depends, needed)
    assert not any("swift" in name for name in depends_names(depends))
    assert all(re.search(r"\(>= [^)]+\)", dep) for dep in depends.split(",")), depends


def test_runtime_control_files_symbols_shlibs_trigger(debs):
    symbols = run("dpkg-deb", "-I", str(debs["runtime"]), "symbols")
    assert symbols.splitlines()[0] == f"libclarifai.so.{MAJOR} libclarifai{MAJOR} #MINVER#"
    assert listed_symbols(symbols) == listed_symbols()
    assert run("dpkg-deb", "-I", str(debs["runtime"]), "shlibs").strip() == f"libclarifai {MAJOR} libclarifai{MAJOR} (>= {VERSION})"
    assert "activate-noawait ldconfig" in run("dpkg-deb", "-I", str(debs["runtime"]), "triggers")
    md5sums = run("dpkg-deb", "-I", str(debs["runtime"]), "md5sums")
    assert f"usr/lib/{multiarch()}/libclarifai.so.{VERSION}" in md5sums


def test_packaged_library_is_stripped_without_runpath_and_exports_the_same(debs, tmp_path):
    run("dpkg-deb", "-x", str(debs["runtime"]), str(tmp_path))
    real = tmp_path / "usr" / "lib" / multiarch() / f"libclarifai.so.{VERSION}"
    dynamic = run("readelf", "-d", str(real))
    assert "RUNPATH" not in dynamic and "RPATH" not in dynamic
    assert ".debug_info" not in run("readelf", "-S", str(real))
    assert exported_symbols(real) == exported_symbols()
    out = run("env", "-i", "/usr/bin/python3", "-c",
              "import ctypes; l = ctypes.CDLL(%r); l.clarifai_version.restype = ctypes.c_char_p; "
              "print(l.clarifai_version().decode())" % str(real))
    assert out.strip() == VERSION


def test_dev_package_contents_and_depends(debs):
    libdir = f"/usr/lib/{multiarch()}"
    files = contents(debs["dev"])
    assert files[f"{libdir}/libclarifai.so"][2] == f"libclarifai.so.{MAJOR}"
    for path in ("/usr/include/clarifai.h", f"{libdir}/pkgconfig/clarifai.pc",
                 f"{libdir}/cmake/clarifai/clarifai-config.cmake", f"{libdir}/cmake/clarifai/clarifai-config-version.cmake",
                 "/usr/share/doc/libclarifai-dev/copyright", "/usr/share/doc/libclarifai-dev/examples/stream.c",
                 "/usr/share/doc/libclarifai-dev/examples/call.c", "/usr/share/doc/libclarifai-dev/examples/predict.c"):
        assert files[path][0] == "-rw-r--r--", path
    assert not any(".so." in path for path in files)
    fields = control(debs["dev"])
    assert fields["Section"] == "libdevel" and fields["Multi-Arch"] == "same"
    assert f"libclarifai{MAJOR} (= {debs['version']})" in fields["Depends"]
    # pkg-config reads the Requires.private modules' .pc files: their -dev packages must come along.
    triplet = multiarch()
    for module in ("libcurl", "jansson", "libcrypto", "zlib"):
        owner = run("dpkg", "-S", f"/usr/lib/{triplet}/pkgconfig/{module}.pc").split(":")[0]
        assert owner in depends_names(fields["Depends"]), (module, owner, fields["Depends"])


def test_tools_package_holds_the_cli_its_man_page_and_completion(debs, tmp_path):
    """clarifai-tools: the program (hardened, stripped, no RUNPATH, on libclarifai1 at the
    version of the newest symbol it uses), a man page that renders without a warning, and bash
    completion where bash-completion looks."""
    files = contents(debs["tools"])
    assert files["/usr/bin/clarifai-cli"][0] == "-rwxr-xr-x"
    for path in ("/usr/share/man/man1/clarifai-cli.1.gz", "/usr/share/bash-completion/completions/clarifai-cli"):
        assert files[path][0] == "-rw-r--r--", path
    fields = control(debs["tools"])
    assert fields["Section"] == "utils" and fields["Multi-Arch"] == "foreign"
    assert f"libclarifai{MAJOR} (>= {VERSION})" in fields["Depends"].split(", ")
    assert {"libjansson4", "libyaml-0-2"} <= depends_names(fields["Depends"])
    run("dpkg-deb", "-x", str(debs["tools"]), str(tmp_path))
    program = tmp_path / "usr" / "bin" / "clarifai-cli"
    dynamic = run("readelf", "-d", str(program))
    assert "RUNPATH" not in dynamic and "BIND_NOW" in dynamic and "libclarifai.so.1" in dynamic
    assert ".debug_info" not in run("readelf", "-S", str(program))
    rendered = subprocess.run(["man", "-l", str(tmp_path / "usr/share/man/man1/clarifai-cli.1.gz")], capture_output=True,
                              text=True, env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"), timeout=60)
    assert rendered.returncode == 0 and rendered.stderr == "", rendered.stderr
    assert "clarifai-cli - call the Clarifai API from a shell" in rendered.stdout and "EXIT STATUS" in rendered.stdout
    assert f"libclarifai {VERSION}" in rendered.stdout  # the page's version is the library's


def test_changelog_and_copyright_in_every_package(debs, tmp_path):
    for key in ("runtime", "dev", "tools"):
        run("dpkg-deb", "-x", str(debs[key]), str(tmp_path / key))
        package = control(debs[key])["Package"]
        doc = tmp_path / key / "usr" / "share" / "doc" / package
        changelog = doc / ("changelog.gz" if debs["version"] == VERSION else "changelog.Debian.gz")
        text = run("sh", "-c", f"gzip -dc {changelog}")
        assert text == (DEBIAN / "changelog").read_text()
        assert (doc / "copyright").read_text() == (DEBIAN / "copyright").read_text()
        # gzip -n: no name, no timestamp in the header (reproducible)
        assert changelog.read_bytes()[4:8] == b"\0\0\0\0"


def test_lintian_reports_no_errors(debs):
    if shutil.which("lintian") is None:
        pytest.skip("LINTIAN IS NOT INSTALLED: the packages were not checked (apt-get install lintian)")
    result = subprocess.run(["lintian", "--allow-root", "--fail-on", "error", str(debs["runtime"]), str(debs["dev"]),
                             str(debs["tools"])],
                            capture_output=True, text=True, timeout=600)
    errors = [line for line in result.stdout.splitlines() if line.startswith("E:")]
    assert result.returncode == 0 and not errors, result.stdout + result.stderr


def test_clean_room_extract_variant(debs, tmp_path):
    """The dpkg -x + env -i half of `make test-deb` (the debootstrap half runs in make test-deb)."""
    needs("pkg-config", "gcc")
    result = subprocess.run([str(DEBIAN / "clean-room-test.sh")], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, DEB_DIR=str(debs["dir"]), CLEANROOM_DIR=str(tmp_path), SKIP_CHROOT="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "extract variant: PASSED" in result.stdout
    assert "README example: 20 concept lines" in result.stdout
    assert "clarifai-cli: methods 273, predict 20 concepts" in result.stdout


# ---------------------------------------------------------------------------------------------
# The C examples: built with gcc against build/lib (as `make examples` does), run against the server
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    needs("gcc")
    out = tmp_path_factory.mktemp("examples")
    built = {}
    for name in ("predict", "stream", "call"):
        run("gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", f"-I{ROOT}/Include",
            "-o", str(out / name), str(EXAMPLES / f"{name}.c"), f"-L{ROOT}/build/lib", "-lclarifai",
            f"-Wl,-rpath,{ROOT}/build/lib")
        built[name] = str(out / name)
    return built


def run_example(command, server, stdin=None, **env):
    environment = dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_GRPC_BASE=server.grpc_target,
                       CLARIFAI_PAT=server.token)
    environment.update(env)
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment, input=stdin)


def test_predict_url_file_and_text(examples, server, tmp_path):
    result = run_example([examples["predict"], "general-image-recognition", "https://samples.clarifai.com/metro-north.jpg"], server)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 20
    image = tmp_path / "photo.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = run_example([examples["predict"], "general-image-recognition", str(image)], server)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 20, result.stderr
    result = run_example([examples["predict"], "--text", "text-echo", "hello"], server)
    assert result.returncode == 0 and result.stdout == "echo: hello\n", result.stderr


def test_stream_prints_each_message_text(examples, server):
    result = run_example([examples["stream"], "--insecure", "stream-count", "5"], server)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["0", "1", "2", "3", "4"]
    assert result.stderr == ""


def test_stream_quotes_the_text_as_json(examples, server):
    result = run_example([examples["stream"], "--insecure", "text-echo", 'say "hi"\\\n\tthere'], server)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'echo: say "hi"\\\n\tthere\n'


def test_stream_max_cancels(examples, server):
    result = run_example([examples["stream"], "--insecure", "--max", "3", "stream-forever", "x"], server)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["0", "1", "2"]


def test_stream_exit_codes(examples, server):
    result = run_example([examples["stream"], "--insecure", "stream-error", "x"], server)
    assert result.returncode == capi.PROTOCOL and result.stdout.splitlines() == ["0", "1", "2"]
    assert "model crashed after 3 messages" in result.stderr
    result = run_example([examples["stream"], "--insecure", "stream-api-error", "x"], server)
    assert result.returncode == capi.API and result.stdout.splitlines() == ["0", "1"]
    assert "generation failed" in result.stderr
    # TLS against the cleartext port: a transport error
    result = run_example([examples["stream"], "stream-count", "2"], server)
    assert result.returncode == capi.TRANSPORT, result.stderr
    result = run_example([examples["stream"], "--insecure", "stream-count"], server)
    assert result.returncode == 64 and "usage" in result.stderr


def test_stream_over_tls(examples):
    from testserver import start_server
    with start_server(tls=True) as tls_server:
        result = subprocess.run([examples["stream"], "stream-count", "3"], capture_output=True, text=True, timeout=60,
                                env=dict(os.environ, CLARIFAI_GRPC_BASE=tls_server.grpcs_target, CLARIFAI_PAT=tls_server.token,
                                         CLARIFAI_ROOT_CERTIFICATES_PATH=tls_server.tls_cert))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["0", "1", "2"]


def test_call_any_method(examples, server):
    result = run_example([examples["call"], "ListModels"], server)
    assert result.returncode == 0, result.stderr
    assert "general-image-recognition" in [model["id"] for model in json.loads(result.stdout)["models"]]
    result = run_example([examples["call"], "PostConcepts", '{"concepts": [{"id": "cat", "name": "Cat"}]}'], server,
                         CLARIFAI_USER_ID="test-user", CLARIFAI_APP_ID="examples-app")
    assert result.returncode == 0, result.stderr
    result = run_example([examples["call"], "ListConcepts", "-"], server, stdin='{"per_page": 5}',
                         CLARIFAI_USER_ID="test-user", CLARIFAI_APP_ID="examples-app")
    assert result.returncode == 0, result.stderr
    assert [concept["id"] for concept in json.loads(result.stdout)["concepts"]] == ["cat"]


def test_call_exit_codes(examples, server, lib):
    result = run_example([examples["call"], "GetModel", '{"model_id": "no-such-model"}'], server)
    assert result.returncode == capi.API
    assert json.loads(result.stdout)["status"]["code"] == 21200  # the JSON comes anyway
    assert "CLARIFAI_ERROR_API" in result.stderr
    result = run_example([examples["call"], "NoSuchMethod"], server)
    assert result.returncode == capi.INVALID_ARGUMENT and result.stdout == ""
    result = run_example([examples["call"], "ListModels", "{not json"], server)
    assert result.returncode == capi.INVALID_ARGUMENT
    result = run_example([examples["call"], "ListModels"], server, CLARIFAI_API_BASE="http://127.0.0.1:9")
    assert result.returncode == capi.TRANSPORT
    result = run_example([examples["call"]], server)
    assert result.returncode == 64 and "usage" in result.stderr
    result = run_example([examples["call"], "--list"], server)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == lib.clarifai_method_count()
