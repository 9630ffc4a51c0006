#!/usr/bin/env bash
# The README's main-job command: installs what is missing, builds, and runs the demo: one
# tiercache-l2, two "hosts" (each a tiercache-sidecar with its own socket and shared-memory
# segment, and a gunicorn instance of the Django shop in examples/django), one SQLite file.
# It prints the URLs and how to see coherence; Ctrl-C stops everything cleanly.
# DEMO_PORT_A / DEMO_PORT_B (default 8001 / 8002) choose the sites' ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec /usr/bin/python3 examples/demo/topology.py --port-a "${DEMO_PORT_A:-8001}" \
  --port-b "${DEMO_PORT_B:-8002}" "$@"
