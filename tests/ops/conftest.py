"""Fixtures of the operations checks: locally built binaries started the way the container
starts them, free ports, a scratch directory, and teardown that stops every process.

Binaries come from $TIERCACHE_BUILD_DIR (default build/); TIERCACHE_L2_BIN and
TIERCACHE_SIDECAR_BIN point at other builds of one of them."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                                "demo"))
from locations import REPO, build_dir, free_port, l2_binary, sidecar_binary  # noqa: E402,F401
from leftovers import pytest_sessionfinish  # noqa: E402,F401  (fails the session on leftovers)

BUILD = build_dir()
L2_BIN = os.environ.get("TIERCACHE_L2_BIN", l2_binary())
SIDECAR_BIN = os.environ.get("TIERCACHE_SIDECAR_BIN", sidecar_binary())
DOCKER = os.path.join(REPO, "docker")


def wait_for(cond, timeout=10.0, what="condition", interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def clean_env(**extra):
    """The environment without any TIERCACHE_* option variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERCACHE_")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def http_get(url, timeout=3.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers, r.read().decode()


class Proc:
    def __init__(self, argv, log_path, env):
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Procs:
    """Starts processes and stops whatever is still running at teardown."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.all = []
        self.shm_names = []
        self.n = 0

    def start(self, argv, env=None, name="proc"):
        self.n += 1
        p = Proc(argv, os.path.join(self.tmp, "%s-%d.log" % (name, self.n)),
                 env if env is not None else clean_env())
        self.all.append(p)
        return p

    def l2(self, *flags, env=None, port=None, ready=True):
        port = port or free_port()
        p = self.start([L2_BIN, "--port", str(port)] + list(flags), env=env, name="l2")
        p.port = port
        if ready:
            wait_for(lambda: ping_tcp(port) or not p.alive(), what="tiercache-l2 on %d" % port)
            assert p.alive(), p.output()
        return p

    def shm_name(self):
        name = "ops-%d-%d" % (os.getpid(), len(self.shm_names))
        self.shm_names.append(name)
        return name

    def sidecar(self, l2_port, *flags, env=None, ready=True):
        sock = os.path.join(self.tmp, "sc-%d.sock" % (self.n + 1))
        p = self.start([SIDECAR_BIN, "--socket", sock, "--l2", "127.0.0.1:%d" % l2_port,
                        "--shm-name", self.shm_name(), "--l1-memory", "8MiB"] + list(flags),
                       env=env, name="sidecar")
        p.socket = sock
        if ready:
            # The socket file appears at bind(), before listen(): wait for an answer instead.
            wait_for(lambda: ping_unix(sock) or not p.alive(), what="sidecar socket answering")
            assert p.alive(), p.output()
        return p

    def cleanup(self):
        for p in reversed(self.all):
            p.stop()
        for name in self.shm_names:
            try:
                os.unlink("/dev/shm/tiercache-" + name)
            except FileNotFoundError:
                pass


def ping_unix(path):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(path)
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def ping_tcp(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


@pytest.fixture
def procs(tmp_path):
    p = Procs(str(tmp_path))
    yield p
    p.cleanup()


def pytest_report_header(config):
    return "tiercache-l2: %s\ntiercache-sidecar: %s" % (L2_BIN, SIDECAR_BIN)
