"""The exceptions of libclarifai: one class per CLARIFAI_ERROR_* code."""
from __future__ import annotations

import enum
from typing import Any, Dict, Optional, Tuple, Type

#: A call's metadata from the server: (name, value, trailing) per field, in arrival order.
Metadata = Tuple[Tuple[str, str, bool], ...]

__all__ = [
    "ErrorCode", "ClarifaiError", "InvalidArgumentError", "TransportError", "ClarifaiTimeoutError",
    "ProtocolError", "ApiError", "UnsupportedError", "CancelledError", "InternalError", "AuthError", "error_class",
]


class ErrorCode(enum.IntEnum):
    """The C API's return codes (CLARIFAI_OK, CLARIFAI_ERROR_*)."""
    OK = 0
    INVALID_ARGUMENT = 1
    TRANSPORT = 2
    TIMEOUT = 3
    PROTOCOL = 4
    API = 5
    UNSUPPORTED = 6
    CANCELLED = 7
    INTERNAL = 8
    AUTH = 9


class ClarifaiError(Exception):
    """A failed libclarifai call. `str(error)` is the library's message (clarifai_last_error):
    it names the method, field, URL or HTTP status, never the token. The other attributes are
    what the library knew of the failure (clarifai_last_error_*), read right after it."""

    #: The CLARIFAI_ERROR_* code (named error_code, not code: the stub's errors are also
    #: grpc.RpcError, whose code() is the gRPC status).
    error_code: int = ErrorCode.INTERNAL

    def __init__(self, message: str, error_code: Optional[int] = None, *, http_status: int = 0,
                 grpc_status: int = -1, transient: bool = False, metadata: Metadata = ()) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        #: The HTTP status of the answer behind the failure (502 from a gateway, 401 with a
        #: Clarifai body); 0 when no answer arrived or the failure was found locally.
        self.http_status = http_status
        #: The gRPC status the server ended the call with (14 for UNAVAILABLE; 0 for a gRPC call
        #: that completed with a Clarifai status other than SUCCESS); -1 on REST and when none arrived.
        self.grpc_status = grpc_status
        #: True when the failure is of a kind the library's retry policy retries: trying again
        #: later may succeed.
        self.transient = transient
        #: The server's metadata on the answer behind the failure: (name, value, trailing) in
        #: arrival order (gRPC initial then trailing metadata, or REST headers); () when no
        #: answer arrived.
        self.metadata = metadata

    @property
    def error_name(self) -> str:
        """The C constant's name, e.g. "CLARIFAI_ERROR_TIMEOUT"."""
        try:
            return "CLARIFAI_ERROR_" + ErrorCode(self.error_code).name
        except ValueError:
            return "CLARIFAI_ERROR_UNKNOWN"

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(ClarifaiError, ValueError):
    """CLARIFAI_ERROR_INVALID_ARGUMENT: bad JSON, an unknown method, field or type, a closed
    handle, a missing token; or a request the server refused (HTTP 4xx, gRPC INVALID_ARGUMENT,
    NOT_FOUND, ...). Also a ValueError."""
    error_code = ErrorCode.INVALID_ARGUMENT


class TransportError(ClarifaiError):
    """CLARIFAI_ERROR_TRANSPORT: no answer (DNS, connect, TLS, reset), or the server could not
    take the call now (HTTP 429 and 5xx, gRPC UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED)."""
    error_code = ErrorCode.TRANSPORT


class ClarifaiTimeoutError(ClarifaiError, TimeoutError):
    """CLARIFAI_ERROR_TIMEOUT: the call's deadline or the channel's idle limit passed. Also the
    built-in TimeoutError."""
    error_code = ErrorCode.TIMEOUT


class ProtocolError(ClarifaiError):
    """CLARIFAI_ERROR_PROTOCOL: the server failed (gRPC INTERNAL, UNKNOWN, ...), or answered
    something that is not a valid reply (over the receive limit, or without a JSON form)."""
    error_code = ErrorCode.PROTOCOL


class ApiError(ClarifaiError):
    """CLARIFAI_ERROR_API: the call completed but the Clarifai status is not SUCCESS (10000).
    Carries the response's status and the whole response as `json`."""
    error_code = ErrorCode.API

    def __init__(self, message: str, error_code: Optional[int] = None, *, status_code: int = 0,
                 description: str = "", details: str = "", request_id: str = "",
                 json: Optional[Dict[str, Any]] = None, http_status: int = 0, grpc_status: int = -1,
                 transient: bool = False, metadata: Metadata = ()) -> None:
        super().__init__(message, error_code, http_status=http_status, grpc_status=grpc_status, transient=transient,
                         metadata=metadata)
        self.status_code = status_code
        self.description = description
        self.details = details
        self.request_id = request_id
        self.json: Dict[str, Any] = json if json is not None else {}
        #: For Client.predict: the libclarifai.Prediction of the response (e.g. the outputs that
        #: succeeded with MIXED_STATUS); None for other calls.
        self.prediction: Optional[Any] = None

    def __repr__(self) -> str:
        return f"ApiError(status_code={self.status_code}, description={self.description!r}, request_id={self.request_id!r})"


class UnsupportedError(ClarifaiError):
    """CLARIFAI_ERROR_UNSUPPORTED: the channel or the server cannot carry the method (a
    streaming method on the REST channel, gRPC UNIMPLEMENTED, HTTP 501)."""
    error_code = ErrorCode.UNSUPPORTED


class CancelledError(ClarifaiError):
    """CLARIFAI_ERROR_CANCELLED: a stream was cancelled."""
    error_code = ErrorCode.CANCELLED


class AuthError(ClarifaiError):
    """CLARIFAI_ERROR_AUTH: the server refused the credentials (HTTP 401 or 403 without a
    Clarifai status, gRPC UNAUTHENTICATED or PERMISSION_DENIED)."""
    error_code = ErrorCode.AUTH


class InternalError(ClarifaiError):
    """CLARIFAI_ERROR_INTERNAL, or a code this package does not know."""
    error_code = ErrorCode.INTERNAL


_CLASSES: Dict[int, Type[ClarifaiError]] = {
    cls.error_code: cls for cls in (InvalidArgumentError, TransportError, ClarifaiTimeoutError, ProtocolError,
                              ApiError, UnsupportedError, CancelledError, InternalError, AuthError)
}


def error_class(code: int) -> Type[ClarifaiError]:
    """The exception class for a CLARIFAI_ERROR_* code (InternalError for unknown codes)."""
    return _CLASSES.get(code, InternalError)
