"""Hostile clients against both servers: one that pipelines and never reads, a subscriber that
stops reading, and slowloris connections that trickle partial frames. Limits hold (the
offender is disconnected and counted, memory stays bounded) and a well-behaved client's p99
stays within 2x of its p99 before the attack, plus SCHED_SLACK for a loaded machine."""
import os
import socket
import threading
import time

import pytest

from sidecars import Cluster, wait_for


def rss(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def probe_p99(connect, n=600):
    s = connect()
    lat = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            s.sendall(b"*2\r\n$3\r\nGET\r\n$5\r\nprobe\r\n")
            got = b""
            while not got.endswith(b"\r\n") or got.startswith(b"$") and got.count(b"\r\n") < 2:
                got += s.recv(4096)
            lat.append(time.perf_counter() - t0)
    finally:
        s.close()
    lat.sort()
    return lat[int(len(lat) * 0.99) - 1]


# On a loaded 2-core machine (CI, or scripts/flaky.sh with LOAD=1) the attack's extra runnable
# threads cost the probe whole scheduler slices: up to 3.9 ms of p99 in 10 loaded rounds, with
# a 2 ms slack failing 4 rounds in 10. A client starved by the offender would instead wait for
# the offender's batches (a 16 KiB read of pipelined GETs of 100 KB is ~70 MB of replies).
SCHED_SLACK = 0.010


def assert_p99_within(base, during, what):
    assert during <= max(2 * base, base + SCHED_SLACK), \
        "%s: probe p99 %.3f ms under attack vs %.3f ms before" % (what, during * 1e3, base * 1e3)


@pytest.fixture(params=["l2", "sidecar"])
def target(request):
    """(connect(), info(section), pid) for the server under test, with small output limits."""
    with Cluster("tiercache", l2_flags={"client_output_buffer_limit_normal": "2mb",
                                        "client_output_buffer_limit_pubsub": "1mb"}) as cl:
        if request.param == "l2":
            l2 = cl.l2

            def connect():
                return socket.create_connection(("127.0.0.1", l2.port), timeout=10)
            yield request.param, connect, lambda sec: l2.info(sec), l2.proc.pid, l2.client()
        else:
            sc = cl.sidecar("a", client_output_buffer_limit="2mb")

            def connect():
                s = socket.socket(socket.AF_UNIX)
                s.connect(sc.socket)
                s.settimeout(10)
                return s
            yield request.param, connect, lambda sec: sc.info(sec), sc.proc.pid, sc.client()


def test_client_that_never_reads_is_disconnected_and_others_unaffected(target):
    kind, connect, info, pid, client = target
    client.set("big", b"x" * 100000)
    client.set("probe", "p")
    base = probe_p99(connect)
    bad = connect()
    bad.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    req = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 200
    stop = threading.Event()

    def flood():
        try:
            while not stop.is_set():
                bad.sendall(req)
        except OSError:
            pass  # disconnected: what we want
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    during = probe_p99(connect)
    wait_for(lambda: info("stats")["client_output_buffer_limit_disconnections"] >= 1,
             timeout=10, what="%s disconnects the client that never reads" % kind)
    stop.set()
    bad.close()
    assert_p99_within(base, during, kind)
    assert rss(pid) < 256 << 20


def test_slowloris_connections_hold_memory_bounded(target):
    kind, connect, info, pid, client = target
    client.set("probe", "p")
    base = probe_p99(connect)
    before = rss(pid)
    loris = [connect() for _ in range(300)]
    for i, s in enumerate(loris):
        s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n" % (10 + i % 7))  # a frame that never completes
    for _ in range(3):
        for s in loris:
            s.sendall(b"a")
        time.sleep(0.05)
    during = probe_p99(connect)
    grown = rss(pid) - before
    for s in loris:
        s.close()
    assert grown < 300 * 64 * 1024, "%d bytes for 300 idle partial frames" % grown
    assert_p99_within(base, during, kind)
    wait_for(lambda: client.ping(), what="still serving")


def test_subscriber_that_stops_reading_is_disconnected(target):
    kind, connect, info, pid, client = target
    sub = connect()
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sub.sendall(b"SUBSCRIBE flood\r\n")
    time.sleep(0.2)
    payload = b"m" * 20000
    deadline = time.monotonic() + 15
    received = 1
    while received and time.monotonic() < deadline:
        received = client.publish("flood", payload)
    assert received == 0, "the stalled subscriber was never dropped"
    assert info("stats")["client_output_buffer_limit_disconnections"] >= 1
    assert rss(pid) < 256 << 20
    sub.close()
