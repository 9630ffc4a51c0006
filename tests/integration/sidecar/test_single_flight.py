"""Single flight: concurrent misses of one key on one host make one L2 GET. Counted twice: by a
proxy between the sidecar and L2 that parses the commands it forwards, and by the sidecar's own
l2_fetches / coalesced_misses."""

import time

from helpers import encode
from sidecars import skip_over_tls


def test_fifty_concurrent_misses_make_one_l2_get(make_cluster, proxy_factory):
    skip_over_tls()
    c = make_cluster()
    # 5 ms each way: the first fetch is still in flight when the 49 others arrive.
    proxy = proxy_factory(("127.0.0.1", c.l2.port), delay_us=5000)
    a = c.sidecar("a", via=proxy.address, l1_max_ttl_ms=60000)
    c.l2_client().set("hot", "value")
    a.settle()  # its invalidation applied before the misses (not just after their fill)
    conns = [a.raw() for _ in range(50)]
    before = a.info()
    gets_before = proxy.counter.count("GET", "hot")
    for conn in conns:
        conn.send(encode("GET", "hot"))
    for conn in conns:
        assert conn.read_reply(timeout=5) == b"value"
    after = a.info()
    assert proxy.counter.count("GET", "hot") - gets_before == 1
    assert after["l2_fetches"] - before["l2_fetches"] == 1
    assert after["coalesced_misses"] - before["coalesced_misses"] == 49
    assert after["l1_misses"] - before["l1_misses"] == 50
    # ...and then it is cached: 50 more reads, no GET at L2.
    for conn in conns:
        assert conn.cmd("GET", "hot") == b"value"
        conn.close()
    assert proxy.counter.count("GET", "hot") - gets_before == 1
    assert a.info()["l1_hits"] - after["l1_hits"] == 50


def test_concurrent_misses_of_a_missing_key_and_an_error(make_cluster, proxy_factory):
    """Nil and error replies are shared by the waiters too; an error is not cached, a nil is
    (a negative entry), unless --l1-negative is off."""
    skip_over_tls()
    c = make_cluster()
    proxy = proxy_factory(("127.0.0.1", c.l2.port), delay_us=5000)
    a = c.sidecar("a", via=proxy.address)
    off = c.sidecar("off", via=proxy.address, l1_negative="off")
    for sc, asked_again in ((a, 0), (off, 1)):
        conns = [sc.raw() for _ in range(20)]
        before = proxy.counter.count("GET", "absent")
        for conn in conns:
            conn.send(encode("GET", "absent"))
        assert [conn.read_reply() for conn in conns] == [None] * 20
        assert proxy.counter.count("GET", "absent") == before + 1
        assert conns[0].cmd("GET", "absent") is None  # a negative entry, or asked again
        assert proxy.counter.count("GET", "absent") == before + 1 + asked_again
        for conn in conns:
            conn.close()


def test_a_write_during_the_flight_starts_a_new_one(make_cluster, proxy_factory):
    """A reader arriving after a local write must not join a fetch started before the write
    (read-your-writes): it gets the new value."""
    c = make_cluster()
    proxy = proxy_factory(("127.0.0.1", c.l2.port), delay_us=5000)
    a = c.sidecar("a", via=proxy.address, l1_max_ttl_ms=60000)
    c.l2_client().set("k", "old")
    r1, w, r2 = a.raw(), a.raw(), a.raw()
    r1.send(encode("GET", "k"))  # a fetch in flight (10 ms round trip)
    time.sleep(0.001)
    w.send(encode("SET", "k", "new"))
    time.sleep(0.001)
    r2.send(encode("GET", "k"))  # after the SET reached the sidecar, before its ack
    assert w.read_reply() == "OK"
    assert r2.read_reply() == b"new"
    assert r1.read_reply() == b"old"
    assert r2.cmd("GET", "k") == b"new"
    for x in (r1, w, r2):
        x.close()
