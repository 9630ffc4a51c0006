"""Django settings for the sidecar suite's Django tests, configured once per process at import
(collection) time, before pytest-django's per-test fixtures look at them; also puts the
tiercache Python package (python/tiercache, built into <build>/python) on sys.path."""

import sys

import django
from django.conf import settings

from sidecars import python_package_dir

sys.path.insert(0, python_package_dir())

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tiercache-sidecar-tests",
        INSTALLED_APPS=["django.contrib.sessions"],
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        DATABASES={},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
        USE_TZ=True,
    )
    django.setup()
