"""Helpers for the integration tests: a RESP2 encoder/parser, a raw socket client with timeouts,
and an INFO parser. Pure Python, no dependency on the server under test."""

import socket
import time


class RespError(str):
    """An error reply (`-ERR ...`) as parsed by the raw client: a str holding the text without
    the leading '-'."""

    def __repr__(self):
        return "RespError(%s)" % str.__repr__(self)


class Incomplete(Exception):
    pass


def encode(*args):
    """Encode one command as a RESP2 array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def parse(buf, pos=0):
    """Parse one RESP2 reply from buf[pos:]. Returns (value, new_pos); raises Incomplete.
    Simple strings become str, bulk strings bytes, errors RespError, nil None."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    kind = buf[pos:pos + 1]
    line = buf[pos + 1:end]
    pos = end + 2
    if kind == b"+":
        return line.decode("utf-8", "replace"), pos
    if kind == b"-":
        return RespError(line.decode("utf-8", "replace")), pos
    if kind == b":":
        return int(line), pos
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete()
        assert buf[pos + n:pos + n + 2] == b"\r\n", "bulk not terminated by CRLF"
        return bytes(buf[pos:pos + n]), pos + n + 2
    if kind == b"*":
        n = int(line)
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            v, pos = parse(buf, pos)
            items.append(v)
        return items, pos
    raise AssertionError("not a RESP2 reply type: %r (buffer %r)" % (kind, bytes(buf[:80])))


class Closed(Exception):
    pass


class RawConn:
    """A raw socket to the server. Every read has a timeout: a test never hangs."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise Closed("connection closed by server; unread bytes %r" % bytes(self.buf[:200]))
        self.buf += chunk

    def read_reply(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                value, pos = parse(self.buf)
                del self.buf[:pos]
                return value
            except Incomplete:
                self._fill(deadline)

    def read_reply_bytes(self, timeout=5.0):
        """The next whole reply as the bytes the server sent (a null array `*-1` and a null
        bulk `$-1` both parse to None; these keep them apart)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, pos = parse(self.buf)
                out = bytes(self.buf[:pos])
                del self.buf[:pos]
                return out
            except Incomplete:
                self._fill(deadline)

    def read_replies(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        return [self.read_reply(max(0.001, deadline - time.monotonic())) for _ in range(n)]

    def cmd(self, *args, timeout=5.0):
        self.send(encode(*args))
        return self.read_reply(timeout)

    def recv_until(self, terminator, timeout=5.0):
        """Bytes up to and including terminator."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(terminator)
            if i >= 0:
                out = bytes(self.buf[:i + len(terminator)])
                del self.buf[:i + len(terminator)]
                return out
            self._fill(deadline)

    def expect(self, data, timeout=5.0):
        """Assert the next bytes from the server are exactly `data`."""
        deadline = time.monotonic() + timeout
        try:
            while len(self.buf) < len(data):
                self._fill(deadline)
        except (socket.timeout, Closed) as e:
            raise AssertionError("expected %r, got only %r (%s)" % (data, bytes(self.buf), e))
        got = bytes(self.buf[:len(data)])
        del self.buf[:len(data)]
        assert got == data, "expected %r, got %r" % (data, got)

    def expect_closed(self, timeout=3.0):
        """Assert the server closes the connection within timeout. Returns everything that was
        received before the close (including anything already buffered)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except Closed:
            out = bytes(self.buf)
            self.buf.clear()
            return out
        except socket.timeout:
            raise AssertionError("connection still open after %.1fs; received %r"
                                 % (timeout, bytes(self.buf[:200])))

    def assert_no_reply(self, wait=0.2):
        """Assert nothing arrives (and the connection is not closed) within `wait` seconds."""
        deadline = time.monotonic() + wait
        try:
            while True:
                self._fill(deadline)
                raise AssertionError("unexpected data from server: %r" % bytes(self.buf[:200]))
        except socket.timeout:
            pass
        except Closed as e:
            raise AssertionError("connection closed unexpectedly: %s" % e)

    def is_open(self, timeout=1.0):
        """True if the connection still answers PING."""
        try:
            return self.cmd("PING", timeout=timeout) == "PONG"
        except (Closed, socket.timeout, OSError):
            return False


def connect_raw(host=None, port=None, unix_path=None, timeout=5.0):
    if unix_path is not None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(unix_path)
    else:
        s = socket.create_connection((host or "127.0.0.1", port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # split frames go out at once
    return RawConn(s)


def parse_info(text):
    """INFO text -> {field: value}; ints and floats converted, db lines -> dict of ints.
    Section headers are kept under the key '__sections__' (lower-case names)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = {"__sections__": []}
    for line in text.split("\r\n"):
        if not line:
            continue
        if line.startswith("#"):
            out["__sections__"].append(line[1:].strip().lower())
            continue
        key, sep, value = line.partition(":")
        assert sep, "INFO line without ':': %r" % line
        if key.startswith("db") and key[2:].isdigit():
            out[key] = {k: int(v) for k, v in (p.split("=") for p in value.split(","))}
            continue
        for conv in (int, float):
            try:
                value = conv(value)
                break
            except ValueError:
                pass
        out[key] = value
    return out


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Poll predicate() until truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def check_reset_forgets_name_and_authentication(c, password):
    """RESET gives the connection back as new (Redis's clearClientConnectionState): name
    cleared, de-authenticated when a password is set, db 0. `c` is a RawConn of a server
    started with requirepass=password."""
    assert c.cmd("AUTH", password) == "OK"
    assert c.cmd("CLIENT", "SETNAME", "app1") == "OK"
    assert c.cmd("SELECT", "2") == "OK"
    assert c.cmd("RESET") == "RESET"
    assert c.cmd("GET", "k").startswith("NOAUTH"), "RESET must de-authenticate"
    assert c.cmd("AUTH", password) == "OK"
    assert c.cmd("CLIENT", "GETNAME") is None
    assert c.cmd("SET", "rk", "in-db-0") == "OK"
    assert c.cmd("SELECT", "2") == "OK"
    assert c.cmd("GET", "rk") is None
