"""Fixtures for the sidecar tests: every test runs against both L2s (tiercache-l2 and Debian's
redis-server 7.0), with one L2 and two sidecars standing for two hosts, and once more with
redis-server and the sidecars' fallback source of invalidations (--invalidation-source publish,
for an L2 that refuses CLIENT TRACKING), so that the fallback stays tested by the same suite.

The whole integration suite is run twice by scripts/test.sh (--target tiercache, then redis as
the reference). This suite picks its L2s itself, so in the reference pass of the whole suite it
is skipped (it ran against both L2s in the first pass); run on its own it always runs both."""

import os

import pytest

from proxy import Proxy
import sidecars
from sidecars import Cluster, eval_available, sidecar_binary  # noqa: F401

# L2 kind, "+source" when the sidecars use another source than sidecars.DEFAULT_SOURCE's.
# TIERCACHE_SIDECAR_VARIANTS (comma-separated, e.g. "tiercache,redis+publish") narrows them:
# scripts/test.sh splits them between its release and ASan passes.
ALL_VARIANTS = {"tiercache": "l2=tiercache", "redis": "l2=redis",
                "redis+publish": "l2=redis,source=publish"}
L2_VARIANTS = [v for v in filter(None, os.environ.get(
    "TIERCACHE_SIDECAR_VARIANTS", ",".join(ALL_VARIANTS)).split(","))]
for _v in L2_VARIANTS:
    if _v not in ALL_VARIANTS:
        raise ValueError("TIERCACHE_SIDECAR_VARIANTS: unknown variant %r (known: %s)"
                         % (_v, ", ".join(ALL_VARIANTS)))
HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    if config.getoption("--target") != "redis":
        return
    mine = [i for i in items if str(i.fspath).startswith(HERE + os.sep)]
    if len(mine) == len(items):
        return  # only this suite was asked for: run it (against both L2s)
    skip = pytest.mark.skip(reason="the sidecar suite runs against both L2s in the tiercache "
                                   "pass; not repeated in the redis reference pass")
    for i in mine:
        i.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    item.sidecars_before = len(sidecars.STARTED)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the logs of the sidecars it started (warnings and
    errors: reconnects, timeouts), so a failure seen once in CI can be understood."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for sc in sidecars.STARTED[getattr(item, "sidecars_before", 0):]:
            text = sc.stderr()
            if text:
                report.sections.append(("sidecar %s log (%s)" % (sc.name, call.when), text))


@pytest.fixture(params=L2_VARIANTS, ids=[ALL_VARIANTS[v] for v in L2_VARIANTS])
def l2_variant(request):
    return request.param


@pytest.fixture
def l2_kind(l2_variant):
    return l2_variant.partition("+")[0]


@pytest.fixture
def source(l2_variant):
    """The sidecars' invalidation source in this variant: "tracking" or "publish"."""
    kind, _, source = l2_variant.partition("+")
    return source or sidecars.DEFAULT_SOURCE[kind]


@pytest.fixture
def make_cluster(l2_variant):
    """make_cluster(l2_flags=None) -> Cluster; stopped (and judged) after the test."""
    made = []

    def make(l2_flags=None):
        c = Cluster(l2_variant, l2_flags)
        made.append(c)
        return c
    yield make
    problems = []
    for c in made:
        c.close()
        problems += c.problems
    assert not problems, "\n".join(problems)


@pytest.fixture
def cluster(make_cluster):
    """One L2 and two sidecars, .a and .b. Their L1 TTL cap is a minute, so within a test's
    deadlines only an invalidation can make a host drop a cached value."""
    c = make_cluster()
    c.a = c.sidecar("a", l1_max_ttl_ms=60000)
    c.b = c.sidecar("b", l1_max_ttl_ms=60000)
    return c


@pytest.fixture
def proxy_factory():
    made = []

    def make(target, delay_us=0, subscriber_delay_us=None):
        if "tls" in sidecars.LINK and subscriber_delay_us not in (None, delay_us):
            pytest.skip("the proxy must see SUBSCRIBE to delay the bus apart from the data "
                        "links; over TLS it sees ciphertext: plain links only")
        # Aimed at an L2's plain port while the sidecars link with TLS: carry the TLS link.
        target = (target[0], sidecars.link_port(target[1]))
        p = Proxy(target, delay_us, subscriber_delay_us)
        made.append(p)
        return p
    yield make
    for p in made:
        p.close()
