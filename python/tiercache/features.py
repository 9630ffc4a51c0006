"""What a cache needs beyond get and set, shared by the Django backend (django_cache.TierCache)
and the plain-Python client (client.Client): tags, versioned namespaces, get_or_set with a
cross-host lease against stampedes, early refresh, fail-safe and timeouts for the factory, and
the counters that show them.

Tags (the lazy version model). Each tag has one version key at the L2,
`tiercache:tag:<tag>`, holding a random 62-bit token. A tagged entry is stored as an envelope
that carries the tokens its tags had *before* its value was computed; a read compares them
with the current tokens (read through L1: direct shared-memory reads, microseconds) and treats
any difference as a miss. Invalidating a tag is one SET of a fresh token, however many keys
carry it; the sidecar broadcasts it, so every host's L1 drops the old token. An evicted token
(L1 or L2) is recreated as a fresh random token (SET NX), which no old entry carries: eviction
can only make entries invalid, never valid again. Tokens are random, not counters, for that
reason (a counter restarted at 1 after an eviction would revive entries stored at 1).

Namespaces. `namespace(name)` keeps a version number at `tiercache:ns:<name>`; its keys are
stored under it. A bump is one script at the L2 (seed if absent, then INCR), so two bumps from
two hosts both count, and the sidecar broadcasts it. An absent version is seeded with the
current time in microseconds, which is above any version a counter seeded earlier can have
reached unless it was bumped more than once per microsecond: eviction never revives old keys.

Envelope: in memory a plain tuple (MARK, value, tag_keys (tuple), tokens (list of bytes),
expires_at, refresh_at); expires_at/refresh_at are wall-clock seconds (None: no expiry / no
early refresh); an envelope may outlive expires_at at the L2 by its stale_if_error window.
Stored as a binary header the direct reader checks without unpickling anything
(l1/tagged_entry.h reads the same layout), then the value encoded as an untagged one is:

  "\x00tcE1"  u8 tag count  f64 expires_at  f64 refresh_at  (NaN: None; little-endian)
  per tag: u16 key length, key (UTF-8), u16 token length, token
  the value's bytes (the cache's serializer and compressor, as for an untagged value)

A tagged get through the reader then costs the untagged get plus a few L1 lookups in C.
"""

import logging
import math
import os
import struct
import threading
import time

from tiercache.lease import Lease

log = logging.getLogger("tiercache")

MARK = "\x00tiercache-entry-1"
MISSING = object()
FRESH, EXPIRED, REJECTED = "fresh", "expired", "rejected"

TAG_PREFIX = "tiercache:tag:"
NS_PREFIX = "tiercache:ns:"
STATS_PREFIX = "tiercache:stats:"
LEASE_PREFIX = "tiercache:lease:"

BUMP = ("if redis.call('exists', KEYS[1]) == 0 then redis.call('set', KEYS[1], ARGV[1]) end "
        "return redis.call('incr', KEYS[1])")

COUNTERS = ["tagged_rejected", "tag_invalidations", "namespace_bumps", "leases_won",
            "leases_waited", "leases_timed_out", "early_refreshes", "stale_answers",
            "factory_runs", "factory_errors", "factory_timeouts"]

FLUSH_SECONDS = 1.0


def new_token():
    return int.from_bytes(os.urandom(8), "big") >> 2


def is_entry(v):
    return type(v) is tuple and len(v) == 6 and v[0] == MARK


ENVELOPE_MAGIC = b"\x00tcE1"
_HEAD = struct.Struct("<5sBdd")
_LEN = struct.Struct("<H")


def pack_envelope(payload, keys, tokens, expires_at, refresh_at):
    """The stored bytes of an envelope whose value encodes to `payload` (bytes, or an int as
    django-redis's encode leaves ints)."""
    if isinstance(payload, int):
        payload = str(payload).encode()
    if len(keys) > 255:
        raise ValueError("tiercache: at most 255 tags per entry, not %d" % len(keys))
    parts = [_HEAD.pack(ENVELOPE_MAGIC, len(keys), math.nan if expires_at is None else expires_at,
                        math.nan if refresh_at is None else refresh_at)]
    for key, token in zip(keys, tokens):
        key = key.encode() if isinstance(key, str) else key
        token = token.encode() if isinstance(token, str) else bytes(token)
        if len(key) > 0xFFFF or len(token) > 0xFFFF:
            raise ValueError("tiercache: a tag key or token over 65535 bytes")
        parts += [_LEN.pack(len(key)), key, _LEN.pack(len(token)), token]
    parts.append(payload)
    return b"".join(parts)


def unpack_envelope(raw, decode):
    """The envelope tuple of stored bytes that start with ENVELOPE_MAGIC (the value decoded with
    `decode`), or MISSING if they are malformed (never served)."""
    try:
        _, n, exp, refresh = _HEAD.unpack_from(raw)
        at, keys, tokens = _HEAD.size, [], []
        for _ in range(n):
            (klen,) = _LEN.unpack_from(raw, at)
            key = raw[at + 2:at + 2 + klen]
            (tlen,) = _LEN.unpack_from(raw, at + 2 + klen)
            token = raw[at + 4 + klen:at + 4 + klen + tlen]
            if len(key) != klen or len(token) != tlen:
                return MISSING
            keys.append(key.decode())
            tokens.append(bytes(token))
            at += 4 + klen + tlen
    except (struct.error, UnicodeDecodeError):
        return MISSING
    return (MARK, decode(raw[at:]), tuple(keys), tokens, None if math.isnan(exp) else exp,
            None if math.isnan(refresh) else refresh)


def decode_stored(raw, decode):
    """A stored value as the cache API sees it: an envelope tuple, or what `decode` makes of
    it."""
    if raw[:5] == ENVELOPE_MAGIC:
        return unpack_envelope(raw, decode)
    return decode(raw)


class TagSnapshot:
    """The tokens of some tags at one moment: take it before reading the data a value is
    computed from, and pass it as set(..., tags=snapshot)."""
    __slots__ = ("keys", "tokens")

    def __init__(self, keys, tokens):
        self.keys, self.tokens = keys, tokens


class Counters:
    """Per-process counts, added to the L2 (INCRBY tiercache:stats:<host>:<name>) at most every
    FLUSH_SECONDS, so `cache_stats` and /cache-stats/ see every process of every host."""

    def __init__(self):
        self.total = dict.fromkeys(COUNTERS, 0)
        self.pending = {}
        self.lock = threading.Lock()
        self.flush_at = 0.0

    def add(self, name, n=1):
        with self.lock:
            self.total[name] += n
            self.pending[name] = self.pending.get(name, 0) + n

    def flush(self, conn, host, force=False):
        now = time.monotonic()
        if not force and (now < self.flush_at or not self.pending):
            return
        with self.lock:
            pending, self.pending = self.pending, {}
            self.flush_at = now + FLUSH_SECONDS
        if not pending:
            return
        try:
            pipe = conn.pipeline(transaction=False)
            for name, n in pending.items():
                pipe.incrby("%s%s:%s" % (STATS_PREFIX, host, name), n)
            pipe.execute()
        except Exception as e:  # counters must never break a request: kept for the next try
            with self.lock:
                for name, n in pending.items():
                    self.pending[name] = self.pending.get(name, 0) + n
            log.debug("tiercache: counters not flushed: %s", e)


COUNTS = Counters()


def read_counters(conn, host):
    """The counters of every process of `host` (as flushed to the L2), as a dict of ints."""
    values = conn.mget(["%s%s:%s" % (STATS_PREFIX, host, n) for n in COUNTERS])
    return {n: int(v or 0) for n, v in zip(COUNTERS, values)}


class Features:
    """Mixed into a cache that provides the primitives below (made keys are final key strings):

      _tc_made(key, version) -> str        _tc_load(made) -> value or MISSING (through L1)
      _tc_raw_many(made_keys) -> [bytes|None] (through L1, undecoded)
      _tc_conn() -> redis.Redis for writes  _tc_encode(value) -> what SET stores
      _tc_default_timeout() -> seconds|None _tc_host -> str (for the counters)
    """

    _tc_refreshing = None

    # ---- tags ------------------------------------------------------------------------------

    def _tc_tag_key(self, tag):
        return self._tc_made(TAG_PREFIX + str(tag), 1)

    def tag_snapshot(self, tags):
        """The current tokens of `tags` (created where absent). Take it before computing."""
        if isinstance(tags, TagSnapshot):
            return tags
        keys = tuple(sorted({self._tc_tag_key(t) for t in tags}))
        for _ in range(5):
            tokens = self._tc_raw_many(list(keys))
            missing = [k for k, t in zip(keys, tokens) if t is None]
            if not missing:
                return TagSnapshot(keys, tuple(tokens))
            conn = self._tc_conn()
            for k in missing:  # first use, or evicted: a token no old entry carries
                conn.set(k, new_token(), nx=True)
        raise RuntimeError("tiercache: tag versions keep disappearing (L2 evicting them?)")

    def invalidate_tags(self, tags):
        """Every entry stored with one of `tags` becomes a miss, on every host: one write per
        tag, however many keys carry it."""
        tags = list(tags)
        if not tags:
            return
        pipe = self._tc_conn().pipeline(transaction=False)
        for t in tags:
            pipe.set(self._tc_tag_key(t), new_token())
        pipe.execute()
        self._tc_count("tag_invalidations", len(tags))

    def _tc_check(self, entry):
        """FRESH, EXPIRED (past expires_at, kept for stale_if_error) or REJECTED (a tag moved)."""
        keys = entry[2]
        if keys and self._tc_raw_many(list(keys)) != entry[3]:
            self._tc_count("tagged_rejected")
            return REJECTED
        exp = entry[4]
        if exp is not None and time.time() >= exp:
            return EXPIRED
        return FRESH

    def _tc_open(self, value):
        """A stored value as a plain get answers it: envelopes opened, invalid ones MISSING."""
        if not is_entry(value):
            return value
        return value[1] if self._tc_check(value) is FRESH else MISSING

    def _tc_envelope(self, value, timeout, tags, refresh_ahead=None):
        snap = self.tag_snapshot(tags) if tags is not None else None
        now = time.time()
        exp = None if timeout is None else now + timeout
        refresh = None if (timeout is None or not refresh_ahead) else now + refresh_ahead * timeout
        return (MARK, value, snap.keys if snap else (), list(snap.tokens) if snap else [], exp,
                refresh)

    def _tc_pack(self, entry):
        """What SET stores for an envelope (see ENVELOPE_MAGIC)."""
        return pack_envelope(self._tc_encode(entry[1]), entry[2], entry[3], entry[4], entry[5])

    def _tc_put(self, made, entry, timeout, extra=0):
        conn = self._tc_conn()
        if timeout is None:
            conn.set(made, self._tc_pack(entry))
        else:
            conn.set(made, self._tc_pack(entry), px=max(1, int((timeout + extra) * 1000)))

    def _tc_timeout(self, timeout):
        return self._tc_default_timeout() if timeout is _DEFAULT else timeout

    def set_tagged(self, key, value, timeout=None, version=None, tags=()):
        timeout = self._tc_timeout(timeout)
        self._tc_put(self._tc_made(key, version), self._tc_envelope(value, timeout, tags), timeout)
        return True

    def set_many_tagged(self, data, timeout=None, version=None, tags=()):
        timeout = self._tc_timeout(timeout)
        snap = self.tag_snapshot(tags)
        conn = self._tc_conn()
        pipe = conn.pipeline(transaction=True)  # one MULTI/EXEC: one invalidation message
        for key, value in data.items():
            entry = self._tc_envelope(value, timeout, snap)
            made = self._tc_made(key, version)
            if timeout is None:
                pipe.set(made, self._tc_pack(entry))
            else:
                pipe.set(made, self._tc_pack(entry), px=max(1, int(timeout * 1000)))
        pipe.execute()
        return []

    # ---- namespaces --------------------------------------------------------------------------

    def namespace(self, name):
        return Namespace(self, name)

    # ---- leases ------------------------------------------------------------------------------

    def lease(self, name, ttl=30.0):
        """A Lease (tiercache.lease) on `name`, held at the L2 by one process of the site."""
        return Lease(self._tc_conn(), name, ttl)

    # ---- get_or_set ----------------------------------------------------------------------------

    def tc_get_or_set(self, key, default, timeout=None, version=None, tags=None,
                      refresh_ahead=None, stale_if_error=None, lease_ttl=None, wait=None,
                      soft_timeout=None, hard_timeout=None):
        """The value of `key`; on a miss one process of the site (the holder of the key's lease
        at the L2) calls `default` (or stores it, if not callable) while the others wait for
        its result (at most `wait` seconds, then compute themselves) or are answered the
        previous value if one is still held.

        refresh_ahead=0.8: a hit in the last 20% of the TTL starts one recomputation (per
        site) in a background thread; everybody is answered the current value meanwhile.
        stale_if_error=S: the value is kept S seconds past its TTL; when the factory raises (or
        passes hard_timeout) in that window the old value is answered (and logged) instead.
        soft_timeout: with an old value at hand, answer it after this long and let the factory
        finish in the background. hard_timeout: stop waiting for the factory after this long
        (TimeoutError, or the old value within stale_if_error); it still finishes in the
        background and stores its result."""
        timeout = self._tc_timeout(timeout)
        factory = default if callable(default) else (lambda: default)
        if refresh_ahead is not None and not 0 < refresh_ahead < 1:
            raise ValueError("refresh_ahead is a fraction of the TTL in (0, 1), not %r"
                             % (refresh_ahead,))
        if lease_ttl is None:
            lease_ttl = max(10.0, 2 * (hard_timeout or 0))
        if wait is None:
            wait = min(lease_ttl, 10.0) + 1.0
        opts = (timeout, tags, refresh_ahead, stale_if_error or 0, soft_timeout, hard_timeout)
        made = self._tc_made(key, version)
        v = self._tc_load(made)
        stale = MISSING
        if v is not MISSING:
            if not is_entry(v):
                return v
            state = self._tc_check(v)
            if state is FRESH:
                if v[5] is not None and time.time() >= v[5]:
                    self._tc_refresh_soon(made, factory, opts, lease_ttl)
                return v[1]
            if state is EXPIRED:
                stale = v
        return self._tc_fill(made, factory, opts, lease_ttl, wait, stale)

    def _tc_fill(self, made, factory, opts, lease_ttl, wait, stale):
        lease = Lease(self._tc_conn(), LEASE_PREFIX + made, lease_ttl)
        deadline = time.monotonic() + wait
        delay = 0.005
        visible = False  # the lease was seen held at the last look
        while True:
            if not visible and lease.try_acquire():
                # the holder before may have stored it and gone since this process looked
                v = self._tc_load(made)
                if v is not MISSING and (not is_entry(v) or self._tc_check(v) is FRESH):
                    lease.release()
                    self._tc_count("leases_waited")
                    return v[1] if is_entry(v) else v
                self._tc_count("leases_won")
                return self._tc_compute(made, factory, opts, stale, lease)
            if stale is not MISSING:  # another process recomputes: the previous value meanwhile
                self._tc_count("stale_answers")
                return stale[1]
            now = time.monotonic()
            if now >= deadline:
                self._tc_count("leases_timed_out")
                log.warning("tiercache: waited %.1fs for the holder of %s; computing here",
                            wait, lease.key)
                return self._tc_compute(made, factory, opts, stale, None)
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 1.5, 0.05)
            v = self._tc_load(made)
            if v is not MISSING:
                if not is_entry(v):
                    self._tc_count("leases_waited")
                    return v
                if self._tc_check(v) is FRESH:
                    self._tc_count("leases_waited")
                    return v[1]
            visible = self._tc_raw_many([lease.key])[0] is not None

    def _tc_compute(self, made, factory, opts, stale, lease, background=False):
        """Run the factory (the tags' tokens taken first), store its value; release the lease
        when done (by whichever thread finishes the factory)."""
        timeout, tags, refresh_ahead, stale_s, soft, hard = opts
        snap = self.tag_snapshot(tags) if tags is not None else None

        def run():
            try:
                value = factory()
            except Exception:
                self._tc_count("factory_errors")
                raise
            finally:
                self._tc_count("factory_runs")
            entry = self._tc_envelope(value, timeout, snap, refresh_ahead)
            self._tc_put(made, entry, timeout, stale_s)
            return value

        if background or (soft is None and hard is None) or (hard is None and stale is MISSING):
            try:
                return run()
            except Exception as e:
                return self._tc_stale_or_raise(made, stale, stale_s, e)
            finally:
                if lease is not None:
                    lease.release()
        return self._tc_run_timed(made, run, stale, stale_s, soft, hard, lease)

    def _tc_run_timed(self, made, run, stale, stale_s, soft, hard, lease):
        box = {}
        guard = threading.Lock()
        done = threading.Event()

        def target():
            try:
                box["value"] = run()
            except BaseException as e:  # noqa: B902 - handed to the waiting thread
                box["error"] = e
            with guard:
                box["finished"] = True
                detached = box.get("detached")
            done.set()
            if not detached:
                return
            if "error" in box:
                log.warning("tiercache: background factory for %s failed: %r", made,
                            box["error"])
            if lease is not None:
                try:
                    lease.release()
                except Exception as e:  # it expires on its own
                    log.warning("tiercache: lease %s not released: %r", lease.key, e)

        threading.Thread(target=target, name="tiercache-factory", daemon=True).start()
        first = soft if (soft is not None and stale is not MISSING) else hard
        done.wait(first)
        with guard:
            finished = box.get("finished")
            if not finished:
                box["detached"] = True
        if finished:
            if lease is not None:
                lease.release()
            if "error" in box:
                return self._tc_stale_or_raise(made, stale, stale_s, box["error"])
            return box["value"]
        self._tc_count("factory_timeouts")
        if first is soft:
            self._tc_count("stale_answers")
            return stale[1]
        return self._tc_stale_or_raise(
            made, stale, stale_s,
            TimeoutError("tiercache: the factory for %s took more than %.3fs" % (made, hard)))

    def _tc_stale_or_raise(self, made, stale, stale_s, error):
        if stale is not MISSING and stale[4] is not None and time.time() < stale[4] + stale_s:
            self._tc_count("stale_answers")
            log.warning("tiercache: answering the value of %s that expired %.1fs ago: the "
                        "factory failed: %r", made, time.time() - stale[4], error)
            return stale[1]
        raise error

    def _tc_refresh_soon(self, made, factory, opts, lease_ttl):
        """Early refresh: at most one try per key and process every so often; the winner of
        the lease (one per site) recomputes in a background thread."""
        if self._tc_refreshing is None:
            self._tc_refreshing = {}
        now = time.monotonic()
        if self._tc_refreshing.get(made, 0.0) > now:
            return
        timeout = opts[0] or 1.0
        self._tc_refreshing[made] = now + min(1.0, 0.05 * timeout)
        if self._tc_raw_many([LEASE_PREFIX + made])[0] is not None:
            return  # somebody is at it

        def target():
            try:
                lease = Lease(self._tc_conn(), LEASE_PREFIX + made, lease_ttl)
                if lease.try_acquire():
                    self._tc_count("early_refreshes")
                    self._tc_compute(made, factory, opts, MISSING, lease, background=True)
            except Exception as e:
                log.warning("tiercache: early refresh of %s failed: %r", made, e)

        threading.Thread(target=target, name="tiercache-refresh", daemon=True).start()

    # ---- counters --------------------------------------------------------------------------

    def _tc_count(self, name, n=1):
        COUNTS.add(name, n)
        try:
            COUNTS.flush(self._tc_conn(), self._tc_host)
        except Exception:
            pass

    def tier_stats(self, flush=True):
        """The counters of every process of this host (as last flushed to the L2)."""
        if flush:
            COUNTS.flush(self._tc_conn(), self._tc_host, force=True)
        return read_counters(self._tc_conn(), self._tc_host)


class _Default:
    def __repr__(self):
        return "DEFAULT_TIMEOUT"


_DEFAULT = _Default()


class Namespace:
    """A family of keys dropped together: `bump()` moves it to a new version (one atomic script
    at the L2), and keys of older versions are never read again (they expire on their own)."""

    def __init__(self, cache, name):
        self.cache, self.name = cache, name
        self.key = cache._tc_made(NS_PREFIX + name, 1)

    def version(self):
        for _ in range(5):
            raw = self.cache._tc_raw_many([self.key])[0]
            if raw is not None:
                return int(raw)
            self.cache._tc_conn().set(self.key, int(time.time() * 1e6), nx=True)
        raise RuntimeError("tiercache: namespace version %s keeps disappearing" % self.key)

    def bump(self):
        v = self.cache._tc_conn().eval(BUMP, 1, self.key, int(time.time() * 1e6))
        self.cache._tc_count("namespace_bumps")
        return int(v)

    def _k(self, key):
        return "%s:%s" % (self.name, key)

    def get(self, key, default=None):
        return self.cache.get(self._k(key), default, version=self.version())

    def set(self, key, value, timeout=_DEFAULT, **kw):
        if timeout is _DEFAULT:
            return self.cache.set(self._k(key), value, version=self.version(), **kw)
        return self.cache.set(self._k(key), value, timeout, version=self.version(), **kw)

    def get_or_set(self, key, default, timeout=_DEFAULT, **kw):
        if timeout is _DEFAULT:
            return self.cache.get_or_set(self._k(key), default, version=self.version(), **kw)
        return self.cache.get_or_set(self._k(key), default, timeout, version=self.version(), **kw)

    def delete(self, key):
        return self.cache.delete(self._k(key), version=self.version())
