#!/usr/bin/env bash
# The README's main-job command: installs what is missing, builds, and runs the demo.
# Today the demo is the shared L2 store on localhost (the sidecar and the Django example come
# next); stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
PORT=${TIERCACHE_L2_PORT:-6479}
SOCK=${TIERCACHE_L2_SOCKET:-/tmp/tiercache-l2.sock}
cat <<MSG

tiercache-l2 is starting on 127.0.0.1:$PORT and $SOCK. Try:
  redis-cli -p $PORT set greeting hello
  redis-cli -s $SOCK get greeting
  redis-cli -p $PORT info memory
Ctrl-C stops it.

MSG
exec build/l2/tiercache-l2 --port "$PORT" --unixsocket "$SOCK" --maxmemory 256mb
