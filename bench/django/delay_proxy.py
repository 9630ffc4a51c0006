#!/usr/bin/env python3
"""A TCP forwarder that makes a local server look remote: every chunk is held DELAY µs before it
is passed on, in each direction. Used by the Django benchmark to put django-redis "across the
network" from the L2. One thread per direction by default (right for request/response traffic);
--pipelined keeps the shape of pipelined bursts (see pump()).

    delay_proxy.py --listen 127.0.0.1:7000 --target 127.0.0.1:6479 --delay-us 250

Python's sleep overshoots by some tens of µs; the benchmark measures the real added round trip
and prints it.
"""

import argparse
import collections
import ctypes
import signal
import socket
import sys
import threading
import time


def pump(src, dst, delay, pipelined):
    """Forwards src to dst, each chunk DELAY after it arrived.

    Request/response traffic (one chunk in flight each way, as django-redis sends) needs one
    thread: receive, sleep, send. With pipelined=True a reader thread stamps chunks on arrival
    and a writer sends each when due, so a burst is not delayed once per chunk, at the cost of
    a thread hand-off per chunk (more jitter on a loaded machine)."""
    if not pipelined:
        def simple():
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    time.sleep(delay)
                    dst.sendall(data)
            except OSError:
                pass
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        threading.Thread(target=simple, daemon=True).start()
        return

    chunks = collections.deque()
    ready = threading.Condition()
    done = [False]

    def reader():
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with ready:
                    chunks.append((time.monotonic() + delay, data))
                    ready.notify()
        except OSError:
            pass
        with ready:
            done[0] = True
            ready.notify()

    def writer():
        try:
            while True:
                with ready:
                    while not chunks and not done[0]:
                        ready.wait()
                    if not chunks:
                        break
                    due, data = chunks.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    for fn in (reader, writer):
        threading.Thread(target=fn, daemon=True).start()


def serve(listen, target, delay, pipelined):
    host, port = listen.rsplit(":", 1)
    thost, tport = target.rsplit(":", 1)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.listen(128)
    print("delay_proxy: %s -> %s, %d us each way" % (listen, target, delay * 1e6), flush=True)
    while True:
        client, _ = srv.accept()
        try:
            upstream = socket.create_connection((thost, int(tport)))
        except OSError:
            client.close()
            continue
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pump(client, upstream, delay, pipelined)
        pump(upstream, client, delay, pipelined)


def tighten_timer_slack():
    """Sleeps overshoot by the thread's timer slack (50 us by default); 1 us instead, inherited
    by the threads started later (prctl PR_SET_TIMERSLACK)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(29, 1000, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main():
    tighten_timer_slack()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--delay-us", type=float, default=250)
    ap.add_argument("--pipelined", action="store_true",
                    help="keep the timing of pipelined bursts (two threads per direction)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        serve(args.listen, args.target, args.delay_us / 1e6, args.pipelined)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
