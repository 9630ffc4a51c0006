"""Negative entries (--l1-negative, default on): a GET, MGET or EXISTS that finds a key absent
at the L2 leaves an entry in L1 saying so, and the next read of that key on the host (through
the socket, or directly from the segment) answers nil without asking the L2.

What must hold (docs/coherence.md, "Negative entries"): a negative entry is dropped by the
same invalidations as a value, so a write of the key on either host is seen on both within
the propagation bound, through the socket and through direct readers; a key of another type
(MGET's nil for a hash) is never cached as absent; the fill guard drops a negative fill that
raced with a write; --l1-negative off caches nothing."""

import time

import pytest
import redis

import django_setup  # noqa: F401  (Django settings; tiercache on sys.path)
from sidecars import wait_for, write_while_reading
from tiercache import _l1

ABSENT = object()
BOUND = 2.0  # seconds: the propagation bound the other sidecar tests use


def reader_for(sc):
    r = _l1.Reader(sc.shm_name, sc.info()["l1_direct_max_staleness_ms"])
    wait_for(lambda: r.serving, 2, what="%s vouches for its segment" % sc.name)
    return r


def fetches(sc):
    return sc.info()["l2_fetches"]


def read_absent(sc, client, reader, key):
    """Reads key through sc until L1 holds it as absent (the direct reader says so)."""
    def known_absent():
        assert client.get(key) is None
        return reader.get(0, key, ABSENT) is ABSENT
    wait_for(known_absent, 2, what="%r cached as absent on %s" % (key, sc.name))


@pytest.mark.parametrize("writer", ["a", "b"])
def test_absent_on_both_hosts_then_written_is_seen_on_both(cluster, writer):
    a, b = cluster.a, cluster.b
    ca, cb = a.client(), b.client()
    ra, rb = reader_for(a), reader_for(b)
    for i in range(10):
        key = "neg:%s:%d" % (writer, i)
        read_absent(a, ca, ra, key)
        read_absent(b, cb, rb, key)
        f_a, f_b = fetches(a), fetches(b)
        assert ca.get(key) is None and cb.get(key) is None  # from L1: no fetch
        assert ca.mget(key, key) == [None, None] and cb.exists(key) == 0
        assert (fetches(a), fetches(b)) == (f_a, f_b)
        assert (cb if writer == "b" else ca).set(key, "v%d" % i) is True
        acked = time.monotonic()
        for sc, c, r in ((a, ca, ra), (b, cb, rb)):
            wait_for(lambda: c.get(key) == b"v%d" % i, BOUND,
                     what="the write of %r seen through %s's socket" % (key, sc.name))
            wait_for(lambda: r.get(0, key, ABSENT) in (None, b"v%d" % i), BOUND,
                     what="the write of %r seen by %s's direct reader" % (key, sc.name))
        assert time.monotonic() - acked < BOUND
        # Never absent again on either host once the write was seen.
        for c, r in ((ca, ra), (cb, rb)):
            assert c.get(key) == b"v%d" % i
            assert r.get(0, key, ABSENT) is not ABSENT
    info = a.info()
    assert info["negative_fills"] >= 10 and info["l1_negative_hits"] >= 20
    assert info["l1_direct_negative_hits"] >= 10
    assert info["l1_negative"] == 1


def test_delete_makes_a_key_absent_on_both(cluster):
    """The other direction: a value cached on both hosts, deleted on one, is then read absent
    (and cached as absent) on both."""
    a, b = cluster.a, cluster.b
    ca, cb = a.client(), b.client()
    ra, rb = reader_for(a), reader_for(b)
    ca.set("d", "v")
    wait_for(lambda: cb.get("d") == b"v" and ca.get("d") == b"v", 2)
    assert cb.delete("d") == 1
    for sc, c, r in ((a, ca, ra), (b, cb, rb)):
        wait_for(lambda: c.get("d") is None, BOUND, what="the DEL seen on %s" % sc.name)
        read_absent(sc, c, r, "d")


def test_mget_and_exists_mix_values_and_negatives(cluster):
    a = cluster.a
    ca = a.client()
    ca.set("v1", "one")
    assert ca.mget("v1", "n1", "n2") == [b"one", None, None]
    assert ca.exists("v1", "n1", "n2", "v1", "n3") == 2
    f = fetches(a)
    negative_hits = a.info()["l1_negative_hits"]
    # Every key is known to L1 now: values and negatives answer without the L2.
    assert ca.mget("n1", "v1", "n2", "n3") == [None, b"one", None, None]
    assert ca.exists("n1", "v1", "n2", "n3", "v1") == 2
    assert ca.strlen("n1") == 0
    assert fetches(a) == f
    assert a.info()["l1_negative_hits"] == negative_hits + 7
    # A write through A ends A's negative entry at once (read-your-writes).
    ca.set("n1", "now")
    assert ca.mget("n1", "n2") == [b"now", None]
    assert ca.exists("n1", "n2") == 1


def test_a_key_of_another_type_is_never_cached_as_absent(cluster):
    """MGET answers nil for a hash: that is not absence (EXISTS 1, GET WRONGTYPE)."""
    a = cluster.a
    ca = a.client()
    cluster.l2_client().hset("h", "f", "x")
    for _ in range(3):
        assert ca.mget("h", "v") == [None, None]
        assert ca.exists("h", "v") == 1
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            ca.get("h")
    assert ca.exists("v") == 0


def test_negative_entries_off(make_cluster):
    c = make_cluster()
    a = c.sidecar("a", l1_max_ttl_ms=60000, l1_negative="off")
    ca = a.client()
    r = reader_for(a)
    for _ in range(3):
        assert ca.get("nothing") is None
        assert ca.mget("nothing", "nada") == [None, None]
        assert ca.exists("nothing") == 0
    info = a.info()
    assert info["l1_negative"] == 0
    assert info["negative_fills"] == 0 and info["l1_negative_hits"] == 0
    assert info["l2_fetches"] == 9  # every GET and MGET key asked the L2...
    assert info["passthrough"] >= 3  # ...and every EXISTS, as it is
    assert r.get(0, "nothing", ABSENT) is None


def test_negative_fill_racing_a_write_on_the_other_host(make_cluster, proxy_factory):
    """A's reads of absent keys are in flight (slow data path, fast bus) while B writes the
    keys: once B's write is acknowledged and the bound has passed, A answers the values, never
    nil from a negative entry filled by the racing read."""
    c = make_cluster()
    proxy = proxy_factory(("127.0.0.1", c.l2.port), delay_us=1500, subscriber_delay_us=0)
    a = c.sidecar("a", via=proxy.address, l1_max_ttl_ms=60000)
    b = c.sidecar("b", l1_max_ttl_ms=60000)
    cb = b.client()
    stale = []
    for rnd in range(20):
        keys = ["race%d:%d" % (rnd, i) for i in range(30)]
        readers = [a.client() for _ in range(3)]

        def read(client, ks):
            client.mget(ks)
            for k in ks:
                client.get(k)
                client.exists(k)

        acked = write_while_reading(readers, keys, read, cb, 0.001 * (rnd % 4))
        # Within the propagation bound (a fill the guard let through would stay for the
        # minute-long L1 TTL, so waiting for the bound still catches it), then every key.
        ca = a.client()
        while (ca.mget(keys) != [b"new"] * len(keys)
               and time.monotonic() < acked + BOUND):
            time.sleep(0.01)
        stale += [(k, v) for k in keys for v in [ca.get(k)] if v != b"new"]
        stale += [(k, v) for k, v in zip(keys, ca.mget(keys)) if v != b"new"]
    info = a.info()
    assert not stale, "%d stale reads on A, e.g. %r; %r" % (len(stale), stale[:5], info)
    assert info["fills_discarded"] > 0, info  # the race was exercised


def test_django_get_of_an_absent_key_stays_off_the_socket(cluster):
    from django.core.cache import caches
    from django.test.utils import override_settings

    def conf(sc):
        return {"BACKEND": "tiercache.django_cache.TierCache",
                "LOCATION": "unix://%s?db=0" % sc.socket,
                "OPTIONS": {"SOCKET_TIMEOUT": 5}}
    a, b = cluster.a, cluster.b
    with override_settings(CACHES={"default": conf(a), "hostb": conf(b)}):
        a_cache, b_cache = caches["default"], caches["hostb"]
        assert a_cache.get("flag") is None  # through the socket: A caches it as absent
        assert b_cache.get("flag") is None
        wait_for(lambda: a_cache.get("flag", "d") == "d" and
                 a.info()["l1_direct_negative_hits"] > 0, 2, what="a direct negative hit")
        cmds = a.info("stats")["total_commands_processed"]
        for _ in range(200):
            assert a_cache.get("flag", "dflt") == "dflt"
            assert not a_cache.has_key("flag")
            assert a_cache.get_many(["flag"]) == {}
        assert a.info("stats")["total_commands_processed"] == cmds + 1  # the INFO above
        b_cache.set("flag", True, timeout=300)
        wait_for(lambda: a_cache.get("flag") is True, BOUND, what="B's write seen by A")
        assert b_cache.get("flag") is True
        a_cache.delete("flag")
        wait_for(lambda: b_cache.get("flag", "gone") == "gone", BOUND, what="A's delete on B")
        a_cache.close()
        b_cache.close()
