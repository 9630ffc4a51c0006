"""Direct L1 reads (python/tiercache): another process maps the sidecar's segment and reads it
with the sidecar's own lock-free reader (tiercache._l1.Reader), and the Django backend built on
it (tiercache.django_cache.TierCache).

What must hold (docs/coherence.md, "Direct readers"): a direct hit never costs the sidecar a
command; a direct reader on the writing host never sees a value older than an acknowledged
write; other hosts' writes reach it as fast as they reach the sidecar; and when the sidecar
dies, hangs or loses its bus, direct hits stop within l1_direct_max_staleness_ms, as the
sidecar's own hits do, and resume only once the sidecar vouches for the segment again."""

import os
import signal
import time

import pytest

import django_setup  # noqa: F401  (Django settings; tiercache on sys.path)
from sidecars import wait_for
from tiercache import _l1


def reader_for(sc, **kw):
    """A Reader of sc's segment with the staleness bound the sidecar reports in INFO."""
    staleness = sc.info()["l1_direct_max_staleness_ms"]
    r = _l1.Reader(sc.shm_name, kw.get("max_staleness_ms", staleness))
    wait_for(lambda: r.serving, 2, what="%s vouches for its segment" % sc.name)
    return r


def cache_on(sc, client, reader, key, value, written_elsewhere=False):
    """Read key through sc's socket until the direct reader sees it (the sidecar filled L1).
    A value written through another host may read old until its invalidation arrives."""
    def cached():
        got = client.get(key)
        if written_elsewhere and got != value:
            return False
        assert got == value
        return reader.get(0, key) == value
    wait_for(cached, 3, what="%r in %s's L1" % (key, sc.name))


def commands(sc):
    return sc.info("stats")["total_commands_processed"]


def test_direct_hits_cost_the_sidecar_nothing(cluster):
    a, b = cluster.a, cluster.b
    ca, cb = a.client(), b.client()
    r = reader_for(a)
    assert a.info()["l1_segment"] == a.shm_name
    assert r.serving and not r.detached
    cb.set("k", "v0")
    assert r.get(0, "k") is None  # not cached on A yet
    cache_on(a, ca, r, "k", b"v0")
    assert r.get(0, b"k") == b"v0"  # bytes or str keys
    assert r.get(1, "k") is None  # another db
    assert r.get_many(0, ["k", "absent", b"k"]) == [b"v0", None, b"v0"]
    before = a.info()
    cmds = commands(a)
    for _ in range(2000):
        assert r.get(0, "k") == b"v0"
    assert commands(a) == cmds + 1  # the INFO just sent, nothing else
    after = a.info()
    assert after["l1_direct_hits"] >= before["l1_direct_hits"] + 2000
    assert after["l1_hits"] == before["l1_hits"]
    assert after["l1_hit_ratio"] > before["l1_hit_ratio"]
    with pytest.raises(ValueError):
        r.get(256, "k")
    with pytest.raises(TypeError):
        r.get(0, 5)
    with pytest.raises(OSError, match="tiercache L1 segment"):
        _l1.Reader("no-such-segment-%d" % os.getpid(), 1000)
    for bad in (0, -1, 10 ** 12):
        with pytest.raises(ValueError):
            _l1.Reader(a.shm_name, bad)


def test_direct_reader_never_sees_a_value_older_than_an_acknowledged_write(cluster):
    """Read-your-writes for a direct reader on the writing host, and other hosts' writes."""
    a, b = cluster.a, cluster.b
    ca, cb = a.client(), b.client()
    r = reader_for(a)
    for i in range(200):
        ca.set("own", "v%d" % i)  # acknowledged: the sidecar dropped its copy first
        assert r.get(0, "own") in (None, b"v%d" % i), "older value after an acknowledged write"
        if i % 20 == 0:
            cache_on(a, ca, r, "own", b"v%d" % i)
    lags = []
    cb.set("other", "w-1")
    cache_on(a, ca, r, "other", b"w-1")
    for i in range(30):
        cb.set("other", "w%d" % i)
        acked = time.monotonic()
        while r.get(0, "other") == b"w%d" % (i - 1):
            assert time.monotonic() - acked < 2, "B's write never reached A's direct reader"
            time.sleep(0.0002)  # leave the CPUs to the sidecars
        lags.append(time.monotonic() - acked)
        assert r.get(0, "other") in (None, b"w%d" % i)
        cache_on(a, ca, r, "other", b"w%d" % i)
    lags.sort()
    assert lags[len(lags) // 2] < 0.05, lags


def test_killed_sidecar_stops_direct_hits_until_a_new_one_vouches(make_cluster):
    c = make_cluster()
    a = c.sidecar("a", l1_max_ttl_ms=60000, bus_heartbeat_ms=50, bus_timeout_ms=300)
    b = c.sidecar("b", l1_max_ttl_ms=60000)
    ca, cb = a.client(), b.client()
    assert a.info()["l1_direct_max_staleness_ms"] == 300
    r = reader_for(a)
    cb.set("k", "old")
    cache_on(a, ca, r, "k", b"old")
    a.proc.kill()
    a.proc.wait()
    killed = time.monotonic()
    cb.set("k", "new")  # A's sidecar is gone: nobody drops A's copy
    wait_for(lambda: r.get(0, "k") is None, 2, interval=0.001, what="direct hits stopped")
    took = time.monotonic() - killed
    assert took < 0.3 + 0.5, "stale direct hits for %.3f s after the sidecar died" % took
    assert not r.serving
    assert not r.detached  # the file is still there: the next sidecar takes it over
    time.sleep(0.3)
    assert r.get(0, "k") is None
    a.start()  # same name: the crashed owner's segment is reinitialized in place
    wait_for(lambda: r.serving, 3, what="the new sidecar vouches for the segment")
    assert r.get(0, "k") is None  # flushed, never the old value
    cache_on(a, ca, r, "k", b"new")


def test_hung_sidecar_stops_direct_hits_and_resumes_without_stale_values(make_cluster):
    c = make_cluster()
    a = c.sidecar("a", l1_max_ttl_ms=60000, bus_heartbeat_ms=50, bus_timeout_ms=300)
    b = c.sidecar("b", l1_max_ttl_ms=60000)
    ca, cb = a.client(), b.client()
    r = reader_for(a)
    cb.set("k", "old")
    cache_on(a, ca, r, "k", b"old")
    a.proc.send_signal(signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        cb.set("k", "new")  # the invalidation waits in A's socket buffer
        wait_for(lambda: r.get(0, "k") is None, 2, interval=0.001, what="direct hits stopped")
        assert time.monotonic() - stopped < 0.3 + 0.5
        time.sleep(0.5)
        assert r.get(0, "k") is None
    finally:
        a.proc.send_signal(signal.SIGCONT)
    # Resumed: its timers run before its sockets are read, but it vouches for the segment only
    # when its own message comes back, after the invalidation waiting ahead of it.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert r.get(0, "k") != b"old", "the hung sidecar's stale value was served after it resumed"
    wait_for(lambda: a.info()["bus_healthy"] == 1, 3, what="A's bus healthy again")
    cache_on(a, ca, r, "k", b"new")


def test_lost_bus_stops_direct_hits(cluster):
    """The subscription killed at L2: once A has noticed, its L1 holds nothing a direct reader
    could return (flushed), until it is subscribed again and refills from L2."""
    a, b = cluster.a, cluster.b
    ca, cb = a.client(), b.client()
    r = reader_for(a)
    l2 = cluster.l2_client()
    for i in range(10):
        cb.set("k", "v%d" % i)
        cache_on(a, ca, r, "k", b"v%d" % i, written_elsewhere=True)
        resets = a.info()["bus_resets"]
        assert l2.client_kill_filter(_type="pubsub") >= 1
        wait_for(lambda: a.info()["bus_resets"] > resets, 3, what="A noticed the lost bus")
        assert r.get(0, "k") is None, "a direct reader still sees L1 after the bus was lost"
        cb.set("k", "v%d+" % i)
        wait_for(lambda: a.info()["bus_healthy"] == 1, 3, what="A resubscribed")
        wait_for(lambda: b.info()["bus_healthy"] == 1, 3, what="B resubscribed")
        assert r.get(0, "k") in (None, b"v%d+" % i)
        cache_on(a, ca, r, "k", b"v%d+" % i)


def test_second_sidecar_on_the_same_segment_is_refused(cluster):
    """Two sidecars given one --shm-name would share L1 entries (and its vouching): the second
    one must refuse to start, saying why."""
    import shutil

    from sidecars import Sidecar, StartError, l2_address
    second = Sidecar(l2_address(cluster.l2), "a2")  # not the cluster's: it must not start
    second.flags["shm_name"] = cluster.a.shm_name
    try:
        with pytest.raises(StartError) as e:
            second.start()
        assert second.proc.returncode == 1
        assert "in use by live process %d" % cluster.a.proc.pid in str(e.value)
    finally:
        shutil.rmtree(second.workdir, ignore_errors=True)  # (stop() would unlink a's segment)
    r = reader_for(cluster.a)  # the first one is unaffected
    assert r.serving


def test_restart_with_other_sizes_is_followed(make_cluster):
    """A sidecar restarted with another --l1-memory retires the old segment; a Reader reports
    it detached (every get misses) and a new Reader reads the new one."""
    c = make_cluster()
    a = c.sidecar("a", l1_max_ttl_ms=60000)
    ca = a.client()
    r = reader_for(a)
    ca.set("k", "v")
    cache_on(a, ca, r, "k", b"v")
    a.proc.send_signal(signal.SIGTERM)
    assert a.proc.wait(10) == 0
    assert r.get(0, "k") is None  # cleanly closed: no owner vouches for it
    a.flags["l1_memory"] = "32MiB"
    a.start()
    assert r.detached and r.get(0, "k") is None
    r2 = reader_for(a)
    cache_on(a, ca, r2, "k", b"v")
    assert r2.stats()["capacity_bytes"] > r.stats()["capacity_bytes"]


# ---- the Django backend ---------------------------------------------------------------------

@pytest.fixture
def django_caches(cluster):
    from django.core.cache import caches
    from django.test.utils import override_settings

    def conf(sc):
        return {"BACKEND": "tiercache.django_cache.TierCache",
                "LOCATION": "unix://%s?db=0" % sc.socket,
                "OPTIONS": {"SOCKET_TIMEOUT": 5}}
    with override_settings(CACHES={"default": conf(cluster.a), "hostb": conf(cluster.b)}):
        yield caches["default"], caches["hostb"]
        caches["default"].close()
        caches["hostb"].close()


def test_django_backend_reads_l1_directly(cluster, django_caches):
    a_cache, b_cache = django_caches
    a = cluster.a
    b_cache.set("obj", {"n": 1}, timeout=300)
    b_cache.set("num", 41, timeout=300)
    assert a_cache.get("obj") == {"n": 1}  # miss: fetched through A's socket, filled
    assert a_cache.get_many(["num", "absent"]) == {"num": 41}
    before, cmds = a.info(), commands(a)
    for _ in range(100):
        assert a_cache.get("obj") == {"n": 1}
        assert a_cache.get_many(["obj", "num"]) == {"obj": {"n": 1}, "num": 41}
        assert a_cache.has_key("num") and "obj" in a_cache
    assert commands(a) == cmds + 1  # only the INFO: every read above was direct
    assert a.info()["l1_direct_hits"] >= before["l1_direct_hits"] + 500
    assert a_cache.get("absent", "dflt") == "dflt"  # a miss goes through the socket
    assert a_cache.get_many(["obj", "absent"]) == {"obj": {"n": 1}}
    assert a_cache.get("obj", version=2) is None  # versioned keys are other keys
    b_cache.set("obj", {"n": 2})
    wait_for(lambda: a_cache.get("obj") == {"n": 2}, 2, what="B's write seen by A's backend")
    a_cache.set("obj", {"n": 3})
    assert a_cache.get("obj") == {"n": 3}  # read-your-writes
    a_cache.incr("num")
    assert a_cache.get("num") == 42
    a_cache.delete("obj")
    assert a_cache.get("obj") is None


def test_django_backend_needs_the_default_client(cluster):
    """HerdClient stores values packed with their herd timeout: read directly they would be
    wrong, so the backend stays on the socket (and says so once)."""
    from django.core.cache import caches
    from django.test.utils import override_settings

    conf = {"BACKEND": "tiercache.django_cache.TierCache",
            "LOCATION": "unix://%s?db=0" % cluster.a.socket,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.HerdClient"}}
    with override_settings(CACHES={"default": conf}):
        cache = caches["default"]
        cache.set("herd", {"x": 1}, timeout=300)
        for _ in range(5):
            assert cache.get("herd") == {"x": 1}
        assert cache._reader is None and not cache._direct
        assert cluster.a.info()["l1_direct_hits"] == 0
        cache.close()


def test_django_backend_follows_a_restarted_sidecar(make_cluster):
    from django.core.cache import caches
    from django.test.utils import override_settings

    c = make_cluster()
    a = c.sidecar("a", l1_max_ttl_ms=60000)
    conf = {"BACKEND": "tiercache.django_cache.TierCache",
            "LOCATION": "unix://%s?db=0" % a.socket, "OPTIONS": {"SOCKET_TIMEOUT": 5}}
    with override_settings(CACHES={"default": conf}):
        cache = caches["default"]
        cache.set("k", "v", timeout=300)
        assert cache.get("k") == "v"
        wait_for(lambda: cache.get("k") == "v" and a.info()["l1_direct_hits"] > 0, 2)
        a.proc.send_signal(signal.SIGTERM)
        assert a.proc.wait(10) == 0
        os.unlink(a.shm_path)  # an operator cleaned /dev/shm: the next sidecar makes a new one
        a.start()
        cache.client.get_client().connection_pool.disconnect()
        assert cache.get("k") == "v"  # through the socket: L1 is new and empty
        hits = a.info()["l1_direct_hits"]
        wait_for(lambda: cache.get("k") == "v" and a.info()["l1_direct_hits"] > hits, 5,
                 interval=0.05, what="direct hits from the new segment")
        cache.close()


def test_get_checked_confirms_a_tagged_entry_with_l1_lookups(cluster):
    """Reader.get_checked: a plain value as get answers it; a tagged entry (the layout
    tiercache.features writes) as (value, expires_at) while its tags' tokens in L1 equal its
    own, `rejected` once one moved or is not in L1, or if the entry is malformed."""
    from tiercache.features import ENVELOPE_MAGIC, MISSING, pack_envelope, unpack_envelope
    sc = cluster.a
    c = sc.client()
    r = reader_for(sc)
    absent, rejected = object(), object()
    c.set("tag:a", b"17")
    c.set("tag:b", b"42")
    c.set("entry", pack_envelope(b"VALUE", ["tag:a", "tag:b"], [b"17", b"42"], 1e12, None))
    c.set("plain", b"plain bytes")
    c.set("broken", ENVELOPE_MAGIC + b"\x05truncated")
    for key in ("tag:a", "tag:b", "entry", "plain", "broken"):
        cache_on(sc, c, r, key, c.get(key))
    assert r.get_checked(0, "entry", absent, rejected) == (b"VALUE", 1e12)
    assert r.get_checked(0, "plain", absent, rejected) == b"plain bytes"
    assert r.get_checked(0, "broken", absent, rejected) is rejected
    assert unpack_envelope(c.get("broken"), bytes) is MISSING  # never served by the socket path
    assert c.get("nothing") is None
    wait_for(lambda: r.get_checked(0, "nothing", absent, rejected) is absent, 2,
             what="a negative entry")
    c.set("tag:b", b"43")  # the tag moved: the entry is no longer confirmed
    assert r.get_checked(0, "entry", absent, rejected) is rejected
    c.delete("tag:b")  # not in L1 at all: not confirmed either
    assert r.get_checked(0, "entry", absent, rejected) is rejected
    with pytest.raises(TypeError):
        r.get_checked(0, "entry")


def test_a_tagged_entry_pickled_whole_is_still_read(cluster, django_caches):
    """Entries written before the header layout (the envelope tuple pickled whole) are opened
    on every path: the socket's, and the direct read's once L1 holds them; a moved tag still
    rejects them."""
    from tiercache.features import MARK
    a, b = django_caches
    tag = a.make_key("tiercache:tag:t0")
    a._tc_conn().set(tag, b"17")
    old = (MARK, {"v": 1}, (tag,), [b"17"], None, None)
    a._tc_conn().set(a.make_key("old"), a.client.encode(old))
    for cache in (a, b):
        for _ in range(5):
            assert cache.get("old") == {"v": 1}
    assert a._reader is not None and a._reader.get(0, a.make_key("old")) is not None
    a._tc_conn().set(tag, b"18")
    wait_for(lambda: a.get("old") is None and b.get("old") is None, 2,
             what="the moved tag rejects the old entry on both hosts")
