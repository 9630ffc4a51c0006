"""Connection commands where tiercache once diverged from Redis 7.0 (issue #12), checked against
both tiercache-l2 and redis-server (TIERCACHE_TEST_TARGET=redis): QUIT and RESET run at once
inside MULTI, UNWATCH is queued, HELLO authenticates and names the client, SELECT's bound is
the `databases` setting, COMMAND's entries have Redis 7's ten fields. The sidecar's side of
the same rules is in sidecar/test_connection_commands_sidecar.py."""

import pytest

from helpers import RespError, check_reset_forgets_name_and_authentication


def test_quit_inside_multi_is_not_queued(raw):
    assert raw.cmd("MULTI") == "OK"
    assert raw.cmd("SET", "mq", "1") == "QUEUED"
    raw.send(b"QUIT\r\n")
    assert raw.expect_closed() == b"+OK\r\n"


def test_reset_inside_multi_is_not_queued(raw):
    assert raw.cmd("MULTI") == "OK"
    assert raw.cmd("SET", "mr", "1") == "QUEUED"
    assert raw.cmd("RESET") == "RESET"
    assert raw.cmd("EXEC") == "ERR EXEC without MULTI"
    assert raw.cmd("GET", "mr") is None


def test_reset_forgets_name_and_authentication(server_factory):
    s = server_factory(requirepass="s3cret")
    c = s.raw()
    check_reset_forgets_name_and_authentication(c, "s3cret")


def test_unwatch_inside_multi_is_queued(raw):
    assert raw.cmd("MULTI") == "OK"
    assert raw.cmd("UNWATCH") == "QUEUED"
    assert raw.cmd("EXEC") == ["OK"]


def test_hello_with_auth_and_setname(server_factory):
    s = server_factory(requirepass="s3cret")
    c = s.raw()
    reply = c.cmd("HELLO", "2")
    assert isinstance(reply, RespError) and reply.startswith("NOAUTH HELLO must be called"), reply
    assert c.cmd("HELLO", "2", "AUTH", "default", "wrong") == \
        "WRONGPASS invalid username-password pair or user is disabled."
    reply = c.cmd("HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "app1")
    assert isinstance(reply, list) and b"proto" in reply, reply
    assert c.cmd("CLIENT", "GETNAME") == b"app1"
    assert c.cmd("PING") == "PONG"


def test_select_bound_is_the_databases_setting(server_factory):
    c = server_factory(databases=4).raw()
    assert c.cmd("SELECT", "3") == "OK"
    assert c.cmd("SELECT", "4") == "ERR DB index is out of range"


def test_command_info_entry_has_ten_fields(raw):
    [entry] = raw.cmd("COMMAND", "INFO", "get")
    assert len(entry) == 10, entry
    assert entry[0] == b"get" and entry[1] == 2
    assert "readonly" in entry[2] and "fast" in entry[2], entry[2]
    assert entry[3:6] == [1, 1, 1]


@pytest.mark.parametrize("name", ["multi", "exec", "discard", "watch", "unwatch"])
def test_transaction_commands_are_in_the_transactions_group(raw, name):
    docs = raw.cmd("COMMAND", "DOCS", name)
    fields = dict(zip(docs[1][0::2], docs[1][1::2]))
    assert fields[b"group"] == b"transactions", docs
