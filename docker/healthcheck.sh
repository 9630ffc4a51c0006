#!/usr/bin/env bash
# Health check of the tiercache image (Docker HEALTHCHECK, Kubernetes exec probes): exits 0 when
# the server answers PING with PONG within TIERCACHE_HEALTH_TIMEOUT seconds (default 2), 1
# otherwise.
#
#   healthcheck.sh [sidecar|l2] [--ready]
#
# The role is the first argument, else TIERCACHE_ROLE, else what entrypoint.sh noted in
# $TIERCACHE_STATE_DIR/tiercache-role. The address comes from the same environment the server
# reads: the sidecar's TIERCACHE_SOCKET (default /run/tiercache/sidecar.sock); the L2's
# TIERCACHE_PORT (default 6479, on 127.0.0.1) or, with port 0, TIERCACHE_UNIXSOCKET. A password
# (TIERCACHE_REQUIREPASS, or the file TIERCACHE_REQUIREPASS_FILE names) goes to redis-cli through
# REDISCLI_AUTH, never on the command line.
# An L2 that is loading its RDB file at start answers PING with -LOADING: it is alive (a
# liveness probe must not restart it, or a big file never finishes loading) but not ready.
# --ready: the L2 must answer PONG (loaded); the sidecar must also be connected to L2 with a
# healthy invalidation bus (INFO tiercache: l2_connected:1, bus_healthy:1), i.e. L1 serving.
set -uo pipefail

role=""
ready=0
for a in "$@"; do
  case "$a" in
    sidecar | l2) role=$a ;;
    --ready) ready=1 ;;
    *)
      echo "usage: healthcheck.sh [sidecar|l2] [--ready]" >&2
      exit 2
      ;;
  esac
done
state_dir=${TIERCACHE_STATE_DIR:-/tmp}
if [ -z "$role" ]; then role=${TIERCACHE_ROLE:-}; fi
if [ -z "$role" ] && [ -r "$state_dir/tiercache-role" ]; then role=$(<"$state_dir/tiercache-role"); fi
if [ -z "$role" ]; then
  echo "healthcheck: unknown role (give sidecar or l2)" >&2
  exit 1
fi
timeout_s=${TIERCACHE_HEALTH_TIMEOUT:-2}
if [ -n "${TIERCACHE_REQUIREPASS:-}" ]; then
  export REDISCLI_AUTH="$TIERCACHE_REQUIREPASS"
elif [ -n "${TIERCACHE_REQUIREPASS_FILE:-}" ] && [ -r "$TIERCACHE_REQUIREPASS_FILE" ]; then
  REDISCLI_AUTH=$(<"$TIERCACHE_REQUIREPASS_FILE")
  export REDISCLI_AUTH
fi

case "$role" in
  sidecar) target=(-s "${TIERCACHE_SOCKET:-/run/tiercache/sidecar.sock}") ;;
  l2)
    port=${TIERCACHE_PORT:-6479}
    if [ "$port" = 0 ]; then
      target=(-s "${TIERCACHE_UNIXSOCKET:?port 0 and no TIERCACHE_UNIXSOCKET}")
    else
      host=${TIERCACHE_BIND:-127.0.0.1}
      case "$host" in 0.0.0.0 | "" | "*") host=127.0.0.1 ;; "::") host=::1 ;; esac
      target=(-h "$host" -p "$port")
    fi
    ;;
  *)
    echo "healthcheck: unknown role '$role'" >&2
    exit 1
    ;;
esac

reply=$(timeout "$timeout_s" redis-cli "${target[@]}" ping 2>/dev/null)
if [ "$role" = l2 ] && [ "$ready" = 0 ] && [[ "$reply" == LOADING* ]]; then
  exit 0
fi
if [ "$reply" != "PONG" ]; then
  echo "healthcheck: $role does not answer PING" >&2
  exit 1
fi
if [ "$ready" = 1 ] && [ "$role" = sidecar ]; then
  info=$(timeout "$timeout_s" redis-cli "${target[@]}" info tiercache 2>/dev/null | tr -d '\r')
  if ! grep -qx 'l2_connected:1' <<<"$info" || ! grep -qx 'bus_healthy:1' <<<"$info"; then
    echo "healthcheck: sidecar is up but not serving L1 (L2 or bus down)" >&2
    exit 1
  fi
fi
exit 0
