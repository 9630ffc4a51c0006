"""A Django cache backend for tiercache: django-redis to the host's sidecar, plus direct reads
of the sidecar's shared-memory L1.

    CACHES = {"default": {
        "BACKEND": "tiercache.django_cache.TierCache",
        "LOCATION": "unix:///run/tiercache/sidecar.sock?db=0",
        "OPTIONS": {...},   # any django-redis option, plus the two below
    }}

It is django-redis's RedisCache in every respect but one: get, get_many and has_key first look
the key up in the sidecar's L1 segment (/dev/shm/tiercache-<name>) from this process, with the
sidecar's own lock-free reader (tiercache._l1), and go to the sidecar's socket only on a miss.
A hit costs about a microsecond plus unpickling instead of a socket round trip, and so does
a key the sidecar recently found absent at the L2 (a negative entry, --l1-negative): get
answers the default, has_key False, get_many leaves it out, without the socket. Writes,
deletes, incr, locks and everything else go through the socket as before, so the sidecar still
broadcasts every invalidation and drops the local copy before it acknowledges a write.

When a direct read may not be served, it misses and the socket answers. The sidecar vouches
for the segment each time one of its own messages comes back on the invalidation bus (the bus
is ordered, so every invalidation published before it has been applied); a direct read hits
only while that happened within the sidecar's bus timeout, so a sidecar that died, hangs, is
restarting or whose bus is behind stops direct hits within that time, as it stops its own. A
segment replaced under its name is opened again. The segment's name and the time bound come
from the sidecar's INFO, asked once per process.

OPTIONS:
    DIRECT_L1                  True/False; default True when LOCATION is a single unix:// socket
                               (the sidecar is on this host), else False
    DIRECT_L1_MAX_STALENESS_MS trust L1 for at most this long after the sidecar last vouched
                               for it; default (and upper bound): the sidecar's
                               l1_direct_max_staleness_ms

Direct reads need django-redis's DefaultClient (the default CLIENT_CLASS): other client classes
store values in their own way (HerdClient packs them), so with those the backend is plain
django-redis.

If the extension cannot be imported or the segment cannot be opened (permissions: the sidecar's
--shm-mode), the backend logs one warning and behaves exactly like django-redis, trying again
every second.

Beyond django-redis (tiercache.features; docs/django.md, "Tags, namespaces, stampedes"):

    cache.set(key, value, timeout, tags=["category:3"])      set_many(..., tags=[...])
    cache.invalidate_tags(["category:3"])                    one write per tag, every host
    cache.get_or_set(key, factory, timeout, tags=None, refresh_ahead=None, stale_if_error=None,
                     lease_ttl=None, wait=None, soft_timeout=None, hard_timeout=None)
    cache.namespace("catalog").get/set/get_or_set/delete/bump/version
    cache.lease(name, ttl)                                   a lock held at the L2
    cache.tier_stats()                                       this host's counters

OPTIONS: STATS_HOST, the name the counters are kept under (default: the machine's host name).
"""

import logging
import re
import socket
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django_redis.cache import RedisCache
from django_redis.client import DefaultClient

from tiercache.features import MISSING, Features, decode_stored, is_entry

try:
    from tiercache import _l1
except ImportError as e:  # pragma: no cover - depends on the installation
    _l1 = None
    _IMPORT_ERROR = e

log = logging.getLogger("tiercache")

RETRY_SECONDS = 1.0
# What the reader answers for a key L1 knows to be absent (a negative entry).
_ABSENT = object()
# What get_checked answers for a tagged entry whose tag tokens it could not all confirm in L1.
_REJECTED = object()
# A segment that has not been served from this long is given up and the sidecar asked again
# (it may have been restarted under another --shm-name).
REASK_SECONDS = 5.0


class TierCache(Features, RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        options = params.get("OPTIONS", {})
        servers = server if isinstance(server, (list, tuple)) else re.split(r"[;,]", server)
        direct = options.get("DIRECT_L1")
        if direct is None:
            direct = len(servers) == 1 and servers[0].startswith("unix://")
        self._direct = bool(direct)
        self._max_staleness_ms = options.get("DIRECT_L1_MAX_STALENESS_MS")
        if self._max_staleness_ms is not None and (
                isinstance(self._max_staleness_ms, bool)
                or not isinstance(self._max_staleness_ms, int) or self._max_staleness_ms < 1):
            raise ValueError("DIRECT_L1_MAX_STALENESS_MS must be a positive integer (ms), not %r"
                             % (self._max_staleness_ms,))
        self._reader = None
        self._db = 0
        self._retry_at = 0.0
        self._check_at = 0.0
        self._unserved_since = None
        self._warned = None
        self._tc_host = str(options.get("STATS_HOST") or socket.gethostname())
        if self._direct and _l1 is None:
            log.warning("tiercache: direct L1 reads off, the extension is missing: %s",
                        _IMPORT_ERROR)
            self._direct = False

    @property
    def client(self):
        """django-redis's client, its decode taught the stored envelope of a tagged value
        (every read path of RedisCache decodes through it)."""
        client = self._client
        if client is None:
            client = RedisCache.client.fget(self)
            plain = self._plain_decode = client.decode
            client.decode = lambda value: (decode_stored(value, plain) if type(value) is bytes
                                           else plain(value))
        return client

    # ---- direct reads ---------------------------------------------------------------------

    def _attach(self):
        """Opens the sidecar's segment (at most every RETRY_SECONDS); None if not possible."""
        now = time.monotonic()
        if now < self._retry_at:
            return None
        self._retry_at = now + RETRY_SECONDS
        if type(self.client) is not DefaultClient:
            self._warn("direct L1 reads need django_redis.client.DefaultClient, not %s"
                       % type(self.client).__name__)
            self._direct = False
            return None
        try:
            conn = self.client.get_client(write=False)
            info = conn.info("tiercache")
            name = info.get("l1_segment")
            if name is None:
                self._warn("the server at %s is not a tiercache sidecar" % self._server)
                self._direct = False
                return None
            bound = int(info.get("l1_direct_max_staleness_ms") or 1000)
            staleness = min(self._max_staleness_ms or bound, bound)
            reader = _l1.Reader(str(name), staleness)
            db = int(conn.connection_pool.connection_kwargs.get("db") or 0)
        except Exception as e:  # the socket path keeps working; say why once
            self._warn("cannot read L1 directly yet (%s); using the socket" % e)
            return None
        self._reader, self._db, self._warned, self._unserved_since = reader, db, None, None
        log.info("tiercache: reading L1 segment %r (db %d) directly", str(name), db)
        return reader

    def _warn(self, message):
        if message != self._warned:
            log.warning("tiercache: %s", message)
            self._warned = message

    def _direct_reader(self):
        reader = self._reader
        if reader is None and self._direct:
            reader = self._attach()
        return reader

    def _after_miss(self, reader):
        """While direct reads cannot hit, check (at most every RETRY_SECONDS) whether the
        segment was replaced under its name (a sidecar restarted with other sizes, or the file
        removed), and give it up after REASK_SECONDS without service (the sidecar may have been
        restarted under another name): then ask the sidecar and open a segment again."""
        if reader.serving:
            self._unserved_since = None
            return
        now = time.monotonic()
        if self._unserved_since is None:
            self._unserved_since = now
        if now >= self._check_at:
            self._check_at = now + RETRY_SECONDS
            if reader.detached or now - self._unserved_since >= REASK_SECONDS:
                self._reader = None
                self._retry_at = 0.0

    # ---- primitives for tiercache.features -----------------------------------------------

    def _tc_made(self, key, version):
        return self.client.make_key(key, version=version)

    def _tc_conn(self):
        return self.client.get_client(write=True)

    def _tc_encode(self, value):
        return self.client.encode(value)

    def _tc_default_timeout(self):
        return self.default_timeout

    def _resolve_timeout(self, timeout):
        return self.default_timeout if timeout is DEFAULT_TIMEOUT else timeout

    def _tc_raw_many(self, made_keys):
        """Undecoded values (None for absent): L1 directly, the socket for what it lacks."""
        reader = self._reader or self._direct_reader()
        if reader is not None:
            values = reader.get_many(self._db, made_keys, _ABSENT)
            if None not in values:
                return [None if v is _ABSENT else v for v in values]
            self._after_miss(reader)
        else:
            values = [None] * len(made_keys)
        todo = [i for i, v in enumerate(values) if v is None]
        got = self.client.get_client(write=False).mget([made_keys[i] for i in todo])
        for i, v in zip(todo, got):
            values[i] = v
        return [None if v is _ABSENT else v for v in values]

    def _tc_load(self, made):
        reader = self._reader or self._direct_reader()
        if reader is not None:
            value = reader.get(self._db, made, _ABSENT)
            if value is _ABSENT:
                return MISSING
            if value is not None:
                return self.client.decode(value)
            self._after_miss(reader)
        value = self.client.get_client(write=False).get(made)
        return MISSING if value is None else self.client.decode(value)

    # ---- the read API -----------------------------------------------------------------------

    def get(self, key, default=None, version=None, client=None):
        reader = self._reader or self._direct_reader()
        if reader is not None and client is None:
            raw = reader.get_checked(self._db, self.client.make_key(key, version=version),
                                     _ABSENT, _REJECTED)
            if raw is _ABSENT:  # a negative entry: known absent, no socket
                return default
            if type(raw) is tuple:  # a tagged entry whose tag tokens all hold in L1 (hot path)
                payload, expires_at = raw
                if expires_at is not None and time.time() >= expires_at:
                    return default
                return self._plain_decode(payload)
            if raw is None:
                self._after_miss(reader)
            elif raw is not _REJECTED:
                value = self._plain_decode(raw)
                if is_entry(value):  # an entry pickled whole, as older tiercache wrote them
                    value = self._tc_open(value)
                    return default if value is MISSING else value
                return value
            # else a tag moved, or its token is not in L1: the socket path checks and counts
        value = super().get(key, default=MISSING, version=version, client=client)
        if is_entry(value):
            value = self._tc_open(value)
        return default if value is MISSING else value

    def get_many(self, keys, version=None, client=None):
        out = self._get_many_plain(keys, version, client)
        for k, v in list(out.items()):
            if is_entry(v):
                v = self._tc_open(v)
                if v is MISSING:
                    del out[k]
                else:
                    out[k] = v
        return out

    def _get_many_plain(self, keys, version=None, client=None):
        reader = self._reader or self._direct_reader()
        if reader is None or client is not None:
            return super().get_many(keys, version=version, client=client)
        keys = list(keys)
        make_key, decode = self.client.make_key, self.client.decode
        values = reader.get_many(self._db, [make_key(k, version=version) for k in keys], _ABSENT)
        found = {k: v for k, v in zip(keys, values) if v is not None and v is not _ABSENT}
        unknown = [k for k, v in zip(keys, values) if v is None]
        if unknown:
            self._after_miss(reader)
            rest = super().get_many(unknown, version=version)
        else:
            rest = {}
        out = {}
        for k in keys:  # in the order asked, as django-redis answers
            if k in found:
                out[k] = decode(found[k])
            elif k in rest:
                out[k] = rest[k]
        return out

    def has_key(self, key, version=None, client=None):
        return self.get(key, MISSING, version=version, client=client) is not MISSING

    # ---- the write API with tags ---------------------------------------------------------

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None, client=None, nx=False,
            xx=False, tags=None):
        if tags is None:
            return super().set(key, value, timeout=timeout, version=version, client=client,
                               nx=nx, xx=xx)
        if nx or xx or client is not None:
            raise ValueError("tiercache: tags cannot be combined with nx, xx or client")
        timeout = self._resolve_timeout(timeout)
        if timeout is not None and timeout <= 0:
            return self.delete(key, version=version)
        return self.set_tagged(key, value, timeout, version, tags)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None, client=None, tags=None):
        if tags is None:
            return super().set_many(data, timeout=timeout, version=version, client=client)
        timeout = self._resolve_timeout(timeout)
        return self.set_many_tagged(data, timeout, version, tags)

    def get_or_set(self, key, default, timeout=DEFAULT_TIMEOUT, version=None, client=None,
                   **options):
        """Django's get_or_set with stampede protection across hosts (a lease at the L2), and
        tags, refresh_ahead, stale_if_error, soft_timeout, hard_timeout, lease_ttl, wait:
        see tiercache.features.Features.tc_get_or_set."""
        return self.tc_get_or_set(key, default, self._resolve_timeout(timeout), version,
                                  **options)
