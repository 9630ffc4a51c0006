"""Hash commands with Redis 7.0's replies and error texts (run against both targets)."""

from helpers import RespError

WRONG_ARITY = "ERR wrong number of arguments for '%s' command"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"


def test_hset_hget_hmget_hlen(raw):
    assert raw.cmd("HSET", "h", "a", "1", "b", "2") == 2
    assert raw.cmd("HSET", "h", "a", "10", "c", "3") == 1
    assert raw.cmd("HGET", "h", "a") == b"10"
    assert raw.cmd("HGET", "h", "zz") is None
    assert raw.cmd("HGET", "nokey", "a") is None
    assert raw.cmd("HMGET", "h", "a", "zz", "c") == [b"10", None, b"3"]
    assert raw.cmd("HMGET", "nokey", "a") == [None]
    assert raw.cmd("HLEN", "h") == 3
    assert raw.cmd("HLEN", "nokey") == 0
    assert raw.cmd("HSET", "h", "a") == WRONG_ARITY % "hset"
    assert raw.cmd("HSET", "h", "a", "1", "b") == WRONG_ARITY % "hset"
    assert raw.cmd("HMSET", "h", "x", "1") == "OK"
    assert raw.cmd("TYPE", "h") == "hash"


def test_hgetall_hkeys_hvals_order_free(raw):
    raw.cmd("HSET", "h", "f1", "v1", "f2", "v2")
    flat = raw.cmd("HGETALL", "h")
    assert dict(zip(flat[::2], flat[1::2])) == {b"f1": b"v1", b"f2": b"v2"}
    assert sorted(raw.cmd("HKEYS", "h")) == [b"f1", b"f2"]
    assert sorted(raw.cmd("HVALS", "h")) == [b"v1", b"v2"]
    assert raw.cmd("HGETALL", "nokey") == []


def test_hdel_removes_empty_key(raw):
    raw.cmd("HSET", "h", "a", "1", "b", "2")
    assert raw.cmd("HDEL", "h", "a", "zz", "a") == 1
    assert raw.cmd("HEXISTS", "h", "a") == 0
    assert raw.cmd("HEXISTS", "h", "b") == 1
    assert raw.cmd("HDEL", "h", "b") == 1
    assert raw.cmd("EXISTS", "h") == 0
    assert raw.cmd("HDEL", "nokey", "a") == 0


def test_hsetnx_hstrlen(raw):
    assert raw.cmd("HSETNX", "h", "a", "hello") == 1
    assert raw.cmd("HSETNX", "h", "a", "other") == 0
    assert raw.cmd("HGET", "h", "a") == b"hello"
    assert raw.cmd("HSTRLEN", "h", "a") == 5
    assert raw.cmd("HSTRLEN", "h", "zz") == 0


def test_hincrby_and_float(raw):
    assert raw.cmd("HINCRBY", "h", "n", "5") == 5
    assert raw.cmd("HINCRBY", "h", "n", "-7") == -2
    assert raw.cmd("HINCRBY", "h", "n", "x") == NOT_INT
    raw.cmd("HSET", "h", "s", "abc")
    assert raw.cmd("HINCRBY", "h", "s", "1") == "ERR hash value is not an integer"
    raw.cmd("HSET", "h", "big", str(2**63 - 1))
    assert raw.cmd("HINCRBY", "h", "big", "1") == "ERR increment or decrement would overflow"
    assert raw.cmd("HINCRBYFLOAT", "h", "f", "1.5") == b"1.5"
    assert raw.cmd("HINCRBYFLOAT", "h", "f", "0.1") == b"1.6"
    assert raw.cmd("HINCRBYFLOAT", "h", "s", "1") == "ERR hash value is not a float"
    assert raw.cmd("HINCRBYFLOAT", "h", "f", "abc") == "ERR value is not a valid float"


def test_hrandfield_shapes(raw):
    assert raw.cmd("HRANDFIELD", "nokey") is None
    assert raw.cmd("HRANDFIELD", "nokey", "3") == []
    raw.cmd("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert raw.cmd("HRANDFIELD", "h") in (b"a", b"b", b"c")
    got = raw.cmd("HRANDFIELD", "h", "5")
    assert sorted(got) == [b"a", b"b", b"c"]
    got = raw.cmd("HRANDFIELD", "h", "-5")
    assert len(got) == 5 and set(got) <= {b"a", b"b", b"c"}
    got = raw.cmd("HRANDFIELD", "h", "2", "WITHVALUES")
    assert len(got) == 4
    pairs = dict(zip(got[::2], got[1::2]))
    assert all({b"a": b"1", b"b": b"2", b"c": b"3"}[k] == v for k, v in pairs.items())
    assert raw.cmd("HRANDFIELD", "h", "0") == []
    assert raw.cmd("HRANDFIELD", "h", "1", "bogus") == SYNTAX


def test_hscan_match(raw):
    raw.cmd("HSET", "h", "foo1", "1", "foo2", "2", "bar", "3")
    cursor, items = raw.cmd("HSCAN", "h", "0", "MATCH", "foo*")
    assert cursor == b"0"
    assert dict(zip(items[::2], items[1::2])) == {b"foo1": b"1", b"foo2": b"2"}
    assert raw.cmd("HSCAN", "h", "x") == "ERR invalid cursor"


def test_wrongtype_both_ways(raw):
    raw.cmd("SET", "s", "v")
    raw.cmd("HSET", "h", "a", "1")
    for args in (("HGET", "s", "a"), ("HSET", "s", "a", "1"), ("HLEN", "s"), ("HGETALL", "s"),
                 ("HDEL", "s", "a"), ("HINCRBY", "s", "a", "1")):
        assert raw.cmd(*args) == WRONGTYPE, args
    for args in (("GET", "h"), ("APPEND", "h", "x"), ("INCR", "h"), ("STRLEN", "h"),
                 ("GETSET", "h", "x"), ("GETDEL", "h"), ("SET", "h", "x", "GET")):
        assert raw.cmd(*args) == WRONGTYPE, args
    assert raw.cmd("MGET", "h", "s") == [None, b"v"]
    assert raw.cmd("SET", "h", "x") == "OK"  # SET replaces any type
    assert raw.cmd("TYPE", "h") == "string"
    assert isinstance(raw.cmd("HGET", "s", "a"), RespError)


def test_encoding_listpack_to_hashtable(raw):
    raw.cmd("HSET", "h", "a", "1")
    assert raw.cmd("OBJECT", "ENCODING", "h") == b"listpack"
    raw.cmd("HSET", "h", "long", "x" * 65)
    assert raw.cmd("OBJECT", "ENCODING", "h") == b"hashtable"
    raw.cmd("HSET", "h2", *[str(i) for i in range(2 * 512)])
    assert raw.cmd("OBJECT", "ENCODING", "h2") == b"listpack"
    raw.cmd("HSET", "h2", "one-more", "1")
    assert raw.cmd("OBJECT", "ENCODING", "h2") == b"hashtable"
    assert raw.cmd("HLEN", "h2") == 513
    assert raw.cmd("HGET", "h2", "10") == b"11"
