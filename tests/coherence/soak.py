#!/usr/bin/python3
"""Soak run (not in CI): the coherence checker on two hosts for --minutes (default 30) while
redis-benchmark drives extra GET/SET load through host A; the private memory (RssAnon) of the
L2 and both sidecars is sampled every --sample-seconds. Passes when the checker finds zero stale reads, the load
saw zero errors, and memory is flat: no process's RSS grows by more than --max-growth (default
10%) between the end of the first fifth of the run and the end.

  /usr/bin/python3 tests/coherence/soak.py --minutes 30 [--l2 redis] [--csv rss.csv]
"""
import argparse
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check  # noqa: E402


def rss(pid):
    """Private resident memory (RssAnon): the L1 segment's shared pages count in plain RSS as
    the cache fills, which is not growth of the process."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--l2", choices=("tiercache", "redis"), default="tiercache")
    ap.add_argument("--sample-seconds", type=float, default=10.0)
    ap.add_argument("--max-growth", type=float, default=0.10)
    ap.add_argument("--csv", default=None, help="write the RSS samples here")
    args = ap.parse_args()
    seconds = args.minutes * 60
    samples = []  # (t, {name: rss})
    load = {"errors": 0, "runs": 0, "last": ""}
    stop = threading.Event()

    def on_started(cluster, sc):
        procs = {"l2": cluster.l2.proc.pid, "sidecar-a": sc["a"].proc.pid,
                 "sidecar-b": sc["b"].proc.pid}
        # Load and sampling end a second before the checker does, while the hosts still run.
        deadline = time.monotonic() + seconds - 1.0

        def sampler():
            t0 = time.monotonic()
            while not stop.is_set() and time.monotonic() < deadline:
                samples.append((time.monotonic() - t0, {n: rss(p) for n, p in procs.items()}))
                stop.wait(args.sample_seconds)

        def loader():
            while not stop.is_set() and time.monotonic() < deadline:
                try:  # a run normally takes 1-3 s; one that stalls is a failure, not a wait
                    r = subprocess.run(
                        ["redis-benchmark", "-s", sc["a"].socket, "-t", "set,get", "-d", "100",
                         "-c", "10", "-n", "20000", "-r", "50000", "-q"],
                        capture_output=True, text=True, timeout=30)
                except subprocess.TimeoutExpired as e:
                    load["runs"] += 1
                    load["errors"] += 1
                    load["last"] = "redis-benchmark stalled for 30 s: %r" % (e.stdout or b"")[-300:]
                    continue
                if time.monotonic() >= deadline:
                    break  # cut off by the end of the run, not a failure
                load["runs"] += 1
                out = r.stdout + r.stderr
                if r.returncode != 0 or "ERR" in out or "rror" in out:
                    load["errors"] += 1
                    load["last"] = out[-500:]
        for fn in (sampler, loader):
            threading.Thread(target=fn, daemon=True).start()

    try:
        r = check.run(seconds=seconds, l2=args.l2, on_started=on_started)
    finally:
        stop.set()
    print(check.report(r))
    if args.csv:
        with open(args.csv, "w") as f:
            names = sorted(samples[0][1]) if samples else []
            f.write("seconds," + ",".join(names) + "\n")
            for t, row in samples:
                f.write("%.0f," % t + ",".join(str(row[n]) for n in names) + "\n")
    ok = r["ok"] and load["errors"] == 0 and load["runs"] > 0
    print("load: %d redis-benchmark runs through host A, %d with errors %s"
          % (load["runs"], load["errors"], load["last"]))
    if len(samples) >= 5:
        base = samples[len(samples) // 5][1]
        end = samples[-1][1]
        for name in sorted(end):
            growth = (end[name] - base[name]) / float(base[name] or 1)
            flat = growth <= args.max_growth
            ok &= flat
            print("rss %-10s %7.1f MiB -> %7.1f MiB (%+.1f%%) %s"
                  % (name, base[name] / 2**20, end[name] / 2**20, growth * 100,
                     "flat" if flat else "GROWING"))
    else:
        print("rss: too few samples for a trend (run longer)")
    print("SOAK: %s" % ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
