"""busy-poll-us: after a loop turn that answered a client, tiercache-l2 polls without sleeping
for that long. Checked by the server's own CPU time (/proc): a client that sends a request every
5 ms keeps a server with a 10 ms window on its CPU the whole time, and the same client costs a
server without it (or with it switched off at run time) a small fraction of that; once the
clients stop, the server sleeps again. Redis has no such option."""

import os
import time

import pytest

pytestmark = pytest.mark.tiercache_only("busy-poll-us is tiercache-l2's own option")


def cpu_seconds(server):
    with open("/proc/%d/stat" % server.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_over(server, seconds, every=None):
    """The server's CPU seconds while a client sends a PING every `every` seconds (None: none)."""
    c = server.raw(unix=True)
    start = cpu_seconds(server)
    end = time.monotonic() + seconds
    pings = 0
    while time.monotonic() < end:
        if every is None:
            time.sleep(0.05)
            continue
        assert c.cmd("PING") == "PONG"
        pings += 1
        time.sleep(every)
    used = cpu_seconds(server) - start
    c.close()
    return used, pings


def test_busy_poll_spins_between_requests_then_sleeps(server_factory):
    s = server_factory(busy_poll_us=10000)
    c = s.client(unix=True)
    assert c.config_get("busy-poll-us") == {"busy-poll-us": "10000"}

    # Requests 5 ms apart inside a 10 ms window: the server never sleeps. On a loaded 2-core
    # machine it still gets a good share of a core over 2 s (0.3 s is a quarter at most of it).
    spinning, pings = cpu_over(s, 2.0, every=0.005)
    assert pings > 20
    assert spinning > 0.3, "a 10 ms busy-poll window used only %.2f s of CPU in 2 s" % spinning

    # Switched off at run time, the same load lets the server sleep between requests.
    c.config_set("busy-poll-us", 0)
    sleeping, _ = cpu_over(s, 2.0, every=0.005)
    assert sleeping < spinning / 3, "CPU %.2f s with busy polling off, %.2f s on" % (
        sleeping, spinning)

    # On again, then no clients: the window ends and the server sleeps.
    c.config_set("busy-poll-us", 10000)
    assert c.ping()
    time.sleep(0.1)
    idle, _ = cpu_over(s, 2.0)
    assert idle < 0.2, "an idle server with busy-poll-us used %.2f s of CPU in 2 s" % idle


def test_busy_poll_default_off_and_range(server_factory):
    s = server_factory()
    c = s.client(unix=True)
    assert c.config_get("busy-poll-us") == {"busy-poll-us": "0"}
    with pytest.raises(Exception, match="busy-poll-us"):
        c.config_set("busy-poll-us", 10001)
    with pytest.raises(Exception, match="busy-poll-us"):
        c.config_set("busy-poll-us", -1)
    assert c.config_get("busy-poll-us") == {"busy-poll-us": "0"}
    # It serves as usual with it on (a pipeline of writes and reads).
    c.config_set("busy-poll-us", 50)
    p = c.pipeline(transaction=False)
    for i in range(1000):
        p.set("k%d" % i, i)
    p.execute()
    assert c.mget(["k%d" % i for i in range(1000)]) == [b"%d" % i for i in range(1000)]
