#!/usr/bin/python3
"""Clients that vanish mid-reply: tiercache-l2 against redis-server, side by side in one run.

Ten clients each pipeline 50 GETs of a 1 MiB value and close at once (five with FIN, five with
RST), as tests/integration/test_bad_input.py's vanishing-client test does. Measured per server:
the CPU time the server spends on them and the wall time until it answers a PING on another
connection after it went quiet. Both servers pinned to CPU 1, the clients to CPU 0, alternating
within every round; prints medians of --runs rounds and the ratios tiercache/redis.

  bench/l2_vanishing_clients.py [--runs 5] [--clients 10] [--gets 50]
"""
import argparse
import os
import socket
import statistics
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from l2_vs_redis import CLIENT_CPU, Server, preflight  # noqa: E402

VALUE = 1 << 20


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(server, clients, gets):
    admin = socket.create_connection(("127.0.0.1", server.port))
    admin.settimeout(60)
    admin.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nv1m\r\n$%d\r\n%s\r\n" % (VALUE, b"z" * VALUE))
    assert admin.recv(100) == b"+OK\r\n"
    cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
    for i in range(clients):
        c = socket.create_connection(("127.0.0.1", server.port))
        if i % 2:  # close with RST instead of FIN
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.sendall(b"GET v1m\r\n" * gets)
        c.close()
    # Busy until its CPU time stops moving for 50 ms; then one PING must come back.
    last, quiet_since = -1.0, None
    while True:
        now = cpu_seconds(server.proc.pid)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= 0.05:
            break
        time.sleep(0.005)
    admin.sendall(b"PING\r\n")
    assert admin.recv(100) == b"+PONG\r\n"
    wall = quiet_since - t0
    admin.close()
    return cpu_seconds(server.proc.pid) - cpu0, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--gets", type=int, default=50)
    args = ap.parse_args()
    preflight()
    os.sched_setaffinity(0, {int(CLIENT_CPU)})
    results = {"tiercache": [], "redis": []}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {k: Server(k, tmp) for k in results}
        try:
            for _ in range(args.runs):
                for kind, server in servers.items():
                    results[kind].append(one_round(server, args.clients, args.gets))
        finally:
            for s in servers.values():
                s.stop()
    print("%d clients x %d pipelined GETs of 1 MiB, closed at once; medians of %d rounds"
          % (args.clients, args.gets, args.runs))
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
           for k, v in results.items()}
    for kind, (cpu, wall) in med.items():
        print("%-10s cpu %.3f s   busy %.3f s" % (kind, cpu, wall))
    t, r = med["tiercache"], med["redis"]
    print("ratio tiercache/redis: cpu %.2fx, busy %.2fx"
          % (t[0] / max(r[0], 1e-3), t[1] / max(r[1], 1e-3)))


if __name__ == "__main__":
    main()
