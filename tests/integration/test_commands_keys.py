"""String and keyspace commands with Redis 7 semantics and exact error texts: GET/SET and its
options, the SET variants, counters, multi-key commands, expiry commands, KEYS/SCAN globbing,
DBSIZE/RANDOMKEY/FLUSH*, binary safety."""

import time

import pytest

WRONG_ARITY = "ERR wrong number of arguments for '%s' command"
NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"


def invalid_expire(cmd):
    return "ERR invalid expire time in '%s' command" % cmd


# -- GET / SET ------------------------------------------------------------------------------

def test_get_set_basic(raw):
    assert raw.cmd("GET", "k") is None
    assert raw.cmd("SET", "k", "v") == "OK"
    assert raw.cmd("GET", "k") == b"v"
    assert raw.cmd("SET", "k", "") == "OK"
    assert raw.cmd("GET", "k") == b""
    assert raw.cmd("GET") == WRONG_ARITY % "get"
    assert raw.cmd("GET", "a", "b") == WRONG_ARITY % "get"
    assert raw.cmd("SET", "k") == WRONG_ARITY % "set"


def test_set_ex_px_set_ttl(r):
    assert r.execute_command("SET", "a", "1", "EX", "100") is True
    assert 99 <= r.ttl("a") <= 100
    assert r.execute_command("SET", "b", "1", "PX", "100000") is True
    assert 99000 <= r.pttl("b") <= 100000
    r.set("a", "2")  # a plain SET clears the TTL
    assert r.ttl("a") == -1


def test_set_exat_pxat(r):
    now = int(time.time())
    assert r.execute_command("SET", "a", "1", "EXAT", now + 100) is True
    assert 98 <= r.ttl("a") <= 100
    assert r.execute_command("SET", "b", "1", "PXAT", (now + 100) * 1000) is True
    assert 98000 <= r.pttl("b") <= 100000
    # a time in the past: accepted, the key is gone at once
    assert r.execute_command("SET", "c", "1", "EXAT", now - 10) is True
    assert r.get("c") is None and r.exists("c") == 0


def test_set_nx_xx(raw):
    assert raw.cmd("SET", "k", "1", "XX") is None
    assert raw.cmd("GET", "k") is None
    assert raw.cmd("SET", "k", "1", "NX") == "OK"
    assert raw.cmd("SET", "k", "2", "NX") is None  # a failed NX answers nil ($-1)
    assert raw.cmd("GET", "k") == b"1"
    assert raw.cmd("SET", "k", "3", "XX") == "OK"
    assert raw.cmd("GET", "k") == b"3"
    raw.send(b"SET k 4 NX\r\n")
    raw.expect(b"$-1\r\n")


def test_set_keepttl(r):
    r.set("k", "1", ex=100)
    assert r.execute_command("SET", "k", "2", "KEEPTTL") is True
    assert r.get("k") == b"2"
    assert 98 <= r.ttl("k") <= 100
    r.execute_command("SET", "k", "3")
    assert r.ttl("k") == -1


def test_set_get_option(raw):
    assert raw.cmd("SET", "k", "1", "GET") is None
    assert raw.cmd("SET", "k", "2", "GET") == b"1"
    assert raw.cmd("GET", "k") == b"2"
    # NX + GET is allowed since 7.0: returns the old value, sets only if missing
    assert raw.cmd("SET", "k", "3", "NX", "GET") == b"2"
    assert raw.cmd("GET", "k") == b"2"
    assert raw.cmd("SET", "n", "new", "NX", "GET") is None
    assert raw.cmd("GET", "n") == b"new"
    assert raw.cmd("SET", "x", "1", "XX", "GET") is None
    assert raw.cmd("EXISTS", "x") == 0
    assert raw.cmd("SET", "k", "4", "XX", "GET", "EX", "100") == b"2"
    assert 98 <= raw.cmd("TTL", "k") <= 100


@pytest.mark.parametrize("args", [
    ("NX", "XX"), ("EX", "10", "PX", "100"), ("EX", "10", "KEEPTTL"), ("PX", "10", "EXAT", "1"),
    ("EX",), ("BOGUS",), ("GET", "GET", "EX"), ("KEEPTTL", "PXAT", "1")])
def test_set_syntax_errors(raw, args):
    assert raw.cmd("SET", "k", "v", *args) == SYNTAX
    assert raw.cmd("EXISTS", "k") == 0


def test_set_invalid_expire(raw):
    assert raw.cmd("SET", "k", "v", "EX", "0") == invalid_expire("set")
    assert raw.cmd("SET", "k", "v", "PX", "-5") == invalid_expire("set")
    assert raw.cmd("SET", "k", "v", "EX", "abc") == NOT_INT
    assert raw.cmd("SET", "k", "v", "EXAT", "0") == invalid_expire("set")
    assert raw.cmd("EXISTS", "k") == 0


# -- SET variants ---------------------------------------------------------------------------

def test_setnx_setex_psetex(raw):
    assert raw.cmd("SETNX", "k", "1") == 1
    assert raw.cmd("SETNX", "k", "2") == 0
    assert raw.cmd("GET", "k") == b"1"
    assert raw.cmd("SETEX", "e", "100", "v") == "OK"
    assert 98 <= raw.cmd("TTL", "e") <= 100
    assert raw.cmd("SETEX", "e", "0", "v") == invalid_expire("setex")
    assert raw.cmd("SETEX", "e", "x", "v") == NOT_INT
    assert raw.cmd("PSETEX", "p", "100000", "v") == "OK"
    assert 98000 <= raw.cmd("PTTL", "p") <= 100000
    assert raw.cmd("PSETEX", "p", "-1", "v") == invalid_expire("psetex")
    assert raw.cmd("SETEX", "e", "100") == WRONG_ARITY % "setex"


def test_getset_getdel(raw):
    assert raw.cmd("GETSET", "k", "1") is None
    raw.cmd("EXPIRE", "k", "100")
    assert raw.cmd("GETSET", "k", "2") == b"1"
    assert raw.cmd("TTL", "k") == -1  # GETSET drops the TTL
    assert raw.cmd("GETDEL", "k") == b"2"
    assert raw.cmd("EXISTS", "k") == 0
    assert raw.cmd("GETDEL", "k") is None


def test_getex(raw):
    assert raw.cmd("GETEX", "missing", "EX", "10") is None
    raw.cmd("SET", "k", "v")
    assert raw.cmd("GETEX", "k") == b"v"
    assert raw.cmd("TTL", "k") == -1
    assert raw.cmd("GETEX", "k", "EX", "100") == b"v"
    assert 98 <= raw.cmd("TTL", "k") <= 100
    assert raw.cmd("GETEX", "k", "PX", "200000") == b"v"
    assert 198000 <= raw.cmd("PTTL", "k") <= 200000
    assert raw.cmd("GETEX", "k", "EXAT", str(int(time.time()) + 300)) == b"v"
    assert 298 <= raw.cmd("TTL", "k") <= 300
    assert raw.cmd("GETEX", "k", "PXAT", str(int(time.time() * 1000) + 400000)) == b"v"
    assert 398 <= raw.cmd("TTL", "k") <= 400
    assert raw.cmd("GETEX", "k", "PERSIST") == b"v"
    assert raw.cmd("TTL", "k") == -1
    assert raw.cmd("GETEX", "k", "EX", "0") == invalid_expire("getex")
    assert raw.cmd("GETEX", "k", "EX", "10", "PX", "10") == SYNTAX
    assert raw.cmd("GETEX", "k", "PERSIST", "EX", "10") == SYNTAX
    assert raw.cmd("GETEX", "k", "EXAT", str(int(time.time()) - 10)) == b"v"
    assert raw.cmd("EXISTS", "k") == 0


# -- multi-key ------------------------------------------------------------------------------

def test_mget_mset_msetnx(raw):
    assert raw.cmd("MSET", "a", "1", "b", "2", "c", "3") == "OK"
    assert raw.cmd("MGET", "a", "missing", "c", "a") == [b"1", None, b"3", b"1"]
    assert raw.cmd("MSET", "a", "1", "b") == WRONG_ARITY % "mset"
    assert raw.cmd("MSET") == WRONG_ARITY % "mset"
    assert raw.cmd("MGET") == WRONG_ARITY % "mget"
    assert raw.cmd("MSETNX", "x", "1", "a", "9") == 0  # one exists: nothing set
    assert raw.cmd("MGET", "x", "a") == [None, b"1"]
    assert raw.cmd("MSETNX", "x", "1", "y", "2") == 1
    assert raw.cmd("MGET", "x", "y") == [b"1", b"2"]
    assert raw.cmd("MSET", "a", "1", "a", "2") == "OK"  # last one wins
    assert raw.cmd("GET", "a") == b"2"


def test_append_strlen(raw):
    assert raw.cmd("STRLEN", "k") == 0
    assert raw.cmd("APPEND", "k", "abc") == 3
    assert raw.cmd("APPEND", "k", "\x00\r\n") == 6
    assert raw.cmd("GET", "k") == b"abc\x00\r\n"
    assert raw.cmd("STRLEN", "k") == 6
    raw.cmd("SET", "n", "12")
    assert raw.cmd("APPEND", "n", "3") == 3
    assert raw.cmd("INCR", "n") == 124


# -- counters -------------------------------------------------------------------------------

def test_incr_decr_family(raw):
    assert raw.cmd("INCR", "n") == 1
    assert raw.cmd("INCRBY", "n", "10") == 11
    assert raw.cmd("DECR", "n") == 10
    assert raw.cmd("DECRBY", "n", "25") == -15
    assert raw.cmd("INCRBY", "n", "-5") == -20
    assert raw.cmd("GET", "n") == b"-20"
    raw.cmd("SET", "e", "5", "EX", "100")
    assert raw.cmd("INCR", "e") == 6
    assert 98 <= raw.cmd("TTL", "e") <= 100  # INCR keeps the TTL


def test_incr_errors(raw):
    raw.cmd("SET", "s", "abc")
    assert raw.cmd("INCR", "s") == NOT_INT
    raw.cmd("SET", "s", " 1")
    assert raw.cmd("INCR", "s") == NOT_INT
    raw.cmd("SET", "s", "1.5")
    assert raw.cmd("INCR", "s") == NOT_INT
    assert raw.cmd("INCRBY", "n", "1.5") == NOT_INT
    assert raw.cmd("INCRBY", "n", "9223372036854775808") == NOT_INT
    raw.cmd("SET", "m", "9223372036854775807")
    assert raw.cmd("INCR", "m") == "ERR increment or decrement would overflow"
    raw.cmd("SET", "m", "-9223372036854775808")
    assert raw.cmd("DECR", "m") == "ERR increment or decrement would overflow"
    assert raw.cmd("DECRBY", "m", "1") == "ERR increment or decrement would overflow"
    assert raw.cmd("GET", "m") == b"-9223372036854775808"


def test_incrbyfloat(raw):
    assert raw.cmd("INCRBYFLOAT", "f", "10.5") == b"10.5"
    assert raw.cmd("INCRBYFLOAT", "f", "0.1") == b"10.6"
    assert raw.cmd("INCRBYFLOAT", "f", "-5") == b"5.6"
    raw.cmd("SET", "i", "3")
    assert raw.cmd("INCRBYFLOAT", "i", "2") == b"5"
    assert raw.cmd("INCRBYFLOAT", "i", "5.0e3") == b"5005"
    raw.cmd("SET", "s", "abc")
    assert raw.cmd("INCRBYFLOAT", "s", "1") == "ERR value is not a valid float"
    assert raw.cmd("INCRBYFLOAT", "f", "abc") == "ERR value is not a valid float"
    assert raw.cmd("INCRBYFLOAT", "f", "inf") == "ERR increment would produce NaN or Infinity"


# -- DEL / UNLINK / EXISTS / TYPE / RENAME ---------------------------------------------------

def test_del_unlink_exists(raw):
    raw.cmd("MSET", "a", "1", "b", "2", "c", "3")
    assert raw.cmd("EXISTS", "a", "a", "missing", "b") == 3  # duplicates counted
    assert raw.cmd("DEL", "a", "missing", "a") == 1
    assert raw.cmd("UNLINK", "b", "c", "zzz") == 2
    assert raw.cmd("EXISTS", "a", "b", "c") == 0
    assert raw.cmd("DEL") == WRONG_ARITY % "del"
    assert raw.cmd("EXISTS") == WRONG_ARITY % "exists"


def test_type(raw):
    raw.cmd("SET", "s", "1")
    assert raw.cmd("TYPE", "s") == "string"
    assert raw.cmd("TYPE", "missing") == "none"


def test_rename(raw):
    assert raw.cmd("RENAME", "missing", "x") == "ERR no such key"
    raw.cmd("SET", "a", "1", "EX", "100")
    raw.cmd("SET", "b", "old")
    assert raw.cmd("RENAME", "a", "b") == "OK"
    assert raw.cmd("GET", "b") == b"1"
    assert raw.cmd("EXISTS", "a") == 0
    assert 98 <= raw.cmd("TTL", "b") <= 100  # the TTL moves with the value
    assert raw.cmd("RENAME", "b", "b") == "OK"
    assert raw.cmd("GET", "b") == b"1"


# -- expiry commands ------------------------------------------------------------------------

def test_expire_ttl_persist(raw):
    assert raw.cmd("TTL", "missing") == -2
    assert raw.cmd("PTTL", "missing") == -2
    assert raw.cmd("EXPIRE", "missing", "10") == 0
    raw.cmd("SET", "k", "v")
    assert raw.cmd("TTL", "k") == -1
    assert raw.cmd("PTTL", "k") == -1
    assert raw.cmd("EXPIRE", "k", "100") == 1
    assert 98 <= raw.cmd("TTL", "k") <= 100
    assert 98000 <= raw.cmd("PTTL", "k") <= 100000
    assert raw.cmd("PERSIST", "k") == 1
    assert raw.cmd("PERSIST", "k") == 0
    assert raw.cmd("PERSIST", "missing") == 0
    assert raw.cmd("TTL", "k") == -1
    assert raw.cmd("PEXPIRE", "k", "50000") == 1
    assert 48 <= raw.cmd("TTL", "k") <= 50
    assert raw.cmd("EXPIRE", "k", "abc") == NOT_INT


@pytest.mark.parametrize("cmd,value", [("EXPIRE", "0"), ("EXPIRE", "-1"), ("PEXPIRE", "0"),
                                       ("PEXPIRE", "-100")])
def test_expire_zero_or_negative_deletes(raw, cmd, value):
    raw.cmd("SET", "k", "v")
    assert raw.cmd(cmd, "k", value) == 1
    assert raw.cmd("EXISTS", "k") == 0
    assert raw.cmd("GET", "k") is None


def test_expireat_pexpireat(raw):
    now = int(time.time())
    raw.cmd("SET", "k", "v")
    assert raw.cmd("EXPIREAT", "k", str(now + 100)) == 1
    assert 98 <= raw.cmd("TTL", "k") <= 100
    assert raw.cmd("PEXPIREAT", "k", str((now + 200) * 1000)) == 1
    assert 198 <= raw.cmd("TTL", "k") <= 200
    assert raw.cmd("EXPIREAT", "missing", str(now + 100)) == 0
    assert raw.cmd("EXPIREAT", "k", str(now - 100)) == 1
    assert raw.cmd("EXISTS", "k") == 0
    raw.cmd("SET", "k", "v")
    assert raw.cmd("PEXPIREAT", "k", "1") == 1
    assert raw.cmd("EXISTS", "k") == 0


def test_expire_options_nx_xx_gt_lt(raw):
    raw.cmd("SET", "k", "v")
    assert raw.cmd("EXPIRE", "k", "100", "XX") == 0
    assert raw.cmd("EXPIRE", "k", "100", "NX") == 1
    assert raw.cmd("EXPIRE", "k", "200", "NX") == 0
    assert raw.cmd("EXPIRE", "k", "50", "GT") == 0
    assert raw.cmd("EXPIRE", "k", "200", "GT") == 1
    assert raw.cmd("EXPIRE", "k", "300", "LT") == 0
    assert raw.cmd("EXPIRE", "k", "150", "LT") == 1
    assert 148 <= raw.cmd("TTL", "k") <= 150
    assert raw.cmd("EXPIRE", "k", "10", "NX", "XX") == \
        "ERR NX and XX, GT or LT options at the same time are not compatible"


def test_expired_key_is_gone_for_every_reader(raw):
    raw.cmd("SET", "k", "v", "PX", "50")
    raw.cmd("SET", "n", "5", "PX", "50")
    time.sleep(0.15)
    assert raw.cmd("GET", "k") is None
    assert raw.cmd("EXISTS", "k") == 0
    assert raw.cmd("TTL", "k") == -2
    assert raw.cmd("INCR", "n") == 1  # an expired counter starts again
    assert raw.cmd("SET", "k", "w", "NX") == "OK"


# -- KEYS / SCAN ----------------------------------------------------------------------------

GLOB_KEYS = ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "h?llo", "h[a]llo",
             "a", "ab", "abc", ":1:x", ":1:y", "*star"]


def keys_of(raw, pattern):
    return sorted(k.decode() for k in raw.cmd("KEYS", pattern))


def test_keys_globs(raw):
    for k in GLOB_KEYS:
        raw.cmd("SET", k, "1")
    assert keys_of(raw, "*") == sorted(GLOB_KEYS)
    assert keys_of(raw, "h?llo") == ["h*llo", "h?llo", "hallo", "hello", "hxllo"]
    assert keys_of(raw, "h*llo") == sorted(["hello", "hallo", "hxllo", "hllo", "heeeello",
                                            "h*llo", "h?llo", "h[a]llo"])
    assert keys_of(raw, "h[ae]llo") == ["hallo", "hello"]
    assert keys_of(raw, "h[^e]llo") == ["h*llo", "h?llo", "hallo", "hxllo"]
    assert keys_of(raw, "h[a-e]llo") == ["hallo", "hello"]
    assert keys_of(raw, r"h\*llo") == ["h*llo"]
    assert keys_of(raw, r"h\?llo") == ["h?llo"]
    assert keys_of(raw, "[*]*") == ["*star"]
    assert keys_of(raw, ":1:*") == [":1:x", ":1:y"]
    assert keys_of(raw, "a?") == ["ab"]
    assert keys_of(raw, "nomatch*") == []


def scan_all(raw, *args):
    cursor, seen, rounds = b"0", [], 0
    while True:
        cursor, keys = raw.cmd("SCAN", cursor, *args)
        seen += [k.decode() for k in keys]
        rounds += 1
        assert rounds < 10000
        if cursor == b"0":
            return seen, rounds


def test_scan_cursor_loop_returns_every_key(raw):
    keys = ["key:%d" % i for i in range(500)]
    raw.cmd("MSET", *[x for k in keys for x in (k, "v")])
    seen, rounds = scan_all(raw)
    assert set(seen) == set(keys)
    assert rounds > 1  # default COUNT 10 cannot finish 500 keys in one round
    seen, rounds100 = scan_all(raw, "COUNT", "100")
    assert set(seen) == set(keys) and rounds100 < rounds


def test_scan_match(raw):
    for k in GLOB_KEYS:
        raw.cmd("SET", k, "1")
    for i in range(100):
        raw.cmd("SET", "filler:%d" % i, "1")
    assert sorted(set(scan_all(raw, "MATCH", "h[ae]llo")[0])) == ["hallo", "hello"]
    assert sorted(set(scan_all(raw, "MATCH", "[*]*", "COUNT", "10")[0])) == ["*star"]
    assert sorted(set(scan_all(raw, "MATCH", r"h\*llo")[0])) == ["h*llo"]
    assert sorted(set(scan_all(raw, "MATCH", "h?llo")[0])) == \
        ["h*llo", "h?llo", "hallo", "hello", "hxllo"]
    assert sorted(set(scan_all(raw, "MATCH", ":1:*", "COUNT", "1000")[0])) == [":1:x", ":1:y"]


def test_scan_type_and_errors(raw):
    for i in range(20):
        raw.cmd("SET", "s%d" % i, "1")
    assert len(set(scan_all(raw, "TYPE", "string")[0])) == 20
    assert scan_all(raw, "TYPE", "hash")[0] == []
    assert raw.cmd("SCAN", "abc") == "ERR invalid cursor"
    assert raw.cmd("SCAN", "0", "COUNT", "0") == SYNTAX
    assert raw.cmd("SCAN", "0", "BOGUS", "1") == SYNTAX


# -- DBSIZE / RANDOMKEY / FLUSH* / TIME -----------------------------------------------------

def test_dbsize_randomkey(raw):
    assert raw.cmd("DBSIZE") == 0
    assert raw.cmd("RANDOMKEY") is None
    raw.cmd("MSET", "a", "1", "b", "2", "c", "3")
    assert raw.cmd("DBSIZE") == 3
    seen = {raw.cmd("RANDOMKEY") for _ in range(50)}
    assert seen <= {b"a", b"b", b"c"} and len(seen) >= 2


def test_flushdb_and_flushall(server, raw):
    other = server.raw()
    other.cmd("SELECT", "5")
    raw.cmd("SET", "a", "1")
    other.cmd("SET", "b", "1")
    assert raw.cmd("FLUSHDB") == "OK"
    assert raw.cmd("DBSIZE") == 0 and other.cmd("DBSIZE") == 1
    raw.cmd("SET", "a", "1")
    assert raw.cmd("FLUSHALL", "ASYNC") == "OK"
    assert raw.cmd("DBSIZE") == 0 and other.cmd("DBSIZE") == 0
    other.cmd("SET", "b", "1")
    assert raw.cmd("FLUSHALL", "SYNC") == "OK"
    assert other.cmd("DBSIZE") == 0
    other.cmd("SET", "b", "1")
    assert other.cmd("FLUSHDB", "ASYNC") == "OK"
    assert other.cmd("DBSIZE") == 0
    assert raw.cmd("FLUSHALL", "BOGUS") == SYNTAX


# -- binary safety --------------------------------------------------------------------------

def test_binary_safe_keys_and_values(r):
    key = b"k\x00\r\n\xff\x01 x"
    value = bytes(range(256)) * 4 + b"\r\n\x00"
    assert r.set(key, value)
    assert r.get(key) == value
    assert r.exists(key) == 1
    assert r.strlen(key) == len(value)
    assert r.mget([key, b"k"]) == [value, None]
    assert key in r.keys("k*")
    assert key in list(r.scan_iter(match=b"k\x00*"))
    assert r.delete(key) == 1
    assert r.get(key) is None


def test_large_value_round_trip(r):
    value = b"\x00\xffab" * (2 << 20)  # 8 MiB
    assert r.set("big", value)
    assert r.get("big") == value
    assert r.strlen("big") == len(value)
