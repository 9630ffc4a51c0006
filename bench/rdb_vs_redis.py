#!/usr/bin/python3
"""RDB persistence, tiercache-l2 against redis-server 7.0 side by side: BGSAVE time, fork cost
(INFO latest_fork_usec) and restart-warm load time for --keys keys of mixed types (70%
strings, 10% hashes of 5 fields, 10% lists of 5, 5% sets of 5, 5% sorted sets of 5; 20% of
the keys with a TTL). Both servers are pinned to CPU 1 (one at a time), the loader to CPU 0.
Each run: fill (redis-cli --pipe), BGSAVE (timed by polling INFO every 5 ms), SHUTDOWN SAVE,
start again on the dump (timed until PING answers and DBSIZE is right). Prints medians of
--runs rounds and ratios tiercache/redis (time: lower is better).

Usage: bench/rdb_vs_redis.py [--runs 3] [--keys 1000000] [--json out.json]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from l2_vs_redis import CLIENT_CPU, L2, SERVER_CPU, free_port, preflight  # noqa: E402


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def dataset(n):
    parts = []
    for i in range(n):
        k = b"key:%010d" % i
        kind = i % 20
        if kind < 14:
            parts.append(cmd("SET", k, b"value-%d" % i * 2))
        elif kind < 16:
            parts.append(cmd("HSET", k, "a", i, "b", "x" * 10, "c", 3, "d", "dd", "e", i * 7))
        elif kind < 18:
            parts.append(cmd("RPUSH", k, "a", "bb", i, "ccc", "d"))
        elif kind == 18:
            parts.append(cmd("SADD", k, "m1", "m2", "m3", i, "m5"))
        else:
            parts.append(cmd("ZADD", k, 1, "a", 2, "b", 3.5, "c", i, "d", -1, "e"))
        if i % 5 == 0:
            parts.append(cmd("EXPIRE", k, 100000))
    return b"".join(parts)


class Server:
    def __init__(self, kind, tmp):
        self.kind, self.dir = kind, os.path.join(tmp, kind)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(tmp, kind + ".sock")

    def start(self):
        port = str(free_port())
        common = ["--port", port, "--unixsocket", self.sock, "--dir", self.dir, "--save", ""]
        argv = ([L2] + common + ["--loglevel", "warning"] if self.kind == "tiercache" else
                ["redis-server"] + common + ["--appendonly", "no", "--loglevel", "warning"])
        t0 = time.monotonic()
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + argv,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while time.monotonic() - t0 < 120:
            if self.cli("ping") == "PONG":
                return time.monotonic() - t0
            time.sleep(0.005)
        raise RuntimeError("%s did not start" % self.kind)

    def cli(self, *args, stdin=None):
        r = subprocess.run(["redis-cli", "-s", self.sock] + list(args), input=stdin,
                           capture_output=True)
        return r.stdout.decode().strip()

    def info(self, section):
        return dict(line.split(":", 1) for line in self.cli("info", section).splitlines()
                    if ":" in line)

    def stop_saving(self):
        self.cli("shutdown", "save")
        self.proc.wait(timeout=120)


def one_round(server, data, keys):
    shutil.rmtree(server.dir)
    os.makedirs(server.dir)
    server.start()
    r = subprocess.run(["taskset", "-c", CLIENT_CPU, "redis-cli", "-s", server.sock, "--pipe"],
                       input=data, capture_output=True)
    assert b"errors: 0" in r.stdout, r.stdout[-300:]
    assert int(server.cli("dbsize")) == keys
    t0 = time.monotonic()
    assert "started" in server.cli("bgsave")
    time.sleep(0.005)
    while server.info("persistence")["rdb_bgsave_in_progress"] != "0":
        time.sleep(0.005)
    bgsave = time.monotonic() - t0
    assert server.info("persistence")["rdb_last_bgsave_status"] == "ok"
    fork_us = int(server.info("stats")["latest_fork_usec"])
    size = os.path.getsize(os.path.join(server.dir, "dump.rdb"))
    server.stop_saving()
    load = server.start()
    assert int(server.cli("dbsize")) == keys
    server.stop_saving()
    return {"bgsave_s": bgsave, "fork_us": fork_us, "load_s": load, "rdb_bytes": size}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--json")
    args = ap.parse_args()
    preflight()
    data = dataset(args.keys)
    tmp = tempfile.mkdtemp(prefix="rdb-bench-")
    results = {"tiercache": [], "redis": []}
    try:
        servers = {k: Server(k, tmp) for k in results}
        for _ in range(args.runs):
            for kind in ("tiercache", "redis"):
                results[kind].append(one_round(servers[kind], data, args.keys))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in results.items()}
    print("%d keys of mixed types, median of %d runs" % (args.keys, args.runs))
    print("%-10s %12s %12s %12s" % ("", "tiercache", "redis", "ratio"))
    for m in ("bgsave_s", "fork_us", "load_s", "rdb_bytes"):
        t, r = med["tiercache"][m], med["redis"][m]
        print("%-10s %12.3f %12.3f %11.2fx" % (m, t, r, t / r if r else float("nan")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": results, "median": med}, f, indent=1)


if __name__ == "__main__":
    main()
