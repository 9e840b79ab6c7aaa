"""pytest fixtures for the weir integration suite.

The server under test is a real process: `$WEIR_BIN serve --listen 127.0.0.1:<port>
--data-dir <tmp> --durability fsync` (WEIR_BIN defaults to <repo>/target/debug/weir).
"""

from __future__ import annotations

import pytest

from weirtest import (ServerStartError, WeirServer, create_stream, make_client, stream_arn,
                      unique_name, unthrottled_args)


def _start(server: WeirServer) -> WeirServer:
    try:
        server.start()
    except ServerStartError as e:
        server.cleanup()
        pytest.fail(str(e), pytrace=False)
    return server


@pytest.fixture(scope="session")
def weir_server():
    """One server for the whole session (tests use unique stream names).

    Per-shard throughput limits are off here (see weirtest.unthrottled_args); they are
    tested separately in test_throughput.py against a server with the default settings."""
    server = _start(WeirServer(extra_args=unthrottled_args()))
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def endpoint(weir_server) -> str:
    return weir_server.endpoint


@pytest.fixture
def fresh_server():
    """A private server with its own data dir, for restart/crash tests.

    Use `fresh_server.restart(graceful=...)` to restart it on the same data dir.
    """
    server = _start(WeirServer(extra_args=unthrottled_args()))
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def rolling_server():
    """`fresh_server` with 1 MiB segments kept zero-filled 256 KiB ahead, so that a few
    seconds of writes roll every shard's segment many times, and the commit log on with 1 MiB
    files, so that rounds go through it and it switches files and checkpoints as well."""
    server = _start(WeirServer(extra_args=unthrottled_args() + [
        "--segment-bytes", "1048576", "--preallocate-bytes", "262144",
        "--commit-log-bytes", "1048576"]))
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def client_factory():
    return make_client


@pytest.fixture(scope="session")
def kinesis(endpoint):
    """boto3 Kinesis client (dummy creds, us-east-1, few retries)."""
    return make_client(endpoint)


@pytest.fixture(scope="session")
def raw_kinesis(endpoint):
    """boto3 client with client-side parameter validation off, so that invalid
    input reaches the server and its own validation is tested."""
    return make_client(endpoint, validate=False, max_attempts=1)


@pytest.fixture
def stream_name():
    return unique_name("t")


class StreamFactory:
    def __init__(self, client):
        self.client = client
        self.created: list[str] = []

    def __call__(self, shards: int | None = 1, name: str | None = None, **kw) -> str:
        name = create_stream(self.client, name or unique_name("t"), shards, **kw)
        self.created.append(name)
        return name

    def cleanup(self):
        for name in self.created:
            try:
                self.client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
            except Exception:
                pass


@pytest.fixture
def make_stream(kinesis):
    """make_stream(shards=1, name=None, mode=None, **CreateStream kwargs) -> name (ACTIVE)."""
    f = StreamFactory(kinesis)
    yield f
    f.cleanup()


@pytest.fixture
def stream(make_stream):
    """A fresh ACTIVE 1-shard stream."""
    return make_stream(1)


@pytest.fixture
def stream4(make_stream):
    """A fresh ACTIVE 4-shard stream."""
    return make_stream(4)


@pytest.fixture(params=["name", "arn"])
def addr(request):
    """addr(stream_name) -> {'StreamName': ...} or {'StreamARN': ...}."""
    if request.param == "name":
        return lambda n: {"StreamName": n}
    return lambda n: {"StreamARN": stream_arn(n)}

