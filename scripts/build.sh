#!/usr/bin/env bash
# Configures and builds tiercache into build/ (or $TIERCACHE_BUILD_DIR). Extra arguments go to
# cmake's configure step, e.g. scripts/build.sh -DTIERCACHE_WERROR=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TIERCACHE_BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
# TIERCACHE_BUILD_TARGET builds one target (e.g. fuzz_targets) instead of everything.
cmake --build "$BUILD_DIR" -j "$JOBS" ${TIERCACHE_BUILD_TARGET:+--target "$TIERCACHE_BUILD_TARGET"}
