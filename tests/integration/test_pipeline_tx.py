"""Pipelining (replies in order for one large send) and transactions: MULTI/EXEC/DISCARD,
queue-time errors (EXECABORT), run-time errors inside EXEC, WATCH/UNWATCH."""

import random

import pytest
import redis

from helpers import RespError, encode


@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix"])
def test_pipeline_1000_mixed_commands_in_one_send(server, r, unix):
    """1000 mixed commands sent in one write; the replies come back in order and match a model
    of the keyspace."""
    raw = server.raw(unix=unix)
    rng = random.Random(7)
    model, cmds, expected = {}, [], []
    for i in range(1000):
        k = "p%d" % rng.randrange(30)
        op = rng.choice(["SET", "GET", "INCR", "APPEND", "DEL", "EXISTS", "STRLEN", "PING",
                         "MGET", "ECHO"])
        if op == "SET":
            v = "v%d" % i
            cmds.append(("SET", k, v)); model[k] = v.encode(); expected.append("OK")
        elif op == "GET":
            cmds.append(("GET", k)); expected.append(model.get(k))
        elif op == "INCR":
            cur = model.get(k)
            cmds.append(("INCR", k))
            if cur is None or cur.lstrip(b"-").isdigit():
                n = int(cur or 0) + 1
                model[k] = str(n).encode(); expected.append(n)
            else:
                expected.append(RespError("ERR value is not an integer or out of range"))
        elif op == "APPEND":
            cmds.append(("APPEND", k, "x"))
            model[k] = model.get(k, b"") + b"x"; expected.append(len(model[k]))
        elif op == "DEL":
            cmds.append(("DEL", k)); expected.append(1 if model.pop(k, None) is not None else 0)
        elif op == "EXISTS":
            cmds.append(("EXISTS", k, k)); expected.append(2 if k in model else 0)
        elif op == "STRLEN":
            cmds.append(("STRLEN", k)); expected.append(len(model.get(k, b"")))
        elif op == "PING":
            cmds.append(("PING",)); expected.append("PONG")
        elif op == "MGET":
            k2 = "p%d" % rng.randrange(30)
            cmds.append(("MGET", k, k2)); expected.append([model.get(k), model.get(k2)])
        else:
            cmds.append(("ECHO", "e%d" % i)); expected.append(b"e%d" % i)
    raw.send(b"".join(encode(*c) for c in cmds))
    replies = raw.read_replies(len(cmds), timeout=20)
    for i, (c, want, got) in enumerate(zip(cmds, expected, replies)):
        assert got == want and type(got) is type(want), (i, c, want, got)
    raw.assert_no_reply(0.1)


def test_pipeline_inline_and_multibulk_mixed(raw):
    raw.send(b"SET a 1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nINCR a\r\n*1\r\n$4\r\nPING\r\nGET a\r\n")
    raw.expect(b"+OK\r\n$1\r\n1\r\n:2\r\n+PONG\r\n$1\r\n2\r\n")


def test_redis_py_pipeline(r):
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.set("k%d" % i, i)
        p.get("k%d" % i)
    out = p.execute()
    assert out == [x for i in range(200) for x in (True, str(i).encode())]


# -- MULTI / EXEC / DISCARD -----------------------------------------------------------------

def test_multi_exec(raw):
    assert raw.cmd("MULTI") == "OK"
    assert raw.cmd("SET", "a", "1") == "QUEUED"
    assert raw.cmd("INCR", "a") == "QUEUED"
    assert raw.cmd("GET", "a") == "QUEUED"
    assert raw.cmd("PUBLISH", "chan", "m") == "QUEUED"
    assert raw.cmd("EXEC") == ["OK", 2, b"2", 0]
    assert raw.cmd("GET", "a") == b"2"


def test_multi_exec_empty(raw):
    assert raw.cmd("MULTI") == "OK"
    assert raw.cmd("EXEC") == []


def test_commands_are_not_run_before_exec(server, raw):
    other = server.raw()
    raw.cmd("MULTI")
    raw.cmd("SET", "a", "1")
    assert other.cmd("GET", "a") is None
    raw.cmd("EXEC")
    assert other.cmd("GET", "a") == b"1"


def test_discard(raw):
    assert raw.cmd("MULTI") == "OK"
    assert raw.cmd("SET", "a", "1") == "QUEUED"
    assert raw.cmd("DISCARD") == "OK"
    assert raw.cmd("GET", "a") is None
    assert raw.cmd("DISCARD") == "ERR DISCARD without MULTI"


def test_exec_without_multi_and_nested_multi(raw):
    assert raw.cmd("EXEC") == "ERR EXEC without MULTI"
    assert raw.cmd("MULTI") == "OK"
    assert raw.cmd("MULTI") == "ERR MULTI calls can not be nested"
    assert raw.cmd("SET", "a", "1") == "QUEUED"
    assert raw.cmd("EXEC") == ["OK"]  # the nested MULTI did not abort the transaction


def test_queue_time_error_aborts_exec(raw):
    assert raw.cmd("MULTI") == "OK"
    assert raw.cmd("SET", "a", "1") == "QUEUED"
    assert raw.cmd("GET") == "ERR wrong number of arguments for 'get' command"
    assert raw.cmd("NOSUCH", "x") == \
        "ERR unknown command 'NOSUCH', with args beginning with: 'x' "
    assert raw.cmd("SET", "b", "1") == "QUEUED"
    assert raw.cmd("EXEC") == \
        "EXECABORT Transaction discarded because of previous errors."
    assert raw.cmd("EXISTS", "a", "b") == 0
    assert raw.cmd("EXEC") == "ERR EXEC without MULTI"  # the transaction is over


def test_runtime_error_inside_exec_does_not_abort_others(raw):
    raw.cmd("SET", "s", "abc")
    assert raw.cmd("MULTI") == "OK"
    assert raw.cmd("SET", "a", "1") == "QUEUED"
    assert raw.cmd("INCR", "s") == "QUEUED"
    assert raw.cmd("INCR", "a") == "QUEUED"
    assert raw.cmd("EXEC") == ["OK", RespError("ERR value is not an integer or out of range"), 2]
    assert raw.cmd("GET", "a") == b"2"


def test_redis_py_transaction_like_django_set_many(r):
    p = r.pipeline(transaction=True)
    p.set(":1:a", b"\x80\x04pickle", px=300000)
    p.set(":1:b", b"x", px=300000)
    p.delete(":1:c")
    assert p.execute() == [True, True, 0]
    assert r.mget(":1:a", ":1:b") == [b"\x80\x04pickle", b"x"]


def test_multi_in_select_db(server, raw):
    raw.cmd("SELECT", "2")
    raw.cmd("MULTI")
    raw.cmd("SET", "a", "db2")
    raw.cmd("SELECT", "3")
    raw.cmd("SET", "a", "db3")
    assert raw.cmd("EXEC") == ["OK", "OK", "OK"]
    assert server.client(db=2).get("a") == b"db2"
    assert server.client(db=3).get("a") == b"db3"


# -- WATCH / UNWATCH ------------------------------------------------------------------------

def test_watch_write_by_other_client_aborts_exec(server, raw):
    raw.cmd("SET", "w", "1")
    assert raw.cmd("WATCH", "w") == "OK"
    server.raw().cmd("SET", "w", "2")
    raw.cmd("MULTI")
    raw.cmd("SET", "w", "3")
    raw.send(b"EXEC\r\n")
    raw.expect(b"*-1\r\n")  # nil multi-bulk in RESP2
    assert raw.cmd("GET", "w") == b"2"


def test_watch_untouched_key_exec_runs(server, raw):
    raw.cmd("SET", "w", "1")
    raw.cmd("WATCH", "w", "other")
    server.raw().cmd("SET", "unrelated", "2")
    raw.cmd("MULTI")
    raw.cmd("INCR", "w")
    assert raw.cmd("EXEC") == [2]
    # EXEC clears the watch: a later write does not affect the next transaction
    server.raw().cmd("SET", "w", "9")
    raw.cmd("MULTI")
    raw.cmd("INCR", "w")
    assert raw.cmd("EXEC") == [10]


def test_watch_missing_key_then_created(server, raw):
    raw.cmd("WATCH", "new")
    server.raw().cmd("SET", "new", "x")
    raw.cmd("MULTI")
    raw.cmd("SET", "new", "mine")
    assert raw.cmd("EXEC") is None
    assert raw.cmd("GET", "new") == b"x"


def test_watch_delete_and_expire_by_other_client(server, raw):
    raw.cmd("SET", "d", "1")
    raw.cmd("WATCH", "d")
    server.raw().cmd("DEL", "d")
    raw.cmd("MULTI")
    raw.cmd("SET", "d", "mine")
    assert raw.cmd("EXEC") is None
    raw.cmd("SET", "e", "1")
    raw.cmd("WATCH", "e")
    server.raw().cmd("EXPIRE", "e", "100")
    raw.cmd("MULTI")
    raw.cmd("SET", "e", "mine")
    assert raw.cmd("EXEC") is None


def test_watch_flushdb_by_other_client(server, raw):
    raw.cmd("SET", "f", "1")
    raw.cmd("WATCH", "f")
    server.raw().cmd("FLUSHDB")
    raw.cmd("MULTI")
    raw.cmd("SET", "f", "mine")
    assert raw.cmd("EXEC") is None


def test_watch_other_db_same_key_name_does_not_abort(server, raw):
    raw.cmd("SET", "x", "1")
    raw.cmd("WATCH", "x")
    other = server.raw()
    other.cmd("SELECT", "1")
    other.cmd("SET", "x", "db1")
    raw.cmd("MULTI")
    raw.cmd("INCR", "x")
    assert raw.cmd("EXEC") == [2]


def test_unwatch(server, raw):
    raw.cmd("SET", "w", "1")
    raw.cmd("WATCH", "w")
    assert raw.cmd("UNWATCH") == "OK"
    server.raw().cmd("SET", "w", "2")
    raw.cmd("MULTI")
    raw.cmd("INCR", "w")
    assert raw.cmd("EXEC") == [3]


def test_watch_inside_multi_is_an_error(raw):
    raw.cmd("MULTI")
    assert raw.cmd("WATCH", "x") == "ERR WATCH inside MULTI is not allowed"
    assert raw.cmd("EXEC") == []


def test_discard_clears_watch(server, raw):
    raw.cmd("SET", "w", "1")
    raw.cmd("WATCH", "w")
    raw.cmd("MULTI")
    raw.cmd("DISCARD")
    server.raw().cmd("SET", "w", "2")
    raw.cmd("MULTI")
    raw.cmd("INCR", "w")
    assert raw.cmd("EXEC") == [3]


def test_redis_py_watch_retry_loop(server, r):
    r.set("counter", 0)
    other = server.client()
    attempts = 0
    with r.pipeline() as p:
        while True:
            try:
                p.watch("counter")
                value = int(p.get("counter"))
                attempts += 1
                if attempts == 1:
                    other.incr("counter")  # concurrent write: the first EXEC must fail
                p.multi()
                p.set("counter", value + 10)
                p.execute()
                break
            except redis.WatchError:
                continue
    assert attempts == 2
    assert r.get("counter") == b"11"


# -- many clients ---------------------------------------------------------------------------

def test_concurrent_clients_increment_one_counter(server, r):
    import threading

    errors = []

    def worker(n):
        try:
            c = server.client(unix=(n % 2 == 0))
            for i in range(200):
                c.incr("shared")
                c.set("own:%d" % n, i)
            assert c.get("own:%d" % n) == b"199"
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert r.get("shared") == b"4000"
    assert r.dbsize() == 21
