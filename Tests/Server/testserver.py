"""Start the local Clarifai test server (server.py) from tests.

    from testserver import start_server, recorded_requests

    with start_server() as srv:            # or srv = start_server(); ...; srv.stop()
        srv.rest_url     # "http://127.0.0.1:PORT"
        srv.grpc_target  # "127.0.0.1:PORT"
        srv.token        # the PAT ("test-pat"), header "authorization: Key <token>"
        recorded_requests(srv.rest_url)    # what the server received, oldest first
        predict_stats(srv.rest_url)        # PostModelOutputs counters per model id

    with start_server(tls=True) as srv:    # also a TLS gRPC port, self-signed for 127.0.0.1/localhost
        srv.grpcs_target  # "127.0.0.1:PORT"
        srv.tls_cert      # the PEM file a client should trust (the self-signed certificate)
"""

import json
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

SERVER = Path(__file__).resolve().with_name("server.py")
READY = re.compile(r"^READY rest=(\d+) grpc=(\d+)(?: grpcs=(\d+))?$")


def make_self_signed_cert(directory):
    """Writes cert.pem and key.pem (RSA 2048, 1 day, CN=localhost, subjectAltName IP:127.0.0.1 and
    DNS:localhost) into `directory` with the openssl CLI; returns (cert_path, key_path)."""
    cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return str(cert), str(key)


class RunningServer:
    def __init__(self, process, rest_port, grpc_port, token, app_key, grpcs_port=None, tls_cert=None,
                 temp_dir=None):
        self.process = process
        self.rest_port, self.grpc_port, self.grpcs_port = rest_port, grpc_port, grpcs_port
        self.rest_url = f"http://127.0.0.1:{rest_port}"
        self.grpc_target = f"127.0.0.1:{grpc_port}"
        self.grpcs_target = None if grpcs_port is None else f"127.0.0.1:{grpcs_port}"
        self.tls_cert = tls_cert  # PEM file to trust for grpcs_target (None without TLS)
        self.token, self.app_key = token, app_key
        self._temp_dir = temp_dir

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout` s; returns the exit code. Removes a generated
        certificate."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_server(*, rest_port=0, grpc_port=0, token="test-pat", app_key="test-app-key",
                 extra_args=(), stderr=None, timeout=30.0, tls=None, grpcs_port=0):
    """Launch server.py with sys.executable and wait (at most `timeout` s) for its READY line.

    `stderr` goes to subprocess.Popen (None: inherit ours). `tls`: None (no TLS port), True (a
    self-signed certificate made with make_self_signed_cert in a temporary directory, removed by
    stop()) or (cert_path, key_path); with it the server also listens with TLS gRPC on
    `grpcs_port`. Raises RuntimeError if the server exits or stays silent.
    """
    tokens = [token] if isinstance(token, str) else list(token)
    args = [sys.executable, str(SERVER), "--rest-port", str(rest_port), "--grpc-port", str(grpc_port),
            "--app-key", app_key, *[a for t in tokens for a in ("--token", t)]]
    temp_dir = cert = None
    try:
        if tls:
            if tls is True:
                temp_dir = tempfile.mkdtemp(prefix="clarifai-test-tls-")
                cert, key = make_self_signed_cert(temp_dir)
            else:
                cert, key = (str(p) for p in tls)
            args += ["--tls-cert", cert, "--tls-key", key, "--grpcs-port", str(grpcs_port)]
        args += list(extra_args)
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
                                   text=True)
        ready = _wait_ready(process, timeout)
    except BaseException:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return RunningServer(process, int(ready[1]), int(ready[2]), tokens[0], app_key,
                         grpcs_port=int(ready[3]) if ready[3] else None, tls_cert=cert, temp_dir=temp_dir)


def _wait_ready(process, timeout):
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
                return ready
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


def predict_stats(rest_url, clear=False):
    """The PostModelOutputs counters per model id, both fronts together: {model_id: {"requests",
    "throttled", "inputs", "failed_inputs", "duplicates", "in_flight", "max_in_flight"}};
    clear=True resets them (and returns what they were)."""
    req = urllib.request.Request(rest_url + "/_test/predict-stats", method="DELETE" if clear else "GET")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def clear_predict_stats(rest_url):
    predict_stats(rest_url, clear=True)
