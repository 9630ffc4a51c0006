#!/usr/bin/python3
"""tiercache-l2 against redis-server, side by side in one run.

Throughput and latency: redis-benchmark -t set,get -d 100 -c 50 -r 100000 at -P 1 and -P 16
(the -P 16 runs ten times --requests, so the connections' start stays out of p99),
over TCP and the Unix socket (eight figures per server); with --tls, over mutual TLS instead
(each server on a TLS port of its own with --port 0, certificates made by
tests/integration/tlscerts.py, redis-benchmark --tls --cacert --cert --key; four figures). Each server is pinned to CPU 1 and
redis-benchmark to CPU 0; the two servers alternate within every round so drift hits both.
Memory: bytes per key at N keys (32-byte keys, 100-byte values), from each server's own
used_memory and from its RSS.

With --tracking, each server has one client-side caching subscriber connected during the runs,
as a sidecar's bus: a connection subscribed to __redis__:invalidate and a second connection
with CLIENT TRACKING on REDIRECT <bus> BCAST, so every SET is reported; a thread of this process
(on the client CPU) reads and counts the invalidation bytes.

SET and GET are separate redis-benchmark runs (SET first: it fills the keys GET reads), each
measured with the server's CPU time per request and the share of the time the client was on
its CPU: a client busy near 100% sets the pace whatever the server costs.

Prints medians of --runs rounds and the ratios tiercache/redis. Usage:
  bench/l2_vs_redis.py [--runs 3] [--requests 200000] [--keys 1000000] [--tracking]
                       [--tls] [--instructions] [--busy-poll-us 0] [--json out.json]
With --instructions, only the user-space instructions per request at -P 1 (valgrind), which
do not depend on the machine's load: a check of the servers' CPU cost when rps figures are
too noisy to compare.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import socket
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "examples", "demo"))
from locations import free_port, l2_binary  # noqa: E402
import tlscerts  # noqa: E402

L2 = l2_binary()
SERVER_CPU, CLIENT_CPU = "1", "0"
PIPELINED_SCALE = 10  # -P 16 runs send this many times --requests (see main's requests())


def preflight():
    """Exits with a clear message when a tool or the build is missing."""
    for tool in ("redis-server", "redis-benchmark", "redis-cli", "taskset"):
        if not shutil.which(tool):
            sys.exit("missing %s (scripts/deps.sh installs it)" % tool)
    if not os.path.exists(L2):
        sys.exit("missing %s: run scripts/build.sh first" % L2)


def tls_options(certs, port):
    """The tls-* options, under the names both servers share, serving the test server
    certificate on `port` and asking clients for theirs (mutual TLS)."""
    return ["--tls-port", str(port), "--tls-cert-file", certs["server_crt"],
            "--tls-key-file", certs["server_key"], "--tls-ca-cert-file", certs["ca"]]


class Server:
    """One server, pinned; with certs, TLS on self.port (plain TCP off, --port 0); the Unix
    socket stays plain for the set-up (redis-cli) either way."""

    def __init__(self, kind, tmp, certs=None, wrap=(), busy_poll_us=0):
        self.kind = kind
        self.port = free_port()
        self.sock = os.path.join(tmp, kind + ".sock")
        ports = (["--port", "0"] + tls_options(certs, self.port) if certs
                 else ["--port", str(self.port)])
        if kind == "tiercache":
            cmd = [L2] + ports + ["--unixsocket", self.sock, "--loglevel", "warning",
                                  "--busy-poll-us", str(busy_poll_us)]
        else:
            cmd = ["redis-server"] + ports + ["--unixsocket", self.sock,
                                              "--save", "", "--appendonly", "no",
                                              "--loglevel", "warning"]
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + list(wrap) + cmd,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + (60 if wrap else 10)
        while time.time() < deadline:
            if self.cli("ping") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("%s did not start" % kind)

    def cli(self, *args, stdin=None):
        r = subprocess.run(["redis-cli", "-s", self.sock] + list(args), input=stdin,
                           capture_output=True)
        return r.stdout.decode().strip()

    def info(self, section):
        out = {}
        for line in self.cli("info", section).splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def rss(self):
        with open("/proc/%d/statm" % self.proc.pid) as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


class TrackingBus:
    """A BCAST tracking subscriber on `server` (see the module doc); counts what it receives."""

    def __init__(self, server):
        self.bus = socket.socket(socket.AF_UNIX)
        self.bus.connect(server.sock)
        self.bus.sendall(b"CLIENT ID\r\n")
        bus_id = int(self._line(self.bus)[1:])
        self.bus.sendall(b"SUBSCRIBE __redis__:invalidate\r\n")
        self.data = socket.socket(socket.AF_UNIX)
        self.data.connect(server.sock)
        self.data.sendall(b"CLIENT TRACKING on REDIRECT %d BCAST\r\n" % bus_id)
        if self._line(self.data) != b"+OK":
            raise RuntimeError("CLIENT TRACKING refused by " + server.kind)
        self.bytes = 0
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    @staticmethod
    def _line(sock):
        buf = b""
        while not buf.endswith(b"\r\n"):
            buf += sock.recv(1)
        return buf[:-2]

    def _drain(self):
        try:
            while True:
                chunk = self.bus.recv(1 << 16)
                if not chunk:
                    return
                self.bytes += len(chunk)
        except OSError:
            return

    def close(self):
        self.data.close()
        self.bus.close()


def with_cpu(server, run):
    """Runs run() and measures, over it, the server's CPU seconds (/proc/PID/stat) and the share
    of the wall time the client processes (this script's children) were on a CPU: at ~100% the
    single-threaded client, not the server, sets the pace."""
    def server_cpu():
        with open("/proc/%d/stat" % server.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def children_cpu():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    s0, c0, t0 = server_cpu(), children_cpu(), time.monotonic()
    out = run()
    s1, c1, t1 = server_cpu(), children_cpu(), time.monotonic()
    return out, {"server_cpu": s1 - s0, "client_busy": (c1 - c0) / (t1 - t0)}


def bench(server, transport, pipeline, requests, certs=None, tests="set,get"):
    target = ["-s", server.sock] if transport == "unix" else ["-h", "127.0.0.1", "-p", str(server.port)]
    if transport == "tls":
        target += ["--tls", "--cacert", certs["ca"], "--cert", certs["client_crt"],
                   "--key", certs["client_key"]]
    cmd = ["taskset", "-c", CLIENT_CPU, "redis-benchmark"] + target + [
        "-t", tests, "-d", "100", "-c", "50", "-n", str(requests), "-r", "100000",
        "-P", str(pipeline), "--csv"]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout.decode()
    res = {}
    for line in out.splitlines()[1:]:
        cols = [c.strip('"') for c in line.split(",")]
        res[cols[0]] = {"rps": float(cols[1]), "p50": float(cols[4]), "p99": float(cols[6])}
    return res


def load_keys(server, n):
    """Loads n keys of 32 bytes with 100-byte values through redis-cli --pipe."""
    chunk = []
    value = b"v" * 100
    for i in range(n):
        key = b"key:%028d" % i
        chunk.append(b"*3\r\n$3\r\nSET\r\n$32\r\n" + key + b"\r\n$100\r\n" + value + b"\r\n")
    payload = b"".join(chunk)
    r = subprocess.run(["redis-cli", "-s", server.sock, "--pipe"], input=payload, capture_output=True)
    if b"errors: 0" not in r.stdout:
        raise RuntimeError("loading failed: %r" % r.stdout[-300:])


def memory(kind, n, tmp):
    s = Server(kind, tmp)
    try:
        time.sleep(0.2)
        used0, rss0 = int(s.info("memory")["used_memory"]), s.rss()
        load_keys(s, n)
        time.sleep(0.5)
        keys = int(s.cli("dbsize"))
        assert keys == n, (kind, keys, n)
        used1, rss1 = int(s.info("memory")["used_memory"]), s.rss()
        return {"used_per_key": (used1 - used0) / n, "rss_per_key": (rss1 - rss0) / n}
    finally:
        s.stop()


def instructions(kind, transport, pipeline, test, certs, tmp, small=2000, large=12000):
    """User-space instructions the server executes per request (valgrind's callgrind): two runs
    of `small` and `large` requests, so start-up and the 50 connections (their TLS handshakes)
    cancel out. Counts do not depend on the machine's load; the kernel's share (system calls) is
    not in them."""
    totals = []
    for n in (small, large):
        out = os.path.join(tmp, "callgrind.%s.%d" % (kind, n))
        s = Server(kind, tmp, certs, wrap=("valgrind", "--tool=callgrind",
                                           "--callgrind-out-file=" + out))
        try:
            bench(s, transport, pipeline, n, certs, tests=test.lower())
        finally:
            s.stop()
        with open(out) as f:
            totals.append(next(int(line.split()[1]) for line in f if line.startswith("summary:")))
    return (totals[1] - totals[0]) / (large - small)


def report_instructions(cases, certs, tmp, report):
    if not shutil.which("valgrind"):
        sys.exit("--instructions needs valgrind (apt-get install valgrind)")
    print("\nuser-space instructions per request (callgrind; runs of 12000 minus 2000 requests)")
    print("%-6s %-3s %-4s | %12s %12s %6s" % ("link", "P", "cmd", "redis", "tiercache", "ratio"))
    report["instructions"] = []
    for transport, pipeline in cases:
        for test in ("SET", "GET"):
            r = instructions("redis", transport, pipeline, test, certs, tmp)
            t = instructions("tiercache", transport, pipeline, test, certs, tmp)
            print("%-6s %-3d %-4s | %12.0f %12.0f %5.2fx" % (transport, pipeline, test, r, t, t / r))
            report["instructions"].append(dict(transport=transport, pipeline=pipeline, test=test,
                                               redis=r, tiercache=t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--tracking", action="store_true",
                    help="one BCAST client-side caching subscriber per server during the runs")
    ap.add_argument("--tls", action="store_true",
                    help="GET/SET over mutual TLS (both servers on a TLS port) instead of TCP "
                         "and the Unix socket")
    ap.add_argument("--instructions", action="store_true",
                    help="only count each server's instructions per request under valgrind "
                         "(load-independent; -P 1 only)")
    ap.add_argument("--busy-poll-us", type=int, default=0,
                    help="tiercache-l2's busy-poll-us (default 0: off, as Redis)")
    ap.add_argument("--json")
    args = ap.parse_args()
    preflight()
    certs = tlscerts.certs() if args.tls else None
    if args.tracking:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})  # the drain threads share the client CPU

    tmp = tempfile.mkdtemp(prefix="tc-bench-")
    cases = [(t, p) for t in (("tls",) if args.tls else ("unix", "tcp")) for p in (1, 16)]
    if args.instructions:
        report = {}
        report_instructions([c for c in cases if c[1] == 1], certs, tmp, report)
        shutil.rmtree(tmp, ignore_errors=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
        return
    def requests(pipeline):
        # Pipelined runs are ten times longer: the first replies wait for the 50 connections'
        # start (over TLS, their handshakes: tens of ms), which in a 100,000-request run at
        # -P 16 is close to 1% of the replies and moved p99 by up to 3x from run to run.
        return args.requests * (PIPELINED_SCALE if pipeline > 1 else 1)

    samples = {}  # (kind, transport, pipeline, test) -> [dict]
    servers = {k: Server(k, tmp, certs, busy_poll_us=args.busy_poll_us)
               for k in ("redis", "tiercache")}
    buses = {k: TrackingBus(s) for k, s in servers.items()} if args.tracking else {}
    try:
        for run in range(args.runs):
            for transport, pipeline in cases:
                for kind in (("redis", "tiercache") if run % 2 == 0 else ("tiercache", "redis")):
                    for one in ("set", "get"):  # apart, for each one's CPU; SET fills for GET
                        res, cpu = with_cpu(servers[kind], lambda: bench(
                            servers[kind], transport, pipeline, requests(pipeline), certs, one))
                        for test, fig in res.items():
                            fig.update(cpu)
                            samples.setdefault((kind, transport, pipeline, test), []).append(fig)
            print("round %d/%d done" % (run + 1, args.runs), file=sys.stderr)
    finally:
        received = {k: b.bytes for k, b in buses.items()}
        for b in buses.values():
            b.close()
        for s in servers.values():
            s.stop()

    def med(kind, transport, pipeline, test, field):
        return statistics.median(x[field] for x in samples[(kind, transport, pipeline, test)])

    report = {"throughput": [], "memory": {}}
    print("\nredis-benchmark -d 100 -c 50 -r 100000 -n %d (-P 16: %d), medians of %d rounds, "
          "pinned (server CPU %s, client CPU %s), tiercache-l2 busy-poll-us %d%s" % (
              args.requests, requests(16), args.runs, SERVER_CPU, CLIENT_CPU, args.busy_poll_us,
              ", one BCAST tracking subscriber per server" if args.tracking else ""))
    if args.tracking:
        report["tracking_bytes_received"] = received
        print("invalidation bytes received: redis %d, tiercache %d" % (
            received["redis"], received["tiercache"]))
    hdr = "%-6s %-3s %-4s | %11s %11s %6s | %7s %7s | %7s %7s %6s | %6s %6s %6s | %6s"
    print(hdr % ("link", "P", "cmd", "redis rps", "tc rps", "ratio", "r p50", "tc p50",
                 "r p99", "tc p99", "ratio", "r us", "tc us", "ratio", "client"))
    all_ok = True
    for transport, pipeline in cases:
        for test in ("SET", "GET"):
            r_rps, t_rps = med("redis", transport, pipeline, test, "rps"), med("tiercache", transport, pipeline, test, "rps")
            r50, t50 = med("redis", transport, pipeline, test, "p50"), med("tiercache", transport, pipeline, test, "p50")
            r99, t99 = med("redis", transport, pipeline, test, "p99"), med("tiercache", transport, pipeline, test, "p99")
            r_us = med("redis", transport, pipeline, test, "server_cpu") * 1e6 / requests(pipeline)
            t_us = med("tiercache", transport, pipeline, test, "server_cpu") * 1e6 / requests(pipeline)
            busy = max(med(k, transport, pipeline, test, "client_busy")
                       for k in ("redis", "tiercache"))
            print("%-6s %-3d %-4s | %11.0f %11.0f %5.2fx | %7.3f %7.3f | %7.3f %7.3f %5.2fx | "
                  "%6.1f %6.1f %5.2fx | %5.0f%%" % (
                      transport, pipeline, test, r_rps, t_rps, t_rps / r_rps, r50, t50, r99, t99,
                      t99 / r99, r_us, t_us, t_us / r_us if r_us else 0, 100 * busy))
            all_ok &= t_rps >= r_rps and t99 <= r99
            report["throughput"].append(dict(transport=transport, pipeline=pipeline, test=test,
                                             redis_rps=r_rps, tiercache_rps=t_rps,
                                             redis_p50=r50, tiercache_p50=t50,
                                             redis_p99=r99, tiercache_p99=t99,
                                             redis_cpu_us=r_us, tiercache_cpu_us=t_us,
                                             client_busy=busy))
    print("us: the server's CPU microseconds (user + system) per request; client: the share of "
          "the wall time redis-benchmark was on its CPU (the higher of the two servers' runs): "
          "near 100%, the client sets the pace")
    print("goal (>= 1.0x rps and p99 no worse on all %d): %s" % (
        2 * len(cases), "met" if all_ok else "NOT met"))

    if args.keys > 0:
        mem = {k: memory(k, args.keys, tmp) for k in ("redis", "tiercache")}
        report["memory"] = mem
        print("\nmemory per key at %d keys (32-byte keys, 100-byte values)" % args.keys)
        print("%-22s %10s %10s %7s" % ("", "redis", "tiercache", "ratio"))
        for field, label in (("used_per_key", "used_memory / key"), ("rss_per_key", "RSS / key")):
            r, t = mem["redis"][field], mem["tiercache"][field]
            print("%-22s %10.1f %10.1f %6.2fx" % (label, r, t, t / r))
    shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
