#!/usr/bin/python3
"""tiercache-l2 against redis-server on hashes, lists, sets and sorted sets, side by side in one run.

Throughput and latency: redis-benchmark -t lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,
lrange_100 -c 50 over the Unix socket, and BLPOP handed over (50 clients blocked in BLPOP fed
by 50 clients doing RPUSH), each server pinned to CPU 1 and redis-benchmark to CPU 0
(l2_vs_redis.py's Server); each test runs on the two servers back to back, who goes first
alternating. Memory: bytes per element from each server's used_memory, for each type at a small
size (10 000 keys of 10 elements: the compact encodings) and a large one (one key of 200 000
elements).

Every test is its own redis-benchmark run (in redis-benchmark's order, so LPOP finds LPUSH's
list), measured with the server's CPU time per request and the share of the time the client was
on its CPU: a client busy near 100% sets the pace whatever the server costs (LRANGE_100's CPU
figure includes redis-benchmark's LPUSH fill for it).

Prints medians of --runs rounds and the ratios tiercache/redis. Usage:
  bench/l2_types_vs_redis.py [--runs 3] [--requests 200000] [--pipeline 1] [--busy-poll-us 0]
                             [--only throughput|memory|instructions] [--json out.json]
--only instructions counts each server's user-space instructions per request of each test
with valgrind's callgrind instead (as l2_vs_redis.py --instructions): figures that do not
depend on the machine's load. redis-benchmark fills the list for LRANGE_100 with as many
LPUSHes, so that row is given without them (its count minus LPUSH's).
--json writes every round's throughput figures (per server and test, in round order), so that
runs can be pooled.
"""
import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from l2_vs_redis import CLIENT_CPU, SERVER_CPU, Server, preflight, with_cpu  # noqa: E402

TESTS = "lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100"


def bench_one(server, test, requests, pipeline=1):
    """One test in its own redis-benchmark run, with the CPU time each side spent on it."""
    if test == "blpop":
        return bench_blpop(server, requests)
    cmd = ["taskset", "-c", CLIENT_CPU, "redis-benchmark", "-s", server.sock, "-t", test,
           "-c", "50", "-n", str(requests), "-P", str(pipeline), "--csv"]
    out, cpu = with_cpu(server, lambda: subprocess.run(cmd, capture_output=True,
                                                       check=True).stdout.decode())
    res = {}
    for name, fig in parse_csv(out).items():
        fig.update(cpu)
        res[name] = fig
    return res


def parse_csv(out):
    res = {}
    for line in out.splitlines()[1:]:
        cols = [c.strip('"') for c in line.split(",")]
        res[cols[0]] = {"rps": float(cols[1]), "p99": float(cols[6])}
    return res


def bench_blpop(server, requests):
    """BLPOP handed over: 50 clients blocked in BLPOP on one list while 50 others RPUSH to it,
    each side `requests` commands; the figure is the BLPOP side's (every pop a wake-up)."""
    key = "bench:blpop"
    base = ["taskset", "-c", CLIENT_CPU, "redis-benchmark", "-s", server.sock, "-c", "50",
            "-n", str(requests), "--csv"]

    def run():
        consumer = subprocess.Popen(base + ["BLPOP", key, "0"], stdout=subprocess.PIPE)
        subprocess.run(base + ["RPUSH", key, "x"], capture_output=True, check=True, timeout=300)
        return consumer.communicate(timeout=300)[0].decode()

    out, cpu = with_cpu(server, run)
    fig = list(parse_csv(out).values())[0]
    fig.update(cpu)  # the server's CPU here serves the RPUSHes as well
    return {"BLPOP (50 blocked, fed by RPUSH)": fig}


def fill(server, kind, keys, per_key):
    """Writes keys * per_key elements of 16-byte members through redis-cli --pipe."""
    cmds = []
    for k in range(keys):
        key = b"key:%012d" % k
        for start in range(0, per_key, 100):
            members = [b"member:%09d" % i for i in range(start, min(per_key, start + 100))]
            if kind == "hash":
                args = [b"HSET", key] + [x for m in members for x in (m, b"value:%09d" % 0)]
            elif kind == "list":
                args = [b"RPUSH", key] + members
            elif kind == "set":
                args = [b"SADD", key] + members
            else:
                args = [b"ZADD", key] + [x for i, m in enumerate(members) for x in (b"%d" % i, m)]
            cmds.append(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    r = subprocess.run(["redis-cli", "-s", server.sock, "--pipe"], input=b"".join(cmds),
                       capture_output=True)
    if b"errors: 0" not in r.stdout:
        raise RuntimeError("loading failed: %r" % r.stdout[-300:])


def bytes_per_element(kind, keys, per_key, tmp):
    out = {}
    for server_kind in ("redis", "tiercache"):
        s = Server(server_kind, tmp)
        try:
            time.sleep(0.2)
            used0 = int(s.info("memory")["used_memory"])
            fill(s, kind, keys, per_key)
            time.sleep(0.3)
            used1 = int(s.info("memory")["used_memory"])
            out[server_kind] = (used1 - used0) / float(keys * per_key)
        finally:
            s.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--pipeline", type=int, default=1,
                    help="redis-benchmark -P for the throughput tests (BLPOP stays at 1)")
    ap.add_argument("--busy-poll-us", type=int, default=0,
                    help="tiercache-l2's busy-poll-us for the throughput tests (default 0: off)")
    ap.add_argument("--only", choices=("throughput", "memory", "instructions"),
                    help="run one half (memory figures do not depend on the machine's load), "
                         "or count instructions per request instead of throughput")
    ap.add_argument("--json", help="write every round's throughput figures to this file")
    args = ap.parse_args()
    preflight()
    tmp = tempfile.mkdtemp(prefix="tc-bench-types-")
    try:
        if args.only == "instructions":
            instructions(tmp)
            return
        if args.only != "memory":
            throughput(args, tmp)
        if args.only != "throughput":
            memory(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the servers' sockets (and callgrind's files)


def callgrind_total(kind, test, n, tmp):
    out = os.path.join(tmp, "callgrind.%s.%s.%d" % (kind, test, n))
    s = Server(kind, tmp, wrap=("valgrind", "--tool=callgrind", "--callgrind-out-file=" + out))
    try:
        subprocess.run(["taskset", "-c", CLIENT_CPU, "redis-benchmark", "-s", s.sock, "-t", test,
                        "-c", "50", "-n", str(n), "--csv"], capture_output=True, check=True)
    finally:
        s.stop()
    with open(out) as f:
        return next(int(line.split()[1]) for line in f if line.startswith("summary:"))


def instructions(tmp, small=2000, large=12000):
    print("user-space instructions per request (callgrind; runs of %d minus %d requests)"
          % (large, small))
    print("%-12s | %10s %10s %6s" % ("test", "redis", "tiercache", "ratio"))
    per = {}
    for test in TESTS.split(","):
        for kind in ("redis", "tiercache"):
            per[(kind, test)] = (callgrind_total(kind, test, large, tmp) -
                                 callgrind_total(kind, test, small, tmp)) / (large - small)
        if test == "lrange_100":
            for kind in ("redis", "tiercache"):  # without redis-benchmark's LPUSH fill
                per[(kind, test)] -= per[(kind, "lpush")]
        r, t = per[("redis", test)], per[("tiercache", test)]
        print("%-12s | %10.0f %10.0f %5.2fx" % (test.upper(), r, t, t / r), flush=True)


def throughput(args, tmp):
    samples = {}
    servers = {k: Server(k, tmp, busy_poll_us=args.busy_poll_us) for k in ("redis", "tiercache")}
    try:
        for run in range(args.runs):
            for s in servers.values():
                s.cli("flushall")
            # Each test runs on both servers back to back (each server's own sequence of tests
            # is redis-benchmark's order, so LPOP finds LPUSH's list), who goes first alternating
            # by test and by round: the host's speed drifts over seconds, and a pair measured
            # two seconds apart sees the same host, where a whole round per server did not.
            for i, test in enumerate(TESTS.split(",") + ["blpop"]):
                first = ("redis", "tiercache") if (run + i) % 2 == 0 else ("tiercache", "redis")
                for kind in first:
                    for name, fig in bench_one(servers[kind], test, args.requests,
                                               args.pipeline).items():
                        samples.setdefault((kind, name), []).append(fig)
            print("round %d/%d done" % (run + 1, args.runs), file=sys.stderr)
    finally:
        for s in servers.values():
            s.stop()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"pipeline": args.pipeline, "requests": args.requests,
                       "busy_poll_us": args.busy_poll_us,
                       "rounds": {"%s|%s" % k: v for k, v in samples.items()}}, f, indent=1)
    print("\nredis-benchmark -c 50 -P %d -n %d over the unix socket, medians of %d rounds, pinned "
          "(server CPU %s, client CPU %s; BLPOP unpipelined), tiercache-l2 busy-poll-us %d"
          % (args.pipeline, args.requests, args.runs, SERVER_CPU, CLIENT_CPU, args.busy_poll_us))
    print("%-32s | %10s %10s %6s | %7s %7s %6s | %6s %6s %6s | %6s" % (
        "test", "redis rps", "tc rps", "ratio", "r p99", "tc p99", "ratio",
        "r us", "tc us", "ratio", "client"))
    all_ok = True
    for test in sorted({t for (_, t) in samples}):
        med = {k: {f: statistics.median(x[f] for x in samples[(k, test)])
                   for f in ("rps", "p99", "server_cpu", "client_busy")}
               for k in ("redis", "tiercache")}
        r, t = med["redis"], med["tiercache"]
        ok = t["rps"] >= r["rps"] and t["p99"] <= r["p99"]
        all_ok &= ok
        us = {k: med[k]["server_cpu"] * 1e6 / args.requests for k in med}
        print("%-32s | %10.0f %10.0f %5.2fx | %7.3f %7.3f %5.2fx | %6.1f %6.1f %5.2fx | %5.0f%%" % (
            test[:32], r["rps"], t["rps"], t["rps"] / r["rps"], r["p99"], t["p99"],
            t["p99"] / r["p99"] if r["p99"] else 0, us["redis"], us["tiercache"],
            us["tiercache"] / us["redis"] if us["redis"] else 0,
            100 * max(r["client_busy"], t["client_busy"])))
    print("us: the server's CPU microseconds (user + system) per request; client: the share of "
          "the wall time redis-benchmark was on its CPU (the higher of the two servers' runs): "
          "near 100%, the client sets the pace")
    print("goal (>= 1.0x rps and p99 no worse on every test): %s" % ("met" if all_ok else "NOT met"))


def memory(tmp):
    print("\nbytes per element from used_memory (16-byte members; hash values 16 bytes)")
    print("%-6s %-30s %10s %10s %6s" % ("type", "size", "redis", "tiercache", "ratio"))
    for kind in ("hash", "list", "set", "zset"):
        for keys, per_key in ((10000, 10), (1, 200000)):
            m = bytes_per_element(kind, keys, per_key, tmp)
            print("%-6s %-30s %10.1f %10.1f %5.2fx" % (
                kind, "%d keys x %d elements" % (keys, per_key), m["redis"], m["tiercache"],
                m["tiercache"] / m["redis"]))


if __name__ == "__main__":
    main()
