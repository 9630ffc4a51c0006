"""Worker processes for test_django_features.py: application processes on a "host" (a sidecar's
socket) using tiercache's Django backend or its plain-Python client. Run as

    python3 features_worker.py '<json config>'

and print one JSON line with what they saw. `l2` in the config is the L2's address: the tests'
stand-in for the database and their record of acknowledged events (never through a sidecar).
"""

import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import redis  # noqa: E402

from sidecars import python_package_dir  # noqa: E402

sys.path.insert(0, python_package_dir())

from tiercache import features  # noqa: E402


def make_cache(cfg):
    if cfg.get("api", "django") == "client":
        from tiercache.client import Client
        return Client(cfg["socket"], stats_host=cfg.get("host", "test"))
    configure_django(cfg)
    from django.core.cache import caches
    return caches["default"]


def configure_django(cfg):
    import django
    from django.conf import settings
    if not settings.configured:
        settings.configure(
            SECRET_KEY="x", INSTALLED_APPS=[], DATABASES={},
            CACHES={"default": {"BACKEND": "tiercache.django_cache.TierCache",
                                "LOCATION": "unix://%s?db=0" % cfg["socket"],
                                "OPTIONS": {"SOCKET_TIMEOUT": 10,
                                            "STATS_HOST": cfg.get("host", "test")}}})
        django.setup()


def l2(cfg):
    host, port = cfg["l2"].split(":")
    return redis.Redis(host=host, port=int(port), password=cfg.get("l2_password"),
                       socket_timeout=10)


def wait_start(cfg):
    delay = cfg.get("start_at", 0) - time.time()
    if delay > 0:
        time.sleep(delay)


def deltas(before):
    return {k: features.COUNTS.total[k] - before.get(k, 0) for k in features.COUNTERS}


# ---- tags racing invalidations ------------------------------------------------------------

def race_invalidator(cfg, cache):
    db = l2(cfg)
    wait_start(cfg)
    tags = cfg["own_tags"]  # this host's invalidator is the only one of these tags
    for i in range(cfg["rounds"]):
        tag = tags[i % len(tags)]
        g = db.incr("truth:" + tag)              # the database changes...
        cache.invalidate_tags([tag])             # ...the cache is told (acknowledged here)...
        db.set("ack:" + tag, "%d:%r" % (g, time.time()))  # ...recorded for the readers
    return {"rounds": cfg["rounds"]}


def race_tagger(cfg, cache):
    db = l2(cfg)
    wait_start(cfg)
    tags, n = cfg["tags"], 0
    end = time.time() + cfg["seconds"]
    while time.time() < end:
        for tag in tags:
            for j in range(cfg["keys_per_tag"]):
                key = "race:%s:%d" % (tag, j)
                if (n + j) % 2:
                    snap = cache.tag_snapshot([tag, "shared"])   # before reading the data
                    cache.set(key, int(db.get("truth:" + tag) or 0), 60, tags=snap)
                else:
                    cache.delete(key)
                    cache.get_or_set(key, lambda: int(db.get("truth:" + tag) or 0), 60,
                                     tags=[tag, "shared"])
            n += 1
    return {"loops": n}


def race_reader(cfg, cache):
    db = l2(cfg)
    wait_start(cfg)
    tags = cfg["tags"]
    reads = hits = stale = 0
    worst = []
    end = time.time() + cfg["seconds"]
    while time.time() < end:
        for tag in tags:
            started = time.time()
            ack = db.get("ack:" + tag)
            acked, acked_at = (0, 0.0) if ack is None else (
                int(ack.split(b":")[0]), float(ack.split(b":")[1]))
            for j in range(cfg["keys_per_tag"]):
                v = cache.get("race:%s:%d" % (tag, j))
                reads += 1
                if v is None:
                    continue
                hits += 1
                # invalidated on this host: strict (read-your-writes); elsewhere: the bound
                if v < acked and (tag in cfg["strict_tags"] or started - acked_at > cfg["bound"]):
                    stale += 1
                    if len(worst) < 5:
                        worst.append([tag, j, v, acked, started - acked_at])
    return {"reads": reads, "hits": hits, "stale": stale, "examples": worst}


# ---- stampede ---------------------------------------------------------------------------

def stampede(cfg, cache_unused):
    """Fork cfg["processes"] children that each miss cfg["key"] at start_at."""
    if cfg.get("api", "django") == "django":  # imported once, before the forks
        configure_django(cfg)  # settings only: the cache object (and connection) per child
        import django_redis.client  # noqa: F401
        import tiercache.django_cache  # noqa: F401
    children = []
    for i in range(cfg["processes"]):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                cache = make_cache(cfg)
                db = l2(cfg)

                def factory():
                    db.incr("factory_runs")
                    time.sleep(cfg["factory_seconds"])
                    return "computed by %d" % os.getpid()
                counted = []  # what this process's get_or_set counted (none: a plain hit)
                add = features.COUNTS.add
                features.COUNTS.add = lambda name, n=1: (counted.append(name), add(name, n))[1]
                wait_start(cfg)
                t0 = time.monotonic()
                value = cache.get_or_set(cfg["key"], factory, 60)
                took = time.monotonic() - t0
                features.COUNTS.flush(cache._tc_conn(), cfg["host"], force=True)
                os.write(w, json.dumps({"value": value, "took": took,
                                        "counted": counted}).encode())
            except BaseException as e:  # noqa: B902 - reported to the parent
                os.write(w, json.dumps({"error": repr(e)}).encode())
                code = 1
            os._exit(code)
        os.close(w)
        children.append((pid, r))
    results = []
    for pid, r in children:
        chunks = []
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
        os.close(r)
        os.waitpid(pid, 0)
        results.append(json.loads(b"".join(chunks) or b'{"error": "no answer"}'))
    return {"results": results}


# ---- a lease holder that is killed, and the one that takes over -------------------------------

def holder(cfg, cache):
    def factory():
        print(json.dumps({"computing": True}), flush=True)
        time.sleep(600)
        return "holder"
    return {"value": cache.get_or_set(cfg["key"], factory, 60, lease_ttl=cfg["lease_ttl"])}


def waiter(cfg, cache):
    def factory():
        return "waiter"
    t0 = time.time()
    cache.get("warm-up")  # connected, segment open
    # Started before the holder takes the lease: the interpreter's and Django's start-up (seconds
    # on a busy machine) must not eat into the lease.
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    print(json.dumps({"waiting": True}), flush=True)
    value = cache.get_or_set(cfg["key"], factory, 60, lease_ttl=cfg["lease_ttl"], wait=30)
    features.COUNTS.flush(cache._tc_conn(), cfg["host"], force=True)
    return {"value": value, "done_at": time.time(), "started": t0,
            "counts": dict(features.COUNTS.total)}


# ---- early refresh under steady load ---------------------------------------------------------

def refresher(cfg, cache):
    db = l2(cfg)

    def factory():
        return db.incr("refresh_runs")
    wait_start(cfg)
    opts = {"refresh_ahead": cfg["refresh_ahead"]}
    cache.get_or_set(cfg["key"], factory, cfg["ttl"], **opts)  # warm-up
    before = dict(features.COUNTS.total)
    calls = 0
    seen = set()
    began = time.time()
    end = began + cfg["seconds"]
    while time.time() < end:
        seen.add(cache.get_or_set(cfg["key"], factory, cfg["ttl"], **opts))
        calls += 1
        time.sleep(cfg.get("pause", 0.002))
    ended = time.time()
    time.sleep(0.2)  # a background refresh still running finishes
    return {"calls": calls, "counts": deltas(before), "values": sorted(seen), "began": began,
            "ended": ended}


ROLES = {"race-invalidator": race_invalidator, "race-tagger": race_tagger,
         "race-reader": race_reader, "stampede": stampede, "holder": holder, "waiter": waiter,
         "refresher": refresher}


def main():
    cfg = json.loads(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *a: os._exit(3))
    if os.environ.get("TIERCACHE_TEST_IGNORE_TAGS"):  # the self-test: a cache without tags
        real = features.Features._tc_check

        def check(self, entry):
            return real(self, entry[:2] + ((), ()) + entry[4:])
        features.Features._tc_check = check
    cache = None if cfg["role"] == "stampede" else make_cache(cfg)
    out = ROLES[cfg["role"]](cfg, cache)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
