"""The type-aware generic commands over every type: TYPE, SCAN ... TYPE, RENAME, OBJECT
ENCODING, DEL/EXISTS/EXPIRE, memory accounting and eviction of collections (both targets)."""

import time

import pytest

MiB = 1 << 20


def _fill_all_types(raw):
    raw.cmd("SET", "str", "v")
    raw.cmd("HSET", "hash", "f", "v")
    raw.cmd("RPUSH", "list", "a")
    raw.cmd("SADD", "set", "a")
    raw.cmd("ZADD", "zset", "1", "a")


def test_type_and_scan_type(raw):
    _fill_all_types(raw)
    for key, kind in (("str", "string"), ("hash", "hash"), ("list", "list"), ("set", "set"),
                      ("zset", "zset"), ("nokey", "none")):
        assert raw.cmd("TYPE", key) == kind
    for kind in ("string", "hash", "list", "set", "zset"):
        cursor, keys = b"0", []
        while True:
            cursor, batch = raw.cmd("SCAN", cursor, "TYPE", kind, "COUNT", "100")
            keys += batch
            if cursor == b"0":
                break
        assert keys == [{"string": b"str"}.get(kind, kind.encode())], kind
    assert raw.cmd("EXISTS", "str", "hash", "list", "set", "zset", "nokey") == 5
    assert raw.cmd("DEL", "hash", "list") == 2
    assert raw.cmd("UNLINK", "set", "zset") == 2
    assert raw.cmd("DBSIZE") == 1


def test_rename_keeps_value_and_ttl(raw):
    raw.cmd("HSET", "h", "f", "v")
    raw.cmd("EXPIRE", "h", "100")
    raw.cmd("RPUSH", "other", "x")
    assert raw.cmd("RENAME", "h", "other") == "OK"
    assert raw.cmd("TYPE", "other") == "hash"
    assert raw.cmd("HGET", "other", "f") == b"v"
    assert 98 <= raw.cmd("TTL", "other") <= 100
    assert raw.cmd("EXISTS", "h") == 0
    raw.cmd("ZADD", "z", "1", "a")
    assert raw.cmd("RENAMENX", "z", "other") == 0
    assert raw.cmd("RENAMENX", "z", "z2") == 1
    assert raw.cmd("ZSCORE", "z2", "a") == b"1"


def test_expiry_over_types(raw):
    _fill_all_types(raw)
    for key in ("hash", "list", "set", "zset"):
        assert raw.cmd("PEXPIRE", key, "50") == 1
    time.sleep(0.2)
    for key in ("hash", "list", "set", "zset"):
        assert raw.cmd("EXISTS", key) == 0, key
    assert raw.cmd("HGET", "hash", "f") is None
    assert raw.cmd("LLEN", "list") == 0


def test_object_encoding_and_errors(raw):
    _fill_all_types(raw)
    raw.cmd("SET", "num", "12345")
    raw.cmd("SET", "long", "x" * 50)
    assert raw.cmd("OBJECT", "ENCODING", "str") == b"embstr"
    assert raw.cmd("OBJECT", "ENCODING", "num") == b"int"
    assert raw.cmd("OBJECT", "ENCODING", "long") == b"raw"
    assert raw.cmd("OBJECT", "ENCODING", "set") == b"hashtable"
    assert raw.cmd("OBJECT", "ENCODING", "nokey") is None
    assert raw.cmd("OBJECT", "REFCOUNT", "hash") == 1
    assert raw.cmd("OBJECT", "FOO", "x") == "ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    assert raw.cmd("OBJECT", "ENCODING") == \
        "ERR wrong number of arguments for 'object|encoding' command"


@pytest.mark.parametrize("kind", ["hash", "list", "set", "zset"])
def test_used_memory_follows_collections(server, raw, kind):
    base = server.info("memory")["used_memory"]
    n = 20000
    for start in range(0, n, 1000):
        members = ["member-%08d-%s" % (i, "p" * 20) for i in range(start, start + 1000)]
        if kind == "hash":
            raw.cmd("HSET", "k", *[x for m in members for x in (m, "value")])
        elif kind == "list":
            raw.cmd("RPUSH", "k", *members)
        elif kind == "set":
            raw.cmd("SADD", "k", *members)
        else:
            raw.cmd("ZADD", "k", *[x for i, m in enumerate(members) for x in (str(i), m)])
    grown = server.info("memory")["used_memory"]
    # at least the member bytes are accounted, and the overhead per member stays sane
    assert grown - base >= n * 37, (kind, base, grown)
    assert grown - base <= n * 400, (kind, base, grown)
    raw.cmd("DEL", "k")
    freed = server.info("memory")["used_memory"]
    assert freed - base < 256 << 10, (kind, base, grown, freed)


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-random", "volatile-ttl"])
def test_eviction_removes_collections(server_factory, policy):
    s = server_factory(maxmemory=4 * MiB, maxmemory_policy=policy)
    raw = s.raw()
    for i in range(400):  # about 12 MiB of hashes, lists and sets, all with TTLs
        key = "k:%d" % i
        fields = ["f%d-%s" % (j, "x" * 100) for j in range(100)]
        kind = i % 3
        if kind == 0:
            assert raw.cmd("HSET", key, *[x for f in fields for x in (f, "v")]) == 100
        elif kind == 1:
            assert raw.cmd("RPUSH", key, *fields) == 100
        else:
            assert raw.cmd("SADD", key, *fields) == 100
        raw.cmd("EXPIRE", key, str(1000 + i))
    info = s.info()
    assert info["evicted_keys"] > 0
    assert info["used_memory"] <= 5 * MiB
    assert 0 < info["db0"]["keys"] < 400


def test_noeviction_refuses_collection_growth(server_factory):
    s = server_factory(maxmemory=2 * MiB, maxmemory_policy="noeviction")
    raw = s.raw()
    reply = None
    for i in range(400):
        reply = raw.cmd("RPUSH", "l", *["x" * 1000] * 20)
        if not isinstance(reply, int):
            break
    assert reply == "OOM command not allowed when used memory > 'maxmemory'."
    assert isinstance(raw.cmd("LPOP", "l"), bytes)  # shrinking is allowed
