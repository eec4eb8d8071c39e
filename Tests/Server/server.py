#!/usr/bin/env python3
"""Local stand-in for the Clarifai API (service clarifai.api.V2) over gRPC and REST.

Built on the official `clarifai-grpc` package: gRPC through its generated V2Servicer, REST
routed from the methods' `google.api.http` annotations and (de)serialised with json_format.
One in-memory store, one function per supported method, shared by both fronts.

    python Tests/Server/server.py [--rest-port N] [--grpc-port N] [--token T]... [--app-key K]
                                  [--tls-cert PEM --tls-key PEM [--grpcs-port N]]

Prints `READY rest=<port> grpc=<port>` on stdout once all ports listen (with the TLS options
`READY rest=<port> grpc=<port> grpcs=<port>`); logs go to stderr.
"""

import argparse
import collections
import hashlib
import json
import logging
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from clarifai_grpc.grpc.api import resources_pb2 as res
from clarifai_grpc.grpc.api import service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2 as sc
from clarifai_grpc.grpc.api.status import status_pb2
from clarifai_grpc.grpc.api.utils import extensions_pb2
from google.api import annotations_pb2
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor as FD
from google.protobuf.message_factory import GetMessageClass

log = logging.getLogger("clarifai-test-server")

V2 = service_pb2.DESCRIPTOR.services_by_name["V2"]
TEST_USER, TEST_APP = "test-user", "main"
MAX_PREDICT_INPUTS = 128
DEFAULT_PER_PAGE = 128
RECORD_LIMIT = 1000
RECORDED_HEADERS = ("user-agent", "x-clarifai-request-id-prefix", "content-type", "x-test-compress",
                    "x-clarifai-session-token", "x-test-extra")
# The session token the server knows (for user test-user), sent as x-clarifai-session-token as
# the official SDK sends it.
TEST_SESSION_TOKEN = "test-session-token"
STREAM_COUNT_MAX = 100000  # model stream-count
STREAM_INTERVAL = 0.02  # s between the messages of model stream-forever
DEADLINE_SLEEP = 5.0  # s model grpc-deadline waits before answering
BIG_TEXT_SIZE = 5 * 1024 * 1024  # characters in the answer of model grpc-big
SLOW_ECHO_PAUSE = 0.05  # s model stream-echo-slow waits before each StreamModelOutputs answer
RUNNER_ITEMS_MAX = 1000  # runner id runner-<N>-items: N work items, at most this many
MAX_REQUEST_SIZE = 128 * 1024 * 1024  # gRPC request messages: the SDK's ModelBuilder uploads 127 MiB parts
# s: a client's deadline reaches the server as a cancel up to this early (the server's copy of
# the deadline starts when the call arrives), and is still recorded as DEADLINE_EXCEEDED
DEADLINE_SLACK = 0.1
HALF_CLOSE_SETTLE = 0.03  # s a bidi call waits at the end of the client's messages, to tell a cancel
COMPRESSION = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}
# Behaviour models (found without being created; PostModelOutputs on both fronts):
RATE_LIMITED_MODEL = re.compile(r"rate-limited-([1-9][0-9]{0,5})")  # at most N requests in any 1 s
SLOW_MODEL = re.compile(r"slow-(0|[1-9][0-9]{0,5})")  # answers after MS ms
SLOW_MS_MAX = 600000
FAILING_URL = "/fail/"  # an input whose URL contains this gets INPUT_DOWNLOAD_FAILED
FLAKY_URL = re.compile(r"/flaky-(\d+)/")  # an input whose URL has /flaky-N/ fails its first N downloads
ADD_JOB_SECONDS = 0.3  # an inputs add job's downloads take this long (GetInputsAddJob: in progress)
PREDICT_KEYS_MAX = 500000  # distinct inputs remembered per model id to count duplicates
# room for many concurrent calls: every running gRPC call holds a worker (threads start on
# demand), every REST connection a thread; the listen backlog takes a burst of new connections
GRPC_WORKERS = 512
REST_BACKLOG = 1024

VOCABULARY = """animal beach bicycle bird boat building car cat city cloud coffee computer dog
    flower food forest fruit grass horse house lake landscape light mountain music nature night
    ocean outdoors people person plant portrait river road sand sky snow street summer sun sunset
    table travel tree urban vehicle water window winter""".split()


class ApiError(Exception):
    """Raised by a handler: the response becomes `ResponseType(status=...)`."""

    def __init__(self, code, description, details=""):
        super().__init__(description)
        self.status = status_pb2.Status(code=code, description=description, details=details)


class GrpcAbort(Exception):
    """Raised by a gRPC-only handler or fault: the RPC ends with this gRPC status (context.abort)."""

    def __init__(self, code, details):
        super().__init__(details)
        self.code, self.details = code, details


class RpcWatch:
    """Tells when a gRPC call has ended (completed, cancelled by the client, deadline passed or
    server stopping): grpcio runs the context's callbacks whenever an RPC terminates."""

    def __init__(self, context, on_end=None):
        self.context, self.ended, self.on_end = context, threading.Event(), on_end
        if not context.add_callback(self._end):  # already terminated
            self._end()

    def _end(self):
        if self.on_end:
            self.on_end()
        self.ended.set()

    def wait(self, seconds):
        """Sleeps `seconds` or until the call ends; True if it has ended."""
        return self.ended.wait(seconds)

    @property
    def active(self):
        return not self.ended.is_set() and self.context.is_active()


def http_status(code):
    """HTTP status of a REST answer carrying the Clarifai status `code`."""
    name = sc.StatusCode.Name(code) if code in sc.StatusCode.values() else ""
    if code in (sc.SUCCESS, sc.MIXED_STATUS):
        return 200
    if code in (sc.CONN_KEY_INVALID, sc.CONN_KEY_NOT_FOUND):
        return 401
    if code == sc.CONN_THROTTLED:
        return 429
    if name.endswith("_DOES_NOT_EXIST"):
        return 404
    if name.startswith("INTERNAL_") or code >= 98000:
        return 500
    return 400


def now():
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def digest(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\0")
    return h.digest()


def stable_id(*parts, n=32):
    return digest(*parts).hex()[:n]


def unit(seed, *parts):
    """A deterministic float in (0, 1]."""
    return (int.from_bytes(digest(seed, *parts)[:4], "big") + 1) / 2**32


def concept_id(word):
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    n, out = int.from_bytes(digest("concept", word)[:8], "big"), ""
    for _ in range(8):
        n, r = divmod(n, 62)
        out += alphabet[r]
    return "ai_" + out


def scored_concepts(seed, count):
    scores = sorted(((unit(seed, w), w) for w in VOCABULARY), key=lambda s: (-s[0], s[1]))
    return [res.Concept(id=concept_id(w), name=w, value=v, app_id="main") for v, w in scores[:count]]


# ---------------------------------------------------------------------------------------------
# Store and dispatcher


class AppState:
    def __init__(self):
        self.inputs = {}  # id -> Input, in creation order
        self.concepts = {}  # id -> Concept, in creation order
        self.models = {}  # id -> Model created by PostModels
        self.uploads = {}  # ("model"|"pipeline_step"|"artifact", id, version id) -> Upload
        self.next_input = 0
        self.next_version = 0
        self.add_jobs = {}  # id -> (InputsAddJob, monotonic time its downloads end)
        self.downloads = collections.Counter()  # URL -> download attempts (for FLAKY_URL)


class Auth:
    """Who is calling and which app the request is about (resolved from user_app_id)."""

    def __init__(self, user_id, app_id, state):
        self.user_id, self.app_id, self.state = user_id, app_id, state


def input_key(inp):
    """What tells a predicted input from another for `duplicates`: its id if set, else its URL,
    else a digest of its data (bytes, text)."""
    if inp.id:
        return digest("id", inp.id)[:16]
    data = inp.data
    for url in (data.image.url, data.video.url, data.audio.url, data.text.url):
        if url:
            return digest("url", url)[:16]
    return digest("data", data.SerializeToString(deterministic=True))[:16]


class ModelCounters:
    """The PostModelOutputs counters of one model id."""

    FIELDS = ("requests", "throttled", "inputs", "failed_inputs", "duplicates", "in_flight", "max_in_flight")

    def __init__(self, in_flight=0):
        self.requests = self.throttled = self.inputs = self.failed_inputs = self.duplicates = 0
        self.in_flight = self.max_in_flight = in_flight
        self.seen = set()  # input_key of the inputs predicted, at most PREDICT_KEYS_MAX

    def to_dict(self):
        return {name: getattr(self, name) for name in self.FIELDS}


class PredictStats:
    """PostModelOutputs per model id, over both fronts: the counters of /_test/predict-stats and
    the windows of the rate-limited models. Its own lock, never held while taking Api.lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.models = {}  # model id -> ModelCounters
        self.admitted = {}  # rate-limited model id -> deque of the monotonic times of its last N admissions

    def _counters(self, model_id):
        return self.models.setdefault(model_id, ModelCounters())

    def arrive(self, model_id):
        with self.lock:
            c = self._counters(model_id)
            c.in_flight += 1
            c.max_in_flight = max(c.max_in_flight, c.in_flight)

    def leave(self, model_id):
        with self.lock:
            self._counters(model_id).in_flight -= 1

    def admit(self, model_id):
        """Raises ApiError CONN_THROTTLED if `model_id` is rate-limited-N and N requests were
        admitted in the last second (a sliding window); a refused request does not count in it."""
        limit = rate_limit(model_id)
        if limit is None:
            return
        with self.lock:
            window, t = self.admitted.setdefault(model_id, collections.deque()), time.monotonic()
            while window and window[0] <= t - 1.0:
                window.popleft()
            if len(window) >= limit:
                self._counters(model_id).throttled += 1
                raise ApiError(sc.CONN_THROTTLED, "Making too many requests",
                               f"model '{model_id}' accepts at most {limit} requests per second")
            window.append(t)

    def predicted(self, model_id, request, response):
        """Counts a request the model answered with outputs, and its inputs."""
        if not response.outputs:
            return
        keys = [input_key(inp) for inp in request.inputs]
        failed = sum(out.status.code != sc.SUCCESS for out in response.outputs)
        with self.lock:
            c = self._counters(model_id)
            c.requests += 1
            c.inputs += len(keys)
            c.failed_inputs += failed
            for k in keys:
                if k in c.seen:
                    c.duplicates += 1
                elif len(c.seen) < PREDICT_KEYS_MAX:
                    c.seen.add(k)

    def snapshot(self, clear=False):
        """{model id: counters}; clear=True then resets them (requests still running stay in
        `in_flight`, which also becomes the new `max_in_flight`). The rate-limit windows stay."""
        with self.lock:
            out = {model_id: c.to_dict() for model_id, c in self.models.items()}
            if clear:
                self.models = {model_id: ModelCounters(c.in_flight) for model_id, c in self.models.items()
                               if c.in_flight}
        return out


class Api:
    """The store (one lock) plus dispatch: authentication, handler, req_id, recording."""

    def __init__(self, pats, app_key):
        self.pats, self.app_key = set(pats), app_key
        self.lock = threading.Lock()
        self.apps = {}
        self.counter = 0
        self.recorded = collections.deque(maxlen=RECORD_LIMIT)
        self.runner_results = collections.deque(maxlen=RECORD_LIMIT)
        self.predictions = PredictStats()

    def record(self, front, method, request, authorization, headers, **extra):
        entry = {
            "front": front,
            "method": method,
            "request": None if request is None else to_dict(request, show_empty=False),
            "authorization": authorization,
            "headers": {k: headers[k] for k in RECORDED_HEADERS if k in headers},
            **extra,
        }
        with self.lock:
            self.recorded.append(entry)
        return entry

    def recordings(self, clear=False):
        with self.lock:  # a stream's record changes while it runs: copy it under the lock
            out = [dict(e, stream=dict(e["stream"])) if "stream" in e else e for e in self.recorded]
            if clear:
                self.recorded.clear()
        return out

    def results(self, clear=False):
        """The runner results ProcessRunnerItems received (last 1000), oldest first."""
        with self.lock:
            out = list(self.runner_results)
            if clear:
                self.runner_results.clear()
        return out

    def upload_list(self):
        """Every upload of the three *VersionsUpload methods, for a test to check what arrived."""
        with self.lock:
            return [{"resource": resource, "id": resource_id, "version_id": version_id, "user_id": user_id,
                     "app_id": app_id, "total_size": up.total_size, "received": up.received, "parts": up.parts,
                     "complete": up.complete, "sha256": up.sha256.hexdigest()}
                    for (user_id, app_id), state in self.apps.items()
                    for (resource, resource_id, version_id), up in state.uploads.items()]

    def authenticate(self, authorization, request, headers):
        session = headers.get("x-clarifai-session-token", "")
        if not authorization and not session:
            raise ApiError(sc.CONN_KEY_NOT_FOUND, "API key not found",
                           "no authorization header; expected 'Key <token>'")
        scheme, _, token = authorization.partition(" ")
        uai = getattr(request, "user_app_id", res.UserAppIDSet())
        user, app = uai.user_id, uai.app_id
        if not authorization:
            if session != TEST_SESSION_TOKEN:
                raise ApiError(sc.CONN_KEY_INVALID, "Invalid session token", "the session token is not the server's")
            user = TEST_USER if user in ("", "me") else user
            app = app or TEST_APP
        elif scheme == "Key" and token in self.pats:
            user = TEST_USER if user in ("", "me") else user
            app = app or TEST_APP
        elif scheme == "Key" and token == self.app_key:
            if user not in ("", "me", TEST_USER) or app not in ("", TEST_APP):
                raise ApiError(sc.CONN_KEY_INVALID, "Invalid API key or Invalid API key/application pair",
                               f"this app key is bound to {TEST_USER}/{TEST_APP}, not {user}/{app}")
            user, app = TEST_USER, TEST_APP
        else:
            raise ApiError(sc.CONN_KEY_INVALID, "API key not found",
                           "the authorization value is not 'Key <a known PAT or app key>'")
        return Auth(user, app, self.apps.setdefault((user, app), AppState()))

    def req_id(self, prefix):
        with self.lock:
            self.counter += 1
            return f"{prefix or 'req'}-{self.counter:06d}"

    def call(self, method, request, authorization, headers, front, fault=None, wait=time.sleep, **extra):
        """Runs `method` (a MethodDescriptor); None means "not implemented".

        `fault` (gRPC front): called before authentication and outside the lock; it returns the
        response, or None to go on as usual, or raises GrpcAbort (which propagates). `wait(s)`
        sleeps a slow model's pause (the gRPC front's returns early when the call ends).
        A PostModelOutputs is counted in `predictions` from its arrival to its answer."""
        self.record(front, method.name, request, authorization, headers, **extra)
        handler = HANDLERS.get(method.name)
        if handler is None:
            log.info("%s %s -> not implemented", front, method.name)
            return None
        model_id = (request.model_id or request.model.id) if method.name == "PostModelOutputs" else None
        if model_id is not None:
            self.predictions.arrive(model_id)
        try:
            return self._call(method, handler, request, authorization, headers, front, fault, wait, model_id)
        finally:
            if model_id is not None:
                self.predictions.leave(model_id)

    def _call(self, method, handler, request, authorization, headers, front, fault, wait, model_id):
        try:
            response = fault() if fault else None
            if response is None:
                with self.lock:
                    auth = self.authenticate(authorization, request, headers)
                    if model_id is not None:
                        self.predictions.admit(model_id)
                    response = handler(request, auth)
                if model_id is not None:  # outside the lock: slow calls overlap
                    self.predictions.predicted(model_id, request, response)
                    pause = slow_pause(model_id)
                    if pause:
                        wait(pause)
            if not response.status.code:
                response.status.code, response.status.description = sc.SUCCESS, "Ok"
        except ApiError as e:
            response = GetMessageClass(method.output_type)(status=e.status)
        except GrpcAbort:
            raise
        except Exception as e:  # a bug here: answer it rather than drop the connection
            log.exception("%s %s failed", front, method.name)
            response = GetMessageClass(method.output_type)(
                status=status_pb2.Status(code=sc.INTERNAL_UNCATEGORIZED, description="Internal error", details=repr(e)))
        response.status.req_id = self.req_id(headers.get("x-clarifai-request-id-prefix"))
        log.info("%s %s -> %s", front, method.name, response.status.code)
        return response

    def error(self, method, err, headers):
        response = GetMessageClass(method.output_type)(status=err.status)
        response.status.req_id = self.req_id(headers.get("x-clarifai-request-id-prefix"))
        return response

    def stream(self, method, request, authorization, headers, context, fault=None):
        """A server-streaming gRPC method: the iterator of its responses, None if not implemented.

        The record gets `"stream": {"sent", "cancelled", "finished", "code"}`, kept up to date:
        `sent` counts the messages handed to grpcio while the call was active (when the client
        cancels, the last one may not have left); `finished` is set when
        the server ended the stream itself (normally or with an error status), `cancelled` when
        the call ended before that (client cancel, deadline, connection lost, server stopping);
        `code` is the final gRPC status name once known."""
        handler = STREAM_HANDLERS.get(method.name)
        if handler is None:
            self.record("grpc", method.name, request, authorization, headers, peer=context.peer())
            log.info("grpc %s -> not implemented", method.name)
            return None
        state = {"sent": 0, "cancelled": False, "finished": False, "code": None}
        self.record("grpc", method.name, request, authorization, headers, stream=state, peer=context.peer())
        watch = RpcWatch(context, self._on_end(method, state, context))  # now: the generator starts on first next()
        messages = self._messages(method, handler, request, authorization, headers, watch, fault)
        return self._stream(method, messages, headers, state, watch)

    def bidi(self, method, requests, authorization, headers, context):
        """A bidirectional-streaming gRPC method: the iterator of its responses, None if not implemented.

        The record is a server stream's plus `received` (messages read from the client) and
        `half_closed` (the server read the end of the client's messages); its `request` is the
        first message once it has arrived (an empty one before)."""
        handler = BIDI_HANDLERS.get(method.name)
        empty = GetMessageClass(method.input_type)()
        if handler is None:
            self.record("grpc", method.name, empty, authorization, headers, peer=context.peer())
            log.info("grpc %s -> not implemented", method.name)
            return None
        state = {"received": 0, "sent": 0, "half_closed": False, "cancelled": False, "finished": False, "code": None}
        entry = self.record("grpc", method.name, empty, authorization, headers, stream=state, peer=context.peer())
        watch = RpcWatch(context, self._on_end(method, state, context))
        call = StreamCall(self, watch, authorization, headers, self._received(requests, entry, watch))
        return self._stream(method, self._bidi_messages(method, handler, call), headers, state, watch)

    def _on_end(self, method, state, context):
        def on_end():
            with self.lock:
                if not state["finished"]:
                    state["cancelled"] = True
                    state["code"] = "DEADLINE_EXCEEDED" if context.time_remaining() <= DEADLINE_SLACK else "CANCELLED"
            log.info("grpc %s -> stream ended: %s", method.name, state)
        return on_end

    def _received(self, requests, entry, watch):
        """The client's messages, counted in the record as they are read."""
        for message in requests:
            with self.lock:
                entry["stream"]["received"] += 1
                if entry["stream"]["received"] == 1:
                    entry["request"] = to_dict(message, show_empty=False)
            yield message
        # grpcio ends the iterator the same way when the client cancels (the pending read completes
        # empty just before the cancellation is seen): a cancel shows at once, a half-close never
        if watch.wait(HALF_CLOSE_SETTLE):
            raise grpc.RpcError()
        with self.lock:
            entry["stream"]["half_closed"] = True

    def _messages(self, method, handler, request, authorization, headers, watch, fault):
        """The handler's messages; an ApiError becomes one last message carrying its status."""
        try:
            response = fault() if fault else None
            if response is not None:
                yield response
                return
            with self.lock:
                auth = self.authenticate(authorization, request, headers)
            yield from handler(request, auth, StreamCall(self, watch, authorization, headers))
        except ApiError as e:
            yield GetMessageClass(method.output_type)(status=e.status)

    def _bidi_messages(self, method, handler, call):
        """The bidi handler's messages; an ApiError becomes one last message carrying its status."""
        try:
            yield from handler(call.requests, call)
        except ApiError as e:
            yield GetMessageClass(method.output_type)(status=e.status)

    def _stream(self, method, messages, headers, state, watch):
        req_id = self.req_id(headers.get("x-clarifai-request-id-prefix"))

        def end(code):
            with self.lock:
                if not state["cancelled"]:
                    state["finished"], state["code"] = True, code

        try:
            for response in messages:
                if not response.status.code:
                    response.status.code, response.status.description = sc.SUCCESS, "Ok"
                response.status.req_id = req_id
                if not watch.active:
                    return
                with self.lock:  # counted before the yield: grpcio does not resume a generator
                    state["sent"] += 1  # after the send of its last message met a cancellation
                yield response
            if watch.active:
                end("OK")
        except grpc.RpcError:  # raised by the request iterator: the call has ended, on_end records how
            log.info("grpc %s -> the client's stream broke after %d messages sent", method.name, state["sent"])
        except GrpcAbort as e:
            end(e.code.name)
            log.info("grpc %s -> abort %s after %d messages", method.name, e.code.name, state["sent"])
            watch.context.abort(e.code, e.details)
        except Exception as e:  # a bug here: end the RPC with INTERNAL
            log.exception("grpc %s failed", method.name)
            end("INTERNAL")
            watch.context.abort(grpc.StatusCode.INTERNAL, f"test server error: {e!r}")


class StreamCall:
    """What a streaming handler gets besides its request(s): the store and the call's state.
    A bidi handler reads the client's messages from `requests`."""

    def __init__(self, api, watch, authorization, headers, requests=None):
        self.api, self.watch, self.authorization, self.headers = api, watch, authorization, headers
        self.requests = requests

    def locked(self, fn, *args):
        """fn(*args) under the store lock (streaming handlers run outside it)."""
        with self.api.lock:
            return fn(*args)

    def authenticate(self, request):
        """The Auth of the call's key for request.user_app_id; ApiError if the key is refused."""
        with self.api.lock:
            return self.api.authenticate(self.authorization, request, self.headers)

    def answer(self, fn, request):
        """What the unary handler `fn` answers to `request`, authenticated on its own (each message
        names its app); an ApiError becomes the response's status."""
        try:
            with self.api.lock:
                return fn(request, self.api.authenticate(self.authorization, request, self.headers))
        except ApiError as e:
            return GetMessageClass(V2.methods_by_name[fn.__name__].output_type)(status=e.status)


# ---------------------------------------------------------------------------------------------
# Handlers: one per supported method, `(request, auth) -> response`, run under the store lock.

HANDLERS = {}


def handler(fn):
    assert fn.__name__ in V2.methods_by_name, fn.__name__
    HANDLERS[fn.__name__] = fn
    return fn


def page_of(items, page, per_page):
    page, per_page = page or 1, per_page or DEFAULT_PER_PAGE
    return list(items)[(page - 1) * per_page: page * per_page]


def model_version_id(*parts):
    return stable_id("model-version", *parts)


BUILTIN_MODELS = {
    model_id: res.Model(
        id=model_id, name=model_id, user_id="clarifai", app_id="main", model_type_id=type_id,
        model_version=res.ModelVersion(id=model_version_id(model_id),
                                       status=status_pb2.Status(code=sc.MODEL_TRAINED)))
    for model_id, type_id in [
        ("general-image-recognition", "visual-classifier"),
        ("general-image-detection", "visual-detector"),
        ("general-image-embedding", "visual-embedder"),
        ("text-echo", "text-to-text"),
        ("gpt-4o", "text-to-text"),  # a stand-in for the hosted chat model of the README's examples
    ]
}


def rate_limit(model_id):
    """N for a model id rate-limited-N, else None."""
    match = RATE_LIMITED_MODEL.fullmatch(model_id)
    return int(match[1]) if match else None


def slow_pause(model_id):
    """The pause in seconds of a model id slow-MS, else None."""
    match = SLOW_MODEL.fullmatch(model_id)
    return int(match[1]) / 1000 if match and int(match[1]) <= SLOW_MS_MAX else None


def behaviour_model(model_id):
    """The model of a behaviour model id (rate-limited-N, slow-MS), else None: in every app,
    user `clarifai`, a concept classifier as general-image-recognition."""
    if rate_limit(model_id) is None and slow_pause(model_id) is None:
        return None
    return res.Model(id=model_id, name=model_id, user_id="clarifai", app_id="main", model_type_id="visual-classifier",
                     model_version=res.ModelVersion(id=model_version_id(model_id),
                                                    status=status_pb2.Status(code=sc.MODEL_TRAINED)))


def find_model(auth, model_id, version_id=""):
    """The model, with `version_id` as its model_version if that is a version uploaded to it."""
    model = auth.state.models.get(model_id) or BUILTIN_MODELS.get(model_id) or behaviour_model(model_id)
    if model is None:
        raise ApiError(sc.MODEL_DOES_NOT_EXIST, "Model does not exist", f"model '{model_id}' not found")
    if version_id and version_id != model.model_version.id:
        upload = auth.state.uploads.get(("model", model_id, version_id))
        if upload is None:
            raise ApiError(sc.MODEL_DOES_NOT_EXIST, "Model version does not exist",
                           f"version '{version_id}' not found for model '{model_id}'")
        found = res.Model()
        found.CopyFrom(model)
        found.model_version.CopyFrom(upload.version)
        return found
    return model


@handler
def GetModel(req, auth):
    return service_pb2.SingleModelResponse(model=find_model(auth, req.model_id, req.version_id))


@handler
def GetModelVersion(req, auth):
    model = find_model(auth, req.model_id, req.version_id)
    return service_pb2.SingleModelVersionResponse(model_version=model.model_version)


def find_upload(auth, resource, resource_id, version_id, code):
    upload = auth.state.uploads.get((resource, resource_id, version_id))
    if upload is None:
        raise ApiError(code, "Version does not exist", f"{resource} '{resource_id}' has no version '{version_id}'")
    return upload.version


@handler
def GetPipelineStepVersion(req, auth):
    return service_pb2.SinglePipelineStepVersionResponse(pipeline_step_version=find_upload(
        auth, "pipeline_step", req.pipeline_step_id, req.pipeline_step_version_id, sc.PIPELINE_STEP_DOES_NOT_EXIST))


@handler
def GetArtifactVersion(req, auth):
    return service_pb2.SingleArtifactVersionResponse(artifact_version=find_upload(
        auth, "artifact", req.artifact_id, req.artifact_version_id, sc.ARTIFACT_VERSION_DOES_NOT_EXIST))


@handler
def ListModels(req, auth):
    models = list(BUILTIN_MODELS.values()) + list(auth.state.models.values())
    return service_pb2.MultiModelResponse(models=page_of(models, req.page, req.per_page))


@handler
def PostModels(req, auth):
    model = res.Model()
    model.CopyFrom(req.model if req.HasField("model") else (req.models[0] if req.models else model))
    if not model.id:
        raise ApiError(sc.MODEL_INVALID_ARGUMENT, "Invalid model argument", "model.id is required")
    if model.id in auth.state.models or model.id in BUILTIN_MODELS or behaviour_model(model.id):
        raise ApiError(sc.MODEL_INVALID_ARGUMENT, "Model already exists", f"model '{model.id}' already exists")
    model.user_id, model.app_id = auth.user_id, auth.app_id
    model.name = model.name or model.id
    model.created_at.CopyFrom(now())
    model.modified_at.CopyFrom(model.created_at)
    model.model_version.id = model.model_version.id or model_version_id(auth.user_id, auth.app_id, model.id)
    model.model_version.status.code = sc.MODEL_TRAINED
    auth.state.models[model.id] = model
    return service_pb2.SingleModelResponse(model=model)


def content_of(data):
    """The bytes an input is about (url string, raw bytes or text), or None."""
    for media in (data.image, data.video, data.audio):
        if media.url or media.base64:
            return media.url.encode() if media.url else media.base64
    if data.text.raw or data.text.url:
        return (data.text.raw or data.text.url).encode()
    return None


def failing_url(data):
    """The input's URL if it contains FAILING_URL (the server "cannot download" it), else None."""
    return next((url for url in (data.image.url, data.video.url, data.audio.url, data.text.url)
                 if FAILING_URL in url), None)


def predict_concepts(seed, data, model):
    return res.Data(concepts=scored_concepts(seed, 20))


def predict_regions(seed, data, model):
    regions = []
    for i in range(1 + digest(seed)[0] % 3):
        t, l, h, w = (unit(seed, "region", i, k) for k in "tlhw")
        top, left = 0.6 * t, 0.6 * l
        box = res.BoundingBox(top_row=top, left_col=left, bottom_row=top + 0.05 + 0.35 * h,
                              right_col=left + 0.05 + 0.35 * w)
        concepts = scored_concepts(digest(seed, "region", i), 3)
        regions.append(res.Region(id=stable_id(seed, "region", i), value=concepts[0].value,
                                  region_info=res.RegionInfo(bounding_box=box),
                                  data=res.Data(concepts=concepts)))
    return res.Data(regions=regions)


def predict_embedding(seed, data, model):
    raw = [b / 127.5 - 1.0 for b in digest(seed, "embedding")[:16]]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return res.Data(embeddings=[res.Embedding(vector=[x / norm for x in raw], num_dimensions=16)])


def predict_echo(seed, data, model):
    if not (data.text.raw or data.text.url):
        raise ApiError(sc.INPUT_INVALID_ARGUMENT, "Invalid input", f"model '{model.id}' needs a text input")
    return res.Data(text=res.Text(raw="echo: " + (data.text.raw or data.text.url)))


PREDICTORS = {"visual-detector": predict_regions, "visual-embedder": predict_embedding,
              "text-to-text": predict_echo}  # anything else: a concept classifier


@handler
def PostModelOutputs(req, auth):
    model_id = req.model_id or req.model.id
    model = res.Model()
    model.CopyFrom(find_model(auth, model_id, req.version_id or req.model.model_version.id))
    if not req.inputs or len(req.inputs) > MAX_PREDICT_INPUTS:
        raise ApiError(sc.PREDICT_INVALID_REQUEST, "Invalid predict request",
                       f"{len(req.inputs)} inputs given; 1 to {MAX_PREDICT_INPUTS} allowed per request")
    predict = PREDICTORS.get(model.model_type_id, predict_concepts)
    response = service_pb2.MultiOutputResponse()
    for i, inp in enumerate(req.inputs):
        out = response.outputs.add(id=stable_id("output", auth.user_id, auth.app_id, model_id, i, inp.id,
                                                content_of(inp.data) or b""),
                                   created_at=now(), model=model, input=inp)
        out.input.id = out.input.id or stable_id("predict-input", out.id)
        try:
            seed = content_of(inp.data)
            if seed is None:
                raise ApiError(sc.INPUT_INVALID_ARGUMENT, "Invalid input",
                               "input has no image, video, audio or text (url, base64 or raw)")
            if failing_url(inp.data):
                raise ApiError(sc.INPUT_DOWNLOAD_FAILED, "Download failed",
                               f"could not download {failing_url(inp.data)}")
            out.data.CopyFrom(predict(seed, inp.data, model))
            out.status.code, out.status.description = sc.SUCCESS, "Ok"
        except ApiError as e:
            out.status.CopyFrom(e.status)
    failed = sum(o.status.code != sc.SUCCESS for o in response.outputs)
    if failed:
        response.status.code = sc.FAILURE if failed == len(response.outputs) else sc.MIXED_STATUS
        response.status.description = "Failure" if failed == len(response.outputs) else "Mixed Success"
    return response


def add_app_concepts(auth, concepts):
    for c in concepts:
        if c.id and c.id not in auth.state.concepts:
            auth.state.concepts[c.id] = res.Concept(id=c.id, name=c.name or c.id, value=1.0,
                                                    app_id=auth.app_id, user_id=auth.user_id,
                                                    created_at=now())


def get_input(auth, input_id):
    if input_id not in auth.state.inputs:
        raise ApiError(sc.INPUT_DOES_NOT_EXIST, "Input does not exist", f"input '{input_id}' not found")
    return auth.state.inputs[input_id]


@handler
def PostInputs(req, auth):
    if not req.inputs:
        raise ApiError(sc.INPUT_INVALID_ARGUMENT, "Invalid input", "no inputs given")
    new, kept = [], []
    skips = req.input_id_conflict_resolution == res.InputIDConflictResolution.SKIP
    for i, given in enumerate(req.inputs):
        inp = res.Input()
        inp.CopyFrom(given)
        if not inp.id:
            auth.state.next_input += 1
            inp.id = stable_id("input", auth.user_id, auth.app_id, auth.state.next_input)
        if any(inp.id == n.id for n in new) or (inp.id in auth.state.inputs and not skips):
            raise ApiError(sc.INPUT_DUPLICATE, "Input has a duplicate ID", f"input id '{inp.id}' already exists")
        if inp.id in auth.state.inputs:  # SKIP: left as it is
            kept.append(auth.state.inputs[inp.id])
            continue
        if content_of(inp.data) is None:
            raise ApiError(sc.INPUT_INVALID_ARGUMENT, "Invalid input", f"inputs[{i}] has no data")
        inp.created_at.CopyFrom(now())
        inp.modified_at.CopyFrom(inp.created_at)
        new.append(inp)
    job = res.InputsAddJob(id=req.inputs_add_job_id or stable_id("add-job", auth.user_id, auth.app_id, req.inputs[0].id,
                                                                  auth.state.next_input), created_at=now())
    for inp in new:
        if download_fails(auth, inp.data):
            inp.status.code, inp.status.description = sc.INPUT_DOWNLOAD_FAILED, "Download failed"
            job.progress.failed_count += 1
        else:
            inp.status.code, inp.status.description = sc.INPUT_DOWNLOAD_SUCCESS, "Download complete"
            job.progress.success_count += 1
        auth.state.inputs[inp.id] = inp
        add_app_concepts(auth, inp.data.concepts)
    auth.state.add_jobs[job.id] = (job, time.monotonic() + ADD_JOB_SECONDS)
    return service_pb2.MultiInputResponse(inputs=new + kept, inputs_add_job=job)


def download_fails(auth, data):
    """Whether the server "cannot download" the input's URL: FAILING_URL always, FLAKY_URL the
    first N times."""
    url = next((u for u in (data.image.url, data.video.url, data.audio.url, data.text.url) if u), "")
    auth.state.downloads[url] += 1
    flaky = FLAKY_URL.search(url)
    return FAILING_URL in url or (flaky is not None and auth.state.downloads[url] <= int(flaky[1]))


@handler
def GetInputsAddJob(req, auth):
    """An add job's progress: every input in progress for ADD_JOB_SECONDS, then the downloads'
    outcomes (which the inputs' statuses already tell, as the API's do once it is done)."""
    if req.id not in auth.state.add_jobs:
        raise ApiError(sc.INPUT_DOES_NOT_EXIST, "Inputs add job does not exist", f"inputs add job '{req.id}' not found")
    done, ends = auth.state.add_jobs[req.id]
    job = res.InputsAddJob()
    job.CopyFrom(done)
    if time.monotonic() < ends:
        job.progress.in_progress_count = done.progress.success_count + done.progress.failed_count
        job.progress.success_count = job.progress.failed_count = 0
    return service_pb2.SingleInputsAddJobResponse(inputs_add_job=job)


@handler
def ListInputs(req, auth):
    inputs = [i for i in auth.state.inputs.values()
              if (not req.ids or i.id in req.ids) and (not req.status.code or i.status.code == req.status.code)]
    return service_pb2.MultiInputResponse(inputs=page_of(inputs, req.page, req.per_page))


@handler
def StreamInputs(req, auth):
    """The inputs after `last_id` (a cursor), in the order they were added (or by id), per_page at a time."""
    inputs = list(auth.state.inputs.values())
    if req.order_by_id:
        inputs.sort(key=lambda i: i.id, reverse=req.descending)
    ids = [i.id for i in inputs]
    start = ids.index(req.last_id) + 1 if req.last_id in ids else (len(ids) if req.last_id else 0)
    return service_pb2.MultiInputResponse(inputs=inputs[start:start + (req.per_page or DEFAULT_PER_PAGE)])


@handler
def GetInput(req, auth):
    return service_pb2.SingleInputResponse(input=get_input(auth, req.input_id))


@handler
def DeleteInput(req, auth):
    del auth.state.inputs[get_input(auth, req.input_id).id]
    return status_pb2.BaseResponse()


@handler
def DeleteInputs(req, auth):
    if not req.ids:
        raise ApiError(sc.INPUT_INVALID_ARGUMENT, "Invalid input", "ids is required")
    for input_id in req.ids:
        get_input(auth, input_id)
    for input_id in req.ids:
        auth.state.inputs.pop(input_id, None)
    return status_pb2.BaseResponse()


def patch_dict(old, new, action):
    """merge: deep merge; overwrite: replace; remove: delete the given keys (deeply)."""
    if action == "overwrite":
        return new
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and value and isinstance(out.get(key), dict):
            out[key] = patch_dict(out[key], value, action)
        elif action == "merge":
            out[key] = value
        else:
            out.pop(key, None)
    return out


def patch_concepts(old, new, action):
    if action == "overwrite":
        return list(new)
    removed = {c.id for c in new}
    kept = [c for c in old if c.id not in removed]
    return kept + list(new) if action == "merge" else kept


@handler
def PatchInputs(req, auth):
    if req.action not in ("merge", "overwrite", "remove"):
        raise ApiError(sc.INPUT_INVALID_ARGUMENT, "Invalid action",
                       f"action must be merge, overwrite or remove, not '{req.action}'")
    patched = []
    for given in req.inputs:
        inp = res.Input()
        inp.CopyFrom(get_input(auth, given.id))
        metadata = patch_dict(json_format.MessageToDict(inp.data.metadata),
                              json_format.MessageToDict(given.data.metadata), req.action)
        concepts = patch_concepts(inp.data.concepts, given.data.concepts, req.action)
        inp.data.ClearField("metadata")
        inp.data.metadata.update(metadata)
        del inp.data.concepts[:]
        inp.data.concepts.extend(concepts)
        inp.modified_at.CopyFrom(now())
        patched.append(inp)
    for inp in patched:
        auth.state.inputs[inp.id] = inp
        add_app_concepts(auth, inp.data.concepts)
    return service_pb2.MultiInputResponse(inputs=patched)


def get_concept(auth, concept_id):
    if concept_id not in auth.state.concepts:
        raise ApiError(sc.CONN_DOES_NOT_EXIST, "Resource does not exist", f"concept '{concept_id}' not found")
    return auth.state.concepts[concept_id]


@handler
def PostConcepts(req, auth):
    ids = [c.id for c in req.concepts]
    if not ids or "" in ids:
        raise ApiError(sc.CONCEPTS_INVALID_REQUEST, "Invalid concepts request", "every concept needs an id")
    taken = [i for n, i in enumerate(ids) if i in auth.state.concepts or i in ids[:n]]
    if taken:
        raise ApiError(sc.CONCEPTS_INVALID_REQUEST, "Concept already exists", f"concept '{taken[0]}' already exists")
    add_app_concepts(auth, req.concepts)
    return service_pb2.MultiConceptResponse(concepts=[auth.state.concepts[i] for i in ids])


@handler
def ListConcepts(req, auth):
    return service_pb2.MultiConceptResponse(concepts=page_of(auth.state.concepts.values(), req.page, req.per_page))


@handler
def GetConcept(req, auth):
    return service_pb2.SingleConceptResponse(concept=get_concept(auth, req.concept_id))


@handler
def PatchConcepts(req, auth):
    if req.action not in ("overwrite", "merge"):
        raise ApiError(sc.CONCEPTS_INVALID_REQUEST, "Invalid action",
                       f"action must be overwrite or merge, not '{req.action}'")
    patched = []
    for given in req.concepts:
        old, concept = get_concept(auth, given.id), res.Concept()
        concept.CopyFrom(given if req.action == "overwrite" else old)
        if req.action == "merge":
            concept.MergeFrom(given)
        concept.name = concept.name or concept.id
        concept.created_at.CopyFrom(old.created_at)
        concept.app_id, concept.user_id, concept.value = old.app_id, old.user_id, 1.0
        patched.append(concept)
    for concept in patched:
        auth.state.concepts[concept.id] = concept
    return service_pb2.MultiConceptResponse(concepts=patched)


# ---------------------------------------------------------------------------------------------
# Streaming handlers (gRPC only): `(request, auth, call) -> iterator of responses`, run OUTSIDE
# the store lock (call.locked(fn, ...) takes it); an ApiError ends the stream with one message
# carrying its status, a GrpcAbort ends the RPC with that gRPC status.

STREAM_HANDLERS = {}


def stream_handler(fn):
    assert V2.methods_by_name[fn.__name__].server_streaming, fn.__name__
    assert not V2.methods_by_name[fn.__name__].client_streaming, fn.__name__
    STREAM_HANDLERS[fn.__name__] = fn
    return fn


def numbered_output(i):
    return service_pb2.MultiOutputResponse(outputs=[res.Output(
        id=f"out-{i}", status=status_pb2.Status(code=sc.SUCCESS, description="Ok"),
        created_at=now(), data=res.Data(text=res.Text(raw=str(i))))])


def stream_count(req, auth, call):
    raw = req.inputs[0].data.text.raw.strip() if req.inputs else ""
    if not raw.isdigit() or int(raw) > STREAM_COUNT_MAX:
        raise ApiError(sc.PREDICT_INVALID_REQUEST, "Invalid predict request",
                       f"model stream-count needs inputs[0].data.text.raw = a number 0..{STREAM_COUNT_MAX}")
    for i in range(int(raw)):
        yield numbered_output(i)


def stream_forever(req, auth, call):
    i = 0
    while True:
        yield numbered_output(i)
        i += 1
        if call.watch.wait(STREAM_INTERVAL):
            return


def stream_error(req, auth, call):
    for i in range(3):
        yield numbered_output(i)
    raise GrpcAbort(grpc.StatusCode.INTERNAL, "model crashed after 3 messages")


def stream_api_error(req, auth, call):
    for i in range(2):
        yield numbered_output(i)
    yield service_pb2.MultiOutputResponse(status=status_pb2.Status(
        code=sc.FAILURE, description="generation failed", details="model stream-api-error fails after 2 messages"))


STREAM_MODELS = {"stream-count": stream_count, "stream-forever": stream_forever,
                 "stream-error": stream_error, "stream-api-error": stream_api_error}


@stream_handler
def GenerateModelOutputs(req, auth, call):
    stream = STREAM_MODELS.get(req.model_id or req.model.id)
    if stream is None:  # any other model: one message, what PostModelOutputs answers
        yield call.locked(PostModelOutputs, req, auth)
    else:
        yield from stream(req, auth, call)


@stream_handler
def StreamLogEntries(req, auth, call):
    for i in range(3):
        yield service_pb2.MultiLogEntryResponse(log_entries=[res.LogEntry(
            message=f"log line {i}", log_type=req.log_type or "runner")])


def grpc_fault(model_id, context):
    """The fault hooks of the gRPC front (PostModelOutputs and GenerateModelOutputs by model_id),
    before authentication: a response, None for no fault, or GrpcAbort."""
    if model_id.startswith(GRPC_STATUS_MODEL):
        code = GRPC_STATUS_CODES.get(model_id[len(GRPC_STATUS_MODEL):])
        if code is not None:
            raise GrpcAbort(code, f"the server ended the call with {code.name}")
    if model_id == "grpc-unavailable":
        raise GrpcAbort(grpc.StatusCode.UNAVAILABLE, "try later")
    if model_id == "grpc-unauthenticated":
        raise GrpcAbort(grpc.StatusCode.UNAUTHENTICATED, "invalid credentials")
    if model_id == "grpc-message-encoding":
        raise GrpcAbort(grpc.StatusCode.INTERNAL, "bad ünïcode 100%")
    if model_id == "grpc-deadline":
        if RpcWatch(context).wait(DEADLINE_SLEEP):
            return service_pb2.MultiOutputResponse()  # the call is gone; nobody reads this
        return service_pb2.MultiOutputResponse(outputs=[res.Output(
            id="late", status=status_pb2.Status(code=sc.SUCCESS, description="Ok"),
            data=res.Data(text=res.Text(raw=f"answered after {DEADLINE_SLEEP:g} s")))])
    if model_id in ("grpc-big", "grpc-big-gzip"):
        if model_id == "grpc-big-gzip":
            context.set_compression(grpc.Compression.Gzip)
        return service_pb2.MultiOutputResponse(outputs=[res.Output(
            id="big", status=status_pb2.Status(code=sc.SUCCESS, description="Ok"),
            data=res.Data(text=res.Text(raw="x" * BIG_TEXT_SIZE)))])
    return None


# grpc-status-<N>: the call ends with gRPC status N (1-16).
GRPC_STATUS_MODEL = "grpc-status-"
GRPC_STATUS_CODES = {str(code.value[0]): code for code in grpc.StatusCode if code != grpc.StatusCode.OK}
GRPC_FAULT_MODELS = (tuple(GRPC_STATUS_MODEL + number for number in GRPC_STATUS_CODES)
                     + ("grpc-unavailable", "grpc-deadline", "grpc-unauthenticated", "grpc-message-encoding",
                        "grpc-big", "grpc-big-gzip"))
FAULT_METHODS = ("PostModelOutputs", "GenerateModelOutputs")


# ---------------------------------------------------------------------------------------------
# Bidirectional-streaming handlers (gRPC only): `(requests, call) -> iterator of responses`, run
# OUTSIDE the store lock; `requests` yields the client's messages as they arrive (grpc.RpcError
# once the call is cancelled). They authenticate each message that names an app
# (call.authenticate / call.answer). An ApiError ends the stream with one message carrying its
# status, a GrpcAbort ends the RPC with that gRPC status.

BIDI_HANDLERS = {}


def bidi_handler(fn):
    assert V2.methods_by_name[fn.__name__].client_streaming, fn.__name__
    assert V2.methods_by_name[fn.__name__].server_streaming, fn.__name__
    BIDI_HANDLERS[fn.__name__] = fn
    return fn


# StreamModelOutputs test hooks (by model_id): answered as text-echo answers, and
ECHO_HOOKS = ("stream-echo-slow",  # each after a pause of SLOW_ECHO_PAUSE
              "bidi-end-early",  # as the call's 2nd answer: the call then ends OK, before the half-close
              "bidi-error-after-2")  # as the call's 2nd answer: the call then ends with gRPC INTERNAL


@bidi_handler
def StreamModelOutputs(requests, call):
    """One answer per request, in order: what PostModelOutputs answers to it."""
    for n, req in enumerate(requests, 1):
        model_id = req.model_id or req.model.id
        if model_id in ECHO_HOOKS:
            if model_id == "stream-echo-slow" and call.watch.wait(SLOW_ECHO_PAUSE):
                return
            echo = service_pb2.PostModelOutputsRequest()
            echo.CopyFrom(req)
            echo.ClearField("model")
            echo.model_id = "text-echo"
            req = echo
        yield call.answer(PostModelOutputs, req)
        if n == 2 and model_id == "bidi-end-early":
            return
        if n == 2 and model_id == "bidi-error-after-2":
            raise GrpcAbort(grpc.StatusCode.INTERNAL, "model crashed after 2 answers")


class UploadKind:
    """What tells the three *VersionsUpload methods apart. `resource` names the fields: the
    config's `<resource>_id` and `<resource>_version`, the response's `<resource>_version_id`. A
    version's status is `uploading` until all bytes have arrived, then `ready`; the stream's last
    message says `done` (what the SDK waits for). Each is (code, description)."""

    def __init__(self, method, resource, invalid, uploading, done, ready):
        self.method, self.resource, self.invalid = V2.methods_by_name[method], resource, invalid
        self.uploading, self.done, self.ready = uploading, done, ready

    def status(self, version):
        return version.upload.status if self.resource == "artifact" else version.status


UPLOAD_KINDS = {kind.method.name: kind for kind in [
    # ModelBuilder.upload_model_version: the last message must be MODEL_BUILDING; monitor_model_build
    # then polls GetModelVersion until MODEL_TRAINED.
    UploadKind("PostModelVersionsUpload", "model", sc.MODEL_INVALID_ARGUMENT,
               (sc.MODEL_UPLOADING, "Model is uploading"), (sc.MODEL_BUILDING, "Model is building"),
               (sc.MODEL_TRAINED, "Model is trained")),
    # PipelineStepBuilder: the last message must be PIPELINE_STEP_BUILDING, then it polls for PIPELINE_STEP_READY.
    UploadKind("PostPipelineStepVersionsUpload", "pipeline_step", sc.PIPELINE_STEP_INVALID_ARGUMENT,
               (sc.PIPELINE_STEP_UPLOADING, "Pipeline step is uploading"),
               (sc.PIPELINE_STEP_BUILDING, "Pipeline step is building"),
               (sc.PIPELINE_STEP_READY, "Pipeline step is ready")),
    # ArtifactVersion.upload: every status must be SUCCESS, UPLOAD_IN_PROGRESS or UPLOAD_DONE; nothing is built.
    UploadKind("PostArtifactVersionsUpload", "artifact", sc.ARTIFACT_INVALID_ARGUMENT,
               (sc.UPLOAD_IN_PROGRESS, "Upload in progress"), (sc.UPLOAD_DONE, "Upload done"),
               (sc.UPLOAD_DONE, "Upload done")),
]}


class Upload:
    """One version being uploaded, kept across streams: a config naming its version id resumes it."""

    def __init__(self, kind, version, total_size):
        self.kind, self.version, self.total_size = kind, version, total_size
        self.received, self.parts, self.sha256 = 0, 0, hashlib.sha256()

    @property
    def complete(self):
        return self.received == self.total_size

    def answer(self, code, description, details):
        response = GetMessageClass(self.kind.method.output_type)(
            bytes_remaining=self.total_size - self.received, status=status_pb2.Status(
                code=code, description=description, details=details,
                percent_completed=self.received * 100 // self.total_size))
        setattr(response, self.kind.resource + "_version_id", self.version.id)
        return response


def start_upload(kind, config, auth):
    """The Upload a config starts (or resumes) and the answer to the config."""
    resource_id, given = getattr(config, kind.resource + "_id"), getattr(config, kind.resource + "_version")
    if not resource_id or config.total_size <= 0:
        raise ApiError(kind.invalid, "Invalid upload config",
                       f"upload_config needs {kind.resource}_id and total_size > 0")
    if kind.resource == "model":
        find_model(auth, resource_id)  # the SDK creates the model first
    up = auth.state.uploads.get((kind.resource, resource_id, given.id))
    if up is not None:
        if up.complete or up.total_size != config.total_size:
            raise ApiError(sc.UPLOAD_CONFLICT, "Upload conflict",
                           f"version '{given.id}' is complete" if up.complete else
                           f"version '{given.id}' is an upload of {up.total_size} bytes, not {config.total_size}")
        return up, up.answer(sc.UPLOAD_IN_PROGRESS, "Upload in progress",
                             f"resumed after part {up.parts}: send part {up.parts + 1} at range_start {up.received}")
    version = type(given)()
    version.CopyFrom(given)
    auth.state.next_version += 1
    version.id = version.id or stable_id("version", auth.user_id, auth.app_id, kind.resource, auth.state.next_version)
    version.created_at.CopyFrom(now())
    code, description = kind.uploading
    kind.status(version).CopyFrom(status_pb2.Status(code=code, description=description))
    if kind.resource == "artifact":
        version.upload.content_length = config.total_size
    up = auth.state.uploads[(kind.resource, resource_id, version.id)] = Upload(kind, version, config.total_size)
    return up, up.answer(sc.UPLOAD_IN_PROGRESS, "Upload in progress",
                         f"upload started: {config.total_size} bytes expected")


def add_part(up, req):
    """The answers to a message after the config: the part's acknowledgement, and after the last
    byte one more saying the upload is done."""
    which, part = req.WhichOneof("upload_data"), req.content_part
    if which != "content_part":
        raise ApiError(sc.UPLOAD_CONFLICT if which else sc.UPLOAD_FAILED, "Unexpected upload message",
                       "upload_config may be sent only once, first" if which else
                       "neither upload_config nor content_part is set")
    if up.complete:
        raise ApiError(sc.UPLOAD_CONFLICT, "Upload already complete", f"all {up.total_size} bytes have arrived")
    # range_start is where the part starts; ModelBuilder (clarifai model upload) sends where it ends
    starts = (up.received, up.received + len(part.data)) if up.kind.resource == "model" else (up.received,)
    if part.part_number != up.parts + 1 or part.range_start not in starts:
        raise ApiError(sc.UPLOAD_CONFLICT, "Upload part out of order",
                       f"expected part {up.parts + 1} at range_start {up.received}, "
                       f"got part {part.part_number} at {part.range_start}")
    if up.received + len(part.data) > up.total_size:
        raise ApiError(sc.UPLOAD_FAILED, "Upload larger than announced", f"part {part.part_number} ends at "
                       f"{up.received + len(part.data)}, after total_size {up.total_size}")
    up.parts, up.received = up.parts + 1, up.received + len(part.data)
    up.sha256.update(part.data)
    answers = [up.answer(sc.UPLOAD_IN_PROGRESS, "Upload in progress", f"part {up.parts} received")]
    if up.complete:
        code, description = up.kind.ready
        up.kind.status(up.version).CopyFrom(status_pb2.Status(code=code, description=description))
        up.version.modified_at.CopyFrom(now())
        answers.append(up.answer(*up.kind.done, f"all {up.total_size} bytes received in {up.parts} parts"))
    return answers


def upload(requests, call, kind):
    """The protocol of the three upload methods: upload_config first, then content parts in order,
    each acknowledged; a refusal is the last message (the upload stays, to be resumed)."""
    up = None
    for req in requests:
        if up is None:
            auth = call.authenticate(req.upload_config)
            if req.WhichOneof("upload_data") != "upload_config":
                raise ApiError(sc.UPLOAD_FAILED, "Upload config expected", "the first message must carry upload_config")
            up, answer = call.locked(start_upload, kind, req.upload_config, auth)
            yield answer
            continue
        try:
            answers = call.locked(add_part, up, req)
        except ApiError as e:
            yield call.locked(up.answer, e.status.code, e.status.description, e.status.details)
            return
        yield from answers


@bidi_handler
def PostModelVersionsUpload(requests, call):
    return upload(requests, call, UPLOAD_KINDS["PostModelVersionsUpload"])


@bidi_handler
def PostPipelineStepVersionsUpload(requests, call):
    return upload(requests, call, UPLOAD_KINDS["PostPipelineStepVersionsUpload"])


@bidi_handler
def PostArtifactVersionsUpload(requests, call):
    return upload(requests, call, UPLOAD_KINDS["PostArtifactVersionsUpload"])


def work_item(i, auth):
    """Work item i of a runner stream: a text-echo prediction of "work item <i>"."""
    return service_pb2.RunnerItem(
        id=f"item-{i}", description=f"work item {i}",
        processing_info=res.ProcessingInfo(runner_method_type=res.UNARY_UNARY, processing_id=f"processing-{i}"),
        post_model_outputs_request=service_pb2.PostModelOutputsRequest(
            user_app_id=res.UserAppIDSet(user_id=auth.user_id, app_id=auth.app_id), model_id="text-echo",
            inputs=[res.Input(id=f"item-{i}-input", data=res.Data(text=res.Text(raw=f"work item {i}")))]))


@bidi_handler
def ProcessRunnerItems(requests, call):
    """A runner pulling work: its handshake, then the items (one per message, as the real API
    sends them), their results in any order, RUNNER_STREAM_END, and the runner's half-close."""
    hello = next(requests, None)
    if hello is None:
        return
    auth = call.authenticate(hello)
    if hello.status.code != sc.RUNNER_STREAM_START:
        raise ApiError(sc.RUNNER_INVALID_REQUEST, "Runner handshake expected",
                       f"the first message must have status.code RUNNER_STREAM_START ({sc.RUNNER_STREAM_START})")
    if not hello.runner_id:
        raise ApiError(sc.RUNNER_INVALID_ARGUMENT, "Invalid runner", "runner_id is required")
    if hello.runner_id.startswith("control-"):  # BaseRunner's control connection: it only listens for cancellations
        for _ in requests:
            pass
        return
    hook = re.fullmatch(r"runner-(\d+)-items", hello.runner_id)
    count = int(hook[1]) if hook and int(hook[1]) <= RUNNER_ITEMS_MAX else 1
    pending = set()
    for i in range(count):
        item = work_item(i, auth)
        pending.add(item.id)
        yield service_pb2.MultiRunnerItemResponse(runner_items=[item])
    while pending:
        result = next(requests, None)
        if result is None:  # the runner gave up on the rest
            return
        if result.runner_item_id not in pending:
            raise ApiError(sc.RUNNER_INVALID_ARGUMENT, "Unknown runner item", f"runner_item_id "
                           f"'{result.runner_item_id}' is not an item of this stream awaiting its result")
        pending.discard(result.runner_item_id)
        entry = {"runner_id": hello.runner_id, "result": to_dict(result, show_empty=False)}
        with call.api.lock:
            call.api.runner_results.append(entry)
    yield service_pb2.MultiRunnerItemResponse(status=status_pb2.Status(
        code=sc.RUNNER_STREAM_END, description="No more work", details=f"all {count} items of this stream are done"))
    if next(requests, None) is not None:
        raise ApiError(sc.RUNNER_INVALID_REQUEST, "Stream is over",
                       "after RUNNER_STREAM_END only the half-close may come")


# ---------------------------------------------------------------------------------------------
# JSON (shared by the REST front and the recording)


def _empty_json(f):
    if f.is_repeated:
        return {} if f.message_type and f.message_type.GetOptions().map_entry else []
    if f.message_type:
        return {}
    if f.type in (FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_SINT64, FD.TYPE_FIXED64, FD.TYPE_SFIXED64):
        return "0"
    return {FD.CPPTYPE_STRING: "", FD.CPPTYPE_BOOL: False, FD.CPPTYPE_FLOAT: 0.0,
            FD.CPPTYPE_DOUBLE: 0.0}.get(f.cpp_type, 0)


def _add_show_if_empty(msg, js):
    """Adds fields marked `cl_show_if_empty` that MessageToDict left out (as the real API does)."""
    for f in msg.DESCRIPTOR.fields:
        if f.name not in js:
            if f.GetOptions().Extensions[extensions_pb2.cl_show_if_empty] and not f.containing_oneof:
                js[f.name] = _empty_json(f)
            continue
        value, sub = getattr(msg, f.name), js[f.name]
        if f.message_type and f.message_type.GetOptions().map_entry:  # all map keys are strings here
            f, value, sub = f.message_type.fields_by_name["value"], list(value.values()), list(sub.values())
        if not f.message_type or f.message_type.full_name.startswith("google.protobuf."):
            continue
        for item, item_js in zip(value, sub) if isinstance(sub, list) else [(value, sub)]:
            _add_show_if_empty(item, item_js)


def to_dict(msg, show_empty=True):
    js = json_format.MessageToDict(msg, preserving_proto_field_name=True, use_integers_for_enums=True)
    if show_empty:
        _add_show_if_empty(msg, js)
    return js


# ---------------------------------------------------------------------------------------------
# REST front: routes from the google.api.http annotations


class BadRequest(Exception):
    pass


def field_path(desc, dotted):
    """The FieldDescriptors along a dotted path of proto or json names."""
    fields = []
    for part in dotted.split("."):
        if fields and (not fields[-1].message_type or fields[-1].is_repeated):
            raise BadRequest(f"'{dotted}' does not name a field")
        d = fields[-1].message_type if fields else desc
        f = d.fields_by_name.get(part) or {x.json_name: x for x in d.fields}.get(part)
        if f is None:
            raise BadRequest(f"'{dotted}' is not a field of {desc.full_name}")
        fields.append(f)
    return fields


def put(js, fields, value):
    """Sets value at the field path inside the JSON dict js, reusing a proto- or json-named key."""
    for i, f in enumerate(fields):
        key = next((k for k in (f.name, f.json_name) if k in js), f.name)
        if i == len(fields) - 1:
            js[key] = value
        else:
            js = js.setdefault(key, {})
            if not isinstance(js, dict):
                raise BadRequest(f"'{f.name}' must be an object")


def scalar(f, text):
    """A query or path string converted to what json_format accepts for the field."""
    if f.message_type and not f.message_type.full_name.startswith("google.protobuf."):
        raise BadRequest(f"'{f.name}' is a message and cannot be given as a string")
    if f.type == FD.TYPE_BOOL or (f.message_type and f.message_type.full_name == "google.protobuf.BoolValue"):
        if text.lower() not in ("true", "false", "1", "0"):
            raise BadRequest(f"'{f.name}' must be true or false, not '{text}'")
        return text.lower() in ("true", "1")
    return text


class Route:
    def __init__(self, method, verb, template, body, order):
        self.method, self.verb, self.template, self.body = method, verb.upper(), template, body
        if any(c in template for c in "*:=") or body not in ("", "*"):
            raise ValueError(f"unsupported http rule for {method.name}: {template} body={body!r}")
        parts = template.split("/")[1:]
        self.variables = [p[1:-1] if p.startswith("{") else None for p in parts]
        self.literals = [None if p.startswith("{") else p for p in parts]
        # more literal segments first, then literals further left, then declaration order
        is_literal = [lit is not None for lit in self.literals]
        self.rank = (sum(is_literal), is_literal, -order)

    def match(self, segments):
        if len(segments) != len(self.literals):
            return None
        if any(lit is not None and lit != seg for lit, seg in zip(self.literals, segments)):
            return None
        return {var: seg for var, seg in zip(self.variables, segments) if var}

    def parse(self, variables, body, query):
        """The request message from the body, the query string and the path variables."""
        desc = self.method.input_type
        js = {}
        if self.body == "*" and body.strip():
            js = json.loads(body)
            if not isinstance(js, dict):
                raise BadRequest("the body must be a JSON object")
        for key, values in urllib.parse.parse_qs(query, keep_blank_values=True).items():
            if self.body == "*":
                raise BadRequest(f"query parameter '{key}' not allowed: this method takes its fields in the body")
            fields = field_path(desc, key)
            values = [scalar(fields[-1], v) for v in values]
            if not fields[-1].is_repeated and len(values) > 1:
                raise BadRequest(f"query parameter '{key}' is not repeated")
            put(js, fields, values if fields[-1].is_repeated else values[0])
        for var, value in variables.items():
            fields = field_path(desc, var)
            put(js, fields, scalar(fields[-1], value))
        return json_format.ParseDict(js, GetMessageClass(desc)(), ignore_unknown_fields=False)


def build_routes():
    routes = []
    for method in V2.methods:
        rule = method.GetOptions().Extensions[annotations_pb2.http]
        for binding in [rule, *rule.additional_bindings]:
            verb = binding.WhichOneof("pattern")
            routes.append(Route(method, verb, getattr(binding, verb), binding.body, len(routes)))
    return routes


class Router:
    def __init__(self):
        self.routes = build_routes()

    def find(self, verb, raw_path):
        """(route, path variables) for a raw path, or None. Segments are decoded one by one."""
        segments = [urllib.parse.unquote(s) for s in raw_path.split("/")[1:]]
        found = [(r, v) for r in self.routes if r.verb == verb for v in [r.match(segments)] if v is not None]
        return max(found, key=lambda rv: rv[0].rank, default=None)


class RestServer(ThreadingHTTPServer):
    """A thread per connection, and a listen backlog for a burst of new connections (the
    default 5 makes Linux drop the SYNs beyond it: a client then waits 1 s to retry)."""

    request_queue_size = REST_BACKLOG
    daemon_threads = True


def make_http_handler(api, router):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls

        def log_message(self, fmt, *args):
            log.debug("rest " + fmt, *args)

        def answer(self, code, obj):
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if "x-test-metadata" in self.headers:  # as the gRPC front's initial metadata
                self.send_header("X-Test-Initial", self.headers["x-test-metadata"])
            self.end_headers()
            self.wfile.write(data)

        def read_body(self):
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    chunk = self.rfile.read(size)
                    self.rfile.readline()
                    if not size:
                        return b"".join(chunks)
                    chunks.append(chunk)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def handle_any(self):
            body = self.read_body()
            raw_path, _, query = self.path.partition("?")
            if raw_path == "/_test/requests" and self.command in ("GET", "DELETE"):
                return self.answer(200, api.recordings(clear=self.command == "DELETE"))
            if raw_path == "/_test/runner-results" and self.command in ("GET", "DELETE"):
                return self.answer(200, api.results(clear=self.command == "DELETE"))
            if raw_path == "/_test/uploads" and self.command == "GET":
                return self.answer(200, api.upload_list())
            if raw_path == "/_test/predict-stats" and self.command in ("GET", "DELETE"):
                return self.answer(200, api.predictions.snapshot(clear=self.command == "DELETE"))
            headers = {k.lower(): v for k, v in self.headers.items()}
            authorization = self.headers.get("Authorization", "")
            extra = {"http_method": self.command, "raw_path": self.path, "peer": "%s:%d" % self.client_address[:2]}
            found = router.find(self.command, raw_path)
            if found is None:
                api.record("rest", None, None, authorization, headers, **extra)
                return self.answer(404, {"code": 5, "message": "Not Found"})
            route, variables = found
            try:
                request = route.parse(variables, body.decode("utf-8"), query)
            except (BadRequest, ValueError, TypeError, json_format.ParseError) as e:
                api.record("rest", route.method.name, None, authorization, headers, error=str(e), **extra)
                err = ApiError(sc.BAD_REQUEST, "Bad request", str(e))
                return self.answer(400, to_dict(api.error(route.method, err, headers)))
            response = api.call(route.method, request, authorization, headers, "rest", **extra)
            if response is None:
                return self.answer(501, {"code": 12, "message": "Method not implemented"})
            self.answer(http_status(response.status.code), to_dict(response))

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any

    return Handler


# ---------------------------------------------------------------------------------------------
# gRPC front: the official servicer, with every method routed through the dispatcher


class Servicer(service_pb2_grpc.V2Servicer):
    def __init__(self, api):
        self.api = api


def _grpc_method(method):
    default = getattr(service_pb2_grpc.V2Servicer, method.name)

    def call(self, request, context):
        headers = {k: v for k, v in context.invocation_metadata()}
        authorization = headers.get("authorization", "")
        compression = COMPRESSION.get(headers.get("x-test-compress", "").strip().lower())
        if compression is not None:
            context.set_compression(compression)  # sent whatever the client's grpc-accept-encoding
        fault = None
        if method.name in FAULT_METHODS and (request.model_id or request.model.id) in GRPC_FAULT_MODELS:
            fault = lambda: grpc_fault(request.model_id or request.model.id, context)  # noqa: E731
        if method.client_streaming:  # all of V2's are bidirectional: `request` iterates the client's messages
            stream = self.api.bidi(method, request, authorization, headers, context)
            return default(self, request, context) if stream is None else stream
        if method.server_streaming:
            stream = self.api.stream(method, request, authorization, headers, context, fault)
            return default(self, request, context) if stream is None else stream
        if "x-test-metadata" in headers:  # metadata of the server's own, both ways, for the clients' tests
            context.send_initial_metadata((("x-test-initial", headers["x-test-metadata"]),))
            context.set_trailing_metadata((("x-test-trailing", headers["x-test-metadata"]),))
        try:
            response = self.api.call(method, request, authorization, headers, "grpc", fault,
                                     wait=lambda seconds: RpcWatch(context).wait(seconds), peer=context.peer())
        except GrpcAbort as e:
            log.info("grpc %s -> abort %s", method.name, e.code.name)
            context.abort(e.code, e.details)
        return default(self, request, context) if response is None else response

    call.__name__ = method.name
    return call


for _m in V2.methods:
    setattr(Servicer, _m.name, _grpc_method(_m))


# ---------------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rest-port", type=int, default=0, help="REST port (0: pick a free one)")
    parser.add_argument("--grpc-port", type=int, default=0, help="gRPC port (0: pick a free one)")
    parser.add_argument("--token", action="append", help="a PAT of user test-user (repeatable; default test-pat)")
    parser.add_argument("--app-key", default="test-app-key", help="an app key bound to test-user/main")
    parser.add_argument("--verbose", action="store_true", help="also log every HTTP request line")
    parser.add_argument("--tls-cert", metavar="PEM", help="certificate (chain) of the TLS gRPC port")
    parser.add_argument("--tls-key", metavar="PEM", help="private key of the TLS gRPC port")
    parser.add_argument("--grpcs-port", type=int, default=0, help="TLS gRPC port (0: pick a free one)")
    parser.add_argument("--max-concurrent-streams", type=int, default=0,
                        help="HTTP/2 streams a gRPC connection carries at once (SETTINGS_MAX_CONCURRENT_STREAMS; 0: grpcio's default)")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    credentials = None
    if args.tls_cert:
        try:
            with open(args.tls_key, "rb") as key, open(args.tls_cert, "rb") as cert:
                credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
        except OSError as e:
            parser.error(f"cannot read the TLS certificate or key: {e}")
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(message)s")
    # the official servicer's default raises NotImplementedError; grpc logs each with a traceback
    logging.getLogger("grpc._server").addFilter(
        lambda r: not (r.exc_info and r.exc_info[0] is NotImplementedError))

    api = Api(args.token or ["test-pat"], args.app_key)
    # every running RPC holds a worker (a stream until it ends): room for many open streams and
    # slow calls; maximum_concurrent_rpcs stays None (no limit besides the workers)
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=GRPC_WORKERS), maximum_concurrent_rpcs=None,
                              options=[("grpc.max_receive_message_length", MAX_REQUEST_SIZE)]
                              + ([("grpc.max_concurrent_streams", args.max_concurrent_streams)] if args.max_concurrent_streams else []))
    service_pb2_grpc.add_V2Servicer_to_server(Servicer(api), grpc_server)
    router = Router()
    try:
        grpc_port = grpc_server.add_insecure_port(f"127.0.0.1:{args.grpc_port}")
        httpd = RestServer(("127.0.0.1", args.rest_port), make_http_handler(api, router))
    except (OSError, RuntimeError) as e:
        sys.exit(f"server.py: cannot listen (rest {args.rest_port}, grpc {args.grpc_port}): {e}")
    if credentials is not None:
        try:
            grpcs_port = grpc_server.add_secure_port(f"127.0.0.1:{args.grpcs_port}", credentials)
        except RuntimeError as e:
            sys.exit(f"server.py: cannot listen with TLS on grpcs port {args.grpcs_port} "
                     f"(is {args.tls_cert} a PEM certificate and {args.tls_key} its PEM key?): {e}")
    grpc_server.start()
    threading.Thread(target=httpd.serve_forever, name="rest", daemon=True).start()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("%d REST bindings, %d methods implemented (+ %d server and %d bidirectional streaming, gRPC only)",
             len(router.routes), len(HANDLERS), len(STREAM_HANDLERS), len(BIDI_HANDLERS))
    ready = f"READY rest={httpd.server_address[1]} grpc={grpc_port}"
    print(ready + (f" grpcs={grpcs_port}" if credentials is not None else ""), flush=True)
    while not stop.wait(0.5):
        pass
    log.info("stopping")
    httpd.shutdown()
    httpd.server_close()
    grpc_server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
