import itertools
import sys

import pytest

import capi

sys.path.insert(0, str(capi.ROOT / "Tests" / "Server"))
from testserver import start_server  # noqa: E402

_app_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def server():
    with start_server() as running:
        yield running


@pytest.fixture(scope="session")
def tls_server():
    """The local server with TLS gRPC too, on a certificate made for the session."""
    with start_server(tls=True) as running:
        yield running


@pytest.fixture(scope="session")
def lib():
    return capi.load()


@pytest.fixture
def app_id():
    """A fresh app per test: the server keeps state per user and app."""
    return f"app-{next(_app_numbers)}"


@pytest.fixture
def client(lib, server, app_id):
    """A client on the REST channel."""
    handle = capi.new_client(lib, server.rest_url, server.token, "test-user", app_id)
    yield handle
    lib.clarifai_client_free(handle)


@pytest.fixture(params=["rest", "grpc"])
def any_client(request, lib, server, app_id):
    """A client on the REST channel, then on the cleartext gRPC channel: tests that hold for both."""
    address = server.rest_url if request.param == "rest" else server.grpc_target
    handle = capi.new_client(lib, address, server.token, "test-user", app_id, kind=request.param)
    yield handle
    lib.clarifai_client_free(handle)
