# syntax=docker/dockerfile:1
# The example application of docker/compose.yaml: the Django shop of examples/django under
# gunicorn. Its user (10002) is in group 10001 (tiercache), the group of the sidecar's socket
# and L1 segment. Its cache is the sidecar's Unix socket, shared through the /run/tiercache
# volume (TCSHOP_CACHE_LOCATION), with L1 hits read straight from the sidecar's shared memory
# (the sidecar's IPC namespace, see compose.yaml) by tiercache's Django backend. Build from the
# repository root:
#   docker build -f docker/app.Dockerfile -t tiercache-shop .
#
# Stage 1 builds the tiercache Python package (tiercache.django_cache and its C extension) with
# the scripts CI runs; stage 2 is Debian's Python, Django, django-redis and gunicorn plus that
# package.

FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN rm -rf build && TIERCACHE_BUILD_DIR=build BUILD_TYPE=RelWithDebInfo \
      scripts/build.sh -DTIERCACHE_WERROR=ON \
 && cp -r build/python/tiercache /tiercache-python

FROM debian:bookworm-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive PYTHONDONTWRITEBYTECODE=1 DJANGO_SETTINGS_MODULE=tcshop.settings
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 python3-django python3-django-redis \
      python3-redis gunicorn \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tiercache \
 && groupadd --system --gid 10002 shop \
 && useradd --system --uid 10002 --gid shop --groups tiercache --home-dir /nonexistent \
      --shell /usr/sbin/nologin shop \
 && install -d -o shop -g shop /data \
 && install -d -o 10001 -g tiercache -m 0750 /run/tiercache
COPY --from=build /tiercache-python /usr/lib/python3/dist-packages/tiercache
COPY examples/django /app
WORKDIR /app
USER shop
EXPOSE 8000
CMD ["python3", "-m", "gunicorn", "--workers", "2", "--bind", "0.0.0.0:8000", "tcshop.wsgi"]
