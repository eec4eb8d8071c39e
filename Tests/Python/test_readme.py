"""The README's examples, compiled and run as pasted, against the local server."""
import os
import re
import subprocess
import sys

import capi

README = (capi.ROOT / "README.md").read_text()


def block(language):
    [code] = re.findall(r"```%s\n(.*?)```" % language, README, re.S)
    return code


def example_env(server):
    return dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_PAT=server.token,
                LIBCLARIFAI_PATH=str(capi.ROOT / "build/lib/libclarifai.so.1"))


def test_c_example(server, tmp_path):
    source = tmp_path / "app.c"
    source.write_text(block("c"))
    # The README's build command, run from the repository root.
    command = "gcc -std=c99 app.c -IInclude -Lbuild/lib -lclarifai -Wl,-rpath,$PWD/build/lib".replace("app.c", str(source))
    assert command.replace(str(source), "app.c") in README
    subprocess.run(command + f" -Wall -Wextra -Werror -o {tmp_path}/app", shell=True, cwd=capi.ROOT, check=True)
    result = subprocess.run([str(tmp_path / "app")], env=example_env(server), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # the library writes nothing of its own
    lines = result.stdout.splitlines()
    assert len(lines) == 20 and all(re.fullmatch(r"\w+: \d\.\d{3}", line) for line in lines)


def test_python_example(server):
    result = subprocess.run([sys.executable, "-c", block("python")], env=example_env(server),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 20 and all(re.fullmatch(r"\w+ [01]\.\d+", line) for line in lines)
