"""Many threads on one client, on each channel kind: every result checked, memory flat."""
import os
import re
import subprocess

import pytest

import capi

PROGRAM = capi.ROOT / "build" / "tests" / "load"


@pytest.mark.parametrize("channel, connections", [("rest", 1), ("grpc", 1), ("grpcs", 1), ("grpcs", 3)])
def test_32_threads_share_one_client(tls_server, channel, connections):
    """grpcs: TLS gRPC, where the 32 threads' calls are multiplexed over one connection (or
    spread over 3, clarifai_channel_set_connections)."""
    server = tls_server
    env = dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_GRPC_BASE=server.grpc_target, CLARIFAI_PAT=server.token,
               CLARIFAI_GRPCS_BASE=server.grpcs_target, CLARIFAI_ROOT_CERTIFICATES_PATH=str(server.tls_cert))
    result = subprocess.run([str(PROGRAM), channel, "32", "250", str(connections)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "8000 passed, 0 failed" in result.stdout
    warm, end = map(int, re.search(r"rss_kb warm=(\d+) end=(\d+)", result.stdout).groups())
    assert end - warm < 5 * 1024, result.stdout  # kB: no growth with the number of calls
