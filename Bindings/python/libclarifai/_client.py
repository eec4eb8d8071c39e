"""Channels, clients, predictions and streams over the C API."""
from __future__ import annotations

import ctypes
import enum
import json as _json
import math
import os
import struct
import threading
import weakref
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import (Any, Callable, Deque, Dict, Generic, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, TypeVar, Union)

from ._native import STREAM_FN, ConceptStruct, InputStruct, RegionStruct, load_library
from .errors import ApiError, ClarifaiError, ErrorCode, InvalidArgumentError, UnsupportedError, error_class

__all__ = [
    "Channel", "Client", "Concept", "BoundingBox", "Region", "Output", "Prediction", "Input", "InputKind",
    "Stream", "json_to_proto", "proto_to_json", "version", "api_version", "methods",
]

#: A request: a dict (sent as JSON), a JSON text, or None for an empty request.
Request = Union[Mapping[str, Any], str, bytes, None]
PathLike = Union[str, "os.PathLike[str]"]
T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Small helpers


def _enc(text: Optional[str]) -> Optional[bytes]:
    return None if text is None else os.fsencode(text) if isinstance(text, os.PathLike) else text.encode()


def _dec(raw: Optional[bytes]) -> str:
    return "" if raw is None else raw.decode("utf-8", "replace")


def _last_error() -> str:
    return _dec(load_library().clarifai_last_error())


def _request_text(request: Request) -> Optional[bytes]:
    if request is None:
        return None
    if isinstance(request, bytes):
        return request
    if isinstance(request, str):
        return request.encode()
    if isinstance(request, Mapping):
        return _json.dumps(request).encode()
    raise TypeError(f"a request is a dict, a JSON str or None, not {type(request).__name__}")


def _f32(value: float) -> float:
    """A C float as the shortest decimal that reads back to the same float, like the REST JSON
    (0.87 rather than 0.8700000047683716)."""
    if not math.isfinite(value):
        return value
    for digits in (6, 7, 8, 9):
        short = float(f"{value:.{digits}g}")
        if struct.unpack("f", struct.pack("f", short))[0] == value:
            return short
    return value


def _timeout_ms(timeout: Optional[float]) -> int:
    if timeout is None or timeout == math.inf:
        return 0
    if math.isnan(timeout):
        raise InvalidArgumentError("timeout: NaN is not a number of seconds")
    if timeout <= 0:
        return -1 if timeout < 0 else 1  # negative: the library says why; 0 s is the shortest deadline
    return max(1, round(timeout * 1000))


def _fail(code: int, message: str) -> ClarifaiError:
    return error_class(code)(message, code)


class _Handle:
    """A C handle shared by threads: calls hold it (acquire/release); close() frees it once the
    last call in flight has released it. Used by Channel and Client and by their finalizers."""

    __slots__ = ("_pointer", "_free", "_what", "_lock", "_users", "_closing")

    def __init__(self, pointer: int, free: Callable[[int], None], what: str) -> None:
        self._pointer: Optional[int] = pointer
        self._free = free
        self._what = what
        self._lock = threading.Lock()
        self._users = 0
        self._closing = False

    def acquire(self) -> int:
        with self._lock:
            if self._closing or self._pointer is None:
                raise InvalidArgumentError(f"the {self._what} is closed", ErrorCode.INVALID_ARGUMENT)
            self._users += 1
            return self._pointer

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            pointer = self._take() if self._closing else None
        if pointer is not None:
            self._free(pointer)

    def close(self) -> None:
        with self._lock:
            self._closing = True
            pointer = self._take()
        if pointer is not None:
            self._free(pointer)

    def _take(self) -> Optional[int]:
        if self._users:
            return None
        pointer, self._pointer = self._pointer, None
        return pointer

    @property
    def closed(self) -> bool:
        return self._closing


# ---------------------------------------------------------------------------------------------
# Module functions


def version() -> str:
    """The C library's version, e.g. "1.1.0"."""
    return _dec(load_library().clarifai_version())


def api_version() -> str:
    """The clarifai-grpc release whose API definition the library carries, e.g. "12.6.0"."""
    return _dec(load_library().clarifai_api_version())


def methods() -> List[str]:
    """The names of the V2 service's methods, in the order of the official definition."""
    lib = load_library()
    return [_dec(lib.clarifai_method_name(i)) for i in range(lib.clarifai_method_count())]


def json_to_proto(message_type: str, message: Union[Mapping[str, Any], str, bytes]) -> bytes:
    """proto3 JSON (a dict or its text) -> protobuf binary of `message_type`, a full name such as
    "clarifai.api.ListConceptsRequest". InvalidArgumentError names the field that is wrong."""
    lib = load_library()
    out, length = ctypes.c_void_p(), ctypes.c_size_t()
    code = lib.clarifai_json_to_proto(message_type.encode(), _request_text(message) or b"{}",
                                      ctypes.byref(out), ctypes.byref(length))
    if code:
        raise _fail(code, _last_error())
    try:
        return ctypes.string_at(out, length.value) if length.value else b""
    finally:
        lib.clarifai_free(out.value)


def _proto_to_json_text(message_type: str, data: bytes) -> bytes:
    lib = load_library()
    out = ctypes.c_void_p()
    code = lib.clarifai_proto_to_json(message_type.encode(), bytes(data), len(data), ctypes.byref(out))
    if code:
        raise _fail(code, _last_error())
    try:
        return ctypes.string_at(out)
    finally:
        lib.clarifai_free(out.value)


def proto_to_json(message_type: str, data: bytes) -> Dict[str, Any]:
    """Protobuf binary of `message_type` -> a dict in the REST API's JSON form (original field
    names, enums as numbers, 64-bit integers as strings)."""
    result: Dict[str, Any] = _json.loads(_proto_to_json_text(message_type, data))
    return result


# ---------------------------------------------------------------------------------------------
# Channels and clients


class Channel:
    """Where and how requests travel: `Channel.json()` (REST), `Channel.grpc()` (TLS),
    `Channel.grpc_insecure()` (cleartext HTTP/2). Thread-safe; a context manager. Clients keep
    the channel they were made from alive, so it may be closed as soon as they exist.

    timeout: seconds per call, covering connect, send, receive and retries (None: no deadline).
    ca_file: a PEM file of CA certificates to trust instead of the system store.
    max_retries: tries after a transient failure (library default 4; 0 to 100)."""

    KINDS = ("json", "grpc", "grpc_insecure")

    def __init__(self, kind: str = "json", address: Optional[str] = None, *, timeout: Optional[float] = None,
                 ca_file: Optional[PathLike] = None, max_retries: Optional[int] = None) -> None:
        if kind not in self.KINDS:
            raise InvalidArgumentError(f"channel kind {kind!r}: one of {', '.join(self.KINDS)}")
        lib = load_library()
        pointer = getattr(lib, f"clarifai_channel_new_{kind}")(_enc(address))
        if not pointer:
            raise InvalidArgumentError(_last_error())
        self._handle = _Handle(pointer, lib.clarifai_channel_free, "channel")
        self._finalizer = weakref.finalize(self, self._handle.close)
        self.kind, self.address, self.timeout, self.ca_file, self.max_retries = kind, address, timeout, ca_file, max_retries
        try:
            if max_retries is not None:
                if not hasattr(lib, "clarifai_channel_set_max_retries"):
                    raise UnsupportedError("max_retries: this libclarifai has no clarifai_channel_set_max_retries")
                code = lib.clarifai_channel_set_max_retries(pointer, max_retries)
                if code:
                    raise _fail(code, _last_error())
            if timeout is not None:
                code = lib.clarifai_channel_set_timeout_ms(pointer, _timeout_ms(timeout))
                if code:
                    raise _fail(code, _last_error())
            if ca_file is not None:
                code = lib.clarifai_channel_set_ca_file(pointer, _enc(os.fspath(ca_file)))
                if code:
                    raise _fail(code, _last_error())
        except BaseException:
            self.close()
            raise

    @classmethod
    def json(cls, base_url: Optional[str] = None, *, timeout: Optional[float] = None,
             ca_file: Optional[PathLike] = None, max_retries: Optional[int] = None) -> "Channel":
        """REST (HTTP + JSON). base_url "http[s]://host[:port]"; None means $CLARIFAI_API_BASE,
        else https://api.clarifai.com."""
        return cls("json", base_url, timeout=timeout, ca_file=ca_file, max_retries=max_retries)

    @classmethod
    def grpc(cls, target: Optional[str] = None, *, timeout: Optional[float] = None,
             ca_file: Optional[PathLike] = None, max_retries: Optional[int] = None) -> "Channel":
        """gRPC over TLS. target "host[:port]" (port 443 when absent); None means
        $CLARIFAI_GRPC_BASE, else api.clarifai.com."""
        return cls("grpc", target, timeout=timeout, ca_file=ca_file, max_retries=max_retries)

    @classmethod
    def grpc_insecure(cls, target: Optional[str] = None, *, timeout: Optional[float] = None,
                      ca_file: Optional[PathLike] = None, max_retries: Optional[int] = None) -> "Channel":
        """gRPC over cleartext HTTP/2 (local servers, proxies). target "host[:port]" (port 18080
        when absent); None means $CLARIFAI_GRPC_BASE."""
        return cls("grpc_insecure", target, timeout=timeout, ca_file=ca_file, max_retries=max_retries)

    def _clone(self, timeout: Optional[float]) -> "Channel":
        """A new channel to the same place with another timeout."""
        return Channel(self.kind, self.address, timeout=timeout, ca_file=self.ca_file, max_retries=self.max_retries)

    def close(self) -> None:
        """Releases the channel (clients made from it keep working)."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self) -> "Channel":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<libclarifai.Channel {self.kind} {self.address or '(from the environment)'}{state}>"


class InputKind(enum.IntEnum):
    """clarifai_input_kind."""
    IMAGE = 0
    TEXT = 1
    VIDEO = 2
    AUDIO = 3


@dataclass(frozen=True)
class Input:
    """One input of a prediction: exactly one of url, data (raw bytes) or text. `kind` defaults
    to TEXT for text and IMAGE otherwise; `id` lets you name the input."""
    url: Optional[str] = None
    data: Optional[bytes] = None
    text: Optional[str] = None
    kind: Union[InputKind, str, None] = None
    id: Optional[str] = None

    def _kind(self) -> InputKind:
        if self.kind is None:
            return InputKind.TEXT if self.text is not None else InputKind.IMAGE
        if isinstance(self.kind, str):
            try:
                return InputKind[self.kind.upper()]
            except KeyError:
                raise InvalidArgumentError(f"input kind {self.kind!r}: one of image, text, video, audio") from None
        return InputKind(self.kind)


@dataclass(frozen=True)
class Concept:
    id: str
    name: str
    value: float
    app_id: str


@dataclass(frozen=True)
class BoundingBox:
    """region_info.bounding_box, fractions of the image (0..1)."""
    top_row: float
    left_col: float
    bottom_row: float
    right_col: float


@dataclass(frozen=True)
class Region:
    id: str
    box: BoundingBox
    value: float
    concepts: List[Concept]


@dataclass(frozen=True)
class Output:
    """One output of a prediction (one per input, in input order)."""
    concepts: List[Concept]
    regions: List[Region]
    text: Optional[str]
    embedding: Optional[List[float]]


@dataclass(frozen=True)
class Prediction:
    """What PostModelOutputs answered. `concepts`, `regions`, `text` and `embedding` are those of
    the first output; `outputs` has them all. `json` is the whole response as a dict.

    Concept and region values are the library's 32-bit floats in their shortest decimal form, as
    in the JSON (0.87, not 0.8700000047683716); embeddings are the float32 values as they are."""
    status_code: int
    status_description: str
    request_id: str
    outputs: List[Output]
    json_text: str = field(repr=False, compare=False)

    @property
    def concepts(self) -> List[Concept]:
        return self.outputs[0].concepts if self.outputs else []

    @property
    def regions(self) -> List[Region]:
        return self.outputs[0].regions if self.outputs else []

    @property
    def text(self) -> Optional[str]:
        return self.outputs[0].text if self.outputs else None

    @property
    def embedding(self) -> Optional[List[float]]:
        return self.outputs[0].embedding if self.outputs else None

    @cached_property
    def json(self) -> Dict[str, Any]:
        result: Dict[str, Any] = _json.loads(self.json_text)
        return result


def _check(code: int) -> None:
    if code:
        raise _fail(code, _last_error())


def _concepts(array: Any, count: int) -> List[Concept]:
    return [Concept(_dec(c.id), _dec(c.name), _f32(c.value), _dec(c.app_id)) for c in array[:count]] if count else []


def _read_prediction(response: int) -> Prediction:
    """Everything of a PostModelOutputs response, read through the C struct buffers."""
    lib = load_library()
    outputs = []
    for index in range(lib.clarifai_response_output_count(response)):
        concepts = ctypes.POINTER(ConceptStruct)()
        regions = ctypes.POINTER(RegionStruct)()
        vector = ctypes.POINTER(ctypes.c_float)()
        count = ctypes.c_size_t()
        _check(lib.clarifai_response_concepts(response, index, ctypes.byref(concepts), ctypes.byref(count)))
        output_concepts = _concepts(concepts, count.value)
        _check(lib.clarifai_response_regions(response, index, ctypes.byref(regions), ctypes.byref(count)))
        output_regions = [
            Region(_dec(r.id), BoundingBox(_f32(r.top_row), _f32(r.left_col), _f32(r.bottom_row), _f32(r.right_col)),
                   _f32(r.value), _concepts(r.concepts, r.concept_count))
            for r in regions[:count.value]] if count.value else []
        text = lib.clarifai_response_text(response, index)
        _check(lib.clarifai_response_embedding(response, index, ctypes.byref(vector), ctypes.byref(count)))
        embedding = vector[:count.value] if count.value else None  # exact (widened) float32 values
        outputs.append(Output(output_concepts, output_regions, None if text is None else _dec(text), embedding))
    return Prediction(lib.clarifai_response_status_code(response),
                      _dec(lib.clarifai_response_status_description(response)),
                      _dec(lib.clarifai_response_request_id(response)), outputs,
                      _dec(lib.clarifai_response_json(response)))


def _api_error(response: int, message: str) -> ApiError:
    lib = load_library()
    try:
        body = _json.loads(_dec(lib.clarifai_response_json(response)))
    except ValueError:
        body = {}
    return ApiError(message, ErrorCode.API,
                    status_code=lib.clarifai_response_status_code(response),
                    description=_dec(lib.clarifai_response_status_description(response)),
                    details=_dec(lib.clarifai_response_status_details(response)),
                    request_id=_dec(lib.clarifai_response_request_id(response)), json=body)


def _response_proto(response: int) -> bytes:
    data, length = ctypes.c_void_p(), ctypes.c_size_t()
    _check(load_library().clarifai_response_proto(response, ctypes.byref(data), ctypes.byref(length)))
    return ctypes.string_at(data, length.value) if length.value else b""


class Client:
    """Who is calling: a token (PAT or app API key; None means $CLARIFAI_PAT) and optionally the
    user and app that fill `user_app_id` in requests that leave it out. Thread-safe: any number
    of threads may call through one client. A context manager; close() frees it (after calls in
    flight finish), and so does garbage collection."""

    def __init__(self, channel: Channel, pat: Optional[str] = None, user_id: Optional[str] = None,
                 app_id: Optional[str] = None) -> None:
        lib = self._lib = load_library()
        channel_pointer = channel._handle.acquire()
        try:
            pointer = lib.clarifai_client_new(channel_pointer, _enc(pat), _enc(user_id), _enc(app_id))
            message = "" if pointer else _last_error()
        finally:
            channel._handle.release()
        if not pointer:
            raise InvalidArgumentError(message)
        self._handle = _Handle(pointer, lib.clarifai_client_free, "client")
        self._finalizer = weakref.finalize(self, self._handle.close)
        self.channel, self.user_id, self.app_id = channel, user_id, app_id

    # -- plumbing ------------------------------------------------------------------------------

    def _invoke(self, function: Callable[..., int], *args: Any) -> Tuple[int, Optional[int], str]:
        """Runs function(client, *args, &response): (code, response or None, message)."""
        out = ctypes.c_void_p()
        pointer = self._handle.acquire()
        try:
            code = function(pointer, *args, ctypes.byref(out))
            message = _last_error() if code else ""  # read at once: it is the thread's last call's
        finally:
            self._handle.release()
        return code, out.value, message

    def _finish(self, outcome: Tuple[int, Optional[int], str], read: Callable[[int], T],
                prediction: bool = False) -> T:
        code, response, message = outcome
        try:
            if code == ErrorCode.OK and response:
                return read(response)
            if code == ErrorCode.API and response:
                error = _api_error(response, message)
                if prediction:
                    error.prediction = _read_prediction(response)
                raise error
            raise _fail(code or ErrorCode.INTERNAL, message or "no response")
        finally:
            self._lib.clarifai_response_free(response)

    def _call_proto_raw(self, method: str, request: bytes) -> Tuple[int, Optional[bytes], str]:
        """For the gRPC stub: (code, response bytes on OK and API errors, message)."""
        code, response, message = self._invoke(self._lib.clarifai_call_proto, method.encode(), request, len(request))
        try:
            data = _response_proto(response) if response and code in (ErrorCode.OK, ErrorCode.API) else None
        finally:
            self._lib.clarifai_response_free(response)
        return code, data, message

    # -- calls ---------------------------------------------------------------------------------

    def call(self, method: str, request: Request = None) -> Dict[str, Any]:
        """Calls any V2 method ("ListConcepts", "PostInputs", ...) with a request as a dict or
        JSON text (proto3 JSON; snake_case or lowerCamel names), and returns the response as a
        dict in the REST API's form. Raises ApiError when the Clarifai status is not SUCCESS."""
        outcome = self._invoke(self._lib.clarifai_call, method.encode(), _request_text(request))
        return self._finish(outcome, lambda r: _json.loads(self._lib.clarifai_response_json(r)))

    def call_proto(self, method: str, request: Union[bytes, Any] = b"") -> bytes:
        """Calls a V2 method with a serialized protobuf request (bytes, or a message with
        SerializeToString) and returns the serialized response."""
        data = request if isinstance(request, (bytes, bytearray, memoryview)) else request.SerializeToString()
        data = bytes(data)
        outcome = self._invoke(self._lib.clarifai_call_proto, method.encode(), data, len(data))
        return self._finish(outcome, _response_proto)

    def predict(self, model_id: str, *, url: Optional[str] = None, bytes: Optional[Union[bytes, bytearray]] = None,
                file: Optional[PathLike] = None, text: Optional[str] = None,
                inputs: Optional[Sequence[Union[Input, Mapping[str, Any]]]] = None,
                version_id: Optional[str] = None) -> Prediction:
        """Runs a model (PostModelOutputs) on one image by `url`, `bytes` or `file`, one `text`,
        or a list of `inputs` (Input objects or dicts of their fields; more than 128 are sent in
        several requests and merged). Raises ApiError when the status is not SUCCESS (e.g.
        10010 MIXED_STATUS: some inputs failed); its `prediction` has what did succeed, its
        `json` each output's status."""
        given = [name for name, value in (("url", url), ("bytes", bytes), ("file", file), ("text", text),
                                          ("inputs", inputs)) if value is not None]
        if len(given) != 1:
            raise InvalidArgumentError("predict: give exactly one of url=, bytes=, file=, text=, inputs="
                                       + (f" (got {', '.join(given)})" if given else ""))
        lib, model, version = self._lib, model_id.encode(), _enc(version_id)
        if url is not None:
            outcome = self._invoke(lib.clarifai_predict_url, model, version, url.encode())
        elif bytes is not None:
            data = bytes if isinstance(bytes, type(b"")) else type(b"")(bytes)
            outcome = self._invoke(lib.clarifai_predict_bytes, model, version, data, len(data))
        elif file is not None:
            outcome = self._invoke(lib.clarifai_predict_file, model, version, _enc(os.fspath(file)))
        elif text is not None:
            outcome = self._invoke(lib.clarifai_predict_text, model, version, text.encode())
        else:
            assert inputs is not None
            items = [i if isinstance(i, Input) else Input(**i) for i in inputs]
            array = (InputStruct * max(1, len(items)))()
            keep = []  # the buffers must outlive the call
            for slot, item in zip(array, items):
                slot.kind = item._kind()
                slot.url, slot.text, slot.id = _enc(item.url), _enc(item.text), _enc(item.id)
                if item.data is not None:
                    data = item.data if isinstance(item.data, type(b"")) else type(b"")(item.data)
                    keep.append(data)  # immutable: its buffer is passed without a copy
                    slot.data = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
                    slot.data_len = len(data)
            outcome = self._invoke(lib.clarifai_predict, model, version, array, len(items))
            del keep
        return self._finish(outcome, _read_prediction, prediction=True)

    def stream(self, method: str, request: Request = None, *, buffer: int = 64) -> "Stream[Dict[str, Any]]":
        """Calls a server-streaming method (GenerateModelOutputs, StreamLogEntries, ...; gRPC
        channels only) and returns an iterator of its messages as dicts. The call runs in a
        background thread that keeps at most `buffer` messages ahead of you. Leaving the loop
        early (break, close(), the iterator collected) cancels the call on the server. Messages
        with a failed Clarifai status are delivered like any other; a failed call raises from
        the iteration (UnsupportedError on the REST channel)."""
        return Stream(self, method, _request_text(request), lambda text: _json.loads(text),
                      _message_json, buffer)

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Frees the client (once calls in flight on other threads finish). Idempotent."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<libclarifai.Client {self.channel.kind} user_id={self.user_id!r} app_id={self.app_id!r}"
                f"{' closed' if self.closed else ''}>")


# ---------------------------------------------------------------------------------------------
# Streams


def _message_json(message: int) -> bytes:
    return load_library().clarifai_response_json(message) or b"{}"


def _message_proto(message: int) -> bytes:
    return _response_proto(message)


class _StreamWorker:
    """Runs clarifai_call_stream in a daemon thread and hands the messages over through a bounded
    buffer. The callback returns non-zero (the C call cancels the stream) once cancel() was
    called. Holds no reference to the consumer's iterator, so dropping that iterator cancels."""

    def __init__(self, client: Client, method: str, request: Optional[bytes],
                 extract: Callable[[int], bytes], buffer: int) -> None:
        if buffer < 1:
            raise InvalidArgumentError("buffer: at least 1 message")
        self._lib = client._lib
        self._extract = extract
        self._limit = buffer
        self._cond = threading.Condition()
        self._items: Deque[bytes] = deque()
        self.cancelled = False
        self.done = False
        self.code: int = ErrorCode.OK
        self.message = ""
        self.failure: Optional[BaseException] = None
        self._callback = STREAM_FN(self._on_message)
        self._client = client
        pointer = client._handle.acquire()  # a closed client fails here, in the caller's thread
        self._thread = threading.Thread(target=self._run, args=(pointer, method.encode(), request),
                                        name=f"libclarifai-stream-{method}", daemon=True)
        try:
            self._thread.start()
        except BaseException:
            client._handle.release()
            raise

    def _on_message(self, message: int, _userdata: int) -> int:
        try:
            if self.cancelled:
                return 1
            item = self._extract(message)
            with self._cond:
                while len(self._items) >= self._limit and not self.cancelled:
                    self._cond.wait()
                if self.cancelled:
                    return 1
                self._items.append(item)
                self._cond.notify_all()
            return 0
        except BaseException as error:  # never let an exception cross the C frame
            self.failure = error
            return 1

    def _run(self, pointer: int, method: bytes, request: Optional[bytes]) -> None:
        code, message = int(ErrorCode.INTERNAL), ""
        try:
            code = self._lib.clarifai_call_stream(pointer, method, request, self._callback, None)
            message = _last_error() if code else ""
        except BaseException as error:
            self.failure = error
        finally:
            self._client._handle.release()
            with self._cond:
                self.code, self.message, self.done = code, message, True
                self._cond.notify_all()

    def next_item(self) -> Optional[bytes]:
        """The next message, or None at the end. Raises what ended the call, if not OK and not
        our own cancellation."""
        with self._cond:
            while not self._items and not self.done:
                self._cond.wait()
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
        if self.failure is not None:
            raise self.failure
        if self.code == ErrorCode.OK or (self.code == ErrorCode.CANCELLED and self.cancelled):
            return None
        raise _fail(self.code, self.message)

    def cancel(self) -> None:
        with self._cond:
            self.cancelled = True
            self._items.clear()
            self._cond.notify_all()

    def join(self, timeout: Optional[float] = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


class Stream(Iterator[T], Generic[T]):
    """The messages of a server-streaming call, in order. Iterating past the last one ends the
    iteration; close() (also on `with` exit, on break once the iterator is dropped, and on
    garbage collection) cancels the call: the server sees the cancellation at the next message."""

    def __init__(self, client: Client, method: str, request: Optional[bytes], convert: Callable[[bytes], T],
                 extract: Callable[[int], bytes], buffer: int = 64) -> None:
        self._worker = _StreamWorker(client, method, request, extract, buffer)
        self._convert = convert
        self._closed = False
        self._finalizer = weakref.finalize(self, self._worker.cancel)

    def __iter__(self) -> "Stream[T]":
        return self

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        try:
            item = self._worker.next_item()
        except BaseException:
            self._closed = True
            raise
        if item is None:
            self._closed = True
            raise StopIteration
        return self._convert(item)

    def close(self) -> None:
        """Stops the stream; the C call returns (cancelled) when the next message arrives."""
        self._closed = True
        self._finalizer()

    cancel = close

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits for the background call to return; True once it has."""
        return self._worker.join(timeout)

    def __enter__(self) -> "Stream[T]":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
