"""The exceptions of libclarifai: one class per CLARIFAI_ERROR_* code."""
from __future__ import annotations

import enum
from typing import Any, Dict, Optional, Type

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
    it names the method, field, URL or HTTP status, never the token."""

    #: The CLARIFAI_ERROR_* code (named error_code, not code: the stub's errors are also
    #: grpc.RpcError, whose code() is the gRPC status).
    error_code: int = ErrorCode.INTERNAL

    def __init__(self, message: str, error_code: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code

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
    handle, a missing token. Also a ValueError."""
    error_code = ErrorCode.INVALID_ARGUMENT


class TransportError(ClarifaiError):
    """CLARIFAI_ERROR_TRANSPORT: DNS, connect, TLS, reset, an HTTP error without a Clarifai body,
    or a gRPC status such as UNAVAILABLE, UNAUTHENTICATED, UNIMPLEMENTED."""
    error_code = ErrorCode.TRANSPORT


class ClarifaiTimeoutError(ClarifaiError, TimeoutError):
    """CLARIFAI_ERROR_TIMEOUT: the channel's deadline passed. Also the built-in TimeoutError."""
    error_code = ErrorCode.TIMEOUT


class ProtocolError(ClarifaiError):
    """CLARIFAI_ERROR_PROTOCOL: the server answered something that is not a valid reply."""
    error_code = ErrorCode.PROTOCOL


class ApiError(ClarifaiError):
    """CLARIFAI_ERROR_API: the call completed but the Clarifai status is not SUCCESS (10000).
    Carries the response's status and the whole response as `json`."""
    error_code = ErrorCode.API

    def __init__(self, message: str, error_code: Optional[int] = None, *, status_code: int = 0,
                 description: str = "", details: str = "", request_id: str = "",
                 json: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message, error_code)
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
    """CLARIFAI_ERROR_UNSUPPORTED: e.g. a streaming method on the REST channel."""
    error_code = ErrorCode.UNSUPPORTED


class CancelledError(ClarifaiError):
    """CLARIFAI_ERROR_CANCELLED: a stream was cancelled."""
    error_code = ErrorCode.CANCELLED


class AuthError(ClarifaiError):
    """CLARIFAI_ERROR_AUTH: the server refused the credentials (library 1.1 on; TransportError before)."""
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
