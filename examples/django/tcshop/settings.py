"""Settings of the example shop. Everything a deployment changes per host comes from the
environment, so two gunicorn instances ("host A" and "host B") can share one SQLite database
while each talks to its own host's tiercache sidecar:

  TCSHOP_CACHE_LOCATION  django-redis LOCATION (default: the local sidecar's unix socket)
  TCSHOP_CACHE_BACKEND   "redis" (default: django-redis, for the sidecar or any Redis) or
                         "locmem" (Django's per-process memory cache; the benchmark baseline)
  TCSHOP_DB_PATH         SQLite file (default: db.sqlite3 next to manage.py)
  TCSHOP_HOST_NAME       label shown in the page header ("A", "B", ...)
  TCSHOP_PORT            the port gunicorn binds (shown in the header; gunicorn gets --bind)
  TCSHOP_SECRET_KEY      must be the same on every host (sessions and CSRF cross hosts)
  TCSHOP_DEBUG           "1" for Django's debug pages

The cache settings are the only tiercache-specific lines: the sidecar speaks the Redis
protocol, so the app uses django-redis as it would with Redis.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("TCSHOP_SECRET_KEY", "tcshop-demo-secret-change-me")
DEBUG = os.environ.get("TCSHOP_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["*"]
HOST_NAME = os.environ.get("TCSHOP_HOST_NAME", "A")
PORT = int(os.environ.get("TCSHOP_PORT", "8000"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tcshop.urls"

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "shop.context_processors.host",
    ]},
}]

WSGI_APPLICATION = "tcshop.wsgi.application"

# One SQLite file shared by every "host" of the demo (fine for a demo: WAL mode, see
# shop/apps.py; a real deployment uses PostgreSQL or MySQL).
DATABASES = {"default": {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.environ.get("TCSHOP_DB_PATH", str(BASE_DIR / "db.sqlite3")),
    "OPTIONS": {"timeout": 20},
}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- the cache: the local tiercache sidecar ------------------------------------------------
# TCSHOP_CACHE_BACKEND: "tiercache" (default: django-redis to the sidecar's socket, L1 hits read
# straight from the sidecar's shared memory; needs the tiercache package, built into
# build/python), "redis" (plain django-redis, every read a socket round trip) or "locmem".
CACHE_BACKEND = os.environ.get("TCSHOP_CACHE_BACKEND", "tiercache")
if CACHE_BACKEND == "locmem":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                          "OPTIONS": {"MAX_ENTRIES": 100000}}}
else:
    CACHES = {"default": {
        "BACKEND": {"tiercache": "tiercache.django_cache.TierCache",
                    "redis": "django_redis.cache.RedisCache"}[CACHE_BACKEND],
        "LOCATION": os.environ.get("TCSHOP_CACHE_LOCATION",
                                   "unix:///run/tiercache/sidecar.sock?db=0"),
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient",
                    "SOCKET_TIMEOUT": 5},
    }}
    if CACHE_BACKEND == "tiercache":  # the counters of tags, leases, refreshes, per host
        CACHES["default"]["OPTIONS"]["STATS_HOST"] = HOST_NAME
    MIDDLEWARE.append("shop.series.SampleMiddleware")  # the /cache-stats/ charts
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
CACHE_MIDDLEWARE_SECONDS = 300

AUTH_PASSWORD_VALIDATORS = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_L10N = True
USE_TZ = True

# Static files (the admin's CSS) are served by Django itself in this demo (tcshop/urls.py);
# behind a real web server use collectstatic.
STATIC_URL = "/static/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
