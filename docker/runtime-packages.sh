#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries the given binaries load (one a
# line, sorted): what the image's runtime stage installs, so it carries the binaries' runtime
# libraries and nothing of the build toolchain. Fails if a library belongs to no package.
#   docker/runtime-packages.sh build/l2/tiercache-l2 build/sidecar/tiercache-sidecar
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: runtime-packages.sh BINARY..." >&2
  exit 2
fi
libs=$(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u)
for lib in $libs; do
  pkg=""
  # usrmerge: the same file may be known to dpkg under /lib or /usr/lib.
  for path in "$lib" "$(readlink -f "$lib")" "/usr$lib" "${lib#/usr}"; do
    if pkg=$(dpkg-query -S "$path" 2>/dev/null); then break; fi
    pkg=""
  done
  if [ -z "$pkg" ]; then
    echo "runtime-packages: no package owns $lib" >&2
    exit 1
  fi
  echo "${pkg%%:*}"
done | sort -u
