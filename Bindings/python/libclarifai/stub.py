"""A grpc.Channel look-alike that carries the official clarifai-grpc stub over libclarifai.

    from clarifai_grpc.grpc.api import service_pb2, service_pb2_grpc
    stub = service_pb2_grpc.V2Stub(libclarifai.stub_channel(libclarifai.Channel.grpc()))
    stub.ListConcepts(service_pb2.ListConceptsRequest(...), metadata=(("authorization", "Key " + pat),))

Unary calls pass the serialized request straight to clarifai_call_proto and the serialized
response to the stub's deserializer. Server-streaming calls go through clarifai_call_stream (the
request converted to JSON with the library's schema), each message's protobuf bytes handed to the
deserializer. Bidirectional calls (StreamModelOutputs, PostModelVersionsUpload, ...) open a
clarifai_stream: a thread sends the serialized requests the request iterator yields, then
half-closes, while the caller iterates the answers. The credential comes from each call's
`authorization` metadata (as it is) or `x-clarifai-session-token`, never from the environment; a
call without either goes out without a credential, as over grpcio; other metadata is sent as it
is (clarifai_client_set_header), and the server's comes back (initial_metadata(),
trailing_metadata()). One C client is kept per credential and metadata, with a retry budget of 0
(unary calls, and server-streaming ones until their first answer, retry UNAVAILABLE in Python, as
grpcio's official service config), and one more per distinct timeout. Calls fail with exceptions
that are both the libclarifai error and a grpc.RpcError with code() (the gRPC status the server
sent, else the nearest to the library's code) and details() (the library's message). Needs grpcio
(installed with clarifai-grpc).
"""
from __future__ import annotations

import asyncio
import base64
import collections
import queue
import random
import threading
import time
import weakref
from concurrent import futures
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Type

import grpc
import grpc._channel  # the official SDK refers to grpc._channel._MultiThreadedRendezvous: it must exist

from ._client import (BidiStream, Channel, Client, Stream, _check, _milliseconds, _proto_to_json_text, _response_proto,
                      methods)
from .errors import (CancelledError, ClarifaiError, ClarifaiTimeoutError, ErrorCode, InvalidArgumentError, Metadata,
                     UnsupportedError)

__all__ = ["StubChannel", "stub_channel", "AioStubChannel", "aio_stub_channel", "RpcErrorMixin"]

SERVICE_PREFIX = "/clarifai.api.V2/"
# A failure is never OK: a grpc_status of 0 comes with a Clarifai status (an answer).
_CODES_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode if code is not grpc.StatusCode.OK}
#: The gRPC code of a failure without a gRPC status (REST, no answer, found locally).
_DEFAULT_GRPC_CODES: Dict[int, grpc.StatusCode] = {
    ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.TRANSPORT: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    ErrorCode.PROTOCOL: grpc.StatusCode.INTERNAL,
    ErrorCode.UNSUPPORTED: grpc.StatusCode.UNIMPLEMENTED,
    ErrorCode.CANCELLED: grpc.StatusCode.CANCELLED,
    ErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
    ErrorCode.AUTH: grpc.StatusCode.UNAUTHENTICATED,
}


class _FinishedCall(grpc.Call):  # type: ignore[misc]
    """A grpc.Call that has ended with `_grpc_code` and the server's `metadata` (libclarifai's
    (name, value, trailing) fields): nothing left to cancel."""

    _grpc_code: grpc.StatusCode = grpc.StatusCode.OK
    _grpc_details: str = ""
    metadata: Metadata = ()

    def code(self) -> grpc.StatusCode:
        return self._grpc_code

    def details(self) -> str:
        return self._grpc_details

    def initial_metadata(self) -> Tuple[Tuple[str, str], ...]:
        return _initial(self.metadata)

    def trailing_metadata(self) -> Tuple[Tuple[str, str], ...]:
        return _trailing(self.metadata)

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> Optional[float]:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


def _initial(metadata: Metadata) -> Tuple[Tuple[str, str], ...]:
    return tuple((name, value) for name, value, trailing in metadata if not trailing)


def _trailing(metadata: Metadata) -> Tuple[Tuple[str, str], ...]:
    return tuple((name, value) for name, value, trailing in metadata if trailing)


class RpcErrorMixin(grpc.RpcError, _FinishedCall):  # type: ignore[misc]
    """What makes a libclarifai error also a finished grpc call, like grpcio's own RpcError."""

    _grpc_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def debug_error_string(self) -> str:
        return str(self)


_RPC_CLASSES: Dict[Type[ClarifaiError], Type[ClarifaiError]] = {}


def _rpc_error(error: ClarifaiError, code: Optional[grpc.StatusCode] = None) -> ClarifaiError:
    """`error` as the same libclarifai exception that is also a grpc.RpcError: its code() is
    `code` if given, else the gRPC status the server ended the call with (error.grpc_status),
    else the nearest to the library's code; its details() is the library's message."""
    if isinstance(error, RpcErrorMixin):
        return error
    base = type(error)
    cls = _RPC_CLASSES.get(base)
    if cls is None:
        cls = _RPC_CLASSES.setdefault(base, type("Rpc" + base.__name__, (base, RpcErrorMixin), {
            "__module__": __name__, "__doc__": f"{base.__name__} that is also a grpc.RpcError."}))
    rpc = cls(error.message, error.error_code, http_status=error.http_status, grpc_status=error.grpc_status,
              transient=error.transient, metadata=error.metadata)
    rpc._grpc_code = (code or _CODES_BY_NUMBER.get(error.grpc_status)  # type: ignore[attr-defined]
                      or _DEFAULT_GRPC_CODES.get(error.error_code, grpc.StatusCode.UNKNOWN))
    rpc._grpc_details = error.message  # type: ignore[attr-defined]
    return rpc


#: grpcio's retry policy in the official ClarifaiChannel's service config: UNAVAILABLE only, at
#: most 5 attempts, backoff 10 ms doubling up to 5 s, each pause a random part of it.
_MAX_ATTEMPTS, _INITIAL_BACKOFF, _MAX_BACKOFF, _BACKOFF_MULTIPLIER = 5, 0.01, 5.0, 2.0


class _Retries:
    """The attempts of one unary call under that policy, all within its deadline (a timeout of 0
    or less fails at once, unsent, as grpcio's)."""

    def __init__(self, timeout: Optional[float]) -> None:
        if timeout is not None and timeout <= 0:
            raise _expired()
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.attempt = 0
        self._backoff = _INITIAL_BACKOFF

    def next_attempt(self) -> Optional[float]:
        """Counts an attempt; the time it has (None: no deadline), DEADLINE_EXCEEDED when none is left."""
        self.attempt += 1
        if self.deadline is None:
            return None
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _expired()
        return remaining

    def pause_after(self, error: ClarifaiError) -> Tuple[float, bool]:
        """After a failed attempt: the pause before the next, and whether the deadline passes
        during it (then the call ends with DEADLINE_EXCEEDED after the pause); raises the call's
        RpcError when it is not retried."""
        failure = _rpc_error(error)
        if failure.code() is not grpc.StatusCode.UNAVAILABLE or self.attempt == _MAX_ATTEMPTS:  # type: ignore[attr-defined]
            raise failure from None
        pause = random.uniform(0, self._backoff)
        self._backoff = min(self._backoff * _BACKOFF_MULTIPLIER, _MAX_BACKOFF)
        if self.deadline is not None and time.monotonic() + pause >= self.deadline:
            return max(0.0, self.deadline - time.monotonic()), True
        return pause, False


class _Identity(NamedTuple):
    """Who a call is from, as its metadata says: its credential ("authorization" with the
    header's value, "session" with the token, or "none") and the other metadata (lower-case
    names, sorted), all sent as they are."""

    kind: str
    credential: Optional[str]
    headers: Tuple[Tuple[str, str], ...]


def _text(key: str, value: Any) -> str:
    if key.endswith("-bin"):  # binary metadata goes on the wire base64-encoded, unpadded
        return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode().rstrip("=")
    return value.decode() if isinstance(value, bytes) else str(value)


def _identity(metadata: Optional[Sequence[Tuple[str, Any]]], pat: Optional[str]) -> _Identity:
    """The credential a call's metadata gives (authorization as it is, or
    x-clarifai-session-token), else the stub channel's `pat` ("Key <pat>"), else none; never one
    from the environment. The rest of the metadata is passed on as it is."""
    authorization = session = None
    headers: Dict[str, str] = {}
    for key, value in metadata or ():
        name = key.lower()
        if name == "authorization":
            authorization = _text(name, value)
        elif name == "x-clarifai-session-token":
            session = _text(name, value)
        else:
            headers[name] = _text(name, value)
    extra = tuple(sorted(headers.items()))
    if authorization is not None:
        if session is not None:
            raise _rpc_error(InvalidArgumentError(
                "libclarifai sends one credential: authorization or x-clarifai-session-token, not both"))
        return _Identity("authorization", authorization, extra)
    if session is not None:
        return _Identity("session", session, extra)
    if pat is not None:
        return _Identity("authorization", "Key " + pat, extra)
    return _Identity("none", None, extra)


def _expired() -> ClarifaiError:
    return _rpc_error(ClarifaiTimeoutError("Deadline Exceeded", ErrorCode.TIMEOUT))


def _serialized(serialize: Callable[[Any], bytes], request: Any) -> bytes:
    """grpcio's failure for a request its serializer refuses (e.g. None): INTERNAL, not sent."""
    try:
        return serialize(request)
    except Exception as error:
        raise _rpc_error(ClarifaiError("Exception serializing request!", ErrorCode.INVALID_ARGUMENT),
                         grpc.StatusCode.INTERNAL) from error


def _deserializer(deserializer: Any) -> Callable[[bytes], Any]:
    """The stub passes `wrap_response_deserializer(ResponseClass)`: the class's FromString after
    the official gRPC channel was made, the class itself after its JSON channel. Take both."""
    if deserializer is None:
        return lambda data: data
    if isinstance(deserializer, type) and hasattr(deserializer, "FromString"):
        return deserializer.FromString  # type: ignore[no-any-return]
    return deserializer  # type: ignore[no-any-return]


class _Done(_FinishedCall):
    """The Call half of with_call's answer: a call that completed OK."""

    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata


class _Future(grpc.Future, grpc.Call):  # type: ignore[misc]
    """unary_unary(...).future(): the call running on the stub channel's event loop thread;
    cancel() cancels it on the server while it runs, as grpcio's."""

    def __init__(self, inner: "futures.Future[Any]") -> None:
        self._inner = inner

    def cancel(self) -> bool:
        return self._inner.cancel()

    def cancelled(self) -> bool:
        return self._inner.cancelled()

    def running(self) -> bool:
        return self._inner.running()

    def done(self) -> bool:
        return self._inner.done()

    def result(self, timeout: Optional[float] = None) -> Any:
        try:
            return self._inner.result(timeout)[0]
        except RpcErrorMixin:
            raise  # the call's own failure (a deadline's RpcError is also a TimeoutError)
        except futures.TimeoutError:
            raise grpc.FutureTimeoutError() from None
        except futures.CancelledError:
            raise grpc.FutureCancelledError() from None

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        try:
            return self._inner.exception(timeout)
        except futures.TimeoutError:
            raise grpc.FutureTimeoutError() from None
        except futures.CancelledError:
            raise grpc.FutureCancelledError() from None

    def traceback(self, timeout: Optional[float] = None) -> Any:
        error = self.exception(timeout)
        return error.__traceback__ if error else None

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        self._inner.add_done_callback(lambda _: fn(self))

    def _error(self) -> Optional[Any]:
        if not self._inner.done() or self._inner.cancelled():
            return None
        return self._inner.exception()

    def _metadata(self) -> Metadata:
        """The server's metadata, once the call has ended (grpcio waits for it)."""
        try:
            return self._inner.result()[1]
        except RpcErrorMixin as error:
            return error.metadata
        except futures.CancelledError:
            return ()

    def initial_metadata(self) -> Tuple[Tuple[str, str], ...]:
        return _initial(self._metadata())

    def trailing_metadata(self) -> Tuple[Tuple[str, str], ...]:
        return _trailing(self._metadata())

    def code(self) -> Optional[grpc.StatusCode]:
        if self._inner.cancelled():
            return grpc.StatusCode.CANCELLED
        error = self._error()
        return error.code() if error is not None else grpc.StatusCode.OK if self._inner.done() else None

    def details(self) -> Optional[str]:
        error = self._error()
        return error.details() if error is not None else None

    def is_active(self) -> bool:
        return not self._inner.done()

    def time_remaining(self) -> Optional[float]:
        return None

    def add_callback(self, callback: Callable[[], None]) -> bool:
        self._inner.add_done_callback(lambda _: callback())
        return True


class _UnaryUnary(grpc.UnaryUnaryMultiCallable):  # type: ignore[misc]
    def __init__(self, owner: "StubChannel", method: str, serializer: Any, deserializer: Any) -> None:
        self._owner, self._method = owner, method
        self._serialize = serializer or (lambda request: request)
        self._deserialize = _deserializer(deserializer)

    def _call(self, request: Any, timeout: Optional[float], metadata: Any) -> Tuple[Any, Metadata]:
        """The response and the server's metadata."""
        data = _serialized(self._serialize, request)
        identity = self._owner._identity(metadata)
        retries = _Retries(timeout)
        while True:
            remaining = retries.next_attempt()
            try:
                if retries.attempt == 1 or remaining is None:
                    answer, server_metadata = self._owner._client(identity, timeout)._call_proto_answer(self._method, data)
                else:  # the deadline covers all attempts: a client for what is left of it
                    with self._owner._new_client(identity, remaining) as timed:
                        answer, server_metadata = timed._call_proto_answer(self._method, data)
                return self._deserialize(answer), server_metadata  # a Clarifai failure is an answer, as with grpcio
            except ClarifaiError as error:
                pause, expires = retries.pause_after(error)
            time.sleep(pause)
            if expires:
                raise _expired()

    def __call__(self, request: Any, timeout: Optional[float] = None, metadata: Any = None,
                 credentials: Any = None, wait_for_ready: Any = None, compression: Any = None) -> Any:
        return self._call(request, timeout, metadata)[0]

    def with_call(self, request: Any, timeout: Optional[float] = None, metadata: Any = None,
                  credentials: Any = None, wait_for_ready: Any = None, compression: Any = None) -> Tuple[Any, grpc.Call]:
        response, server_metadata = self._call(request, timeout, metadata)
        return response, _Done(server_metadata)

    def future(self, request: Any, timeout: Optional[float] = None, metadata: Any = None,
               credentials: Any = None, wait_for_ready: Any = None, compression: Any = None) -> _Future:
        asynchronous = _AioUnaryUnary(self._owner, self._method, self._serialize, self._deserialize)
        return _Future(asyncio.run_coroutine_threadsafe(asynchronous._call(request, timeout, metadata), self._owner._loop()))


class _StreamCall(grpc.Call, grpc.Future):  # type: ignore[misc]
    """unary_stream(...)() and stream_stream(...)(): an iterator of response messages that is
    also a grpc.Call and a grpc.Future, like grpcio's (and registered as a virtual subclass of
    grpc._channel._MultiThreadedRendezvous, which the official SDK checks for). `stream`
    iterates the messages, raising RpcErrors, and its close() cancels. cancel() (or dropping it)
    cancels the call; next() then raises an RpcError with code CANCELLED. The Future half
    tells how the call ended once it has (result() is None then, as grpcio's for a stream)."""

    def __init__(self, stream: Iterator[Any], timeout: Optional[float]) -> None:
        self._stream = stream
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._code: Optional[grpc.StatusCode] = None
        self._details: Optional[str] = None
        self._error: Optional[BaseException] = None
        self._ended = threading.Event()
        self._callbacks: List[Callable[[], None]] = []

    def __iter__(self) -> "_StreamCall":
        return self

    def __next__(self) -> Any:
        if self._code == grpc.StatusCode.CANCELLED:
            raise _rpc_error(CancelledError("Locally cancelled by application!"))
        try:
            return next(self._stream)
        except StopIteration:
            self._end(grpc.StatusCode.OK, "")
            raise
        except RpcErrorMixin as error:
            self._end(error.code(), error.details(), error)
            raise

    next = __next__

    def _end(self, code: grpc.StatusCode, details: str, error: Optional[BaseException] = None) -> None:
        if self._code is None:
            self._code, self._details, self._error = code, details, error
            self._ended.set()
            for callback in self._callbacks:
                callback()

    # grpc.Future: how the call ended, once it has (the caller's iteration ends it)

    def cancelled(self) -> bool:
        return self._code == grpc.StatusCode.CANCELLED

    def running(self) -> bool:
        return self._code is None

    def done(self) -> bool:
        return self._code is not None

    def _wait(self, timeout: Optional[float]) -> None:
        if not self._ended.wait(timeout):
            raise grpc.FutureTimeoutError()
        if self.cancelled():
            raise grpc.FutureCancelledError()

    def result(self, timeout: Optional[float] = None) -> None:
        self._wait(timeout)
        if self._error is not None:
            raise self._error
        return None

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        self._wait(timeout)
        return self._error

    def traceback(self, timeout: Optional[float] = None) -> Any:
        error = self.exception(timeout)
        return None if error is None else error.__traceback__

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        if not self.add_callback(lambda: fn(self)):
            fn(self)

    def debug_error_string(self) -> str:
        return "" if self._error is None else str(self._error)

    def cancel(self) -> bool:
        if self._code is not None:
            return False
        self._stream.close()
        self._end(grpc.StatusCode.CANCELLED, "Locally cancelled by application!")
        return True

    def is_active(self) -> bool:
        return self._code is None

    def time_remaining(self) -> Optional[float]:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def add_callback(self, callback: Callable[[], None]) -> bool:
        if self._code is not None:
            return False
        self._callbacks.append(callback)
        return True

    def initial_metadata(self) -> Tuple[Tuple[str, str], ...]:
        return ()

    def trailing_metadata(self) -> Tuple[Tuple[str, str], ...]:
        return ()

    def code(self) -> Optional[grpc.StatusCode]:
        return self._code

    def details(self) -> Optional[str]:
        return self._details


class _UnaryStream(grpc.UnaryStreamMultiCallable):  # type: ignore[misc]
    def __init__(self, owner: "StubChannel", method: str, serializer: Any, deserializer: Any) -> None:
        self._owner, self._method = owner, method
        self._serialize = serializer or (lambda request: request)
        self._deserialize = _deserializer(deserializer)

    def _request_type(self, request: Any) -> str:
        """The method's input type in the official descriptors, else the request's own type."""
        try:
            from clarifai_grpc.grpc.api import service_pb2
            return str(service_pb2.DESCRIPTOR.services_by_name["V2"].methods_by_name[self._method].input_type.full_name)
        except (ImportError, KeyError):
            return str(getattr(getattr(request, "DESCRIPTOR", None), "full_name", ""))

    def __call__(self, request: Any, timeout: Optional[float] = None, metadata: Any = None,
                 credentials: Any = None, wait_for_ready: Any = None, compression: Any = None) -> _StreamCall:
        data = _serialized(self._serialize, request)
        identity = self._owner._identity(metadata)
        if self._owner._channel.kind == "json":
            # Raised at the call, as for streams both ways: a failure at the first next() reads as
            # "retry" to the official SDK's wrapper, which then spins for 45 s.
            raise _rpc_error(UnsupportedError(f"{self._method} streams its answer: streaming needs a gRPC channel"))
        if timeout is not None and timeout <= 0:
            return _StreamCall(_Failed(_expired()), timeout)
        try:
            request_json = _proto_to_json_text(self._request_type(request), data)
        except ClarifaiError as error:
            raise _rpc_error(error) from None

        def start(remaining: Optional[float], first: bool) -> _RpcStream:
            client = (self._owner._client(identity, timeout) if first or remaining is None
                      else self._owner._new_client(identity, remaining))  # what is left of the deadline
            return _RpcStream(client, self._method, request_json, self._deserialize, _response_proto)
        return _StreamCall(_RetriedStream(start, _Retries(timeout)), timeout)


class _RetriedStream(Iterator[Any]):
    """The answers of a server-streaming call, started again after UNAVAILABLE until the first
    answer arrives, under the unary calls' policy (_Retries): grpcio retries a call until it
    commits, which a stream does with its first answer."""

    def __init__(self, start: Callable[[Optional[float], bool], Iterator[Any]], retries: _Retries) -> None:
        self._start, self._retries = start, retries
        self._current = start(retries.next_attempt(), True)
        self._answered = self._closed = False

    def __next__(self) -> Any:
        while True:
            try:
                answer = next(self._current)
                self._answered = True
                return answer
            except RpcErrorMixin as error:
                if self._answered or self._closed:
                    raise
                pause, expires = self._retries.pause_after(error)
            time.sleep(pause)
            if expires:
                raise _expired()
            self._current.close()
            self._current = self._start(self._retries.next_attempt(), False)

    def close(self) -> None:
        self._closed = True
        self._current.close()


class _Failed(Iterator[Any]):
    """The answers of a call that failed before it was sent (grpcio: a deadline already past)."""

    def __init__(self, error: ClarifaiError) -> None:
        self._error = error

    def __next__(self) -> Any:
        raise self._error

    def close(self) -> None:
        pass


class _RpcStream(Stream[Any]):
    """A Stream whose failures are RpcErrors."""

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except ClarifaiError as error:
            raise _rpc_error(error) from None


class _RequestSender:
    """Sends a bidirectional call's requests from a daemon thread, as grpcio does: each one the
    request iterator yields, then the half-close. Any other failure than the call's end cancels
    the call and is kept in `error` as an RpcError, for the answers to raise (their recv sees
    only CANCELLED). Holds the stream, never the answers, so that dropping those cancels."""

    def __init__(self, stream: BidiStream, requests: Iterable[Any], serialize: Callable[[Any], bytes]) -> None:
        self.error: Optional[ClarifaiError] = None
        threading.Thread(target=self._run, args=(stream, requests, serialize),
                         name=f"libclarifai-send-{stream.method}", daemon=True).start()

    def _run(self, stream: BidiStream, requests: Iterable[Any], serialize: Callable[[Any], bytes]) -> None:
        try:
            for request in requests:
                stream.send(serialize(request))
            stream.close_send()
        except CancelledError:
            pass  # cancelled, or the server ended the call first: the answers tell
        except ClarifaiError as error:  # a refused request, the deadline
            self.error = _rpc_error(error)
            stream.cancel()
        except Exception as error:  # grpcio ends the call with UNKNOWN then
            failure = ClarifaiError(f"{stream.method}: exception iterating or serializing requests: {error!r}")
            self.error = _rpc_error(failure, grpc.StatusCode.UNKNOWN)
            self.error.__cause__ = error
            stream.cancel()


class _BidiAnswers(Iterator[Any]):
    """The answers of a bidirectional call, deserialized; failures as RpcErrors. The stream is
    freed at the end, on close() (which cancels) and when this is dropped."""

    def __init__(self, stream: BidiStream, sender: _RequestSender, deserialize: Callable[[bytes], Any]) -> None:
        self._stream, self._sender, self._deserialize = stream, sender, deserialize
        self._finalizer = weakref.finalize(self, stream.close)

    def __next__(self) -> Any:
        try:
            data = self._stream.recv_proto()
        except ClarifaiError as error:
            self.close()
            if isinstance(error, CancelledError) and self._sender.error is not None:
                raise self._sender.error  # a failed send cancelled the call: its reason, not CANCELLED
            raise _rpc_error(error) from None
        if data is None:
            self.close()
            raise StopIteration
        return self._deserialize(data)

    def close(self) -> None:
        self._finalizer()


class _StreamStream(grpc.StreamStreamMultiCallable):  # type: ignore[misc]
    def __init__(self, owner: "StubChannel", method: str, serializer: Any, deserializer: Any) -> None:
        self._owner, self._method = owner, method
        self._serialize = serializer or (lambda request: request)
        self._deserialize = _deserializer(deserializer)

    def __call__(self, request_iterator: Iterable[Any], timeout: Optional[float] = None, metadata: Any = None,
                 credentials: Any = None, wait_for_ready: Any = None, compression: Any = None) -> _StreamCall:
        identity = self._owner._identity(metadata)
        if timeout is not None and timeout <= 0:
            return _StreamCall(_Failed(_expired()), timeout)
        client = self._owner._client(identity, timeout)
        try:
            stream = client.open_stream(self._method)
        except ClarifaiError as error:
            raise _rpc_error(error) from None
        sender = _RequestSender(stream, request_iterator, self._serialize)
        return _StreamCall(_BidiAnswers(stream, sender, self._deserialize), timeout)


class _Unsupported(grpc.StreamUnaryMultiCallable):  # type: ignore[misc]
    """Client-streaming methods with one answer (V2 has none): the stub creates them, calling
    one fails."""

    def __init__(self, method: str) -> None:
        self._method = method

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise _rpc_error(UnsupportedError(f"{self._method}: libclarifai does not carry stream-unary methods"))

    __call__ = with_call = future = _fail


class StubChannel(grpc.Channel):  # type: ignore[misc]
    """A grpc.Channel for `service_pb2_grpc.V2Stub` that sends every call through libclarifai on
    `channel` (any kind: REST carries the unary methods, gRPC also the streaming ones). The
    credential of each call comes from its metadata ("authorization" as it is, else
    "x-clarifai-session-token"), else from `pat`, never from the environment (a call with none
    goes out without one, as over grpcio); its other metadata is sent as it is; `user_app_id`
    comes from each request. One C client per credential and metadata, with no retries of its
    own: unary calls (and streams until their first answer) retry UNAVAILABLE as grpcio's
    official service config does (at most 5 attempts). A call's `timeout` (seconds) is
    honoured by another client with that deadline, on the same channel and connections.
    The Channel stays yours: close() frees the clients made here."""

    def __init__(self, channel: Channel, pat: Optional[str] = None, *, max_clients: int = 32) -> None:
        self._channel = channel
        self._pat = pat
        self._max_clients = max(1, max_clients)
        self._clients: "collections.OrderedDict[Tuple[_Identity, Optional[int]], Client]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._futures_loop: Optional[asyncio.AbstractEventLoop] = None
        self._closed = False
        self._methods = frozenset(methods())
        _fix_official_deserializer_hook()

    def _identity(self, metadata: Any) -> _Identity:
        return _identity(metadata, self._pat)

    def _client(self, identity: _Identity, timeout: Optional[float]) -> Client:
        """The client of a call's identity (credential and other metadata) and timeout: one per
        identity, with no retries of its own (the unary calls retry UNAVAILABLE here, as
        grpcio), and a copy of it per distinct timeout; the least recently used go past
        max_clients."""
        try:
            key = (identity, None if timeout is None else _milliseconds(timeout, "timeout"))
            with self._lock:
                if self._closed:
                    raise InvalidArgumentError("the stub channel is closed")
                client = self._clients.get(key)
                if client is not None:
                    self._clients.move_to_end(key)
                    return client
            client = self._new_client(identity, timeout)
        except ClarifaiError as error:
            raise _rpc_error(error) from None
        with self._lock:
            client = self._clients.setdefault(key, client)
            while len(self._clients) > self._max_clients:
                self._clients.popitem(last=False)  # freed by its finalizer once no call uses it
        return client

    def _new_client(self, identity: _Identity, timeout: Optional[float]) -> Client:
        """A client of `identity` on the channel, without retries, with `timeout`. Made anew
        rather than with clarifai_client_dup (Client.with_options): the copy of a client made
        with user_id and app_id "" fills requests from $CLARIFAI_USER_ID/$CLARIFAI_APP_ID."""
        client = (Client(self._channel, None, "", "", session_token=identity.credential) if identity.kind == "session" else
                  Client.with_authorization(self._channel, identity.credential, "", ""))
        try:
            lib = client._lib
            with client._handle.held() as pointer:
                _check(lib.clarifai_client_set_max_retries(pointer, 0))
                if timeout is not None:
                    _check(lib.clarifai_client_set_timeout_ms(pointer, _milliseconds(timeout, "timeout")))
                for name, value in identity.headers:
                    _check(lib.clarifai_client_set_header(pointer, name.encode(), value.encode()))
        except BaseException:
            client.close()
            raise
        return client

    def _loop(self) -> asyncio.AbstractEventLoop:
        """The event loop of the futures' calls, on a thread of its own (started by the first):
        each call waits on the library's completion queue there, so that any number run at
        once and cancel() reaches a running one."""
        with self._lock:
            if self._closed:
                raise _rpc_error(InvalidArgumentError("the stub channel is closed"))
            if self._futures_loop is None:
                loop = self._futures_loop = asyncio.new_event_loop()

                def run() -> None:
                    loop.run_forever()
                    loop.close()
                threading.Thread(target=run, name="libclarifai-stub-futures", daemon=True).start()
            return self._futures_loop

    def _name(self, method: str) -> str:
        name = method[len(SERVICE_PREFIX):] if method.startswith(SERVICE_PREFIX) else method
        return name if name in self._methods else method  # the library names an unknown one

    def unary_unary(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                    _registered_method: Any = False, **_: Any) -> _UnaryUnary:
        return _UnaryUnary(self, self._name(method), request_serializer, response_deserializer)

    def unary_stream(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                     _registered_method: Any = False, **_: Any) -> _UnaryStream:
        return _UnaryStream(self, self._name(method), request_serializer, response_deserializer)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> _Unsupported:
        return _Unsupported(method)

    def stream_stream(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                      _registered_method: Any = False, **_: Any) -> _StreamStream:
        return _StreamStream(self, self._name(method), request_serializer, response_deserializer)

    def subscribe(self, callback: Callable[[grpc.ChannelConnectivity], None], try_to_connect: bool = False) -> None:
        callback(grpc.ChannelConnectivity.READY)  # connections are made per call, by libcurl

    def unsubscribe(self, callback: Callable[[grpc.ChannelConnectivity], None]) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            self._closed = True
            clients, self._clients = list(self._clients.values()), collections.OrderedDict()
            loop, self._futures_loop = self._futures_loop, None
        if loop is not None:
            asyncio.run_coroutine_threadsafe(_cancel_all_and_stop(), loop)
        for client in clients:
            client.close()  # waits for nothing: frees once calls in flight are done

    def __enter__(self) -> "StubChannel":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def _cancel_all_and_stop() -> None:
    """Ends the futures' loop: the calls still running are cancelled (their futures with them),
    as grpcio's channel.close() cancels its calls."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    asyncio.get_running_loop().stop()


class _AioUnaryCall:
    """A grpc.aio unary call: awaited for the response (or its RpcError); cancel() cancels the
    call on the server (the awaiting side then sees asyncio.CancelledError, as with grpc.aio).
    Its task's result is the response and the server's metadata."""

    def __init__(self, task: "asyncio.Task[Tuple[Any, Metadata]]") -> None:
        self._task = task

    async def _response(self) -> Any:
        return (await self._task)[0]

    def __await__(self) -> Any:
        return self._response().__await__()

    def cancel(self) -> bool:
        return self._task.cancel()

    def cancelled(self) -> bool:
        return self._task.cancelled()

    def done(self) -> bool:
        return self._task.done()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._task.add_done_callback(lambda _: callback(self))

    def time_remaining(self) -> Optional[float]:
        return None

    async def _failure(self) -> Optional[BaseException]:
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            return None
        except BaseException as error:  # the call's RpcError
            return error
        return None

    async def code(self) -> grpc.StatusCode:
        error = await self._failure()
        if self._task.cancelled():
            return grpc.StatusCode.CANCELLED
        return error.code() if isinstance(error, grpc.RpcError) else grpc.StatusCode.OK

    async def details(self) -> str:
        error = await self._failure()
        return error.details() if isinstance(error, grpc.RpcError) else ""

    async def _metadata(self) -> Metadata:
        error = await self._failure()
        if self._task.cancelled():
            return ()
        return error.metadata if isinstance(error, RpcErrorMixin) else self._task.result()[1]

    async def initial_metadata(self) -> Tuple[Tuple[str, str], ...]:
        return _initial(await self._metadata())

    async def trailing_metadata(self) -> Tuple[Tuple[str, str], ...]:
        return _trailing(await self._metadata())

    async def wait_for_connection(self) -> None:
        return None


class _AioUnaryUnary(grpc.aio.UnaryUnaryMultiCallable):  # type: ignore[misc]
    """aio_channel.unary_unary(...): each call runs on the loop's completion queue (no thread),
    retried on UNAVAILABLE as the blocking stub's calls are."""

    def __init__(self, owner: StubChannel, method: str, serializer: Any, deserializer: Any) -> None:
        self._owner, self._method = owner, method
        self._serialize = serializer or (lambda request: request)
        self._deserialize = _deserializer(deserializer)

    def __call__(self, request: Any, *, timeout: Optional[float] = None, metadata: Any = None, credentials: Any = None,
                 wait_for_ready: Any = None, compression: Any = None) -> _AioUnaryCall:
        return _AioUnaryCall(asyncio.ensure_future(self._call(request, timeout, metadata)))

    async def _call(self, request: Any, timeout: Optional[float], metadata: Any) -> Tuple[Any, Metadata]:
        """The response and the server's metadata."""
        data = _serialized(self._serialize, request)
        identity = self._owner._identity(metadata)
        retries = _Retries(timeout)
        while True:
            remaining = retries.next_attempt()
            try:
                if retries.attempt == 1 or remaining is None:
                    answer, server_metadata = await self._owner._client(identity, timeout)._acall_proto_answer(self._method, data)
                else:  # the deadline covers all attempts: a client for what is left of it
                    with self._owner._new_client(identity, remaining) as timed:
                        answer, server_metadata = await timed._acall_proto_answer(self._method, data)
                return self._deserialize(answer), server_metadata  # a Clarifai failure is an answer, as with grpcio
            except ClarifaiError as error:
                pause, expires = retries.pause_after(error)
            await asyncio.sleep(pause)
            if expires:
                raise _expired()


class _AioStreamCall:
    """A grpc.aio streaming call over the blocking stub's (_StreamCall): `async for` or `await
    read()` (grpc.aio.EOF at the end) take the answers; waiting for one runs on the loop's
    default executor, while the stream itself runs on the library's stream thread. write() and
    done_writing() send requests when the call was made without a request iterator."""

    def __init__(self, start: Callable[[Iterable[Any]], _StreamCall], requests: Any, writable: bool) -> None:
        self._loop = asyncio.get_running_loop()
        self._outbox: "queue.Queue[Any]" = queue.Queue()
        self._writable = writable
        self._feeder: "Optional[asyncio.Task[None]]" = None
        if hasattr(requests, "__aiter__"):  # an async iterator's requests reach the sending thread one by one
            self._feeder = asyncio.ensure_future(self._feed(requests))
            requests = self._drain()
        elif writable:
            requests = self._drain()
        self._call = start(requests)

    async def _feed(self, requests: Any) -> None:
        try:
            async for request in requests:
                self._outbox.put(request)
        finally:
            self._outbox.put(_END_OF_REQUESTS)

    def _drain(self) -> Iterator[Any]:
        while (request := self._outbox.get()) is not _END_OF_REQUESTS:
            yield request

    async def write(self, request: Any) -> None:
        if not self._writable:
            raise _rpc_error(InvalidArgumentError("write(): the call takes no more requests (made with a request "
                                                  "iterator, or after done_writing())"))
        self._outbox.put(request)

    async def done_writing(self) -> None:
        if self._writable:
            self._writable = False
            self._outbox.put(_END_OF_REQUESTS)

    def __aiter__(self) -> "_AioStreamCall":
        return self

    async def _next(self) -> Any:
        """The next answer, or _END_OF_ANSWERS; once the answers end, so do the requests."""
        try:
            answer = await self._loop.run_in_executor(None, next, self._call, _END_OF_ANSWERS)
        except BaseException:
            self._stop_sending()
            raise
        if answer is _END_OF_ANSWERS:
            self._stop_sending()
        return answer

    async def __anext__(self) -> Any:
        answer = await self._next()
        if answer is _END_OF_ANSWERS:
            raise StopAsyncIteration
        return answer

    async def read(self) -> Any:
        answer = await self._next()
        return grpc.aio.EOF if answer is _END_OF_ANSWERS else answer

    def _stop_sending(self) -> None:
        """Lets the sending thread go: no more requests are taken."""
        if self._feeder is not None:
            self._feeder.cancel()  # its end puts _END_OF_REQUESTS
        if self._writable:
            self._writable = False
            self._outbox.put(_END_OF_REQUESTS)

    def cancel(self) -> bool:
        self._stop_sending()
        return self._call.cancel()

    def cancelled(self) -> bool:
        return self._call.cancelled()

    def done(self) -> bool:
        return self._call.done()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._call.add_done_callback(lambda _: self._loop.call_soon_threadsafe(callback, self))

    def time_remaining(self) -> Optional[float]:
        return self._call.time_remaining()

    async def _ended(self) -> None:
        await self._loop.run_in_executor(None, self._call._ended.wait)

    async def code(self) -> grpc.StatusCode:
        await self._ended()
        return self._call.code()

    async def details(self) -> str:
        await self._ended()
        return self._call.details() or ""

    async def initial_metadata(self) -> Tuple[Tuple[str, str], ...]:
        return ()

    async def trailing_metadata(self) -> Tuple[Tuple[str, str], ...]:
        return ()

    async def wait_for_connection(self) -> None:
        return None


#: Ends the requests of _AioStreamCall's sending side, and marks the end of its answers.
_END_OF_REQUESTS, _END_OF_ANSWERS = object(), object()


class _AioUnaryStream(grpc.aio.UnaryStreamMultiCallable):  # type: ignore[misc]
    def __init__(self, blocking: _UnaryStream) -> None:
        self._blocking = blocking

    def __call__(self, request: Any, *, timeout: Optional[float] = None, metadata: Any = None, credentials: Any = None,
                 wait_for_ready: Any = None, compression: Any = None) -> _AioStreamCall:
        return _AioStreamCall(lambda _: self._blocking(request, timeout=timeout, metadata=metadata), None, False)


class _AioStreamStream(grpc.aio.StreamStreamMultiCallable):  # type: ignore[misc]
    def __init__(self, blocking: _StreamStream) -> None:
        self._blocking = blocking

    def __call__(self, request_iterator: Any = None, *, timeout: Optional[float] = None, metadata: Any = None,
                 credentials: Any = None, wait_for_ready: Any = None, compression: Any = None) -> _AioStreamCall:
        return _AioStreamCall(lambda requests: self._blocking(requests, timeout=timeout, metadata=metadata), request_iterator,
                              request_iterator is None)


class AioStubChannel:
    """A grpc.aio.Channel look-alike for `service_pb2_grpc.V2Stub`, as the official client's
    ClarifaiChannel.get_aio_grpc_channel() is used: `await stub.PostModelOutputs(request,
    metadata=...)`. Unary calls run on libclarifai's completion queue through the running event
    loop (no thread per call), with StubChannel's rules for credentials, metadata, timeouts and
    retries; their errors are StubChannel's RpcErrors. Streams (server-streaming and both ways)
    are StubChannel's, iterated with `async for` or read(); a wait for the next answer runs on the
    loop's default executor. `close()` is a coroutine, as grpc.aio's."""

    def __init__(self, channel: Channel, pat: Optional[str] = None, *, max_clients: int = 32) -> None:
        self._stubs = StubChannel(channel, pat, max_clients=max_clients)

    def unary_unary(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                    _registered_method: Any = False, **_: Any) -> _AioUnaryUnary:
        return _AioUnaryUnary(self._stubs, self._stubs._name(method), request_serializer, response_deserializer)

    def unary_stream(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                     _registered_method: Any = False, **_: Any) -> _AioUnaryStream:
        return _AioUnaryStream(self._stubs.unary_stream(method, request_serializer, response_deserializer))

    def stream_stream(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                      _registered_method: Any = False, **_: Any) -> _AioStreamStream:
        return _AioStreamStream(self._stubs.stream_stream(method, request_serializer, response_deserializer))

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> _Unsupported:
        return self._stubs.stream_unary(method, *args, **kwargs)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return grpc.ChannelConnectivity.READY  # connections are made per call, by libcurl

    async def channel_ready(self) -> None:
        return None

    async def close(self, grace: Optional[float] = None) -> None:
        self._stubs.close()

    async def __aenter__(self) -> "AioStubChannel":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def aio_stub_channel(channel: Channel, pat: Optional[str] = None, *, max_clients: int = 32) -> AioStubChannel:
    """A channel for the official `V2Stub` used with asyncio (as over grpc.aio)."""
    return AioStubChannel(channel, pat, max_clients=max_clients)


def _fix_official_deserializer_hook() -> None:
    """V2Stub asks clarifai_channel.wrap_response_deserializer for each response class; that
    global is None until one of the official ClarifaiChannel factories ran, and V2Stub then
    fails. Give it the gRPC channel's value (FromString) in that case only."""
    try:
        from clarifai_grpc.channel import clarifai_channel
    except ImportError:
        return
    if getattr(clarifai_channel, "wrap_response_deserializer", True) is None:
        clarifai_channel.wrap_response_deserializer = clarifai_channel._response_deserializer_for_grpc


def stub_channel(channel: Channel, pat: Optional[str] = None, *, max_clients: int = 32) -> StubChannel:
    """A channel for the official `service_pb2_grpc.V2Stub` that calls through libclarifai."""
    return StubChannel(channel, pat, max_clients=max_clients)


grpc._channel._MultiThreadedRendezvous.register(_StreamCall)  # an ABC: isinstance() holds, nothing inherited
grpc._channel._MultiThreadedRendezvous.register(_Future)  # grpcio's future() is one too
