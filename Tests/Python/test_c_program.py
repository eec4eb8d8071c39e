"""Runs the C test program (Tests/C/test_capi.c, built by `make test`) against the local server."""
import os
import subprocess

import capi

PROGRAM = capi.ROOT / "build" / "tests" / "test_capi"


def test_c_program_passes(server):
    assert PROGRAM.exists(), "build it with: make build/tests/test_capi"
    env = dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_PAT=server.token)
    result = subprocess.run([str(PROGRAM)], env=env, capture_output=True, text=True, timeout=300)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("0 failed")


def test_c_program_is_clean_under_valgrind(server):
    """No invalid access and no leak that the library owns (definite or indirect)."""
    valgrind = "/usr/bin/valgrind"
    if not os.path.exists(valgrind):
        import pytest
        pytest.skip("valgrind is not installed")
    env = dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_PAT=server.token)
    result = subprocess.run([valgrind, "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
                             "--show-leak-kinds=definite,indirect", str(PROGRAM)],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
