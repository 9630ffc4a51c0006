"""The metrics endpoint (shared/net/metrics_http): the page is INFO converted (same figures,
right types), and the HTTP responder survives what the network throws at it."""

import socket
import time
import urllib.error

import pytest
import redis

import promtext
from conftest import free_port, http_get, wait_for


def info_fields(client, section):
    return {k: v for k, v in client.info(section).items()}


def scrape(port):
    status, headers, body = http_get("http://127.0.0.1:%d/metrics" % port)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return promtext.parse(body)


def test_sidecar_metrics_are_info(procs):
    l2 = procs.l2()
    mport = free_port()
    sc = procs.sidecar(l2.port, "--metrics-port", str(mport))
    c = redis.Redis(unix_socket_path=sc.socket)
    wait_for(lambda: c.info("tiercache")["bus_healthy"] == 1, what="bus healthy")
    c.set("k1", "v1")
    for _ in range(5):
        c.get("k1")
    c.get("absent")
    info = c.info("tiercache")
    fams = scrape(mport)
    for field in ("l1_hits", "l1_misses", "writes", "fills", "l2_fetches"):
        assert fams["tiercache_sidecar_%s_total" % field]["type"] == "counter"
        assert promtext.value(fams, "tiercache_sidecar_%s_total" % field) == info[field], field
    assert promtext.value(fams, "tiercache_sidecar_l1_hits_total") >= 4
    for field in ("l1_items", "l1_capacity_bytes", "bus_healthy", "l2_connected"):
        assert fams["tiercache_sidecar_" + field]["type"] == "gauge"
        assert promtext.value(fams, "tiercache_sidecar_" + field) == info[field], field
    assert promtext.value(fams, "tiercache_sidecar_bus_healthy") == 1
    lag = fams["tiercache_sidecar_invalidation_lag_seconds"]
    assert lag["type"] == "summary"
    assert {l["quantile"] for _, l, _ in lag["samples"]} == {"0.5", "0.99", "1"}
    assert promtext.value(fams, "tiercache_sidecar_l2_latency_seconds", quantile="0.99") == \
        pytest.approx(info["l2_latency_p99_us"] / 1e6, rel=1e-6, abs=1e-5)
    labels = fams["tiercache_sidecar_info"]["samples"][0][1]
    assert labels["tiercache_role"] == "sidecar" and labels["l2"] == "127.0.0.1:%d" % l2.port
    assert sc.stop() == 0


def test_l2_metrics_are_info(procs):
    mport = free_port()
    l2 = procs.l2("--metrics-port", str(mport))
    c = redis.Redis(port=l2.port)
    for i in range(10):
        c.set("key:%d" % i, "x" * 10)
    c.expire("key:0", 100)
    c.get("key:1")
    c.get("missing")
    fams = scrape(mport)
    info = c.info("all")
    assert promtext.value(fams, "tiercache_l2_db_keys", db="0") == 10
    assert promtext.value(fams, "tiercache_l2_db_expires", db="0") == 1
    assert fams["tiercache_l2_keyspace_hits_total"]["type"] == "counter"
    assert promtext.value(fams, "tiercache_l2_keyspace_hits_total") == info["keyspace_hits"]
    assert promtext.value(fams, "tiercache_l2_keyspace_misses_total") == info["keyspace_misses"]
    assert fams["tiercache_l2_used_memory"]["type"] == "gauge"
    assert promtext.value(fams, "tiercache_l2_connected_clients") == 1
    assert "tiercache_l2_process_id" not in fams
    assert fams["tiercache_l2_info"]["samples"][0][1]["maxmemory_policy"] == "allkeys-lru"
    assert l2.stop() == 0, l2.output()


def raw(port, data, timeout=8.0):
    """Sends data, returns (reply bytes, seconds until the server closed)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if data:
            s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks), time.monotonic() - t0


def test_http_responder_edges(procs):
    mport = free_port()
    l2 = procs.l2("--metrics-port", str(mport))
    with pytest.raises(urllib.error.HTTPError) as e:
        http_get("http://127.0.0.1:%d/" % mport)
    assert e.value.code == 404
    reply, _ = raw(mport, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 405 ")
    reply, _ = raw(mport, b"\x16\x03\x01 definitely not http\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 400 ")
    reply, _ = raw(mport, b"HEAD /metrics HTTP/1.1\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 200 ") and reply.endswith(b"\r\n\r\n")
    reply, _ = raw(mport, b"GET /metrics?x=1 HTTP/1.0\n\n")  # bare LF is accepted
    assert reply.startswith(b"HTTP/1.0 200 ") and b"tiercache_l2_used_memory" in reply
    # Oversized request: closed without a reply, at once.
    reply, took = raw(mport, b"GET /metrics HTTP/1.1\r\nX-Junk: " + b"a" * 9000)
    assert reply == b"" and took < 2
    # A client that never finishes its request is dropped after the idle limit (5 s).
    reply, took = raw(mport, b"GET /metr")
    assert reply == b"" and 3 < took < 8
    # Many connections at once: the extra ones are closed, the server keeps serving.
    socks = [socket.create_connection(("127.0.0.1", mport)) for _ in range(100)]
    for s in socks:
        s.close()
    def get():
        try:
            return http_get("http://127.0.0.1:%d/metrics" % mport)[2]
        except OSError:
            return None  # still over the connection cap while the closed ones drain
    assert "tiercache_l2_connected_clients" in wait_for(get, timeout=5, what="serving again")
    assert redis.Redis(port=l2.port).ping()
    assert l2.stop() == 0, l2.output()


def test_metrics_bind_errors_are_reported(procs):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        l2 = procs.l2("--metrics-port", str(port), ready=False)
        assert l2.proc.wait(10) == 1
        assert "metrics endpoint: cannot listen on 127.0.0.1:%d" % port in l2.output()
        sc = procs.sidecar(free_port(), "--metrics-port", str(port), ready=False)
        assert sc.proc.wait(10) == 1
        assert "metrics endpoint: cannot listen on 127.0.0.1:%d" % port in sc.output()
    finally:
        busy.close()
