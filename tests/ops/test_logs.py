"""Logs: one line per event in one format (time, level, program[pid], message), levelled,
nothing at info or above per request, and no secret (requirepass, l2-password) in any line,
even at debug level and after failed AUTH attempts."""

import re

import redis

from conftest import wait_for

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} (debug|info|warning|error|critical) "
                  r"tiercache-(l2|sidecar)\[\d+\] \S.*$")
SECRET = "pw-7f3a9c-never-in-logs"


def test_log_format_levels_and_no_secrets(procs):
    l2 = procs.l2("--requirepass", SECRET, "--loglevel", "debug")
    sc = procs.sidecar(l2.port, "--l2-password", SECRET, "--requirepass", SECRET,
                       "--loglevel", "debug")
    c = redis.Redis(unix_socket_path=sc.socket, password=SECRET)
    wait_for(lambda: c.info("tiercache")["bus_healthy"] == 1, what="bus healthy")
    before = [ln for ln in sc.output().splitlines() if " debug " not in ln]
    for i in range(300):
        c.set("k%d" % i, "v")
        c.get("k%d" % i)
    try:
        redis.Redis(unix_socket_path=sc.socket, password="wrong-" + SECRET).ping()
    except redis.exceptions.RedisError:
        pass
    try:
        redis.Redis(port=l2.port, password="wrong-" + SECRET).ping()
    except redis.exceptions.RedisError:
        pass
    after = [ln for ln in sc.output().splitlines() if " debug " not in ln]
    assert len(after) - len(before) < 5, "info+ lines per request:\n" + "\n".join(after)
    assert sc.stop() == 0
    assert l2.stop() == 0
    for p in (l2, sc):
        out = p.output()
        assert SECRET not in out
        lines = out.splitlines()
        assert lines, "no log at all"
        for ln in lines:
            assert LINE.match(ln), "not one event per line in the log format: %r" % ln
        assert any(" info " in ln and "ready" in ln for ln in lines)
        assert any(" info " in ln and "stopped" in ln for ln in lines)
