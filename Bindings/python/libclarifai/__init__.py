"""libclarifai: the Clarifai API (service clarifai.api.V2) through the libclarifai C library.

    import libclarifai
    with libclarifai.Client(libclarifai.Channel.json(), user_id="clarifai", app_id="main") as client:
        prediction = client.predict("general-image-recognition", url="https://samples.clarifai.com/metro-north.jpg")
        for concept in prediction.concepts:
            print(concept.name, concept.value)

The library is found through $LIBCLARIFAI_PATH, then next to this package, then the system.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._client import (BidiStream, BoundingBox, BulkProgress, Channel, Client, Concept, Input, InputKind, Output,
                      Prediction, Region, ResourceIds, Stream, UploadResult, api_version, json_to_proto, methods,
                      parse_resource_url, proto_to_json, version)
from ._native import PACKAGE_VERSION, LibraryNotFoundError, library_path, load_library
from .errors import (ApiError, AuthError, CancelledError, ClarifaiError, ClarifaiTimeoutError, ErrorCode, InternalError,
                     InvalidArgumentError, ProtocolError, TransportError, UnsupportedError)

if TYPE_CHECKING:
    from .stub import AioStubChannel, StubChannel

__version__ = PACKAGE_VERSION

__all__ = [
    "Channel", "Client", "Prediction", "Output", "Concept", "Region", "BoundingBox", "Input", "InputKind", "Stream",
    "BidiStream", "BulkProgress", "UploadResult",
    "ClarifaiError", "InvalidArgumentError", "TransportError", "ClarifaiTimeoutError", "ProtocolError", "ApiError",
    "UnsupportedError", "CancelledError", "InternalError", "AuthError", "ErrorCode", "LibraryNotFoundError",
    "json_to_proto", "proto_to_json", "parse_resource_url", "ResourceIds", "version", "api_version", "methods",
    "library_path", "load_library",
    "stub_channel", "StubChannel", "aio_stub_channel", "AioStubChannel", "__version__",
]


def stub_channel(channel: Channel, pat: str | None = None, *, max_clients: int = 32) -> "StubChannel":
    """A grpc.Channel look-alike for the official `service_pb2_grpc.V2Stub` that sends its calls
    through libclarifai on `channel`; see libclarifai.stub. Needs grpcio (from clarifai-grpc)."""
    from .stub import StubChannel
    return StubChannel(channel, pat, max_clients=max_clients)


def aio_stub_channel(channel: Channel, pat: str | None = None, *, max_clients: int = 32) -> "AioStubChannel":
    """A grpc.aio.Channel look-alike for the official V2Stub used with asyncio: `await
    stub.PostModelOutputs(...)` through libclarifai, without a thread per call (unary methods;
    see libclarifai.stub). Needs grpcio (from clarifai-grpc)."""
    from .stub import AioStubChannel
    return AioStubChannel(channel, pat, max_clients=max_clients)


def __getattr__(name: str) -> Any:
    if name in ("StubChannel", "AioStubChannel"):  # imported on use: they need grpcio
        from . import stub
        return getattr(stub, name)
    raise AttributeError(f"module 'libclarifai' has no attribute {name!r}")
