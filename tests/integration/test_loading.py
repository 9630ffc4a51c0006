"""Loading the RDB file at start, as redis-server 7.0 does it: the server listens first and,
while the file loads, answers -LOADING to every command without COMMAND INFO's `loading` flag
(PING included) and runs the others (INFO shows loading:1 and the loading_* fields); a SHUTDOWN
or SIGTERM meanwhile exits at once, 0, without saving the half-loaded keyspace. On both
targets. The load is made slow by Redis's own debugging options, which tiercache-l2 has too:
`key-load-delay` (1 ms per key: 3,000 keys load in over 3 s on any machine, under ASan too)
and `loading-process-events-interval-bytes` 1024 (the loop turns at every key)."""

import hashlib
import os
import random
import signal
import time

import pytest

from helpers import encode, parse_info
from servers import ServerFactory

KEYS, VALUE_BYTES = 3000, 1024
SLOW_LOAD = dict(key_load_delay=1000, loading_process_events_interval_bytes=1024)
LOADING = "LOADING Redis is loading the dataset in memory"
TIMEOUT = 60  # generous: a load of over 3 s, on a busy machine, under ASan


@pytest.fixture(scope="module")
def big_dump(target, tmp_path_factory):
    """(path of a dump the target saved, {key: sha1 of its value}), made once per module."""
    d = tmp_path_factory.mktemp("big-dump")
    factory = ServerFactory(target)
    try:
        c = factory(dir=str(d)).client(socket_timeout=TIMEOUT)
        digests = {}
        p = c.pipeline(transaction=False)
        for i in range(KEYS):
            key, value = b"big:%05d" % i, random.Random(i).randbytes(VALUE_BYTES)
            p.set(key, value)
            digests[key] = hashlib.sha1(value).digest()
            if i % 200 == 199:
                p.execute()
                p = c.pipeline(transaction=False)
        p.execute()
        assert c.execute_command("SAVE") in (True, b"OK")
    finally:
        factory.stop_all()
    return d / "dump.rdb", digests


def start_loading(server_factory, dump, tmp_path, **flags):
    """A server started on (a hard link to) dump, slowly loading it, returned as soon as it
    answers PING, while it still loads; a test that finds the load already over fails with a
    clear message."""
    os.link(dump, tmp_path / "dump.rdb")  # a save would replace the link, never the dump
    s = server_factory(dir=str(tmp_path), start_timeout=TIMEOUT, loaded=False, **SLOW_LOAD,
                       **flags)
    c = s.raw(timeout=TIMEOUT)
    assert c.cmd("GET", "big:00000", timeout=TIMEOUT) == LOADING, "the load was over too soon"
    return s, c


def pipelined(c, *requests):
    """The replies to requests sent at once: the server answers them in one turn of its loop
    (it turns at every key), so the checks take little of the load's time."""
    c.send(b"".join(encode(*r) for r in requests))
    return c.read_replies(len(requests), timeout=TIMEOUT)


def test_while_loading_only_loading_commands_run(server_factory, big_dump, tmp_path):
    dump, digests = big_dump
    s, c = start_loading(server_factory, dump, tmp_path)
    sub = s.raw(timeout=TIMEOUT)
    # Commands (and subcommands) with the loading flag run; the others answer -LOADING.
    # Redis 7.0's order of checks: arity, then RESP2 subscribed mode, then loading.
    assert pipelined(
        c, ["PING"], ["ECHO", "x"], ["CONFIG", "GET", "dir"], ["CLIENT", "SETNAME", "n"],
        ["PUBLISH", "ch", "m"],
        ["OBJECT", "ENCODING", "big:00000"], ["MEMORY", "USAGE", "big:00000"], ["SCRIPT", "KILL"],
        ["SET", "k", "v"], ["DBSIZE"], ["SAVE"], ["BGSAVE"], ["FLUSHALL"], ["EVAL", "return 1", "0"],
        ["GET"], ["MULTI"], ["GET", "big:00000"], ["EXEC"]) == [
        LOADING, b"x", [b"dir", str(tmp_path).encode()], "OK", 0] + [LOADING] * 9 + [
        "ERR wrong number of arguments for 'get' command", "OK", LOADING,
        "EXECABORT Transaction discarded because of previous errors."]
    assert pipelined(sub, ["SUBSCRIBE", "ch"], ["GET", "k"], ["PING"]) == [
        [b"subscribe", b"ch", 1],
        "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context", LOADING]
    info = parse_info(c.cmd("INFO", "persistence", timeout=TIMEOUT))
    assert info["loading"] == 1 and info["async_loading"] == 0, "the load was over too soon"
    assert info["loading_total_bytes"] == os.path.getsize(dump)
    assert abs(info["loading_start_time"] - time.time()) < TIMEOUT
    assert info["loading_rdb_used_mem"] > 0  # the dump's used-mem AUX field
    assert 0 <= info["loading_loaded_perc"] < 100 and info["loading_eta_seconds"] >= 0
    # loading_loaded_bytes grows until the load ends.
    seen = []
    deadline = time.monotonic() + TIMEOUT
    while info["loading"] == 1 and time.monotonic() < deadline:
        seen.append(info["loading_loaded_bytes"])
        info = parse_info(c.cmd("INFO", "persistence", timeout=TIMEOUT))
    assert info["loading"] == 0 and "loading_loaded_bytes" not in info
    assert seen == sorted(seen) and len(set(seen)) >= 2, seen
    # Then every command runs and every key is there.
    assert pipelined(c, ["PING"], ["DBSIZE"]) == ["PONG", KEYS]
    assert info["rdb_last_load_keys_loaded"] == KEYS
    r = s.client(socket_timeout=TIMEOUT)
    keys = sorted(digests)
    for i in range(0, KEYS, 50):
        values = r.mget(keys[i:i + 50])
        assert [hashlib.sha1(v).digest() for v in values] == [digests[k] for k in keys[i:i + 50]]


@pytest.mark.parametrize("how", ["sigterm", "shutdown-save"])
def test_shutdown_while_loading_exits_without_saving(server_factory, big_dump, tmp_path, how):
    """As Redis 7.0's prepareForShutdown: a SIGTERM, or even SHUTDOWN SAVE, while the file loads
    exits at once with 0 and saves nothing (with `save` rules set, that would write half of
    the keys over the dump)."""
    dump, _ = big_dump
    s, c = start_loading(server_factory, dump, tmp_path, save="3600 1")
    if how == "sigterm":
        s.proc.send_signal(signal.SIGTERM)
    else:
        c.send(encode("SHUTDOWN", "SAVE"))
        assert c.expect_closed(timeout=TIMEOUT) == b""
    assert s.proc.wait(TIMEOUT) == 0
    s.stopped = True
    assert os.stat(tmp_path / "dump.rdb").st_ino == os.stat(dump).st_ino  # not replaced
    assert [f for f in os.listdir(tmp_path) if f.startswith("temp-")] == []
