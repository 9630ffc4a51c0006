"""Writes that bypass the sidecars: a client connected straight to the L2 (a cron job, a Celery
worker on a host without a sidecar, redis-cli during an incident), a Lua script writing a key it
does not declare, COPY ... REPLACE and MOVE, the L2's own expiry. With the tracking source (CLIENT TRACKING, the default)
the L2 reports each of them, and both hosts stop answering the old value within the
propagation bound, through their sockets and through direct shared-memory reads.

Both hosts first hold the old value in L1 (a socket read counted as a hit, and a direct read);
their L1 TTL cap is a minute, so answering the new value within the deadline can only be the
invalidation. With the publish fallback such writes are invisible (docs/coherence.md): those
variants are skipped, except the check that says so."""

import time

import pytest

import django_setup  # noqa: F401  (tiercache on sys.path)
from sidecars import Sidecar, StartError, l2_address, wait_for
from tiercache import _l1

DEADLINE = 2.0  # generous: the measured propagation is well under a millisecond


def hits(sc):
    return sc.info()["l1_hits"]


class Host:
    """A sidecar with a socket client and a direct reader of its segment."""

    def __init__(self, sc):
        self.sc = sc
        self.client = sc.client()
        self.reader = _l1.Reader(sc.shm_name, sc.info()["l1_direct_max_staleness_ms"])
        wait_for(lambda: self.reader.serving, 2, what="%s vouches for its segment" % sc.name)

    def cache(self, key, value):
        """Reads key until it is an L1 hit answering value and the direct reader sees it."""
        deadline = time.monotonic() + DEADLINE
        while True:
            before = hits(self.sc)
            got = self.client.get(key)
            if got == value and hits(self.sc) == before + 1 and self.reader.get(0, key) == value:
                return
            assert time.monotonic() < deadline, "%r never cached on %s (got %r)" % (
                key, self.sc.name, got)
            time.sleep(0.005)

    def sees(self, key, value):
        """Within the deadline, the socket answers value and the direct reader no older one."""
        def ok():
            direct = self.reader.get(0, key)
            return self.client.get(key) == value and direct in (None, value)
        wait_for(ok, DEADLINE, interval=0.002, what="%s sees %r == %r" % (self.sc.name, key, value))


@pytest.fixture
def hosts(cluster, source):
    if source != "tracking":
        pytest.skip("writes that bypass the sidecars are heard only with the tracking source")
    return [Host(cluster.a), Host(cluster.b)], cluster.l2_client()


def cached_everywhere(hs, l2, values):
    for k, v in values.items():
        l2.set(k, v)
    for h in hs:
        h.sc.settle()
        for k, v in values.items():
            h.cache(k, v.encode())


def test_set_del_unlink_straight_to_the_l2(hosts):
    hs, l2 = hosts
    cached_everywhere(hs, l2, {"s": "old", "d": "old", "u": "old"})
    l2.set("s", "new")
    l2.delete("d")
    l2.unlink("u")
    for h in hs:
        h.sees("s", b"new")
        h.sees("d", None)
        h.sees("u", None)


def test_incr_append_getset_mset_straight_to_the_l2(hosts):
    hs, l2 = hosts
    cached_everywhere(hs, l2, {"n": "5", "ap": "ab", "gs": "old", "m1": "old", "m2": "old"})
    assert l2.incr("n") == 6
    assert l2.append("ap", "cd") == 4
    assert l2.getset("gs", "new") == b"old"
    l2.mset({"m1": "new1", "m2": "new2"})
    for h in hs:
        h.sees("n", b"6")
        h.sees("ap", b"abcd")
        h.sees("gs", b"new")
        h.sees("m1", b"new1")
        h.sees("m2", b"new2")


def test_rename_straight_to_the_l2(hosts):
    hs, l2 = hosts
    cached_everywhere(hs, l2, {"src": "moved", "dst": "old"})
    l2.rename("src", "dst")
    for h in hs:
        h.sees("src", None)
        h.sees("dst", b"moved")


def test_copy_replace_and_move_straight_to_the_l2(hosts, cluster):
    hs, l2 = hosts
    cached_everywhere(hs, l2, {"cp_src": "new", "cp_dst": "old", "mv": "v"})
    in_db1 = [h.sc.client(db=1) for h in hs]
    for c in in_db1:
        assert c.get("mv") is None  # absent in db 1 (cached so, with negative entries)
    assert l2.copy("cp_src", "cp_dst", replace=True) is True
    assert l2.move("mv", 1) is True
    for h, c in zip(hs, in_db1):
        h.sees("cp_dst", b"new")
        h.sees("mv", None)
        wait_for(lambda: c.get("mv") == b"v", DEADLINE, what="%s sees mv in db 1" % h.sc.name)


def test_flushdb_straight_to_the_l2_drops_every_db(hosts, cluster):
    hs, l2 = hosts
    cached_everywhere(hs, l2, {"f1": "old", "f2": "old"})
    other = cluster.b.client(db=3)
    cluster.l2_client(db=3).set("f3", "old")
    cluster.b.settle()
    wait_for(lambda: other.get("f3") == b"old" and cluster.b.info()["l1_items"] >= 3, DEADLINE)
    flushes = [h.sc.info()["l1_flushes"] for h in hs]
    l2.flushdb()  # db 0 only; the L2's message names no db, so every L1 db is dropped
    for h, before in zip(hs, flushes):
        h.sees("f1", None)
        h.sees("f2", None)
        assert h.sc.info()["l1_flushes"] > before
    assert other.get("f3") == b"old"  # still at the L2, fetched again: correct either way


def test_lua_script_writing_an_undeclared_key(hosts):
    hs, l2 = hosts
    cached_everywhere(hs, l2, {"lua": "old"})
    # django-cacheops-style: the script names no key, then writes one.
    l2.eval("redis.call('SET', 'lua', 'new') return 1", 0)
    for h in hs:
        h.sees("lua", b"new")


def test_pexpire_set_at_the_l2_then_expiry(hosts):
    hs, l2 = hosts
    cached_everywhere(hs, l2, {"pe": "v"})
    assert l2.pexpire("pe", 300)
    t0 = time.monotonic()
    for h in hs:
        h.sees("pe", None)  # gone when the L2 expires it, not at the L1 cap (a minute)
    assert time.monotonic() - t0 < 0.3 + DEADLINE


def test_set_with_a_short_px_expires_on_every_host(hosts):
    hs, l2 = hosts
    cached_everywhere(hs, l2, {"px": "old"})
    l2.set("px", "new", px=400)
    for h in hs:
        h.sees("px", b"new")
    for h in hs:
        h.sees("px", None)


def test_publish_fallback_does_not_hear_bypassing_writes(cluster, source):
    """The reason tracking is the default: with --invalidation-source publish, a write straight
    to the L2 leaves the old value cached (until the L1 TTL cap)."""
    if source != "publish":
        pytest.skip("the publish fallback's limit")
    b = cluster.b.client()
    l2 = cluster.l2_client()
    l2.set("k", "old")
    wait_for(lambda: b.get("k") == b"old" and cluster.b.info()["l1_items"] >= 1, DEADLINE)
    l2.set("k", "new")
    time.sleep(0.3)
    assert b.get("k") == b"old"


def test_track_prefix_narrows_what_is_heard_and_cached(make_cluster, source):
    """--track-prefix app: the sidecars hear (and cache) only app:* keys; other keys are always
    read from the L2, so they are never stale either."""
    if source != "tracking":
        pytest.skip("--track-prefix is the tracking source's")
    c = make_cluster()
    a = c.sidecar("a", l1_max_ttl_ms=60000, track_prefix="app:")
    b = c.sidecar("b", l1_max_ttl_ms=60000, track_prefix="app:")
    l2 = c.l2_client()
    l2.mset({"app:1": "old", "other": "old"})
    hs = [Host(a), Host(b)]
    for h in hs:
        h.sc.settle()
        h.cache("app:1", b"old")
        before = h.sc.info()
        for _ in range(3):
            assert h.client.get("other") == b"old"
        after = h.sc.info()
        assert after["l1_hits"] == before["l1_hits"]  # never from L1
        assert after["fills_untracked"] >= before["fills_untracked"] + 3
        assert h.reader.get(0, "other") is None
    received = [h.sc.info()["invalidations_received"] for h in hs]
    l2.set("other", "new")  # not heard...
    l2.set("app:1", "new")  # ...this is
    for h, n in zip(hs, received):
        h.sees("app:1", b"new")
        assert h.client.get("other") == b"new"  # from the L2
        assert h.sc.info()["invalidations_received"] == n + 1


def test_bad_track_prefix_and_source_combinations_are_refused(make_cluster):
    c = make_cluster()
    for flags, why in (({"track_prefix": "__tiercache:x", "invalidation_source": "tracking"},
                        "reserved for the sidecars' own keys"),
                       ({"track_prefix": "app:", "invalidation_source": "publish"},
                        "track-prefix needs invalidation-source = tracking")):
        sc = Sidecar(l2_address(c.l2), "bad", **flags)
        try:
            with pytest.raises(StartError, match=why):
                sc.start()
        finally:
            sc.stop()


def test_lost_tracking_connection_sets_tracking_up_again(hosts, cluster):
    """CLIENT KILL of the tracking connection: L1 flushed; once tracking is set up again on a
    new connection, writes straight to the L2 are heard again."""
    hs, l2 = hosts
    cached_everywhere(hs, l2, {"k": "v0"})
    for i in range(3):
        resets = [h.sc.info()["bus_resets"] for h in hs]
        assert l2.client_kill_filter(_type="pubsub") >= 2
        for h, r in zip(hs, resets):
            wait_for(lambda: h.sc.info()["bus_resets"] > r, 3, what="%s noticed" % h.sc.name)
            assert h.reader.get(0, "k") is None
        for h in hs:
            wait_for(lambda: h.sc.info()["bus_healthy"] == 1, 3, what="tracking again")
            h.cache("k", b"v%d" % i)
        l2.set("k", "v%d" % (i + 1))
        for h in hs:
            h.sees("k", b"v%d" % (i + 1))


def test_garbage_on_the_tracking_channel_flushes_l1(hosts):
    """Anyone may PUBLISH on __redis__:invalidate; a message that is not a key array (nor nil)
    cannot be trusted: L1 is flushed, tracking stays."""
    hs, l2 = hosts
    cached_everywhere(hs, l2, {"g": "v"})
    bad = [h.sc.info()["bus_bad_messages"] for h in hs]
    assert l2.publish("__redis__:invalidate", "garbage") == 2
    for h, n in zip(hs, bad):
        wait_for(lambda: h.sc.info()["bus_bad_messages"] == n + 1, DEADLINE)
        assert h.reader.get(0, "g") is None
        assert h.sc.info()["bus_healthy"] == 1
        h.cache("g", b"v")


def test_heartbeat_round_trip_is_the_lag(hosts):
    """The L2's messages carry no timestamp: the lag figures come from the heartbeat's round
    trip (its write sent -> its invalidation back), and they are there."""
    hs, _ = hosts
    for h in hs:
        h.sc.settle()
        info = h.sc.info()
        assert info["invalidation_source"] == "tracking"
        assert info["bus_heartbeats_back"] >= 2
        assert 0 < info["invalidation_lag_p50_us"] <= info["invalidation_lag_max_us"]
