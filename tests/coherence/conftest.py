"""The coherence checker's tests: fail the session on processes or segments left behind."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from leftovers import pytest_sessionfinish  # noqa: E402,F401
