#!/usr/bin/env bash
# Runs a pytest selection N times in a row and prints, at the end, how often each test failed:
# the tool for chasing a flaky test. Builds nothing and installs nothing: run scripts/test.sh
# (or scripts/build.sh) once first.
#   scripts/flaky.sh N [pytest arguments...]
#   scripts/flaky.sh 20 tests/hardening
#   scripts/flaky.sh 50 tests/integration/test_bad_input.py -k vanish
#   LOAD=1 scripts/flaky.sh 10 tests/e2e      # with a busy loop on every core meanwhile
#   TIERCACHE_TEST_TARGET=redis scripts/flaky.sh 5 tests/integration
# Environment as for the suites themselves (TIERCACHE_BUILD_DIR, TIERCACHE_TEST_TARGET,
# ASAN_OPTIONS, ...). Logs of failed rounds are kept in $FLAKY_LOGS (default a temp folder).
# Exit status: 0 if every round passed, 1 otherwise.
set -uo pipefail
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/flaky.sh N [pytest arguments...]" >&2
  exit 2
fi
rounds=$1
shift
[ $# -gt 0 ] || set -- tests/integration
cd "$(dirname "$0")/.." || exit 2
logs=${FLAKY_LOGS:-$(mktemp -d /tmp/flaky.XXXXXX)}
mkdir -p "$logs"

load_pids=()
stop_load() { [ ${#load_pids[@]} -eq 0 ] || kill "${load_pids[@]}" 2>/dev/null; }
trap stop_load EXIT
if [ "${LOAD:-0}" = "1" ]; then
  for _ in $(seq "$(nproc)"); do
    ( while :; do :; done ) &
    load_pids+=($!)
  done
  echo "flaky: $(nproc) busy loops running as load"
fi

failed_rounds=0
declare -A fails=()
for i in $(seq "$rounds"); do
  start=$(date +%s)
  log="$logs/round-$i.log"
  /usr/bin/python3 -m pytest -q -p no:cacheprovider -rfE "$@" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  summary=$(tail -n 1 "$log")
  if [ $rc -eq 0 ]; then
    echo "round $i/$rounds: passed in ${secs}s ($summary)"
    rm -f "$log"
  else
    failed_rounds=$((failed_rounds + 1))
    echo "round $i/$rounds: FAILED in ${secs}s ($summary), log $log"
    while read -r name; do
      fails[$name]=$(( ${fails[$name]:-0} + 1 ))
    done < <(grep -E '^(FAILED|ERROR) ' "$log" | awk '{print $2}')
  fi
done

echo
echo "flaky: $((rounds - failed_rounds)) of $rounds rounds passed: $*"
for name in "${!fails[@]}"; do
  printf '  %3d/%d  %s\n' "${fails[$name]}" "$rounds" "$name"
done | sort -rn
[ $failed_rounds -eq 0 ]
