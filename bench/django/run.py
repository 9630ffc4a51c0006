#!/usr/bin/env python3
"""The Django benchmark: wrk against the example shop's product list on one host, with the cache
in three places:

  sidecar       django-redis -> unix socket -> tiercache-sidecar (L1 in shared memory); the
                sidecar's L2 is tiercache-l2 behind the delay proxy (a remote L2)
  remote-redis  django-redis -> TCP -> delay proxy (+DELAY us each way) -> tiercache-l2: the
                usual "Redis on another machine"
  locmem        Django's local-memory cache in the gunicorn worker (no network at all)

The page is a real one: a session read, the catalogue version, a versioned list page and eight
{% cache %} card fragments per request (the script counts the cache commands per page on the
remote setup). gunicorn is pinned to --site-cpus, everything else (L2, proxy, sidecar, wrk) to
--aux-cpus. Each setup gets a warm-up, then RUNS wrk runs of SECONDS; the medians are reported
side by side with ratios. Results also go to bench/results/django.json.

    /usr/bin/python3 bench/django/run.py [--seconds 5] [--runs 3] [--setups sidecar,locmem]
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
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

from topology import PYTHON, Topology, free_port, redis_ping  # noqa: E402
from web import Browser  # noqa: E402

SETUPS = ["sidecar", "remote-redis", "locmem"]
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


def rtt_us(client, n=300):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        client.ping()
        samples.append((time.perf_counter() - t) * 1e6)
    return statistics.median(samples)


def run_setup(name, args):
    topo = Topology(hosts=("A",), sidecars=(name == "sidecar"), workers=args.workers,
                    products=48)
    host = topo.hosts["A"]
    result = {"setup": name}
    try:
        topo.start_l2(cpus=args.aux_cpus)
        proxy_port = free_port()
        proxy = topo._spawn("proxy", [PYTHON, os.path.join(HERE, "delay_proxy.py"),
                                      "--listen", "127.0.0.1:%d" % proxy_port,
                                      "--target", "127.0.0.1:%d" % topo.l2_port,
                                      "--delay-us", str(args.delay_us)], cpus=args.aux_cpus)
        proxy.wait_ready(lambda: redis_ping(host="127.0.0.1", port=proxy_port),
                         what="forwarding")
        env = {}
        if name == "sidecar":
            topo.start_sidecar(host, l2_address="127.0.0.1:%d" % proxy_port, cpus=args.aux_cpus)
        elif name == "remote-redis":
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
        url = host.url + args.path
        for _ in range(50):  # warm every worker's view of the cache
            page = b.get(url)
            assert page.status == 200 and page.text.count('class="card"') >= 8, page
        assert "Cart (1)" in page.text

        if name == "remote-redis":  # what one page costs in cache round trips
            l2 = redis.Redis(unix_socket_path=topo.l2_socket)
            before = int(l2.info("stats")["total_commands_processed"])
            for _ in range(20):
                b.get(url)
            after = int(l2.info("stats")["total_commands_processed"])
            result["cache_commands_per_page"] = (after - before - 1) / 20
            direct = rtt_us(redis.Redis(host="127.0.0.1", port=topo.l2_port))
            proxied = rtt_us(redis.Redis(host="127.0.0.1", port=proxy_port))
            result["l2_rtt_direct_us"] = round(direct)
            result["l2_rtt_proxied_us"] = round(proxied)

        cookie = "sessionid=%s" % b.cookies["sessionid"]
        wrk = ["taskset", "-c", args.aux_cpus, "wrk", "-t1", "-c%d" % args.connections,
               "--latency", "-H", "Cookie: " + cookie]
        subprocess.run(wrk + ["-d2s", url], capture_output=True, text=True, check=True)
        runs = []
        for _ in range(args.runs):
            out = subprocess.run(wrk + ["-d%ds" % args.seconds, url], capture_output=True,
                                 text=True, check=True).stdout
            runs.append(parse_wrk(out))
            print("  %-13s %8.1f req/s  p50 %6.2f ms  p99 %6.2f ms"
                  % (name, runs[-1]["rps"], runs[-1]["p50_ms"], runs[-1]["p99_ms"]), flush=True)
        assert all(r["non_2xx"] == 0 for r in runs), runs
        result["runs"] = runs
        result["rps"] = statistics.median(r["rps"] for r in runs)
        result["p99_ms"] = statistics.median(r["p99_ms"] for r in runs)
        result["p50_ms"] = statistics.median(r["p50_ms"] for r in runs)
        if name == "sidecar":
            tc = redis.Redis(unix_socket_path=host.socket_path).info("tiercache")
            hits, misses = tc.get("l1_hits", 0), tc.get("l1_misses", 0)
            result["l1_hit_ratio"] = round(hits / max(1, hits + misses), 4)
    finally:
        problems = topo.stop()
        if problems:
            print("  teardown: %s" % problems, file=sys.stderr)
    return result


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
    args = ap.parse_args()

    results = {}
    load_before = os.getloadavg()[0]
    for name in args.setups.split(","):
        print("%s:" % name, flush=True)
        results[name] = run_setup(name, args)

    print("\nproduct list %s, gunicorn %d sync worker(s) on cpu %s, wrk -c%d on cpu %s, "
          "median of %d x %ds" % (args.path, args.workers, args.site_cpus, args.connections,
                                  args.aux_cpus, args.runs, args.seconds))
    load_after = os.getloadavg()[0]
    print("machine load average (1 min) %.2f before, %.2f after, on %d CPUs: the cache hops "
          "of the sidecar and remote setups wait for a CPU when others use them"
          % (load_before, load_after, os.cpu_count()))
    remote = results.get("remote-redis")
    if remote:
        print("cache commands per page: %.1f; L2 round trip %d us direct, %d us through the "
              "delay proxy" % (remote["cache_commands_per_page"], remote["l2_rtt_direct_us"],
                               remote["l2_rtt_proxied_us"]))
    base = results.get("locmem")
    print("%-13s %10s %9s %9s %12s %12s" % ("setup", "req/s", "p50 ms", "p99 ms",
                                             "vs locmem", "vs remote"))
    for name, r in results.items():
        vs_local = "%.2fx" % (r["rps"] / base["rps"]) if base else "-"
        vs_remote = "%.2fx" % (r["rps"] / remote["rps"]) if remote else "-"
        print("%-13s %10.1f %9.2f %9.2f %12s %12s" % (name, r["rps"], r["p50_ms"], r["p99_ms"],
                                                     vs_local, vs_remote))
    if "sidecar" in results:
        print("sidecar L1 hit ratio during the runs: %.1f%%"
              % (100 * results["sidecar"]["l1_hit_ratio"]))
    out_dir = os.path.join(REPO, "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "django.json"), "w") as f:
        json.dump({"args": vars(args), "load": [load_before, load_after],
                   "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
