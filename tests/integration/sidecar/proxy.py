"""A small user-space TCP forwarder for the sidecar tests and benchmarks (tc netem is not
available on these machines): it can hold every chunk for a fixed delay in each direction
(pipelined chunks are delayed independently, not queued behind each other), count the commands
its clients send (RESP multibulk requests, by name and by (name, key)), cut every connection at
once, refuse new ones, and close any connection that sends SUBSCRIBE (to take a sidecar's
invalidation bus away while its data path keeps working), and pace what the upstream sends
back (a slow link that keeps delivering)."""

import collections
import socket
import struct
import threading
import time


class CommandCounter:
    """Incremental parser of RESP2 multibulk requests; counts command names and (name, key)."""

    def __init__(self):
        self.buf = bytearray()
        self.by_name = collections.Counter()
        self.by_key = collections.Counter()
        self.lock = threading.Lock()

    def feed(self, data):
        """Returns the names (upper case) of the complete commands in data."""
        self.buf += data
        names = []
        while True:
            parsed = self._parse_one()
            if parsed is None:
                break
            args, end = parsed
            del self.buf[:end]
            if not args:
                continue
            name = args[0].upper()
            names.append(name)
            with self.lock:
                self.by_name[name] += 1
                if len(args) > 1:
                    self.by_key[(name, args[1])] += 1
        return names

    def _parse_one(self):
        buf = self.buf
        if not buf:
            return None
        if buf[0:1] != b"*":  # inline command: up to CRLF
            end = buf.find(b"\r\n")
            if end < 0:
                return None
            return [bytes(w) for w in bytes(buf[:end]).split()], end + 2
        end = buf.find(b"\r\n")
        if end < 0:
            return None
        n = int(buf[1:end])
        pos = end + 2
        args = []
        for _ in range(n):
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            size = int(buf[pos + 1:end])
            start = end + 2
            if len(buf) < start + size + 2:
                return None
            args.append(bytes(buf[start:start + size]))
            pos = start + size + 2
        return args, pos

    def count(self, name, key=None):
        name = name.upper().encode() if isinstance(name, str) else name
        with self.lock:
            if key is None:
                return self.by_name[name]
            if isinstance(key, str):
                key = key.encode()
            return self.by_key[(name, key)]


class _Pipe:
    """One direction of one proxied connection."""

    def __init__(self, proxy, conn, src, dst, counter):
        self.proxy, self.conn, self.src, self.dst, self.counter = proxy, conn, src, dst, counter
        self.queue = collections.deque()
        self.cond = threading.Condition()
        self.closed = False

    def start(self):
        threading.Thread(target=self._read, daemon=True).start()
        if self.proxy.delayed:
            threading.Thread(target=self._write, daemon=True).start()

    def _read(self):
        try:
            while True:
                data = self.src.recv(1 << 16)
                if not data:
                    break
                if self.counter is not None:
                    names = self.counter.feed(data)
                    if b"SUBSCRIBE" in names:
                        self.conn.is_subscriber = True
                        if self.proxy.block_subscribe:
                            break
                        if self.proxy.subscriber_delay_s is not None:
                            self.conn.delay_s = self.proxy.subscriber_delay_s
                if self.proxy.freeze_subscribers and self.conn.is_subscriber:
                    continue  # lost on the way, in both directions; the connection stays up
                if self.counter is None and self.proxy.down_bytes_per_s:
                    self._paced(data)
                elif self.proxy.delayed:
                    with self.cond:
                        self.queue.append((time.monotonic() + self.conn.delay_s, data))
                        self.cond.notify()
                else:
                    self.dst.sendall(data)
        except OSError:
            pass
        self.conn.close()
        with self.cond:
            self.closed = True
            self.cond.notify()

    def _paced(self, data):
        """Upstream to client at the proxy's down_bytes_per_s, in 4 KiB pieces."""
        for i in range(0, len(data), 4096):
            piece = data[i:i + 4096]
            self.dst.sendall(piece)
            time.sleep(len(piece) / self.proxy.down_bytes_per_s)

    def _write(self):
        try:
            while True:
                with self.cond:
                    while not self.queue and not self.closed:
                        self.cond.wait()
                    if not self.queue:
                        return
                    due, data = self.queue.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self.dst.sendall(data)
        except OSError:
            self.conn.close()


class _Conn:
    def __init__(self, proxy, client, upstream):
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self.lock = threading.Lock()
        self.is_closed = False
        self.delay_s = proxy.delay_s
        self.is_subscriber = False

    def start(self):
        _Pipe(self.proxy, self, self.client, self.upstream, self.proxy.counter).start()
        _Pipe(self.proxy, self, self.upstream, self.client, None).start()

    def close(self, reset=False):
        """Closes both ends: with FIN, or with reset=True with RST (a zero linger; SHUT_RD
        wakes the pipes' threads without sending anything)."""
        with self.lock:
            if self.is_closed:
                return
            self.is_closed = True
        for s in (self.client, self.upstream):
            try:
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RD if reset else socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.proxy._forget(self)


class Proxy:
    """Forwards 127.0.0.1:<port> to target ((host, port) or a unix socket path).

    delay_us: each chunk is held this long in each direction; subscriber_delay_us, if given,
    replaces it on connections that sent SUBSCRIBE (a sidecar's bus). Counters: .counter.count("GET"),
    .counter.count("GET", key). Controls: cut() closes every connection; refuse = True makes it
    accept and close at once; block_subscribe = True closes a connection that sends SUBSCRIBE;
    freeze_subscribers = True silently drops everything to and from connections that subscribed
    (a bus that is connected but hears nothing); down_bytes_per_s = N paces every reply stream
    (upstream to client) at N bytes a second; reset() resets every connection (RST, where cut()
    closes them)."""

    def __init__(self, target, delay_us=0, subscriber_delay_us=None, port=0):
        self.target = target
        self.delay_s = delay_us / 1e6
        self.subscriber_delay_s = (None if subscriber_delay_us is None
                                   else subscriber_delay_us / 1e6)
        self.delayed = delay_us > 0 or bool(subscriber_delay_us)
        self.counter = CommandCounter()
        self.refuse = False
        self.block_subscribe = False
        self.freeze_subscribers = False
        self.down_bytes_per_s = 0
        self.conns = set()
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def _connect_upstream(self):
        if isinstance(self.target, str):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.target)
        else:
            s = socket.create_connection(self.target)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.refuse:
                client.close()
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                upstream = self._connect_upstream()
            except OSError:
                client.close()
                continue
            c = _Conn(self, client, upstream)
            with self.lock:
                stopped = self.stopped
                if not stopped:
                    self.conns.add(c)
            if stopped:  # accepted just before close(): it must not outlive the cut
                c.close()
                return
            c.start()

    def _forget(self, c):
        with self.lock:
            self.conns.discard(c)

    def connections(self):
        with self.lock:
            return len(self.conns)

    def cut(self):
        """Close every proxied connection now (as a network failure would)."""
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            c.close()

    def reset(self):
        """Reset every proxied connection now: RST to both ends, as a load balancer or a
        firewall dropping connections does, or a host that died with input unread."""
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            c.close(reset=True)

    def close(self):
        """Stop listening (new connections are refused) and cut every connection. A connection
        the accept thread is still setting up is closed by that thread (it checks `stopped`
        under the lock cut() takes its list under), so none escapes the cut."""
        with self.lock:
            self.stopped = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept thread: close alone does not
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.cut()


def main():
    """Run a proxy on its own (the benchmarks pin it to a CPU):
    proxy.py --target HOST:PORT|/unix/path --port N [--delay-us 250]"""
    import argparse
    import signal
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--target", required=True)
    ap.add_argument("--port", type=int, default=0, help="0: print the port chosen")
    ap.add_argument("--delay-us", type=int, default=0)
    args = ap.parse_args()
    target = args.target
    if not target.startswith("/"):
        host, _, port = target.rpartition(":")
        target = (host, int(port))
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGINT])  # threads too
    p = Proxy(target, args.delay_us, port=args.port)
    print(p.port, flush=True)
    signal.sigwait([signal.SIGTERM, signal.SIGINT])
    p.close()


if __name__ == "__main__":
    main()
