"""Hardening tests (faults and scale) reuse the integration suite's process launchers."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "sidecar"))

from leftovers import pytest_sessionfinish  # noqa: E402,F401  (fails the session on leftovers)
