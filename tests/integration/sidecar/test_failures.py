"""Failures: the invalidation bus lost (subscription killed or blocked, sequence gap, garbage on
the channel), the L2 down or hung, the connection to L2 cut in the middle of writes.

The rules (docs/coherence.md): no L1 hit while the bus is unhealthy, a flush before L1 serves
again, a clear -ERR at once when L2 is unavailable, and no write acknowledged that L2 did not
store."""

import signal
import struct
import threading
import time

import pytest
import redis

from helpers import RespError
from sidecars import link_port, skip_over_tls, wait_for

CHANNEL = "tiercache:invalidate"


def cache_on(sc, client, key, value, written_elsewhere=False):
    """Read key on sc until it is an L1 hit with `value` (see test_propagation.assert_cached).
    A value written through sc must be read at once (read-your-writes); one written through
    another host may still read old until its invalidation arrives (within the 2 s here)."""
    def hit():
        before = sc.info()["l1_hits"]
        got = client.get(key)
        if written_elsewhere and got != value:
            return False
        assert got == value
        return sc.info()["l1_hits"] == before + 1
    wait_for(hit, 2, what="%r cached" % key)


def test_blocked_bus_means_no_l1_hits_until_resubscribed(make_cluster, proxy_factory):
    skip_over_tls()
    c = make_cluster()
    proxy = proxy_factory(("127.0.0.1", c.l2.port))
    a = c.sidecar("a", via=proxy.address, l1_max_ttl_ms=60000, bus_heartbeat_ms=50,
                  bus_timeout_ms=300, l2_reconnect_max_ms=100)
    b = c.sidecar("b", l1_max_ttl_ms=60000)
    ca, cb = a.client(), b.client()
    cb.set("k", "v0")
    cache_on(a, ca, "k", b"v0")
    resets = a.info()["bus_resets"]

    # Take the bus away: every connection that subscribes is closed; the data path stays.
    proxy.block_subscribe = True
    proxy.cut()
    wait_for(lambda: a.info()["bus_healthy"] == 0, 2, what="bus unhealthy")
    wait_for(lambda: a.info()["l2_connected"] == 1, 2, what="data path reconnected")
    info0 = a.info()
    assert info0["bus_resets"] > resets
    for i in range(1, 30):
        assert cb.set("k", "v%d" % i) is True
        # No invalidation can reach A, yet A answers the new value at once: it reads L2.
        assert ca.get("k") == b"v%d" % i
        assert ca.mget("k", "nope") == [b"v%d" % i, None]
        assert ca.exists("k") == 1
    time.sleep(0.4)  # longer than the bus timeout: still unhealthy, still no hits
    info1 = a.info()
    assert info1["bus_healthy"] == 0
    assert info1["l1_hits"] == info0["l1_hits"], "L1 hits served while the bus was unhealthy"
    assert info1["l1_bypassed"] >= info0["l1_bypassed"] + 58

    # Give the bus back: A resubscribes, flushes, and caches again.
    proxy.block_subscribe = False
    wait_for(lambda: a.info()["bus_healthy"] == 1, 3, what="bus healthy again")
    assert ca.get("k") == b"v29"
    cache_on(a, ca, "k", b"v29")
    assert cb.set("k", "v30") is True
    wait_for(lambda: ca.get("k") == b"v30", 2, what="invalidations flow again")


def test_silent_bus_times_out_and_recovers(make_cluster, proxy_factory):
    """The subscription stays connected but nothing arrives on it (and nothing it sends gets
    through): the sidecar's own heartbeats do not come back, so after --bus-timeout-ms it
    stops serving L1, and it resets the subscription itself to recover."""
    skip_over_tls()
    c = make_cluster()
    proxy = proxy_factory(("127.0.0.1", c.l2.port))
    a = c.sidecar("a", via=proxy.address, l1_max_ttl_ms=60000, bus_heartbeat_ms=50,
                  bus_timeout_ms=300)
    b = c.sidecar("b", l1_max_ttl_ms=60000)
    ca, cb = a.client(), b.client()
    cb.set("k", "v0")
    cache_on(a, ca, "k", b"v0")
    proxy.freeze_subscribers = True
    t0 = time.monotonic()
    cb.set("k", "v1")  # its invalidation is lost on the way to A
    wait_for(lambda: a.info()["bus_healthy"] == 0, 3, what="bus unhealthy")
    took = time.monotonic() - t0
    assert 0.2 < took < 1.0, "unhealthy after %.3f s with --bus-timeout-ms 300" % took
    h = a.info()["l1_hits"]
    for i in range(2, 20):
        assert ca.get("k") == b"v%d" % (i - 1)
        cb.set("k", "v%d" % i)
    assert a.info()["l1_hits"] == h
    proxy.freeze_subscribers = False
    wait_for(lambda: a.info()["bus_healthy"] == 1, 5, what="bus healthy again")
    assert ca.get("k") == b"v19"
    cache_on(a, ca, "k", b"v19")
    cb.set("k", "v20")
    wait_for(lambda: ca.get("k") == b"v20", 2, what="invalidations flow again")


def test_unconfirmed_subscription_is_retried(make_cluster, proxy_factory):
    """The bus connects, but its SUBSCRIBE is lost on the way (an L2 that hangs, a proxy that
    accepts and forwards nothing): the sidecar must not wait for the confirmation forever, but
    start over on a fresh connection after --bus-timeout-ms, and become healthy once the way
    is clear again."""
    skip_over_tls()
    c = make_cluster()
    proxy = proxy_factory(("127.0.0.1", c.l2.port))
    proxy.freeze_subscribers = True  # from the first SUBSCRIBE on
    a = c.sidecar("a", via=proxy.address, wait_bus=False, l1_max_ttl_ms=60000,
                  bus_heartbeat_ms=50, bus_timeout_ms=300, l2_reconnect_max_ms=100)
    wait_for(lambda: a.info()["l2_connected"] == 1, 5, what="data path connected")
    time.sleep(1.0)
    assert a.info()["bus_healthy"] == 0
    proxy.freeze_subscribers = False  # the frozen connection stays silent: only a retry helps
    wait_for(lambda: a.info()["bus_healthy"] == 1, 5, what="bus healthy on a fresh connection")
    b = c.sidecar("b")  # the writer (the publish source hears sidecars' writes only)
    ca, cb = a.client(), b.client()
    ca.set("k", "v0")
    cache_on(a, ca, "k", b"v0")
    cb.set("k", "v1")
    wait_for(lambda: ca.get("k") == b"v1", 2, what="invalidations flow")


def test_killed_subscription_loses_no_invalidation(cluster):
    """CLIENT KILL TYPE pubsub at L2 while B writes: A may miss the message, but must have
    flushed before it serves L1 again, so A never answers the old value after the bound."""
    a, b = cluster.a, cluster.b
    ca, cb = a.client(), b.client()
    l2 = cluster.l2_client()
    resets = a.info()["bus_resets"]
    for i in range(15):
        cb.set("k", "v%d" % i)
        cache_on(a, ca, "k", b"v%d" % i, written_elsewhere=True)
        assert l2.client_kill_filter(_type="pubsub") >= 2  # both sidecars' subscriptions
        cb.set("k", "v%d+" % i)  # published while A is (probably) not subscribed
        acked = time.monotonic()
        time.sleep(max(0, acked + 0.05 - time.monotonic()))
        assert ca.get("k") == b"v%d+" % i, "old value served after the subscription was killed"
        wait_for(lambda: a.info()["bus_healthy"] == 1, 3, what="A resubscribed")
        wait_for(lambda: b.info()["bus_healthy"] == 1, 3, what="B resubscribed")
        assert ca.get("k") == b"v%d+" % i
    assert a.info()["bus_resets"] >= resets + 15


def _message(origin, seq, db, keys):
    """An invalidation message, msgpack by hand: [1, origin, seq, sent_at_us, [[db, false,
    [keys]]]] (sidecar/invalidation/message.h)."""
    out = b"\x95\x01" + b"\xcf" + struct.pack(">Q", origin) + b"\xcf" + struct.pack(">Q", seq)
    out += b"\xcf" + struct.pack(">Q", int(time.time() * 1e6))
    out += b"\x91\x93" + b"\xce" + struct.pack(">I", db) + b"\xc2"
    out += bytes([0x90 | len(keys)]) + b"".join(b"\xc4" + bytes([len(k)]) + k for k in keys)
    return out


def test_sequence_gap_and_garbage_flush_l1(cluster, source):
    if source != "publish":
        pytest.skip("sequenced messages are the publish source's (the L2's tracking messages "
                    "have no sequence; malformed ones: test_bypassing_writes.py)")
    a = cluster.a
    ca, l2 = a.client(), cluster.l2_client()
    for k in ("g1", "g2", "g3"):
        ca.set(k, "v")
        cache_on(a, ca, k, b"v")
    origin = 0x1234567890
    # A forged origin: message 1 drops g1 only.
    assert l2.publish(CHANNEL, _message(origin, 1, 0, [b"g1"])) == 2
    wait_for(lambda: a.info()["invalidations_received"] >= 1, 2)
    h = a.info()["l1_hits"]
    assert ca.get("g1") == b"v" and ca.get("g2") == b"v"
    assert a.info()["l1_hits"] == h + 1  # g1 was dropped, g2 still cached
    cache_on(a, ca, "g1", b"v")
    # Message 3 after 1: message 2 was lost, so A cannot know what to drop: it drops all.
    gaps, flushes = a.info()["bus_gaps"], a.info()["l1_flushes"]
    l2.publish(CHANNEL, _message(origin, 3, 0, [b"other"]))
    wait_for(lambda: a.info()["bus_gaps"] == gaps + 1, 2, what="gap seen")
    assert a.info()["l1_flushes"] > flushes
    h = a.info()["l1_hits"]
    assert [ca.get(k) for k in ("g1", "g2", "g3")] == [b"v"] * 3
    assert a.info()["l1_hits"] == h, "a value cached before the gap was served"
    # Garbage on the channel: cannot be trusted either.
    for k in ("g1", "g2"):
        cache_on(a, ca, k, b"v")
    bad = a.info()["bus_bad_messages"]
    l2.publish(CHANNEL, b"\x00garbage")
    wait_for(lambda: a.info()["bus_bad_messages"] == bad + 1, 2)
    h = a.info()["l1_hits"]
    assert ca.get("g1") == b"v"
    assert a.info()["l1_hits"] == h
    assert a.info()["bus_healthy"] == 1
    cache_on(a, ca, "g1", b"v")


def _timed(fn):
    t0 = time.monotonic()
    try:
        v = fn()
    except redis.ResponseError as e:
        v = RespError(str(e))
    return v, time.monotonic() - t0


def test_l2_down_gives_clear_error_fast_and_recovers(cluster):
    a, b = cluster.a, cluster.b
    ca = a.client()
    ca.set("k", "v")
    cache_on(a, ca, "k", b"v")
    hits = a.info()["l1_hits"]
    cluster.l2.stop(signal.SIGKILL)
    wait_for(lambda: a.info()["l2_connected"] == 0, 2)
    wait_for(lambda: a.info()["bus_healthy"] == 0, 2)
    worst = 0.0
    for i in range(20):
        for fn in (lambda: ca.get("k"), lambda: ca.get("other"), lambda: ca.set("k", "x"),
                   lambda: ca.mget("k", "other"), lambda: ca.incr("n"), lambda: ca.delete("k"),
                   lambda: ca.exists("k"), lambda: ca.dbsize()):
            v, took = _timed(fn)
            worst = max(worst, took)
            assert isinstance(v, RespError) and v.startswith("tiercache: L2 unavailable"), v
    assert worst < 0.25, "slowest error reply took %.3f s" % worst
    info = a.info()
    assert info["l1_hits"] == hits, "cached value served while L2 (and the bus) was down"
    assert info["l2_errors"] >= 160
    # Local commands still work.
    assert ca.ping() is True
    # L2 back (empty: it was killed): the sidecars reconnect, resubscribe, serve again.
    cluster.restart_l2()
    wait_for(lambda: a.info()["bus_healthy"] == 1 and a.info()["l2_connected"] == 1, 5,
             what="A back")
    # Each of a sidecar's L2 connections comes back on its own backoff: B's writes need B's
    # data link, not only its bus.
    wait_for(lambda: b.info()["bus_healthy"] == 1 and b.info()["l2_connected"] == 1, 5,
             what="B back")
    assert ca.get("k") is None  # not the value cached before the outage
    assert ca.set("k", "again") is True
    cache_on(a, ca, "k", b"again")
    b.client().set("k", "fromB")
    wait_for(lambda: ca.get("k") == b"fromB", 2, what="invalidations flow after restart")


def test_deep_pipeline_of_large_replies_is_slow_not_dead(make_cluster, proxy_factory):
    """l2-timeout-ms judges an L2 that has gone silent, not a pipeline that takes long to arrive:
    100 GET misses of 64 KiB values through a link paced at 2 MiB/s take about 3 s to come back,
    ten times the timeout, with a reply every 32 ms; all are answered and the link stays up."""
    c = make_cluster()
    proxy = proxy_factory(("127.0.0.1", link_port(c.l2.port)))
    a = c.sidecar("a", via=proxy.address, l2_timeout_ms=300)
    direct = c.l2_client()  # written at the L2 itself: every read below is a miss
    values = {"big%d" % i: b"%05d" % i + b"x" * (65536 - 5) for i in range(100)}
    direct.mset(values)
    reconnects = a.info()["l2_reconnects"]
    proxy.down_bytes_per_s = 2 << 20
    p = a.client(socket_timeout=60).pipeline(transaction=False)
    for k in values:
        p.get(k)
    got, took = _timed(p.execute)
    assert not isinstance(got, RespError), got
    wrong = [k for k, v in zip(values, got) if v != values[k]]
    assert not wrong, "%d of 100 replies wrong, e.g. %s" % (len(wrong), wrong[0])
    assert took > 1.0, "pacing did not slow the replies (%.2f s): the test proves nothing" % took
    assert a.info()["l2_reconnects"] == reconnects


def test_hung_l2_times_out(make_cluster):
    c = make_cluster()
    a = c.sidecar("a", l2_timeout_ms=200, bus_timeout_ms=300, bus_heartbeat_ms=50)
    ca = a.client(socket_timeout=5)
    ca.set("k", "v")
    cache_on(a, ca, "k", b"v")
    c.l2.proc.send_signal(signal.SIGSTOP)
    try:
        results = []
        threads = [threading.Thread(target=lambda f=f: results.append(_timed(f)))
                   for f in (lambda: ca.get("miss"), lambda: a.client().set("w", "1"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        for v, took in results:
            assert isinstance(v, RespError) and "L2 unavailable" in v, v
            assert took < 0.6, "error after %.3f s with --l2-timeout-ms 200" % took
        # A cached value may still be served until the bus timeout (no write can be acknowledged
        # meanwhile: L2 is hung); after it, no more.
        wait_for(lambda: a.info()["bus_healthy"] == 0, 2)
        h = a.info()["l1_hits"]
        v, took = _timed(lambda: ca.get("k"))
        assert isinstance(v, RespError) and took < 0.6, (v, took)
        assert a.info()["l1_hits"] == h
    finally:
        c.l2.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: a.info()["bus_healthy"] == 1 and a.info()["l2_connected"] == 1, 5)
    assert ca.get("k") == b"v"


def _behind_resetting_proxy(make_cluster, proxy_factory):
    """A sidecar whose links pass through a proxy that can reset them, l2-timeout-ms 30 s."""
    c = make_cluster()
    proxy = proxy_factory(("127.0.0.1", link_port(c.l2.port)))
    a = c.sidecar("a", via=proxy.address, l2_timeout_ms=30000)
    ca = a.client(socket_timeout=60)
    assert ca.set("k", "v") is True
    return c, proxy, a, ca


def test_reset_idle_link_is_lost_at_once_not_at_the_timeout(make_cluster, proxy_factory):
    """A link the network resets (TCP RST: a load balancer or firewall dropping connections, an
    L2 that died with input unread) is lost at once and reconnects, not when a request on it
    times out. libuv stops watching a socket that reports an error, and hiredis 0.14's own
    adapter ignored that: the link stayed "connected", and every request on it waited out
    l2-timeout-ms (30 s here). Seen as a killed cluster master's keys failing 10 s after the
    kill (test_cluster_failover, ASan loop)."""
    c, proxy, a, ca = _behind_resetting_proxy(make_cluster, proxy_factory)
    reconnects = a.info()["l2_reconnects"]
    proxy.reset()  # every connection, nothing in flight on the data link
    wait_for(lambda: a.info()["l2_reconnects"] > reconnects, 5,
             what="the reset of the idle data link seen (it is lost only at a timeout of 30 s)")
    wait_for(lambda: a.info()["l2_connected"] == 1 and a.info()["bus_healthy"] == 1, 10,
             what="reconnected")
    assert ca.get("k") == b"v"


def test_reset_link_fails_the_request_in_flight_at_once(make_cluster, proxy_factory):
    """The same with a request in flight: it fails at once, naming why, not after 30 s."""
    skip_over_tls()
    c, proxy, a, ca = _behind_resetting_proxy(make_cluster, proxy_factory)
    c.l2.proc.send_signal(signal.SIGSTOP)  # the miss below stays unanswered
    try:
        results = []
        t = threading.Thread(target=lambda: results.append(_timed(lambda: ca.get("miss"))))
        t.start()
        wait_for(lambda: proxy.counter.count("GET", "miss") >= 1, 5, what="the miss forwarded")
        proxy.reset()
        t.join(10)
        assert results, "the request in flight was not answered within 10 s of the reset"
        v, took = results[0]
        assert isinstance(v, RespError) and "L2 unavailable (L2 connection lost: " in v, v
        assert took < 5, "error %.1f s after the request (the timeout is 30 s)" % took
    finally:
        c.l2.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: a.info()["l2_connected"] == 1, 10, what="reconnected")
    assert ca.get("k") == b"v"


def test_writes_acknowledged_only_when_stored(make_cluster, proxy_factory):
    """Writers run while the connection to L2 is cut twice (and refused for a while): every
    write answered OK is in L2 afterwards with its value; the others got a clear error."""
    c = make_cluster()
    proxy = proxy_factory(("127.0.0.1", c.l2.port))
    a = c.sidecar("a", via=proxy.address, l2_reconnect_max_ms=100)
    stop = threading.Event()
    acked, errors, other = [], [], []

    def writer(w):
        cl = a.client(socket_timeout=5)
        i = 0
        while not stop.is_set():
            i += 1
            key, val = "w%d:%d" % (w, i), "%d-%d" % (w, i)
            try:
                if i % 3 == 0:  # a transaction too
                    p = cl.pipeline(transaction=True)
                    p.set(key, val)
                    p.set(key + "t", val)
                    if p.execute() == [True, True]:
                        acked.extend([(key, val), (key + "t", val)])
                elif cl.set(key, val) is True:
                    acked.append((key, val))
                else:
                    other.append(key)
            except redis.ResponseError as e:
                errors.append(str(e))
            except redis.RedisError as e:
                other.append(repr(e))
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for _ in range(2):
        time.sleep(0.3)
        proxy.refuse = True
        proxy.cut()
        time.sleep(0.2)
        proxy.refuse = False
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(10)
    assert not other, other[:5]
    assert len(acked) > 100, len(acked)
    assert errors, "the cut produced no error: the test did not test anything"
    assert all("L2 unavailable" in e or "L2 did not commit" in e for e in errors), errors[:5]
    direct = c.l2_client()
    missing = []
    for i in range(0, len(acked), 500):
        chunk = acked[i:i + 500]
        got = direct.mget([k for k, _ in chunk])
        missing += [(k, v, g) for (k, v), g in zip(chunk, got) if g != v.encode()]
    assert not missing, "%d acknowledged writes not in L2, e.g. %r" % (len(missing), missing[:5])
