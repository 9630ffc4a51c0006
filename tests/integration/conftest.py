"""Fixtures for the integration tests: start a real server process (tiercache-l2, or Debian's
redis-server as the reference) on a free TCP port and a unix socket, and hand out clients.

Target: `--target tiercache|redis` or TIERCACHE_TEST_TARGET (default tiercache). Tests marked
`tiercache_only("why")` check behaviour where tiercache deliberately differs from redis 7.0 and
are skipped against redis."""

import os

import pytest

import servers
from servers import ServerFactory, server_binary
from leftovers import pytest_sessionfinish  # noqa: F401  (fails the session on leftovers)


def pytest_addoption(parser):
    parser.addoption("--target", choices=("tiercache", "redis"),
                     default=os.environ.get("TIERCACHE_TEST_TARGET", "tiercache"),
                     help="server under test (env TIERCACHE_TEST_TARGET; default tiercache)")


def pytest_report_header(config):
    target = config.getoption("--target")
    return "tiercache target: %s (%s)" % (target, server_binary(target))


def pytest_collection_modifyitems(config, items):
    if config.getoption("--target") != "redis":
        return
    for item in items:
        m = item.get_closest_marker("tiercache_only")
        if m is not None:
            why = m.args[0] if m.args else "tiercache-specific behaviour"
            item.add_marker(pytest.mark.skip(reason="tiercache only: " + why))


@pytest.fixture(scope="session")
def target(pytestconfig):
    return pytestconfig.getoption("--target")


@pytest.fixture(scope="session")
def free_port():
    """The free-port allocator: free_port() -> a TCP port free now, never handed out twice."""
    return servers.free_port


@pytest.fixture
def server_factory(target):
    """server_factory(**flags) -> Server. Flags use tiercache's names with underscores
    (maxmemory=8 << 20, maxmemory_policy="noeviction", requirepass="pw", ...)."""
    f = ServerFactory(target)
    yield f
    f.stop_all()


@pytest.fixture(scope="module")
def server(target):
    """A default server shared by one test module."""
    f = ServerFactory(target)
    yield f()
    f.stop_all()


@pytest.fixture(autouse=True)
def _close_shared_server_connections(request):
    """Tests sharing the module's server must not leak connections (subscriptions, WATCHes,
    names) into the next test: close them and wait until the server has seen it."""
    if "server" not in request.fixturenames:
        yield
        return
    srv = request.getfixturevalue("server")
    before = srv.info("clients")["connected_clients"]  # includes info's own connection
    yield
    if srv.proc.poll() is None:
        srv.close_connections(settle_to=before)


@pytest.fixture
def r(server):
    """redis-py client on db 0 of the module's server, with all dbs flushed first."""
    c = server.client()
    c.flushall()
    return c


@pytest.fixture
def raw(server):
    """A raw connection to the module's server (dbs flushed first)."""
    server.client().flushall()
    return server.raw()
