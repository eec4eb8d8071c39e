"""Runs a command against a fresh local test server: `run_with_server.py -- CMD ARGS...`.

The command gets CLARIFAI_API_BASE (the REST URL), CLARIFAI_GRPC_BASE (the gRPC target) and
CLARIFAI_PAT (the server's token); the server stops when the command ends. Exit code: the
command's. Used by `make demo`. With `--tls` before `--` the server also serves TLS gRPC with a
certificate made for the run: the command gets CLARIFAI_GRPCS_BASE (that target) and
CLARIFAI_ROOT_CERTIFICATES_PATH (the certificate, which the library then trusts).
"""
import os
import subprocess
import sys

from testserver import start_server


def main():
    options = sys.argv[1:sys.argv.index("--")] if "--" in sys.argv else []
    command = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    if not command or set(options) - {"--tls"}:
        sys.exit("usage: run_with_server.py [--tls] -- COMMAND [ARGS...]")
    with start_server(stderr=subprocess.DEVNULL, tls="--tls" in options or None) as server:
        env = dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_GRPC_BASE=server.grpc_target,
                   CLARIFAI_PAT=server.token)
        if "--tls" in options:
            env.update(CLARIFAI_GRPCS_BASE=server.grpcs_target, CLARIFAI_ROOT_CERTIFICATES_PATH=str(server.tls_cert))
        print(f"local Clarifai test server at {server.rest_url}", file=sys.stderr)
        sys.exit(subprocess.run(command, env=env).returncode)


if __name__ == "__main__":
    main()
