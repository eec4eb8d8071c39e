#!/usr/bin/env python3
"""A programmable misbehaving Clarifai server for the library's fault-injection tests.

    python Tests/Server/faults.py --upstream-rest http://127.0.0.1:P --upstream-grpc 127.0.0.1:Q
                                  [--rest-port N] [--grpc-port N]

Two fronts, both on 127.0.0.1: REST (HTTP/1.1 on raw sockets) and cleartext gRPC (HTTP/2 with
prior knowledge, h2c, spoken with hyper-h2 so that every frame can be crafted); with
`--tls-cert CERT --tls-key KEY [--grpcs-port N]` a third, the same gRPC front over TLS (ALPN h2).
Once they listen it prints `READY rest=<port> grpc=<port>` (and ` grpcs=<port>`) on stdout. Ports
default to 0 (a free port); they are bound with SO_REUSEADDR, so a killed instance can be started
again on the same ports.

Every request passes through to the normal local test server (server.py: REST by HTTP, gRPC
with grpcio), except PostModelOutputs, GenerateModelOutputs and GetModel (REST: GET
/v2/users/{u}/apps/{a}/models/{model_id}) whose model id reads

    fault.<kind>.<count>.<tag>        e.g. fault.unavailable.2.t17, fault.reset.all.t3

The first <count> requests with that model id (every one with "all") meet fault <kind>; the ones
after go through as a request for the model `text-echo`. Requests are counted per model id, so
a test picks a fresh <tag> per case. `GET /_faults/attempts` on the REST front returns the
counts as JSON ({model_id: requests}); `GET /_faults/pings` how many HTTP/2 PINGs the gRPC
fronts received ({"pings": N}, a client's keepalive); `GET /_faults/headers` the requests' headers
({model_id: [{name: value}, ...]}, names lower-cased, gRPC's with its pseudo-headers);
`DELETE` on either clears both.

Faults (R: REST front, G: gRPC front), all after the whole request was read but the two resets:
  close                R G  close the connection (FIN, then wait for the client's) without answering
  reset                R G  reset the connection (TCP RST, SO_LINGER 0) without answering
  exit                 R G  the server process dies (os._exit(3))
  hang                 R G  never answer; the connection stays open until the client leaves
  reset-after-headers  R G  R: status line and headers (Content-Length 500), 30 ms, TCP RST;
                            G: HEADERS (200, application/grpc), 30 ms, RST_STREAM INTERNAL_ERROR
  tcp-reset-after-headers G HEADERS, 30 ms, TCP RST
  truncated            R G  R: Content-Length 500, 20 bytes of JSON, FIN;
                            G: the first half of a valid message (its prefix tells the whole
                            length), then trailers grpc-status 0
  truncated-eos          G  the same, with END_STREAM on the DATA frame and no trailers
  long-prefix            G  a whole valid message whose prefix says 100 bytes more; grpc-status 0
  huge-prefix            G  a prefix of 0x7fffffff bytes (over the 1 GiB limit), 16 bytes; status 0
  garbage              R G  R: 200 application/json, binary bytes that are not JSON;
                            G: a well-formed frame around bytes that are not protobuf; status 0
  compressed             G  a valid message with the compressed flag (1), no grpc-encoding
  bad-flag               G  a valid message with frame flag 2
  two-messages           G  two valid messages in a unary answer
  no-message             G  HEADERS, then trailers grpc-status 0 with no message
  bad-status             G  trailers-only with grpc-status "abc"
  messages-then-reset    G  two valid messages, 30 ms, RST_STREAM INTERNAL_ERROR (for streams)
  messages-then-unavailable G two valid messages, then trailers grpc-status 14 (for streams)
  html502              R G  HTTP 502 text/html "<html>...502 Bad Gateway...</html>" (G: no grpc-status)
  http-<NNN>           R G  HTTP status NNN (e.g. http-401) with a text/html page (G: no grpc-status)
  foreign-json         R    200 application/json {"hello": "world"}
  throttled            R G  a Clarifai reply with status 11005 CONN_THROTTLED (R: HTTP 429)
  unavailable          R G  R: 503 application/json {"code": 14, "message": "unavailable"};
                            G: trailers-only grpc-status 14 UNAVAILABLE "try later"
  gateway-timeout      R G  HTTP 504 text/html "<html>...504 Gateway Time-out...</html>" (G: no grpc-status)
  gzip-bomb            R G  R: 200 application/json, Content-Encoding gzip, 64 KiB that inflate to a valid
                            64 MiB Clarifai reply (status.details is the padding);
                            G: grpc-encoding gzip, one compressed message (flag 1) that inflates to a
                            valid 64 MiB MultiOutputResponse; grpc-status 0
  zstd-bomb            R    the same reply in 2 KiB with Content-Encoding zstd
  echo-auth            R G  R: HTTP 502 text/plain echoing the request's header lines verbatim (as some
                            proxies do), sorted by name: `Authorization: Key <token>` in the first 100 bytes;
                            G: trailers-only grpc-status 16 UNAUTHENTICATED, the grpc-message quoting
                            the authorization metadata
  trailers-fin           G  a valid message, trailers grpc-status 0, then at once a FIN (TCP close)
  goaway-close           G  a valid message, trailers grpc-status 0, GOAWAY NO_ERROR, FIN
  goaway-refuse          G  no answer: GOAWAY NO_ERROR whose last stream id is below the request's (so
                            the request was provably not processed and is safe to send again), FIN
  trickle              R G  R: status line and headers (Content-Length 500), then one byte of the body a
                            second; G: HEADERS (200), then one byte of a ~500-byte frame a second; after
                            60 s (60 bytes, the answer still unfinished) FIN
  big-stream             G  valid 1 MiB MultiOutputResponse messages as fast as the client takes them,
                            for 30 s (then grpc-status 0) or until the client resets the stream
  nul-message            G  HEADERS, then trailers grpc-status 3 with grpc-message "before%00after"
  reset-mid-request      G  no answer: the connection reset (TCP RST) as soon as the request's first
                            bytes name the fault (its model id, first in the message) while more
                            of the request is to come: a server gone while a large request came in
  reset-on-headers       G  the same as soon as a request's headers arrive, before any of its body,
                            for a request whose header x-fault-model names the fault (a model id of
                            this form): a connection found dead as a request starts out on it

One fault for a bidirectional stream, StreamModelOutputs, whose first request message names it
(met by every such stream, whatever the count, once that message arrived, while the client's
side of the stream is still open):
  answers-with-reset     G  HEADERS, two valid messages, trailers grpc-status 0 and RST_STREAM NO_ERROR,
                            in one write: a server that ends a stream before the request ends (RFC 9113,
                            8.1; gRPC servers send the RST_STREAM with the trailers)
"""

import argparse
import functools
import http.client
import json
import os
import select
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import zlib

import grpc
import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_pb2

V2 = service_pb2.DESCRIPTOR.services_by_name["V2"]
# The faultable gRPC methods and their request messages, whose model_id selects the fault.
FAULTED_REQUESTS = {"PostModelOutputs": service_pb2.PostModelOutputsRequest,
                    "GenerateModelOutputs": service_pb2.PostModelOutputsRequest,
                    "GetModel": service_pb2.GetModelRequest}
NORMAL_MODEL = "text-echo"
IDLE_LIMIT = 30.0  # s a connection may stay silent before the server drops it
HEADERS_PAUSE = 0.03  # s between the response headers and the reset (the client reads the headers)
HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
HTML_504 = b"<html><head><title>504 Gateway Time-out</title></head><body><h1>504 Gateway Time-out</h1></body></html>"
ERROR_PAGES = {"html502": (502, HTML_502), "gateway-timeout": (504, HTML_504)}  # fault -> (HTTP status, text/html body)


def error_page(kind):
    """(HTTP status, text/html body) of an error-page fault: html502, gateway-timeout, or
    http-<NNN> (any status, e.g. http-401), which a proxy or gateway could answer; else None."""
    if kind in ERROR_PAGES:
        return ERROR_PAGES[kind]
    if kind.startswith("http-") and kind[len("http-"):].isdigit():
        status = int(kind[len("http-"):])
        return status, f"<html><body><h1>{status} {http.client.responses.get(status, '')}</h1></body></html>".encode()
    return None
BOMB_SIZE = 64 << 20  # bytes a compression bomb inflates to
TRICKLE_SECONDS = 60  # a trickle sends this many bytes, one a second, of a longer answer, then closes
BIG_STREAM_SECONDS = 30.0  # how long big-stream goes on
BIG_MESSAGE_SIZE = 1 << 20  # the text in each of big-stream's messages
FORWARDED_HEADERS = ("authorization", "content-type", "accept", "x-clarifai-request-id-prefix", "user-agent")
FORWARDED_METADATA = ("authorization", "x-clarifai-request-id-prefix")


class Faults:
    """Records the requests per model id and tells which fault, if any, this one meets."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}  # model id -> the headers of each request that carried it
        self.pings = 0  # HTTP/2 PINGs the gRPC fronts received (a client's keepalive)

    def count_ping(self):
        with self.lock:
            self.pings += 1

    def decide(self, model_id, headers):
        """(fault kind or None, model id to send upstream); `headers` (a dict) are recorded."""
        if not model_id.startswith("fault."):
            return None, model_id
        parts = model_id.split(".", 3)
        if len(parts) < 3:
            return None, model_id
        kind, count = parts[1], parts[2]
        with self.lock:
            seen = self.requests.setdefault(model_id, [])
            seen.append(headers)
            attempt = len(seen)
        if count == "all" or attempt <= int(count):
            return kind, model_id
        return None, NORMAL_MODEL

    def would_fault(self, model_id):
        """Whether the next request naming `model_id` meets its fault (nothing recorded)."""
        parts = model_id.split(".", 3)
        if not model_id.startswith("fault.") or len(parts) < 3:
            return False
        with self.lock:
            attempt = len(self.requests.get(model_id, [])) + 1
        return parts[2] == "all" or attempt <= int(parts[2])

    def snapshot(self, clear=False):
        """{model id: [headers of each request]}."""
        with self.lock:
            out = {model: list(requests) for model, requests in self.requests.items()}
            if clear:
                self.requests.clear()
        return out


def listen(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def serve(listener, handle):
    """Accepts forever, one daemon thread per connection."""
    while True:
        conn, _ = listener.accept()
        conn.settimeout(IDLE_LIMIT)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle pause between frames
        threading.Thread(target=_run_connection, args=(handle, conn), daemon=True).start()


def _run_connection(handle, conn):
    try:
        handle(conn)
    except (OSError, ConnectionError, h2.exceptions.ProtocolError):
        pass  # the client left, or the fault ended the connection
    finally:
        try:
            conn.close()
        except OSError:
            pass


def hard_reset(conn):
    """Close with an RST instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def close_cleanly(conn):
    """A clean close (FIN): stop sending, drain what the client still sends until it closes too
    (closing with unread data would make the kernel send an RST instead)."""
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(2.0)
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


def wait_for_client_to_leave(conn):
    """For `hang`: read (and drop) until the client closes or IDLE_LIMIT passes."""
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def reply_message(text="fault server"):
    """A valid MultiOutputResponse, serialized."""
    return service_pb2.MultiOutputResponse(
        status=status_pb2.Status(code=10000, description="Ok", req_id="fault-1"),
        outputs=[resources_pb2.Output(id="out-1", data=resources_pb2.Data(text=resources_pb2.Text(raw=text)))],
    ).SerializeToString()


# A valid Clarifai JSON reply around padding (bytes "x" in status.details), for the answers that
# must be large: the compression bombs, and trickle's, which must never complete.
PADDED_REPLY_PREFIX = b'{"status": {"code": 10000, "description": "Ok", "req_id": "fault-padded", "details": "'
PADDED_REPLY_SUFFIX = b'"}}'
TRICKLE_JSON = (PADDED_REPLY_PREFIX + b"x" * (500 - len(PADDED_REPLY_PREFIX) - len(PADDED_REPLY_SUFFIX))
                + PADDED_REPLY_SUFFIX)


# The compression bombs and big-stream's message are built once, on first use (~0.3 s each).
@functools.cache
def rest_gzip_bomb():
    return zlib.compress(PADDED_REPLY_PREFIX + b"x" * BOMB_SIZE + PADDED_REPLY_SUFFIX, 9, wbits=31)  # 31: gzip format


@functools.cache
def rest_zstd_bomb():
    """A zstd frame written by hand (Python has no zstd before 3.14): no checksum, a 128 KiB window,
    raw blocks around the padding, which goes as RLE blocks of 128 KiB "x", 4 bytes each."""
    block_size = 1 << 17

    def block(block_type, size, content, last=False):  # types: 0 raw, 1 RLE; a 3-byte little-endian header
        return struct.pack("<I", size << 3 | block_type << 1 | last)[:3] + content

    return b"".join([struct.pack("<I", 0xFD2FB528), bytes([0x00, 0x38]),  # magic, descriptor, window 2^17
                     block(0, len(PADDED_REPLY_PREFIX), PADDED_REPLY_PREFIX),
                     block(1, block_size, b"x") * (BOMB_SIZE // block_size),
                     block(0, len(PADDED_REPLY_SUFFIX), PADDED_REPLY_SUFFIX, last=True)])


@functools.cache
def grpc_gzip_bomb():
    """A gzip-compressed MultiOutputResponse, framed with the compressed flag."""
    message = service_pb2.MultiOutputResponse(
        status=status_pb2.Status(code=10000, description="Ok", req_id="fault-padded", details="x" * BOMB_SIZE),
    ).SerializeToString()
    return frame(zlib.compress(message, 9, wbits=31), flag=1)


@functools.cache
def big_stream_frame():
    return frame(reply_message("x" * BIG_MESSAGE_SIZE))


def throttled_message():
    return service_pb2.MultiOutputResponse(
        status=status_pb2.Status(code=11005, description="Making too many requests", req_id="fault-throttled"),
    ).SerializeToString()


def frame(message, flag=0, length=None):
    return struct.pack(">BI", flag, len(message) if length is None else length) + message


class Stop(Exception):
    """Ends a connection's loop (the fault closed it)."""


# ---------------------------------------------------------------------------------------------
# REST front: HTTP/1.1


class RestFront:
    def __init__(self, faults, upstream_url, port):
        self.faults = faults
        upstream = urllib.parse.urlsplit(upstream_url)
        self.upstream = (upstream.hostname, upstream.port)
        self.listener = listen(port)
        self.port = self.listener.getsockname()[1]

    def handle(self, conn):
        reader = conn.makefile("rb")
        while True:
            line = reader.readline(65537)
            if not line:
                return
            if not line.strip():
                continue
            method, target, _ = line.decode("latin-1").split(" ", 2)
            lines, headers = [], {}
            while True:
                field = reader.readline(65537)
                if field in (b"\r\n", b"\n", b""):
                    break
                lines.append(field)
                name, _, value = field.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = reader.read(int(headers.get("content-length") or 0))
            if not self.respond(conn, method, target, headers, body, lines):
                return

    @staticmethod
    def send(conn, status, content_type, body, reason=None, encoding=None):
        reason = reason or http.client.responses.get(status, "Unknown")
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                + (f"Content-Encoding: {encoding}\r\n" if encoding else "") + "Connection: keep-alive\r\n\r\n")
        conn.sendall(head.encode("latin-1") + body)

    def respond(self, conn, method, target, headers, body, lines):
        """Answers one request (`lines`: its header lines as received); False ends the connection."""
        path, _, query = target.partition("?")
        if path == "/_faults/pings":
            with self.faults.lock:
                self.send(conn, 200, "application/json", json.dumps({"pings": self.faults.pings}).encode())
            return True
        if path in ("/_faults/attempts", "/_faults/headers"):
            requests = self.faults.snapshot(clear=method == "DELETE")
            if path == "/_faults/attempts":
                requests = {model: len(seen) for model, seen in requests.items()}
            self.send(conn, 200, "application/json", json.dumps(requests).encode())
            return True
        segments = path.split("/")
        kind = None
        if "models" in segments:
            at = segments.index("models") + 1
            # PostModelOutputs: POST .../models/{id}/outputs or .../models/{id}/versions/{v}/outputs;
            # GetModel: GET .../models/{id}.
            if ((method == "POST" and at + 1 < len(segments) and segments[at + 1] in ("outputs", "versions"))
                    or (method == "GET" and at + 1 == len(segments))):
                kind, model = self.faults.decide(urllib.parse.unquote(segments[at]), headers)
                segments[at] = urllib.parse.quote(model, safe="")
                target = "/".join(segments) + ("?" + query if query else "")
        if kind is None:
            return self.proxy(conn, method, target, headers, body)
        if kind == "close":
            close_cleanly(conn)
        elif kind == "reset":
            hard_reset(conn)
        elif kind == "exit":
            os._exit(3)
        elif kind == "hang":
            wait_for_client_to_leave(conn)
        elif kind == "reset-after-headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n")
            time.sleep(HEADERS_PAUSE)
            hard_reset(conn)
        elif kind == "truncated":
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n'
                         b'{"status": {"code": 1')
            time.sleep(HEADERS_PAUSE)
            conn.close()
        elif kind == "trickle":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                         % len(TRICKLE_JSON))
            for byte in TRICKLE_JSON[:TRICKLE_SECONDS]:
                time.sleep(1)
                conn.sendall(bytes([byte]))  # fails (ends the connection) once the client left
            close_cleanly(conn)
        elif kind == "garbage":
            self.send(conn, 200, "application/json", b"\x00\x01\x02garbage\xff\xfe instead of JSON")
            return True
        elif page := error_page(kind):
            self.send(conn, page[0], "text/html", page[1])
            return True
        elif kind == "gzip-bomb":
            self.send(conn, 200, "application/json", rest_gzip_bomb(), encoding="gzip")
            return True
        elif kind == "zstd-bomb":
            self.send(conn, 200, "application/json", rest_zstd_bomb(), encoding="zstd")
            return True
        elif kind == "echo-auth":
            self.send(conn, 502, "text/plain", b"".join(sorted(lines, key=bytes.lower)))
            return True
        elif kind == "foreign-json":
            self.send(conn, 200, "application/json", b'{"hello": "world"}')
            return True
        elif kind == "throttled":
            self.send(conn, 429, "application/json",
                      b'{"status": {"code": 11005, "description": "Making too many requests", "req_id": "fault-throttled"}}')
            return True
        elif kind == "unavailable":
            self.send(conn, 503, "application/json", b'{"code": 14, "message": "unavailable"}')
            return True
        else:
            self.send(conn, 400, "text/plain", f"unknown fault {kind!r}".encode())
            return True
        return False

    def proxy(self, conn, method, target, headers, body):
        upstream = http.client.HTTPConnection(*self.upstream, timeout=IDLE_LIMIT)
        try:
            upstream.request(method, target, body=body if body or method in ("POST", "PUT", "PATCH") else None,
                             headers={k: v for k, v in headers.items() if k in FORWARDED_HEADERS})
            answer = upstream.getresponse()
            data = answer.read()
            self.send(conn, answer.status, answer.getheader("Content-Type", "application/json"), data, answer.reason)
        finally:
            upstream.close()
        return True


# ---------------------------------------------------------------------------------------------
# gRPC front: HTTP/2 cleartext with prior knowledge


class GrpcFront:
    def __init__(self, faults, upstream_target, port, tls=None):
        self.faults = faults
        self.upstream = grpc.insecure_channel(upstream_target)
        self.listener = listen(port)
        self.port = self.listener.getsockname()[1]
        self.tls = tls  # an ssl.SSLContext for the TLS front

    def handle(self, conn):
        if self.tls:
            conn = self.tls.wrap_socket(conn, server_side=True)
        GrpcConnection(self, conn).run()


class GrpcConnection:
    def __init__(self, front, sock):
        self.front, self.sock = front, sock
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8", validate_outbound_headers=False))
        self.requests = {}  # stream id -> (headers, body)
        self.ended = []  # stream ids whose request is complete, not yet answered

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self):
        """Reads once from the socket and handles the events; False when the client left."""
        data = self.sock.recv(65536)
        if not data:
            return False
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.requests[event.stream_id] = (dict(event.headers), bytearray())
                fault = self.requests[event.stream_id][0].get("x-fault-model", "")
                if fault.startswith("fault.reset-on-headers.") and self.front.faults.would_fault(fault):
                    self.front.faults.decide(fault, self.requests[event.stream_id][0])  # counts the attempt
                    self.reset()
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id in self.requests:
                    self.requests[event.stream_id][1].extend(event.data)
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.append(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.requests.pop(event.stream_id, None)
            elif isinstance(event, h2.events.PingReceived):
                self.front.faults.count_ping()  # h2 answers it (PING ACK) by itself
            elif isinstance(event, h2.events.ConnectionTerminated):
                return False
        self.reset_mid_request()
        self.flush()
        return True

    MID_REQUEST_RESET = "fault.reset-mid-request."

    def reset_mid_request(self):
        """Fault reset-mid-request: a request not ended whose first bytes name it resets the
        connection at once, unanswered (raises Stop)."""
        for stream_id, (headers, body) in list(self.requests.items()):
            # The request message starting with its model id (field 2: tag 0x12, a one-byte length).
            if stream_id in self.ended or len(body) < 7 or body[5] != 0x12 or body[6] >= 0x80 or len(body) < 7 + body[6]:
                continue
            model_id = bytes(body[7:7 + body[6]]).decode("utf-8", "replace")
            if model_id.startswith(self.MID_REQUEST_RESET) and self.front.faults.would_fault(model_id):
                self.front.faults.decide(model_id, headers)  # counts the attempt
                self.reset()

    def reset(self):
        """Ends the connection with a TCP RST, unanswered (raises Stop)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        raise Stop

    def run(self):
        self.h2.initiate_connection()
        self.flush()
        try:
            while self.pump():
                self.end_streams_early()
                while self.ended:
                    stream_id = self.ended.pop(0)
                    if stream_id in self.requests:
                        headers, body = self.requests.pop(stream_id)
                        self.answer(stream_id, headers, bytes(body))
        except Stop:
            return

    EARLY_END = "fault.answers-with-reset."

    def end_streams_early(self):
        """Answers fault answers-with-reset: a StreamModelOutputs stream whose first request
        message arrived and names it, the request not ended."""
        for stream_id, (headers, body) in list(self.requests.items()):
            if not headers.get(":path", "").endswith("/StreamModelOutputs") or len(body) < 5:
                continue
            end = 5 + int.from_bytes(body[1:5], "big")
            if len(body) < end:
                continue
            request = service_pb2.PostModelOutputsRequest.FromString(bytes(body[5:end]))
            if not request.model_id.startswith(self.EARLY_END):
                continue
            del self.requests[stream_id]
            self.front.faults.decide(request.model_id, headers)  # counts the attempt
            self.h2.send_headers(stream_id, self.OK_HEADERS)
            self.h2.send_data(stream_id, frame(reply_message("0")) + frame(reply_message("1")))
            self.h2.send_headers(stream_id, self.status_fields(0), end_stream=True)
            self.h2.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.NO_ERROR)
            self.flush()

    def send_data(self, stream_id, data, end_stream=False):
        """Sends `data` within the flow-control windows, reading the client's frames (its window
        updates) while they are closed; False when the client reset the stream."""
        view = memoryview(data)
        try:
            while True:
                window = min(self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size)
                if window == 0 and view:
                    if not self.pump():
                        raise Stop
                    continue
                chunk, view = view[:window], view[window:]
                self.h2.send_data(stream_id, chunk.tobytes(), end_stream=end_stream and not view)
                self.flush()
                if not view:
                    return True
        except h2.exceptions.StreamClosedError:
            return False

    def wait(self, seconds):
        """Lets `seconds` pass (0: just takes in what already arrived) while reading the client's
        frames, so that h2 knows of a reset stream; raises Stop when the client left."""
        until = time.monotonic() + seconds
        while True:
            left = until - time.monotonic()
            if select.select([self.sock], [], [], max(0.0, left))[0]:
                if not self.pump():
                    raise Stop
            elif left <= 0:
                return

    def send_headers(self, stream_id, headers, end_stream=False):
        self.h2.send_headers(stream_id, headers, end_stream=end_stream)
        self.flush()

    @staticmethod
    def status_fields(status, message=""):
        fields = [("grpc-status", str(status))]
        if message:
            fields.append(("grpc-message", urllib.parse.quote(message, safe=" ")))
        return fields

    def trailers(self, stream_id, status, message=""):
        self.send_headers(stream_id, self.status_fields(status, message), end_stream=True)

    def trailers_only(self, stream_id, status, message=""):
        """An answer without a message: the status in its one HEADERS frame."""
        self.send_headers(stream_id, self.OK_HEADERS + self.status_fields(status, message), end_stream=True)

    def goaway_and_close(self, last_stream_id=None):
        """GOAWAY NO_ERROR (last stream id: by default the last one received), then a FIN; ends the
        connection's loop (raises Stop)."""
        self.h2.close_connection(last_stream_id=last_stream_id)
        self.flush()
        close_cleanly(self.sock)
        raise Stop

    OK_HEADERS = [(":status", "200"), ("content-type", "application/grpc")]

    def answer(self, stream_id, headers, body):
        method = headers.get(":path", "").rsplit("/", 1)[-1]
        kind = None
        if method in FAULTED_REQUESTS and len(body) >= 5:
            request = FAULTED_REQUESTS[method].FromString(body[5:])
            kind, model = self.front.faults.decide(request.model_id, headers)
            if model != request.model_id:
                request.model_id = model
                body = frame(request.SerializeToString())
        if kind is None:
            return self.proxy(stream_id, method, headers, body)
        message = reply_message()
        if kind == "close":
            close_cleanly(self.sock)
            raise Stop
        if kind == "reset":
            hard_reset(self.sock)
            raise Stop
        if kind == "exit":
            os._exit(3)
        if kind == "hang":
            return  # nothing, ever; the loop goes on reading until the client leaves
        if kind in ("reset-after-headers", "tcp-reset-after-headers"):
            self.send_headers(stream_id, self.OK_HEADERS)
            time.sleep(HEADERS_PAUSE)
            if kind == "tcp-reset-after-headers":
                hard_reset(self.sock)
                raise Stop
            self.h2.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.INTERNAL_ERROR)
            self.flush()
            return
        if kind in ("messages-then-reset", "messages-then-unavailable"):
            self.send_headers(stream_id, self.OK_HEADERS)
            self.send_data(stream_id, frame(reply_message("0")) + frame(reply_message("1")))
            if kind == "messages-then-unavailable":
                self.trailers(stream_id, 14, "lost the model")
                return
            time.sleep(HEADERS_PAUSE)
            self.h2.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.INTERNAL_ERROR)
            self.flush()
            return
        if page := error_page(kind):
            self.send_headers(stream_id, [(":status", str(page[0])), ("content-type", "text/html")])
            self.send_data(stream_id, page[1], end_stream=True)
            return
        if kind in ("unavailable", "bad-status"):
            self.trailers_only(stream_id, 14 if kind == "unavailable" else "abc", "try later")
            return
        if kind == "echo-auth":
            self.trailers_only(stream_id, 16, f"invalid authorization metadata '{headers.get('authorization', '')}'")
            return
        if kind == "goaway-refuse":
            self.goaway_and_close(last_stream_id=max(0, stream_id - 2))  # below this stream: not processed
        if kind in ("trailers-fin", "goaway-close"):
            self.send_headers(stream_id, self.OK_HEADERS)
            self.send_data(stream_id, frame(message))
            self.trailers(stream_id, 0)
            if kind == "goaway-close":
                self.goaway_and_close()
            close_cleanly(self.sock)
            raise Stop
        if kind == "trickle":
            self.send_headers(stream_id, self.OK_HEADERS)
            for byte in frame(reply_message("x" * 450))[:TRICKLE_SECONDS]:  # ~500 bytes: never completes
                self.wait(1)
                if not self.send_data(stream_id, bytes([byte])):
                    return
            close_cleanly(self.sock)
            raise Stop
        if kind == "big-stream":
            self.send_headers(stream_id, self.OK_HEADERS)
            ends = time.monotonic() + BIG_STREAM_SECONDS
            while time.monotonic() < ends:
                # While the windows are open send_data reads nothing: wait(0) notices a reset.
                if not self.send_data(stream_id, big_stream_frame()):
                    return
                self.wait(0)
            self.trailers(stream_id, 0)
            return
        if kind == "gzip-bomb":
            self.send_headers(stream_id, self.OK_HEADERS + [("grpc-encoding", "gzip")])
            if self.send_data(stream_id, grpc_gzip_bomb()):
                self.trailers(stream_id, 0)
            return
        if kind == "nul-message":
            self.send_headers(stream_id, self.OK_HEADERS)
            self.trailers(stream_id, 3, "before\0after")
            return
        data = {
            "truncated": frame(message)[:5 + len(message) // 2],
            "truncated-eos": frame(message)[:5 + len(message) // 2],
            "long-prefix": frame(message, length=len(message) + 100),
            "huge-prefix": frame(b"x" * 16, length=0x7FFFFFFF),
            "garbage": frame(b"\x07\x08 this is not protobuf \xff\xff\xff"),
            "compressed": frame(message, flag=1),
            "bad-flag": frame(message, flag=2),
            "two-messages": frame(message) * 2,
            "no-message": b"",
            "throttled": frame(throttled_message()),
        }.get(kind)
        if data is None:
            self.trailers_only(stream_id, 3, f"unknown fault {kind}")
            return
        self.send_headers(stream_id, self.OK_HEADERS)
        if kind == "truncated-eos":
            self.send_data(stream_id, data, end_stream=True)
            return
        if data:
            self.send_data(stream_id, data)
        self.trailers(stream_id, 0)

    def proxy(self, stream_id, method, headers, body):
        """Passes the call to the normal server with grpcio, the messages as bytes."""
        metadata = [(k, headers[k]) for k in FORWARDED_METADATA if k in headers]
        path = f"/clarifai.api.V2/{method}"
        descriptor = V2.methods_by_name.get(method)
        started = False
        try:
            if len(body) < 5 or body[0] != 0:
                raise ValueError("the fault server passes on uncompressed single-message requests only")
            request = body[5:]
            if descriptor is not None and descriptor.server_streaming:
                answers = self.front.upstream.unary_stream(path)(request, metadata=metadata, timeout=IDLE_LIMIT)
            else:
                answers = [self.front.upstream.unary_unary(path)(request, metadata=metadata, timeout=IDLE_LIMIT)]
            for answer in answers:
                if not started:
                    self.send_headers(stream_id, self.OK_HEADERS)
                    started = True
                self.send_data(stream_id, frame(answer))
            if not started:
                self.send_headers(stream_id, self.OK_HEADERS)
            self.trailers(stream_id, 0)
        except grpc.RpcError as error:
            fields = [("grpc-status", str(error.code().value[0]))]
            if error.details():
                fields.append(("grpc-message", urllib.parse.quote(error.details(), safe=" ")))
            if started:
                self.send_headers(stream_id, fields, end_stream=True)
            else:
                self.send_headers(stream_id, self.OK_HEADERS + fields, end_stream=True)
        except ValueError as error:
            self.send_headers(stream_id, self.OK_HEADERS + [("grpc-status", "13"), ("grpc-message", str(error))],
                              end_stream=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream-rest", required=True, help="base URL of the normal server's REST front")
    parser.add_argument("--upstream-grpc", required=True, help="host:port of the normal server's gRPC front")
    parser.add_argument("--rest-port", type=int, default=0)
    parser.add_argument("--grpc-port", type=int, default=0)
    parser.add_argument("--grpcs-port", type=int, default=0)
    parser.add_argument("--tls-cert", help="PEM certificate: also serve gRPC over TLS")
    parser.add_argument("--tls-key", help="the certificate's PEM key")
    args = parser.parse_args(argv)
    faults = Faults()
    rest = RestFront(faults, args.upstream_rest, args.rest_port)
    fronts = [rest, GrpcFront(faults, args.upstream_grpc, args.grpc_port)]
    ready = f"READY rest={rest.port} grpc={fronts[1].port}"
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        tls.set_alpn_protocols(["h2"])
        fronts.append(GrpcFront(faults, args.upstream_grpc, args.grpcs_port, tls))
        ready += f" grpcs={fronts[2].port}"
    for front in fronts:
        threading.Thread(target=serve, args=(front.listener, front.handle), daemon=True).start()
    print(ready, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
