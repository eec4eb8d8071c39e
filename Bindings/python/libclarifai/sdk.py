"""The official `clarifai` Python SDK, its calls sent through libclarifai.

    import libclarifai.sdk
    libclarifai.sdk.patch()             # SDK objects made from now on call through libclarifai
    model = Model("https://clarifai.com/clarifai/main/models/general-image-recognition")
    model.predict_by_url(url, input_type="image")
    libclarifai.sdk.unpatch()           # back to grpcio for objects made from now on

The SDK has no way to take another channel: every SDK object builds its stub from
`ClarifaiAuthHelper`, through `get_stub_and_channel()` (and `get_stub()`, which calls it, and
`get_async_stub()` for asyncio). patch() replaces those three methods and nothing else, so the
SDK's own layers run unchanged above libclarifai's drop-in stub channel (libclarifai.stub): its
metadata (credential, request-id prefix), its retries, its reading of `base` and `ui`.

One libclarifai channel and stub channel serve every SDK object of a base (the SDK makes a stub
per object, e.g. per model of App.list_models()); each call's credential comes from the
metadata the SDK adds, as over grpcio. Needs the `clarifai` package (not a dependency of this one).
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from ._client import Channel
from .errors import InvalidArgumentError
from .stub import AioStubChannel, StubChannel

__all__ = ["patch", "unpatch", "patched", "is_patched", "ChannelFactory"]

#: Makes the libclarifai Channel for an SDK base: called with the SDK's ClarifaiAuthHelper.
ChannelFactory = Callable[[Any], Channel]

#: The helper's methods that hand out stubs; the older SDKs (before 12) lack the first one.
_REPLACED = ("get_stub_and_channel", "get_stub", "get_async_stub")

_lock = threading.RLock()
_originals: Dict[str, Any] = {}
_factory: Optional[ChannelFactory] = None
#: (base, root certificates) -> the channel, its stub channel, its asyncio stub channel (made on first use)
_channels: Dict[Tuple[Any, ...], Tuple[Channel, StubChannel, Optional[AioStubChannel]]] = {}


def _channel_for(transport: str, address: Optional[str], options: Dict[str, Any]) -> ChannelFactory:
    if transport not in ("auto", "grpc", "grpc_insecure", "rest"):
        raise InvalidArgumentError(f"transport {transport!r}: one of auto, grpc, grpc_insecure, rest")

    def factory(auth_helper: Any) -> Channel:
        from clarifai.client.auth import helper
        base = auth_helper._base  # the SDK keeps its base without the scheme, and whether it is https apart
        https = helper.base_https_cache[base]
        kind = transport if transport != "auto" else ("grpc" if https else "grpc_insecure")
        if kind == "rest":
            return Channel.json(address or ("https://" if https else "http://") + base, **options)
        if kind == "grpc":
            certificates = auth_helper._root_certificates_path
            return Channel.grpc(address or base, **{**({"ca_file": certificates} if certificates else {}), **options})
        return Channel.grpc_insecure(address or (base if ":" in base else base + ":80"), **options)
    return factory


def _entry(auth_helper: Any) -> Tuple[Channel, StubChannel, Optional[AioStubChannel]]:
    key = (auth_helper._base, auth_helper._root_certificates_path)
    with _lock:
        if _factory is None:
            raise InvalidArgumentError("libclarifai.sdk is not patched in")
        if key not in _channels:
            channel = _factory(auth_helper)
            _channels[key] = (channel, StubChannel(channel), None)
        return _channels[key]


def _get_stub_and_channel(auth_helper: Any) -> Tuple[Any, StubChannel]:
    from clarifai_grpc.grpc.api import service_pb2_grpc
    _, stub_channel, _ = _entry(auth_helper)
    return service_pb2_grpc.V2Stub(stub_channel), stub_channel


def _get_stub(auth_helper: Any) -> Any:
    return _get_stub_and_channel(auth_helper)[0]


def _get_async_stub(auth_helper: Any) -> Any:
    from clarifai_grpc.grpc.api import service_pb2_grpc
    key = (auth_helper._base, auth_helper._root_certificates_path)
    with _lock:
        channel, stub_channel, aio = _entry(auth_helper)
        if aio is None:
            aio = AioStubChannel(channel)
            _channels[key] = (channel, stub_channel, aio)
    return service_pb2_grpc.V2Stub(aio)


def patch(channel_factory: Optional[ChannelFactory] = None, *, transport: str = "auto", address: Optional[str] = None,
          **channel_options: Any) -> None:
    """SDK objects made from now on call through libclarifai. The channel of each SDK base comes
    from `channel_factory(auth_helper)`, else from `transport`: "auto" (the SDK's base: https ->
    TLS gRPC with the SDK's root certificates, http -> cleartext gRPC), "grpc", "grpc_insecure"
    or "rest" (the REST API; streaming methods then raise UNIMPLEMENTED), at `address` instead of
    the SDK's base if given; `channel_options` go to libclarifai.Channel (timeout=, ...).
    Patching again replaces the factory and closes the channels made so far."""
    global _factory
    from clarifai.client.auth.helper import ClarifaiAuthHelper
    factory = channel_factory or _channel_for(transport, address, dict(channel_options))
    with _lock:
        if _originals:
            _close_channels()
        else:
            replacements = {"get_stub_and_channel": _get_stub_and_channel, "get_stub": _get_stub,
                            "get_async_stub": _get_async_stub}
            for name in _REPLACED:
                if name in vars(ClarifaiAuthHelper):
                    _originals[name] = vars(ClarifaiAuthHelper)[name]
                    setattr(ClarifaiAuthHelper, name, replacements[name])
        _factory = factory


def unpatch() -> None:
    """SDK objects made from now on use grpcio again; the channels made here are closed (objects
    still holding them then fail with INVALID_ARGUMENT)."""
    global _factory
    with _lock:
        if _originals:
            from clarifai.client.auth.helper import ClarifaiAuthHelper
            for name, method in _originals.items():
                setattr(ClarifaiAuthHelper, name, method)
            _originals.clear()
        _factory = None
        _close_channels()


def is_patched() -> bool:
    return bool(_originals)


@contextlib.contextmanager
def patched(channel_factory: Optional[ChannelFactory] = None, **options: Any) -> Iterator[None]:
    """patch() for the block, then unpatch()."""
    patch(channel_factory, **options)
    try:
        yield
    finally:
        unpatch()


def _close_channels() -> None:
    for channel, stub_channel, aio in _channels.values():
        stub_channel.close()
        if aio is not None:
            aio._stubs.close()
        channel.close()
    _channels.clear()
