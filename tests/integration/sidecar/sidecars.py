"""Starting tiercache-sidecar processes for the tests, the coherence checker and the benchmarks:
one L2 (tiercache-l2 or redis-server, started with servers.ServerFactory) and sidecars that
stand for hosts, each with its own unix socket and its own shared-memory segment
(/dev/shm/tiercache-<shm-name>, removed when the sidecar is stopped)."""

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/integration: servers, helpers

import redis  # noqa: E402

from helpers import Closed, connect_raw, parse_info  # noqa: E402
from servers import REPO, ServerFactory, free_port  # noqa: E402  (puts examples/demo on the path)
from locations import sidecar_binary  # noqa: E402,F401  (re-exported)
import tlscerts  # noqa: E402

# How the sidecars of a Cluster reach their L2 (scripts/test.sh runs the sidecar suite and the
# coherence checker once this way too): TIERCACHE_SIDECAR_LINK=tls makes the L2 serve mutual
# TLS on a port of its own, which every sidecar links to with --l2-tls (data and bus);
# =acl makes every sidecar log in as an ACL user (redis-server: a user allowed only what the
# sidecar needs, see ACL_RULES; tiercache-l2: `default` with requirepass); "tls,acl" both.
LINK = set(filter(None, os.environ.get("TIERCACHE_SIDECAR_LINK", "").split(",")))
ACL_USER, ACL_PASSWORD = "tiercache-sidecar", "sidecar-secret"
# The sidecar's own commands (GET/MGET fills, writes, DEL, PUBLISH/SUBSCRIBE for the bus,
# AUTH, SELECT, PING, INFO for its own state) and whatever its clients pass through; not the
# server's administration (CONFIG, SHUTDOWN, DEBUG, ACL, ...).
ACL_RULES = ["on", ">" + ACL_PASSWORD, "~*", "&*", "+@all", "-@admin", "-@dangerous",
             "+flushdb", "+flushall", "+info", "+keys", "+randomkey", "+client|id",
             "+client|setname", "+client|getname", "+script|flush"]
# The TLS port of each L2 by its plain port, so a proxy aimed at an L2 carries the TLS link.
TLS_PORT_OF = {}

START_TIMEOUT = 5.0
_names = itertools.count()
# Every sidecar started in this process, in order (conftest shows the logs of a failed test's).
STARTED = []


def python_package_dir():
    """Where the tiercache Python package was built (a sanitizer build has none: the release
    build's, which reads the same segment layout)."""
    return os.environ.get("TIERCACHE_PYTHON_DIR", os.path.join(REPO, "build", "python"))


class StartError(Exception):
    pass


class Sidecar:
    """A running tiercache-sidecar. flags use the sidecar's names with underscores
    (l1_max_ttl_ms=500, bus_timeout_ms=300, ...)."""

    def __init__(self, l2, name, workdir=None, cpu=None, env=None, wrap=(), **flags):
        self.name = name
        self.env = env  # the process's environment (None: this one's)
        self.wrap = tuple(wrap)  # a command the binary runs under (a benchmark's valgrind)
        self.start_timeout = START_TIMEOUT * (20 if wrap else 1)
        self.workdir = workdir or tempfile.mkdtemp(prefix="tc-sc-")
        self.own_workdir = workdir is None
        self.socket = os.path.join(self.workdir, "%s.sock" % name)
        self.shm_name = "it-%d-%d-%s" % (os.getpid(), next(_names), name)
        self.flags = {"socket": self.socket, "l2": l2, "shm_name": self.shm_name,
                      "l1_memory": "16MiB", "loglevel": "warning"}
        self.flags.update(flags)
        self.cpu = cpu
        self.proc = None
        self._clients = []

    @property
    def shm_path(self):
        return "/dev/shm/tiercache-" + self.shm_name

    def start(self, wait_bus=True, refused_when=None):
        """Starts the process and waits until its bus is healthy (or, wait_bus=False, until it
        answers). refused_when: a text that, once in the log, means it never will be (a start
        meant to fail then ends as soon as it has said why, not after START_TIMEOUT)."""
        binary = sidecar_binary()
        if not os.access(binary, os.X_OK):
            raise StartError("sidecar binary not found: %s (ninja -C build tiercache-sidecar)"
                             % binary)
        argv = list(self.wrap) + [binary]
        for k, v in self.flags.items():
            argv += ["--" + k.replace("_", "-"), str(v)]
        if self.cpu is not None:
            argv = ["taskset", "-c", str(self.cpu)] + argv
        self.argv = argv
        self.err_path = os.path.join(self.workdir, "%s.err" % self.name)
        STARTED.append(self)
        with open(self.err_path, "ab") as err:
            self.proc = subprocess.Popen(argv, stdout=err, stderr=err, stdin=subprocess.DEVNULL,
                                         env=self.env)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError("sidecar %s exited with %s: %s\n%s"
                                 % (self.name, self.proc.returncode, argv, self.stderr()))
            try:
                if self.info().get("bus_healthy") == 1 or not wait_bus:
                    return self
            except (OSError, Closed):  # not listening yet, or exiting (the loop then sees it)
                pass
            if refused_when is not None and refused_when in self.stderr():
                raise StartError("sidecar %s refused: %r in its log" % (self.name, refused_when))
            time.sleep(0.02)
        log = self.stderr()
        self.stop()  # nobody else will: the caller gets no Sidecar to stop
        raise StartError("sidecar %s not ready (bus healthy) within %.0fs: %s\n%s"
                         % (self.name, self.start_timeout, argv, log))

    def stderr(self):
        """The tail of the process's log; after stop() removed the workdir, the tail it kept."""
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except (OSError, AttributeError):
            return getattr(self, "_final_log", "")

    def client(self, db=0, **kw):
        kw.setdefault("socket_timeout", 10)
        c = redis.Redis(unix_socket_path=self.socket, db=db, **kw)
        self._clients.append(c)
        return c

    def raw(self, timeout=5.0):
        return connect_raw(unix_path=self.socket, timeout=timeout)

    def info(self, section="tiercache"):
        """The sidecar's own INFO section (no trip to L2), parsed."""
        c = connect_raw(unix_path=self.socket, timeout=2.0)
        try:
            if self.flags.get("requirepass"):
                c.cmd("AUTH", self.flags["requirepass"], timeout=2.0)
            text = c.cmd("INFO", section, timeout=2.0)
        finally:
            c.close()
        if not isinstance(text, bytes):
            raise OSError("INFO answered %r" % (text,))
        return parse_info(text)

    def settle(self, timeout=5.0):
        """Returns once a heartbeat sent after the call has come back on the invalidation source:
        every invalidation of a write made before the call has then been applied (so a fill
        that follows is not dropped by a late one)."""
        n = self.info()["bus_heartbeats_back"]
        wait_for(lambda: self.info()["bus_heartbeats_back"] >= n + 2, timeout,
                 what="a heartbeat of %s back" % self.name)

    def stop(self, sig=signal.SIGTERM):
        """Stop the process; returns its exit code. Removes its shm segment."""
        for c in self._clients:
            try:
                c.connection_pool.disconnect()
            except Exception:
                pass
        self._clients.clear()
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    rc = "hung"
            rc = rc or self.proc.returncode
        try:
            os.unlink(self.shm_path)
        except OSError:
            pass
        if self.own_workdir:
            self._final_log = self.stderr()  # still readable once the workdir is gone
            shutil.rmtree(self.workdir, ignore_errors=True)
        return rc


# The invalidation source (--invalidation-source) sidecars use with each kind of L2 unless a
# test says otherwise: the L2's own reports (CLIENT TRACKING) wherever the L2 implements them.
DEFAULT_SOURCE = {"tiercache": "tracking", "redis": "tracking"}


def link_port(port):
    """The port a sidecar links to for an L2 on `port` (its TLS port under the tls link)."""
    return TLS_PORT_OF.get(port, port)


def l2_address(server):
    """The address a sidecar links to (the TLS port under TIERCACHE_SIDECAR_LINK=tls)."""
    return "127.0.0.1:%d" % link_port(server.port)


def skip_over_tls():
    """For a test whose proxy reads the commands it forwards (counts GETs, blocks SUBSCRIBE):
    over a TLS link it sees only ciphertext, so the test runs in the plain-link passes only."""
    if "tls" in LINK:
        import pytest
        pytest.skip("the proxy reads the commands it forwards: plain links only")


def link_flags():
    """The sidecar flags of the link mode (TIERCACHE_SIDECAR_LINK)."""
    f = {}
    if "tls" in LINK:
        c = tlscerts.certs()
        f.update(l2_tls="yes", l2_tls_ca_file=c["ca"], l2_tls_cert_file=c["client_crt"],
                 l2_tls_key_file=c["client_key"])
    return f


def acl_flags(l2_kind):
    """--l2-user/--l2-password of the acl link mode for this kind of L2."""
    if "acl" not in LINK:
        return {}
    user = ACL_USER if l2_kind == "redis" else "default"
    return {"l2_user": user, "l2_password": ACL_PASSWORD}


class Cluster:
    """One L2 and sidecars (hosts). Use as a context manager or call close(). l2_kind is
    "tiercache" or "redis", optionally with the sidecars' invalidation source: "redis+publish"."""

    def __init__(self, l2_kind, l2_flags=None):
        l2_kind, _, source = l2_kind.partition("+")
        self.l2_kind = l2_kind
        self.source = source or DEFAULT_SOURCE[l2_kind]
        self.factory = ServerFactory(l2_kind)
        self.l2_flags = dict(l2_flags or {})
        self.l2 = self._start_l2(self.l2_flags)
        self.sidecars = []
        self.proxies = []
        self.problems = []

    def sidecar(self, name, via=None, wait_bus=True, env=None, **flags):
        """Start a sidecar connected to the L2 (or to `via`, an address such as a proxy's)."""
        flags.setdefault("invalidation_source", self.source)
        flags = {**link_flags(), **acl_flags(self.l2_kind), **flags}  # the test's own win
        s = Sidecar(via or l2_address(self.l2), name, env=env, **flags)
        self.sidecars.append(s)
        return s.start(wait_bus=wait_bus)

    def l2_client(self, db=0):
        return self.l2.client(db=db)

    def restart_l2(self):
        """Start a fresh L2 on the same port and unix socket (after the old one was stopped)."""
        old = self.l2
        self.l2 = self._start_l2(dict(self.l2_flags, port=old.port, unixsocket=old.unix_path))
        return self.l2

    def _start_l2(self, flags):
        if "tls" in LINK:
            port = flags.setdefault("port", free_port())
            if not flags.get("tls_port"):  # a test's own TLS set-up (its certificate) wins
                flags.update(tlscerts.l2_tls_flags(tlscerts.certs(),
                                                   tls_port=TLS_PORT_OF.get(port) or free_port()))
            TLS_PORT_OF[port] = flags["tls_port"]
        if "acl" in LINK and self.l2_kind == "tiercache":
            flags.setdefault("requirepass", ACL_PASSWORD)  # the sidecar logs in as `default`
        l2 = self.factory(**flags)
        if "acl" in LINK and self.l2_kind == "redis":
            l2.client().execute_command("ACL", "SETUSER", ACL_USER, *ACL_RULES)
        return l2

    def close(self):
        for p in self.proxies:
            p.close()
        for s in self.sidecars:
            rc = s.stop()
            if rc not in (0, None):
                self.problems.append("sidecar %s exited with %r\n%s" % (s.name, rc, s.stderr()))
        self.factory.stop_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_for(predicate, timeout=5.0, interval=0.005, what="condition"):
    """Poll predicate() until truthy; returns its value or raises AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("%s not reached within %.1fs (last: %r)" % (what, timeout, v))
        time.sleep(interval)


def write_while_reading(readers, keys, read, writer, pause_s, value="new"):
    """The race of the fill-guard tests: one thread per reader client runs read(client, its
    share of keys) as soon as all are ready; after pause_s the writer client SETs every key to
    value in one pipeline. Returns the monotonic time the writes were acknowledged, once the
    readers are done."""
    go = threading.Barrier(len(readers) + 1)

    def run(client, ks):
        go.wait()
        read(client, ks)

    threads = [threading.Thread(target=run, args=(r, keys[i::len(readers)]))
               for i, r in enumerate(readers)]
    for t in threads:
        t.start()
    go.wait()
    time.sleep(pause_s)
    p = writer.pipeline(transaction=False)
    for k in keys:
        p.set(k, value)
    assert all(p.execute())
    acked = time.monotonic()
    for t in threads:
        t.join(10)
    return acked


def eval_available(client):
    """True when the L2 behind client runs Lua (tiercache-l2 gains scripting separately)."""
    try:
        return client.eval("return 1", 0) == 1
    except redis.ResponseError:
        return False
