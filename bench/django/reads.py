#!/usr/bin/python3
"""What one cache read costs a Django process, side by side in one run (the per-read figures
behind bench/django/run.py's pages):

  locmem          Django's local-memory cache (the baseline: no other process involved)
  tiercache       tiercache.django_cache.TierCache: the L1 hit read from the sidecar's
                  shared memory by this process
  tiercache-3tags the same, the value stored with tags=[3 tags]: the entry and the three tag
                  versions read from L1 and compared (goal: within 1.5x of tiercache)
  django-redis    django_redis RedisCache on the same sidecar's unix socket (an L1 hit served
                  by the sidecar: one round trip)
  *-absent        the same caches asked for a key that does not exist: locmem's miss, and
                  TierCache's answered from the sidecar's negative entry in shared memory
                  (--l1-negative; goal: within 2x of locmem's miss)
and, under the cache API, the raw lookups:
  l1-reader       tiercache._l1.Reader.get of the same key
  redis-py        redis-py GET of the same key on the sidecar's socket
  redis-server    redis-py GET on a redis-server unix socket (the reference for a round trip)

The value is a pickled dict of about 500 bytes (a rendered fragment's size). This process is
pinned to --client-cpu, the sidecar, the L2 and redis-server to --server-cpu. Each case runs
N gets per round, rounds interleaved; medians of the rounds, in microseconds per get, with the
ratio to locmem.

    /usr/bin/python3 bench/django/reads.py [--rounds 5] [-n 20000]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "sidecar"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import redis  # noqa: E402

from sidecars import Cluster, python_package_dir, wait_for  # noqa: E402

sys.path.insert(0, python_package_dir())

import django  # noqa: E402
from django.conf import settings  # noqa: E402


def per_get_us(fn, n):
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("-n", type=int, default=20000, help="gets per case per round")
    ap.add_argument("--client-cpu", default="0")
    ap.add_argument("--server-cpu", default="1")
    args = ap.parse_args()
    os.sched_setaffinity(0, {int(args.client_cpu)})

    with Cluster("tiercache") as cluster:
        sc = cluster.sidecar("a", cpu=args.server_cpu)
        subprocess.run(["taskset", "-pc", args.server_cpu, str(cluster.l2.proc.pid)],
                       check=True, capture_output=True)
        ref_dir = os.path.join(sc.workdir, "ref")
        os.makedirs(ref_dir)
        ref_sock = os.path.join(ref_dir, "redis.sock")
        ref = subprocess.Popen(["taskset", "-c", args.server_cpu, "redis-server", "--port", "0",
                                "--unixsocket", ref_sock, "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL)
        try:
            loc = "unix://%s?db=0" % sc.socket
            settings.configure(CACHES={
                "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
                "tiercache": {"BACKEND": "tiercache.django_cache.TierCache", "LOCATION": loc},
                "django-redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": loc},
            })
            django.setup()
            from django.core.cache import caches
            from tiercache import _l1

            value = {"html": "x" * 450, "id": 42, "price": "19.90"}
            for name in ("locmem", "tiercache", "django-redis"):
                caches[name].set("fragment", value, timeout=600)
            tc = caches["tiercache"]
            tc.set("tagged", value, 600, tags=["product:42", "category:7", "shop"])
            wait_for(lambda: tc.get("tagged") == value and tc._reader.get(
                0, tc.make_key("tagged")) is not None, 5, what="the tagged fragment in L1")
            wait_for(lambda: tc.get("fragment") == value and tc._reader is not None
                     and tc._reader.get(0, tc.make_key("fragment")) is not None, 5,
                     what="the fragment in L1")
            raw_key = tc.make_key("fragment")
            raw_value = tc._reader.get(0, raw_key)
            reader = _l1.Reader(sc.shm_name, sc.info()["l1_direct_max_staleness_ms"])
            sidecar_client = redis.Redis(unix_socket_path=sc.socket)
            wait_for(lambda: os.path.exists(ref_sock), 5, what="redis-server")
            ref_client = redis.Redis(unix_socket_path=ref_sock)
            ref_client.set(raw_key, raw_value)

            cases = {
                "locmem": lambda: caches["locmem"].get("fragment"),
                "tiercache": lambda: tc.get("fragment"),
                "tiercache-3tags": lambda: tc.get("tagged"),
                "django-redis": lambda: caches["django-redis"].get("fragment"),
                "locmem-absent": lambda: caches["locmem"].get("absent"),
                "tiercache-absent": lambda: tc.get("absent"),
                "django-redis-absent": lambda: caches["django-redis"].get("absent"),
                "l1-reader": lambda: reader.get(0, raw_key),
                "redis-py": lambda: sidecar_client.get(raw_key),
                "redis-server": lambda: ref_client.get(raw_key),
            }
            wait_for(lambda: tc.get("absent") is None and tc._reader.get(
                0, tc.make_key("absent"), False) is False, 5, what="absent cached as absent")
            for name, fn in cases.items():  # correctness and warm-up
                got = fn()
                assert got == (None if name.endswith("-absent") else
                               value if name in ("locmem", "tiercache", "tiercache-3tags",
                                                 "django-redis")
                               else raw_value), name
                per_get_us(fn, 1000)
            hits0 = sc.info()
            samples = {name: [] for name in cases}
            for _ in range(args.rounds):
                for name, fn in cases.items():
                    samples[name].append(per_get_us(fn, args.n))
            hits1 = sc.info()
        finally:
            ref.terminate()
            ref.wait(10)

    direct = hits1["l1_direct_hits"] - hits0["l1_direct_hits"]
    assert direct >= 3 * args.rounds * args.n, "the tiercache cases did not read L1 directly"
    negative = hits1["l1_direct_negative_hits"] - hits0["l1_direct_negative_hits"]
    assert negative >= args.rounds * args.n, "the absent key was not answered from L1: %d of %d" % (negative, args.rounds * args.n)
    base = statistics.median(samples["locmem"])
    print("one cache get, median of %d rounds x %d gets; this process on cpu %s, servers on "
          "cpu %s" % (args.rounds, args.n, args.client_cpu, args.server_cpu))
    print("%-14s %10s %10s" % ("case", "us/get", "vs locmem"))
    for name, xs in samples.items():
        m = statistics.median(xs)
        print("%-14s %10.2f %9.2fx" % (name, m, m / base))
    print("tagged (3 tags) vs untagged tiercache get: %.2fx"
          % (statistics.median(samples["tiercache-3tags"]) / statistics.median(samples["tiercache"])))
    print("absent key: tiercache vs locmem %.2fx"
          % (statistics.median(samples["tiercache-absent"])
             / statistics.median(samples["locmem-absent"])))
    print("direct L1 hits counted by the sidecar during the rounds: %d (%d of them negative)"
          % (direct, negative))
    return 0


if __name__ == "__main__":
    sys.exit(main())
