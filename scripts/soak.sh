#!/usr/bin/env bash
# Long soak run, not part of CI: builds, then tests/coherence/soak.py (the coherence checker on
# two hosts plus redis-benchmark load for MINUTES, default 30; RSS sampled; zero stale reads,
# zero errors and flat memory required). Usage: scripts/soak.sh [minutes] [tiercache|redis]
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-30}
L2=${2:-tiercache}
scripts/deps.sh
scripts/build.sh
exec /usr/bin/python3 tests/coherence/soak.py --minutes "$MINUTES" --l2 "$L2" \
  --csv "soak-rss-$(date +%Y%m%d-%H%M%S).csv"
