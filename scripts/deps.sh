#!/usr/bin/env bash
# Installs the Debian packages tiercache needs to build, test and run the demo. Idempotent:
# apt runs only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-14 libclang-rt-14-dev clang-format
  libuv1-dev libhiredis-dev libmsgpack-cxx-dev libtomlplusplus-dev doctest-dev
  liblua5.1-0-dev libcli11-dev libspdlog-dev libxxhash-dev
  redis-server redis-tools
  python3-dev python3-django python3-django-redis python3-redis python3-pytest python3-pytest-django
  gunicorn
  chromium python3-pil wrk
  shellcheck prometheus python3-yaml python3-matplotlib
)

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
