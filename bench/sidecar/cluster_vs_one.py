#!/usr/bin/python3
"""A sidecar over a 3-master Redis Cluster (l2-mode cluster, tracking on every master) against a
sidecar over one redis-server, side by side in one run (issue 14's benchmark):
  GET (L1 hits)   keys loaded and read once, then redis-benchmark -t get over them;
  GET (misses)    GETs over 10^7 key names of which the loaded ones are 0.1%: nearly every
                  GET is an L1 miss fetched from the L2 (the share is printed, from INFO);
  SET (to the L2) every write goes to the L2 (one master per key's slot, or the one server).
All servers (the six cluster nodes, redis-server, both sidecars) pinned to CPU 1, redis-benchmark
to CPU 0; the cases alternate within every round (bench.py's in_turn). Prints medians of --runs
rounds, the ratio cluster/one and the servers' CPU time per request.
Then a master's failover, --failovers times on a fresh cluster each: 3,000 keys in a tracking
sidecar's L1, kill -9 of one master; the time until the cluster names the promoted replica
(CLUSTER SLOTS of a live node: the baseline, Redis's own failover) side by side with the time
until the sidecar answers the dead master's keys again, and the share of L1 the failover
dropped (goal: about a third with three masters).
With --instructions, only the sidecar's own user-space instructions per request (valgrind's
callgrind, counters zeroed after loading and read at the end of each case), for the misses and
the SETs, over the cluster and over the one server: figures that do not depend on the load.
  bench/sidecar/cluster_vs_one.py [--runs 3] [--requests 200000] [--keys 10000] [--failovers 3]
                                  [--instructions]"""

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (CLIENT_CPU, SERVER_CPU, encode, in_turn, load_and_warm,  # noqa: E402
                   pipe, start_redis, start_sidecar, timed_benchmark)
from redis_cluster import RedisCluster  # noqa: E402  (bench.py put tests/integration/sidecar on the path)
from sidecars import wait_for  # noqa: E402

MISS_KEYS = 10_000_000
# (label, redis-benchmark test, key space: None = the loaded keys)
CASES = (("GET (L1 hits)", "get", None), ("GET (misses)", "get", MISS_KEYS),
         ("SET (to the L2)", "set", None))


class Pinned:
    """A cluster node as timed_benchmark counts CPU: its .proc."""

    def __init__(self, popen):
        self.proc = popen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--failovers", type=int, default=3)
    ap.add_argument("--instructions", action="store_true",
                    help="only the sidecar's instructions per request (valgrind)")
    args = ap.parse_args()
    if args.instructions:
        return instructions(min(args.requests, 20000), args.keys)
    throughput(args)
    if args.failovers > 0:
        failovers(args.failovers)


def throughput(args):
    tmp = tempfile.mkdtemp(prefix="tc-bclu-")
    rc = RedisCluster(full_coverage=False)
    started = []
    try:
        nodes = [Pinned(p) for p in rc.procs.values()]
        for n in nodes:
            subprocess.run(["taskset", "-cp", SERVER_CPU, str(n.proc.pid)], check=True,
                           capture_output=True)
        rs, rsock = start_redis(tmp)
        started.append(rs)
        flags = {"l1_memory": "256MiB", "l1_max_ttl_ms": 3600000}
        one = start_sidecar(tmp, "one", "unix:" + rsock, **flags)
        started.append(one)
        clu = start_sidecar(tmp, "clu", rc.seeds(3), l2_mode="cluster", **flags)
        started.append(clu)
        for sc in (one, clu):
            load_and_warm(sc.socket, args.keys, warm=True)
        res = {}
        for run in range(args.runs):
            for label, test, space in CASES:
                if space is None and test == "get":  # the last round's SETs invalidated them
                    for sc in (one, clu):
                        warm(sc.socket, args.keys)
                for name, sc, servers in in_turn((("cluster", clu, tuple([clu] + nodes)),
                                                  ("one", one, (one, rs))), run):
                    before = sc.info()
                    r = timed_benchmark(servers, sock=sc.socket, pipeline=1,
                                        requests=args.requests, keys=space or args.keys,
                                        test=test)
                    after = sc.info()
                    r["miss_share"] = (after["l1_misses"] - before["l1_misses"]) / args.requests
                    res.setdefault((label, name), []).append(r)
        print("sidecar over a 3-master Redis Cluster vs sidecar over one redis-server, unix "
              "socket, -c 50 -d 100 -P 1 -r %d, medians of %d rounds" % (args.keys, args.runs))
        for label, test, _ in CASES:
            med = {n: {f: statistics.median(x[f] for x in res[(label, n)])
                       for f in ("rps", "p99", "server_us", "miss_share")}
                   for n in ("cluster", "one")}
            c, o = med["cluster"], med["one"]
            misses = (" | L1 misses %.0f%% / %.0f%%" % (100 * c["miss_share"], 100 * o["miss_share"])
                      if test == "get" else "")
            print("  %-16s cluster %8.0f rps p99 %.3f ms | one %8.0f rps p99 %.3f ms | ratio "
                  "%.2fx | server CPU per request %.2f us vs %.2f us (%.2fx)%s"
                  % (label, c["rps"], c["p99"], o["rps"], o["p99"], c["rps"] / o["rps"],
                     c["server_us"], o["server_us"], c["server_us"] / o["server_us"], misses))
    finally:
        for p in reversed(started):
            p.stop()
        rc.close()
        shutil.rmtree(tmp, ignore_errors=True)


def instructions(requests, keys):
    if not shutil.which("callgrind_control"):
        sys.exit("--instructions needs valgrind (apt-get install valgrind)")
    tmp = tempfile.mkdtemp(prefix="tc-bclu-cg-")
    rc = RedisCluster(full_coverage=False)
    rs, rsock = start_redis(tmp)
    # A slow sidecar under valgrind: requests must not time out.
    flags = {"l1_memory": "256MiB", "l1_max_ttl_ms": 3600000, "l2_timeout_ms": 60000}
    per = {}
    try:
        for name, l2, extra in (("one", "unix:" + rsock, {}),
                                ("cluster", rc.seeds(3), {"l2_mode": "cluster"})):
            out = os.path.join(tmp, "cg.%s" % name)
            sc = start_sidecar(tmp, name, l2, wrap=("valgrind", "--tool=callgrind",
                                                    "--callgrind-out-file=" + out),
                               **dict(flags, **extra))
            try:
                load_and_warm(sc.socket, keys, warm=True)
                for label, test, space in CASES[1:]:  # the misses and the SETs
                    pid = str(sc.proc.pid)
                    subprocess.run(["callgrind_control", "-z", pid], capture_output=True, check=True)
                    subprocess.run(["redis-benchmark", "-s", sc.socket, "-t", test, "-c", "50",
                                    "-d", "100", "-n", str(requests), "-r", str(space or keys),
                                    "-P", "1", "--csv"], capture_output=True, check=True)
                    before = set(glob.glob(out + ".*"))
                    subprocess.run(["callgrind_control", "-d", pid], capture_output=True, check=True)
                    new = sorted(set(glob.glob(out + ".*")) - before)
                    with open(new[-1]) as f:
                        total = next(int(x.split()[1]) for x in f if x.startswith("summary:"))
                    per[(label, name)] = total / requests
            finally:
                sc.stop()
    finally:
        rs.stop()
        rc.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("the sidecar's user-space instructions per request (callgrind, %d requests, -c 50 -P 1)"
          % requests)
    for label, _, _ in CASES[1:]:
        o, c = per[(label, "one")], per[(label, "cluster")]
        print("  %-16s cluster %8.0f | one %8.0f | ratio %.2fx" % (label, c, o, c / o))


def warm(sock, keys):
    """A GET of every loaded key (load_and_warm's names), untimed: back into L1."""
    pipe(sock, b"".join(encode("GET", b"key:%012d" % i) for i in range(keys)))


def failover_once():
    """One failover on a fresh cluster: (seconds to the promotion, seconds until the sidecar
    answers the dead master's keys again, share of L1 dropped)."""
    tmp = tempfile.mkdtemp(prefix="tc-bcfo-")
    rc = RedisCluster(full_coverage=False)
    sc = None
    try:
        for proc in rc.procs.values():
            subprocess.run(["taskset", "-cp", SERVER_CPU, str(proc.pid)], check=True,
                           capture_output=True)
        sc = start_sidecar(tmp, "fo", rc.seeds(3), l2_mode="cluster", l1_max_ttl_ms=3600000)
        wait_for(lambda: sc.info()["bus_slots_unhealthy"] == 0, 20.0, interval=0.05,
                 what="every master's tracking set up")
        c = sc.client(decode_responses=True)
        keys = ["fo:%d" % i for i in range(3000)]
        p = c.pipeline(transaction=False)
        for k in keys:
            p.set(k, "v-" + k)
        p.execute()
        victim = rc.masters()[1]
        dead = [k for k in keys if rc.master_of(k) == victim][:20]
        rc.wait_replicated(victim)
        for _ in range(2):
            p = c.pipeline(transaction=False)
            for k in keys:
                p.get(k)
            p.execute()
        before = sc.info()["l1_items"]
        assert before == len(keys), before
        survivor = next(port for port in rc.masters() if port != victim)
        rc.kill9(victim)
        t0 = time.monotonic()
        promoted = served = None
        low = before
        while promoted is None or served is None:
            now = time.monotonic() - t0
            assert now < 60, "no failover within 60 s"
            low = min(low, sc.info()["l1_items"])
            if promoted is None and victim not in {
                    r[2][1] for r in rc.node(survivor).execute_command("CLUSTER", "SLOTS")}:
                promoted = now
            if served is None:
                try:
                    if all(c.get(k) == "v-" + k for k in dead):
                        served = now
                except Exception:  # noqa: BLE001  (the L2's error until the promotion)
                    pass
            time.sleep(0.01)
        return promoted, served, 1 - low / before
    finally:
        if sc is not None:
            sc.stop()
        rc.close()
        shutil.rmtree(tmp, ignore_errors=True)


def failovers(n):
    os.sched_setaffinity(0, {int(CLIENT_CPU)})
    runs = [failover_once() for _ in range(n)]
    for promoted, served, dropped in runs:
        print("  failover: promoted %.2f s after the kill, the sidecar served the dead master's "
              "keys %.2f s after it, L1 dropped %.1f%%" % (promoted, served, 100 * dropped))
    med = [statistics.median(r[i] for r in runs) for i in range(3)]
    print("master killed (kill -9, cluster-node-timeout 1 s), medians of %d: promoted %.2f s | "
          "sidecar serving its keys again %.2f s (%.2fx of the promotion) | L1 dropped %.1f%% "
          "(goal: about a third)" % (n, med[0], med[1], med[1] / med[0], 100 * med[2]))


if __name__ == "__main__":
    main()
