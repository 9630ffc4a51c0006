"""A scripted fake L2 for the sidecar's upstream-failure tests: enough of Redis for a sidecar
to run with a healthy bus (SELECT, PING, SUBSCRIBE, PUBLISH relayed to subscribers, MULTI/EXEC,
SET, PTTL), and GET replies chosen per key: a good value, garbage, a truncated bulk, or an
oversized bulk."""
import socket
import threading

BAD_REPLIES = {
    b"garbage": b"!!this is not RESP\r\n",
    b"truncated": b"$10\r\nabc",                              # and then nothing more
    b"oversized": b"$100000000\r\n" + b"x" * (4 << 20),      # announces 100 MB, sends 4 MiB
}


def _read_command(f):
    line = f.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return line.split()
    args = []
    for _ in range(int(line[1:])):
        n = int(f.readline()[1:])
        args.append(f.read(n + 2)[:-2])
    return args


class FakeL2:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.subscribers = []
        self.lock = threading.Lock()
        self.values = {}
        self.bad_gets = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _send(self, conn, data):
        with self.lock:
            conn.sendall(data)

    def _reply(self, conn, args):
        """The reply bytes for one command (None: the connection must stall or has been fed)."""
        name = args[0].upper()
        if name in (b"SELECT", b"AUTH", b"SET"):
            if name == b"SET":
                self.values[args[1]] = args[2]
            return b"+OK\r\n"
        if name == b"PING":
            return b"+PONG\r\n"
        if name == b"PTTL":
            return b":-1\r\n"
        if name == b"DEL":
            return b":%d\r\n" % sum(1 for k in args[1:] if self.values.pop(k, None) is not None)
        if name == b"PUBLISH":
            msg = b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
                len(args[1]), args[1], len(args[2]), args[2])
            for s in list(self.subscribers):
                try:
                    self._send(s, msg)
                except OSError:
                    self.subscribers.remove(s)
            return b":%d\r\n" % len(self.subscribers)
        if name == b"GET":
            if args[1] in BAD_REPLIES:
                self.bad_gets += 1
                return BAD_REPLIES[args[1]]
            v = self.values.get(args[1])
            return b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)
        return b"-ERR fake L2 does not know '%s'\r\n" % name

    def _serve(self, conn):
        f = conn.makefile("rb")
        queue = None
        try:
            while True:
                args = _read_command(f)
                if args is None:
                    return
                name = args[0].upper()
                if name == b"SUBSCRIBE":
                    self.subscribers.append(conn)
                    for i, ch in enumerate(args[1:]):
                        self._send(conn, b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:%d\r\n"
                                   % (len(ch), ch, i + 1))
                elif name == b"MULTI":
                    queue = []
                    self._send(conn, b"+OK\r\n")
                elif name == b"EXEC":
                    replies = [self._reply(conn, a) for a in queue or []]
                    queue = None
                    self._send(conn, b"*%d\r\n" % len(replies) + b"".join(replies))
                elif queue is not None:
                    queue.append(args)
                    self._send(conn, b"+QUEUED\r\n")
                else:
                    reply = self._reply(conn, args)
                    self._send(conn, reply)
                    if args[0].upper() == b"GET" and args[1] in (b"truncated", b"oversized"):
                        # The L2 stalls mid-reply: it reads on but never answers again.
                        while f.read(4096):
                            pass
                        return
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    def close(self):
        self.closed = True
        self.sock.close()
