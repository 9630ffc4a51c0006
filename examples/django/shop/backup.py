"""The classic cache backup and restore (manage.py cache_backup / cache_restore): walk every key
of the cache's Redis database with SCAN, read it by its TYPE (string, hash, list, set, zset)
with its remaining TTL, and write it back the same way. Plain redis-py calls, so it runs
against tiercache-l2, a sidecar or redis-server alike.

The file is JSON lines, one key each: {"key", "type", "pttl_ms" (-1: no TTL), "value"}, bytes
as base64; a hash is [[field, value], ...], a list or set [member, ...], a sorted set
[[member, score], ...] with the score as repr() text (so inf and every double survive). TTLs
are relative: a key restored later lives as long as it had left when it was backed up. A key
that expires or changes type while it is read is skipped (counted), never half written. Keys
under `__tiercache:` (the sidecars' heartbeats, written every 100 ms and expiring after a
minute) are infrastructure, not the site's data: never backed up.
"""
import base64
import json

TYPES = ("string", "hash", "list", "set", "zset")
RESERVED = b"__tiercache:"
CHUNK = 1000  # elements per write when restoring a large collection


def _b64(b):
    return base64.b64encode(b).decode("ascii")


def _raw(s):
    return base64.b64decode(s.encode("ascii"))


def _read(r, key, kind):
    """The value of key as TYPE said, or None if it went away (or changed type) meanwhile."""
    pipe = r.pipeline(transaction=True)  # value, type and TTL from one moment
    if kind == "string":
        pipe.get(key)
    elif kind == "hash":
        pipe.hgetall(key)
    elif kind == "list":
        pipe.lrange(key, 0, -1)
    elif kind == "set":
        pipe.smembers(key)
    else:
        pipe.zrange(key, 0, -1, withscores=True)
    pipe.type(key)
    pipe.pttl(key)
    value, now_kind, pttl = pipe.execute()
    if (now_kind.decode() if isinstance(now_kind, bytes) else now_kind) != kind:
        return None
    if kind == "string":
        out = _b64(value)
    elif kind == "hash":
        out = [[_b64(f), _b64(v)] for f, v in sorted(value.items())]
    elif kind == "list":
        out = [_b64(v) for v in value]
    elif kind == "set":
        out = [_b64(v) for v in sorted(value)]
    else:
        out = [[_b64(m), repr(float(s))] for m, s in value]
    return out, pttl


def backup(r, out, match=None):
    """Writes every key of r's database (or those matching `match`) to the text stream out.
    Returns {"keys": n, "skipped": n, "<type>": n ...}."""
    counts = dict.fromkeys(("keys", "skipped") + TYPES, 0)
    for key in r.scan_iter(match=match, count=1000):
        if key.startswith(RESERVED):
            continue
        kind = r.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        got = _read(r, key, kind) if kind in TYPES else None
        if got is None:
            counts["skipped"] += 1
            continue
        value, pttl = got
        out.write(json.dumps({"key": _b64(key), "type": kind, "pttl_ms": pttl,
                              "value": value}) + "\n")
        counts["keys"] += 1
        counts[kind] += 1
    return counts


def restore(r, lines, replace=False):
    """Writes back what backup() wrote. An existing key is replaced with replace=True, else left
    as it is (counted as "existing"). Each key is written in one MULTI/EXEC: readers never see
    it half restored. Returns {"keys": n, "existing": n}."""
    counts = {"keys": 0, "existing": 0}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            key, kind, pttl, value = _raw(rec["key"]), rec["type"], rec["pttl_ms"], rec["value"]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError("line %d is not a backup record: %s" % (n, e))
        if kind not in TYPES:
            raise ValueError("line %d: unknown type %r" % (n, kind))
        if not isinstance(pttl, int) or pttl < -1:
            raise ValueError("line %d: pttl_ms must be -1 or a count of milliseconds" % n)
        if pttl == 0 or key.startswith(RESERVED):
            continue  # it had expired; a sidecar's key is never written back
        if not replace and r.exists(key):
            counts["existing"] += 1
            continue
        pipe = r.pipeline(transaction=True)
        pipe.delete(key)
        if kind == "string":
            pipe.set(key, _raw(value))
        elif kind == "hash":
            for i in range(0, len(value), CHUNK):
                pipe.hset(key, mapping={_raw(f): _raw(v) for f, v in value[i:i + CHUNK]})
        elif kind == "list":
            for i in range(0, len(value), CHUNK):
                pipe.rpush(key, *[_raw(v) for v in value[i:i + CHUNK]])
        elif kind == "set":
            for i in range(0, len(value), CHUNK):
                pipe.sadd(key, *[_raw(v) for v in value[i:i + CHUNK]])
        else:
            for i in range(0, len(value), CHUNK):
                pipe.zadd(key, {_raw(m): float(s) for m, s in value[i:i + CHUNK]})
        if pttl > 0:
            pipe.pexpire(key, pttl)
        pipe.execute()
        counts["keys"] += 1
    return counts
