"""Connection and server commands with Redis 7 semantics and exact error texts: PING, ECHO,
SELECT, QUIT, AUTH, HELLO, CLIENT, COMMAND, CONFIG GET, INFO, TIME, and the data types tiercache
does not have. String and keyspace commands are in test_commands_keys.py."""

import re
import time

import pytest
import redis

from helpers import RespError

WRONG_ARITY = "ERR wrong number of arguments for '%s' command"
NOT_INT = "ERR value is not an integer or out of range"


# -- PING / ECHO ----------------------------------------------------------------------------

def test_ping_without_and_with_argument(raw):
    assert raw.cmd("PING") == "PONG"
    assert raw.cmd("PING", "hello world") == b"hello world"
    assert raw.cmd("ping") == "PONG"  # case-insensitive command names
    raw.send(b"*1\r\n$4\r\nPiNg\r\n")
    raw.expect(b"+PONG\r\n")


def test_ping_wrong_arity_keeps_connection(raw):
    assert raw.cmd("PING", "a", "b") == WRONG_ARITY % "ping"
    assert raw.cmd("PING") == "PONG"


def test_echo(raw):
    assert raw.cmd("ECHO", "x\x00y") == b"x\x00y"
    assert raw.cmd("ECHO", "") == b""
    assert raw.cmd("ECHO") == WRONG_ARITY % "echo"
    assert raw.cmd("ECHO", "a", "b") == WRONG_ARITY % "echo"


def test_unknown_command_error_text(raw):
    assert raw.cmd("NOSUCHCMD", "a", "b") == \
        "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' "
    assert raw.cmd("nosuchcmd") == "ERR unknown command 'nosuchcmd', with args beginning with: "
    assert raw.cmd("PING") == "PONG"


# -- SELECT ---------------------------------------------------------------------------------

def test_select_isolates_databases(server, r):
    r.set("k", "db0")
    c15 = server.client(db=15)
    assert c15.get("k") is None
    c15.set("k", "db15")
    assert r.get("k") == b"db0"
    assert c15.get("k") == b"db15"
    assert r.dbsize() == 1 and c15.dbsize() == 1


def test_select_errors(raw):
    assert raw.cmd("SELECT", "16") == "ERR DB index is out of range"
    assert raw.cmd("SELECT", "-1") == "ERR DB index is out of range"
    assert raw.cmd("SELECT", "abc") == NOT_INT
    assert raw.cmd("SELECT") == WRONG_ARITY % "select"
    assert raw.cmd("SELECT", "15") == "OK"
    assert raw.cmd("SET", "where", "15") == "OK"
    assert raw.cmd("SELECT", "0") == "OK"
    assert raw.cmd("GET", "where") is None


# -- QUIT -----------------------------------------------------------------------------------

def test_quit_replies_ok_and_closes(server, raw):
    raw.send(b"QUIT\r\n")
    assert raw.expect_closed() == b"+OK\r\n"
    assert server.raw().cmd("PING") == "PONG"


def test_quit_after_pipelined_commands_answers_them_first(raw):
    raw.send(b"SET q 1\r\nGET q\r\nQUIT\r\nGET q\r\n")
    assert raw.expect_closed() == b"+OK\r\n$1\r\n1\r\n+OK\r\n"


# -- AUTH -----------------------------------------------------------------------------------

def test_auth_without_password_configured(raw):
    assert raw.cmd("AUTH", "x") == (
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?")
    assert raw.cmd("PING") == "PONG"


def test_auth_with_password(server_factory):
    s = server_factory(requirepass="s3cret")
    c = s.raw()
    assert c.cmd("GET", "a") == "NOAUTH Authentication required."
    assert c.cmd("AUTH", "wrong") == \
        "WRONGPASS invalid username-password pair or user is disabled."
    assert c.cmd("GET", "a") == "NOAUTH Authentication required."
    assert c.cmd("AUTH", "s3cret") == "OK"
    assert c.cmd("SET", "a", "1") == "OK"
    assert c.cmd("GET", "a") == b"1"
    # AUTH <user> <password> with the default user, as redis-py sends with a username
    c2 = s.raw()
    assert c2.cmd("AUTH", "default", "s3cret") == "OK"
    assert c2.cmd("GET", "a") == b"1"
    c3 = s.raw()
    assert c3.cmd("AUTH", "default", "nope") == \
        "WRONGPASS invalid username-password pair or user is disabled."
    assert c3.cmd("AUTH") == WRONG_ARITY % "auth"
    # redis-py with the password works end to end
    assert s.client().get("a") == b"1"
    with pytest.raises(redis.ResponseError, match="^WRONGPASS"):
        s.client(password="wrong").get("a")


# -- HELLO ----------------------------------------------------------------------------------

def test_hello_2_returns_flat_map(raw):
    reply = raw.cmd("HELLO", "2")
    assert isinstance(reply, list) and len(reply) % 2 == 0, reply
    fields = dict(zip(reply[0::2], reply[1::2]))
    for key in (b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"):
        assert key in fields, (key, reply)
    assert fields[b"proto"] == 2
    assert isinstance(fields[b"id"], int)
    assert isinstance(fields[b"server"], bytes) and fields[b"server"]
    assert re.match(rb"^\d+\.\d+\.\d+", fields[b"version"]), fields[b"version"]
    assert raw.cmd("CLIENT", "ID") == fields[b"id"]
    # still RESP2 afterwards
    raw.send(b"PING\r\n")
    raw.expect(b"+PONG\r\n")


def test_hello_without_version_and_with_bad_version(raw):
    reply = raw.cmd("HELLO")
    assert isinstance(reply, list) and b"proto" in reply
    assert raw.cmd("HELLO", "4") == "NOPROTO unsupported protocol version"
    assert raw.cmd("HELLO", "1") == "NOPROTO unsupported protocol version"
    assert raw.cmd("HELLO", "abc") == "ERR Protocol version is not an integer or out of range"


@pytest.mark.tiercache_only("redis 7.0 speaks RESP3; tiercache is RESP2 only")
def test_hello_3_is_refused_and_connection_stays_resp2(raw):
    reply = raw.cmd("HELLO", "3")
    assert isinstance(reply, RespError) and reply.startswith("NOPROTO"), reply
    raw.send(b"PING\r\nHGETALL nothing\r\n")
    raw.expect(b"+PONG\r\n")


# -- CLIENT ---------------------------------------------------------------------------------

def test_client_setname_getname_id(server, raw):
    assert raw.cmd("CLIENT", "GETNAME") is None
    assert raw.cmd("CLIENT", "SETNAME", "worker-1") == "OK"
    assert raw.cmd("CLIENT", "GETNAME") == b"worker-1"
    assert raw.cmd("CLIENT", "SETNAME", "a b") == \
        "ERR Client names cannot contain spaces, newlines or special characters."
    my_id = raw.cmd("CLIENT", "ID")
    other_id = server.raw().cmd("CLIENT", "ID")
    assert isinstance(my_id, int) and isinstance(other_id, int) and my_id != other_id
    assert other_id > my_id  # ids grow with connection order


def test_client_list_shows_connections(server, raw):
    raw.cmd("CLIENT", "SETNAME", "lister")
    other = server.raw()
    other.cmd("CLIENT", "SETNAME", "other")
    listing = raw.cmd("CLIENT", "LIST")
    assert isinstance(listing, bytes)
    lines = [l for l in listing.decode().split("\n") if l]
    entries = [dict(f.split("=", 1) for f in l.split(" ") if "=" in f) for l in lines]
    names = {e.get("name") for e in entries}
    assert {"lister", "other"} <= names, lines
    me = [e for e in entries if e.get("name") == "lister"][0]
    assert int(me["id"]) == raw.cmd("CLIENT", "ID")
    assert re.match(r"^127\.0\.0\.1:\d+$", me["addr"]), me
    assert me["db"] == "0"


def test_client_kill_by_id(server, raw):
    victim = server.raw()
    vid = victim.cmd("CLIENT", "ID")
    assert raw.cmd("CLIENT", "KILL", "ID", str(vid)) == 1
    victim.expect_closed()
    assert raw.cmd("CLIENT", "KILL", "ID", str(vid)) == 0
    assert raw.cmd("PING") == "PONG"


def test_client_kill_by_addr(server, raw):
    victim = server.raw()
    victim.cmd("CLIENT", "SETNAME", "victim")
    listing = raw.cmd("CLIENT", "LIST").decode()
    addr = re.search(r"addr=(\S+) .*name=victim ", listing).group(1)
    assert raw.cmd("CLIENT", "KILL", "ADDR", addr) == 1
    victim.expect_closed()
    # the old form CLIENT KILL ip:port answers +OK, or an error for no such client
    assert raw.cmd("CLIENT", "KILL", addr) == "ERR No such client"
    v2 = server.raw()
    v2.cmd("CLIENT", "SETNAME", "victim2")
    addr2 = re.search(r"addr=(\S+) .*name=victim2 ", raw.cmd("CLIENT", "LIST").decode()).group(1)
    assert raw.cmd("CLIENT", "KILL", addr2) == "OK"
    v2.expect_closed()


# -- COMMAND --------------------------------------------------------------------------------

def test_command_count_info_docs(raw):
    count = raw.cmd("COMMAND", "COUNT")
    assert isinstance(count, int) and count >= 20
    info = raw.cmd("COMMAND", "INFO", "get", "set", "nosuchcommand")
    assert isinstance(info, list) and len(info) == 3
    get = info[0]
    assert get[0] == b"get" and get[1] == 2
    assert get[3:6] == [1, 1, 1]  # first key, last key, step
    assert info[1][0] == b"set" and info[1][1] == -3
    assert info[2] is None
    docs = raw.cmd("COMMAND", "DOCS", "get")
    assert isinstance(docs, list) and docs and docs[0] == b"get"
    all_cmds = raw.cmd("COMMAND")
    assert isinstance(all_cmds, list) and len(all_cmds) == count
    assert b"get" in {c[0] for c in all_cmds}


# -- CONFIG GET -----------------------------------------------------------------------------

def test_config_get_what_benchmarks_ask(raw):
    assert raw.cmd("CONFIG", "GET", "save") == [b"save", b""]
    assert raw.cmd("CONFIG", "GET", "appendonly") == [b"appendonly", b"no"]
    reply = raw.cmd("CONFIG", "GET", "maxmemory")
    assert reply[0] == b"maxmemory" and reply[1].isdigit()
    assert raw.cmd("CONFIG", "GET", "no-such-parameter") == []
    assert raw.cmd("CONFIG", "GET") == WRONG_ARITY % "config|get"


def test_config_get_reflects_flags(server_factory):
    s = server_factory(maxmemory="64mb", maxmemory_policy="volatile-ttl", maxclients=77)
    c = s.raw()
    assert c.cmd("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"67108864"]
    assert c.cmd("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"volatile-ttl"]
    assert c.cmd("CONFIG", "GET", "maxclients") == [b"maxclients", b"77"]


@pytest.mark.tiercache_only("redis-server does not parse IEC units like MiB")
def test_iec_size_units(server_factory):
    s = server_factory(maxmemory="64MiB")
    assert s.raw().cmd("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"67108864"]


# -- INFO -----------------------------------------------------------------------------------

def test_info_sections_and_field_names(server):
    info = server.info()
    for section in ("server", "clients", "memory", "stats", "keyspace"):
        assert section in info["__sections__"], info["__sections__"]
    for field in ("redis_version", "process_id", "tcp_port", "uptime_in_seconds",
                  "connected_clients", "used_memory", "used_memory_human", "keyspace_hits",
                  "keyspace_misses", "expired_keys", "evicted_keys", "total_commands_processed",
                  "rejected_connections", "total_connections_received"):
        assert field in info, field
    assert info["tcp_port"] == server.port
    assert info["process_id"] == server.proc.pid
    assert isinstance(info["used_memory"], int) and info["used_memory"] > 0
    assert re.match(r"^\d+(\.\d+)?[BKMG]$", info["used_memory_human"]), info["used_memory_human"]


def test_info_single_section(server):
    mem = server.info("memory")
    assert mem["__sections__"] == ["memory"]
    assert "used_memory" in mem and "connected_clients" not in mem
    assert server.info("keyspace")["__sections__"] == ["keyspace"]


def test_info_counters_move(server, r):
    before = server.info()
    r.set("h", "1")
    r.get("h")
    r.get("h")
    r.get("missing")
    after = server.info()
    assert after["keyspace_hits"] - before["keyspace_hits"] == 2
    assert after["keyspace_misses"] - before["keyspace_misses"] == 1
    assert after["total_commands_processed"] - before["total_commands_processed"] >= 4


def test_info_keyspace_lines(server, r):
    r.set("a", "1")
    r.set("b", "1", ex=100)
    server.client(db=3).set("c", "1")
    ks = server.info("keyspace")
    assert ks["db0"]["keys"] == 2 and ks["db0"]["expires"] == 1
    assert ks["db3"] == {"keys": 1, "expires": 0, "avg_ttl": 0}
    assert "db1" not in ks
    text = server.raw().cmd("INFO", "keyspace").decode()
    assert re.search(r"^db0:keys=2,expires=1,avg_ttl=\d+\r$", text, re.M), text


def test_info_connected_clients(server):
    base = server.info()["connected_clients"]
    extra = [server.raw() for _ in range(3)]
    for c in extra:
        assert c.cmd("PING") == "PONG"
    assert server.info()["connected_clients"] == base + 3
    for c in extra:
        c.close()
    deadline = time.monotonic() + 2
    while server.info()["connected_clients"] != base and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.info()["connected_clients"] == base


@pytest.mark.tiercache_only("these counters are new in tiercache (redis 7.4 added them)")
def test_info_tiercache_buffer_limit_counters(server):
    stats = server.info("stats")
    assert stats["client_query_buffer_limit_disconnections"] == 0
    assert stats["client_output_buffer_limit_disconnections"] == 0


# -- TIME -----------------------------------------------------------------------------------

def test_time(raw):
    secs, usecs = raw.cmd("TIME")
    now = time.time()
    assert abs(int(secs) + int(usecs) / 1e6 - now) < 2
    assert 0 <= int(usecs) < 1000000


# -- data types tiercache does not implement -------------------------------------------------

@pytest.mark.tiercache_only("redis implements streams, bitmaps")
@pytest.mark.parametrize("cmd", [
    ("XADD", "x", "*", "f", "v"),
    ("SETBIT", "b", "1", "1")])
def test_other_data_types_answer_an_error(raw, cmd):
    reply = raw.cmd(*cmd)
    assert isinstance(reply, RespError) and reply.startswith("ERR tiercache-l2 does not support"), reply
    assert raw.cmd("EXISTS", cmd[1]) == 0
    assert raw.cmd("PING") == "PONG"
