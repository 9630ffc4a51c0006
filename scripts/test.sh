#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test:
#   1. unit tests (doctest, via ctest) of the release build, warnings as errors;
#   2. integration tests (pytest with Debian's python3) against the real binaries, redis-cli,
#      redis-py and Django; the same suite also runs against redis-server to prove the tests
#      assert real Redis behaviour;
#   2b. the coherence checker (tests/coherence): writers and readers on two sidecars, every read
#      checked against the acknowledged writes (COHERENCE_SECONDS per L2, default 10);
#   2c. operations checks (tests/ops): the container entrypoint and health check run outside
#      Docker, the metrics endpoint scraped by Debian's Prometheus, config keys against
#      docs/configuration.md, env overrides, logs, shellcheck, compose and Kubernetes files;
#   3. end-to-end tests: the demo's topology (L2, two sidecars, two gunicorn sites of
#      examples/django) driven over HTTP and with a headless Chromium;
#   4. unit tests again under ASan+UBSan;
#   5. each libFuzzer target for a short run (FUZZ_SECONDS, default 20).
# Set QUICK=1 to skip steps 4 and 5 while iterating.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
step() { printf '\n==== %s ====\n' "$*"; }

# The first three steps are the Docker images' build stage (docker/Dockerfile): the build
# packages alone must be enough to build and run the unit tests.
step "build dependencies"
scripts/deps.sh --build

step "build (release, -Werror)"
TIERCACHE_BUILD_DIR=build scripts/build.sh -DTIERCACHE_WERROR=ON

step "unit tests"
ctest --test-dir build --output-on-failure -j 2

step "test dependencies"
scripts/deps.sh

step "integration tests against tiercache"
export TIERCACHE_BUILD_DIR="$ROOT/build"
TIERCACHE_TEST_TARGET=tiercache /usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider

step "integration tests against redis-server (the reference)"
TIERCACHE_TEST_TARGET=redis /usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider

step "coherence checker (two hosts, ${COHERENCE_SECONDS:-10}s per L2, and its self-test)"
TIERCACHE_COHERENCE_SECONDS=${COHERENCE_SECONDS:-10} /usr/bin/python3 -m pytest tests/coherence -q

step "operations checks"
/usr/bin/python3 -m pytest tests/ops -q

step "hardening: 10,000 connections, crash and restart faults"
/usr/bin/python3 -m pytest tests/hardening -q

step "end-to-end tests (Django on tiercache)"
/usr/bin/python3 -m pytest tests/e2e -q

if [ "${QUICK:-0}" != "1" ]; then
  step "unit tests under ASan+UBSan"
  TIERCACHE_BUILD_DIR=build-asan scripts/build.sh -DTIERCACHE_SANITIZE=ON -DTIERCACHE_WERROR=ON \
    -DCMAKE_BUILD_TYPE=Debug
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j 2

  step "integration tests against the ASan+UBSan binaries"
  # Any sanitizer report makes the server abort, which the fixtures see as a failed test.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    TIERCACHE_BUILD_DIR="$ROOT/build-asan" TIERCACHE_TEST_TARGET=tiercache \
    /usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider

  step "fuzz targets (${FUZZ_SECONDS}s each)"
  CC=clang-14 CXX=clang++-14 TIERCACHE_BUILD_DIR=build-fuzz scripts/build.sh -DTIERCACHE_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
  scripts/fuzz.sh "$FUZZ_SECONDS"
fi
step "all tests passed"
