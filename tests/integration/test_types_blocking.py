"""Blocking list and sorted-set commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
BZPOPMAX, BZMPOP) with Redis 7.0's semantics, run against both targets: clients served in the
order they blocked, served after the command (or EXEC) that made the key ready, timeouts, no
blocking inside MULTI or scripts, a key replaced by another type, CLIENT UNBLOCK, a client that
disconnects while blocked, INFO and CLIENT LIST."""

import time

import pytest

from helpers import RespError, encode, wait_until

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def blocked_count(server):
    return server.info("clients")["blocked_clients"]


def wait_blocked(server, n):
    """Waits until n clients are blocked (the server has read and run their commands)."""
    assert wait_until(lambda: blocked_count(server) == n, timeout=5), blocked_count(server)


def send_blocked(server, *args):
    """A new connection that sends a blocking command; returns it (its CLIENT ID as .id) once
    the server blocked it."""
    c = server.raw()
    c.id = str(c.cmd("CLIENT", "ID"))
    before = blocked_count(server)
    c.send(encode(*args))
    wait_blocked(server, before + 1)
    return c


# -- immediate answers -------------------------------------------------------------------------

def test_data_present_answers_at_once(raw):
    raw.cmd("RPUSH", "l", "a", "b", "c")
    assert raw.cmd("BLPOP", "none", "l", "0") == [b"l", b"a"]
    assert raw.cmd("BRPOP", "l", "0") == [b"l", b"c"]
    assert raw.cmd("BLMOVE", "l", "dst", "LEFT", "RIGHT", "0") == b"b"
    assert raw.cmd("EXISTS", "l") == 0
    assert raw.cmd("BRPOPLPUSH", "dst", "l", "0") == b"b"
    raw.cmd("RPUSH", "m", "1", "2", "3")
    assert raw.cmd("BLMPOP", "0", "2", "none", "m", "RIGHT", "COUNT", "2") == [b"m", [b"3", b"2"]]
    raw.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert raw.cmd("BZPOPMIN", "z", "0") == [b"z", b"a", b"1"]
    assert raw.cmd("BZPOPMAX", "none", "z", "0") == [b"z", b"c", b"3"]
    assert raw.cmd("BZMPOP", "0", "1", "z", "MAX", "COUNT", "5") == [b"z", [[b"b", b"2"]]]
    assert raw.cmd("EXISTS", "z") == 0


def test_argument_errors(raw):
    assert raw.cmd("BLPOP", "l", "-1") == "ERR timeout is negative"
    assert raw.cmd("BLPOP", "l", "abc") == "ERR timeout is not a float or out of range"
    assert raw.cmd("BLPOP", "l", "nan") == "ERR timeout is not a float or out of range"
    assert raw.cmd("BLPOP", "l", "inf") == "ERR timeout is negative"
    assert raw.cmd("BZPOPMIN", "z", " 1") == "ERR timeout is not a float or out of range"
    assert raw.cmd("BLMOVE", "a", "b", "UP", "LEFT", "0") == "ERR syntax error"
    assert raw.cmd("BLMPOP", "0", "0", "a", "LEFT") == "ERR numkeys should be greater than 0"
    assert raw.cmd("BLMPOP", "x", "1", "a", "LEFT") == "ERR timeout is not a float or out of range"
    assert raw.cmd("BZMPOP", "0", "1", "a", "MIN", "COUNT", "0") == \
        "ERR count should be greater than 0"
    assert raw.cmd("BLPOP", "l") == "ERR wrong number of arguments for 'blpop' command"
    raw.cmd("SET", "s", "v")
    assert raw.cmd("BLPOP", "none", "s", "0") == WRONGTYPE
    assert raw.cmd("BZPOPMIN", "s", "0") == WRONGTYPE
    assert raw.cmd("BLMOVE", "s", "d", "LEFT", "LEFT", "0") == WRONGTYPE


# -- serving ------------------------------------------------------------------------------------

def test_waiters_served_in_blocking_order(server, raw):
    a = send_blocked(server, "BLPOP", "q", "0")
    b = send_blocked(server, "BLPOP", "q", "0")
    c = send_blocked(server, "BRPOP", "other", "q", "0")
    assert raw.cmd("RPUSH", "q", "1", "2") == 2
    assert a.read_reply() == [b"q", b"1"]
    assert b.read_reply() == [b"q", b"2"]
    c.assert_no_reply(0.2)
    assert blocked_count(server) == 1
    raw.cmd("LPUSH", "q", "3")
    assert c.read_reply() == [b"q", b"3"]
    assert raw.cmd("EXISTS", "q") == 0
    assert blocked_count(server) == 0


def test_served_after_the_exec_that_made_the_key_ready(server, raw):
    a = send_blocked(server, "BLPOP", "q", "0")
    raw.cmd("MULTI")
    raw.cmd("RPUSH", "q", "x", "y")
    raw.cmd("LPOP", "q")
    assert raw.cmd("EXEC") == [2, b"x"]
    assert a.read_reply() == [b"q", b"y"]
    # A key pushed and emptied within one EXEC wakes nobody.
    b = send_blocked(server, "BLPOP", "q", "0")
    raw.cmd("MULTI")
    raw.cmd("RPUSH", "q", "x")
    raw.cmd("DEL", "q")
    raw.cmd("EXEC")
    b.assert_no_reply(0.2)
    assert raw.cmd("CLIENT", "UNBLOCK", b.id) == 1
    assert b.read_reply() is None


def test_pipelined_commands_wait_behind_the_blocked_one(server, raw):
    a = server.raw()
    a.send(encode("BLPOP", "q", "0") + encode("PING"))
    wait_blocked(server, 1)
    a.assert_no_reply(0.2)
    raw.cmd("RPUSH", "q", "v")
    assert a.read_reply() == [b"q", b"v"]
    assert a.read_reply() == "PONG"


def test_zset_waiters_and_multi_key(server, raw):
    a = send_blocked(server, "BZPOPMIN", "z1", "z2", "0")
    b = send_blocked(server, "BZMPOP", "0", "1", "z2", "MAX", "COUNT", "10")
    raw.cmd("ZADD", "z2", "1", "m1", "2", "m2", "3", "m3")
    assert a.read_reply() == [b"z2", b"m1", b"1"]
    assert b.read_reply() == [b"z2", [[b"m3", b"3"], [b"m2", b"2"]]]
    c = send_blocked(server, "BLMPOP", "0", "2", "l1", "l2", "LEFT", "COUNT", "2")
    raw.cmd("RPUSH", "l2", "a", "b", "c")
    assert c.read_reply() == [b"l2", [b"a", b"b"]]


def test_blmove_wakes_a_waiter_of_the_destination(server, raw):
    second = send_blocked(server, "BLPOP", "dst", "0")
    first = send_blocked(server, "BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
    raw.cmd("RPUSH", "src", "v")
    assert first.read_reply() == b"v"
    assert second.read_reply() == [b"dst", b"v"]
    assert raw.cmd("EXISTS", "src", "dst") == 0
    third = send_blocked(server, "BRPOPLPUSH", "src", "src", "0")
    raw.cmd("RPUSH", "src", "w")
    assert third.read_reply() == b"w"
    assert raw.cmd("LRANGE", "src", "0", "-1") == [b"w"]


def test_blmove_onto_a_wrong_type_destination_answers_wrongtype(server, raw):
    raw.cmd("SET", "dst", "string")
    a = send_blocked(server, "BLMOVE", "src", "dst", "LEFT", "LEFT", "0")
    raw.cmd("RPUSH", "src", "v")
    assert a.read_reply() == WRONGTYPE
    assert raw.cmd("LRANGE", "src", "0", "-1") == [b"v"]


def test_key_replaced_by_another_type_keeps_the_client_blocked(server, raw):
    a = send_blocked(server, "BLPOP", "k", "0")
    z = send_blocked(server, "BZPOPMIN", "k", "0")
    raw.cmd("SET", "k", "string")
    a.assert_no_reply(0.2)
    assert blocked_count(server) == 2
    raw.cmd("DEL", "k")
    raw.cmd("ZADD", "k", "5", "m")  # wakes the sorted-set waiter only
    assert z.read_reply() == [b"k", b"m", b"5"]
    a.assert_no_reply(0.1)
    raw.cmd("MULTI")
    raw.cmd("SET", "k", "x")
    raw.cmd("DEL", "k")
    raw.cmd("RPUSH", "k", "v")
    raw.cmd("EXEC")
    assert a.read_reply() == [b"k", b"v"]


# -- no blocking where a client may not wait ---------------------------------------------------

def test_inside_multi_answers_nil_at_once(raw):
    raw.cmd("MULTI")
    for cmd in (("BLPOP", "l", "0"), ("BRPOP", "l", "10"), ("BLMPOP", "0", "1", "l", "LEFT"),
                ("BZPOPMIN", "z", "0"), ("BZMPOP", "0", "1", "z", "MIN"),
                ("BLMOVE", "l", "d", "LEFT", "LEFT", "0"), ("BRPOPLPUSH", "l", "d", "0")):
        assert raw.cmd(*cmd) == "QUEUED"
    raw.send(encode("EXEC"))
    # *-1 for the pops, $-1 for BLMOVE/BRPOPLPUSH, as Redis answers a client that may not block.
    raw.expect(b"*7\r\n*-1\r\n*-1\r\n*-1\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n", timeout=2)


def test_in_scripts(raw):
    assert raw.cmd("EVAL", "return redis.call('BLMPOP', 0, 1, 'l', 'LEFT')", "0") is None
    raw.cmd("RPUSH", "l", "v")
    assert raw.cmd("EVAL", "return redis.call('BZMPOP', 0, 1, KEYS[1], 'MIN')", "1", "z") is None
    assert raw.cmd("EVAL", "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')", "1", "l") == \
        [b"l", [b"v"]]
    reply = raw.cmd("EVAL", "return redis.call('BLPOP', KEYS[1], 0)", "1", "l")
    assert isinstance(reply, RespError) and "not allowed from script" in reply, reply


# -- timeouts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cmd,null", [
    (("BLPOP", "l1", "l2", "0.3"), b"*-1\r\n"),
    (("BLMOVE", "l1", "d", "LEFT", "LEFT", "0.3"), b"*-1\r\n"),
    (("BZMPOP", "0.3", "1", "z", "MIN"), b"*-1\r\n"),
], ids=["blpop", "blmove", "bzmpop"])
def test_timeout_answers_null_after_the_timeout(server, raw, cmd, null):
    c = server.raw()
    start = time.monotonic()
    c.send(encode(*cmd))
    c.expect(null, timeout=5)
    elapsed = time.monotonic() - start
    # Redis times out on its next cron tick after the deadline (hz 10): within 0.1 s or so; the
    # bound is generous for a busy machine.
    assert 0.3 <= elapsed < 2.5, elapsed
    assert c.cmd("PING") == "PONG"
    assert blocked_count(server) == 0


def test_several_deadlines_fire_in_order(server, raw):
    late = send_blocked(server, "BLPOP", "l", "1.2")
    early = send_blocked(server, "BRPOP", "l", "0.2")
    forever = send_blocked(server, "BLPOP", "l", "0")
    start = time.monotonic()
    assert early.read_reply(timeout=5) is None
    t_early = time.monotonic() - start
    assert late.read_reply(timeout=5) is None
    t_late = time.monotonic() - start
    assert t_early < t_late
    assert 0.9 <= t_late < 4, t_late
    forever.assert_no_reply(0.1)
    raw.cmd("RPUSH", "l", "v")
    assert forever.read_reply() == [b"l", b"v"]


# -- unblocking --------------------------------------------------------------------------------

def client_list(raw):
    return raw.cmd("CLIENT", "LIST").decode().strip().split("\n")


def test_client_unblock_and_flags(server, raw):
    a = send_blocked(server, "BLPOP", "l", "0")
    line = [x for x in client_list(raw) if " flags=b" in x]
    assert len(line) == 1, line
    assert line[0].startswith("id=%s " % a.id)
    ida = a.id
    assert raw.cmd("CLIENT", "UNBLOCK", ida) == 1
    assert a.read_reply() is None
    assert raw.cmd("CLIENT", "UNBLOCK", ida) == 0
    assert a.cmd("PING") == "PONG"
    b = send_blocked(server, "BZPOPMAX", "z", "0")
    assert raw.cmd("CLIENT", "UNBLOCK", b.id, "ERROR") == 1
    assert b.read_reply() == "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    assert raw.cmd("CLIENT", "UNBLOCK", "99999", "bad") == \
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    assert raw.cmd("CLIENT", "UNBLOCK", "x") == "ERR value is not an integer or out of range"
    assert raw.cmd("CLIENT", "UNBLOCK", "99999") == 0
    assert blocked_count(server) == 0


def test_disconnect_while_blocked_is_forgotten(server, raw):
    gone = send_blocked(server, "BLPOP", "l", "0")
    waiter = send_blocked(server, "BLPOP", "l", "0")
    gone.close()
    wait_blocked(server, 1)
    raw.cmd("RPUSH", "l", "v")
    assert waiter.read_reply() == [b"l", b"v"]  # the element did not go to the closed client
    assert raw.cmd("EXISTS", "l") == 0


def test_client_kill_of_a_blocked_client(server, raw):
    a = send_blocked(server, "BLPOP", "l", "0")
    assert raw.cmd("CLIENT", "KILL", "ID", a.id) == 1
    a.expect_closed()
    wait_blocked(server, 0)
    raw.cmd("RPUSH", "l", "v")
    assert raw.cmd("LLEN", "l") == 1


def test_blocked_per_db(server, raw):
    a = server.raw()
    assert a.cmd("SELECT", "1") == "OK"
    a.send(encode("BLPOP", "l", "0"))
    wait_blocked(server, 1)
    raw.cmd("RPUSH", "l", "db0")
    a.assert_no_reply(0.2)
    raw.cmd("SELECT", "1")
    raw.cmd("RPUSH", "l", "db1")
    assert a.read_reply() == [b"l", b"db1"]


def test_watch_sees_a_served_pop(server, raw):
    w = server.raw()
    w.cmd("RPUSH", "other", "x")
    a = send_blocked(server, "BLPOP", "l", "0")
    assert w.cmd("WATCH", "l") == "OK"
    w.cmd("MULTI")
    w.cmd("PING")
    raw.cmd("RPUSH", "l", "v")  # touches l; then the served pop touches it again
    assert a.read_reply() == [b"l", b"v"]
    assert w.cmd("EXEC") is None
