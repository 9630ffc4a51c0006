"""tiercache's Python side.

- ``tiercache.django_cache.TierCache``: a Django cache backend (django-redis talking to the local
  tiercache-sidecar) that serves L1 hits straight from the sidecar's shared memory.
- ``tiercache._l1.Reader``: the C extension under it, a lock-free reader of the L1 segment.

See docs/django.md ("Direct L1 reads").
"""

try:
    from tiercache._version import __version__  # written by setup.py, or by CMake in the build tree
except ImportError:  # pragma: no cover - a copy of the sources that neither wrote
    __version__ = "unknown"
