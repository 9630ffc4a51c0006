"""Django wiring for the integration tests: settings are configured once per process (they are
global); each Django test module points the caches at its own module-scoped server with
override_settings. Aliases: "default" (TCP, db 0) and "unix" (unix socket, db 1) are the pair
the tests are parametrized over; "starprefix"/"xprefix" (TCP, db 2) carry key prefixes."""

import django
import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tiercache-integration-tests",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django.contrib.sessions"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
        ROOT_URLCONF="tc_django_app",
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        DATABASES={},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                    "DIRS": [], "APP_DIRS": False}],
        USE_TZ=True,
    )
    django.setup()

from django.core.cache import caches  # noqa: E402  (needs the settings above)
from django.test.utils import override_settings  # noqa: E402

ALIASES = ["default", "unix"]


def caches_for(server):
    def redis_cache(location, **extra):
        conf = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location,
                "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient",
                            "SOCKET_TIMEOUT": 10}}
        conf.update(extra)
        return conf
    tcp = "redis://127.0.0.1:%d/" % server.port
    return {
        "default": redis_cache(tcp + "0"),
        "unix": redis_cache("unix://%s?db=1" % server.unix_path),
        "starprefix": redis_cache(tcp + "2", KEY_PREFIX="tc*"),
        "xprefix": redis_cache(tcp + "2", KEY_PREFIX="tcX"),
    }


@pytest.fixture(scope="module", autouse=True)
def django_caches(server):
    """Point Django's caches at this module's server for the whole module."""
    with override_settings(CACHES=caches_for(server)):
        yield
        for alias in caches_for(server):
            caches[alias].close()


@pytest.fixture(params=ALIASES)
def alias(request, server):
    server.client().flushall()
    return request.param


@pytest.fixture
def cache(alias):
    return caches[alias]


@pytest.fixture
def raw_db(server, alias):
    """redis-py on the db behind the alias, to look at what Django stored."""
    return server.client(db=ALIASES.index(alias))


@pytest.fixture(autouse=True)
def _close_django_connections(server):
    """django-redis pools its connections; close them after each test so the server's
    connection count settles (see the root conftest)."""
    yield
    for name in caches_for(server):
        client = caches[name].client
        if any(c is not None for c in client._clients):
            client.do_close_clients()
