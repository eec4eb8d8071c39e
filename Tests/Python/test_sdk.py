"""The official `clarifai` SDK (pinned in Tests/Python/requirements-engine.txt) running unchanged
on libclarifai through libclarifai.sdk.patch(), over REST and cleartext gRPC, beside the same SDK
over grpcio against the same local server (Tests/Python/sdk_operations.py, a process per transport)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import libclarifai.sdk

OPERATIONS = Path(__file__).with_name("sdk_operations.py")


def run_operations(server, transport):
    env = {**os.environ, "CLARIFAI_PAT": server.token, "LOG_LEVEL": "WARNING"}
    env.pop("CLARIFAI_API_BASE", None)  # the SDK would take the REST URL for its gRPC base
    done = subprocess.run([sys.executable, str(OPERATIONS), transport, server.grpc_target, server.rest_url,
                           f"sdk-{transport}-{os.getpid()}"], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    # (The SDK prints its upload's progress on stdout too.)
    return {line["op"]: line for line in map(json.loads, (text for text in done.stdout.splitlines()
                                                            if text.startswith('{"op"')))}


def test_the_sdk_runs_on_libclarifai_as_on_grpcio(server):
    grpcio, grpc, rest = (run_operations(server, transport) for transport in ("grpcio", "grpc", "rest"))
    assert list(grpcio) == list(grpc) == list(rest) and len(grpcio) == 13
    # Everything the SDK does over grpcio against this server succeeds (the test server has the data).
    assert all(result["outcome"][0] == "ok" for result in grpcio.values()), grpcio
    assert grpcio["Model.generate"]["outcome"] == ["ok", ["0", "1", "2", "3"]]
    assert grpcio["Model.stream"]["outcome"] == ["ok", ["echo: a", "echo: b"]]
    assert grpcio["ModelBuilder.upload_model_version"]["outcome"] == ["ok", [True, 21100]]  # MODEL_TRAINED
    for op, theirs in grpcio.items():
        assert grpc[op]["outcome"] == theirs["outcome"], op
        # REST carries no streams: they fail at once (UNIMPLEMENTED, which the SDK does not retry).
        if op in ("Model.generate", "Model.stream", "ModelBuilder.upload_model_version"):
            assert rest[op]["outcome"] == ["failed", "StatusCode.UNIMPLEMENTED"] and rest[op]["seconds"] < 5, op
        else:
            assert rest[op]["outcome"] == theirs["outcome"], op


def test_patch_and_unpatch(server):
    from clarifai.client.auth.helper import ClarifaiAuthHelper
    original = ClarifaiAuthHelper.get_stub
    with libclarifai.sdk.patched():
        assert libclarifai.sdk.is_patched() and ClarifaiAuthHelper.get_stub is not original
        helper = ClarifaiAuthHelper("test-user", "main", server.token, base="http://" + server.grpc_target)
        stub, channel = helper.get_stub_and_channel()
        assert isinstance(channel, libclarifai.StubChannel) and helper.get_stub_and_channel()[1] is channel
    assert not libclarifai.sdk.is_patched() and ClarifaiAuthHelper.get_stub is original
    with pytest.raises(libclarifai.InvalidArgumentError, match="transport 'carrier-pigeon'"):
        libclarifai.sdk.patch(transport="carrier-pigeon")
    assert not libclarifai.sdk.is_patched()
