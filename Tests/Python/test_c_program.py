"""Runs the C test program (Tests/C/test_capi.c, built by `make test`) against the local server,
on the REST channel and on the cleartext and TLS gRPC channels, and once more under valgrind."""
import os
import subprocess

import pytest

import capi

PROGRAM = capi.ROOT / "build" / "tests" / "test_capi"
VALGRIND = "/usr/bin/valgrind"


def program_env(server, channel):
    return dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_GRPC_BASE=server.grpc_target,
                CLARIFAI_PAT=server.token, CLARIFAI_TEST_CHANNEL=channel, CLARIFAI_GRPCS_BASE=server.grpcs_target,
                CLARIFAI_ROOT_CERTIFICATES_PATH=str(server.tls_cert))


@pytest.mark.parametrize("channel", ["rest", "grpc", "grpcs"])
def test_c_program_passes(tls_server, channel):
    server = tls_server
    assert PROGRAM.exists(), "build it with: make build/tests/test_capi"
    result = subprocess.run([str(PROGRAM)], env=program_env(server, channel), capture_output=True, text=True, timeout=300)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(" 0 failed")


@pytest.mark.skipif(not os.path.exists(VALGRIND), reason="valgrind is not installed")
@pytest.mark.parametrize("channel", ["rest", "grpc", "grpcs"])
def test_c_program_is_clean_under_valgrind(tls_server, channel):
    """No invalid access and no leak that the library owns (definite or indirect)."""
    server = tls_server
    result = subprocess.run([VALGRIND, "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
                             "--show-leak-kinds=definite,indirect", str(PROGRAM)],
                            env=program_env(server, channel), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
