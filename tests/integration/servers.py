"""Starting and stopping a server under test (tiercache-l2, or Debian's redis-server as the
reference with equivalent flags), with clients bound to it. Used by conftest.py's fixtures and
by tests that start a process by hand."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import redis

from helpers import connect_raw, parse_info

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                                "demo"))
from locations import REPO, free_port, l2_binary  # noqa: E402,F401  (REPO, free_port re-exported)

REDIS_SERVER = "/usr/bin/redis-server"
START_TIMEOUT = 5.0
STOP_TIMEOUT = 10.0


def server_binary(target):
    return REDIS_SERVER if target == "redis" else l2_binary()


def redis_args(flags):
    """Translate tiercache flags to redis-server's equivalents."""
    args = ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""]
    for key, value in flags.items():
        if key == "config":
            raise AssertionError("--config (TOML) is tiercache-only")
        if key == "client_output_buffer_limit_normal":
            args += ["--client-output-buffer-limit", "normal %s %s 0" % (value, value)]
        elif key == "client_output_buffer_limit_pubsub":
            args += ["--client-output-buffer-limit", "pubsub %s %s 0" % (value, value)]
        elif key == "loglevel":
            args += ["--loglevel", {"info": "notice", "error": "warning"}.get(value, value)]
        else:
            args += ["--" + key.replace("_", "-"), str(value)]
    return args


def tiercache_args(flags):
    args = []
    for key, value in flags.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    return args


class Server:
    """A running server process. Use .client(), .raw(), .info(); stopped by the factory."""

    def __init__(self, target, flags, workdir, start_timeout=START_TIMEOUT, loaded=True):
        self.target = target
        self.start_timeout = start_timeout
        self.loaded = loaded
        self.flags = dict(flags)
        self.workdir = workdir
        self.port = int(self.flags.get("port", 0))
        self.unix_path = self.flags.get("unixsocket")
        self.password = self.flags.get("requirepass")
        self.binary = server_binary(target)
        self.proc = None
        self.stopped = False
        self._clients = []
        self._raws = []

    # -- life cycle -------------------------------------------------------------------------
    def start(self):
        if not os.access(self.binary, os.X_OK):
            pytest.fail("server binary not found: %s (build it, set TIERCACHE_BUILD_DIR, or run "
                        "with TIERCACHE_TEST_TARGET=redis)" % self.binary, pytrace=False)
        argv = [self.binary] + (redis_args(self.flags) if self.target == "redis"
                                else tiercache_args(self.flags))
        self.argv = argv
        self.out_path = os.path.join(self.workdir, "server.out")
        self.err_path = os.path.join(self.workdir, "server.err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=self.workdir,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                c = self.raw(timeout=0.5)
                try:
                    reply = c.cmd("PING", timeout=0.5)
                finally:
                    c.close()
                    self._raws.remove(c)
                if reply == "PONG" or str(reply).startswith("NOAUTH"):
                    return self
                # While the RDB file loads, PING answers -LOADING: started only with loaded=False.
                if not self.loaded and str(reply).startswith("LOADING"):
                    return self
                last = reply
            except OSError as e:
                last = e
            except Exception as e:  # Closed, timeout
                last = e
            time.sleep(0.02)
        rc = self.proc.poll()
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        self.stopped = True  # reported here; teardown need not judge it again
        what = ("exited with code %s before answering PING" % rc if rc is not None
                else "did not answer PING within %.0fs (killed)" % self.start_timeout)
        pytest.fail("server %s; last attempt: %r\nargv: %s\nstderr:\n%s\nstdout:\n%s"
                    % (what, last, self.argv, self.stderr()[-4000:], self.stdout()[-2000:]),
                    pytrace=False)

    def close_connections(self, settle_to=None):
        """Close every client handed out so far (between tests sharing a server). With
        settle_to, wait (up to 2 s) until the server has seen the closes: connected_clients,
        counting the probe's own connection, is at most settle_to."""
        for c in self._clients:
            try:
                c.connection_pool.disconnect()  # Redis.close() keeps pooled connections open
            except Exception:
                pass
        for r in self._raws:
            r.close()
        self._clients.clear()
        self._raws.clear()
        if settle_to is not None and self.proc.poll() is None:
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                try:
                    if self.info("clients")["connected_clients"] <= settle_to:
                        break
                except Exception:
                    break
                time.sleep(0.01)

    def stop(self, sig=signal.SIGTERM):
        """Send sig and wait; returns the exit code (killing it after STOP_TIMEOUT)."""
        self.stopped = True
        self.close_connections()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "hung (killed after %.0fs)" % STOP_TIMEOUT
        return self.proc.returncode

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stdout(self):
        try:
            with open(self.out_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- clients ----------------------------------------------------------------------------
    def client(self, db=0, unix=False, **kw):
        """A redis-py client (authenticated if the server has a password)."""
        kw.setdefault("socket_timeout", 10)
        if self.password is not None:
            kw.setdefault("password", self.password)
        if unix:
            c = redis.Redis(unix_socket_path=self.unix_path, db=db, **kw)
        else:
            c = redis.Redis(host="127.0.0.1", port=self.port, db=db, **kw)
        self._clients.append(c)
        return c

    def raw(self, unix=False, auth=False, timeout=5.0):
        """A raw socket connection (see helpers.RawConn); auth=True sends AUTH first."""
        if unix or not self.port:
            c = connect_raw(unix_path=self.unix_path, timeout=timeout)
        else:
            c = connect_raw(port=self.port, timeout=timeout)
        self._raws.append(c)
        if auth and self.password is not None:
            assert c.cmd("AUTH", self.password) == "OK"
        return c

    def info(self, section=None):
        """Parsed INFO (see helpers.parse_info), over a fresh authenticated connection."""
        c = self.raw(auth=True)
        try:
            text = c.cmd(*(["INFO"] + ([section] if section else [])))
        finally:
            c.close()
            self._raws.remove(c)
        assert isinstance(text, bytes), "INFO answered %r" % (text,)
        return parse_info(text)


class ServerFactory:
    def __init__(self, target):
        self.target = target
        self.servers = []
        self.dirs = []

    def __call__(self, start_timeout=START_TIMEOUT, loaded=True, **flags):
        """A started server: it answers PING, with PONG (loaded=True: any RDB file is loaded) or
        -LOADING (loaded=False: it listens, its file may still be loading)."""
        # A short directory under /tmp: unix socket paths are limited to 107 bytes.
        workdir = tempfile.mkdtemp(prefix="tc-it-")
        self.dirs.append(workdir)
        flags.setdefault("bind", "127.0.0.1")
        if "port" not in flags:
            flags["port"] = free_port()
        flags.setdefault("unixsocket", os.path.join(workdir, "s.sock"))
        server = Server(self.target, flags, workdir, start_timeout, loaded)
        self.servers.append(server)
        return server.start()

    def stop_all(self):
        problems = []
        for s in self.servers:
            if s.proc is None or s.stopped:  # a test stopped it and judged the exit itself
                continue
            rc = s.stop()  # also judges a process that died by itself
            if rc != 0:
                problems.append("%s exited with %r (expected a clean 0 on SIGTERM)\nstderr:\n%s"
                                % (s.argv, rc, s.stderr()[-3000:]))
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.servers.clear()
        self.dirs.clear()
        assert not problems, "\n".join(problems)
