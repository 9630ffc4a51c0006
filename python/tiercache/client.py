"""A plain-Python tiercache client for code without Django (workers, scripts, other frameworks):
the host's sidecar over its unix socket (redis-py), L1 hits read straight from shared memory
(tiercache._l1), and the same tags, namespaces, leases and get_or_set as the Django backend.

    from tiercache.client import Client
    cache = Client("/run/tiercache/sidecar.sock")
    cache.set("product:1", {...}, 600, tags=["category:3"])
    cache.get("product:1")
    cache.invalidate_tags(["category:3"])
    cache.get_or_set("list:1", load_list, 300, refresh_ahead=0.8, stale_if_error=600)

Keys and values are stored as django-redis stores them (key "<prefix>:<version>:<key>", ints as
digits, everything else pickled), so a Django site and its workers share entries and tags.
Thread-safe as redis-py's client is; one reader of the segment per Client.
"""

import logging
import pickle
import socket
import time

import redis

from tiercache.features import _DEFAULT, MISSING, Features, decode_stored, is_entry

try:
    from tiercache import _l1
except ImportError:  # pragma: no cover - depends on the installation
    _l1 = None

log = logging.getLogger("tiercache")

RETRY_SECONDS = 1.0


class Client(Features):
    def __init__(self, path="/run/tiercache/sidecar.sock", db=0, key_prefix="",
                 default_timeout=300, direct_l1=True, stats_host=None, socket_timeout=5):
        self.conn = redis.Redis(unix_socket_path=path, db=db, socket_timeout=socket_timeout)
        self.db = db
        self.key_prefix = key_prefix
        self.default_timeout = default_timeout
        self._direct = bool(direct_l1) and _l1 is not None
        self._reader = None
        self._retry_at = 0.0
        self._tc_host = stats_host or socket.gethostname()

    # ---- primitives --------------------------------------------------------------------------

    def make_key(self, key, version=None):
        return "%s:%s:%s" % (self.key_prefix, 1 if version is None else version, key)

    _tc_made = make_key

    def _tc_conn(self):
        return self.conn

    def _tc_default_timeout(self):
        return self.default_timeout

    def _tc_encode(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        return value

    @staticmethod
    def decode(raw):
        try:
            return int(raw)
        except (ValueError, TypeError):
            return pickle.loads(raw)

    def _reader_now(self):
        reader = self._reader
        if reader is not None:
            if not reader.detached:
                return reader
            self._reader = None
        if not self._direct or time.monotonic() < self._retry_at:
            return None
        self._retry_at = time.monotonic() + RETRY_SECONDS
        try:
            info = self.conn.info("tiercache")
            name = info.get("l1_segment")
            if name is None:
                self._direct = False  # not a sidecar
                return None
            bound = int(info.get("l1_direct_max_staleness_ms") or 1000)
            self._reader = _l1.Reader(str(name), bound)
        except Exception as e:
            log.warning("tiercache: cannot read L1 directly yet (%s); using the socket", e)
            return None
        return self._reader

    def _tc_raw_many(self, made_keys):
        reader = self._reader_now()
        values = reader.get_many(self.db, made_keys) if reader else [None] * len(made_keys)
        todo = [i for i, v in enumerate(values) if v is None]
        if todo:
            for i, v in zip(todo, self.conn.mget([made_keys[i] for i in todo])):
                values[i] = v
        return values

    def _tc_load(self, made):
        raw = self._tc_raw_many([made])[0]
        return MISSING if raw is None else decode_stored(raw, self.decode)

    # ---- the cache API -----------------------------------------------------------------------

    def get(self, key, default=None, version=None):
        value = self._tc_load(self.make_key(key, version))
        if is_entry(value):
            value = self._tc_open(value)
        return default if value is MISSING else value

    def get_many(self, keys, version=None):
        keys = list(keys)
        raws = self._tc_raw_many([self.make_key(k, version) for k in keys])
        out = {}
        for k, raw in zip(keys, raws):
            if raw is None:
                continue
            v = decode_stored(raw, self.decode)
            if is_entry(v):
                v = self._tc_open(v)
            if v is not MISSING:
                out[k] = v
        return out

    def has_key(self, key, version=None):
        return self.get(key, MISSING, version) is not MISSING

    def set(self, key, value, timeout=_DEFAULT, version=None, tags=None):
        timeout = self._tc_timeout(timeout)
        if tags is not None:
            return self.set_tagged(key, value, timeout, version, tags)
        made = self.make_key(key, version)
        if timeout is None:
            return bool(self.conn.set(made, self._tc_encode(value)))
        return bool(self.conn.set(made, self._tc_encode(value), px=max(1, int(timeout * 1000))))

    def add(self, key, value, timeout=_DEFAULT, version=None):
        timeout = self._tc_timeout(timeout)
        px = None if timeout is None else max(1, int(timeout * 1000))
        return bool(self.conn.set(self.make_key(key, version), self._tc_encode(value), nx=True,
                                  px=px))

    def set_many(self, data, timeout=_DEFAULT, version=None, tags=None):
        timeout = self._tc_timeout(timeout)
        if tags is not None:
            return self.set_many_tagged(data, timeout, version, tags)
        pipe = self.conn.pipeline(transaction=True)
        for k, v in data.items():
            if timeout is None:
                pipe.set(self.make_key(k, version), self._tc_encode(v))
            else:
                pipe.set(self.make_key(k, version), self._tc_encode(v),
                         px=max(1, int(timeout * 1000)))
        pipe.execute()
        return []

    def delete(self, key, version=None):
        return bool(self.conn.delete(self.make_key(key, version)))

    def delete_many(self, keys, version=None):
        keys = [self.make_key(k, version) for k in keys]
        return self.conn.delete(*keys) if keys else 0

    def get_or_set(self, key, default, timeout=_DEFAULT, version=None, **options):
        """See tiercache.features.Features.tc_get_or_set."""
        return self.tc_get_or_set(key, default, self._tc_timeout(timeout), version, **options)

    def close(self):
        self.conn.connection_pool.disconnect()
