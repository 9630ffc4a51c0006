"""The sidecar's upstream side: truncated, oversized and garbage replies from L2 are never
cached; the client gets an error quickly; the L2 connection is reset; service goes on."""
import time

import pytest
import redis

from fake_l2 import FakeL2
from sidecars import Sidecar, wait_for


@pytest.fixture
def setup():
    fake = FakeL2()
    # The fake speaks the publish source's bus (SUBSCRIBE/PUBLISH), not CLIENT TRACKING.
    sc = Sidecar(fake.address, "bad", l2_timeout_ms=300, proto_max_bulk_len="1mb",
                 l1_max_ttl_ms=60000, invalidation_source="publish")
    sc.start()
    yield fake, sc
    rc = sc.stop()
    fake.close()
    assert rc == 0, sc.stderr()


@pytest.mark.parametrize("key", ["garbage", "truncated", "oversized"])
def test_bad_reply_is_an_error_never_cached(setup, key):
    fake, sc = setup
    c = sc.client(socket_timeout=5)
    c.set("good", "value")
    before = sc.info()
    for attempt in range(2):  # the second try must not be answered from L1 either
        wait_for(lambda: sc.info()["bus_healthy"] == 1 and sc.info()["l2_connected"] == 1,
                 timeout=5, what="sidecar connected with a healthy bus")
        t0 = time.monotonic()
        with pytest.raises(redis.ResponseError, match="L2 unavailable"):
            c.get(key)
        assert time.monotonic() - t0 < 2.0, "the error took too long"
    after = sc.info()
    assert fake.bad_gets == 2
    assert after["l2_reconnects"] >= before["l2_reconnects"] + 2, "connection was not reset"
    assert after["fills"] == before["fills"]
    if key == "oversized":  # cut by the reply size bound, not just by the request timeout
        assert "L2 reply larger than" in sc.stderr(), sc.stderr()
    # Service goes on: a good value is fetched, cached and then served from L1.
    wait_for(lambda: sc.info()["bus_healthy"] == 1 and sc.info()["l2_connected"] == 1,
             timeout=5, what="sidecar reconnected")
    assert c.get("good") == b"value"
    hits = sc.info()["l1_hits"]
    assert c.get("good") == b"value"
    assert sc.info()["l1_hits"] == hits + 1
