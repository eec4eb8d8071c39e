"""Channels, clients, predictions and streams over the C API."""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import enum
import json as _json
import math
import operator
import os
import stat
import struct
import threading
import weakref
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import (Any, Callable, Deque, Dict, Generic, Iterable, Iterator, List, Mapping, NamedTuple, Optional,
                    Sequence, Tuple, TypeVar, Union, cast)

from ._native import (INPUT_FN, PROGRESS_FN, REQUEST_ID_PREFIX, RESULT_FN, STREAM_FN, UPLOAD_INPUT_FN, UPLOAD_RESULT_FN,
                      BulkProgressStruct, InputStruct, RegionStruct, ResourceIdsStruct, load_library)
from .errors import ApiError, ClarifaiError, ErrorCode, InvalidArgumentError, Metadata, ProtocolError, error_class

try:
    from . import _speedups  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler or Python's headers: the pure-Python way
    _speedups = None

__all__ = [
    "Channel", "Client", "Concept", "BoundingBox", "Region", "Output", "Prediction", "Input", "InputKind",
    "Stream", "BidiStream", "BulkProgress", "json_to_proto", "proto_to_json", "version", "api_version", "methods",
]

#: A request: a dict (sent as JSON), a JSON text, or None for an empty request.
Request = Union[Mapping[str, Any], str, bytes, None]
PathLike = Union[str, "os.PathLike[str]"]
Bytes = Union[bytes, bytearray, memoryview]
#: The largest value of a C long: longer times are capped to it (the library caps them further).
_LONG_MAX: int = 2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1) - 1
T = TypeVar("T")
_OwnerT = TypeVar("_OwnerT", bound="_Owner")


# ---------------------------------------------------------------------------------------------
# Small helpers


def _enc(text: Optional[str]) -> Optional[bytes]:
    return None if text is None else os.fsencode(text) if isinstance(text, os.PathLike) else text.encode()


def _dec(raw: Optional[bytes]) -> str:
    return "" if raw is None else raw.decode("utf-8", "replace")


class _Failure(NamedTuple):
    """What the library told of a failed call (clarifai_last_error_*)."""
    code: int
    message: str
    http_status: int
    grpc_status: int
    transient: bool
    metadata: Metadata

    def error(self, **fields: Any) -> ClarifaiError:
        """The exception of the failure's code; `fields` are ApiError's."""
        return error_class(self.code)(self.message, self.code, http_status=self.http_status,
                                      grpc_status=self.grpc_status, transient=self.transient, metadata=self.metadata,
                                      **fields)


def _metadata(count: int, field: Callable[..., int]) -> Metadata:
    """`count` fields of metadata, each read by field(index, &name, &value, &trailing)."""
    fields = []
    for index in range(count):
        name, value, trailing = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_int()
        if field(index, ctypes.byref(name), ctypes.byref(value), ctypes.byref(trailing)) == ErrorCode.OK:
            fields.append((_dec(name.value), _dec(value.value), bool(trailing.value)))
    return tuple(fields)


def _response_metadata(response: int) -> Metadata:
    lib = load_library()
    return _metadata(lib.clarifai_response_metadata_count(response),
                     lambda *out: lib.clarifai_response_metadata(response, *out))


def _last_failure() -> _Failure:
    """The calling thread's last failure. Read it right after the call that failed: the thread's
    next call into the library replaces it."""
    lib = load_library()
    return _Failure(lib.clarifai_last_error_code(), _dec(lib.clarifai_last_error()),
                    lib.clarifai_last_error_http_status(), lib.clarifai_last_error_grpc_status(),
                    bool(lib.clarifai_last_error_transient()),
                    _metadata(lib.clarifai_last_error_metadata_count(), lib.clarifai_last_error_metadata))


def _check(code: int) -> None:
    if code:
        raise _last_failure().error()


def _created(pointer: Optional[int]) -> int:
    """A constructor's handle, or its failure raised when it returned NULL."""
    if not pointer:
        raise _last_failure().error()
    return pointer


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


_FLOAT32 = struct.Struct("f")


def _f32(value: float) -> float:
    """A C float as the shortest decimal that reads back to the same float, like the REST JSON
    (0.87 rather than 0.8700000047683716)."""
    if not math.isfinite(value):
        return value
    pack, unpack = _FLOAT32.pack, _FLOAT32.unpack
    for digits in ("%.6g", "%.7g", "%.8g"):
        short = float(digits % value)
        if unpack(pack(short))[0] == value:
            return short
    return float("%.9g" % value)  # 9 digits always read back


def _milliseconds(seconds: float, what: str) -> int:
    """Seconds as the library's milliseconds: math.inf as 0 (none); any other time as at least
    1 ms, so that 0 s is the shortest time rather than none."""
    if math.isnan(seconds) or seconds < 0:
        raise InvalidArgumentError(f"{what}: {seconds!r} is not a number of seconds >= 0")
    if seconds == math.inf:
        return 0
    return min(_LONG_MAX, max(1, round(seconds * 1000)))


def _as_bytes(data: Bytes) -> bytes:
    return data if isinstance(data, bytes) else bytes(data)


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
                raise InvalidArgumentError(f"the {self._what} is closed")
            self._users += 1
            return self._pointer

    @contextlib.contextmanager
    def held(self) -> Iterator[int]:
        """The pointer, acquired for the block."""
        pointer = self.acquire()
        try:
            yield pointer
        finally:
            self.release()

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


class ResourceIds(NamedTuple):
    """The ids a clarifai.com URL names (parse_resource_url)."""

    user_id: str
    app_id: str
    #: "models", "workflows", ...; None for an app's URL
    resource_type: Optional[str]
    resource_id: Optional[str]
    #: None unless the URL names a version
    version_id: Optional[str]


def parse_resource_url(url: str) -> ResourceIds:
    """The ids of https://HOST/{user_id}/{app_id}[/{type}/{id}[/{version_type}/{version_id}]], as
    the official SDK reads them (e.g. a model's page URL copied from the browser);
    InvalidArgumentError for any other form."""
    encoded = url.encode()
    ids, buffer = ResourceIdsStruct(), ctypes.create_string_buffer(len(encoded) + 1)
    _check(load_library().clarifai_parse_resource_url(encoded, ctypes.byref(ids), buffer, len(buffer)))
    optional = [None if part is None else part.decode() for part in (ids.resource_type, ids.resource_id, ids.version_id)]
    return ResourceIds(ids.user_id.decode(), ids.app_id.decode(), *optional)


def json_to_proto(message_type: str, message: Union[Mapping[str, Any], str, bytes]) -> bytes:
    """proto3 JSON (a dict or its text) -> protobuf binary of `message_type`, a full name such as
    "clarifai.api.ListConceptsRequest". InvalidArgumentError names the field that is wrong."""
    lib = load_library()
    out, length = ctypes.c_void_p(), ctypes.c_size_t()
    _check(lib.clarifai_json_to_proto(message_type.encode(), _request_text(message) or b"{}",
                                      ctypes.byref(out), ctypes.byref(length)))
    try:
        return ctypes.string_at(out, length.value) if length.value else b""
    finally:
        lib.clarifai_free(out.value)


def _proto_to_json_text(message_type: str, data: bytes) -> bytes:
    lib = load_library()
    out = ctypes.c_void_p()
    _check(lib.clarifai_proto_to_json(message_type.encode(), bytes(data), len(data), ctypes.byref(out)))
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


class _Owner:
    """The lifetime of an object that owns a C handle (`_handle`, freed by `_finalizer`, which
    also runs when the object is collected): close() (idempotent), closed, and `with`."""

    _handle: _Handle
    _finalizer: Callable[[], Any]

    def close(self) -> None:
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self: _OwnerT) -> _OwnerT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Channel(_Owner):
    """Where and how requests travel: `Channel.json()` (REST), `Channel.grpc()` (TLS),
    `Channel.grpc_insecure()` (cleartext HTTP/2). Thread-safe; a context manager. Clients keep
    the channel they were made from alive, so it may be closed as soon as they exist.

    Options (None leaves the library's default):
    timeout: seconds per call, covering connect, send, receive and retries (default none).
    idle_timeout: seconds a unary call may go without its transfer moving (under 16 bytes/s)
        before it fails with ClarifaiTimeoutError (default 120; math.inf turns it off).
    max_receive_bytes: the largest answer accepted, once decompressed (default 1 GiB).
    max_retries: tries after a transient failure (default 4; 0 to 100).
    connections: gRPC: HTTP/2 connections concurrent calls are spread over, 1 to 64 (default: as
        calls need them, up to 8; one for calls made one after another): one connection's work
        is done by one thread at a time, so more let more cores work.
    ca_file: a PEM file of CA certificates to trust instead of the system store."""

    KINDS = ("json", "grpc", "grpc_insecure")

    def __init__(self, kind: str = "json", address: Optional[str] = None, *, timeout: Optional[float] = None,
                 idle_timeout: Optional[float] = None, max_receive_bytes: Optional[int] = None,
                 max_retries: Optional[int] = None, connections: Optional[int] = None,
                 ca_file: Optional[PathLike] = None) -> None:
        if kind not in self.KINDS:
            raise InvalidArgumentError(f"channel kind {kind!r}: one of {', '.join(self.KINDS)}")
        if max_receive_bytes is not None and max_receive_bytes < 0:  # ctypes would wrap it to a huge size_t
            raise InvalidArgumentError(f"max_receive_bytes: {max_receive_bytes} is negative")
        lib = load_library()
        pointer = _created(getattr(lib, f"clarifai_channel_new_{kind}")(_enc(address)))
        self._handle = _Handle(pointer, lib.clarifai_channel_free, "channel")
        self._finalizer = weakref.finalize(self, self._handle.close)
        self.kind, self.address = kind, address
        try:
            if timeout is not None:
                _check(lib.clarifai_channel_set_timeout_ms(pointer, _milliseconds(timeout, "timeout")))
            if idle_timeout is not None:
                _check(lib.clarifai_channel_set_idle_timeout_ms(pointer, _milliseconds(idle_timeout, "idle_timeout")))
            if max_receive_bytes is not None:
                _check(lib.clarifai_channel_set_max_receive_bytes(pointer, max_receive_bytes))
            if max_retries is not None:
                _check(lib.clarifai_channel_set_max_retries(pointer, max_retries))
            if connections is not None:
                _check(lib.clarifai_channel_set_connections(pointer, connections))
            if ca_file is not None:
                _check(lib.clarifai_channel_set_ca_file(pointer, _enc(os.fspath(ca_file))))
        except BaseException:
            self.close()
            raise

    @classmethod
    def json(cls, base_url: Optional[str] = None, **options: Any) -> "Channel":
        """REST (HTTP + JSON). base_url "http[s]://host[:port]"; None means $CLARIFAI_API_BASE,
        else https://api.clarifai.com. Options as Channel's."""
        return cls("json", base_url, **options)

    @classmethod
    def grpc(cls, target: Optional[str] = None, **options: Any) -> "Channel":
        """gRPC over TLS. target "host[:port]" (port 443 when absent); None means
        $CLARIFAI_GRPC_BASE, else api.clarifai.com. Options as Channel's."""
        return cls("grpc", target, **options)

    @classmethod
    def grpc_insecure(cls, target: Optional[str] = None, **options: Any) -> "Channel":
        """gRPC over cleartext HTTP/2 (local servers, proxies). target "host[:port]" (port 18080
        when absent); None means $CLARIFAI_GRPC_BASE. Options as Channel's."""
        return cls("grpc_insecure", target, **options)

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<libclarifai.Channel {self.kind} {self.address or '(from the environment)'}{state}>"


class InputKind(enum.IntEnum):
    """clarifai_input_kind."""
    IMAGE = 0
    TEXT = 1
    VIDEO = 2
    AUDIO = 3


@dataclass(frozen=True, init=False)
class Input:
    """One input of a prediction: exactly one of url, data (raw bytes) or text. `kind` defaults
    to TEXT for text and IMAGE otherwise; `id` lets you name the input."""
    url: Optional[str] = None
    data: Optional[bytes] = None
    text: Optional[str] = None
    kind: Union[InputKind, str, None] = None
    id: Optional[str] = None

    def __init__(self, url: Optional[str] = None, data: Optional[bytes] = None, text: Optional[str] = None,
                 kind: Union[InputKind, str, None] = None, id: Optional[str] = None) -> None:
        # Stored in the instance's dict: the generated __init__ of a frozen dataclass sets each
        # field through object.__setattr__ (2.4 us an input, this 1.4, and a batch makes hundreds).
        fields = self.__dict__
        fields["url"], fields["data"], fields["text"], fields["kind"], fields["id"] = url, data, text, kind, id

    def _kind(self) -> InputKind:
        if self.kind is None:
            return InputKind.TEXT if self.text is not None else InputKind.IMAGE
        if isinstance(self.kind, str):
            try:
                return InputKind[self.kind.upper()]
            except KeyError:
                raise InvalidArgumentError(f"input kind {self.kind!r}: one of image, text, video, audio") from None
        return InputKind(self.kind)


def _compared_as_tuples(compare: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A comparison of a Concept with another or with a tuple, as the tuples of their fields."""
    def method(self: Any, other: Any) -> Any:
        theirs = other._tuple() if isinstance(other, _PythonConcept) else other if isinstance(other, tuple) else None
        return NotImplemented if theirs is None else compare(self._tuple(), theirs)
    return method


class Concept:
    """A concept of an output or region: immutable, its fields read by name or as a named tuple's
    (index, unpacking, _asdict, _replace), compared and hashed as the tuple of them (and equal to
    that tuple), pickled. The id, name and app_id are kept as str, the value as float.

    The accelerator has the same type in C (used instead of this class when it was built): made
    hundreds per call, a concept there holds nothing the garbage collector must watch."""
    __slots__ = ("id", "name", "value", "app_id")
    _fields = ("id", "name", "value", "app_id")
    __match_args__ = _fields
    id: str
    name: str
    value: float
    app_id: str

    def __init__(self, id: str, name: str, value: float, app_id: str) -> None:
        for field, given in zip(self._fields, (id, name, value, app_id)):
            object.__setattr__(self, field, _concept_field(field, given))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("readonly attribute")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("readonly attribute")

    def _tuple(self) -> Tuple[str, str, float, str]:
        return self.id, self.name, self.value, self.app_id

    __eq__ = _compared_as_tuples(operator.eq)
    __ne__ = _compared_as_tuples(operator.ne)
    __lt__ = _compared_as_tuples(operator.lt)
    __le__ = _compared_as_tuples(operator.le)
    __gt__ = _compared_as_tuples(operator.gt)
    __ge__ = _compared_as_tuples(operator.ge)

    def __hash__(self) -> int:
        return hash(self._tuple())

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: Any) -> Any:
        return self._tuple()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._tuple())

    def __contains__(self, item: Any) -> bool:
        return item in self._tuple()

    def __repr__(self) -> str:
        return f"Concept(id={self.id!r}, name={self.name!r}, value={self.value!r}, app_id={self.app_id!r})"

    def __reduce__(self) -> Tuple[Any, Tuple[str, str, float, str]]:
        return Concept, self._tuple()

    def _asdict(self) -> Dict[str, Any]:
        return dict(zip(self._fields, self._tuple()))

    def _replace(self, **changes: Any) -> "Concept":
        unexpected = set(changes) - set(self._fields)
        if unexpected:
            raise ValueError(f"Got unexpected field names: {changes!r}")
        return type(self)(*(changes.get(field, given) for field, given in zip(self._fields, self._tuple())))


def _concept_field(field: str, given: Any) -> Any:
    """A field as a concept keeps it (the C type's rule): the value a float, from a float or an
    int; the others a str."""
    if field == "value":
        if isinstance(given, (float, int)):
            return float(given)
        raise TypeError(f"Concept value must be a number, not {type(given).__name__}")
    if isinstance(given, str):
        return str.__str__(given)  # a subclass's characters as a str, whatever its __str__ says
    raise TypeError(f"Concept {field} must be a str, not {type(given).__name__}")


_PythonConcept = Concept
Concept.__module__ = "libclarifai"  # where pickle finds it, as it finds the C type
if _speedups is not None:
    Concept = _speedups.Concept  # type: ignore[misc]  # noqa: F811


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


@dataclass(frozen=True, init=False)
class Output:
    """One output of a prediction (one per input, in input order)."""
    concepts: List[Concept]
    regions: List[Region]
    text: Optional[str]
    embedding: Optional[List[float]]

    def __init__(self, concepts: List[Concept], regions: List[Region], text: Optional[str],
                 embedding: Optional[List[float]]) -> None:
        # As Input's: a batch's answer makes one per input (0.46 us each through the generated
        # frozen __init__, 0.2 this way).
        fields = self.__dict__
        fields["concepts"], fields["regions"], fields["text"], fields["embedding"] = concepts, regions, text, embedding


class _Answer:
    """A prediction's response as protobuf binary, made on first use: the C response is held
    until then (a REST answer is converted to protobuf only when asked for). Copies and pickles
    carry the bytes."""
    __slots__ = ("_response", "_proto", "_free", "_lock")

    def __init__(self, response: int, proto: Optional[bytes] = None) -> None:
        self._response = response
        self._proto = proto
        self._free = load_library().clarifai_response_free
        self._lock = threading.Lock()  # the GIL is let go during the conversion

    @classmethod
    def of(cls, proto: bytes) -> _Answer:
        return cls(0, proto)

    def proto(self) -> bytes:
        """The bytes (ProtocolError when the server's answer does not read as the response type;
        the response is kept, and asking again fails again)."""
        with self._lock:
            if self._proto is None:
                self._proto = _response_proto(self._response)
                self._free(self._response)
                self._response = 0
            return self._proto

    def __reduce__(self) -> Tuple[Any, Tuple[bytes]]:
        return _Answer.of, (self.proto(),)

    def __del__(self) -> None:
        if self._response:
            self._free(self._response)


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
    _answer: _Answer = field(repr=False, compare=False)

    @property
    def proto(self) -> bytes:
        """The response as protobuf binary (clarifai.api.MultiOutputResponse), made on first use
        since 1.1: a REST answer is read as far as its outputs otherwise. ProtocolError when the
        rest of the server's answer does not read as one (its outputs were read all the same)."""
        return self._answer.proto()

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
    def json_text(self) -> str:
        """The response as JSON in the REST API's form, written on first use (ProtocolError for a
        message that has none, e.g. a timestamp past year 9999: its outputs are read all the same)."""
        try:
            return _dec(_proto_to_json_text(_PREDICTION_TYPE, self.proto))
        except InvalidArgumentError as error:  # the server's message, not the caller's
            raise ProtocolError(f"the answer has no JSON form: {error.message}", ErrorCode.PROTOCOL) from None

    @cached_property
    def json(self) -> Dict[str, Any]:
        result: Dict[str, Any] = _json.loads(self.json_text)
        return result


_PREDICTION_TYPE = "clarifai.api.MultiOutputResponse"


def _concepts(array: Any, count: int) -> List[Concept]:
    return [Concept(_dec(c.id), _dec(c.name), _f32(c.value), _dec(c.app_id)) for c in array[:count]] if count else []


def _response_json(response: int) -> bytes:
    """The response as JSON text. The library has none for a message without a JSON form (a
    timestamp past year 9999 from a gRPC server): its failure (PROTOCOL) is raised then."""
    text: Optional[bytes] = load_library().clarifai_response_json(response)
    if text is None:
        raise _last_failure().error()
    return text


def _response_dict(response: int) -> Dict[str, Any]:
    result: Dict[str, Any] = _json.loads(_response_json(response))
    return result


def _read_prediction(response: int, answer: Optional[_Answer] = None) -> Prediction:
    """Everything of a PostModelOutputs response. Every output's concepts come from one block of
    text the library writes (one call and one decode for all of them, values already in their
    shortest decimal form); regions, text and embeddings are read for the outputs that have them.
    The protobuf form is `answer`'s (holding the response), else read now."""
    lib = load_library()
    text, length, count = ctypes.c_char_p(), ctypes.c_size_t(), ctypes.c_size_t()
    counts, contents = ctypes.POINTER(ctypes.c_size_t)(), ctypes.POINTER(ctypes.c_ubyte)()
    _check(lib.clarifai_response_outputs_text(response, ctypes.byref(text), ctypes.byref(length), ctypes.byref(count),
                                              ctypes.byref(counts), ctypes.byref(contents)))
    per_output = _output_concepts(_address(text), length.value, _address(counts), count.value)
    outputs = []
    for index, (output_concepts, held) in enumerate(zip(per_output, contents[:count.value])):
        if held:
            outputs.append(Output(output_concepts, *_output_extras(lib, response, index, held)))
        else:
            outputs.append(Output(output_concepts, [], None, None))
    return Prediction(lib.clarifai_response_status_code(response),
                      _dec(lib.clarifai_response_status_description(response)),
                      _dec(lib.clarifai_response_request_id(response)), outputs,
                      _Answer.of(_response_proto(response)) if answer is None else answer)


def _address(pointer: Any) -> int:
    """The address a ctypes pointer (c_char_p, POINTER(T)) holds, read as a number without
    ctypes.cast, which ties the pointer to itself in a reference cycle: two per call for the
    garbage collector, which pushed it into full collections."""
    address: Optional[int] = ctypes.c_void_p.from_address(ctypes.addressof(pointer)).value
    return address or 0


def _output_concepts(text: int, length: int, counts: int, outputs: int) -> List[List[Concept]]:
    """Each output's concepts from clarifai_response_outputs_text's block and counts (their
    addresses): made in C by the accelerator when it was built, else by splitting the text (the
    same objects either way)."""
    if _speedups is None:
        return _split_concepts(text, length, counts, outputs)
    concepts: List[List[Concept]] = _speedups.concepts(text, length, counts, outputs)
    return concepts


def _split_concepts(text: int, length: int, counts: int, outputs: int) -> List[List[Concept]]:
    """_output_concepts without the accelerator."""
    fields = ctypes.string_at(text, length).decode("utf-8", "replace").split("\0") if length else []
    every = list(map(Concept, fields[0::4], fields[1::4], map(float, fields[2::4]), fields[3::4]))
    per_output, start = [], 0
    # Read as bytes: a ctypes array type made per length would be garbage for the collector.
    for count in struct.unpack(f"{outputs}N", ctypes.string_at(counts, outputs * ctypes.sizeof(ctypes.c_size_t))):
        per_output.append(every[start:start + count])
        start += count
    return per_output


_OUTPUT_REGIONS, _OUTPUT_TEXT, _OUTPUT_EMBEDDING = 1, 2, 4  # CLARIFAI_OUTPUT_* of clarifai.h


def _output_extras(lib: Any, response: int, index: int,
                   held: int) -> Tuple[List[Region], Optional[str], Optional[List[float]]]:
    """The regions, text and embedding of output `index`, read where `held` (its
    CLARIFAI_OUTPUT_* bits) says there are some."""
    regions: List[Region] = []
    text: Optional[str] = None
    embedding: Optional[List[float]] = None
    count = ctypes.c_size_t()
    if held & _OUTPUT_REGIONS:
        array = ctypes.POINTER(RegionStruct)()
        _check(lib.clarifai_response_regions(response, index, ctypes.byref(array), ctypes.byref(count)))
        regions = [Region(_dec(r.id), BoundingBox(_f32(r.top_row), _f32(r.left_col), _f32(r.bottom_row), _f32(r.right_col)),
                          _f32(r.value), _concepts(r.concepts, r.concept_count))
                   for r in array[:count.value]]
    if held & _OUTPUT_TEXT:
        raw = lib.clarifai_response_text(response, index)
        text = None if raw is None else _dec(raw)
    if held & _OUTPUT_EMBEDDING:
        vector = ctypes.POINTER(ctypes.c_float)()
        _check(lib.clarifai_response_embedding(response, index, ctypes.byref(vector), ctypes.byref(count)))
        embedding = vector[:count.value] if count.value else None  # exact (widened) float32 values
    return regions, text, embedding


def _api_error(response: int, failure: _Failure, with_prediction: bool) -> ApiError:
    """The ApiError of a call that completed with a Clarifai status other than SUCCESS."""
    lib = load_library()
    text = lib.clarifai_response_json(response)
    error = cast(ApiError, failure.error(
        status_code=lib.clarifai_response_status_code(response),
        description=_dec(lib.clarifai_response_status_description(response)),
        details=_dec(lib.clarifai_response_status_details(response)),
        request_id=_dec(lib.clarifai_response_request_id(response)),
        json=_json.loads(text) if text is not None else {}))  # the status is what matters here
    if with_prediction:
        error.prediction = _read_prediction(response)
    return error


def _response_proto(response: int) -> bytes:
    data, length = ctypes.c_void_p(), ctypes.c_size_t()
    _check(load_library().clarifai_response_proto(response, ctypes.byref(data), ctypes.byref(length)))
    return ctypes.string_at(data, length.value) if length.value else b""


def _one_source(function: str, **sources: Any) -> None:
    given = [name for name, value in sources.items() if value is not None]
    if len(given) != 1:
        raise InvalidArgumentError(f"{function}: give exactly one of url=, data=, file=, text=, inputs="
                                   + (f" (got {', '.join(given)})" if given else ""))


def _input_of(item: Union[str, Bytes, Input, Mapping[str, Any]]) -> Input:
    """An input of predict_many: an Input, a dict of its fields, a URL, or bytes."""
    if isinstance(item, Input):
        return item
    if isinstance(item, str):
        return Input(url=item)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return Input(data=_as_bytes(item))
    return Input(**item)


def _input_array(inputs: Sequence[Union[Input, Mapping[str, Any]]]) -> Tuple[Any, int, List[Any]]:
    """A C array of clarifai_input, its length, and what it points into (which must outlive the
    call). The array is given as its first item, which the functions take as a pointer to it: a
    ctypes array type, made per length, would be garbage for the collector (a type is a cycle)."""
    items = [i if isinstance(i, Input) else Input(**i) for i in inputs]
    made = None if _speedups is None else _speedups.input_array(items, ctypes.sizeof(InputStruct))
    if made is not None:  # the array, and the strings and bytes it points into
        packed, held = made
        return InputStruct.from_buffer(packed), len(items), [packed, held]
    size = ctypes.sizeof(InputStruct)
    packed = bytearray(size * max(1, len(items)))  # zeroed: IMAGE, NULL: only the rest is set
    slots = [InputStruct.from_buffer(packed, index * size) for index in range(max(1, len(items)))]
    buffers: List[Any] = [packed, slots]  # each slot holds the strings set in it
    for slot, item in zip(slots, items):
        kind = item._kind()
        if kind:
            slot.kind = kind
        if item.url is not None:
            slot.url = _enc(item.url)
        if item.text is not None:
            slot.text = _enc(item.text)
        if item.id is not None:
            slot.id = _enc(item.id)
        if item.data is not None:
            buffers.append(_as_bytes(item.data))  # immutable: its buffer is passed without a copy
            slot.data = _address(ctypes.c_char_p(buffers[-1]))
            slot.data_len = len(buffers[-1])
    return slots[0], len(items), buffers


def _read_regular_file(path: PathLike) -> bytes:
    """A file's bytes, refusing what is not a regular file (a FIFO would block the reader)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InvalidArgumentError(f"file {os.fspath(path)!r} is not a regular file")
        return handle.read()


class _Completions:
    """A completion queue whose descriptor an asyncio loop watches: each completion resolves the
    future of its call, on the loop's thread. One per loop (see _completions)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._lib = load_library()
        self._handle = _Handle(_created(self._lib.clarifai_queue_new()), self._lib.clarifai_queue_free, "queue")
        self._futures: Dict[int, Tuple["asyncio.Future[Any]", Callable[[_Outcome], Any]]] = {}
        self._tags = iter(range(1, 2 ** 62))
        with self._handle.held() as pointer:
            self._fd = self._lib.clarifai_queue_fd(pointer)
        loop.add_reader(self._fd, self._drain)

    def start(self, begin: Callable[[int, int], int], finish: Callable[[_Outcome], T]) -> "asyncio.Future[T]":
        """begin(queue, tag) starts a call; finish(outcome) reads its completion. A future
        cancelled before the call completed cancels the call."""
        tag = next(self._tags)
        with self._handle.held() as pointer:
            _check(begin(pointer, tag))
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._futures[tag] = (future, finish)
        future.add_done_callback(lambda done: self._cancel(tag) if done.cancelled() else None)
        return future

    def _cancel(self, tag: int) -> None:
        with self._handle.held() as pointer:
            self._lib.clarifai_queue_cancel(pointer, tag)

    def _drain(self) -> None:
        tag, code, out = ctypes.c_void_p(), ctypes.c_int(), ctypes.c_void_p()
        while True:
            with self._handle.held() as pointer:
                if self._lib.clarifai_queue_next(pointer, 0, ctypes.byref(tag), ctypes.byref(code), ctypes.byref(out)):
                    return
                failure = _last_failure() if code.value else None
            future, finish = self._futures.pop(tag.value or 0)
            if future.done():  # cancelled while the call ran
                self._lib.clarifai_response_free(out.value)
                continue
            try:
                future.set_result(finish((out.value or 0, failure)))
            except BaseException as error:  # the call's failure, raised by finish
                future.set_exception(error)

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        if not loop.is_closed():
            loop.remove_reader(self._fd)
        self._handle.close()


@dataclass(frozen=True)
class UploadResult:
    """One input's outcome of Client.upload_inputs: `error` None when the input is in the app,
    downloaded; `status_code` its Clarifai status (30000 INPUT_DOWNLOAD_SUCCESS, 30002 for a
    download that failed every try; 0 when none came); `tries`: how many times it was sent."""
    index: int
    input_id: str
    error: Optional[ClarifaiError]
    status_code: int
    tries: int


class _Upload:
    """One clarifai_upload_inputs, on the calling thread: the callbacks take the inputs from the
    iterable and collect the outcomes."""

    def __init__(self, inputs: Iterable[Any], on_progress: Optional[Callable[["BulkProgress"], None]]) -> None:
        self._inputs = iter(inputs)
        self._on_progress = on_progress
        self._supplied = 0
        self._current: Tuple[Any, ...] = ()  # what the library reads of the input last supplied
        self._unreadable: Dict[int, ClarifaiError] = {}
        self.failure: Optional[BaseException] = None  # the iterable's, or a callback's, ending the upload
        self.results: List[UploadResult] = []

    def next_input(self, _userdata: int, slot: Any) -> int:
        try:
            item = next(self._inputs)
        except StopIteration:
            return 0
        except BaseException as error:
            self.failure = error
            return -1
        index = self._supplied
        self._supplied += 1
        try:
            fields = dict(item) if isinstance(item, Mapping) else None
            concepts = [_enc(str(c)) for c in (fields.pop("concepts", None) or ())] if fields is not None else []
            metadata = fields.pop("metadata", None) if fields is not None else None
            given = _input_of(fields if fields is not None else item)
            kind = given._kind()
            metadata_json = None if metadata is None else _json.dumps(metadata).encode()
        except (TypeError, ValueError, ClarifaiError) as error:
            # This input alone fails: the library reports an input without data as INVALID_ARGUMENT.
            self._unreadable[index] = InvalidArgumentError(f"upload_inputs: input {index} ({type(item).__name__}): {error}")
            self._current = ()
            return 1
        data = None if given.data is None else _as_bytes(given.data)
        concept_array = (ctypes.c_char_p * max(1, len(concepts)))(*concepts)
        self._current = (_enc(given.url), _enc(given.text), _enc(given.id), data, concept_array, metadata_json)
        upload = slot.contents
        upload.input.kind = kind
        upload.input.url, upload.input.text, upload.input.id = self._current[:3]
        if data is not None:
            upload.input.data = _address(ctypes.c_char_p(data))
            upload.input.data_len = len(data)
        upload.concepts = concept_array  # a pointer to its first item (ctypes.cast would make a cycle)
        upload.concept_count = len(concepts)
        upload.metadata_json = metadata_json
        return 1

    def on_result(self, _userdata: int, index: int, code: int, input_id: Optional[bytes], status: int, tries: int) -> int:
        error = None if code == ErrorCode.OK else (self._unreadable.pop(index, None) or _last_failure().error())
        self.results.append(UploadResult(index, _dec(input_id), error, status, tries))
        return 0

    def on_progress(self, _userdata: int, progress: Any) -> None:
        if self._on_progress is not None:
            counts = progress.contents
            try:
                self._on_progress(BulkProgress(counts.supplied, counts.done, counts.failed, counts.in_flight, counts.rate))
            except BaseException as error:  # raised once the upload returns
                self.failure = self.failure or error


@dataclass(frozen=True)
class BulkProgress:
    """Where a predict_many stands: inputs taken from the iterable, reported (failures
    included), failed, in requests in flight; inputs reported per second since the start."""
    supplied: int
    done: int
    failed: int
    in_flight: int
    rate: float


class _BulkRun:
    """One predict_many: clarifai_predict_many on a background thread, whose callbacks pull the
    inputs from the iterable and put the results in a bounded queue for the caller's generator."""

    _END = object()

    def __init__(self, client: Client, model_id: str, inputs: Iterable[Any], version_id: Optional[str], batch_size: int,
                 concurrency: int, rate: Optional[float], on_progress: Optional[Callable[[BulkProgress], None]],
                 buffer: int) -> None:
        import queue
        for name, value, low, high in (("batch_size", batch_size, 1, 128), ("concurrency", concurrency, 1, 1024)):
            if not isinstance(value, int) or not low <= value <= high:
                raise InvalidArgumentError(f"predict_many: {name} must be {low} to {high}, got {value!r}")
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise InvalidArgumentError(f"predict_many: rate must be a positive number of requests per second, got {rate!r}")
        self._client, self._lib = client, client._lib
        self._inputs = iter(inputs)
        # Results go over in the chunks of one request each (a queue operation per input cost more
        # than reading it); `buffer` inputs at most are held, rounded up to whole requests.
        self._results: Any = queue.Queue(maxsize=max(1, -(-buffer // batch_size)))
        self._chunk: List[Tuple[int, Union[Prediction, ClarifaiError]]] = []
        self._stopping = threading.Event()
        self._input_error: Optional[BaseException] = None
        self._progress_error: Optional[BaseException] = None
        self._on_progress = on_progress
        self._current: Tuple[Any, ...] = ()  # the last input's encoded fields, read by the library before the next
        self._supplied = 0
        self._unreadable: Dict[int, ClarifaiError] = {}  # inputs that are not inputs, by index
        self._callbacks = (INPUT_FN(self._next_input), RESULT_FN(self._on_result), PROGRESS_FN(self._progress))
        arguments = (model_id.encode(), _enc(version_id), batch_size, concurrency, float(rate or 0), *self._callbacks, None)
        self._thread = threading.Thread(target=self._run, args=arguments, name="libclarifai-predict-many", daemon=True)
        self._thread.start()

    def _run(self, *arguments: Any) -> None:
        failure: Optional[_Failure] = None
        try:
            with self._client._handle.held() as pointer:
                if self._lib.clarifai_predict_many(pointer, *arguments):
                    failure = _last_failure()
        finally:
            self._flush()
            self._put((self._END, failure))

    def _put(self, item: Any) -> None:
        """Waits for room, unless the caller went away."""
        import queue
        while not self._stopping.is_set():
            try:
                return self._results.put(item, timeout=0.1)
            except queue.Full:
                continue

    def _next_input(self, _userdata: int, slot: Any) -> int:
        if self._stopping.is_set():
            return -1
        try:
            item = next(self._inputs)
        except StopIteration:
            return 0
        except BaseException as error:  # the iterable's own failure ends the run, and is raised to the caller
            self._input_error = error
            return -1
        index = self._supplied
        self._supplied += 1
        try:
            given = _input_of(item)
            kind = given._kind()
        except (TypeError, ValueError, ClarifaiError) as error:
            # This input alone fails: the library reports an input without a source as INVALID_ARGUMENT,
            # and the result carries this reason instead.
            self._unreadable[index] = InvalidArgumentError(f"predict_many: input {index} ({type(item).__name__}): {error}")
            self._current = ()
            return 1
        data = None if given.data is None else _as_bytes(given.data)
        self._current = (_enc(given.url), _enc(given.text), _enc(given.id), data)
        fields = slot.contents
        fields.kind = kind
        fields.url, fields.text, fields.id = self._current[:3]
        if data is not None:
            fields.data = _address(ctypes.c_char_p(data))
            fields.data_len = len(data)
        return 1

    def _on_result(self, _userdata: int, index: int, code: int, result: Optional[int]) -> int:
        if self._stopping.is_set():
            return 1
        value: Union[Prediction, ClarifaiError]
        if index in self._unreadable:
            value = self._unreadable.pop(index)
        elif code == 0:
            value = _read_prediction(result or 0)
        else:
            failure = _last_failure()
            value = _api_error(result, failure, True) if code == ErrorCode.API and result else failure.error()
        self._chunk.append((index, value))
        return 0

    def _flush(self) -> None:
        """Hands the results of the request that just ended to the caller's side."""
        if self._chunk:
            chunk, self._chunk = self._chunk, []
            self._put(chunk)

    def _progress(self, _userdata: int, progress: Any) -> None:
        self._flush()  # called after each request
        if self._on_progress is None or self._progress_error is not None:
            return
        p = progress.contents
        try:
            self._on_progress(BulkProgress(p.supplied, p.done, p.failed, p.in_flight, p.rate))
        except BaseException as error:  # raised to the caller; the run stops
            self._progress_error = error
            self._stopping.set()

    def results(self) -> Iterator[Tuple[int, Union[Prediction, ClarifaiError]]]:
        while True:
            item = self._results.get()
            if isinstance(item, tuple):  # the end
                break
            yield from item
        failure = item[1]
        for error in (self._input_error, self._progress_error):
            if error is not None:
                raise error
        if failure is not None:
            raise failure.error()

    def stop(self) -> None:
        """Cancels what is in flight (when the caller left early) and waits for the thread."""
        self._stopping.set()
        self._thread.join()


#: The completion queue of each event loop, made by its first asynchronous call.
_loop_completions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Completions]" = weakref.WeakKeyDictionary()


def _completions() -> _Completions:
    loop = asyncio.get_running_loop()
    completions = _loop_completions.get(loop)
    if completions is None:
        completions = _loop_completions[loop] = _Completions(loop)
        weakref.finalize(loop, completions.close, loop)
    return completions


#: What a call left: its response (on OK and API; else 0), and its failure (unless OK).
_Outcome = Tuple[int, Optional[_Failure]]


class Client(_Owner):
    """Who is calling: a token (PAT or app API key; None means $CLARIFAI_PAT), or a
    `session_token` (sent as x-clarifai-session-token, as the official SDK does), and the user
    and app that fill `user_app_id` in requests that leave it out (None: $CLARIFAI_USER_ID and
    $CLARIFAI_APP_ID; "": none). Thread-safe: any number of threads may call through one client.
    A context manager; close() frees it (after calls in flight finish), and so does garbage
    collection. Every call takes `timeout=` (seconds; math.inf: none), overriding the client's
    deadline for that call; with_options() makes a client with other settings."""

    def __init__(self, channel: Channel, pat: Optional[str] = None, user_id: Optional[str] = None,
                 app_id: Optional[str] = None, *, session_token: Optional[str] = None) -> None:
        if pat is not None and session_token is not None:
            raise InvalidArgumentError("Client: give pat= or session_token=, not both")
        lib = load_library()
        new, credential = ((lib.clarifai_client_new, pat) if session_token is None
                           else (lib.clarifai_client_new_session, session_token))
        with channel._handle.held() as channel_pointer:
            pointer = _created(new(channel_pointer, _enc(credential), _enc(user_id), _enc(app_id)))
        self._adopt(pointer, channel, user_id, app_id)
        self._identify()

    @classmethod
    def from_config(cls, context: Optional[str] = None, *, path: Optional[PathLike] = None,
                    channel: Optional[Channel] = None) -> "Client":
        """A client as a context of the official SDK's config file sets one up
        (libclarifai.config.read_context: ~/.config/clarifai/config, the environment first): its
        CLARIFAI_PAT (else CLARIFAI_SESSION_TOKEN), CLARIFAI_USER_ID and CLARIFAI_APP_ID, on
        `channel`, else on a REST channel to its CLARIFAI_API_BASE."""
        from .config import read_context
        settings = read_context(context, path)
        pat, session = settings.get("CLARIFAI_PAT"), settings.get("CLARIFAI_SESSION_TOKEN")
        if not pat and not session:
            raise InvalidArgumentError(f"the SDK's config context {context or '(current)'} has no CLARIFAI_PAT "
                                       "or CLARIFAI_SESSION_TOKEN")
        return cls(channel or Channel.json(settings["CLARIFAI_API_BASE"]), pat or None, settings.get("CLARIFAI_USER_ID", ""),
                   settings.get("CLARIFAI_APP_ID", ""), session_token=None if pat else session)

    @classmethod
    def with_authorization(cls, channel: Channel, authorization: Optional[str], user_id: Optional[str] = None,
                           app_id: Optional[str] = None) -> "Client":
        """A client whose calls carry `authorization` as the header's value, exactly as given
        ("Bearer <token>", "Key <pat>"); None: no credential at all (the server answers such
        calls, e.g. CONN_KEY_NOT_FOUND). The credential never comes from the environment."""
        lib = load_library()
        with channel._handle.held() as channel_pointer:
            pointer = _created(lib.clarifai_client_new_authorization(channel_pointer, _enc(authorization), _enc(user_id),
                                                                     _enc(app_id)))
        client = cls.__new__(cls)
        client._adopt(pointer, channel, user_id, app_id)
        client._identify()
        return client

    def _identify(self) -> None:
        """A new client's calls say they come from this package (copies keep what they have)."""
        with self._handle.held() as pointer:
            _check(self._lib.clarifai_client_set_header(pointer, b"x-clarifai-request-id-prefix", REQUEST_ID_PREFIX.encode()))

    def _adopt(self, pointer: int, channel: Channel, user_id: Optional[str], app_id: Optional[str]) -> None:
        self._lib = load_library()
        self._handle = _Handle(pointer, self._lib.clarifai_client_free, "client")
        self._finalizer = weakref.finalize(self, self._handle.close)
        self.channel, self.user_id, self.app_id = channel, user_id, app_id

    def with_options(self, *, timeout: Optional[float] = None, max_retries: Optional[int] = None,
                     headers: Optional[Mapping[str, Optional[str]]] = None) -> "Client":
        """A new client with this one's channel, credential, ids and settings, changed by those
        given (None keeps one): `timeout` seconds per call (math.inf: none) and `max_retries`
        (0 to 100), instead of the channel's; `headers` sent with every call (gRPC metadata or
        HTTP headers; a value None removes one). Cheap, without connections of its own: make one
        per set of settings rather than a Channel. Close it when done, as any client."""
        with self._handle.held() as pointer:
            copy = _created(self._lib.clarifai_client_dup(pointer))
        client = Client.__new__(Client)
        client._adopt(copy, self.channel, self.user_id, self.app_id)
        try:
            if timeout is not None:
                _check(self._lib.clarifai_client_set_timeout_ms(copy, _milliseconds(timeout, "timeout")))
            if max_retries is not None:
                _check(self._lib.clarifai_client_set_max_retries(copy, max_retries))
            for name, value in (headers or {}).items():
                _check(self._lib.clarifai_client_set_header(copy, name.encode(), _enc(value)))
        except BaseException:
            client.close()
            raise
        return client

    # -- plumbing ------------------------------------------------------------------------------

    def _invoke(self, function: Callable[..., int], *args: Any, timeout: Optional[float] = None) -> _Outcome:
        """Runs function(client, *args, &response), through a copy of the client with `timeout`
        when one is given."""
        if timeout is not None:
            with self.with_options(timeout=timeout) as timed:
                return timed._invoke(function, *args)
        out = ctypes.c_void_p()
        pointer = self._handle.acquire()  # not held(): a generator's context costs 4 µs a call
        try:
            code = function(pointer, *args, ctypes.byref(out))
            failure = _last_failure() if code else None
        finally:
            self._handle.release()
        return out.value or 0, failure

    def _finish(self, outcome: _Outcome, read: Callable[[int], T]) -> T:
        """read(response) after a success; else the failure raised (ApiError with the response's
        status). Frees the response."""
        response, failure = outcome
        try:
            if failure is None:
                return read(response)
            raise self._failure_error(outcome, with_prediction=False)
        finally:
            self._lib.clarifai_response_free(response)

    def _finish_prediction(self, outcome: _Outcome) -> Prediction:
        """The prediction of a success, which holds the response (its protobuf form is made from it
        on first use); else the failure raised (ApiError with the response's status and its
        prediction), the response freed."""
        response, failure = outcome
        if failure is None:
            return _read_prediction(response, _Answer(response))
        try:
            raise self._failure_error(outcome, with_prediction=True)
        finally:
            self._lib.clarifai_response_free(response)

    @staticmethod
    def _failure_error(outcome: _Outcome, with_prediction: bool) -> ClarifaiError:
        response, failure = outcome
        assert failure is not None
        return _api_error(response, failure, with_prediction) if failure.code == ErrorCode.API else failure.error()

    def _call_proto_answer(self, method: str, request: bytes) -> Tuple[bytes, Metadata]:
        """For the gRPC stub, to which a Clarifai status other than SUCCESS is an answer as any
        other: the serialized response on OK and API, and the server's metadata."""
        return self._proto_answer(self._invoke(self._lib.clarifai_call_proto, method.encode(), request, len(request)))

    def _proto_answer(self, outcome: _Outcome) -> Tuple[bytes, Metadata]:
        """The serialized response of a call on OK and API, with its metadata; else its failure
        raised. Frees it."""
        response, failure = outcome
        try:
            if failure is not None and failure.code != ErrorCode.API:
                raise failure.error()
            return _response_proto(response), _response_metadata(response)
        finally:
            self._lib.clarifai_response_free(response)

    # -- calls ---------------------------------------------------------------------------------

    def call(self, method: str, request: Request = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Calls any V2 method ("ListConcepts", "PostInputs", ...) with a request as a dict or
        JSON text (proto3 JSON; snake_case or lowerCamel names), and returns the response as a
        dict in the REST API's form. Raises ApiError when the Clarifai status is not SUCCESS,
        ProtocolError for a response without a JSON form."""
        outcome = self._invoke(self._lib.clarifai_call, method.encode(), _request_text(request), timeout=timeout)
        return self._finish(outcome, _response_dict)

    def call_proto(self, method: str, request: Union[bytes, Any] = b"", *, timeout: Optional[float] = None) -> bytes:
        """Calls a V2 method with a serialized protobuf request (bytes, or a message with
        SerializeToString) and returns the serialized response."""
        data = _as_bytes(request) if isinstance(request, (bytes, bytearray, memoryview)) else request.SerializeToString()
        outcome = self._invoke(self._lib.clarifai_call_proto, method.encode(), data, len(data), timeout=timeout)
        return self._finish(outcome, _response_proto)

    def predict(self, model_id: str, *, url: Optional[str] = None, data: Optional[Bytes] = None,
                file: Optional[PathLike] = None, text: Optional[str] = None,
                inputs: Optional[Sequence[Union[Input, Mapping[str, Any]]]] = None,
                version_id: Optional[str] = None, timeout: Optional[float] = None,
                bytes: Optional[Bytes] = None) -> Prediction:
        """Runs a model (PostModelOutputs) on one image by `url`, raw `data` (`bytes=` is the
        same, its name before 1.1) or `file`, one `text`, or a list of `inputs` (Input objects or
        dicts of their fields; more than 128 are sent in several requests and merged). Raises
        ApiError when the status is not SUCCESS (e.g. 10010 MIXED_STATUS: some inputs failed);
        its `prediction` has what did succeed, its `json` each output's status."""
        _one_source("predict", url=url, data=data, bytes=bytes, file=file, text=text, inputs=inputs)
        image = data if data is not None else bytes
        lib = self._lib
        args: Tuple[Any, ...]
        if url is not None:
            function, args = lib.clarifai_predict_url, (url.encode(),)
        elif image is not None:
            raw = _as_bytes(image)
            function, args = lib.clarifai_predict_bytes, (raw, len(raw))
        elif file is not None:
            function, args = lib.clarifai_predict_file, (_enc(os.fspath(file)),)
        elif text is not None:
            function, args = lib.clarifai_predict_text, (text.encode(),)
        else:
            assert inputs is not None
            array, count, _buffers = _input_array(inputs)  # the buffers must outlive the call
            function, args = lib.clarifai_predict, (array, count)
        outcome = self._invoke(function, model_id.encode(), _enc(version_id), *args, timeout=timeout)
        return self._finish_prediction(outcome)

    # -- asyncio -------------------------------------------------------------------------------

    async def acall(self, method: str, request: Request = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """call() for asyncio: the call runs on the channel's I/O thread while the loop goes on
        (no thread per call; the loop watches one descriptor). Cancelling the awaiting task
        cancels the call on the server."""
        text = _request_text(request)
        return await self._start_async(lambda client, queue, tag: self._lib.clarifai_call_async(
            client, method.encode(), text, queue, tag), lambda outcome: self._finish(outcome, _response_dict),
            timeout=timeout)

    async def apredict(self, model_id: str, *, url: Optional[str] = None, data: Optional[Bytes] = None,
                       file: Optional[PathLike] = None, text: Optional[str] = None,
                       inputs: Optional[Sequence[Union[Input, Mapping[str, Any]]]] = None,
                       version_id: Optional[str] = None, timeout: Optional[float] = None) -> Prediction:
        """predict() for asyncio (see acall). A `file` is read when the call starts."""
        _one_source("apredict", url=url, data=data, file=file, text=text, inputs=inputs)
        if inputs is None:
            if file is not None:
                data = _read_regular_file(file)
            inputs = [Input(url=url, data=None if data is None else _as_bytes(data), text=text)]
        array, count, buffers = _input_array(inputs)
        model, version = model_id.encode(), _enc(version_id)
        return await self._start_async(lambda client, queue, tag: self._lib.clarifai_predict_async(
            client, model, version, array, count, queue, tag),
            self._finish_prediction, timeout=timeout)

    async def _acall_proto_answer(self, method: str, request: bytes) -> Tuple[bytes, Metadata]:
        """_call_proto_answer for asyncio (the aio stub channel's calls)."""
        return await self._start_async(lambda client, queue, tag: self._lib.clarifai_call_proto_async(
            client, method.encode(), request, len(request), queue, tag), self._proto_answer)

    def _start_async(self, begin: Callable[[int, int, int], int], finish: Callable[[_Outcome], T], *,
                     timeout: Optional[float] = None) -> "asyncio.Future[T]":
        """Starts begin(client, queue, tag) on the loop's completion queue, whose completion
        finish(outcome) reads, through a copy of the client with `timeout` when one is given (the
        call keeps what it needs of it)."""
        if timeout is not None:
            with self.with_options(timeout=timeout) as timed:
                return timed._start_async(begin, finish)
        with self._handle.held() as pointer:
            return _completions().start(lambda queue, tag: begin(pointer, queue, tag), finish)

    # -- pages ---------------------------------------------------------------------------------

    def paginate(self, method: str, request: Request = None, *, per_page: int = 0) -> Iterator[Dict[str, Any]]:
        """Every page of a List* or Search method ("ListInputs", "PostInputsSearches",
        "StreamInputs", ...) as a dict, one call each, `per_page` items per page (0: the server's
        default). Ends after the first short page or at an empty one (see clarifai_pager_new)."""
        if not isinstance(per_page, int) or not 0 <= per_page < 2 ** 32:
            raise InvalidArgumentError(f"paginate: per_page must be 0 (the server's default) or positive, got {per_page!r}")
        with self._handle.held() as pointer:
            pager = _Handle(_created(self._lib.clarifai_pager_new(pointer, method.encode(), _request_text(request), per_page)),
                            self._lib.clarifai_pager_free, "pager")
        try:
            while True:
                page = ctypes.c_void_p()
                with pager.held() as handle:
                    code = self._lib.clarifai_pager_next(handle, ctypes.byref(page))
                    failure = _last_failure() if code else None
                if failure is None and not page.value:
                    return
                yield self._finish((page.value or 0, failure), _response_dict)
        finally:
            pager.close()

    def iterate(self, method: str, request: Request = None, *, field: Optional[str] = None,
                per_page: int = 0) -> Iterator[Dict[str, Any]]:
        """Every item of every page of `method` (see paginate): the entries of each page's
        `field` ("inputs", "models", "hits", ...; None: its longest list)."""
        for page in self.paginate(method, request, per_page=per_page):
            name = field or max((key for key, value in page.items() if isinstance(value, list)),
                                key=lambda key: len(page[key]), default=None)
            if name is not None:
                yield from page.get(name, [])

    # -- bulk --------------------------------------------------------------------------------

    def predict_many(self, model_id: str, inputs: Iterable[Union[str, Bytes, Input, Mapping[str, Any]]], *,
                     batch_size: int = 32, concurrency: int = 8, rate: Optional[float] = None,
                     on_progress: Optional[Callable[["BulkProgress"], None]] = None, version_id: Optional[str] = None,
                     buffer: int = 1024) -> Iterator[Tuple[int, Union[Prediction, ClarifaiError]]]:
        """Runs a model over every input of `inputs` (URLs, bytes, Input objects or dicts; any
        iterable, taken lazily: a generator over a million lines is fine) and yields (index,
        Prediction) or (index, the input's error) as each request ends, index counting the inputs
        from 0. Requests of `batch_size` inputs (1 to 128), `concurrency` in flight, at most `rate`
        requests per second; a throttling server slows them down by itself, and no input is lost
        or reported twice (see clarifai_predict_many). The work runs in one background thread
        (no thread per request), at most `buffer` results (in whole requests) ahead of you;
        `on_progress` gets a BulkProgress there after each request. Leaving the loop early
        (break, close()) cancels what is in flight."""
        run = _BulkRun(self, model_id, inputs, version_id, batch_size, concurrency, rate, on_progress, buffer)
        try:
            yield from run.results()
        finally:
            run.stop()

    def upload_inputs(self, inputs: Iterable[Union[str, Bytes, Input, Mapping[str, Any]]], *, batch_size: int = 32,
                      concurrency: int = 4, max_retries: int = 2,
                      on_progress: Optional[Callable[["BulkProgress"], None]] = None) -> List[UploadResult]:
        """Adds `inputs` (URLs, bytes, Input objects, or dicts of Input's fields with
        "concepts": [concept ids] and "metadata": {a JSON object}) to the client's app so that
        the upload finishes (see clarifai_upload_inputs): PostInputs batches of `batch_size`,
        `concurrency` at once, each add job followed until done, the inputs whose download failed
        deleted and sent again up to `max_retries` times. An input without an id gets one made
        from its content, so that uploading it again never adds it twice. Returns every input's
        UploadResult, in order; the failed ones have `error`. `on_progress` gets a BulkProgress
        after each round of batch_size x concurrency inputs."""
        for name, value, largest in (("batch_size", batch_size, 128), ("concurrency", concurrency, 64),
                                     ("max_retries", max_retries, 100)):
            if not isinstance(value, int) or not (0 if name == "max_retries" else 1) <= value <= largest:
                raise InvalidArgumentError(f"upload_inputs: {name} {value!r} is out of range (at most {largest})")
        run = _Upload(inputs, on_progress)
        callbacks = (UPLOAD_INPUT_FN(run.next_input), UPLOAD_RESULT_FN(run.on_result), PROGRESS_FN(run.on_progress))
        with self._handle.held() as pointer:
            code = self._lib.clarifai_upload_inputs(pointer, batch_size, concurrency, max_retries, *callbacks, None)
        if run.failure is not None:
            raise run.failure
        if code != ErrorCode.OK:
            raise _last_failure().error()
        return run.results

    def stream(self, method: str, request: Request = None, *, buffer: int = 64,
               timeout: Optional[float] = None) -> "Stream[Dict[str, Any]]":
        """Calls a server-streaming method (GenerateModelOutputs, StreamLogEntries, ...; gRPC
        channels only) and returns an iterator of its messages as dicts. The call runs in a
        background thread that keeps at most `buffer` messages ahead of you. Leaving the loop
        early (break, close(), the iterator collected) cancels the call on the server. Messages
        with a failed Clarifai status are delivered like any other; a failed call raises from
        the iteration (UnsupportedError on the REST channel; ProtocolError at a message without
        a JSON form). `timeout` bounds the whole stream."""
        caller = self if timeout is None else self.with_options(timeout=timeout)
        try:
            return Stream(caller, method, _request_text(request), _json.loads, _response_json, buffer)
        finally:
            if caller is not self:
                caller.close()  # freed once the stream's call is done

    def open_stream(self, method: str, *, timeout: Optional[float] = None) -> "BidiStream":
        """Opens a streaming call of `method` to send requests and receive answers at your own
        pace: the bidirectional methods (StreamModelOutputs, PostModelVersionsUpload, ...) and
        the server-streaming ones (one request). gRPC channels only: UnsupportedError on REST,
        and for a unary method. `timeout` bounds the whole stream."""
        caller = self if timeout is None else self.with_options(timeout=timeout)
        try:
            return BidiStream(caller, method)
        finally:
            if caller is not self:
                caller.close()  # freed once the stream is

    def __repr__(self) -> str:
        return (f"<libclarifai.Client {self.channel.kind} user_id={self.user_id!r} app_id={self.app_id!r}"
                f"{' closed' if self.closed else ''}>")


# ---------------------------------------------------------------------------------------------
# Streams


class _StreamWorker:
    """Runs clarifai_call_stream in a daemon thread and hands the messages over through a bounded
    buffer. The callback returns non-zero (the C call cancels the stream) once cancel() was
    called, or when reading a message failed. Holds no reference to the consumer's iterator, so
    dropping that iterator cancels."""

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
        #: What ended the call, when not its end or our own cancellation.
        self.error: Optional[BaseException] = None
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
            self.error = error
            return 1

    def _run(self, pointer: int, method: bytes, request: Optional[bytes]) -> None:
        error: Optional[BaseException] = None
        try:
            code = self._lib.clarifai_call_stream(pointer, method, request, self._callback, None)
            if code and not (code == ErrorCode.CANCELLED and self.cancelled):
                error = _last_failure().error()
        except BaseException as raised:
            error = raised
        finally:
            self._client._handle.release()
            with self._cond:
                if self.error is None:  # else the callback's failure cancelled the call
                    self.error = error
                self.done = True
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
        if self.error is not None:
            raise self.error
        return None

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


def _cancel_stream(lib: Any, handle: _Handle) -> None:
    try:
        pointer = handle.acquire()
    except InvalidArgumentError:
        return  # closed: nothing left to cancel
    try:
        lib.clarifai_stream_cancel(pointer)
    finally:
        handle.release()


def _close_stream(lib: Any, handle: _Handle) -> None:
    # The cancel wakes a send or recv waiting in another thread, which would hold the free back.
    _cancel_stream(lib, handle)
    handle.close()


class BidiStream(_Owner):
    """A streaming call both ways (Client.open_stream): send() requests and recv() answers, in
    the same thread or in two (one may send while another receives or iterates). Iterating
    yields the answers as dicts until the stream ends; a failed stream raises the error of its
    code from recv() and from the iteration (CancelledError after cancel()). An answer with a
    failed Clarifai status is delivered like any other. close() (also on `with` exit and on
    garbage collection) cancels the stream if it is still open and frees it."""

    def __init__(self, client: Client, method: str) -> None:
        lib = self._lib = client._lib
        client_pointer = client._handle.acquire()  # the client stays alive until the stream is freed
        try:
            out = ctypes.c_void_p()
            _check(lib.clarifai_stream_open(client_pointer, method.encode(), ctypes.byref(out)))
        except BaseException:
            client._handle.release()
            raise

        def free(pointer: int) -> None:
            lib.clarifai_stream_free(pointer)
            client._handle.release()

        self.method = method
        self._handle = _Handle(cast(int, out.value), free, "stream")
        self._finalizer = weakref.finalize(self, _close_stream, lib, self._handle)

    def send(self, request: Any = None) -> None:
        """Sends one request: a dict or JSON text (proto3 JSON, checked against the schema; None
        for an empty one), or a protobuf message or its serialized bytes. The client's ids fill
        user_app_id as for any call. Waits while the server takes no more (flow control)."""
        args: Tuple[Any, ...]
        if isinstance(request, (bytes, bytearray, memoryview)) or hasattr(request, "SerializeToString"):
            data = request.SerializeToString() if hasattr(request, "SerializeToString") else _as_bytes(request)
            function, args = self._lib.clarifai_stream_send_proto, (data, len(data))
        else:
            function, args = self._lib.clarifai_stream_send, (_request_text(request),)
        with self._handle.held() as pointer:
            _check(function(pointer, *args))

    def close_send(self) -> None:
        """Half-closes: no more requests. Answers keep coming until the server ends the stream."""
        with self._handle.held() as pointer:
            _check(self._lib.clarifai_stream_close_send(pointer))

    def _recv(self, read: Callable[[int], T]) -> Optional[T]:
        out = ctypes.c_void_p()
        with self._handle.held() as pointer:
            _check(self._lib.clarifai_stream_recv(pointer, ctypes.byref(out)))
        if not out.value:
            return None
        try:
            return read(out.value)
        finally:
            self._lib.clarifai_response_free(out.value)

    def recv(self) -> Optional[Dict[str, Any]]:
        """Waits for the next answer: a dict, or None once the stream ended cleanly."""
        return self._recv(_response_dict)

    def recv_proto(self) -> Optional[bytes]:
        """Waits for the next answer: its serialized protobuf message, or None at the clean end."""
        return self._recv(_response_proto)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return self

    def __next__(self) -> Dict[str, Any]:
        answer = self.recv()
        if answer is None:
            raise StopIteration
        return answer

    def cancel(self) -> None:
        """Ends the stream at once, from any thread: the server sees the cancellation, a recv
        waiting raises CancelledError."""
        _cancel_stream(self._lib, self._handle)

    def __repr__(self) -> str:
        return f"<libclarifai.BidiStream {self.method}{' closed' if self.closed else ''}>"
