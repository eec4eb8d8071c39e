"""Calls through an HTTP proxy, as libcurl finds it in the environment (http_proxy): a small
CONNECT-capable proxy runs in this process and counts what it relayed. The calls run in a child
process, whose environment carries the proxy variables (libcurl reads them per call)."""
import os
import socket
import subprocess
import sys
import threading

import pytest

import capi

CHILD = """
import sys
sys.path.insert(0, {tests!r})
import capi
lib = capi.load()
client = capi.new_client(lib, {address!r}, {token!r}, "test-user", "proxy", kind={kind!r})
result = capi.call(lib, client, "PostModelOutputs", {{"model_id": "text-echo", "inputs": [{{"data": {{"text": {{"raw": "hi"}}}}}}]}})
print(result.code, result.error)
print(result.json["outputs"][0]["data"]["text"]["raw"] if result.json else "")
"""


class Proxy:
    """Relays CONNECT tunnels and plain absolute-URI requests to loopback; remembers each request line."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(client,), daemon=True).start()

    def handle(self, client):
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode()
            self.requests.append(line)
            verb, target, _ = line.split(" ", 2)
            if verb == "CONNECT":
                host, port = target.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                rest = head.split(b"\r\n\r\n", 1)[1]
            else:  # http://host:port/path: pass the request on as it came, path made origin-form
                address, path = target[len("http://"):].split("/", 1)
                host, port = address.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)))
                rest = head.replace(target.encode(), b"/" + path.encode(), 1)
            with upstream:
                upstream.sendall(rest)
                self.relay(client, upstream)

    @staticmethod
    def relay(one, other):
        def pump(source, sink):
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        thread = threading.Thread(target=pump, args=(other, one), daemon=True)
        thread.start()
        pump(one, other)
        thread.join(10)

    def close(self):
        self.listener.close()


@pytest.fixture
def proxy():
    running = Proxy()
    yield running
    running.close()


@pytest.mark.parametrize("kind", ["rest", "grpc"])
def test_cleartext_calls_go_through_an_http_proxy(server, proxy, kind):
    """Cleartext gRPC through a proxy needs a CONNECT tunnel (a proxy would take h2c prior
    knowledge for HTTP/0.9); REST goes as an absolute-URI request."""
    address = server.rest_url if kind == "rest" else server.grpc_target
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["http_proxy"] = proxy.url
    script = CHILD.format(tests=str(capi.ROOT / "Tests" / "Python"), address=address, token=server.token, kind=kind)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    code, _, error = result.stdout.partition(" ")
    assert result.returncode == 0 and int(code) == capi.OK, (result.stdout, result.stderr)
    assert result.stdout.splitlines()[-1] == "echo: hi"
    target = server.grpc_target if kind == "grpc" else server.rest_url[len("http://"):]
    expected = f"CONNECT {target} " if kind == "grpc" else f"POST http://{target}/v2/"
    assert any(line.startswith(expected) for line in proxy.requests), proxy.requests
