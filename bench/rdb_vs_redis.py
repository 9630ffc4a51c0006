#!/usr/bin/python3
"""RDB persistence, tiercache-l2 against redis-server 7.0 side by side: BGSAVE time, fork cost
(INFO latest_fork_usec; with the process shape fork copies: RSS, page tables, mappings) and
restart-warm load time for --keys keys of mixed types (70%
strings, 10% hashes of 5 fields, 10% lists of 5, 5% sets of 5, 5% sorted sets of 5; 20% of
the keys with a TTL). Both servers are pinned to CPU 1 (one at a time), the loader to CPU 0.
Each run: fill (redis-cli --pipe), BGSAVE (timed by polling INFO every 5 ms), SHUTDOWN SAVE,
start again on the dump (timed until PING answers and DBSIZE is right), then (unless
--no-verify) every key is read back and compared with what the fill wrote: its type, its whole
contents, and its TTL (keys with a TTL: within the time elapsed since the fill began, keys
without: none). Prints medians of --runs rounds and ratios tiercache/redis (time: lower is
better).

Usage: bench/rdb_vs_redis.py [--runs 3] [--keys 1000000] [--no-verify] [--json out.json]
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

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from l2_vs_redis import CLIENT_CPU, L2, SERVER_CPU, free_port, preflight  # noqa: E402


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


TTL_S = 100000


def expected(i):
    """Key i of the dataset: (key, type, contents as verify() reads them, has a TTL)."""
    k = b"key:%010d" % i
    kind, n = i % 20, str(i).encode()
    if kind < 14:
        return k, "string", b"value-%d" % i * 2, i % 5 == 0
    if kind < 16:
        return k, "hash", {b"a": n, b"b": b"x" * 10, b"c": b"3", b"d": b"dd",
                           b"e": str(i * 7).encode()}, i % 5 == 0
    if kind < 18:
        return k, "list", [b"a", b"bb", n, b"ccc", b"d"], i % 5 == 0
    if kind == 18:
        return k, "set", {b"m1", b"m2", b"m3", n, b"m5"}, i % 5 == 0
    return k, "zset", {b"a": 1.0, b"b": 2.0, b"c": 3.5, n: float(i), b"e": -1.0}, i % 5 == 0


def dataset(n):
    parts = []
    for i in range(n):
        k, kind, v, ttl = expected(i)
        if kind == "string":
            parts.append(cmd("SET", k, v))
        elif kind == "hash":
            parts.append(cmd("HSET", k, *[x for kv in v.items() for x in kv]))
        elif kind == "list":
            parts.append(cmd("RPUSH", k, *v))
        elif kind == "set":
            parts.append(cmd("SADD", k, *sorted(v)))
        else:
            parts.append(cmd("ZADD", k, *[x for m, s in v.items() for x in (s, m)]))
        if ttl:
            parts.append(cmd("EXPIRE", k, TTL_S))
    return b"".join(parts)


READ = {"string": lambda p, k: p.get(k), "hash": lambda p, k: p.hgetall(k),
        "list": lambda p, k: p.lrange(k, 0, -1), "set": lambda p, k: p.smembers(k),
        "zset": lambda p, k: p.zrange(k, 0, -1, withscores=True)}


def verify(sock, keys, filled_at):
    """Reads every key back (TYPE, its contents by type, PTTL; pipelined) and compares it with
    expected(). A TTL must lie in (TTL_S*1000 - ms since the fill began - 1000, TTL_S*1000].
    Raises AssertionError naming the first key that differs; returns the number compared."""
    c = redis.Redis(unix_socket_path=sock)
    batch = 2000
    for first in range(0, keys, batch):
        want = [expected(i) for i in range(first, min(first + batch, keys))]
        p = c.pipeline(transaction=False)
        for k, kind, _, _ in want:
            p.type(k)
            READ[kind](p, k)
            p.pttl(k)
        got = p.execute(raise_on_error=False)
        floor = TTL_S * 1000 - (time.monotonic() - filled_at) * 1000 - 1000
        for j, (k, kind, v, ttl) in enumerate(want):
            t, contents, pttl = got[3 * j:3 * j + 3]
            if kind == "zset" and isinstance(contents, list):
                contents = dict(contents)
            assert t == kind.encode(), (k, t, kind)
            assert contents == v, (k, contents, v)
            assert (floor < pttl <= TTL_S * 1000) if ttl else pttl == -1, (k, pttl, ttl)
    c.close()
    return keys


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


def process_shape(pid):
    """What fork copies: resident KiB, page-table KiB (VmPTE) and the number of mappings."""
    with open("/proc/%d/status" % pid) as f:
        st = dict(line.split(":", 1) for line in f if ":" in line)
    with open("/proc/%d/maps" % pid) as f:
        maps = sum(1 for _ in f)
    kib = lambda name: int(st[name].split()[0])  # noqa: E731
    return {"rss_kib": kib("VmRSS"), "pte_kib": kib("VmPTE"), "mappings": maps}


def one_round(server, data, keys, check):
    shutil.rmtree(server.dir)
    os.makedirs(server.dir)
    server.start()
    filled_at = time.monotonic()
    r = subprocess.run(["taskset", "-c", CLIENT_CPU, "redis-cli", "-s", server.sock, "--pipe"],
                       input=data, capture_output=True)
    assert b"errors: 0" in r.stdout, r.stdout[-300:]
    assert int(server.cli("dbsize")) == keys
    shape = process_shape(server.proc.pid)
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
    if check:
        verify(server.sock, keys, filled_at)
    server.stop_saving()
    return dict({"bgsave_s": bgsave, "fork_us": fork_us, "load_s": load, "rdb_bytes": size},
                **shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--no-verify", dest="verify", action="store_false",
                    help="skip comparing every key after the restart")
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
                results[kind].append(one_round(servers[kind], data, args.keys, args.verify))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in results.items()}
    print("%d keys of mixed types, median of %d runs%s" % (
        args.keys, args.runs, "; every key compared after each restart (type, contents, TTL)"
        if args.verify else ""))
    print("%-10s %12s %12s %12s" % ("", "tiercache", "redis", "ratio"))
    for m in ("bgsave_s", "fork_us", "load_s", "rdb_bytes", "rss_kib", "pte_kib", "mappings"):
        t, r = med["tiercache"][m], med["redis"][m]
        print("%-10s %12.3f %12.3f %11.2fx" % (m, t, r, t / r if r else float("nan")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": results, "median": med}, f, indent=1)


if __name__ == "__main__":
    main()
