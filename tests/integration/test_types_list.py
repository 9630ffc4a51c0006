"""List commands with Redis 7.0's replies and error texts (run against both targets)."""

WRONG_ARITY = "ERR wrong number of arguments for '%s' command"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
POSITIVE = "ERR value is out of range, must be positive"


def test_push_pop_range(raw):
    assert raw.cmd("RPUSH", "l", "a", "b", "c") == 3
    assert raw.cmd("LPUSH", "l", "z", "y") == 5
    assert raw.cmd("LRANGE", "l", "0", "-1") == [b"y", b"z", b"a", b"b", b"c"]
    assert raw.cmd("LRANGE", "l", "-2", "100") == [b"b", b"c"]
    assert raw.cmd("LRANGE", "l", "3", "1") == []
    assert raw.cmd("LRANGE", "nokey", "0", "-1") == []
    assert raw.cmd("LRANGE", "l", "a", "1") == NOT_INT
    assert raw.cmd("LPOP", "l") == b"y"
    assert raw.cmd("RPOP", "l") == b"c"
    assert raw.cmd("LPOP", "l", "2") == [b"z", b"a"]
    assert raw.cmd("RPOP", "l", "0") == []
    assert raw.cmd("LPOP", "l", "-1") == POSITIVE
    assert raw.cmd("LPOP", "nokey") is None
    assert raw.cmd("LPOP", "nokey", "1") is None
    assert raw.cmd("RPOP", "l", "5") == [b"b"]
    assert raw.cmd("EXISTS", "l") == 0
    assert raw.cmd("LPUSHX", "l", "a") == 0
    assert raw.cmd("RPUSHX", "l", "a") == 0
    raw.cmd("RPUSH", "l", "a")
    assert raw.cmd("RPUSHX", "l", "b", "c") == 3
    assert raw.cmd("LPUSH", "l") == WRONG_ARITY % "lpush"


def test_lindex_lset_llen(raw):
    raw.cmd("RPUSH", "l", "a", "b", "c")
    assert raw.cmd("LINDEX", "l", "0") == b"a"
    assert raw.cmd("LINDEX", "l", "-1") == b"c"
    assert raw.cmd("LINDEX", "l", "3") is None
    assert raw.cmd("LSET", "l", "1", "B") == "OK"
    assert raw.cmd("LSET", "l", "5", "x") == "ERR index out of range"
    assert raw.cmd("LSET", "nokey", "0", "x") == "ERR no such key"
    assert raw.cmd("LLEN", "l") == 3
    assert raw.cmd("LLEN", "nokey") == 0


def test_lrem_ltrim_linsert(raw):
    raw.cmd("RPUSH", "l", "a", "x", "b", "x", "c", "x")
    assert raw.cmd("LREM", "l", "-2", "x") == 2
    assert raw.cmd("LRANGE", "l", "0", "-1") == [b"a", b"x", b"b", b"c"]
    assert raw.cmd("LREM", "l", "0", "x") == 1
    assert raw.cmd("LINSERT", "l", "BEFORE", "b", "q") == 4
    assert raw.cmd("LINSERT", "l", "after", "c", "r") == 5
    assert raw.cmd("LINSERT", "l", "after", "zz", "r") == -1
    assert raw.cmd("LINSERT", "l", "middle", "c", "r") == SYNTAX
    assert raw.cmd("LINSERT", "nokey", "after", "c", "r") == 0
    assert raw.cmd("LTRIM", "l", "1", "-2") == "OK"
    assert raw.cmd("LRANGE", "l", "0", "-1") == [b"q", b"b", b"c"]
    assert raw.cmd("LTRIM", "l", "5", "10") == "OK"
    assert raw.cmd("EXISTS", "l") == 0


def test_lpos(raw):
    raw.cmd("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert raw.cmd("LPOS", "l", "c") == 2
    assert raw.cmd("LPOS", "l", "c", "RANK", "2") == 6
    assert raw.cmd("LPOS", "l", "c", "RANK", "-1") == 7
    assert raw.cmd("LPOS", "l", "c", "COUNT", "0") == [2, 6, 7]
    assert raw.cmd("LPOS", "l", "c", "COUNT", "2", "RANK", "-1") == [7, 6]
    assert raw.cmd("LPOS", "l", "c", "COUNT", "0", "MAXLEN", "3") == [2]
    assert raw.cmd("LPOS", "l", "zz") is None
    assert raw.cmd("LPOS", "l", "zz", "COUNT", "1") == []
    assert raw.cmd("LPOS", "l", "c", "RANK", "0").startswith("ERR RANK can't be zero")
    assert raw.cmd("LPOS", "l", "c", "COUNT", "-1") == "ERR COUNT can't be negative"
    assert raw.cmd("LPOS", "l", "c", "MAXLEN", "-1") == "ERR MAXLEN can't be negative"
    assert raw.cmd("LPOS", "l", "c", "BOGUS", "1") == SYNTAX


def test_lmove_rpoplpush_lmpop(raw):
    raw.cmd("RPUSH", "src", "a", "b", "c")
    assert raw.cmd("LMOVE", "src", "dst", "LEFT", "RIGHT") == b"a"
    assert raw.cmd("RPOPLPUSH", "src", "dst") == b"c"
    assert raw.cmd("LRANGE", "dst", "0", "-1") == [b"c", b"a"]
    assert raw.cmd("LMOVE", "dst", "dst", "LEFT", "RIGHT") == b"c"  # rotation
    assert raw.cmd("LRANGE", "dst", "0", "-1") == [b"a", b"c"]
    assert raw.cmd("LMOVE", "nokey", "dst", "LEFT", "RIGHT") is None
    assert raw.cmd("LMOVE", "src", "dst", "UP", "RIGHT") == SYNTAX
    raw.cmd("SET", "str", "x")
    assert raw.cmd("LMOVE", "src", "str", "LEFT", "LEFT") == WRONGTYPE
    assert raw.cmd("LLEN", "src") == 1  # nothing popped on WRONGTYPE
    assert raw.cmd("LMPOP", "2", "nokey", "dst", "LEFT") == [b"dst", [b"a"]]
    assert raw.cmd("LMPOP", "2", "nokey", "dst", "RIGHT", "COUNT", "9") == [b"dst", [b"c"]]
    assert raw.cmd("LMPOP", "1", "nokey", "LEFT") is None
    assert raw.cmd("LMPOP", "0", "a", "LEFT") == "ERR numkeys should be greater than 0"
    assert raw.cmd("LMPOP", "1", "a", "LEFT", "COUNT", "0") == "ERR count should be greater than 0"
    assert raw.cmd("LMPOP", "3", "a", "LEFT") == SYNTAX
    assert raw.cmd("LMPOP", "1", "str", "LEFT") == WRONGTYPE


def test_list_encoding_and_wrongtype(raw):
    raw.cmd("RPUSH", "l", "a")
    assert raw.cmd("OBJECT", "ENCODING", "l") == b"quicklist"
    assert raw.cmd("TYPE", "l") == "list"
    assert raw.cmd("GET", "l") == WRONGTYPE
    assert raw.cmd("HGET", "l", "a") == WRONGTYPE
    raw.cmd("SET", "s", "x")
    assert raw.cmd("LPUSH", "s", "a") == WRONGTYPE
    assert raw.cmd("LRANGE", "s", "0", "1") == WRONGTYPE
