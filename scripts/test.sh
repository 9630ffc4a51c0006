#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test. Steps:
#   1. build dependencies (the Docker images' build stage: scripts/deps.sh --build);
#   2. release build, warnings as errors;
#   3. unit tests (doctest, via ctest) of the release build;
#   4. test dependencies (scripts/deps.sh);
#   5. integration tests (pytest with Debian's python3) against the real binaries, redis-cli,
#      redis-py and Django;
#   6. the same suite against redis-server, to prove the tests assert real Redis behaviour;
#   7. the coherence checker (tests/coherence): writers and readers on two sidecars, every read
#      checked against the acknowledged writes (COHERENCE_SECONDS per L2, default 10);
#   8. operations checks (tests/ops): the container entrypoint and health check run outside
#      Docker, the metrics endpoint scraped by Debian's Prometheus, config keys against
#      docs/configuration.md, env overrides, logs, shellcheck, compose and Kubernetes files;
#   9. hardening (tests/hardening): 10,000 connections, crash and restart faults, slow clients;
#  10. end-to-end tests: the demo's topology (L2, two sidecars, two gunicorn sites of
#      examples/django) driven over HTTP and with a headless Chromium;
#  11. ASan+UBSan build, and the unit tests under it;
#  12. the integration tests against the ASan+UBSan binaries;
#  13. the libFuzzer build, and each fuzz target for a short run (FUZZ_SECONDS, default 20).
# Set QUICK=1 to skip steps 11 to 13 while iterating.
#
# Every step prints one line when it ends (passed or FAILED, and its seconds). A failed build
# or install stops the run; a failed test step does not, so one run shows every failure. At the
# end: the table of steps, the names of the failing tests, and "steps: N passed, M failed".
# Exit status 0 only if every step passed. scripts/flaky.sh reruns a selection to chase a flake.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
SAN_ENV=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
         UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
PYTEST=(/usr/bin/python3 -m pytest -q -rfE -p no:cacheprovider)

LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
table=()
failing=()
n_passed=0
n_failed=0

summary() {
  printf '\n==== summary ====\n'
  printf '%s\n' "${table[@]}"
  if [ ${#failing[@]} -gt 0 ]; then
    printf '\nfailing:\n'
    printf '  %s\n' "${failing[@]}"
  fi
  printf '\nsteps: %d passed, %d failed\n' "$n_passed" "$n_failed"
}

# step fatal|continue NAME COMMAND...: runs one step, its output shown and kept for the summary.
step() {
  local mode=$1 name=$2
  shift 2
  printf '\n==== %s ====\n' "$name"
  local log="$LOGS/step-$((n_passed + n_failed)).log" start=$SECONDS rc=0
  set +e
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  local secs=$((SECONDS - start)) status=passed
  if [ "$rc" -ne 0 ]; then
    status="FAILED (exit $rc)"
    n_failed=$((n_failed + 1))
    local names
    # pytest's short summary, ctest's list of failed tests, fuzz.sh's failed targets.
    names=$( { grep -E '^(FAILED|ERROR) ' "$log" | awk '{print $2}'
               sed -n '/The following tests FAILED:/,/^$/p' "$log" | grep -E '^[[:space:]]+[0-9]+ - ' \
                 | sed -E 's/^[[:space:]]+[0-9]+ - //'
               grep -E '^fuzz: .* FAILED$' "$log" | awk '{print $2}'; } | sort -u)
    if [ -n "$names" ]; then
      while read -r t; do failing+=("$name: $t"); done <<<"$names"
    else
      failing+=("$name: (no test names in its output; see the log above)")
    fi
  else
    n_passed=$((n_passed + 1))
  fi
  printf '==== %s: %s in %ss\n' "$name" "$status" "$secs"
  table+=("$(printf '%-58s %-17s %5ss' "$name" "$status" "$secs")")
  if [ "$rc" -ne 0 ] && [ "$mode" = fatal ]; then
    summary
    exit "$rc"
  fi
  return 0
}

# The first three steps are the Docker images' build stage (docker/Dockerfile): the build
# packages alone must be enough to build and run the unit tests.
step fatal "build dependencies" scripts/deps.sh --build
step fatal "build (release, -Werror)" \
  env TIERCACHE_BUILD_DIR=build scripts/build.sh -DTIERCACHE_WERROR=ON
step continue "unit tests" ctest --test-dir build --output-on-failure -j 2
step fatal "test dependencies" scripts/deps.sh

export TIERCACHE_BUILD_DIR="$ROOT/build"
step continue "integration tests against tiercache" \
  env TIERCACHE_TEST_TARGET=tiercache "${PYTEST[@]}" tests/integration
step continue "integration tests against redis-server (the reference)" \
  env TIERCACHE_TEST_TARGET=redis "${PYTEST[@]}" tests/integration
step continue "coherence checker (two hosts, ${COHERENCE_SECONDS:-10}s per L2, and its self-test)" \
  env TIERCACHE_COHERENCE_SECONDS="${COHERENCE_SECONDS:-10}" "${PYTEST[@]}" tests/coherence
step continue "operations checks" "${PYTEST[@]}" tests/ops
step continue "hardening: 10,000 connections, crash and restart faults" \
  "${PYTEST[@]}" tests/hardening
step continue "end-to-end tests (Django on tiercache)" "${PYTEST[@]}" tests/e2e

if [ "${QUICK:-0}" != "1" ]; then
  step fatal "build with ASan+UBSan" \
    env TIERCACHE_BUILD_DIR=build-asan scripts/build.sh -DTIERCACHE_SANITIZE=ON \
    -DTIERCACHE_WERROR=ON -DCMAKE_BUILD_TYPE=Debug
  step continue "unit tests under ASan+UBSan" \
    env "${SAN_ENV[@]}" ctest --test-dir build-asan --output-on-failure -j 2
  # Any sanitizer report makes the server abort, which the fixtures see as a failed test.
  step continue "integration tests against the ASan+UBSan binaries" \
    env "${SAN_ENV[@]}" TIERCACHE_BUILD_DIR="$ROOT/build-asan" TIERCACHE_TEST_TARGET=tiercache \
    "${PYTEST[@]}" tests/integration
  step fatal "build fuzz targets (clang, libFuzzer)" \
    env CC=clang-14 CXX=clang++-14 TIERCACHE_BUILD_DIR=build-fuzz scripts/build.sh \
    -DTIERCACHE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  step continue "fuzz targets (${FUZZ_SECONDS}s each)" scripts/fuzz.sh "$FUZZ_SECONDS"
fi

summary
[ "$n_failed" -eq 0 ]
