"""The sidecar's connection commands follow the rules tiercache-l2 and Redis 7.0 follow (issue
#12's divergences; shared/session/ holds them once): the scripted exchanges of
connection_scenarios.py (which the main suite checks against redis-server and tiercache-l2)
played through the sidecar, and the sidecar's own cases: HELLO authenticates and names the
client and refuses an unauthenticated client, SELECT's bound is the `databases` setting,
COMMAND's entries have ten fields, QUIT and RESET run at once inside MULTI, RESET forgets the
name and the authentication, UNWATCH is queued; what it refuses that Redis queues (SELECT and
SUBSCRIBE inside MULTI) is refused with a clear error. WATCH and blocking commands:
test_pinned.py."""

import pytest

import connection_scenarios as cs
from helpers import RespError, check_reset_forgets_name_and_authentication


@pytest.mark.parametrize("name", sorted(cs.SCENARIOS))
def test_scenario(make_cluster, name):
    flags, steps = cs.SCENARIOS[name]
    cs.play(make_cluster().sidecar("a", **flags).raw(), steps)


def test_command_info_flags(cluster):
    r = cluster.a.raw()
    for name, want in cs.COMMAND_FLAGS.items():
        [entry] = r.cmd("COMMAND", "INFO", name)
        assert cs.flags_of(entry) == want, entry


def test_client_list_shows_each_clients_last_command(cluster):
    requests = [req for req, _ in cs.LAST_COMMANDS]
    assert cs.last_commands(cluster.a.raw(), cluster.a.raw(), requests) == \
        [shown for _, shown in cs.LAST_COMMANDS]


def test_what_the_sidecar_cannot_queue_is_refused_and_aborts_exec(cluster):
    """Redis queues SELECT and SUBSCRIBE inside MULTI; the sidecar refuses them (it sends the
    transaction in the client's db, on a connection shared by its clients) as a queueing error,
    so EXEC aborts as Redis's EXEC does after a refused command. WATCH inside MULTI gets
    Redis's own error, which does not abort the transaction."""
    r = cluster.a.raw()
    assert r.cmd("WATCH", "k") == "OK"
    assert r.cmd("MULTI") == "OK"
    assert r.cmd("WATCH", "k") == "ERR WATCH inside MULTI is not allowed"
    assert r.cmd("SELECT", "1") == "ERR 'select' inside MULTI is not supported by tiercache-sidecar"
    assert r.cmd("SUBSCRIBE", "c") == \
        "ERR 'subscribe' inside MULTI is not supported by tiercache-sidecar"
    assert r.cmd("SET", "k", "v") == "QUEUED"
    assert r.cmd("EXEC") == "EXECABORT Transaction discarded because of previous errors."
    assert r.cmd("GET", "k") is None


def test_hello_with_auth_and_setname(make_cluster):
    c = make_cluster()
    s = c.sidecar("a", requirepass="s3cret")
    r = s.raw()
    reply = r.cmd("HELLO", "2")
    assert isinstance(reply, RespError) and reply.startswith("NOAUTH HELLO must be called"), reply
    assert r.cmd("HELLO", "2", "AUTH", "default", "wrong") == \
        "WRONGPASS invalid username-password pair or user is disabled."
    reply = r.cmd("HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "app1")
    assert isinstance(reply, list) and b"proto" in reply, reply
    fields = dict(zip(reply[0::2], reply[1::2]))
    assert fields[b"version"] == b"7.0.15"
    assert r.cmd("CLIENT", "GETNAME") == b"app1"
    assert r.cmd("SET", "hk", "1") == "OK"
    assert r.cmd("GET", "hk") == b"1"


def test_reset_forgets_name_and_authentication(make_cluster):
    c = make_cluster()
    r = c.sidecar("a", requirepass="s3cret").raw()
    check_reset_forgets_name_and_authentication(r, "s3cret")


def test_select_bound_is_the_databases_setting(make_cluster):
    c = make_cluster()
    r = c.sidecar("a", databases=4).raw()
    assert r.cmd("SELECT", "3") == "OK"
    assert r.cmd("SELECT", "4") == "ERR DB index is out of range"


def test_command_info_entry_has_ten_fields(cluster):
    [entry] = cluster.a.raw().cmd("COMMAND", "INFO", "get")
    assert len(entry) == 10, entry
    assert entry[0] == b"get" and entry[1] == 2
    assert "readonly" in entry[2] and "fast" in entry[2], entry[2]


def test_quit_and_reset_inside_multi_are_not_queued(cluster):
    r = cluster.a.raw()
    assert r.cmd("MULTI") == "OK"
    assert r.cmd("SET", "mr", "1") == "QUEUED"
    assert r.cmd("UNWATCH") == "QUEUED"
    assert r.cmd("RESET") == "RESET"
    assert r.cmd("EXEC") == "ERR EXEC without MULTI"
    assert r.cmd("MULTI") == "OK"
    r.send(b"QUIT\r\n")
    assert r.expect_closed() == b"+OK\r\n"
    assert cluster.a.raw().cmd("GET", "mr") is None


def test_shutdown_is_not_relayed_to_the_shared_l2(cluster):
    """SHUTDOWN through one host's sidecar would stop the L2 of every host: refused, the L2
    keeps serving."""
    r = cluster.a.raw()
    for req in (["SHUTDOWN"], ["SHUTDOWN", "NOSAVE"]):
        reply = r.cmd(*req)
        assert isinstance(reply, RespError) and "does not relay 'shutdown'" in str(reply), reply
    assert cluster.l2_client().ping()
    assert r.cmd("SET", "still", "up") == "OK"
