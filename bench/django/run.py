#!/usr/bin/env python3
"""The Django benchmark: wrk against the example shop's product list on one host, with the cache
in three places:

  sidecar       tiercache's Django backend (tiercache.django_cache.TierCache, the example's
                default): L1 hits read straight from the sidecar's shared memory in the
                gunicorn worker, misses and writes through the unix socket to
                tiercache-sidecar; the sidecar's L2 is tiercache-l2 behind the delay proxy
                (a remote L2)
  sidecar-socket  plain django-redis -> unix socket -> the same sidecar: every read a local
                round trip
  remote-redis  django-redis -> TCP -> delay proxy (+DELAY us each way) -> tiercache-l2: the
                usual "Redis on another machine"
  locmem        Django's local-memory cache in the gunicorn worker (no network at all)

The page is a real one: a session read, the catalogue version, a versioned list page and eight
{% cache %} card fragments per request (the script counts the cache commands per page on the
remote setup). gunicorn and the sidecar (the host's local processes) are pinned to --site-cpus;
the L2 and the delay proxy (the remote machine) and wrk (the client) to --aux-cpus. Each setup
gets a warm-up, then RUNS wrk runs of SECONDS; the medians are reported side by side with
ratios. The three setups run at the same time, idle but for the one being
measured, and the runs are interleaved (one per setup per round), so a change in the machine's
load hits all three alike. Results also go to bench/results/django.json.

    /usr/bin/python3 bench/django/run.py [--seconds 5] [--runs 3] [--setups sidecar,locmem]

bench/django/reads.py measures one cache read each way, outside a page.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))  # web.py: the headless browser
sys.path.insert(0, os.path.join(REPO, "examples", "demo"))

from topology import PYTHON, Topology, free_port, redis_ping  # noqa: E402
from web import Browser  # noqa: E402

SETUPS = ["sidecar", "sidecar-socket", "remote-redis", "locmem"]
SIDECAR_SETUPS = ("sidecar", "sidecar-socket")
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([0-9.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(m.group(1)) * UNITS[m.group(2)]
    m = re.search(r"^\s+50%\s+([0-9.]+)(us|ms|s)\s*$", out, re.M)
    p50 = float(m.group(1)) * UNITS[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99,
            "non_2xx": int(errors.group(1)) if errors else 0}


def wrk_command(cpus, connections, headers=(), script=None):
    """wrk pinned to `cpus`: one thread, `connections` connections, latency percentiles; a Lua
    script (-s) if given."""
    cmd = ["taskset", "-c", cpus, "wrk", "-t1", "-c%d" % connections, "--latency"]
    for header in headers:
        cmd += ["-H", header]
    return cmd + (["-s", script] if script else [])


def run_wrk(cmd, seconds, urls, script_args=()):
    """One wrk per url, all at the same time, for `seconds`; their parse_wrk results in order.
    script_args go to a wrk script given in cmd (-s FILE)."""
    tail = ["--"] + list(script_args) if script_args else []
    procs = [subprocess.Popen(cmd + ["-d%ds" % seconds, url] + tail, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for url in urls]
    results = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode:
            raise subprocess.CalledProcessError(p.returncode, p.args, out, err)
        results.append(parse_wrk(out))
    return results


def rtt_us(client, n=300):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        client.ping()
        samples.append((time.perf_counter() - t) * 1e6)
    return statistics.median(samples)


class Setup:
    """One setup's processes (its own L2, delay proxy, sidecar or not, gunicorn), warmed up,
    with the wrk command line that replays a visitor's session."""

    def __init__(self, name, args):
        self.name = name
        self.args = args
        self.topo = Topology(hosts=("A",), sidecars=(name in SIDECAR_SETUPS), workers=args.workers,
                             products=48)
        self.result = {"setup": name, "runs": []}

    def start(self):
        args, topo = self.args, self.topo
        host = self.host = topo.hosts["A"]
        topo.start_l2(cpus=args.aux_cpus)
        proxy_port = free_port()
        proxy = topo._spawn("proxy", [PYTHON, os.path.join(HERE, "delay_proxy.py"),
                                      "--listen", "127.0.0.1:%d" % proxy_port,
                                      "--target", "127.0.0.1:%d" % topo.l2_port,
                                      "--delay-us", str(args.delay_us)], cpus=args.aux_cpus)
        proxy.wait_ready(lambda: redis_ping(host="127.0.0.1", port=proxy_port),
                         what="forwarding")
        env = {}
        if self.name in SIDECAR_SETUPS:
            topo.start_sidecar(host, l2_address="127.0.0.1:%d" % proxy_port,
                               cpus=args.sidecar_cpus or args.site_cpus)
            if self.name == "sidecar-socket":
                env = {"TCSHOP_CACHE_BACKEND": "redis"}
        elif self.name == "remote-redis":
            host.location = "redis://127.0.0.1:%d/0" % proxy_port
        else:
            env = {"TCSHOP_CACHE_BACKEND": "locmem"}
        topo.manage("A", "migrate", "-v0")
        topo.manage("A", "seed_shop", "--products", "48")
        topo.start_site(host, cpus=args.site_cpus, env=env, workers=args.workers)

        # a visitor with a session (a cart), as wrk will replay it
        b = Browser()
        r = b.submit(host.url + "/product/1/", host.url + "/cart/add/1/", {})
        assert r.status == 302 and "sessionid" in b.cookies, r
        self.url = host.url + args.path
        for _ in range(50):  # warm every worker's view of the cache
            page = b.get(self.url)
            assert page.status == 200 and page.text.count('class="card"') >= 8, page
        assert "Cart (1)" in page.text

        if self.name == "remote-redis":  # what one page costs in cache round trips
            l2 = topo.l2_client()
            before = int(l2.info("stats")["total_commands_processed"])
            for _ in range(20):
                b.get(self.url)
            after = int(l2.info("stats")["total_commands_processed"])
            self.result["cache_commands_per_page"] = (after - before - 1) / 20
            self.result["l2_rtt_direct_us"] = round(rtt_us(
                redis.Redis(host="127.0.0.1", port=topo.l2_port)))
            self.result["l2_rtt_proxied_us"] = round(rtt_us(
                redis.Redis(host="127.0.0.1", port=proxy_port)))

        self.wrk = wrk_command(args.aux_cpus, args.connections,
                               ["Cookie: sessionid=%s" % b.cookies["sessionid"]])
        self.run(2)  # warm-up, not counted
        return self

    def run(self, seconds):
        return run_wrk(self.wrk, seconds, [self.url])[0]

    def measure(self):
        r = self.run(self.args.seconds)
        assert r["non_2xx"] == 0, r
        self.result["runs"].append(r)
        print("  %-15s %8.1f req/s  p50 %6.2f ms  p99 %6.2f ms"
              % (self.name, r["rps"], r["p50_ms"], r["p99_ms"]), flush=True)

    def finish(self):
        runs = self.result["runs"]
        for k in ["rps", "p50_ms", "p99_ms"]:
            self.result[k] = statistics.median(r[k] for r in runs)
        if self.name in SIDECAR_SETUPS:
            tc = self.topo.cache_client("A").info("tiercache")
            hits = tc.get("l1_hits", 0) + tc.get("l1_direct_hits", 0)
            misses = tc.get("l1_misses", 0)
            self.result["l1_hit_ratio"] = round(hits / max(1, hits + misses), 4)
            self.result["l1_direct_share"] = round(tc.get("l1_direct_hits", 0) / max(1, hits), 4)
        return self.result

    def stop(self):
        problems = self.topo.stop()
        if problems:
            print("  %s teardown: %s" % (self.name, problems), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setups", default=",".join(SETUPS))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--delay-us", type=float, default=250)
    ap.add_argument("--path", default="/")
    ap.add_argument("--site-cpus", default="0")
    ap.add_argument("--aux-cpus", default="1")
    ap.add_argument("--sidecar-cpus", default=None,
                    help="default: --site-cpus (the sidecar is a local process of the host)")
    ap.add_argument("--priority", type=int, default=0,
                    help="nice value for this script and every process it starts (inherited); "
                         "negative values need root and shield the run from other load")
    args = ap.parse_args()
    if args.priority:
        os.setpriority(os.PRIO_PROCESS, 0, args.priority)

    load_before = os.getloadavg()[0]
    setups = []
    try:
        for name in args.setups.split(","):
            print("starting %s" % name, flush=True)
            setups.append(Setup(name, args))
            setups[-1].start()
        # rounds of one run per setup: a change in the machine's load hits all of them alike
        for i in range(args.runs):
            print("round %d" % (i + 1), flush=True)
            for setup in setups:
                setup.measure()
        results = {s.name: s.finish() for s in setups}
    finally:
        for setup in setups:
            setup.stop()

    print("\nproduct list %s; gunicorn (%d sync worker) on cpu %s, sidecar on cpu %s; L2, proxy "
          "and wrk -c%d on cpu %s; median of %d x %ds"
          % (args.path, args.workers, args.site_cpus, args.sidecar_cpus or args.site_cpus,
             args.connections, args.aux_cpus, args.runs, args.seconds))
    load_after = os.getloadavg()[0]
    print("machine load average (1 min) %.2f before, %.2f after, on %d CPUs, nice %d: the "
          "cache hops of the sidecar and remote setups wait for a CPU when others use them"
          % (load_before, load_after, os.cpu_count(), os.getpriority(os.PRIO_PROCESS, 0)))
    remote = results.get("remote-redis")
    if remote:
        print("cache commands per page: %.1f; L2 round trip %d us direct, %d us through the "
              "delay proxy" % (remote["cache_commands_per_page"], remote["l2_rtt_direct_us"],
                               remote["l2_rtt_proxied_us"]))
    base = results.get("locmem")
    cmds = remote["cache_commands_per_page"] if remote else None
    print("%-15s %9s %8s %8s %10s %10s %14s" % ("setup", "req/s", "p50 ms", "p99 ms",
                                                 "vs locmem", "vs remote", "+ms/page (cmd)"))
    for name, r in results.items():
        vs_local = "%.2fx" % (r["rps"] / base["rps"]) if base else "-"
        vs_remote = "%.2fx" % (r["rps"] / remote["rps"]) if remote else "-"
        extra = "-"
        if base and name != "locmem":  # one sync worker: 1/rps is the time per page
            ms = 1000 / r["rps"] - 1000 / base["rps"]
            extra = "%.2f" % ms + (" (%.3f)" % (ms / cmds) if cmds else "")
        print("%-15s %9.1f %8.2f %8.2f %10s %10s %14s" % (name, r["rps"], r["p50_ms"],
                                                          r["p99_ms"], vs_local, vs_remote, extra))
    for name in SIDECAR_SETUPS:
        if name in results:
            print("%s: L1 hit ratio during the runs %.1f%%, %.1f%% of hits read directly from "
                  "shared memory" % (name, 100 * results[name]["l1_hit_ratio"],
                                     100 * results[name]["l1_direct_share"]))
    out_dir = os.path.join(REPO, "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "django.json"), "w") as f:
        json.dump({"args": vars(args), "load": [load_before, load_after],
                   "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
