#!/usr/bin/python3
"""tiercache-sidecar benchmarks, side by side in one run. Servers (L2, sidecars, redis-server,
the delay proxy) are pinned to CPU 1 and the load generators to CPU 0; medians of --runs rounds,
the compared cases alternating within each round.

1. L1 hits: redis-benchmark -t get -d 100 -c 50 -r KEYS at -P 1 and -P 16 against the sidecar
   (every key preloaded with SET through the sidecar and warmed with GET, so every GET hits L1)
   versus redis-server on a Unix socket holding the same keys. Goal: ratio >= 1.0.
2. Remote L2: a proxy adds DELAY_US each way between the client/sidecar and L2. Latency of a GET
   (redis-benchmark -c 1 -P 1, p50/p99) served from the sidecar's L1 versus sent to L2 through
   the same proxy. Goal: sidecar p50 >= 10x lower.
3. Invalidation propagation at --write-rate writes/s (10 clients on host A, each writing a
   random key every 1/rate*10 s), with each source of invalidations side by side in one round
   (--sources; tracking = the L2's CLIENT TRACKING reports, publish = the sidecars' own
   PUBLISH inside each commit), on --prop-l2 (tiercache-l2 or redis-server): host B's INFO
   invalidation_lag p50/p99/max (tracking: the heartbeat's round trip, write sent to its
   invalidation back; publish: a message's sent_at to its receipt), a probe's ack-on-A to
   seen-on-B delay, and per written key the messages and RESP bytes host B receives on its
   invalidation connection. Goal: p99 < 1 ms.
4. Absent keys: redis-benchmark -t set -d 100 -c 50 -n 200000 -r 100000 once (about 14% of the
   key space stays absent), then -t get -r 100000 at -P 1 and -P 16 against the sidecar with
   negative entries (--l1-negative on, the default), the sidecar without them, and
   redis-server. Each sidecar had an untimed GET pass of 5 requests per key first (L1 warm,
   all but about 0.7% of the keys). Goal: ratio >= 1.0.
5. The L2 link over mutual TLS against a plain link: one tiercache-l2 serving both a plain
   and a TLS port, one sidecar on each (--l1-negative off). redis-benchmark -d 100 -c 50 on
   the sidecars' Unix sockets at -P 1 and -P 16: GET hits (keys loaded and warmed in db 0),
   GET misses (db 1, never written: every GET is a fetch over the link) and SET (db 2,
   written through the link; tracking reports key names, not databases, so it still
   invalidates the hit rows' keys: a tenth of their GETs re-fill). Ratio TLS/plain; the cost
   of TLS on the link, not a goal.

Usage: bench/sidecar/bench.py [--runs 3] [--requests 200000] [--keys 10000]
                              [--only hits|remote|propagation|absent|tls-link]
                              [--json out.json]
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "sidecar"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "examples", "demo"))

from helpers import connect_raw, encode  # noqa: E402
from locations import free_port, l2_binary  # noqa: E402
from sidecars import Sidecar  # noqa: E402
import tlscerts  # noqa: E402

L2_BIN = l2_binary()
PROXY = os.path.join(ROOT, "tests", "integration", "sidecar", "proxy.py")
SERVER_CPU, CLIENT_CPU = "1", "0"


def wait_ping(sock=None, port=None):
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            c = connect_raw(unix_path=sock) if sock else connect_raw(port=port)
            ok = c.cmd("PING", timeout=1) == "PONG"
            c.close()
            if ok:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("no PING answer from %s" % (sock or port))


class Proc:
    def __init__(self, argv, sock=None, port=None):
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + argv,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ping(sock, port)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def stop_all(*procs):
    for p in procs:
        p.stop()


def start_l2(tmp, name, extra=()):
    port = free_port()
    sock = os.path.join(tmp, name + ".sock")
    return Proc([L2_BIN, "--port", str(port), "--unixsocket", sock, "--loglevel", "warning"]
                + list(extra), sock=sock), port, sock


def start_redis(tmp):
    sock = os.path.join(tmp, "redis.sock")
    return Proc(["redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
                 "--appendonly", "no", "--loglevel", "warning"], sock=sock), sock


def start_proxy(target_port, delay_us):
    port = free_port()
    p = subprocess.Popen(["taskset", "-c", SERVER_CPU, sys.executable, PROXY, "--target",
                          "127.0.0.1:%d" % target_port, "--port", str(port), "--delay-us",
                          str(delay_us)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdout.readline()
    wait_ping(port=port)
    return p, port


def start_sidecar(tmp, name, l2_addr, **flags):
    s = Sidecar(l2_addr, name, workdir=tmp, cpu=SERVER_CPU, loglevel="warning", **flags)
    return s.start()


def pipe(sock, payload):
    r = subprocess.run(["redis-cli", "-s", sock, "--pipe"], input=payload, capture_output=True)
    if b"errors: 0" not in r.stdout:
        raise RuntimeError("redis-cli --pipe: %r" % r.stdout[-300:])


def load_and_warm(sock, keys, warm):
    """SET key:%012d (redis-benchmark's -r key names) with 100-byte values; then GET each."""
    value = b"x" * 100
    pipe(sock, b"".join(encode("SET", b"key:%012d" % i, value) for i in range(keys)))
    if warm:
        pipe(sock, b"".join(encode("GET", b"key:%012d" % i) for i in range(keys)))


def cpu_seconds(*procs):
    """User + system CPU time so far of these server processes (Proc or Sidecar: their .proc
    is the server itself, taskset having exec'd it), from /proc/PID/stat."""
    total = 0
    for p in procs:
        with open("/proc/%d/stat" % p.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def timed_benchmark(servers, **kw):
    """redis_benchmark(**kw), plus the servers' CPU time per request in µs ("server_us"). With
    one core for the client and one for the servers, -P 1 is bound by the client (it uses
    about 95% of its core), so rps there compare the client's batching more than the servers;
    the CPU time each server spent per request is the servers' own cost."""
    before = cpu_seconds(*servers)
    r = redis_benchmark(**kw)
    r["server_us"] = (cpu_seconds(*servers) - before) * 1e6 / kw["requests"]
    return r


def in_turn(cases, run):
    """The compared cases of round `run`, rotated by one each round: on this machine the case
    that runs first in a round measured 5-10% lower (the absent-key rows: the sidecar first
    0.94x, second 1.04x of redis-server), so no case may always go first."""
    k = run % len(cases)
    return list(cases[k:]) + list(cases[:k])


def redis_benchmark(sock=None, port=None, pipeline=1, requests=200000, keys=10000, clients=50,
                    precision=None, test="get", db=0):
    target = ["-s", sock] if sock else ["-h", "127.0.0.1", "-p", str(port)]
    cmd = ["taskset", "-c", CLIENT_CPU, "redis-benchmark"] + target + [
        "-t", test, "-d", "100", "-c", str(clients), "-n", str(requests), "-r", str(keys),
        "-P", str(pipeline), "--dbnum", str(db), "--csv"]
    if precision:
        cmd += ["--precision", str(precision)]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout.decode()
    for line in out.splitlines()[1:]:
        cols = [c.strip('"') for c in line.split(",")]
        if cols[0].startswith(test.upper()):
            return {"rps": float(cols[1]), "p50": float(cols[4]), "p99": float(cols[6])}
    raise RuntimeError("no GET line in %r" % out)


def info(sidecar):
    return sidecar.info()


# ---- 1. L1 hits against redis-server ---------------------------------------------------------

def bench_hits(tmp, runs, requests, keys):
    l2, l2_port, _ = start_l2(tmp, "l2-hits")
    # An hour's TTL cap: the preloaded keys must not age out of L1 during a slow run.
    sc = start_sidecar(tmp, "hits", "127.0.0.1:%d" % l2_port, l1_memory="256MiB",
                       l1_max_ttl_ms=3600000)
    rs, rsock = start_redis(tmp)
    try:
        load_and_warm(sc.socket, keys, warm=True)
        load_and_warm(rsock, keys, warm=False)
        res = {}
        for run in range(runs):
            for p in (1, 16):
                for name, sock, servers in in_turn((("sidecar", sc.socket, (sc, l2)),
                                                    ("redis", rsock, (rs,))), run):
                    before = info(sc)
                    r = timed_benchmark(servers, sock=sock, pipeline=p, requests=requests,
                                        keys=keys)
                    if name == "sidecar":
                        after = info(sc)
                        r["misses"] = after["l1_misses"] - before["l1_misses"]
                    res.setdefault((name, p), []).append(r)
        return res
    finally:
        sc.stop()
        rs.stop()
        l2.stop()


# ---- 4. absent keys (negative entries) against redis-server -----------------------------------

def bench_absent(tmp, runs, requests, keys=100000):
    l2, l2_port, _ = start_l2(tmp, "l2-absent")
    addr = "127.0.0.1:%d" % l2_port
    on = start_sidecar(tmp, "neg-on", addr, l1_memory="256MiB", l1_max_ttl_ms=3600000)
    off = start_sidecar(tmp, "neg-off", addr, l1_memory="256MiB", l1_max_ttl_ms=3600000,
                        l1_negative="off")
    rs, rsock = start_redis(tmp)
    try:
        for sock in (on.socket, rsock):  # the SET pass (the two sidecars share the L2)
            redis_benchmark(sock=sock, requests=200000, keys=keys, test="set")
        # Warm each sidecar's L1: random keys, so 5 requests per key leave e^-5 (0.7%) of the
        # key space unvisited; one request per key left 37%, fetched during the first round.
        for sc in (on, off):
            redis_benchmark(sock=sc.socket, requests=5 * keys, keys=keys, pipeline=16)
        absent = keys - int(on.client().dbsize())
        res = {"absent_share": absent / keys}
        for run in range(runs):
            for p in (1, 16):
                for name, sock, servers in in_turn((("sidecar", on.socket, (on, l2)),
                                                    ("sidecar-no-negative", off.socket, (off, l2)),
                                                    ("redis", rsock, (rs,))), run):
                    before = info(on)
                    r = timed_benchmark(servers, sock=sock, pipeline=p, requests=requests,
                                        keys=keys)
                    if name == "sidecar":
                        after = info(on)
                        r["fetches"] = after["l2_fetches"] - before["l2_fetches"]
                        r["negative_hits"] = after["l1_negative_hits"] - before["l1_negative_hits"]
                    res.setdefault((name, p), []).append(r)
        return res
    finally:
        stop_all(on, off, rs, l2)


def report_absent(out, res, args):
    med = statistics.median
    print("4. GET over 100k keys after one SET pass (%.0f%% absent): sidecar with and without "
          "negative entries vs redis-server, -c 50 -d 100, medians of %d"
          % (100 * res["absent_share"], args.runs))
    for p in (1, 16):
        m = {n: med(r["rps"] for r in res[(n, p)]) for n in ("sidecar", "sidecar-no-negative",
                                                             "redis")}
        fetches = sum(r["fetches"] for r in res[("sidecar", p)])
        neg = sum(r["negative_hits"] for r in res[("sidecar", p)])
        print("   -P %-2d sidecar %9.0f rps (%.2fx) | without negative entries %9.0f rps (%.2fx) "
              "| redis %9.0f rps | sidecar L2 fetches during runs %d, negative hits %d"
              % (p, m["sidecar"], m["sidecar"] / m["redis"], m["sidecar-no-negative"],
                 m["sidecar-no-negative"] / m["redis"], m["redis"], fetches, neg))
        cpu = {n: med(r["server_us"] for r in res[(n, p)])
               for n in ("sidecar", "sidecar-no-negative", "redis")}
        print("         server CPU per GET: sidecar+L2 %.2f us (%.2fx) | without negative "
              "entries %.2f us (%.2fx) | redis %.2f us (lower is better)"
              % (cpu["sidecar"], cpu["sidecar"] / cpu["redis"], cpu["sidecar-no-negative"],
                 cpu["sidecar-no-negative"] / cpu["redis"], cpu["redis"]))
        out["absent_P%d" % p] = {"rps": m, "ratio": m["sidecar"] / m["redis"], "server_us": cpu,
                                 "ratio_no_negative": m["sidecar-no-negative"] / m["redis"],
                                 "l2_fetches": fetches, "negative_hits": neg}


# ---- 5. the L2 link over TLS against a plain link --------------------------------------------

TLS_LINK_CASES = (("GET hit", "get", 0), ("GET miss", "get", 1), ("SET", "set", 2))


def bench_tls_link(tmp, runs, requests, keys):
    c = tlscerts.certs()
    tls_port = free_port()
    l2, l2_port, _ = start_l2(tmp, "l2-tls", [
        "--tls-port", str(tls_port), "--tls-cert-file", c["server_crt"],
        "--tls-key-file", c["server_key"], "--tls-ca-cert-file", c["ca"]])
    common = dict(l1_memory="256MiB", l1_max_ttl_ms=3600000, l1_negative="off")
    plain = start_sidecar(tmp, "link-plain", "127.0.0.1:%d" % l2_port, **common)
    tls = start_sidecar(tmp, "link-tls", "127.0.0.1:%d" % tls_port, l2_tls="yes",
                        l2_tls_ca_file=c["ca"], l2_tls_cert_file=c["client_crt"],
                        l2_tls_key_file=c["client_key"], **common)
    try:
        load_and_warm(plain.socket, keys, warm=True)
        load_and_warm(tls.socket, keys, warm=True)
        res = {}
        for run in range(runs):
            for p in (1, 16):
                for label, test, db in TLS_LINK_CASES:
                    order = (("plain", plain), ("tls", tls))
                    for name, sc in (order if run % 2 == 0 else order[::-1]):
                        before = info(sc)
                        r = redis_benchmark(sock=sc.socket, pipeline=p, requests=requests,
                                            keys=keys, test=test, db=db)
                        after = info(sc)
                        r["fetches"] = after["l2_fetches"] - before["l2_fetches"]
                        res.setdefault((name, p, label), []).append(r)
        return res
    finally:
        stop_all(plain, tls, l2)


def report_tls_link(out, res, args):
    med = statistics.median
    print("5. The L2 link over mutual TLS vs a plain link (tiercache-l2), sidecar Unix socket, "
          "-c 50 -d 100 -r %d, medians of %d" % (args.keys, args.runs))
    out["tls_link"] = {}
    for p in (1, 16):
        for label, _, _ in TLS_LINK_CASES:
            m = {n: {f: med(r[f] for r in res[(n, p, label)]) for f in ("rps", "p50", "p99")}
                 for n in ("plain", "tls")}
            fetches = {n: sum(r["fetches"] for r in res[(n, p, label)]) for n in ("plain", "tls")}
            ratio = m["tls"]["rps"] / m["plain"]["rps"]
            print("   -P %-2d %-8s plain link %9.0f rps p99 %.3f ms | TLS link %9.0f rps p99 "
                  "%.3f ms | ratio %.2fx (L2 fetches: plain %d, TLS %d)"
                  % (p, label, m["plain"]["rps"], m["plain"]["p99"], m["tls"]["rps"],
                     m["tls"]["p99"], ratio, fetches["plain"], fetches["tls"]))
            out["tls_link"]["%s_P%d" % (label.replace(" ", "_"), p)] = {
                "plain": m["plain"], "tls": m["tls"], "ratio": ratio, "fetches": fetches}


# ---- 2. L1 hits against a remote L2 ----------------------------------------------------------

def bench_remote(tmp, runs, delay_us, requests=3000):
    l2, l2_port, _ = start_l2(tmp, "l2-remote")
    proxy, pport = start_proxy(l2_port, delay_us)
    sc = start_sidecar(tmp, "remote", "127.0.0.1:%d" % pport, l1_max_ttl_ms=3600000)
    try:
        keys = 100
        load_and_warm(sc.socket, keys, warm=True)
        res = {}
        for run in range(runs):
            for name, kw in in_turn((("sidecar", {"sock": sc.socket}),
                                     ("l2-via-proxy", {"port": pport})), run):
                r = redis_benchmark(pipeline=1, requests=requests, keys=keys, clients=1,
                                    precision=3, **kw)
                res.setdefault(name, []).append(r)
        return res
    finally:
        sc.stop()
        proxy.terminate()
        proxy.wait()
        l2.stop()


# ---- 3. invalidation propagation at a write rate ---------------------------------------------

def bench_propagation(tmp, seconds, rate, source, l2_kind):
    if l2_kind == "redis":
        port = free_port()
        l2 = Proc(["redis-server", "--port", str(port), "--save", "",
                   "--appendonly", "no", "--loglevel", "warning"], port=port)
        l2_port = port
    else:
        l2, l2_port, _ = start_l2(tmp, "l2-prop")
    a = start_sidecar(tmp, "pa", "127.0.0.1:%d" % l2_port, invalidation_source=source)
    b = start_sidecar(tmp, "pb", "127.0.0.1:%d" % l2_port, invalidation_source=source)
    try:
        nclients, keys = 10, 10000
        conns = [connect_raw(unix_path=a.socket) for _ in range(nclients)]
        a0, b0 = info(a), info(b)
        stop = threading.Event()
        probe = []

        def prober():
            import redis
            w = redis.Redis(unix_socket_path=a.socket)
            r = redis.Redis(unix_socket_path=b.socket)
            v = 0
            w.set("probe", 0)
            while not stop.is_set():
                while r.get("probe") != b"%d" % v:
                    pass
                r.get("probe")
                v += 1
                w.set("probe", v)
                t = time.monotonic()
                while r.get("probe") != b"%d" % v:
                    pass
                probe.append(time.monotonic() - t)
                time.sleep(0.01)
        pt = threading.Thread(target=prober)
        pt.start()
        rng = random.Random(1)
        t0 = time.monotonic()
        sent = 0
        tick = nclients / rate  # each tick, one write per client
        next_t = t0
        while time.monotonic() - t0 < seconds:
            for c in conns:
                c.send(encode("SET", "k:%d" % rng.randrange(keys), "v" * 100))
            for c in conns:
                assert c.read_reply() == "OK"
            sent += nclients
            next_t += tick
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        elapsed = time.monotonic() - t0
        stop.set()
        pt.join()
        a1, b1 = info(a), info(b)
        probe.sort()
        return {
            "source": source,
            "writes": sent, "write_rate": sent / elapsed,
            "lag_p50_us": b1["invalidation_lag_p50_us"], "lag_p99_us": b1["invalidation_lag_p99_us"],
            "lag_max_us": b1["invalidation_lag_max_us"],
            "probe_p50_us": probe[len(probe) // 2] * 1e6 if probe else 0,
            "probe_p99_us": probe[int(len(probe) * 0.99)] * 1e6 if probe else 0,
            "probe_n": len(probe),
            "messages_sent": a1["invalidation_messages_sent"] - a0["invalidation_messages_sent"],
            "keys_sent": a1["invalidations_sent"] - a0["invalidations_sent"],
            "write_batches": a1["write_batches"] - a0["write_batches"],
            "keys_received_b": b1["invalidations_received"] - b0["invalidations_received"],
            "messages_received_b": (b1["invalidation_messages_received"]
                                    - b0["invalidation_messages_received"]),
            "bytes_received_b": (b1["invalidation_bytes_received"]
                                 - b0["invalidation_bytes_received"]),
            "written_keys": sent + len(probe),
        }
    finally:
        for s in (a, b):
            s.stop()
        l2.stop()


def report_hits(out, hits, args):
    med = statistics.median
    print("1. GET hits: sidecar L1 vs redis-server (unix socket), -c 50 -d 100 -r %d, "
          "medians of %d" % (args.keys, args.runs))
    for p in (1, 16):
        s = {f: med(r[f] for r in hits[("sidecar", p)]) for f in ("rps", "p50", "p99")}
        r = {f: med(x[f] for x in hits[("redis", p)]) for f in ("rps", "p50", "p99")}
        misses = sum(x["misses"] for x in hits[("sidecar", p)])
        cpu = {n: med(x["server_us"] for x in hits[(n, p)]) for n in ("sidecar", "redis")}
        print("   -P %-2d sidecar %9.0f rps p50 %.3f p99 %.3f ms | redis %9.0f rps p50 %.3f "
              "p99 %.3f ms | ratio %.2fx (L1 misses during runs: %d)"
              % (p, s["rps"], s["p50"], s["p99"], r["rps"], r["p50"], r["p99"],
                 s["rps"] / r["rps"], misses))
        print("         server CPU per GET: sidecar+L2 %.2f us | redis %.2f us | ratio %.2fx "
              "(lower is better)" % (cpu["sidecar"], cpu["redis"], cpu["sidecar"] / cpu["redis"]))
        out["hits_P%d" % p] = {"sidecar": s, "redis": r, "ratio": s["rps"] / r["rps"],
                               "server_us": cpu,
                               "l1_misses": misses, "runs": {"sidecar": hits[("sidecar", p)],
                                                             "redis": hits[("redis", p)]}}


def report_remote(out, rem, args):
    med = statistics.median
    print("2. Remote L2 (%d us each way by a proxy): GET latency, -c 1 -P 1, medians of %d"
          % (args.delay_us, args.runs))
    s = {f: med(r[f] for r in rem["sidecar"]) for f in ("rps", "p50", "p99")}
    d = {f: med(r[f] for r in rem["l2-via-proxy"]) for f in ("rps", "p50", "p99")}
    print("   sidecar L1 hit p50 %.3f p99 %.3f ms (%.0f rps) | L2 via proxy p50 %.3f p99 %.3f "
          "ms (%.0f rps) | p50 %.1fx lower"
          % (s["p50"], s["p99"], s["rps"], d["p50"], d["p99"], d["rps"], d["p50"] / s["p50"]))
    out["remote"] = {"sidecar": s, "l2_via_proxy": d, "p50_ratio": d["p50"] / s["p50"]}


def report_propagation(out, props, args):
    print("3. Invalidation propagation at %d writes/s for %.0f s (10 clients on host A), L2 %s, "
          "medians of %d" % (args.write_rate, args.write_seconds, args.prop_l2, args.runs))
    out["propagation"] = {}
    for source, runs in props.items():
        pm = {k: statistics.median(p[k] for p in runs) for k in runs[0] if k != "source"}
        print("   %-8s achieved %.0f writes/s; B's INFO invalidation_lag p50 %d us, p99 %d us, "
              "max %d us; probe ack->seen p50 %.0f us, p99 %.0f us (n=%d)"
              % (source, pm["write_rate"], pm["lag_p50_us"], pm["lag_p99_us"],
                 pm["lag_max_us"], pm["probe_p50_us"], pm["probe_p99_us"], pm["probe_n"]))
        per_key = max(1, pm["written_keys"])
        print("   %-8s into host B per written key: %.3f messages, %.1f bytes (%d messages, %d "
              "bytes for %d keys); A sent %d messages in %d write batches"
              % (source, pm["messages_received_b"] / per_key, pm["bytes_received_b"] / per_key,
                 pm["messages_received_b"], pm["bytes_received_b"], pm["written_keys"],
                 pm["messages_sent"], pm["write_batches"]))
        out["propagation"][source] = {"median": pm, "runs": runs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--delay-us", type=int, default=250)
    ap.add_argument("--write-rate", type=int, default=10000)
    ap.add_argument("--write-seconds", type=float, default=5.0)
    ap.add_argument("--sources", default="tracking,publish",
                    help="sources of invalidations compared in case 3")
    ap.add_argument("--prop-l2", choices=("tiercache", "redis"), default="tiercache",
                    help="the L2 of case 3")
    ap.add_argument("--only", choices=("hits", "remote", "propagation", "absent", "tls-link"),
                    help="run one case only")
    ap.add_argument("--json")
    args = ap.parse_args()
    for tool in ("redis-server", "redis-benchmark", "redis-cli", "taskset"):
        if not shutil.which(tool):
            sys.exit("missing %s" % tool)
    tmp = tempfile.mkdtemp(prefix="tc-bsc-")
    out = {}
    try:
        if args.only in (None, "hits"):
            report_hits(out, bench_hits(tmp, args.runs, args.requests, args.keys), args)
        if args.only in (None, "remote"):
            report_remote(out, bench_remote(tmp, args.runs, args.delay_us), args)
        if args.only in (None, "propagation"):
            sources = args.sources.split(",")
            props = {s: [] for s in sources}
            for _ in range(args.runs):  # the sources alternate within each round
                for s in sources:
                    props[s].append(bench_propagation(tmp, args.write_seconds, args.write_rate, s,
                                                      args.prop_l2))
            report_propagation(out, props, args)
        if args.only in (None, "absent"):
            report_absent(out, bench_absent(tmp, args.runs, args.requests), args)
        if args.only in (None, "tls-link"):
            report_tls_link(out, bench_tls_link(tmp, args.runs, args.requests, args.keys), args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2, default=str)


if __name__ == "__main__":
    main()
