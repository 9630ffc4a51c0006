"""Fixtures for the end-to-end tests: one topology (the demo's: an L2, hosts A and B each with
its own tiercache-sidecar and gunicorn site, one SQLite file) shared by the whole session, and a
fresh Browser per test. The session ends by stopping everything and checking that every process
exited on SIGTERM.

TIERCACHE_E2E_L2=redis runs the L2 as Debian's redis-server instead of tiercache-l2.
TIERCACHE_E2E_SIDECARS=0 points the sites at the L2 directly (no sidecars): only for working on
the tests themselves; the suite's claims are about the sidecars.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "demo"))

from topology import StartError, Topology, sidecar_binary  # noqa: E402
from web import Browser  # noqa: E402
from leftovers import pytest_sessionfinish  # noqa: E402,F401


def pytest_report_header(config):
    return "tiercache e2e: L2=%s, sidecars=%s (%s)" % (
        os.environ.get("TIERCACHE_E2E_L2", "tiercache"), _use_sidecars(), sidecar_binary())


def _use_sidecars():
    return os.environ.get("TIERCACHE_E2E_SIDECARS", "1") != "0"


@pytest.fixture(scope="session")
def topo():
    t = Topology(sidecars=_use_sidecars(), workers=2)
    try:
        t.start()
    except StartError as e:
        t.stop()
        pytest.fail("the e2e topology did not start: %s" % e, pytrace=False)
    yield t
    problems = t.stop()
    assert not problems, "processes did not stop cleanly on SIGTERM: %s" % problems


@pytest.fixture
def browser():
    return Browser()


@pytest.fixture(scope="session")
def admin(topo):
    """A browser logged in to the admin (on host A; the session is in the cache, so it is
    logged in on host B as well)."""
    b = Browser()
    b.admin_login(topo.url("A", ""))
    return b
