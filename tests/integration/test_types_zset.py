"""Sorted-set commands with Redis 7.0's replies and error texts (run against both targets)."""

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
NOT_FLOAT = "ERR value is not a valid float"


def test_zadd_flags(raw):
    assert raw.cmd("ZADD", "z", "1", "a", "2", "b") == 2
    assert raw.cmd("ZADD", "z", "NX", "5", "a", "3", "c") == 1
    assert raw.cmd("ZSCORE", "z", "a") == b"1"
    assert raw.cmd("ZADD", "z", "XX", "CH", "5", "a", "9", "new") == 1
    assert raw.cmd("ZSCORE", "z", "new") is None
    assert raw.cmd("ZADD", "z", "GT", "CH", "4", "a", "7", "b") == 1
    assert raw.cmd("ZADD", "z", "LT", "CH", "4", "a") == 1
    assert raw.cmd("ZADD", "z", "INCR", "1.5", "a") == b"5.5"
    assert raw.cmd("ZADD", "z", "NX", "INCR", "1", "a") is None
    assert raw.cmd("ZADD", "z", "XX", "NX", "1", "a") == \
        "ERR XX and NX options at the same time are not compatible"
    assert raw.cmd("ZADD", "z", "GT", "LT", "1", "a") == \
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    assert raw.cmd("ZADD", "z", "INCR", "1", "a", "2", "b") == \
        "ERR INCR option supports a single increment-element pair"
    assert raw.cmd("ZADD", "z", "1", "a", "2") == SYNTAX
    assert raw.cmd("ZADD", "z", "nan", "a") == NOT_FLOAT
    assert raw.cmd("ZADD", "z", "x", "a") == NOT_FLOAT
    assert raw.cmd("ZADD", "nokey", "XX", "1", "a") == 0
    assert raw.cmd("EXISTS", "nokey") == 0
    raw.cmd("ZADD", "inf", "inf", "a")
    assert raw.cmd("ZINCRBY", "inf", "-inf", "a") == "ERR resulting score is not a number (NaN)"


def test_scores_format(raw):
    raw.cmd("ZADD", "z", "1.1", "a", "inf", "b", "-inf", "c", "3", "d")
    assert raw.cmd("ZSCORE", "z", "a") == b"1.1000000000000001"
    assert raw.cmd("ZRANGE", "z", "0", "-1", "WITHSCORES") == \
        [b"c", b"-inf", b"a", b"1.1000000000000001", b"d", b"3", b"b", b"inf"]
    assert raw.cmd("ZINCRBY", "z", "0.1", "a") == b"1.2000000000000002"
    assert raw.cmd("ZMSCORE", "z", "d", "zz") == [b"3", None]
    assert raw.cmd("ZINCRBY", "z", "x", "a") == NOT_FLOAT


def test_negative_zero_score_of_a_weighted_union(raw):
    """0 * -1 is -0: a ZUNIONSTORE result too large for the listpack keeps it (and prints "-0"),
    a small one stores it as 0 (found by the differential test)."""
    long_member = "x" * 70
    raw.cmd("ZADD", "big", "0", "a", "1", long_member)
    raw.cmd("ZADD", "small", "0", "a", "1", "b")
    assert raw.cmd("ZUNIONSTORE", "u1", "1", "big", "WEIGHTS", "-1") == 2
    assert raw.cmd("OBJECT", "ENCODING", "u1") == b"skiplist"
    assert raw.cmd("ZRANGE", "u1", "0", "-1", "WITHSCORES") == [long_member.encode(), b"-1",
                                                               b"a", b"-0"]
    assert raw.cmd("ZUNIONSTORE", "u2", "1", "small", "WEIGHTS", "-1") == 2
    assert raw.cmd("ZRANGE", "u2", "0", "-1", "WITHSCORES") == [b"b", b"-1", b"a", b"0"]
    assert raw.cmd("ZUNION", "1", "big", "WEIGHTS", "-1", "WITHSCORES") == \
        [long_member.encode(), b"-1", b"a", b"-0"]


def test_rank_count_card_rem(raw):
    raw.cmd("ZADD", "z", "1", "a", "2", "b", "2", "c", "3", "d")
    assert raw.cmd("ZCARD", "z") == 4
    assert raw.cmd("ZRANK", "z", "c") == 2
    assert raw.cmd("ZREVRANK", "z", "c") == 1
    assert raw.cmd("ZRANK", "z", "zz") is None
    assert raw.cmd("ZCOUNT", "z", "(1", "2") == 2
    assert raw.cmd("ZCOUNT", "z", "-inf", "+inf") == 4
    assert raw.cmd("ZCOUNT", "z", "x", "2") == "ERR min or max is not a float"
    assert raw.cmd("ZREM", "z", "a", "zz") == 1
    assert raw.cmd("ZREMRANGEBYSCORE", "z", "2", "(3") == 2
    assert raw.cmd("ZREMRANGEBYRANK", "z", "0", "0") == 1
    assert raw.cmd("EXISTS", "z") == 0


def test_lex_ranges(raw):
    raw.cmd("ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e")
    assert raw.cmd("ZRANGEBYLEX", "z", "[b", "(d") == [b"b", b"c"]
    assert raw.cmd("ZRANGEBYLEX", "z", "-", "+", "LIMIT", "1", "2") == [b"b", b"c"]
    assert raw.cmd("ZREVRANGEBYLEX", "z", "+", "(c") == [b"e", b"d"]
    assert raw.cmd("ZLEXCOUNT", "z", "(a", "[c") == 2
    assert raw.cmd("ZRANGE", "z", "[d", "+", "BYLEX") == [b"d", b"e"]
    assert raw.cmd("ZRANGEBYLEX", "z", "b", "d") == "ERR min or max not valid string range item"
    assert raw.cmd("ZREMRANGEBYLEX", "z", "[a", "[b") == 2
    assert raw.cmd("ZRANGE", "z", "0", "-1") == [b"c", b"d", b"e"]


def test_zrange_variants(raw):
    raw.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    assert raw.cmd("ZRANGE", "z", "1", "2") == [b"b", b"c"]
    assert raw.cmd("ZRANGE", "z", "0", "1", "REV") == [b"d", b"c"]
    assert raw.cmd("ZREVRANGE", "z", "0", "0", "WITHSCORES") == [b"d", b"4"]
    assert raw.cmd("ZRANGE", "z", "(1", "3", "BYSCORE") == [b"b", b"c"]
    assert raw.cmd("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2") == \
        [b"c", b"b"]
    assert raw.cmd("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "-1") == [b"c", b"d"]
    assert raw.cmd("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2") == []
    assert raw.cmd("ZREVRANGEBYSCORE", "z", "3", "2", "WITHSCORES") == [b"c", b"3", b"b", b"2"]
    assert raw.cmd("ZRANGE", "z", "0", "1", "LIMIT", "0", "1") == \
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    assert raw.cmd("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES") == \
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
    assert raw.cmd("ZRANGEBYSCORE", "z", "0", "1", "REV") == SYNTAX
    assert raw.cmd("ZRANGESTORE", "dst", "z", "2", "4", "BYSCORE") == 3
    assert raw.cmd("ZRANGE", "dst", "0", "-1", "WITHSCORES") == \
        [b"b", b"2", b"c", b"3", b"d", b"4"]
    assert raw.cmd("ZRANGESTORE", "dst", "nokey", "0", "-1") == 0
    assert raw.cmd("EXISTS", "dst") == 0
    assert raw.cmd("ZRANGE", "nokey", "0", "-1") == []


def test_pops(raw):
    raw.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert raw.cmd("ZPOPMIN", "z") == [b"a", b"1"]
    assert raw.cmd("ZPOPMAX", "z", "5") == [b"c", b"3", b"b", b"2"]
    assert raw.cmd("EXISTS", "z") == 0
    assert raw.cmd("ZPOPMIN", "nokey") == []
    assert raw.cmd("ZPOPMIN", "nokey", "-1") == "ERR value is out of range, must be positive"
    raw.cmd("ZADD", "z", "1", "a", "2", "b")
    assert raw.cmd("ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "5") == \
        [b"z", [[b"b", b"2"], [b"a", b"1"]]]
    assert raw.cmd("ZMPOP", "1", "z", "MIN") is None
    assert raw.cmd("ZMPOP", "1", "z", "UP") == SYNTAX


def test_union_inter_diff(raw):
    raw.cmd("ZADD", "z1", "1", "a", "2", "b", "3", "c")
    raw.cmd("ZADD", "z2", "10", "b", "20", "c", "30", "d")
    raw.cmd("SADD", "s", "a", "d")
    assert raw.cmd("ZUNION", "2", "z1", "z2", "WITHSCORES") == \
        [b"a", b"1", b"b", b"12", b"c", b"23", b"d", b"30"]
    assert raw.cmd("ZINTER", "2", "z1", "z2", "AGGREGATE", "MAX", "WITHSCORES") == \
        [b"b", b"10", b"c", b"20"]
    assert raw.cmd("ZINTER", "2", "z1", "s", "WEIGHTS", "2", "5", "WITHSCORES") == [b"a", b"7"]
    assert raw.cmd("ZDIFF", "2", "z1", "z2", "WITHSCORES") == [b"a", b"1"]
    assert raw.cmd("ZUNIONSTORE", "dst", "2", "z1", "nokey") == 3
    assert raw.cmd("ZINTERSTORE", "dst", "2", "z1", "nokey") == 0
    assert raw.cmd("EXISTS", "dst") == 0
    assert raw.cmd("ZDIFFSTORE", "dst", "1", "z2") == 3
    assert raw.cmd("ZINTERCARD", "2", "z1", "z2") == 2
    assert raw.cmd("ZINTERCARD", "2", "z1", "z2", "LIMIT", "1") == 1
    assert raw.cmd("ZUNION", "0", "z1") == "ERR at least 1 input key is needed for 'zunion' command"
    assert raw.cmd("ZUNIONSTORE", "d", "0", "z1") == \
        "ERR at least 1 input key is needed for 'zunionstore' command"
    assert raw.cmd("ZUNION", "3", "z1") == SYNTAX
    assert raw.cmd("ZUNION", "1", "z1", "WEIGHTS", "x") == "ERR weight value is not a float"
    assert raw.cmd("ZDIFF", "1", "z1", "WEIGHTS", "1") == SYNTAX
    raw.cmd("SET", "str", "v")
    assert raw.cmd("ZUNION", "2", "z1", "str") == WRONGTYPE


def test_zrandmember_zscan(raw):
    assert raw.cmd("ZRANDMEMBER", "nokey") is None
    assert raw.cmd("ZRANDMEMBER", "nokey", "1") == []
    raw.cmd("ZADD", "z", "1", "a", "2", "b")
    assert raw.cmd("ZRANDMEMBER", "z") in (b"a", b"b")
    got = raw.cmd("ZRANDMEMBER", "z", "5", "WITHSCORES")
    assert dict(zip(got[::2], got[1::2])) == {b"a": b"1", b"b": b"2"}
    assert len(raw.cmd("ZRANDMEMBER", "z", "-5")) == 5
    cursor, items = raw.cmd("ZSCAN", "z", "0")
    assert cursor == b"0" and items == [b"a", b"1", b"b", b"2"]


def test_zset_encodings(raw):
    raw.cmd("ZADD", "z", "1", "a")
    assert raw.cmd("OBJECT", "ENCODING", "z") == b"listpack"
    assert raw.cmd("TYPE", "z") == "zset"
    raw.cmd("ZADD", "z", "2", "m" * 65)
    assert raw.cmd("OBJECT", "ENCODING", "z") == b"skiplist"
    args = []
    for i in range(129):
        args += [str(i), "m%d" % i]
    raw.cmd("ZADD", "big", *args[:256])
    assert raw.cmd("OBJECT", "ENCODING", "big") == b"listpack"
    raw.cmd("ZADD", "big", *args[256:])
    assert raw.cmd("OBJECT", "ENCODING", "big") == b"skiplist"
    assert raw.cmd("ZRANGE", "big", "100", "101", "WITHSCORES") == [b"m100", b"100", b"m101", b"101"]
    assert raw.cmd("ZRANK", "big", "m128") == 128
    assert raw.cmd("ZCOUNT", "big", "(10", "20") == 10
    assert raw.cmd("ZRANGEBYSCORE", "big", "(126", "+inf") == [b"m127", b"m128"]
    assert raw.cmd("GET", "big") == WRONGTYPE
