"""Runs a command against a fresh local test server: `run_with_server.py -- CMD ARGS...`.

The command gets CLARIFAI_API_BASE (the REST URL), CLARIFAI_GRPC_BASE (the gRPC target) and
CLARIFAI_PAT (the server's token); the server stops when the command ends. Exit code: the
command's. Used by `make demo`.
"""
import os
import subprocess
import sys

from testserver import start_server


def main():
    command = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    if not command:
        sys.exit("usage: run_with_server.py -- COMMAND [ARGS...]")
    with start_server(stderr=subprocess.DEVNULL) as server:
        env = dict(os.environ, CLARIFAI_API_BASE=server.rest_url, CLARIFAI_GRPC_BASE=server.grpc_target,
                   CLARIFAI_PAT=server.token)
        print(f"local Clarifai test server at {server.rest_url}", file=sys.stderr)
        sys.exit(subprocess.run(command, env=env).returncode)


if __name__ == "__main__":
    main()
