#!/bin/sh
# Proves the layering is a build rule (cmake/layers.cmake): compiles one-line sources with the
# include paths a library's sources get, and expects each header of a layer it may use to be
# found and each header of a layer above it (or beside it) to be missing.
#   check.sh CXX INCLUDE_DIRS(;-separated) allowed-header... -- forbidden-header...
set -u
cxx=$1 dirs=$2
shift 2
flags=$(printf '%s' "$dirs" | tr ';' '\n' | sed '/^$/d; s/^/-I/' | tr '\n' ' ')
allowed=1 failures=0
for header in "$@"; do
  if [ "$header" = "--" ]; then allowed=0; continue; fi
  # shellcheck disable=SC2086  # $flags is a list of -I options
  out=$(printf '#include "%s"\n' "$header" | "$cxx" -std=c++20 -fsyntax-only $flags -x c++ - 2>&1)
  rc=$?
  if [ $allowed = 1 ] && [ $rc != 0 ]; then
    echo "FAIL: $header should be reachable but does not compile:"; echo "$out" | head -5
    failures=$((failures + 1))
  elif [ $allowed = 0 ]; then
    if [ $rc = 0 ]; then
      echo "FAIL: $header is reachable from a layer below it"; failures=$((failures + 1))
    # gcc says "h: No such file or directory", clang "'h' file not found".
    elif ! printf '%s' "$out" | grep -qE "$header: No such file or directory|'$header' file not found"; then
      echo "FAIL: $header failed for another reason than being out of reach:"; echo "$out" | head -5
      failures=$((failures + 1))
    fi
  fi
done
[ $failures = 0 ] && echo "ok"
exit $failures
