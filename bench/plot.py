#!/usr/bin/python3
"""Turns the JSON the benchmarks write into the PNGs docs/benchmarks.md shows (matplotlib,
Debian's python3-matplotlib). Plots only what it is given, from real runs:

  bench/l2_vs_redis.py --json /tmp/l2.json
  bench/sidecar/bench.py --json /tmp/sidecar.json
  bench/django/run.py ... (writes bench/results/django.json)
  bench/plot.py --l2 /tmp/l2.json --sidecar /tmp/sidecar.json \
                --django bench/results/django.json --out docs/img

Writes l2_vs_redis_rps.png, l2_vs_redis_p99.png, l2_vs_redis_memory.png, sidecar_hits.png,
sidecar_remote.png, django_rps.png (those whose input was given), and prints their names.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TC, REDIS, OTHER = "#2b6cb0", "#c53030", "#718096"


def bars(ax, labels, series, ylabel, title):
    """Grouped bars: series = [(name, values, colour)]."""
    n = len(series)
    width = 0.8 / n
    for i, (name, values, colour) in enumerate(series):
        xs = [x + (i - (n - 1) / 2) * width for x in range(len(labels))]
        ax.bar(xs, values, width, label=name, color=colour)
        for x, v in zip(xs, values):
            ax.annotate(fmt(v), (x, v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def fmt(v):
    if v >= 10000:
        return "%.0fk" % (v / 1000)
    if v >= 100:
        return "%.0f" % v
    return "%.2g" % v


def save(fig, out, name):
    path = os.path.join(out, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(path)


def plot_l2(data, out):
    rows = data["throughput"]
    labels = ["%s P%d\n%s" % (r["transport"], r["pipeline"], r["test"]) for r in rows]
    fig, ax = plt.subplots(figsize=(9, 4))
    bars(ax, labels, [("redis-server", [r["redis_rps"] for r in rows], REDIS),
                      ("tiercache-l2", [r["tiercache_rps"] for r in rows], TC)],
         "requests/s (median)", "tiercache-l2 vs redis-server: throughput (redis-benchmark)")
    save(fig, out, "l2_vs_redis_rps.png")
    fig, ax = plt.subplots(figsize=(9, 4))
    bars(ax, labels, [("redis-server", [r["redis_p99"] for r in rows], REDIS),
                      ("tiercache-l2", [r["tiercache_p99"] for r in rows], TC)],
         "p99 latency (ms)", "tiercache-l2 vs redis-server: p99 latency (lower is better)")
    save(fig, out, "l2_vs_redis_p99.png")
    mem = data.get("memory") or {}
    if mem:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        fields = [("used_per_key", "used_memory / key"), ("rss_per_key", "RSS / key")]
        bars(ax, [f[1] for f in fields],
             [("redis-server", [mem["redis"][f[0]] for f in fields], REDIS),
              ("tiercache-l2", [mem["tiercache"][f[0]] for f in fields], TC)],
             "bytes per key", "memory per key (32 B keys, 100 B values)")
        save(fig, out, "l2_vs_redis_memory.png")


def plot_sidecar(data, out):
    hits = sorted((k for k in data if k.startswith("hits_P")), key=lambda k: int(k[6:]))
    if hits:
        fig, ax = plt.subplots(figsize=(6, 4))
        labels = ["-P %s" % k[6:] for k in hits]
        bars(ax, labels, [("redis-server (local)", [data[k]["redis"]["rps"] for k in hits], REDIS),
                          ("sidecar, L1 hits", [data[k]["sidecar"]["rps"] for k in hits], TC)],
             "GET requests/s (median)", "sidecar L1 hits vs a local redis-server")
        save(fig, out, "sidecar_hits.png")
    if "remote" in data:
        r = data["remote"]
        fig, ax = plt.subplots(figsize=(6, 4))
        bars(ax, ["p50", "p99"],
             [("L2 over the network (proxy)", [r["l2_via_proxy"]["p50"], r["l2_via_proxy"]["p99"]],
               OTHER),
              ("sidecar L1 hit", [r["sidecar"]["p50"], r["sidecar"]["p99"]], TC)],
             "GET latency (ms)", "a read from L1 vs a read from a remote L2")
        save(fig, out, "sidecar_remote.png")


def plot_django(data, out):
    res = data["results"]
    names = list(res)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    colours = [TC if n.startswith("sidecar") else (REDIS if "redis" in n else OTHER)
               for n in names]
    a1.bar(names, [res[n]["rps"] for n in names], color=colours)
    a1.set_ylabel("pages/s (median)")
    a1.set_title("Django shop (wrk): throughput", fontsize=10)
    a1.tick_params(axis="x", labelsize=8)
    a1.grid(axis="y", alpha=0.3)
    xs = range(len(names))
    a2.bar([x - 0.2 for x in xs], [res[n]["p50_ms"] for n in names], 0.4, label="p50",
           color=OTHER)
    a2.bar([x + 0.2 for x in xs], [res[n]["p99_ms"] for n in names], 0.4, label="p99",
           color=TC)
    a2.set_xticks(list(xs))
    a2.set_xticklabels(names, fontsize=8)
    a2.set_ylabel("latency (ms)")
    a2.set_title("Django shop (wrk): latency", fontsize=10)
    a2.legend(fontsize=8)
    a2.grid(axis="y", alpha=0.3)
    save(fig, out, "django_rps.png")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--l2", help="JSON of bench/l2_vs_redis.py --json")
    ap.add_argument("--sidecar", help="JSON of bench/sidecar/bench.py --json")
    ap.add_argument("--django", help="JSON of bench/django/run.py")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "img"))
    args = ap.parse_args()
    if not (args.l2 or args.sidecar or args.django):
        ap.error("give at least one of --l2, --sidecar, --django")
    os.makedirs(args.out, exist_ok=True)
    for arg, fn in ((args.l2, plot_l2), (args.sidecar, plot_sidecar), (args.django, plot_django)):
        if arg:
            with open(arg) as f:
                fn(json.load(f), args.out)


if __name__ == "__main__":
    sys.exit(main())
