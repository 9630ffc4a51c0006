#!/usr/bin/python3
"""EVALSHA of django-redis's incr script, tiercache-l2 against redis-server side by side.

The script (django-redis 5.2's cache.incr, unchanged) is loaded with SCRIPT LOAD on both
servers; 1000 integer keys are preloaded so every call takes the EXISTS-then-INCRBY path. Then
  redis-benchmark -n N -c 50 -P <p> -r 1000 evalsha <sha> 1 key:__rand_int__ 1
over the Unix socket and TCP at -P 1 and -P 16. Each server is pinned to CPU 1 and
redis-benchmark to CPU 0; the servers alternate within every round. Prints medians of --runs
rounds and the ratio tiercache/redis (goal: >= 1.0x).

Usage: bench/eval_vs_redis.py [--runs 3] [--requests 200000] [--json out.json]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from l2_vs_redis import CLIENT_CPU, SERVER_CPU, Server, preflight  # noqa: E402

INCR_SCRIPT = """
                    local exists = redis.call('EXISTS', KEYS[1])
                    if (exists == 1) then
                        return redis.call('INCRBY', KEYS[1], ARGV[1])
                    else return false end
                    """
KEYS = 1000


def preload(server):
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$1\r\n0\r\n" % i for i in range(KEYS))
    r = subprocess.run(["redis-cli", "-s", server.sock, "--pipe"], input=payload,
                       capture_output=True)
    if b"errors: 0" not in r.stdout:
        raise RuntimeError("preload failed: %r" % r.stdout[-300:])
    sha = server.cli("script", "load", INCR_SCRIPT)
    assert len(sha) == 40, sha
    check = server.cli("evalsha", sha, "1", "key:000000000007", "1")
    assert check.isdigit(), check
    return sha


def bench(server, sha, transport, pipeline, requests):
    target = (["-s", server.sock] if transport == "unix"
              else ["-h", "127.0.0.1", "-p", str(server.port)])
    cmd = ["taskset", "-c", CLIENT_CPU, "redis-benchmark"] + target + [
        "-c", "50", "-n", str(requests), "-r", str(KEYS), "-P", str(pipeline), "--csv",
        "evalsha", sha, "1", "key:__rand_int__", "1"]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout.decode()
    cols = [c.strip('"') for c in out.splitlines()[1].split(",")]
    return {"rps": float(cols[1]), "p50": float(cols[4]), "p99": float(cols[6])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--json")
    args = ap.parse_args()
    preflight()
    tmp = tempfile.mkdtemp(prefix="tc-bench-eval-")
    cases = [(t, p) for t in ("unix", "tcp") for p in (1, 16)]
    samples = {}
    servers = {k: Server(k, tmp) for k in ("redis", "tiercache")}
    try:
        shas = {k: preload(s) for k, s in servers.items()}
        assert shas["redis"] == shas["tiercache"], shas  # the SHA-1 of the exact text
        for run in range(args.runs):
            for transport, pipeline in cases:
                for kind in (("redis", "tiercache") if run % 2 == 0 else ("tiercache", "redis")):
                    fig = bench(servers[kind], shas[kind], transport, pipeline, args.requests)
                    samples.setdefault((kind, transport, pipeline), []).append(fig)
            print("round %d/%d done" % (run + 1, args.runs), file=sys.stderr)
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(kind, transport, pipeline, field):
        return statistics.median(x[field] for x in samples[(kind, transport, pipeline)])

    print("\nEVALSHA <django-redis incr> 1 key:__rand_int__ 1, -c 50 -r %d -n %d, medians of %d "
          "rounds, pinned (server CPU %s, client CPU %s)"
          % (KEYS, args.requests, args.runs, SERVER_CPU, CLIENT_CPU))
    print("%-6s %-3s | %11s %11s %6s | %7s %7s | %7s %7s" % (
        "link", "P", "redis rps", "tc rps", "ratio", "r p50", "tc p50", "r p99", "tc p99"))
    report, all_ok = [], True
    for transport, pipeline in cases:
        r, t = (med("redis", transport, pipeline, "rps"), med("tiercache", transport, pipeline, "rps"))
        r50, t50 = med("redis", transport, pipeline, "p50"), med("tiercache", transport, pipeline, "p50")
        r99, t99 = med("redis", transport, pipeline, "p99"), med("tiercache", transport, pipeline, "p99")
        print("%-6s %-3d | %11.0f %11.0f %5.2fx | %7.3f %7.3f | %7.3f %7.3f" % (
            transport, pipeline, r, t, t / r, r50, t50, r99, t99))
        all_ok &= t >= r
        report.append(dict(transport=transport, pipeline=pipeline, redis_rps=r, tiercache_rps=t,
                           ratio=t / r, redis_p50=r50, tiercache_p50=t50, redis_p99=r99,
                           tiercache_p99=t99))
    print("goal (>= 1.0x redis rps in every case): %s" % ("met" if all_ok else "NOT met"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
