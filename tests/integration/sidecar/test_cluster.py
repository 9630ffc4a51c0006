"""The sidecar in front of a real Redis Cluster (l2-mode cluster, issue 14): three masters and
three replicas of redis-server 7.0 (redis_cluster.py), a sidecar given one seed. Keys spread over
every master (checked at the nodes themselves), multi-key commands split and merged, CROSSSLOT,
SCAN across masters, FLUSHDB everywhere, SELECT refused, a resharded slot followed (ASK while it
migrates, MOVED after), django-redis's cache API, and start-up refused where there is no
cluster.

Most sidecars here use invalidation-source publish (Redis Cluster relays PUBLISH to every node,
so the bus works as on one server); the tracking tests use the default source, CLIENT TRACKING
on every master (invalidation/cluster_source.h), which also sees writes made straight to the
cluster.

Redis Cluster runs only with redis-server: not parametrised over the L2 variants."""

import os
import shutil
import tempfile
import threading

import pytest
import redis

import django_setup  # noqa: F401  (settings, sys.path)
from django.core.cache import caches  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from helpers import connect_raw, encode  # noqa: E402
from redis_cluster import REDIS_CLI, RedisCluster  # noqa: E402
from servers import Server, free_port  # noqa: E402
import sidecars  # noqa: E402
from sidecars import Sidecar, StartError, wait_for  # noqa: E402

CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
pytestmark = [
    pytest.mark.skipif(not os.access(REDIS_CLI, os.X_OK), reason="redis-cli not installed"),
    pytest.mark.skipif(bool(sidecars.LINK), reason="plain links only: TIERCACHE_SIDECAR_LINK "
                                                   "does not apply to the cluster topology"),
]


@pytest.fixture(scope="module")
def rcluster():
    c = RedisCluster()
    yield c
    c.close()


@pytest.fixture
def sc(rcluster):
    for port in rcluster.masters():
        rcluster.node(port).flushall()
    s = Sidecar(rcluster.seeds(1), "cluster", l2_mode="cluster",
                invalidation_source="publish").start()
    yield s
    assert s.stop() == 0, s.stderr()


def keys_on_every_master(rcluster, keys):
    """The masters (ports) holding keys, asked of the nodes themselves."""
    held = set()
    for port in rcluster.masters():
        node = rcluster.node(port)
        if any(node.exists(k) for k in keys if rcluster.master_of(k) == port):
            held.add(port)
    return held


def test_get_set_spread_over_every_master(rcluster, sc):
    c = sc.client(decode_responses=True)
    keys = ["spread:%d" % i for i in range(200)]
    for k in keys:
        assert c.set(k, "v-" + k)
    for k in keys:
        assert c.get(k) == "v-" + k
    assert keys_on_every_master(rcluster, keys) == set(rcluster.masters())
    for k in keys[:30]:  # each at the master of its slot, not anywhere else
        assert rcluster.node(rcluster.master_of(k)).get(k) == "v-" + k
    sizes = [rcluster.node(p).dbsize() for p in rcluster.masters()]
    assert all(n > 0 for n in sizes) and sum(sizes) == 200
    assert c.dbsize() == 200


def test_multi_key_commands_across_slots(rcluster, sc):
    c = sc.client(decode_responses=True)
    keys = ["mk:%d" % i for i in range(12)]
    assert len({rcluster.master_of(k) for k in keys}) == 3
    for i, k in enumerate(keys):
        c.set(k, str(i))
    assert c.mget(keys + ["mk:none"]) == [str(i) for i in range(12)] + [None]
    assert c.exists(*keys, "mk:none", keys[0]) == 13
    assert c.delete(*keys[:6], "mk:none") == 6
    assert c.mget(keys) == [None] * 6 + [str(i) for i in range(6, 12)]
    assert c.unlink(*keys[6:]) == 6
    with pytest.raises(redis.ResponseError) as e:
        c.mset({"a": "1", "b": "2", "c": "3"})
    assert str(e.value) == CROSSSLOT
    assert c.mset({"{t}a": "1", "{t}b": "2"})  # one slot: as Redis Cluster
    assert c.mget("{t}a", "{t}b") == ["1", "2"]


def test_scan_iter_sees_every_key(rcluster, sc):
    c = sc.client(decode_responses=True)
    keys = {"scan:%d" % i for i in range(300)}
    for k in keys:
        c.set(k, "x")
    assert set(c.scan_iter(match="scan:*", count=20)) == keys
    assert set(c.keys("scan:*")) == keys


def test_flushdb_empties_every_master(rcluster, sc):
    c = sc.client(decode_responses=True)
    for i in range(50):
        c.set("fl:%d" % i, "x")
    assert all(rcluster.node(p).dbsize() > 0 for p in rcluster.masters())
    assert c.flushdb() is True
    assert [rcluster.node(p).dbsize() for p in rcluster.masters()] == [0, 0, 0]
    assert c.dbsize() == 0
    assert c.get("fl:1") is None


def test_select(sc):
    c = sc.client(decode_responses=True)
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("SELECT", "1")
    assert str(e.value) == "SELECT is not allowed in cluster mode"
    assert c.execute_command("SELECT", "0") is True  # (+OK, as redis-py reports it)
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("SELECT", "x")
    assert str(e.value) == "value is not an integer or out of range"


def _migrate_slot(rcluster, slot, src, dst, between=None):
    """Moves slot from master src to master dst as redis-cli --cluster reshard does;
    between() runs while the slot is half moved (its keys at dst, the owner still src)."""
    s, d = rcluster.node(src), rcluster.node(dst)
    src_id, dst_id = s.execute_command("CLUSTER", "MYID"), d.execute_command("CLUSTER", "MYID")
    d.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    s.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    for k in s.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000):
        s.execute_command("MIGRATE", "127.0.0.1", dst, k, 0, 5000)
    if between is not None:
        between()
    for port in rcluster.masters():
        rcluster.node(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)


def test_resharded_slot_is_followed(rcluster, sc):
    c = sc.client(decode_responses=True)
    masters = rcluster.masters()
    key = next("rs:%d" % i for i in range(1000) if rcluster.master_of("rs:%d" % i) == masters[0])
    key2 = "{%s}2" % key  # same slot, written straight to the node: never in L1
    slot = rcluster.node(masters[0]).execute_command("CLUSTER", "KEYSLOT", key)
    assert c.set(key, "before")
    rcluster.node(masters[0]).set(key2, "two")

    def half_moved():  # ASK: the key is at dst already
        assert c.get(key2) == "two"
    _migrate_slot(rcluster, slot, masters[0], masters[1], half_moved)
    assert rcluster.node(masters[1]).get(key) == "before"
    # MOVED: the sidecar learns the new owner and refreshes its topology.
    assert c.get(key) == "before"
    # A write right at the move may fail once (a transaction is not redirected); after the
    # refresh it goes to the new owner.
    def written():
        try:
            return c.set(key, "after")
        except redis.ResponseError:
            return False
    wait_for(written, 10.0, interval=0.1, what="a write after the reshard")
    assert rcluster.node(masters[1]).get(key) == "after"
    assert c.get(key) == "after"
    _migrate_slot(rcluster, slot, masters[1], masters[0])  # put it back for the other tests


def test_django_redis_cache_api(rcluster, sc):
    conf = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                        "LOCATION": "unix://%s?db=0" % sc.socket,
                        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient",
                                    "SOCKET_TIMEOUT": 5}}}
    with override_settings(CACHES=conf):
        cache = caches["default"]
        try:
            data = {"dj%d" % i: i for i in range(60)}
            for k, v in data.items():
                cache.set(k, v, timeout=300)
            stored = [cache.make_key(k) for k in data]
            assert keys_on_every_master(rcluster, stored) == set(rcluster.masters())
            assert cache.get("dj7") == 7
            assert cache.get_many(list(data)) == data
            assert sorted(cache.keys("dj*")) == sorted(data)
            assert sorted(cache.iter_keys("dj1*")) == sorted(k for k in data
                                                             if k.startswith("dj1"))
            cache.delete_many(["dj%d" % i for i in range(10)])
            assert cache.get_many(["dj%d" % i for i in range(12)]) == {"dj10": 10, "dj11": 11}
            assert cache.delete_pattern("dj*") == 50
            assert cache.keys("dj*") == []
            assert all(rcluster.node(p).dbsize() == 0 for p in rcluster.masters())
        finally:
            cache.close()


def test_django_sessions_over_two_sidecars(rcluster, sc):
    """Django's cache session backend on two hosts, each sidecar on the default source (CLIENT
    TRACKING on every master; `sc`, on the publish source, only flushes the cluster here):
    sessions spread over every master, each one saved on one host is loaded on the other, a
    change made there and a deletion are seen back."""
    from django.contrib.sessions.backends.cache import SessionStore
    a = Sidecar(rcluster.seeds(1), "cluster-a", l2_mode="cluster").start()
    b = Sidecar(rcluster.seeds(1), "cluster-b", l2_mode="cluster").start()
    conf = {alias: {"BACKEND": "django_redis.cache.RedisCache",
                    "LOCATION": "unix://%s?db=0" % side.socket,
                    "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient",
                                "SOCKET_TIMEOUT": 5}}
            for alias, side in (("default", a), ("hostb", b))}
    try:
        with override_settings(CACHES=conf):
            keys = []
            for i in range(30):
                s = SessionStore()
                s["user"] = "u%d" % i
                s.save()
                keys.append(s.session_key)
            stored = [caches["default"].make_key(SessionStore.cache_key_prefix + k)
                      for k in keys]
            assert keys_on_every_master(rcluster, stored) == set(rcluster.masters())
            for i, k in enumerate(keys):
                assert SessionStore(session_key=k)["user"] == "u%d" % i  # host A's L1 now
            with override_settings(SESSION_CACHE_ALIAS="hostb"):
                for i, k in enumerate(keys):
                    sb = SessionStore(session_key=k)
                    assert sb["user"] == "u%d" % i
                    sb["user"] = "b%d" % i
                    sb.save()
            wait_for(lambda: all(SessionStore(session_key=k).get("user") == "b%d" % i
                                 for i, k in enumerate(keys)), 5,
                     what="host A sees every session saved on B")
            for k in keys[:10]:
                SessionStore(session_key=k).flush()
            with override_settings(SESSION_CACHE_ALIAS="hostb"):
                wait_for(lambda: not any(SessionStore().exists(k) for k in keys[:10]), 5,
                         what="host B sees the sessions deleted on A")
                assert all(SessionStore().exists(k) for k in keys[10:])
            for alias in ("default", "hostb"):
                caches[alias].close()
    finally:
        assert a.stop() == 0, a.stderr()
        assert b.stop() == 0, b.stderr()


def test_start_refused_without_cluster_support():
    workdir = tempfile.mkdtemp(prefix="tc-nocluster-")
    l2 = Server("tiercache", {"port": free_port(), "bind": "127.0.0.1"}, workdir).start()
    try:
        s = Sidecar("127.0.0.1:%d" % l2.port, "nocluster", l2_mode="cluster",
                    invalidation_source="publish")
        with pytest.raises(StartError) as e:
            # Waits for a healthy bus, which never comes before a topology is known: the start
            # ends at the exit. (wait_bus=False returned as soon as INFO answered, and the
            # sidecar listens before its seeds answer CLUSTER SLOTS: under ASan it often did.)
            s.start()
        assert "exited with 1" in str(e.value)
        assert "CLUSTER SLOTS" in str(e.value) and "cluster-enabled yes" in str(e.value)
        s.stop()  # its L1 segment stays after an exit, as after any stop: remove it
    finally:
        l2.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_writes_straight_to_other_masters_invalidate(rcluster):
    """With CLIENT TRACKING on every master, a write made straight to the cluster reaches the
    sidecar's L1 whatever master holds the key."""
    for port in rcluster.masters():
        rcluster.node(port).flushall()
    s = Sidecar(rcluster.seeds(1), "tracking", l2_mode="cluster")
    s.start(wait_bus=False)
    try:
        c = s.client(decode_responses=True)
        masters = rcluster.masters()
        key = next("co:%d" % i for i in range(1000) if rcluster.master_of("co:%d" % i) == masters[2])
        rcluster.node(masters[2]).set(key, "old")

        def in_l1(value):
            before = s.info()["l1_hits"]
            return c.get(key) == value and s.info()["l1_hits"] > before

        wait_for(lambda: s.info()["bus_healthy"] == 1 and in_l1("old"), 10.0, interval=0.05,
                 what="the key in L1")
        resets = s.info()["bus_resets"]
        rcluster.node(masters[2]).set(key, "new")
        # Seen through an invalidation, not because a failing source flushed L1 (as a
        # tracking source that misses the heartbeat does).
        wait_for(lambda: in_l1("new"), 5.0, interval=0.05, what="the write seen")
        assert s.info()["bus_resets"] == resets and s.info()["bus_healthy"] == 1
    finally:
        s.stop()


def test_client_transaction_across_slots(rcluster, sc):
    """A client's MULTI/EXEC must stay in one slot, as Redis Cluster checks at EXEC."""
    c = sc.client(decode_responses=True)
    p = c.pipeline(transaction=True)
    p.set("a", "1")  # slot 15495
    p.set("b", "2")  # slot 3300
    with pytest.raises(redis.ResponseError) as e:
        p.execute()
    assert CROSSSLOT in str(e.value)
    assert c.exists("a", "b") == 0
    p = c.pipeline(transaction=True)
    p.set("{t}a", "1")
    p.get("{t}a")
    assert p.execute() == [True, "1"]


def test_null_arrays_and_null_bulks_are_relayed_byte_for_byte(rcluster, sc):
    """Replies held and re-read by the cluster link (cluster_link.cc) keep a null array
    (`*-1`) apart from a null bulk (`$-1`), as a node sends them."""
    node = connect_raw(port=rcluster.master_of("{n}q"))
    via = sc.raw()
    for args in (("GET", "{n}q"), ("LMPOP", "1", "{n}q", "LEFT"), ("BRPOP", "{n}q", "0.1"),
                 ("HMGET", "{n}q", "f1", "f2")):
        node.send(encode(*args))
        via.send(encode(*args))
        assert via.read_reply_bytes(15) == node.read_reply_bytes(15), args
    for conn in (node, via):
        for args in (("MULTI",), ("LMPOP", "1", "{n}q", "LEFT"), ("GET", "{n}q")):
            conn.send(encode(*args))
            conn.read_reply_bytes(15)
        conn.send(encode("EXEC"))
    assert via.read_reply_bytes(15) == node.read_reply_bytes(15) == b"*2\r\n*-1\r\n$-1\r\n"
    node.close()


def test_client_transaction_with_a_cross_slot_command(rcluster, sc):
    """One command whose keys span slots, queued in a client's MULTI: refused when queued, and
    EXEC answers EXECABORT, exactly as a cluster node answers the same session."""
    def session(c):
        c.response_callbacks.clear()  # the replies as sent ("QUEUED", not SET's False)
        out = []
        for cmd in (("MULTI",), ("SET", "{b}tx", "1"), ("MGET", "a", "b"), ("EXEC",)):
            try:
                out.append(c.execute_command(*cmd))
            except redis.ResponseError as e:
                out.append("%s: %s" % (type(e).__name__, e))
        return out

    node = redis.Redis(port=rcluster.masters()[0], socket_timeout=5, decode_responses=True,
                       single_connection_client=True)
    want = session(node)
    assert want == ["OK", "QUEUED", "ResponseError: " + CROSSSLOT,
                    "ExecAbortError: Transaction discarded because of previous errors."]
    assert session(sc.client(decode_responses=True, single_connection_client=True)) == want
    assert sc.client().exists("{b}tx") == 0  # slot 3300, served by masters()[0]


def test_blocking_and_watch_go_to_the_key_s_master(rcluster, sc):
    """BLPOP and WATCH open the client's own L2 connection to the master of their key: on every
    master in turn, one client blocks and is fed through the sidecar, and a WATCHed
    transaction commits, then aborts after another client's write."""
    c = sc.client(decode_responses=True, single_connection_client=True)
    feeder = sc.client(decode_responses=True)
    for port in rcluster.masters():
        key = next("q%d" % i for i in range(10000) if rcluster.master_of("q%d" % i) == port)
        t = threading.Timer(0.3, lambda: feeder.rpush(key, "job"))
        t.start()
        assert tuple(c.blpop([key], timeout=10)) == (key, "job")
        t.join()
        with c.pipeline(transaction=True) as p:
            p.watch(key)
            p.multi()
            p.set(key, "mine")
            assert p.execute() == [True]
        with c.pipeline(transaction=True) as p:
            p.watch(key)
            feeder.set(key, "theirs")
            p.multi()
            p.set(key, "mine again")
            with pytest.raises(redis.WatchError):
                p.execute()
        assert rcluster.node(port).get(key) == "theirs"
        assert feeder.get(key) == "theirs"
