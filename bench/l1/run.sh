#!/usr/bin/env bash
# Runs bench_l1 three times pinned to CPU 1 and prints the medians side by side with the
# reference figures from /work/shared/reference/baselines.md (memcached 59 B/item, Redis 87).
# Usage: bench/l1/run.sh [build-dir]   (default: build-l1, then build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-}"
if [[ -z "$build" ]]; then
  for d in "$root/build-l1" "$root/build"; do
    [[ -x "$d/bench/l1/bench_l1" ]] && build="$d" && break
  done
fi
bin="$build/bench/l1/bench_l1"
[[ -x "$bin" ]] || { echo "bench_l1 not built (cmake --build <dir> --target bench_l1)" >&2; exit 1; }

results=()
for run in 1 2 3; do
  echo "== run $run ==" >&2
  out="$(taskset -c 1 "$bin")"
  echo "$out" >&2
  results+=("$(grep '^RESULT' <<<"$out")")
done

printf '%s\n' "${results[@]}" | /usr/bin/python3 -c '
import statistics, sys
runs = [dict(kv.split("=") for kv in line.split()[1:]) for line in sys.stdin if line.strip()]
med = lambda k: statistics.median(float(r[k]) for r in runs)
rows = [
    ("get ops/s, hit, random over 100k items", "%.0f" % med("get_ops"),
     "shm read 0.05-0.1 us/op; redis GET unix -P1 120k"),
    ("get ops/s, hit, hot set of 1000 keys", "%.0f" % med("hot_get_ops"), ""),
    ("get ops/s, miss", "%.0f" % med("miss_ops"), ""),
    ("set ops/s, overwrite", "%.0f" % med("set_ops"), "redis SET unix -P1 121k; memcached 114k"),
    ("overhead bytes/item, 32B key + 100B value", "%.1f (goal <= 40)" % med("overhead"),
     "memcached 59, Redis 87"),
    ("hit ratio, Zipf(0.99), cache = 10% of keys", "%.4f (S3-FIFO)" % med("hit_l1"),
     "exact LRU %.4f at the same item count" % med("hit_lru_items")),
    ("", "", "exact LRU %.4f at the same bytes, zero overhead" % med("hit_lru_bytes")),
]
print("\nMedian of %d pinned runs (taskset -c 1)" % len(runs))
print("%-44s %-26s %s" % ("metric", "tiercache L1", "reference"))
for r in rows:
    print("%-44s %-26s %s" % r)
'
