"""CLIENT PAUSE and UNPAUSE as redis-server 7.0 answers them, against tiercache-l2 and
redis-server (TIERCACHE_TEST_TARGET=redis): WRITE postpones writes and the may-replicate
commands (PUBLISH, EVAL), also inside MULTI and an EXEC that would write, while reads go on;
ALL postpones everything, UNPAUSE included, until the deadline; a later pause only extends
and widens. Postponed requests run, in order, once the pause ends. Every check of "not yet"
holds the pause open for a minute and ends it with UNPAUSE, so a slow machine cannot pass or
fail it; the one timed check (ALL) asserts only a lower bound, which no machine can beat."""

import time

import pytest

from helpers import RespError, encode

HOLD = 60000  # ms: a pause that only UNPAUSE ends within the test


@pytest.fixture
def srv(server_factory):
    return server_factory()


@pytest.mark.parametrize("args,reply", [
    (["abc"], "ERR timeout is not an integer or out of range"),
    (["1.5"], "ERR timeout is not an integer or out of range"),
    (["9223372036854775808"], "ERR timeout is not an integer or out of range"),
    (["-1"], "ERR timeout is negative"),
    (["100", "foo"], "ERR CLIENT PAUSE mode must be WRITE or ALL"),
    (["100", "WRITE", "extra"],
     "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP."),
    ([], "ERR wrong number of arguments for 'client|pause' command"),
    (["0"], "OK"),
    (["0", "write"], "OK"),
    (["0", "ALL"], "OK"),
])
def test_pause_arguments_as_redis(srv, args, reply):
    c = srv.raw()
    got = c.cmd("CLIENT", "PAUSE", *args)
    assert str(got) == reply
    assert isinstance(got, RespError) == (reply != "OK")
    assert c.cmd("CLIENT", "UNPAUSE") == "OK"
    assert str(c.cmd("CLIENT", "UNPAUSE", "x")) == \
        "ERR wrong number of arguments for 'client|unpause' command"


def test_write_pause_postpones_writes_and_may_replicate_commands_not_reads(srv):
    ctl, reader = srv.raw(), srv.raw()
    writer, publisher, scripter, tx = srv.raw(), srv.raw(), srv.raw(), srv.raw()
    assert ctl.cmd("SET", "k", "old") == "OK"
    assert ctl.cmd("CLIENT", "PAUSE", HOLD, "WRITE") == "OK"
    # Postponed: a write and what follows it on the same connection, PUBLISH, EVAL, and a
    # write sent inside MULTI (checked before it is queued).
    writer.send(encode("SET", "k", "new") + encode("GET", "k"))
    publisher.send(encode("PUBLISH", "ch", "m"))
    scripter.send(encode("EVAL", "return redis.call('set', 'e', '1')", "0"))
    assert tx.cmd("MULTI") == "OK"
    assert tx.cmd("GET", "k") == "QUEUED"
    tx.send(encode("SET", "k2", "v"))
    for c in (writer, publisher, scripter, tx):
        c.assert_no_reply(0.3)
    # Reads, read-only scripts and read-only transactions are answered meanwhile.
    assert reader.cmd("GET", "k") == b"old"
    assert reader.cmd("EVAL_RO", "return redis.call('get', 'k')", "0") == b"old"
    assert reader.cmd("MULTI") == "OK"
    assert reader.cmd("EXISTS", "e") == "QUEUED"
    assert reader.cmd("EXEC") == [0]
    assert reader.cmd("DBSIZE") == 1
    # UNPAUSE is not a write: it is answered, and the postponed requests run in order.
    assert ctl.cmd("CLIENT", "UNPAUSE") == "OK"
    assert writer.read_replies(2) == ["OK", b"new"]
    assert publisher.read_reply() == 0
    assert scripter.read_reply() == "OK"
    assert tx.read_reply() == "QUEUED"
    assert tx.cmd("EXEC") == [b"new", "OK"]
    assert reader.cmd("MGET", "k", "e", "k2") == [b"new", b"1", b"v"]


def test_exec_that_would_write_waits_for_the_pause(srv):
    ctl, tx, ro = srv.raw(), srv.raw(), srv.raw()
    assert tx.cmd("MULTI") == "OK"
    assert tx.cmd("INCR", "n") == "QUEUED"  # queued before the pause
    assert ctl.cmd("CLIENT", "PAUSE", HOLD, "WRITE") == "OK"
    tx.send(encode("EXEC"))
    tx.assert_no_reply(0.3)
    assert ro.cmd("MULTI") == "OK"
    assert ro.cmd("GET", "n") == "QUEUED"
    assert ro.cmd("EXEC") == [None]  # an EXEC of reads only runs
    assert ctl.cmd("CLIENT", "UNPAUSE") == "OK"
    assert tx.read_reply() == [1]


def test_all_pause_postpones_everything_until_its_deadline(srv):
    ctl, other = srv.raw(), srv.raw()
    sent = time.monotonic()
    assert ctl.cmd("CLIENT", "PAUSE", 500, "ALL") == "OK"
    ctl.send(encode("CLIENT", "UNPAUSE"))  # postponed too: ALL covers every request
    other.send(encode("PING"))
    assert other.read_reply(timeout=10) == "PONG"
    waited = time.monotonic() - sent
    assert ctl.read_reply(timeout=10) == "OK"
    assert waited >= 0.45, waited  # the pause's end is at least 500 ms after it was sent


def test_later_pause_extends_and_widens_but_never_shortens(srv):
    ctl, writer, pinger = srv.raw(), srv.raw(), srv.raw()
    assert ctl.cmd("CLIENT", "PAUSE", HOLD, "WRITE") == "OK"
    assert ctl.cmd("CLIENT", "PAUSE", 1, "WRITE") == "OK"  # does not end the first one
    writer.send(encode("SET", "k", "v"))
    writer.assert_no_reply(0.3)
    assert ctl.cmd("CLIENT", "UNPAUSE") == "OK"
    assert writer.read_reply() == "OK"
    # WRITE, then a shorter ALL: everything waits until the WRITE pause's end.
    sent = time.monotonic()
    assert ctl.cmd("CLIENT", "PAUSE", 600, "WRITE") == "OK"
    assert ctl.cmd("CLIENT", "PAUSE", 1, "ALL") == "OK"
    assert pinger.cmd("PING", timeout=10) == "PONG"
    assert time.monotonic() - sent >= 0.55


def test_postponed_client_that_goes_away_runs_nothing(srv):
    ctl, gone = srv.raw(), srv.raw()
    assert ctl.cmd("CLIENT", "PAUSE", HOLD, "WRITE") == "OK"
    gone.send(encode("SET", "ghost", "1"))
    gone.assert_no_reply(0.3)
    gone.close()
    time.sleep(0.2)  # the close reaches the server while it is still paused
    assert ctl.cmd("CLIENT", "UNPAUSE") == "OK"
    assert ctl.cmd("PING") == "PONG"
    assert ctl.cmd("EXISTS", "ghost") == 0
