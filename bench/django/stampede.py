#!/usr/bin/python3
"""A hot key expiring every second, two ways of measuring the same stampede.

Without --wrk: the access pattern alone. The key is read in a loop by PROCS processes on two
hosts (sidecars A and B, one L2): "database queries" (factory runs, each a 50 ms sleep
standing in for a slow query) per second and reads answered without a value at hand, two ways
side by side:

  plain      the hand-written pattern: v = cache.get(k); if v is None: v = query();
             cache.set(k, v, 1)  (what Django's get_or_set does too)
  protected  cache.get_or_set(k, query, 1, refresh_ahead=0.8): one process of the site
             computes (a lease at the L2), refreshed in the background before it expires

Workers on CPU 0, sidecars and L2 on CPU 1.

    /usr/bin/python3 bench/django/stampede.py [--seconds 10] [--procs 8] [--runs 3]

With --wrk: the example shop's /hot/ page (examples/django/shop/hotkey.py: a report computed
by a slow aggregate query on SQLite, cached under one key with a 1 s TTL) on the demo's
topology (examples/demo/topology.py: tiercache-l2, two hosts each with a sidecar and a gunicorn of
WORKERS sync workers, one SQLite file), both sites driven by wrk at once, three modes:

  plain      ?mode=plain: get, on a miss run the query and set (Django's get_or_set)
  protected  ?mode=protected: tiercache's get_or_set, a lease at the L2, no early refresh
  refresh    ?mode=refresh: the same with refresh_ahead=0.8

Per mode: database queries per second as the database counted them (the page tallies the
statements its computation executed in a table of the same database, shop_hotkeystat; read
here with sqlite3 before and after each run), computations per second, requests that found
the key missing, requests per second (both sites), p99 latency (the worse site), and ratios
against plain. Each wrk connection pauses DELAY_MS before each request (pace.lua): a
steady load below the sites' capacity, as a site runs; --delay-ms 0 saturates them (then the
background refresh competes with every worker for the CPU). The sites and sidecars are pinned to --site-cpus, the L2 and the two wrk to
--aux-cpus (as bench/django/run.py, whose wrk handling this uses). Each run is a WARMUP-second
wrk (not counted) and a SECONDS-second one; the modes are interleaved, one run each per round,
for RUNS rounds; medians are reported. Results also go to bench/results/django-stampede.json.

    /usr/bin/python3 bench/django/stampede.py --wrk [--seconds 10] [--runs 3] [--workers 4]
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
from run import run_wrk, wrk_command  # noqa: E402  (bench/django/run.py)
from topology import Topology  # noqa: E402  (put on the path by run.py)

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


MODES = ("plain", "protected", "refresh")  # shop/hotkey.py's ?mode=


def wrk_run(topo, mode, wrk, args):
    urls = [host.url + "/hot/?mode=" + mode for host in topo.hosts.values()]
    pace = [str(args.delay_ms)]
    run_wrk(wrk, args.warmup, urls, pace)
    before = topo.hot_counts(mode)
    sites = run_wrk(wrk, args.seconds, urls, pace)
    queries, runs, misses = (a - b for a, b in zip(topo.hot_counts(mode), before))
    assert all(site["non_2xx"] == 0 for site in sites), sites
    return {"queries_per_s": queries / args.seconds, "runs_per_s": runs / args.seconds,
            "misses_per_s": misses / args.seconds, "rps": sum(site["rps"] for site in sites),
            "p99_ms": max(site["p99_ms"] for site in sites), "sites": sites}


def main_wrk(args):
    load_before = os.getloadavg()[0]
    results = {mode: [] for mode in MODES}
    topo = Topology(hosts=("A", "B"), workers=args.workers, products=48)
    try:
        topo.start(l2_cpus=args.aux_cpus, host_cpus=args.site_cpus)
        wrk = wrk_command(args.aux_cpus, args.connections,
                          script=os.path.join(HERE, "pace.lua"))
        for i in range(args.runs):  # interleaved: the machine's load hits every mode alike
            print("round %d" % (i + 1), flush=True)
            for mode in MODES:
                r = wrk_run(topo, mode, wrk, args)
                results[mode].append(r)
                print("  %-10s %6.2f queries/s %6.2f misses/s %8.1f req/s  p99 %7.2f ms"
                      % (mode, r["queries_per_s"], r["misses_per_s"], r["rps"], r["p99_ms"]),
                      flush=True)
    finally:
        problems = topo.stop()
        if problems:
            print("teardown: %s" % problems, file=sys.stderr)
    load_after = os.getloadavg()[0]
    figures = {mode: {k: statistics.median(r[k] for r in rs)
                      for k in ("queries_per_s", "runs_per_s", "misses_per_s", "rps", "p99_ms")}
               for mode, rs in results.items()}
    print("\n/hot/ (a 1 s TTL key before a slow SQLite aggregate), %s L2, 2 sites x %d sync "
          "workers and their sidecars on cpu %s; L2 and 2 wrk -c%d (%d ms pause before each "
          "request) on cpu %s; median of %d x %ds (after %ds warm-up each)"
          % (topo.l2_kind, args.workers, args.site_cpus, args.connections, args.delay_ms,
             args.aux_cpus, args.runs, args.seconds, args.warmup))
    print("machine load average (1 min) %.2f before, %.2f after, on %d CPUs"
          % (load_before, load_after, os.cpu_count()))
    base = figures["plain"]
    print("%-10s %10s %8s %9s %9s %8s %11s %11s %9s" % (
        "mode", "queries/s", "comp/s", "misses/s", "req/s", "p99 ms", "queries vs", "req/s vs",
        "p99 vs"))
    for mode, f in figures.items():
        print("%-10s %10.2f %8.2f %9.2f %9.1f %8.2f %10.2fx %10.2fx %8.2fx" % (
            mode, f["queries_per_s"], f["runs_per_s"], f["misses_per_s"], f["rps"], f["p99_ms"],
            f["queries_per_s"] / max(base["queries_per_s"], 1e-9), f["rps"] / base["rps"],
            f["p99_ms"] / base["p99_ms"]))
    out_dir = os.path.join(REPO, "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "django-stampede.json"), "w") as f:
        json.dump({"args": vars(args), "load": [load_before, load_after], "figures": figures,
                   "runs": results}, f, indent=2)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--client-cpu", default="0")
    ap.add_argument("--server-cpu", default="1")
    ap.add_argument("--wrk", action="store_true",
                    help="the shop's /hot/ page under wrk instead of the loop (see above)")
    ap.add_argument("--warmup", type=int, default=2, help="--wrk: seconds before each run")
    ap.add_argument("--workers", type=int, default=4, help="--wrk: gunicorn workers per site")
    ap.add_argument("--connections", type=int, default=8, help="--wrk: wrk connections per site")
    ap.add_argument("--delay-ms", type=int, default=100,
                    help="--wrk: each connection's pause before a request (pace.lua); 0: "
                         "back to back, the sites saturated")
    ap.add_argument("--site-cpus", default="0", help="--wrk: sites and sidecars")
    ap.add_argument("--aux-cpus", default="1", help="--wrk: the L2 and wrk")
    args = ap.parse_args()
    if args.wrk:
        return main_wrk(args)
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
