#!/usr/bin/python3
"""A hot key expiring every second, read in a loop by PROCS processes on two hosts (sidecars A
and B, one L2): "database queries" (factory runs, each a 50 ms sleep standing in for a slow
query) per second and reads answered without a value at hand, two ways side by side:

  plain      the hand-written pattern: v = cache.get(k); if v is None: v = query();
             cache.set(k, v, 1)  (what Django's get_or_set does too)
  protected  cache.get_or_set(k, query, 1, refresh_ahead=0.8): one process of the site
             computes (a lease at the L2), refreshed in the background before it expires

Not wrk against the shop (that benchmark is still to be written): the same access pattern
without the page around it. Workers on CPU 0, sidecars and L2 on CPU 1.

    /usr/bin/python3 bench/django/stampede.py [--seconds 10] [--procs 8] [--runs 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "sidecar"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from sidecars import Cluster, python_package_dir  # noqa: E402

WORKER = r'''
import json, os, sys, time
sys.path.insert(0, %(pkg)r)
import redis
from tiercache.client import Client
cfg = json.loads(sys.argv[1])
c = Client(cfg["socket"]); db = redis.Redis(port=cfg["port"])
def query():
    db.incr("queries:" + cfg["mode"]); time.sleep(0.05); return time.time()
time.sleep(max(0, cfg["start"] - time.time()))
end = cfg["start"] + cfg["seconds"]; reads = misses = 0
while time.time() < end:
    if cfg["mode"] == "plain":
        v = c.get("hot:plain")
        if v is None:
            misses += 1; c.set("hot:plain", query(), 1)
    else:
        v = c.get("hot:protected")
        if v is None:
            misses += 1
        c.get_or_set("hot:protected", query, 1, refresh_ahead=0.8)
    reads += 1
    time.sleep(0.002)
print(json.dumps({"reads": reads, "misses": misses}))
'''


def run_mode(cluster, mode, args):
    start = time.time() + 2.0
    procs = []
    for i in range(args.procs):
        sc = cluster.a if i % 2 == 0 else cluster.b
        cfg = {"socket": sc.socket, "port": cluster.l2.port, "mode": mode, "start": start,
               "seconds": args.seconds}
        procs.append(subprocess.Popen(
            ["taskset", "-c", args.client_cpu, sys.executable, "-c",
             WORKER % {"pkg": python_package_dir()}, json.dumps(cfg)], stdout=subprocess.PIPE))
    outs = [json.loads(p.communicate()[0].decode().strip().splitlines()[-1]) for p in procs]
    queries = int(cluster.l2_client().getset("queries:" + mode, 0) or 0)
    return {"queries_per_s": queries / args.seconds, "reads": sum(o["reads"] for o in outs),
            "misses": sum(o["misses"] for o in outs)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--client-cpu", default="0")
    ap.add_argument("--server-cpu", default="1")
    args = ap.parse_args()
    results = {"plain": [], "protected": []}
    with Cluster("tiercache") as cluster:
        subprocess.run(["taskset", "-pc", args.server_cpu, str(cluster.l2.proc.pid)],
                       check=True, capture_output=True)
        cluster.a = cluster.sidecar("a", cpu=args.server_cpu)
        cluster.b = cluster.sidecar("b", cpu=args.server_cpu)
        for _ in range(args.runs):  # interleaved
            for mode in results:
                r = run_mode(cluster, mode, args)
                results[mode].append(r)
                print("  %-10s %6.2f queries/s  %6d reads  %5d misses" % (
                    mode, r["queries_per_s"], r["reads"], r["misses"]), flush=True)
    print("hot key, TTL 1 s, %d processes on two hosts, %.0f s x %d runs (medians):"
          % (args.procs, args.seconds, args.runs))
    for mode, rs in results.items():
        print("%-10s %6.2f queries/s, %5.0f misses per run" % (
            mode, statistics.median(r["queries_per_s"] for r in rs),
            statistics.median(r["misses"] for r in rs)))
    p, q = (statistics.median(r["queries_per_s"] for r in results[m]) for m in results)
    print("queries: %.1fx fewer with the lease and early refresh" % (p / max(q, 1e-9)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
