"""Start the local Clarifai test server (server.py) from tests.

    from testserver import start_server, recorded_requests

    with start_server() as srv:            # or srv = start_server(); ...; srv.stop()
        srv.rest_url     # "http://127.0.0.1:PORT"
        srv.grpc_target  # "127.0.0.1:PORT"
        srv.token        # the PAT ("test-pat"), header "authorization: Key <token>"
        recorded_requests(srv.rest_url)    # what the server received, oldest first
"""

import json
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

SERVER = Path(__file__).resolve().with_name("server.py")
READY = re.compile(r"^READY rest=(\d+) grpc=(\d+)$")


class RunningServer:
    def __init__(self, process, rest_port, grpc_port, token, app_key):
        self.process = process
        self.rest_port, self.grpc_port = rest_port, grpc_port
        self.rest_url = f"http://127.0.0.1:{rest_port}"
        self.grpc_target = f"127.0.0.1:{grpc_port}"
        self.token, self.app_key = token, app_key

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout` s; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_server(*, rest_port=0, grpc_port=0, token="test-pat", app_key="test-app-key",
                 extra_args=(), stderr=None, timeout=30.0):
    """Launch server.py with sys.executable and wait (at most `timeout` s) for its READY line.

    `stderr` goes to subprocess.Popen (None: inherit ours). Raises RuntimeError if the server
    exits or stays silent.
    """
    tokens = [token] if isinstance(token, str) else list(token)
    args = [sys.executable, str(SERVER), "--rest-port", str(rest_port), "--grpc-port", str(grpc_port),
            "--app-key", app_key, *[a for t in tokens for a in ("--token", t)], *extra_args]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
                               text=True)
    lines = queue.Queue()

    def pump():  # keeps reading stdout so that the server can never block on a full pipe
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError(f"test server exited with {process.wait()} before READY")
            ready = READY.match(line)
            if ready:
                return RunningServer(process, int(ready[1]), int(ready[2]), tokens[0], app_key)
    except queue.Empty:
        process.kill()
        process.wait()
        raise RuntimeError(f"test server not READY within {timeout} s") from None


def recorded_requests(rest_url, clear=False):
    """The requests the server recorded (last 1000), as dicts; clear=True empties the list."""
    req = urllib.request.Request(rest_url + "/_test/requests", method="DELETE" if clear else "GET")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def clear_recorded_requests(rest_url):
    recorded_requests(rest_url, clear=True)
