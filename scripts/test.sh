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
#  11. packaging (tests/packaging): the wheel (static servers, the extension) built offline and
#      installed into venvs, the Django and e2e tests run against that install; the .deb built
#      by CPack, installed with dpkg, its systemd units verified, servers started from the
#      packaged configuration, removed and purged (needs root; skipped otherwise);
#  12. one clang build with ASan+UBSan and the libFuzzer targets, and the unit tests under it;
#  13. the integration tests against the ASan+UBSan binaries;
#  14. each fuzz target for a short run (FUZZ_SECONDS, default 20; scripts/fuzz.sh 3600 for a
#      long one).
# Set QUICK=1 to skip steps 12 to 14 while iterating.
#
# Two steps run in the background at nice 19 (scripts/lib/steps.sh, step_start): the ASan
# build from step 4 on, while steps 5 to 11 wait on their servers with the CPU mostly idle, and
# the fuzz targets (20 s each, where they had 10 s of a core to themselves) during step 13. At
# nice 19 they take only what the tests leave, so the tests see the machine they would see
# without them; the run is about four minutes shorter.
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
# --durations: each step names its slowest tests, where CI time goes.
PYTEST=(/usr/bin/python3 -m pytest -q -rfE -p no:cacheprovider --durations=8)

# shellcheck source=scripts/lib/steps.sh
source scripts/lib/steps.sh

# The first three steps are the Docker images' build stage (docker/Dockerfile): the build
# packages alone must be enough to build and run the unit tests.
step fatal "build dependencies" scripts/deps.sh --build
# The release build is the one the wheel and the .deb ship (static, Release): the tests run the
# binaries users get, and the packaging step reuses this build directory instead of compiling
# everything a second time.
step fatal "build (release, static, -Werror)" \
  env TIERCACHE_BUILD_DIR=build BUILD_TYPE=Release scripts/build.sh -DTIERCACHE_WERROR=ON \
  -DTIERCACHE_STATIC=ON -DPython3_EXECUTABLE=/usr/bin/python3
step continue "unit tests" ctest --test-dir build --output-on-failure -j 2
step fatal "test dependencies" scripts/deps.sh

# One clang build serves the sanitizer steps and the fuzz step: every library and binary with
# ASan+UBSan and libFuzzer's coverage instrumentation, the fuzz targets linking libFuzzer.
# (Two builds, gcc for ASan and clang for the fuzz targets, took twice as long.) It runs in the
# background, on the CPU the next steps leave idle.
ASAN_BUILD="build with ASan+UBSan and the fuzz targets (clang, Debug)"
if [ "${QUICK:-0}" != "1" ]; then
  step_start "$ASAN_BUILD" \
    env CC=clang-14 CXX=clang++-14 TIERCACHE_BUILD_DIR=build-asan scripts/build.sh \
    -DTIERCACHE_SANITIZE=ON -DTIERCACHE_FUZZ=ON -DTIERCACHE_WERROR=ON -DCMAKE_BUILD_TYPE=Debug
fi

export TIERCACHE_BUILD_DIR="$ROOT/build"
# The sidecar suite's three variants are split between this pass and the ASan pass: l2=tiercache
# (the default: tiercache-l2's CLIENT TRACKING) in both, l2=redis here, the publish source with
# redis-server there. Each runs at least once; run alone, the suite runs all three.
step continue "integration tests against tiercache" \
  env TIERCACHE_TEST_TARGET=tiercache TIERCACHE_SIDECAR_VARIANTS=tiercache,redis \
  "${PYTEST[@]}" tests/integration
step continue "integration tests against redis-server (the reference)" \
  env TIERCACHE_TEST_TARGET=redis "${PYTEST[@]}" tests/integration
step continue "coherence checker (two hosts, ${COHERENCE_SECONDS:-10}s per L2, and its self-test)" \
  env TIERCACHE_COHERENCE_SECONDS="${COHERENCE_SECONDS:-10}" "${PYTEST[@]}" tests/coherence
# The sidecar's links over mutual TLS as an ACL user (redis-server: a user restricted to what the
# sidecar needs): the whole sidecar suite with redis-server as the L2 (tests whose proxy must read
# the link skip with their reason), and the coherence checker (5s per L2) against both L2s. To
# keep CI short, the suite's l2=tiercache variant over TLS runs on demand only
# (TIERCACHE_SIDECAR_LINK=tls,acl pytest tests/integration/sidecar); tiercache-l2's TLS server
# is covered here by the coherence checker, and by tests/integration/tls and
# test_l2_link_security.py in the integration step. The Django features module (tags, leases,
# early refresh: Python logic over the same few commands, a minute of CI) runs in the
# integration step only.
DJANGO_FEATURES=tests/integration/sidecar/test_django_features.py
step continue "sidecar suite and coherence over TLS links as an ACL user" \
  env TIERCACHE_SIDECAR_LINK=tls,acl TIERCACHE_SIDECAR_VARIANTS=redis \
  TIERCACHE_COHERENCE_SECONDS=5 "${PYTEST[@]}" --ignore="$DJANGO_FEATURES" \
  tests/integration/sidecar tests/coherence
step continue "operations checks" "${PYTEST[@]}" tests/ops
step continue "hardening: 10,000 connections, crash and restart faults" \
  "${PYTEST[@]}" tests/hardening
step continue "end-to-end tests (Django on tiercache)" "${PYTEST[@]}" tests/e2e
step continue "packaging: wheel in venvs, .deb with dpkg" \
  env TIERCACHE_PACKAGING_BUILD_DIR="$ROOT/build" TIERCACHE_WHEEL_BUILD_TYPE=Release \
  "${PYTEST[@]}" tests/packaging

if [ "${QUICK:-0}" != "1" ]; then
  step_wait fatal "$ASAN_BUILD"
  step continue "unit tests under ASan+UBSan" \
    env "${SAN_ENV[@]}" ctest --test-dir build-asan --output-on-failure -j 2
  # The fuzz targets (CPU-bound, one per core, each for FUZZ_SECONDS of wall time) run at nice
  # 19 beside the ASan integration step, which leaves them most of a core (not beside the unit
  # tests, which use both: a target run there got through 10 inputs in its 10 s).
  FUZZ="fuzz targets (${FUZZ_SECONDS}s each)"
  step_start "$FUZZ" env TIERCACHE_FUZZ_BUILD_DIR=build-asan scripts/fuzz.sh "$FUZZ_SECONDS"
  # Any sanitizer report makes the server abort, which the fixtures see as a failed test.
  # The sidecar suite's variants l2=tiercache and l2=redis,source=publish (see above); the
  # differential test of the data types runs 10,000 steps instead of 100,000; the Django
  # features module as in the TLS step (its sidecar paths run under ASan in the rest).
  step continue "integration tests against the ASan+UBSan binaries" \
    env "${SAN_ENV[@]}" TIERCACHE_BUILD_DIR="$ROOT/build-asan" TIERCACHE_TEST_TARGET=tiercache \
    TIERCACHE_SIDECAR_VARIANTS=tiercache,redis+publish TIERCACHE_DIFF_STEPS=10000 \
    "${PYTEST[@]}" --ignore="$DJANGO_FEATURES" tests/integration
  step_wait continue "$FUZZ"
fi

summary
[ "$n_failed" -eq 0 ]
