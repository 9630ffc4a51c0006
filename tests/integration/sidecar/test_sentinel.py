"""The sidecar in front of Redis Sentinel (l2-mode sentinel, issue 14): on loopback a
redis-server master, one replica and three redis-sentinel processes (each with its own config
file), then a sidecar given only the sentinels. It finds the master, serves reads and writes,
follows SENTINEL FAILOVER and the death (kill -9) of the master to the promoted replica, and
answers nothing cached from the old master once it has switched.

How a "lost write" is provoked: the replica is made writable (replica-read-only no) and a key is
set on it alone, so the replica holds a value the master never had, as the new master does after
an asynchronous failover lost an acknowledged write. After the switch no write reaches the new
master, so no invalidation tells the sidecar: only the flush of L1 on the switch can make it
answer the new master's value instead of the copy it held from the old one.

Sentinel monitors Redis, not tiercache-l2: these tests are not parametrised over the L2
variants. Deadlines are generous (a failover takes down-after-milliseconds, an election and the
promotion; the machine may be busy): they bound polling, never sleep."""

import os
import subprocess
import time

import pytest
import redis

from helpers import RespError, connect_raw, encode
import sidecars
from redis_sentinel import MASTER, REDIS_SENTINEL, Topology
from sidecars import Sidecar, sidecar_binary, wait_for

pytestmark = [
    pytest.mark.skipif(not os.access(REDIS_SENTINEL, os.X_OK),
                       reason="redis-sentinel not installed (Debian package redis-sentinel, "
                              "see scripts/deps.sh)"),
    # The topology here uses plain links without ACLs: the TLS/ACL pass of the sidecar suite
    # (scripts/test.sh) would run it unchanged, a minute for nothing.
    pytest.mark.skipif(bool(sidecars.LINK), reason="plain links only: TIERCACHE_SIDECAR_LINK "
                                                   "does not apply to the Sentinel topology"),
]

FOLLOW_DEADLINE = 30.0  # the sidecar answers from the new master


@pytest.fixture
def topology():
    t = Topology()
    yield t
    t.close()


@pytest.fixture
def sentinel_sidecar(topology):
    sc = Sidecar(topology.sentinels(), "sentinel", l2_mode="sentinel",
                 l2_sentinel_master=MASTER).start()
    yield sc
    assert sc.stop() == 0, sc.stderr()


def server_info(sc):
    return sc.info("server")


def addr(port):
    return "127.0.0.1:%d" % port


def l1_hit(sc, client, key, expected):
    """Reads key until L1 answers it (a hit counted), checking every answer."""
    def hit():
        before = sc.info()["l1_hits"]
        assert client.get(key) == expected
        return sc.info()["l1_hits"] > before
    wait_for(hit, 10.0, interval=0.01, what="%s served from L1" % key)


def diverge(topology, sc, client, key, cached, replica_only):
    """key = cached through the sidecar (replicated, and in its L1); then the replica alone
    gets replica_only: a write the old master "lost", as the new master will hold it."""
    client.set(key, cached)
    # (WAIT from a fresh connection waits for that connection's writes only: none)
    want = cached.decode() if isinstance(cached, bytes) else cached
    wait_for(lambda: topology.redis(topology.replica_port).get(key) == want, 10.0,
             interval=0.01, what="%s replicated" % key)
    l1_hit(sc, client, key, cached)
    topology.redis(topology.replica_port).set(key, replica_only)


def answers_after_switch(client, key, expected, deadline):
    """Reads key through the sidecar until it answers a value (errors meanwhile must be the
    sidecar's clear L2 error); that value must be `expected`. Returns the errors seen."""
    errors = []
    end = time.monotonic() + deadline
    while True:
        try:
            value = client.get(key)
        except redis.ResponseError as e:
            assert "L2 unavailable" in str(e), e
            errors.append(str(e))
        else:
            assert value == expected, ("answered %r, a copy from the old master (expected %r)"
                                       % (value, expected))
            return errors
        assert time.monotonic() < end, "no answer within %.0fs; last error %r" % (
            deadline, errors[-1:])
        time.sleep(0.02)


def test_discovers_serves_and_follows_sentinel_failover(topology, sentinel_sidecar):
    """Discovery, then SENTINEL FAILOVER with a value in L1 that the new master does not hold,
    a client blocked in BLPOP (its dedicated link) and a subscribed client on the old master.
    (One topology for all of it: each costs seconds of sentinel start-up.)"""
    sc = sentinel_sidecar
    info = server_info(sc)
    assert info["l2_mode"] == "sentinel"
    assert info["l2_sentinel_master"] == MASTER
    assert info["l2_master"] == addr(topology.master_port)
    assert info["l2_master_switches"] == 0
    assert info["l2_sentinel"] in topology.sentinels().split(",")
    c = sc.client()
    c.set("greeting", "hello")
    assert topology.redis(topology.master_port).get("greeting") == "hello"
    l1_hit(sc, c, "greeting", b"hello")
    topology.redis(topology.master_port).set("greeting", "changed")  # straight to the master
    wait_for(lambda: c.get("greeting") == b"changed", 10.0, what="the invalidation heard")
    assert c.incr("counter") == 1  # pass-through commands reach the master too
    assert topology.redis(topology.master_port).get("counter") == "1"

    diverge(topology, sc, c, "k", b"from-old-master", "on-new-master")
    blocked = connect_raw(unix_path=sc.socket, timeout=10)
    blocked.send(encode("BLPOP", "queue", "0"))
    subscriber = connect_raw(unix_path=sc.socket, timeout=10)
    assert subscriber.cmd("SUBSCRIBE", "news") == [b"subscribe", b"news", 1]
    wait_for(lambda: topology.redis(topology.master_port).info("clients")["blocked_clients"] == 1,
             10.0, what="BLPOP blocked at the master")
    flushes = sc.info()["l1_flushes"]

    topology.redis(topology.sentinel_ports[0]).execute_command("SENTINEL", "FAILOVER", MASTER)
    wait_for(lambda: server_info(sc).get("l2_master") == addr(topology.replica_port),
             FOLLOW_DEADLINE, interval=0.05, what="the sidecar on the promoted replica")
    info = server_info(sc)
    assert info["l2_master_switches"] == 1
    assert topology.master_named() == addr(topology.replica_port)
    assert sc.info()["l1_flushes"] > flushes
    answers_after_switch(c, "k", b"on-new-master", FOLLOW_DEADLINE)

    # The blocked client: the sidecar's L2 error; or, if the old master was demoted first,
    # Redis's own error for a client blocked on an instance that became a replica. Never a value.
    reply = blocked.read_reply(timeout=FOLLOW_DEADLINE)
    assert isinstance(reply, RespError) and (
        "L2 unavailable" in reply or reply.startswith("UNBLOCKED")), reply
    blocked.close()
    # The subscriber is closed (its subscriptions lived at the old master); subscribing again
    # reaches the new master.
    subscriber.expect_closed(timeout=FOLLOW_DEADLINE)
    subscriber.close()
    new_master = topology.redis(topology.replica_port)
    p = sc.client().pubsub()
    p.subscribe("news")
    assert p.get_message(timeout=10)["type"] == "subscribe"
    wait_for(lambda: new_master.publish("news", "hi") == 1, 10.0,
             what="the relay subscribed at the new master")
    assert p.get_message(timeout=10)["data"] == b"hi"
    p.close()

    wait_for(lambda: sc.info()["bus_healthy"] == 1, FOLLOW_DEADLINE, what="bus healthy again")
    # Writes go to the new master, and L1 serves again (coherently) after the switch.
    c.set("after", "switch")
    assert new_master.get("after") == "switch"
    l1_hit(sc, c, "after", b"switch")
    new_master.set("after", "direct")
    wait_for(lambda: c.get("after") == b"direct", 10.0, what="invalidation from the new master")

    def blpop_works():
        try:
            c.rpush("queue", "item")
            return c.blpop(["queue"], timeout=1) == (b"queue", b"item")
        except redis.ResponseError as e:
            assert "L2 unavailable" in str(e), e
            return False
    wait_for(blpop_works, FOLLOW_DEADLINE, interval=0.05, what="BLPOP on the new master")


def test_follows_kill9_of_the_master(topology, sentinel_sidecar):
    sc = sentinel_sidecar
    c = sc.client()
    diverge(topology, sc, c, "k", b"v1", "v2")

    topology.kill9(topology.master_port)
    # Once the sidecar has seen the loss, nothing from the dead master is answered: clear
    # errors until the replica is promoted and found, then its value.
    wait_for(lambda: sc.info()["bus_healthy"] == 0, 10.0, what="the loss seen")
    errors = answers_after_switch(c, "k", b"v2", FOLLOW_DEADLINE)
    assert errors, "answered before any failover could have happened"
    info = server_info(sc)
    assert info["l2_master"] == addr(topology.replica_port)
    assert info["l2_master_switches"] == 1
    c.set("k", "v3")
    assert topology.redis(topology.replica_port).get("k") == "v3"
    l1_hit(sc, c, "k", b"v3")


def run_sidecar(tmp_path, *args):
    argv = [sidecar_binary(), "--socket", str(tmp_path / "s.sock"), "--shm-name",
            "it-bad-%d" % os.getpid()] + list(args)
    return subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args,message", [
    (["--l2-mode", "sentinel", "--l2", "127.0.0.1:1"], "needs l2-sentinel-master"),
    # (l2-mode cluster is accepted: its refusals are in test_cluster.py)
    (["--l2-mode", "cluster", "--l2", "127.0.0.1:1,nope"], "--l2: expected HOST:PORT"),
    (["--l2-mode", "bogus"], "argument must be one of standalone, sentinel"),
    (["--l2", "127.0.0.1:1,127.0.0.1:2"], "standalone takes one address"),
    (["--l2-mode", "sentinel", "--l2-sentinel-master", "m", "--l2", "127.0.0.1:1,nope"],
     "--l2: expected HOST:PORT"),
], ids=["no-master-name", "cluster-bad-seed", "unknown-mode", "standalone-list", "bad-sentinel"])
def test_bad_options_exit_1(tmp_path, args, message):
    r = run_sidecar(tmp_path, *args)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert message in r.stderr.decode(), r.stderr
    assert not os.path.exists("/dev/shm/tiercache-it-bad-%d" % os.getpid())


def test_sentinels_that_require_a_password():
    """Sentinels with requirepass: l2-sentinel-password is sent to them (AUTH), the master is
    found and served; without it the sidecar stays up, finds no master and says why, in INFO's
    l2_master_known and in the error clients get."""
    t = Topology(sentinel_password="sentinel-secret-7")
    try:
        sc = Sidecar(t.sentinels(), "sentinel-auth", l2_mode="sentinel", l2_sentinel_master=MASTER,
                     l2_sentinel_password="sentinel-secret-7").start()
        try:
            assert server_info(sc)["l2_master"] == addr(t.master_port)
            c = sc.client()
            c.set("k", "v")
            assert t.redis(t.master_port).get("k") == "v"
            l1_hit(sc, c, "k", b"v")
        finally:
            assert sc.stop() == 0, sc.stderr()

        bad = Sidecar(t.sentinels(), "sentinel-noauth", l2_mode="sentinel",
                      l2_sentinel_master=MASTER).start(wait_bus=False)
        try:
            c = bad.client()
            time.sleep(1.0)  # several rounds of asking every sentinel
            info = server_info(bad)
            assert info["l2_master_known"] == 0 and info["l2_master"] == "", info
            with pytest.raises(redis.ResponseError, match="no L2 master confirmed"):
                c.get("k")
            assert "NOAUTH" in bad.stderr(), bad.stderr()
        finally:
            assert bad.stop() == 0, bad.stderr()
    finally:
        t.close()
