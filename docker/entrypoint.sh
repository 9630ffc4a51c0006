#!/usr/bin/env bash
# Entrypoint of the tiercache image: the first argument chooses the server, the rest are its
# flags.
#
#   entrypoint.sh sidecar [--flag value ...]   exec tiercache-sidecar
#   entrypoint.sh l2      [--flag value ...]   exec tiercache-l2
#   entrypoint.sh COMMAND [ARGS ...]           exec anything else (a shell for debugging)
#
# Configuration comes from the environment: both binaries read TIERCACHE_<OPTION> themselves
# (upper case, dashes as underscores: TIERCACHE_L2, TIERCACHE_L1_MEMORY, TIERCACHE_MAXMEMORY),
# with the precedence defaults < TOML file < environment < flags. This script adds:
#   TIERCACHE_CONFIG=FILE          passed as --config FILE
#   TIERCACHE_<OPTION>_FILE=PATH   TIERCACHE_<OPTION> is read from that file (for secrets
#                                  mounted as files: TIERCACHE_REQUIREPASS_FILE, ...)
#   TIERCACHE_BIN_DIR              where the binaries are (default /usr/local/bin)
#   TIERCACHE_STATE_DIR            where the role is noted for healthcheck.sh (default /tmp)
# For the sidecar it creates the socket's directory. It never prints a value.
set -euo pipefail

usage() {
  echo "usage: entrypoint.sh sidecar|l2 [flags...]   (or any command)" >&2
}

if [ $# -eq 0 ]; then
  usage
  exit 2
fi
role=$1
shift
bin_dir=${TIERCACHE_BIN_DIR:-/usr/local/bin}

case "$role" in
  sidecar) bin="$bin_dir/tiercache-sidecar" ;;
  l2) bin="$bin_dir/tiercache-l2" ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) exec "$role" "$@" ;;
esac

# TIERCACHE_X_FILE=path -> TIERCACHE_X=<contents of path> (trailing newline dropped).
while IFS= read -r name; do
  target=${name%_FILE}
  path=${!name}
  if [ -n "${!target:-}" ]; then
    echo "entrypoint: both $target and $name are set; use one" >&2
    exit 2
  fi
  if [ ! -r "$path" ]; then
    echo "entrypoint: $name: cannot read $path" >&2
    exit 2
  fi
  value=$(<"$path")
  export "$target=$value"
  unset "$name"
done < <(compgen -e | grep -E '^TIERCACHE_[A-Z0-9_]+_FILE$' || true)

args=()
if [ -n "${TIERCACHE_CONFIG:-}" ]; then
  args+=(--config "$TIERCACHE_CONFIG")
fi
unset TIERCACHE_CONFIG

if [ "$role" = sidecar ]; then
  socket=${TIERCACHE_SOCKET:-/run/tiercache/sidecar.sock}
  # A --socket flag wins over the environment (as in the binary).
  prev=""
  for a in "$@"; do
    if [ "$prev" = "--socket" ]; then socket=$a; fi
    case "$a" in --socket=*) socket=${a#--socket=} ;; esac
    prev=$a
  done
  if [ -n "$socket" ]; then mkdir -p "$(dirname "$socket")"; fi
fi

state_dir=${TIERCACHE_STATE_DIR:-/tmp}
echo "$role" >"$state_dir/tiercache-role" 2>/dev/null || true

exec "$bin" "${args[@]}" "$@"
