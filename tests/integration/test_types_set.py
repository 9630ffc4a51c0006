"""Set commands with Redis 7.0's replies and error texts (run against both targets). Set replies
have no defined order: they are compared sorted."""

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
POSITIVE = "ERR value is out of range, must be positive"


def test_sadd_srem_members(raw):
    assert raw.cmd("SADD", "s", "a", "b", "a") == 2
    assert raw.cmd("SADD", "s", "c") == 1
    assert sorted(raw.cmd("SMEMBERS", "s")) == [b"a", b"b", b"c"]
    assert raw.cmd("SISMEMBER", "s", "a") == 1
    assert raw.cmd("SISMEMBER", "s", "z") == 0
    assert raw.cmd("SMISMEMBER", "s", "a", "z", "c") == [1, 0, 1]
    assert raw.cmd("SCARD", "s") == 3
    assert raw.cmd("SREM", "s", "a", "z") == 1
    assert raw.cmd("SREM", "s", "b", "c") == 2
    assert raw.cmd("EXISTS", "s") == 0
    assert raw.cmd("SMEMBERS", "nokey") == []
    assert raw.cmd("SCARD", "nokey") == 0


def test_intset_sorted_and_conversion(raw):
    raw.cmd("SADD", "s", "3", "1", "2", "-5")
    assert raw.cmd("OBJECT", "ENCODING", "s") == b"intset"
    assert raw.cmd("SMEMBERS", "s") == [b"-5", b"1", b"2", b"3"]
    raw.cmd("SADD", "s", "01")  # not canonical: no longer an integer set
    assert raw.cmd("OBJECT", "ENCODING", "s") == b"hashtable"
    assert raw.cmd("SISMEMBER", "s", "1") == 1
    assert raw.cmd("SISMEMBER", "s", "01") == 1
    raw.cmd("SADD", "big", *[str(i) for i in range(512)])
    assert raw.cmd("OBJECT", "ENCODING", "big") == b"intset"
    raw.cmd("SADD", "big", "512")
    assert raw.cmd("OBJECT", "ENCODING", "big") == b"hashtable"
    assert raw.cmd("SCARD", "big") == 513


def test_spop_srandmember(raw):
    assert raw.cmd("SPOP", "nokey") is None
    assert raw.cmd("SPOP", "nokey", "2") == []
    assert raw.cmd("SRANDMEMBER", "nokey") is None
    assert raw.cmd("SRANDMEMBER", "nokey", "2") == []
    raw.cmd("SADD", "s", "a", "b", "c")
    assert raw.cmd("SRANDMEMBER", "s") in (b"a", b"b", b"c")
    assert sorted(raw.cmd("SRANDMEMBER", "s", "10")) == [b"a", b"b", b"c"]
    got = raw.cmd("SRANDMEMBER", "s", "-6")
    assert len(got) == 6 and set(got) <= {b"a", b"b", b"c"}
    assert raw.cmd("SRANDMEMBER", "s", "x") == NOT_INT
    assert raw.cmd("SPOP", "s", "-1") == POSITIVE
    assert raw.cmd("SPOP", "s", "0") == []
    one = raw.cmd("SPOP", "s")
    rest = raw.cmd("SPOP", "s", "5")
    assert sorted([one] + rest) == [b"a", b"b", b"c"]
    assert raw.cmd("EXISTS", "s") == 0


def test_smove(raw):
    raw.cmd("SADD", "a", "x", "y")
    assert raw.cmd("SMOVE", "a", "b", "x") == 1
    assert raw.cmd("SMOVE", "a", "b", "zz") == 0
    assert raw.cmd("SMOVE", "nokey", "b", "x") == 0
    assert raw.cmd("SMOVE", "a", "a", "y") == 1
    assert raw.cmd("SMEMBERS", "b") == [b"x"]
    raw.cmd("SET", "str", "v")
    assert raw.cmd("SMOVE", "a", "str", "y") == WRONGTYPE
    assert raw.cmd("SMOVE", "a", "b", "y") == 1
    assert raw.cmd("EXISTS", "a") == 0


def test_inter_union_diff_and_store(raw):
    raw.cmd("SADD", "s1", "a", "b", "c", "d")
    raw.cmd("SADD", "s2", "c", "d", "e")
    raw.cmd("SADD", "s3", "d", "x")
    assert sorted(raw.cmd("SINTER", "s1", "s2")) == [b"c", b"d"]
    assert raw.cmd("SINTER", "s1", "s2", "s3") == [b"d"]
    assert raw.cmd("SINTER", "s1", "nokey") == []
    assert sorted(raw.cmd("SUNION", "s2", "s3", "nokey")) == [b"c", b"d", b"e", b"x"]
    assert sorted(raw.cmd("SDIFF", "s1", "s2", "nokey")) == [b"a", b"b"]
    assert raw.cmd("SDIFF", "nokey", "s1") == []
    assert raw.cmd("SINTERSTORE", "dst", "s1", "s2") == 2
    assert sorted(raw.cmd("SMEMBERS", "dst")) == [b"c", b"d"]
    assert raw.cmd("SUNIONSTORE", "dst", "dst", "s3") == 3
    assert raw.cmd("SDIFFSTORE", "dst", "nokey", "s1") == 0
    assert raw.cmd("EXISTS", "dst") == 0
    assert raw.cmd("SINTERCARD", "2", "s1", "s2") == 2
    assert raw.cmd("SINTERCARD", "2", "s1", "s2", "LIMIT", "1") == 1
    assert raw.cmd("SINTERCARD", "0", "s1") == "ERR numkeys should be greater than 0"
    assert raw.cmd("SINTERCARD", "3", "s1") == \
        "ERR Number of keys can't be greater than number of args"
    assert raw.cmd("SINTERCARD", "1", "s1", "LIMIT", "-1") == "ERR LIMIT can't be negative"
    raw.cmd("SET", "str", "v")
    assert raw.cmd("SINTER", "nokey", "str") == WRONGTYPE
    assert raw.cmd("SUNIONSTORE", "dst", "s1", "str") == WRONGTYPE


def test_sscan(raw):
    raw.cmd("SADD", "s", "foo", "bar", "food")
    cursor, items = raw.cmd("SSCAN", "s", "0", "MATCH", "foo*", "COUNT", "100")
    assert cursor == b"0" and sorted(items) == [b"foo", b"food"]
    assert raw.cmd("SSCAN", "s", "0", "COUNT", "0") == SYNTAX
