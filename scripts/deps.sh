#!/usr/bin/env bash
# Installs the Debian packages tiercache needs to build, test and run the demo. Idempotent:
# apt runs only when something is missing.
#   scripts/deps.sh           everything (build, tests, benchmarks, the demo)
#   scripts/deps.sh --build   only what scripts/build.sh and the unit tests need (the Docker
#                             images' build stages)
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libhiredis-dev libmsgpack-cxx-dev libtomlplusplus-dev doctest-dev
  liblua5.1-0-dev libcli11-dev libspdlog-dev libxxhash-dev python3-dev
)
TEST_PACKAGES=(
  clang-14 libclang-rt-14-dev clang-format
  redis-server redis-tools
  redis-sentinel  # tests/integration/sidecar/test_sentinel.py: l2-mode sentinel
  python3-django python3-django-redis python3-redis python3-pytest python3-pytest-django
  gunicorn
  python3-celery  # tests/integration/test_celery.py: a real worker over BRPOP
  chromium python3-pil wrk
  shellcheck prometheus python3-yaml python3-matplotlib
  # tests/packaging: the wheel built offline and installed into venvs; the .deb built by CPack
  # (dpkg-shlibdeps, help2man for the man pages), installed and checked (systemd-analyze, man)
  python3-pip python3-setuptools python3-wheel python3-venv ccache
  help2man dpkg-dev systemd man-db adduser
)
case "${1:-}" in
  --build) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  "") PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
  *) echo "usage: scripts/deps.sh [--build]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's redis-server package starts a system instance on 6379; the project never uses it.
echo "deps: done"
