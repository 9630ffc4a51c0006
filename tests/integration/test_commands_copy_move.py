"""COPY, MOVE and MEMORY USAGE as redis-server 7.0 answers them (both targets): every reply and
error, each type with its TTL and encoding, and the side effects of a write that may reach
another db: WATCH dirtied there, a client blocked there served, the copy counted in
used_memory. Invalidation messages for COPY/MOVE are in test_client_tracking.py."""

import time

import pytest

from helpers import encode

MiB = 1 << 20


def _fill_all_types(raw):
    raw.cmd("SET", "str", "v")
    raw.cmd("HSET", "hash", "f", "v", "g", "w")
    raw.cmd("RPUSH", "list", "a", "b", "c")
    raw.cmd("SADD", "set", "a", "b")
    raw.cmd("SADD", "iset", "1", "2")
    raw.cmd("ZADD", "zset", "1", "a", "2.5", "b")
    for key in ("str", "hash", "list", "set", "iset", "zset"):
        raw.cmd("PEXPIRE", key, "100000")


def _dump(raw, key):
    """TYPE, the whole value and the encoding of key in the connection's db."""
    kind = raw.cmd("TYPE", key)
    read = {"string": ("GET",), "hash": ("HGETALL",), "list": ("LRANGE", "0", "-1"),
            "set": ("SMEMBERS",), "zset": ("ZRANGE", "0", "-1", "WITHSCORES")}
    if kind == "none":
        return None
    value = raw.cmd(read[kind][0], key, *read[kind][1:])
    if kind in ("hash", "set"):
        value = sorted(value)
    return kind, value, raw.cmd("OBJECT", "ENCODING", key)


ERRORS = [
    (("COPY", "a", "b", "DB", "4294967296"),
     "ERR value is out of range, value must between -2147483648 and 2147483647"),
    (("COPY", "a", "b", "DB", "16"), "ERR DB index is out of range"),
    (("COPY", "a", "b", "DB", "-1"), "ERR DB index is out of range"),
    (("COPY", "a", "b", "DB", "x"), "ERR value is not an integer or out of range"),
    (("COPY", "a", "b", "DB"), "ERR syntax error"),
    (("COPY", "a", "b", "foo"), "ERR syntax error"),
    (("COPY", "a", "b", "foo", "DB", "99"), "ERR syntax error"),
    (("COPY", "a", "b", "DB", "99", "foo"), "ERR DB index is out of range"),
    (("COPY", "a", "a"), "ERR source and destination objects are the same"),
    (("COPY", "a", "a", "DB", "0"), "ERR source and destination objects are the same"),
    (("COPY", "nokey", "nokey"), "ERR source and destination objects are the same"),
    (("COPY", "a"), "ERR wrong number of arguments for 'copy' command"),
    (("MOVE", "a", "4294967296"),
     "ERR value is out of range, value must between -2147483648 and 2147483647"),
    (("MOVE", "a", "16"), "ERR DB index is out of range"),
    (("MOVE", "a", "0"), "ERR source and destination objects are the same"),
    (("MOVE", "nokey", "0"), "ERR source and destination objects are the same"),
    (("MOVE", "a", "x"), "ERR value is not an integer or out of range"),
    (("MOVE", "a"), "ERR wrong number of arguments for 'move' command"),
    (("MOVE", "a", "1", "x"), "ERR wrong number of arguments for 'move' command"),
    (("MEMORY", "USAGE"), "ERR wrong number of arguments for 'memory|usage' command"),
    (("MEMORY", "USAGE", "a", "SAMPLES"), "ERR syntax error"),
    (("MEMORY", "USAGE", "a", "SAMPLES", "-1"), "ERR syntax error"),
    (("MEMORY", "USAGE", "a", "SAMPLES", "x"), "ERR value is not an integer or out of range"),
    (("MEMORY", "USAGE", "a", "foo"), "ERR syntax error"),
    (("MEMORY", "USAGE", "nokey", "SAMPLES", "-1"), "ERR syntax error"),
    (("MEMORY", "foo"), "ERR unknown subcommand 'foo'. Try MEMORY HELP."),
    (("MEMORY",), "ERR wrong number of arguments for 'memory' command"),
    (("MEMORY", "HELP", "x"), "ERR wrong number of arguments for 'memory|help' command"),
    (("MEMORY", "PURGE", "x"), "ERR wrong number of arguments for 'memory|purge' command"),
    (("OBJECT", "HELP", "x"), "ERR wrong number of arguments for 'object|help' command"),
    (("OBJECT", "FREQ", "a"), "ERR An LFU maxmemory policy is not selected, access frequency "
     "not tracked. Please note that when switching between policies at runtime LRU and LFU "
     "data will take some time to adjust."),
]


@pytest.mark.parametrize("args,err", ERRORS, ids=lambda a: " ".join(a) if isinstance(a, tuple) else "")
def test_errors(raw, args, err):
    raw.cmd("SET", "a", "1")
    assert raw.cmd(*args) == err
    assert raw.cmd("GET", "a") == b"1"


def test_replies_for_missing_and_existing_keys(raw):
    raw.cmd("SET", "a", "1")
    raw.cmd("SET", "b", "2")
    assert raw.cmd("COPY", "nokey", "c") == 0
    assert raw.cmd("COPY", "a", "b") == 0  # exists, no REPLACE
    assert raw.cmd("GET", "b") == b"2"
    assert raw.cmd("COPY", "a", "b", "REPLACE", "REPLACE") == 1
    assert raw.cmd("GET", "b") == b"1"
    assert raw.cmd("COPY", "a", "a", "DB", "1") == 1  # same name, other db
    assert raw.cmd("COPY", "a", "a", "DB", "1") == 0
    assert raw.cmd("COPY", "a", "a", "db", "1", "replace") == 1
    assert raw.cmd("MOVE", "nokey", "1") == 0
    assert raw.cmd("MOVE", "a", "1") == 0  # db 1 holds a
    assert raw.cmd("GET", "a") == b"1"
    assert raw.cmd("MOVE", "b", "1") == 1
    assert raw.cmd("EXISTS", "b") == 0
    assert raw.cmd("SELECT", "1") == "OK"
    assert raw.cmd("MGET", "a", "b") == [b"1", b"1"]
    assert raw.cmd("MEMORY", "USAGE", "nokey") is None


def test_copy_every_type_with_ttl_and_encoding(raw):
    _fill_all_types(raw)
    raw.cmd("SET", "int", "12345")
    raw.cmd("SET", "long", "x" * 100)
    for key in ("str", "hash", "list", "set", "iset", "zset", "int", "long"):
        before = _dump(raw, key)
        assert raw.cmd("COPY", key, key + ":c") == 1
        assert _dump(raw, key + ":c") == before, key
        assert raw.cmd("PEXPIRETIME", key + ":c") == raw.cmd("PEXPIRETIME", key)
        assert raw.cmd("TTL", key + ":c") == (-1 if key in ("int", "long") else 100)
        assert raw.cmd("COPY", key, key, "DB", "2") == 1
    raw.cmd("SELECT", "2")
    for key in ("str", "hash", "list", "set", "iset", "zset"):
        assert raw.cmd("TTL", key) > 0
    assert raw.cmd("DBSIZE") == 8


def test_copy_is_independent_of_its_source(raw):
    raw.cmd("HSET", "h", "f", "v")
    raw.cmd("ZADD", "z", *[x for i in range(200) for x in (str(i), "m%d" % i)])  # skiplist
    raw.cmd("RPUSH", "l", "a")
    assert raw.cmd("COPY", "h", "h2") == 1
    assert raw.cmd("COPY", "z", "z2") == 1
    assert raw.cmd("COPY", "l", "l2") == 1
    raw.cmd("HSET", "h2", "f", "changed")
    raw.cmd("ZREM", "z2", *["m%d" % i for i in range(150)])
    raw.cmd("ZADD", "z2", "1000", "m0")
    raw.cmd("LPUSH", "l2", "b")
    raw.cmd("DEL", "z")
    assert raw.cmd("HGET", "h", "f") == b"v"
    assert raw.cmd("LRANGE", "l", "0", "-1") == [b"a"]
    assert raw.cmd("ZCARD", "z2") == 51
    assert raw.cmd("ZRANGE", "z2", "-1", "-1", "WITHSCORES") == [b"m0", b"1000"]
    assert raw.cmd("ZRANK", "z2", "m150") == 0


def test_copy_keeps_the_general_encoding_of_a_shrunk_collection(raw):
    """Redis duplicates in the same encoding: a hashtable stays one, however small."""
    raw.cmd("HSET", "h", "f", "x" * 100)
    raw.cmd("HSET", "h", "f", "v")
    raw.cmd("ZADD", "z", "1", "y" * 100)
    raw.cmd("ZADD", "z", "2", "b")
    raw.cmd("ZREM", "z", "y" * 100)
    raw.cmd("SADD", "s", "a")
    raw.cmd("SREM", "s", "a")  # gone
    raw.cmd("SADD", "s", "text", "1")
    raw.cmd("SREM", "s", "text")
    for key, enc in (("h", b"hashtable"), ("z", b"skiplist"), ("s", b"hashtable")):
        assert raw.cmd("OBJECT", "ENCODING", key) == enc
        assert raw.cmd("COPY", key, key + "2") == 1
        assert raw.cmd("OBJECT", "ENCODING", key + "2") == enc, key


def test_copy_replace_over_another_type_and_expired_keys(raw):
    raw.cmd("RPUSH", "l", "a", "b")
    raw.cmd("SET", "s", "v")
    assert raw.cmd("COPY", "l", "s") == 0
    assert raw.cmd("TYPE", "s") == "string"
    assert raw.cmd("COPY", "l", "s", "REPLACE") == 1
    assert raw.cmd("TYPE", "s") == "list"
    assert raw.cmd("TTL", "s") == -1
    raw.cmd("SET", "gone", "v", "PX", "1")
    raw.cmd("SET", "old", "v", "PX", "1")
    time.sleep(0.05)
    assert raw.cmd("COPY", "gone", "x") == 0
    assert raw.cmd("COPY", "l", "old") == 1  # an expired destination does not exist
    assert raw.cmd("MOVE", "gone", "1") == 0


def test_move_every_type_with_ttl(raw):
    _fill_all_types(raw)
    dumps = {k: _dump(raw, k) for k in ("str", "hash", "list", "set", "iset", "zset")}
    ttls = {k: raw.cmd("PTTL", k) for k in dumps}
    for key in dumps:
        assert raw.cmd("MOVE", key, "3") == 1
        assert raw.cmd("EXISTS", key) == 0
    raw.cmd("SELECT", "3")
    for key, d in dumps.items():
        assert _dump(raw, key) == d, key
        assert 0 < raw.cmd("PTTL", key) <= ttls[key]
    assert raw.cmd("DBSIZE") == 6
    raw.cmd("SELECT", "0")
    assert raw.cmd("DBSIZE") == 0


def test_watch_is_dirtied_in_the_destination_db(server, raw):
    raw.cmd("SET", "k", "v")
    raw.cmd("SET", "src", "v")
    for write in (("MOVE", "k", "1"), ("COPY", "src", "c", "DB", "1")):
        watcher = server.raw()
        assert watcher.cmd("SELECT", "1") == "OK"
        key = write[1] if write[0] == "MOVE" else "c"
        assert watcher.cmd("WATCH", key) == "OK"
        assert raw.cmd(*write) == 1
        assert watcher.cmd("MULTI") == "OK"
        assert watcher.cmd("SET", key, "mine") == "QUEUED"
        assert watcher.cmd("EXEC") is None, write
        watcher.close()
    # ... and a MOVE dirties the source key in the client's db
    raw.cmd("SET", "m", "v")
    watcher = server.raw()
    assert watcher.cmd("WATCH", "m") == "OK"
    assert raw.cmd("MOVE", "m", "2") == 1
    assert watcher.cmd("MULTI") == "OK"
    assert watcher.cmd("GET", "m") == "QUEUED"
    assert watcher.cmd("EXEC") is None


def test_watch_on_a_key_a_failed_move_did_not_touch_in_the_other_db(server, raw):
    raw.cmd("SET", "k", "v")
    watcher = server.raw()
    watcher.cmd("SELECT", "1")
    assert watcher.cmd("WATCH", "k") == "OK"
    assert raw.cmd("COPY", "nokey", "k", "DB", "1") == 0
    assert raw.cmd("MOVE", "nokey", "1") == 0
    assert watcher.cmd("MULTI") == "OK"
    assert watcher.cmd("GET", "k") == "QUEUED"
    assert watcher.cmd("EXEC") == [None]


def _blpop_in(server, db, key):
    c = server.raw()
    assert c.cmd("SELECT", str(db)) == "OK"
    c.send(encode("BLPOP", key, "10"))
    return c


def _wait_blocked(raw, n):
    deadline = time.monotonic() + 5
    while raw.cmd("INFO", "clients").count(b"blocked_clients:%d" % n) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_blocked_clients_are_served_by_copy_and_move(server, raw):
    raw.cmd("RPUSH", "src", "a", "b")
    moved = _blpop_in(server, 1, "src")
    copied = _blpop_in(server, 0, "dst")
    copied_db = _blpop_in(server, 2, "dst")
    _wait_blocked(raw, 3)
    assert raw.cmd("COPY", "src", "dst") == 1
    assert copied.read_reply() == [b"dst", b"a"]
    assert raw.cmd("COPY", "src", "dst", "DB", "2") == 1
    assert copied_db.read_reply() == [b"dst", b"a"]
    assert raw.cmd("MOVE", "src", "1") == 1
    assert moved.read_reply() == [b"src", b"a"]
    assert raw.cmd("LRANGE", "dst", "0", "-1") == [b"b"]
    raw.cmd("SELECT", "1")
    assert raw.cmd("LRANGE", "src", "0", "-1") == [b"b"]


def test_used_memory_counts_the_copy_and_maxmemory_refuses_it(server_factory):
    s = server_factory(maxmemory=8 * MiB, maxmemory_policy="noeviction")
    raw = s.raw()
    n = 20000
    for start in range(0, n, 1000):
        raw.cmd("HSET", "h", *[x for i in range(start, start + 1000)
                               for x in ("field-%08d-%s" % (i, "p" * 20), "value")])
    base = s.info("memory")["used_memory"]
    assert raw.cmd("COPY", "h", "h2") == 1
    grown = s.info("memory")["used_memory"]
    assert grown - base >= n * 37, (base, grown)
    # Fill up to the bound: a COPY is then refused (denyoom), as any growing write
    reply = 1
    i = 0
    while reply == 1 and i < 20:
        reply = raw.cmd("COPY", "h", "h-%d" % i)
        i += 1
    assert reply == "OOM command not allowed when used memory > 'maxmemory'."
    assert raw.cmd("MOVE", "h2", "1") == 1  # allowed: not denyoom
    assert raw.cmd("DEL", "h2") == 0


def test_memory_usage_grows_with_the_value(raw):
    for kind, add in (("str", lambda k, i: raw.cmd("APPEND", k, "x" * 100)),
                      ("hash", lambda k, i: raw.cmd("HSET", k, "field-%d" % i, "v" * 20)),
                      ("list", lambda k, i: raw.cmd("RPUSH", k, "element-%d" % i + "e" * 20)),
                      ("set", lambda k, i: raw.cmd("SADD", k, "member-%d" % i + "m" * 20)),
                      ("intset", lambda k, i: raw.cmd("SADD", k, str(i))),
                      ("zset", lambda k, i: raw.cmd("ZADD", k, str(i), "member-%d" % i))):
        sizes = []
        for i in range(1000):
            add(kind, i)
            if i in (0, 9, 99, 999):
                sizes.append(raw.cmd("MEMORY", "USAGE", kind))
        assert all(isinstance(x, int) and x > 0 for x in sizes), (kind, sizes)
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1], (kind, sizes)
        assert sizes[-1] >= 1000 * 2, (kind, sizes)  # at least the elements' bytes
        exact = raw.cmd("MEMORY", "USAGE", kind, "SAMPLES", "0")
        assert 0.5 * exact <= sizes[-1] <= 2 * exact, (kind, sizes[-1], exact)
        assert raw.cmd("MEMORY", "USAGE", kind, "samples", "1", "SAMPLES", "5") > 0


def test_object_refcount_and_help(raw):
    raw.cmd("SET", "small", "100")
    raw.cmd("SET", "big", "100000")
    raw.cmd("SET", "s", "abc")
    raw.cmd("RPUSH", "l", "a")
    assert raw.cmd("OBJECT", "REFCOUNT", "small") == 2147483647  # a shared integer
    assert raw.cmd("OBJECT", "REFCOUNT", "big") == 1
    assert raw.cmd("OBJECT", "REFCOUNT", "s") == 1
    assert raw.cmd("OBJECT", "REFCOUNT", "l") == 1
    assert raw.cmd("OBJECT", "REFCOUNT", "nokey") is None
    assert raw.cmd("OBJECT", "IDLETIME", "nokey") is None
    assert raw.cmd("OBJECT", "FREQ", "nokey") is None
    assert isinstance(raw.cmd("OBJECT", "IDLETIME", "l"), int)
    lines = raw.cmd("OBJECT", "HELP")
    assert len(lines) == 15
    assert lines[0] == "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert [lines[i] for i in (1, 4, 7, 10, 13)] == [
        "ENCODING <key>", "FREQ <key>", "IDLETIME <key>", "REFCOUNT <key>", "HELP"]
    assert lines[-1] == "    Prints this help."
    lines = raw.cmd("MEMORY", "HELP")
    assert lines[0] == "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert lines[-2:] == ["HELP", "    Prints this help."]
    usage = lines.index("USAGE <key> [SAMPLES <count>]")
    assert lines[usage + 1:usage + 3] == [
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all)."]
    assert raw.cmd("MEMORY", "PURGE") == "OK"


def test_copy_and_move_inside_multi_and_scripts(raw):
    raw.cmd("SET", "a", "1")
    assert raw.cmd("MULTI") == "OK"
    assert raw.cmd("COPY", "a", "b") == "QUEUED"
    assert raw.cmd("MOVE", "b", "1") == "QUEUED"
    assert raw.cmd("COPY", "a", "a") == "QUEUED"
    assert raw.cmd("EXEC") == [1, 1, "ERR source and destination objects are the same"]
    assert raw.cmd("EVAL", "return redis.call('COPY', KEYS[1], KEYS[2], 'DB', '1')", "2",
                   "a", "c") == 1
    assert raw.cmd("EVAL", "return redis.call('MOVE', KEYS[1], ARGV[1])", "1", "a", "1") == 1
    assert raw.cmd("EVAL", "return redis.call('MOVE', KEYS[1], ARGV[1])", "1", "b", "1") == 0
    raw.cmd("SELECT", "1")
    assert raw.cmd("MGET", "a", "b", "c") == [b"1", b"1", b"1"]
