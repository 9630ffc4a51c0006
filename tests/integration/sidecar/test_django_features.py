"""tiercache's cache features beyond get and set (python/tiercache/features.py) over the real
topology: one L2 (tiercache-l2 and redis-server), two sidecars standing for two hosts, the Django
backend (tiercache.django_cache.TierCache) and the plain-Python client (tiercache.client) in
this process and in worker processes (features_worker.py). Tags, versioned namespaces, the
cross-host lease of get_or_set (stampede, killed holder), early refresh, fail-safe and timeouts
for the factory, and the counters. The L1 TTL cap of the sidecars is a minute, so a host
dropping a value within a test's deadline can only be an invalidation."""

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

import django_setup  # noqa: F401  (settings, sys.path)
from django.core.cache import caches  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from sidecars import python_package_dir, wait_for  # noqa: E402
from tiercache import features  # noqa: E402
from tiercache.client import Client  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "features_worker.py")
# Cross-host bound for the race judge: far above the measured propagation delay (sub-ms p50),
# far below the one-minute L1 cap a lost invalidation would show as.
BOUND = 1.0


def _conf(sidecar, host):
    return {"BACKEND": "tiercache.django_cache.TierCache",
            "LOCATION": "unix://%s?db=0" % sidecar.socket,
            "OPTIONS": {"SOCKET_TIMEOUT": 10, "STATS_HOST": host}}


@pytest.fixture
def hosts(cluster):
    """The Django backend on host A (caches["default"]) and host B (caches["hostb"])."""
    confs = {"default": _conf(cluster.a, "a"), "hostb": _conf(cluster.b, "b")}
    with override_settings(CACHES=confs):
        yield caches["default"], caches["hostb"]
        for alias in ("default", "hostb"):
            caches[alias].close()


def python_layer_only(l2_kind):
    """For a test of the Python layer alone (leases, early refresh, factory timeouts): what
    it checks does not depend on the L2 behind the sidecars, and it takes seconds, so it runs
    once, against tiercache-l2, and the redis-server pass skips it (CI time, issue #18)."""
    if l2_kind == "redis":
        pytest.skip("a test of the Python layer alone: runs once, against tiercache-l2")


def l2_conf(cluster):
    """The workers' way to the L2 itself (its plain port, its password under the acl link)."""
    return {"l2": "127.0.0.1:%d" % cluster.l2.port, "l2_password": cluster.l2.password}


def run_workers(cfgs, timeout=120, env=None):
    procs = [subprocess.Popen([sys.executable, WORKER, json.dumps(c)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=dict(os.environ, **(env or {})))
             for c in cfgs]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, "worker failed (%s):\n%s" % (p.returncode, err.decode()[-3000:])
        outs.append(json.loads(out.decode().strip().splitlines()[-1]))
    return outs


def direct_hits(cache):
    return cache._reader.stats()["reader_hits"] if cache._reader is not None else 0


# ---- tags ------------------------------------------------------------------------------------

def test_tags_set_on_a_invalidated_on_b_gone_on_both(cluster, hosts):
    a, b = hosts
    a.set("p:1", {"name": "one"}, 300, tags=["cat:1", "shop"])
    a.set("p:2", "two", 300, tags=["cat:2", "shop"])
    a.set_many({"p:3": 3, "p:4": [4]}, 300, tags=["cat:1"])
    a.set("plain", "untagged", 300)
    for c in (a, b):
        assert c.get("p:1") == {"name": "one"} and c.get("p:2") == "two"
        assert c.get_many(["p:3", "p:4", "plain"]) == {"p:3": 3, "p:4": [4], "plain": "untagged"}
    # warm: tagged reads on B are answered from its L1 without asking the sidecar
    before, sidecar_before = direct_hits(b), cluster.b.info()
    for _ in range(50):
        assert b.get("p:1") == {"name": "one"}
    after = cluster.b.info()
    assert direct_hits(b) - before >= 50 * 3  # the entry and its two tag versions, each time
    assert after["l1_misses"] == sidecar_before["l1_misses"]

    b.invalidate_tags(["cat:1"])
    t0 = time.monotonic()
    # on the invalidating host at once (read-your-writes), on the other within the bound
    assert b.get("p:1") is None and b.get_many(["p:3", "p:4"]) == {}
    assert not b.has_key("p:3")
    wait_for(lambda: a.get("p:1") is None and a.get_many(["p:3", "p:4"]) == {}, 2,
             what="host A sees the tag invalidated on B")
    lag = time.monotonic() - t0
    assert a.get("p:2") == "two" and b.get("p:2") == "two"  # other tags untouched
    assert a.get("plain") == "untagged"
    assert lag < 2
    b.invalidate_tags(["shop"])
    wait_for(lambda: a.get("p:2") is None, 2)
    assert b.get("p:2") is None
    # set again after the invalidation: valid again, on both hosts
    a.set("p:1", "again", 300, tags=["cat:1", "shop"])
    wait_for(lambda: b.get("p:1") == "again", 2)
    stats = a.tier_stats()
    assert stats["tagged_rejected"] >= 1


def test_plain_client_shares_tags_with_django(cluster, hosts):
    a, _ = hosts
    cb = Client(cluster.b.socket, stats_host="b")
    try:
        a.set("shared:1", {"v": 1}, 300, tags=["t"])
        assert cb.get("shared:1") == {"v": 1}  # the same keys and encoding as django-redis
        cb.set("shared:2", 2, 300, tags=["t"])
        assert a.get("shared:2") == 2
        cb.invalidate_tags(["t"])
        assert cb.get("shared:1") is None and cb.get("shared:2") is None
        wait_for(lambda: a.get("shared:1") is None and a.get("shared:2") is None, 2)
        assert cb.get_or_set("shared:3", lambda: "made", 300, tags=["t"]) == "made"
        assert a.get("shared:3") == "made"
    finally:
        cb.close()


def test_tag_snapshot_taken_before_an_invalidation_makes_the_set_unreadable(hosts):
    a, b = hosts
    snap = a.tag_snapshot(["cat:9"])   # read the tag versions, then the database...
    b.invalidate_tags(["cat:9"])       # ...the row changes and is invalidated meanwhile...
    a.set("p:9", "old row", 300, tags=snap)  # ...the stale row is written afterwards
    assert a.get("p:9") is None and b.get("p:9") is None


def _race(cluster, seconds, rounds, env=None):
    tags = ["t%d" % i for i in range(4)]
    start = time.time() + 3.0
    base = {**l2_conf(cluster), "tags": tags, "keys_per_tag": 2, "start_at": start,
            "bound": BOUND}
    cfgs = []
    for host, sc, own in (("a", cluster.a, tags[:2]), ("b", cluster.b, tags[2:])):
        common = dict(base, socket=sc.socket, host=host)
        cfgs.append(dict(common, role="race-invalidator", rounds=rounds, own_tags=own,
                         api="django" if host == "a" else "client"))
        cfgs += [dict(common, role="race-tagger", seconds=seconds,
                      api=["django", "client"][i]) for i in range(2)]
        # judged strictly (bound 0) on the tags invalidated on their own host, with BOUND on
        # the others
        cfgs += [dict(common, role="race-reader", seconds=seconds + 1, strict_tags=own,
                      api=["django", "client"][i]) for i in range(2)]
    outs = run_workers(cfgs, env=env)
    readers = [o for c, o in zip(cfgs, outs) if c["role"] == "race-reader"]
    return readers, cluster.l2_client()


def test_tagger_vs_invalidator_race_no_stale_tagged_read(cluster):
    rounds = 1500
    readers, db = _race(cluster, seconds=8, rounds=rounds)
    done = sum(int(db.get("truth:t%d" % i) or 0) for i in range(4))
    assert done == 2 * rounds  # every round of both invalidators ran
    reads, hits = sum(r["reads"] for r in readers), sum(r["hits"] for r in readers)
    stale = sum(r["stale"] for r in readers)
    assert stale == 0, [r["examples"] for r in readers]
    # The judge had something to judge. How many reads hit depends on the machine's speed
    # (run r25, ASan and a parallel build: 4,240 reads, 168 hits), so the bound is loose.
    assert reads > 1000 and hits > 50, (reads, hits)


def test_race_judge_finds_stale_reads_when_tags_are_ignored(cluster, l2_kind):
    python_layer_only(l2_kind)  # the judge's self-test
    readers, _ = _race(cluster, seconds=4, rounds=400,
                       env={"TIERCACHE_TEST_IGNORE_TAGS": "1"})
    assert sum(r["stale"] for r in readers) > 0


def test_evicted_tag_version_never_revives_old_entries(make_cluster):
    # a tiny L2 that evicts (allkeys-random: any key may go), a tiny L1 that evicts: the tag
    # version goes from both. The two entries must outlive it for the test to mean something:
    # one the eviction takes is written back at the L2 with its very bytes (as if it had been
    # spared).
    c = make_cluster({"maxmemory": 3 * 1024 * 1024, "maxmemory_policy": "allkeys-random"})
    c.a = c.sidecar("a", l1_max_ttl_ms=60000, l1_memory="1MiB")
    with override_settings(CACHES={"default": _conf(c.a, "a")}):
        cache = caches["default"]
        db = c.l2_client()
        cache.set("old", "before the invalidation", 600, tags=["cat"])
        cache.invalidate_tags(["cat"])
        assert cache.get("old") is None
        cache.set("new", "after the invalidation", 600, tags=["cat"])
        assert cache.get("new") == "after the invalidation"
        tag_key = cache.make_key(features.TAG_PREFIX + "cat", version=1)
        entries = {k: db.get(k) for k in (cache.make_key("old"), cache.make_key("new"))}
        filler = b"x" * 20000
        for i in range(5000):  # until the L2 evicted the tag version
            db.set("fill:%d" % i, filler)
            for k, raw in entries.items():
                if not db.exists(k):
                    db.set(k, raw, px=600000)
            if not db.exists(tag_key):
                break
        assert not db.exists(tag_key), "the L2 never evicted the tag version"
        # push it out of L1 as well: values read twice (so S3-FIFO moves them to the main ring)
        # until the main ring has cycled past the tag version (its access count spent)
        for batch in range(60):
            # (a direct read counts as an access: look only now and then)
            if batch % 15 == 14 and cache._reader.get(0, tag_key) is None:
                break
            keys = ["warm:%d:%d" % (batch, i) for i in range(100)]
            pipe = db.pipeline(transaction=False)
            for k in keys:
                pipe.set(cache.make_key(k), 10 ** 2000)  # 2 kB of digits: decoded as an int
            pipe.execute()
            cache.get_many(keys)
            cache.get_many(keys)
            for k, raw in entries.items():
                if not db.exists(k):
                    db.set(k, raw, px=600000)
        assert cache._reader is not None and cache._reader.get(0, tag_key) is None, \
            "L1 never evicted the tag version"
        for k, raw in entries.items():
            assert db.get(k) == raw  # the old entries are there, unchanged
        assert not db.exists(tag_key)
        assert cache.get("old") is None
        assert cache.get("new") is None  # its version is unknown now: not trusted either
        cache.set("newer", "fresh", 600, tags=["cat"])
        assert cache.get("newer") == "fresh" and cache.get("old") is None
        cache.close()


# ---- namespaces --------------------------------------------------------------------------

def test_namespace_bumps_from_two_hosts_both_count(cluster, hosts):
    a, b = hosts
    na, nb = a.namespace("catalog"), b.namespace("catalog")
    na.set("page:1", "v1 page", 300)
    assert nb.get("page:1") == "v1 page"
    v0 = na.version()
    start = time.time() + 2.0
    # two hosts bump at once: worker processes through both sidecars
    code = ("import sys,time; sys.path.insert(0, %r); "
            "from tiercache.client import Client; c=Client(sys.argv[1]); ns=c.namespace('catalog');"
            "time.sleep(max(0,%r-time.time())); [ns.bump() for _ in range(300)]; c.close()"
            % (python_package_dir(), start))
    procs = [subprocess.Popen([sys.executable, "-c", code, sc.socket])
             for sc in (cluster.a, cluster.b, cluster.a, cluster.b)]
    for p in procs:
        assert p.wait(60) == 0
    assert na.version() == v0 + 1200 and nb.version() == v0 + 1200
    assert na.get("page:1") is None and nb.get("page:1") is None
    nb.set("page:1", "v2 page", 300)
    # A just read it absent (a negative entry in A's L1): B's write reaches A within the bound
    wait_for(lambda: na.get("page:1") == "v2 page", 2, what="A sees B's write")
    nb.bump()
    assert nb.get("page:1") is None
    wait_for(lambda: na.get("page:1") is None, 2, what="A sees B's bump")


def test_namespace_version_evicted_is_reseeded_above(cluster, hosts):
    a, b = hosts
    ns = a.namespace("n")
    ns.set("k", "old", 300)
    v = ns.version()
    cluster.l2_client().delete(ns.key)  # gone behind the sidecars' back (as if evicted)
    cluster.a.client().delete(ns.key)   # and out of A's L1
    assert ns.version() > v and ns.get("k") is None


# ---- stampede: the lease at the L2 ---------------------------------------------------------

def test_stampede_200_processes_on_two_hosts_factory_runs_once(make_cluster, l2_kind):
    python_layer_only(l2_kind)
    # 200 processes start at once on this host (2 cores): the L2 and the sidecars can get no
    # CPU for over a second, which the default l2-timeout-ms (1 s of L2 silence) takes for a
    # dead L2 and fails every request in flight (seen at load average 10). This test is about
    # the lease, not about that timeout: the sidecars wait 10 s.
    cluster = make_cluster()
    cluster.a = cluster.sidecar("a", l1_max_ttl_ms=60000, l2_timeout_ms=10000)
    cluster.b = cluster.sidecar("b", l1_max_ttl_ms=60000, l2_timeout_ms=10000)
    start = time.time() + 10.0
    # The factory takes 2 s so that most processes arrive while it runs even when a busy machine
    # spreads their start (with 0.2 s, 100 of 200 once came after it was done: a plain hit).
    base = {"role": "stampede", **l2_conf(cluster), "key": "hot", "processes": 100,
            "factory_seconds": 2.0, "start_at": start}
    outs = run_workers([dict(base, socket=cluster.a.socket, host="a"),
                        dict(base, socket=cluster.b.socket, host="b", api="client")],
                       timeout=180)
    results = outs[0]["results"] + outs[1]["results"]
    errors = [r for r in results if "error" in r]
    assert not errors, errors[:3]
    assert len(results) == 200
    db = cluster.l2_client()
    assert int(db.get("factory_runs")) == 1
    assert len({r["value"] for r in results}) == 1  # everybody got the one computed value
    counts = {h: features.read_counters(db, h) for h in ("a", "b")}
    won = counts["a"]["leases_won"] + counts["b"]["leases_won"]
    waited = counts["a"]["leases_waited"] + counts["b"]["leases_waited"]
    # the others waited for it; on a loaded machine a process that starts late finds it
    # already there (a plain hit: its get_or_set counted nothing), but most must have waited
    lates = sum(1 for r in results if not r["counted"])
    assert won == 1 and waited + lates == 199 and waited >= 100, (counts, lates)
    assert counts["a"]["leases_timed_out"] + counts["b"]["leases_timed_out"] == 0


def test_killed_lease_holder_is_taken_over_within_the_lease_time(cluster):
    lease_ttl = 3.0
    base = {**l2_conf(cluster), "key": "report", "lease_ttl": lease_ttl}
    # The waiter starts first and waits for a word on stdin: on a busy machine a Python and
    # Django start-up can take longer than the lease, which then expires before it looks.
    waiter = subprocess.Popen(
        [sys.executable, WORKER, json.dumps(dict(base, role="waiter", socket=cluster.b.socket,
                                                 host="b"))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    holder = None
    try:
        assert json.loads(waiter.stdout.readline() or b"null") == {"ready": True}, \
            waiter.stderr.read()
        holder = subprocess.Popen(
            [sys.executable, WORKER, json.dumps(dict(base, role="holder", socket=cluster.a.socket,
                                                     host="a"))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = holder.stdout.readline()
        assert json.loads(line or b"null") == {"computing": True}, holder.stderr.read()
        db = cluster.l2_client()
        lease_keys = [k for k in db.keys("tiercache:lease:*")]
        assert len(lease_keys) == 1
        waiter.stdin.write(b"go\n")
        waiter.stdin.flush()
        assert json.loads(waiter.stdout.readline()) == {"waiting": True}
        time.sleep(0.3)
        # waiting for the holder (the lease had this much left)
        assert waiter.poll() is None, db.pttl(lease_keys[0])
        holder.send_signal(signal.SIGKILL)
        killed_at = time.time()
        remaining = db.pttl(lease_keys[0]) / 1000.0
        out, err = waiter.communicate(timeout=30)
        assert waiter.returncode == 0, err.decode()
        res = json.loads(out.decode().strip().splitlines()[-1])
    finally:
        for p in (holder, waiter):
            if p is not None and p.poll() is None:
                p.kill()
            if p is not None:
                p.wait()
    assert res["value"] == "waiter"
    took_over = res["done_at"] - killed_at
    # the lease expires `remaining` after the kill; the waiter takes it at its next look
    assert took_over <= lease_ttl + 1.5, took_over
    assert took_over >= remaining - 0.3, (took_over, remaining)
    assert res["counts"]["leases_won"] == 1


def test_lease_helper_replaces_the_hand_written_lock(cluster, hosts):
    a, b = hosts
    la, lb = a.lease("nightly", ttl=5), b.lease("nightly", ttl=5)
    assert la.acquire(blocking=False)
    assert not lb.acquire(blocking=False)
    t0 = time.monotonic()
    assert not lb.acquire(timeout=0.3) and time.monotonic() - t0 >= 0.25
    assert la.extend(10) and 9 <= cluster.l2_client().pttl(la.key) / 1000 <= 10
    assert la.release() and not la.release()
    assert lb.acquire(blocking=False)
    # a holder whose lease expired and was taken never releases the new holder's
    stale = a.lease("short", ttl=0.2)
    assert stale.acquire(blocking=False)
    time.sleep(0.3)
    new = b.lease("short", ttl=5)
    assert new.acquire(blocking=False)
    assert stale.release() is False and cluster.l2_client().exists(new.key)
    lb.release()
    new.release()


# ---- early refresh -----------------------------------------------------------------------------

def test_early_refresh_never_misses_and_runs_about_once_per_ttl(cluster, l2_kind):
    python_layer_only(l2_kind)
    ttl, ra, seconds = 2.0, 0.7, 10.0
    start = time.time() + 3.0
    base = {"role": "refresher", **l2_conf(cluster), "key": "rolling", "ttl": ttl,
            "refresh_ahead": ra, "seconds": seconds, "start_at": start, "pause": 0.005}
    cfgs = [dict(base, socket=sc.socket, host=h, api=api)
            for sc, h in ((cluster.a, "a"), (cluster.b, "b")) for api in ("django", "client")]
    outs = run_workers(cfgs)
    runs = int(cluster.l2_client().get("refresh_runs"))
    for o in outs:
        c = o["counts"]
        misses = c["leases_won"] + c["leases_waited"] + c["leases_timed_out"]
        assert misses == 0 and c["stale_answers"] == 0, o
        assert o["calls"] > 200, o
    refreshes = sum(o["counts"]["early_refreshes"] for o in outs)
    # one run for the warm-up, then about one per (ttl * ra) + the time to the next hit:
    # 10 s / 1.4 s ~ 7; the TTL rolled over 5 times. Someone reads while any worker does: on a
    # loaded machine a late worker stretches that span past `seconds`.
    span = max(o["ended"] for o in outs) - min(o["began"] for o in outs)
    assert seconds / ttl <= refreshes <= span / (ttl * ra) + 2, (refreshes, runs, span)
    assert runs - 1 <= refreshes <= runs  # (a refresh counted may be cut by the exit)
    values = sorted({v for o in outs for v in o["values"]})
    assert len(values) >= seconds / ttl  # the readers saw the refreshed values


# ---- fail-safe and timeouts --------------------------------------------------------------------

@pytest.fixture
def database(tmp_path):
    path = str(tmp_path / "shop.db")
    con = sqlite3.connect(path)
    con.execute("create table product (name text)")
    con.execute("insert into product values ('lamp')")
    con.commit()
    con.close()
    calls = []

    def load():
        calls.append(time.monotonic())
        con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            return con.execute("select name from product").fetchone()[0]
        finally:
            con.close()
    load.calls = calls
    load.path = path
    return load


def test_stale_if_error_answers_the_last_value_inside_the_window_then_raises(
        hosts, database, caplog):
    a, b = hosts
    opts = {"stale_if_error": 2.0}
    assert a.get_or_set("menu", database, 1.0, **opts) == "lamp"
    t0 = time.monotonic()
    os.rename(database.path, database.path + ".stopped")  # the database is down
    assert a.get_or_set("menu", database, 1.0, **opts) == "lamp"  # fresh: no factory call
    assert len(database.calls) == 1
    time.sleep(max(0, 1.3 - (time.monotonic() - t0)))
    with caplog.at_level(logging.WARNING, logger="tiercache"):
        assert a.get_or_set("menu", database, 1.0, **opts) == "lamp"  # expired: factory fails
        assert b.get_or_set("menu", database, 1.0, **opts) == "lamp"  # on the other host too
    assert len(database.calls) == 3
    assert "answering the value of" in caplog.text and "expired" in caplog.text
    assert a.get("menu") is None  # a plain get never answers an expired value
    time.sleep(max(0, 3.4 - (time.monotonic() - t0)))
    with pytest.raises(sqlite3.OperationalError):
        a.get_or_set("menu", database, 1.0, **opts)
    with pytest.raises(sqlite3.OperationalError):
        b.get_or_set("menu", database, 1.0, **opts)
    os.rename(database.path + ".stopped", database.path)  # back
    assert a.get_or_set("menu", database, 1.0, **opts) == "lamp"
    assert a.tier_stats()["stale_answers"] >= 1


def test_hard_and_soft_timeouts(hosts, l2_kind):
    python_layer_only(l2_kind)
    a, b = hosts
    slow = lambda: time.sleep(1.5) or "slow value"  # noqa: E731
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        a.get_or_set("slow", slow, 60, hard_timeout=0.3)
    assert time.monotonic() - t0 < 1.2
    # the factory was not abandoned: it finishes in the background and stores its value
    wait_for(lambda: b.get("slow") == "slow value", 5, interval=0.05)
    # soft timeout with an old value at hand: answered at once, refreshed behind
    assert a.get_or_set("soft", lambda: "v1", 0.5, stale_if_error=30) == "v1"
    time.sleep(0.6)
    t0 = time.monotonic()
    assert a.get_or_set("soft", lambda: time.sleep(1.0) or "v2", 0.5, stale_if_error=30,
                        soft_timeout=0.1, hard_timeout=5) == "v1"
    assert time.monotonic() - t0 < 0.8
    wait_for(lambda: a.get("soft") == "v2", 5, interval=0.05, what="background completion")
    # hard timeout inside the stale window: the old value
    time.sleep(0.6)
    assert a.get_or_set("soft", slow, 0.5, stale_if_error=30, hard_timeout=0.2) == "v2"
    wait_for(lambda: a.get("soft") == "slow value", 5, interval=0.05)  # finished behind
    assert a.tier_stats()["factory_timeouts"] >= 3


def test_get_or_set_keeps_django_semantics(hosts):
    a, b = hosts
    assert a.get_or_set("plain", "value") == "value"
    assert b.get_or_set("plain", lambda: "other") == "value"
    a.set("existing", 5)
    assert a.get_or_set("existing", lambda: 6) == 5
    ns = a.namespace("x")
    assert ns.get_or_set("k", lambda: "nv", 30) == "nv" and ns.get("k") == "nv"
