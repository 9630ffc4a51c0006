# The example application of docker/compose.yaml: the Django shop of examples/django under
# gunicorn, Debian's packages only. Its user (10002) is in group 10001 (tiercache), the group of
# the sidecar's socket. Its cache is the sidecar's Unix socket, shared through the
# /run/tiercache volume (TCSHOP_CACHE_LOCATION). Build from the repository root:
#   docker build -f docker/app.Dockerfile -t tiercache-shop .
FROM debian:bookworm-slim
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
COPY examples/django /app
WORKDIR /app
USER shop
EXPOSE 8000
CMD ["python3", "-m", "gunicorn", "--workers", "2", "--bind", "0.0.0.0:8000", "tcshop.wsgi"]
