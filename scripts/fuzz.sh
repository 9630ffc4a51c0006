#!/usr/bin/env bash
# Runs every libFuzzer target built in $TIERCACHE_FUZZ_BUILD_DIR (default build-fuzz; CI uses
# build-asan, its one clang build with the sanitizers and the fuzz targets) for N seconds each
# (default 20) on a copy of its seed corpus, and fails if any target finds a crash. Targets run
# $FUZZ_JOBS at a time (default: one per core); each one's summary is printed in name order.
# For long runs: scripts/fuzz.sh 3600.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}
BUILD_DIR=${TIERCACHE_FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${FUZZ_JOBS:-$(nproc)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# One target: its exit status goes to $WORK/NAME.rc, its output to $WORK/NAME.log.
fuzz_one() {
  local target=$1 name seed dict
  name=$(basename "$target")
  seed=$(find tests -type d -path "*corpus/${name#fuzz_}" | head -n 1)
  mkdir -p "$WORK/$name"
  if [ -n "$seed" ]; then cp -r "$seed"/. "$WORK/$name/"; fi
  dict=$(find tests -name "${name#fuzz_}.dict" | head -n 1)
  local args=(-max_total_time="$SECONDS_EACH" -print_final_stats=1
              -artifact_prefix="$WORK/$name-")
  if [ -n "$dict" ]; then args+=(-dict="$dict"); fi
  local rc=0
  "$target" "${args[@]}" "$WORK/$name" >"$WORK/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$WORK/$name.rc"
}

mapfile -t targets < <(find "$BUILD_DIR" -type f -name 'fuzz_*' -perm -u+x | sort)
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
  fuzz_one "$target" &
  running=$((running + 1))
done
wait

found=0
for target in "${targets[@]}"; do
  name=$(basename "$target")
  echo "fuzz: $name for ${SECONDS_EACH}s"
  if [ "$(cat "$WORK/$name.rc" 2>/dev/null || echo missing)" != 0 ]; then
    echo "fuzz: $name FAILED"; tail -n 40 "$WORK/$name.log"; found=1
  else
    grep -E 'stat::number_of_executed_units|cov:' "$WORK/$name.log" | tail -n 2 | sed "s/^/  /"
  fi
done
exit $found
