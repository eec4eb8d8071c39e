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
def lib():
    return capi.load()


@pytest.fixture
def app_id():
    """A fresh app per test: the server keeps state per user and app."""
    return f"app-{next(_app_numbers)}"


@pytest.fixture
def client(lib, server, app_id):
    handle = capi.new_client(lib, server.rest_url, server.token, "test-user", app_id)
    yield handle
    lib.clarifai_client_free(handle)
