"""Blocking commands and WATCH through the sidecar (issue #15; sidecar/pinned.cc): the client
gets an L2 connection of its own, so a blocked client never stalls the others and a WATCH
watches for that client only. Blocking pops are woken by writes from any host and straight at
the L2, time out as the L2 says, keep the client's order, and invalidate what they moved; a
disconnect frees the L2 connection; WATCH ... EXEC answers nil on a conflict whoever wrote, and
the same exchanges answer as on a direct L2 connection (redis-server or tiercache-l2)."""

import signal
import threading
import time

import pytest

from helpers import RespError, encode
from sidecars import wait_for

DEADLINE = 5.0  # for conditions waited on; generous, the machine is busy


def l2_raw(cluster):
    return cluster.l2.raw(auth=True)  # authenticated when the L2 has a password (acl links)


def ctl(cluster):
    """One direct L2 client per cluster for the checks (no connection left behind per check)."""
    if not hasattr(cluster, "ctl"):
        cluster.ctl = cluster.l2_client()
    return cluster.ctl


def l2_blpop_clients(cluster):
    """The L2's client connections whose last command is BLPOP (CLIENT LIST)."""
    text = ctl(cluster).execute_command("CLIENT", "LIST")
    if isinstance(text, bytes):
        text = text.decode()
    return [line for line in text.splitlines() if "cmd=blpop" in line]


def blocked_clients(cluster):
    return int(ctl(cluster).info("clients")["blocked_clients"])


def wait_blocked(cluster, n):
    wait_for(lambda: blocked_clients(cluster) == n, DEADLINE,
             what="%d clients blocked at the L2" % n)


def test_blpop_woken_by_another_host_and_by_a_direct_l2_write(cluster):
    r = cluster.a.raw()
    r.send(encode("BLPOP", "q", "0"))
    wait_blocked(cluster, 1)
    r.assert_no_reply(0.1)
    assert cluster.b.client().lpush("q", "from-b") == 1
    assert r.read_reply(DEADLINE) == [b"q", b"from-b"]
    r.send(encode("BRPOP", "q", "q2", "0"))
    wait_blocked(cluster, 1)
    assert cluster.l2_client().rpush("q2", "direct") == 1
    assert r.read_reply(DEADLINE) == [b"q2", b"direct"]
    # Blocking commands on other types and with moves.
    r.send(encode("BZPOPMIN", "z", "0"))
    wait_blocked(cluster, 1)
    cluster.b.client().zadd("z", {"m": 1.5})
    assert r.read_reply(DEADLINE) == [b"z", b"m", b"1.5"]
    r.send(encode("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"))
    wait_blocked(cluster, 1)
    cluster.l2_client().rpush("src", "moved")
    assert r.read_reply(DEADLINE) == b"moved"
    assert cluster.b.client().lrange("dst", 0, -1) == [b"moved"]
    assert r.cmd("BLMPOP", "0", "2", "none", "dst", "LEFT") == [b"dst", [b"moved"]]
    assert cluster.a.info("clients")["dedicated_links"] == 1  # one link, kept


def test_blpop_timeout_answers_nil_after_that_time(cluster):
    r = cluster.a.raw()
    t0 = time.monotonic()
    assert r.cmd("BLPOP", "nothing", "1", timeout=15) is None
    took = time.monotonic() - t0
    assert 0.9 <= took < 10, took  # not cut short; the upper bound only catches a hang
    t0 = time.monotonic()
    assert r.cmd("BRPOPLPUSH", "nothing", "x", "0.3", timeout=15) is None
    assert time.monotonic() - t0 >= 0.25
    # The L2's own errors come back as they are.
    reply = r.cmd("BLPOP", "q", "-1")
    assert isinstance(reply, RespError) and "timeout is negative" in reply, reply


def test_blocked_clients_do_not_stall_the_others(cluster):
    blocked = []
    for i in range(20):
        r = cluster.a.raw()
        r.send(encode("BLPOP", "bq%d" % i, "0"))
        blocked.append(r)
    wait_blocked(cluster, 20)
    assert cluster.a.info("clients")["dedicated_links"] == 20
    errors = []

    def work(n):
        try:
            c = cluster.a.client(socket_timeout=DEADLINE)
            for j in range(100):
                assert c.set("w%d:%d" % (n, j), j) is True
                assert c.get("w%d:%d" % (n, j)) == str(j).encode()
                assert c.incr("counter") >= 1
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(repr(e))
    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert int(cluster.a.client().get("counter")) == 800
    assert blocked_clients(cluster) == 20  # still blocked, not answered
    for r in blocked:
        r.assert_no_reply(0.01)
    l2 = cluster.l2_client()
    for i in range(20):
        l2.rpush("bq%d" % i, "v%d" % i)
    for i, r in enumerate(blocked):
        assert r.read_reply(DEADLINE) == [b"bq%d" % i, b"v%d" % i]


def test_a_blocked_client_that_disconnects_frees_its_l2_connection(cluster):
    r = cluster.a.raw()
    r.send(encode("BLPOP", "gone", "0"))
    wait_blocked(cluster, 1)
    assert len(l2_blpop_clients(cluster)) == 1
    r.close()
    wait_for(lambda: not l2_blpop_clients(cluster), DEADLINE, what="the L2 connection closed")
    assert blocked_clients(cluster) == 0
    wait_for(lambda: cluster.a.info("clients")["dedicated_links"] == 0, DEADLINE,
             what="the dedicated link released")
    # Nothing is popped for the client that left.
    cluster.l2_client().rpush("gone", "kept")
    assert cluster.b.client().lrange("gone", 0, -1) == [b"kept"]


def test_pipelined_commands_run_after_the_blocked_command(cluster):
    """As in Redis: what the client sent after BLPOP runs once it unblocks (the SET is not
    visible while it waits), and a command that pins waits for the client's earlier commands
    (the SET before WATCH runs first, so EXEC commits)."""
    r = cluster.a.raw()
    r.send(encode("BLPOP", "pq", "0") + encode("SET", "after", "1") + encode("GET", "after")
           + encode("LPUSH", "pq", "mine"))
    wait_blocked(cluster, 1)
    b = cluster.b.client()
    assert b.get("after") is None
    r.assert_no_reply(0.1)
    b.rpush("pq", "theirs")
    assert r.read_replies(4, DEADLINE) == [[b"pq", b"theirs"], "OK", b"1", 1]
    assert b.lrange("pq", 0, -1) == [b"mine"]
    r.send(encode("SET", "w", "1") + encode("WATCH", "w") + encode("MULTI")
           + encode("SET", "w", "2") + encode("EXEC"))
    assert r.read_replies(5, DEADLINE) == ["OK", "OK", "OK", "QUEUED", ["OK"]]
    assert b.get("w") == b"2"


def cache_negative(sc, key):
    """key absent and cached as such on sc (the second read is an L1 hit)."""
    c = sc.client()
    deadline = time.monotonic() + DEADLINE
    while True:
        hits = sc.info()["l1_hits"]
        if c.get(key) is None and sc.info()["l1_hits"] == hits + 1:
            return c
        assert time.monotonic() < deadline, "%s never cached on %s" % (key, sc.name)
        time.sleep(0.01)


def test_a_blocking_move_invalidates_its_keys_on_every_host(cluster):
    cluster.a.settle()
    cluster.b.settle()
    cb = cache_negative(cluster.b, "dst")
    ca = cache_negative(cluster.a, "dst")
    r = cluster.a.raw()
    r.send(encode("BLMOVE", "src", "dst", "LEFT", "LEFT", "0"))
    wait_blocked(cluster, 1)
    cluster.b.client().rpush("src", "v")
    assert r.read_reply(DEADLINE) == b"v"

    def wrongtype(c):
        try:
            c.get("dst")
        except Exception as e:  # noqa: BLE001
            return "WRONGTYPE" in str(e)
        return False
    wait_for(lambda: wrongtype(cb), 2, what="B drops its copy of dst")
    assert wrongtype(ca)  # this host at once: the pop answered after its invalidation


# WATCH ... EXEC, played through the sidecar and on a direct L2 connection: same replies.

def watch_conflict(conn, writer):
    """WATCH k, a write from elsewhere, MULTI SET EXEC: nil."""
    out = [conn.cmd("SET", "k", "0"), conn.cmd("WATCH", "k"), conn.cmd("GET", "k")]
    writer("k", "other")
    out += [conn.cmd("MULTI"), conn.cmd("SET", "k", "mine"), conn.cmd("EXEC"),
            conn.cmd("GET", "k")]
    return out


@pytest.mark.parametrize("who", ["same-host", "other-host", "l2"])
def test_watch_conflict_answers_nil(cluster, who):
    writer = {"same-host": cluster.a.client(), "other-host": cluster.b.client(),
              "l2": cluster.l2_client()}[who]

    def write(k, v):
        assert writer.set(k, v) is True
    via_sidecar = watch_conflict(cluster.a.raw(), write)
    direct = watch_conflict(l2_raw(cluster), write)
    assert via_sidecar == direct == ["OK", "OK", b"0", "OK", "QUEUED", None, b"other"]
    assert cluster.b.client().get("k") == b"other"


def test_watch_read_is_not_an_old_l1_copy(cluster, source):
    """Between WATCH and EXEC the client reads what the L2 holds, not its host's L1 copy."""
    if source != "tracking":
        pytest.skip("a write straight at the L2 is heard only with the tracking source")
    a = cluster.a.client()
    cluster.l2_client().set("rk", "old")
    wait_for(lambda: a.get("rk") == b"old" and a.get("rk") == b"old", DEADLINE)
    r = cluster.a.raw()
    assert r.cmd("WATCH", "rk") == "OK"
    hits = cluster.a.info()["l1_hits"]
    assert r.cmd("GET", "rk") == b"old"
    assert cluster.a.info()["l1_hits"] == hits  # from the L2
    assert r.cmd("MULTI") == "OK"
    assert r.cmd("SET", "rk", "new") == "QUEUED"
    assert r.cmd("EXEC") == ["OK"]


def test_watch_without_conflict_commits_and_invalidates(cluster):
    b = cluster.b.client()
    a = cluster.a.client()
    a.set("k", "old")
    cluster.b.settle()
    wait_for(lambda: b.get("k") == b"old" and b.get("k") == b"old", DEADLINE)
    hits = cluster.b.info()["l1_hits"]
    assert b.get("k") == b"old" and cluster.b.info()["l1_hits"] == hits + 1  # cached on B
    r = cluster.a.raw()
    assert r.cmd("WATCH", "k", "k2") == "OK"
    assert r.cmd("GET", "k") == b"old"
    assert r.cmd("MULTI") == "OK"
    assert r.cmd("SET", "k", "new") == "QUEUED"
    assert r.cmd("INCR", "k2") == "QUEUED"
    assert r.cmd("EXEC") == ["OK", 1]
    wait_for(lambda: b.get("k") == b"new", 2, what="B drops its copy")
    assert a.get("k") == b"new"
    # After EXEC the client is unwatched: a later conflict does not matter.
    b.set("k", "b")
    assert r.cmd("MULTI") == "OK"
    assert r.cmd("SET", "k", "again") == "QUEUED"
    assert r.cmd("EXEC") == ["OK"]


def unwatched(conn, writer, how, password=None):
    """password: the connection's, sent again after RESET (which logs a direct L2 client out)."""
    out = [conn.cmd("WATCH", "u")]
    if how == "UNWATCH":
        out.append(conn.cmd("UNWATCH"))
    elif how == "DISCARD":
        out += [conn.cmd("MULTI"), conn.cmd("DISCARD")]
    else:
        out.append(conn.cmd("RESET"))
        if password is not None:
            assert conn.cmd("AUTH", password) == "OK"
    writer.set("u", "other")
    out += [conn.cmd("MULTI"), conn.cmd("SET", "u", "mine"), conn.cmd("EXEC"),
            conn.cmd("GET", "u")]
    return out


@pytest.mark.parametrize("how", ["UNWATCH", "DISCARD", "RESET"])
def test_unwatch_discard_reset_forget_the_watch(cluster, how):
    writer = cluster.b.client()
    via_sidecar = unwatched(cluster.a.raw(), writer, how)
    direct = unwatched(l2_raw(cluster), writer, how, cluster.l2.password)
    assert via_sidecar == direct
    assert via_sidecar[-2:] == [["OK"], b"mine"]


def test_execabort_unwatches_as_redis(cluster):
    def play(conn):
        out = [conn.cmd("WATCH", "ea"), conn.cmd("MULTI"), conn.cmd("NOSUCHCMD"),
               conn.cmd("EXEC")]
        cluster.b.client().set("ea", "x")
        out += [conn.cmd("MULTI"), conn.cmd("SET", "ea", "y"), conn.cmd("EXEC")]
        return [str(v)[:20] if isinstance(v, RespError) else v for v in out]
    assert play(cluster.a.raw()) == play(l2_raw(cluster))


def null_replies(conn, writer):
    """Replies that are a null array (`*-1`) or a null bulk (`$-1`) in RESP2, as bytes: a
    blocking pop's timeout, a pop from nothing (alone and inside EXEC), an EXEC a WATCH
    aborted, missing fields."""
    def raw(*args):
        conn.send(encode(*args))
        return conn.read_reply_bytes(timeout=15)
    out = [raw("GET", "nothing"), raw("BRPOP", "nothing", "0.1"),
           raw("BLMPOP", "0.1", "1", "nothing", "LEFT"), raw("BZPOPMIN", "nothing", "0.1"),
           raw("LMPOP", "1", "nothing", "LEFT"), raw("ZMPOP", "1", "nothing", "MIN"),
           raw("HMGET", "nothing", "f1", "f2"), raw("MULTI"), raw("LMPOP", "1", "nothing", "LEFT"),
           raw("GET", "nothing"), raw("EXEC"), raw("WATCH", "nk")]
    writer.set("nk", "other")
    out += [raw("MULTI"), raw("SET", "nk", "mine"), raw("EXEC")]
    return out


def test_null_arrays_and_null_bulks_are_relayed_byte_for_byte(cluster):
    writer = cluster.b.client()
    via_sidecar = null_replies(cluster.a.raw(), writer)
    direct = null_replies(l2_raw(cluster), writer)
    assert via_sidecar == direct
    assert via_sidecar[:7] == [b"$-1\r\n", b"*-1\r\n", b"*-1\r\n", b"*-1\r\n", b"*-1\r\n",
                               b"*-1\r\n", b"*2\r\n$-1\r\n$-1\r\n"]
    assert via_sidecar[10] == b"*2\r\n*-1\r\n$-1\r\n"  # inside EXEC
    assert via_sidecar[-1] == b"*-1\r\n"  # the WATCH aborted it


def test_dedicated_link_limit(make_cluster):
    c = make_cluster()
    a = c.sidecar("a", max_dedicated_links=1)
    first = a.raw()
    first.send(encode("BLPOP", "lq", "0"))
    wait_blocked(c, 1)
    second = a.raw()
    for req in (("BLPOP", "lq", "0"), ("WATCH", "lk")):
        reply = second.cmd(*req)
        assert reply == ("ERR max number of dedicated L2 connections reached "
                         "(max-dedicated-links 1)"), reply
    assert a.info("stats")["dedicated_links_refused"] == 2
    assert second.cmd("SET", "lk", "1") == "OK"  # the client goes on
    first.close()
    wait_for(lambda: a.info("clients")["dedicated_links"] == 0, DEADLINE)
    assert second.cmd("BLPOP", "lq", "0.1") is None


def test_l2_down_fails_blocking_commands_fast(cluster):
    r = cluster.a.raw()
    r.send(encode("BLPOP", "dq", "0"))
    wait_blocked(cluster, 1)
    cluster.l2.stop(signal.SIGKILL)
    reply = r.read_reply(DEADLINE)
    assert isinstance(reply, RespError) and "tiercache: L2 unavailable" in reply, reply
    wait_for(lambda: cluster.a.info()["l2_connected"] == 0, DEADLINE)
    for req in (("BLPOP", "dq", "0"), ("WATCH", "dk")):
        t0 = time.monotonic()
        reply = cluster.a.raw().cmd(*req)
        assert isinstance(reply, RespError) and "tiercache: L2 unavailable" in reply, \
            reply
        assert time.monotonic() - t0 < 1.0
