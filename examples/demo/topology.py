"""The demo's runner (scripts/demo.sh runs it), also used by the end-to-end tests and the
benchmarks: one L2
(tiercache-l2, or Debian's redis-server), one tiercache-sidecar per "host" (own socket, own
shared-memory segment) and one gunicorn instance of examples/django per host, all sharing one
SQLite file. Free ports, a temporary directory, and a clean teardown: SIGTERM in reverse start
order, then a check that every process exited (stop() returns what did not).

    with Topology() as topo:           # hosts A and B
        topo.url("A") ...              # http://127.0.0.1:<port>
        topo.manage("A", "warm_cache")

Run as a script it is the demo (see main() and scripts/demo.sh).

Environment: TIERCACHE_BUILD_DIR (default <repo>/build) locates l2/tiercache-l2 and
sidecar/tiercache-sidecar; TIERCACHE_E2E_L2=redis uses redis-server as the L2.
"""

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from locations import REPO, build_dir, free_port, l2_binary, sidecar_binary  # noqa: E402,F401

SITE = os.path.join(REPO, "examples", "django")
# The sites' interpreter: Debian's, or a venv's with the tiercache wheel (tests/packaging).
PYTHON = os.environ.get("TIERCACHE_E2E_PYTHON", "/usr/bin/python3")
REDIS_SERVER = "/usr/bin/redis-server"


def have_sidecar():
    return os.access(sidecar_binary(), os.X_OK)


class StartError(RuntimeError):
    pass


class Proc:
    """One child process with its output in <workdir>/<name>.log."""

    def __init__(self, name, argv, workdir, env=None, cwd=None, cpus=None):
        self.name = name
        self.argv = (["taskset", "-c", cpus] if cpus else []) + list(argv)
        self.log_path = os.path.join(workdir, name + ".log")
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.log_path, "ab") as log:
            # own process group: a Ctrl-C in the demo's terminal reaches only the launcher,
            # which then stops the children in order
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=full_env,
                                         cwd=cwd or workdir, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def log(self, tail=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-tail:]
        except OSError:
            return ""

    def wait_ready(self, probe, timeout=15.0, what="ready"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.running():
                raise StartError("%s exited with %s before it was %s\nargv: %s\nlog:\n%s"
                                 % (self.name, self.proc.returncode, what, self.argv, self.log()))
            try:
                if probe():
                    return
            except Exception as e:  # not listening yet
                last = e
            time.sleep(0.05)
        raise StartError("%s not %s after %.0fs (last: %r)\nargv: %s\nlog:\n%s"
                         % (self.name, what, timeout, last, self.argv, self.log()))

    def stop(self, timeout=10.0):
        """SIGTERM, wait; returns the exit code, or a string if it had to be killed."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "hung: killed after %.0fs" % timeout
        return self.proc.returncode


def redis_ping(**kw):
    c = redis.Redis(socket_timeout=1, **kw)
    try:
        return c.ping()
    finally:
        c.connection_pool.disconnect()


def http_ok(url):
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status == 200


class Host:
    def __init__(self, name, port, socket_path, shm_name, location):
        self.name = name
        self.port = port
        self.socket_path = socket_path  # the sidecar's socket ('' when there is no sidecar)
        self.shm_name = shm_name
        self.location = location  # django-redis LOCATION
        self.sidecar = None
        self.site = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port


class Topology:
    """L2 + per host (sidecar + gunicorn). Arguments:
      hosts        host names ("A", "B")
      workers      gunicorn workers per host
      l2           "tiercache" (tiercache-l2) or "redis" (redis-server); default from
                   TIERCACHE_E2E_L2 or tiercache
      sidecars     True: every host through its own sidecar (requires the binary);
                   False: the sites talk to the L2's unix socket directly
      products     catalogue size for seed_shop
      ports        {host: port} to use fixed ports (the demo)
      workdir      keep files there instead of a fresh temporary directory
    """

    def __init__(self, hosts=("A", "B"), workers=2, l2=None, sidecars=True, products=48,
                 ports=None, workdir=None, l1_memory="64MiB", quiet=True):
        self.l2_kind = l2 or os.environ.get("TIERCACHE_E2E_L2", "tiercache")
        self.use_sidecars = sidecars
        self.workers = workers
        self.products = products
        self.l1_memory = l1_memory
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="tiercache-e2e-")
        os.makedirs(self.workdir, exist_ok=True)
        self.db_path = os.path.join(self.workdir, "shop.sqlite3")
        self.l2_port = free_port()
        self.l2_socket = os.path.join(self.workdir, "l2.sock")
        self.procs = []  # start order
        self.l2 = None
        tag = "%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000)
        self.hosts = {}
        for name in hosts:
            port = (ports or {}).get(name) or free_port()
            sock = os.path.join(self.workdir, "sidecar-%s.sock" % name.lower())
            target = sock if sidecars else self.l2_socket
            self.hosts[name] = Host(name, port, sock if sidecars else "",
                                    "e2e-%s-%s" % (tag, name.lower()),
                                    "unix://%s?db=0" % target)
        self.quiet = quiet
        self.stopped = False
        self._clients = []

    # -- life cycle --------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _say(self, msg):
        if not self.quiet:
            print(msg, flush=True)

    def start(self, l2_cpus=None, host_cpus=None):
        """Everything, in order; l2_cpus/host_cpus pin the L2 and each host's sidecar and site
        (taskset -c) for the benchmarks."""
        self.start_l2(cpus=l2_cpus)
        for host in self.hosts.values():
            if self.use_sidecars:
                self.start_sidecar(host, cpus=host_cpus)
        first = next(iter(self.hosts.values()))
        self._say("setting up the database and the demo catalogue")
        self.manage(first.name, "migrate", "-v0")
        self.manage(first.name, "seed_shop", "--products", str(self.products))
        for host in self.hosts.values():
            self.start_site(host, cpus=host_cpus)
        return self

    def start_l2(self, cpus=None):
        if self.l2_kind == "redis":
            argv = [REDIS_SERVER, "--port", str(self.l2_port), "--bind", "127.0.0.1",
                    "--unixsocket", self.l2_socket, "--unixsocketperm", "700", "--save", "",
                    "--appendonly", "no", "--daemonize", "no", "--logfile", ""]
        else:
            binary = l2_binary()
            if not os.access(binary, os.X_OK):
                raise StartError("tiercache-l2 not found at %s (build it first)" % binary)
            argv = [binary, "--port", str(self.l2_port), "--unixsocket", self.l2_socket,
                    "--maxmemory", "256mb"]
        self._say("starting the L2 (%s) on 127.0.0.1:%d and %s"
                  % (self.l2_kind, self.l2_port, self.l2_socket))
        self.l2 = self._spawn("l2", argv, cpus=cpus)
        self.l2.wait_ready(lambda: redis_ping(unix_socket_path=self.l2_socket),
                           what="answering PING")

    def start_sidecar(self, host, l2_address=None, cpus=None, extra=()):
        binary = sidecar_binary()
        if not os.access(binary, os.X_OK):
            raise StartError("tiercache-sidecar not found at %s (build it first)" % binary)
        argv = [binary, "--socket", host.socket_path, "--socket-mode", "0660",
                "--l2", l2_address or "unix:" + self.l2_socket, "--l1-memory", self.l1_memory,
                "--shm-name", host.shm_name, "--loglevel", "info"] + list(extra)
        self._say("starting host %s's sidecar on %s" % (host.name, host.socket_path))
        host.sidecar = self._spawn("sidecar-" + host.name.lower(), argv, cpus=cpus)
        host.sidecar.wait_ready(lambda: redis_ping(unix_socket_path=host.socket_path),
                                what="answering PING")

    def site_env(self, host, **extra):
        env = {"DJANGO_SETTINGS_MODULE": "tcshop.settings", "TCSHOP_DB_PATH": self.db_path,
               "TCSHOP_CACHE_LOCATION": host.location, "TCSHOP_HOST_NAME": host.name,
               "TCSHOP_PORT": str(host.port), "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": os.path.join(build_dir(), "python")}
        if not self.use_sidecars:  # straight to the L2: no segment to read directly
            env["TCSHOP_CACHE_BACKEND"] = "redis"
        env.update(extra)
        return env

    def start_site(self, host, cpus=None, env=None, workers=None):
        argv = [PYTHON, "-m", "gunicorn", "--workers", str(workers or self.workers),
                "--bind", "127.0.0.1:%d" % host.port, "--graceful-timeout", "5",
                "--chdir", SITE, "tcshop.wsgi"]
        self._say("starting host %s's site (gunicorn, %d workers) on %s"
                  % (host.name, workers or self.workers, host.url))
        host.site = self._spawn("site-" + host.name.lower(), argv,
                                env=self.site_env(host, **(env or {})), cpus=cpus)
        host.site.wait_ready(lambda: http_ok(host.url + "/admin/login/"), timeout=30,
                             what="serving HTTP")

    def _spawn(self, name, argv, env=None, cpus=None):
        p = Proc(name, argv, self.workdir, env=env, cpus=cpus)
        self.procs.append(p)
        return p

    def manage(self, host_name, *args, check=True, timeout=120, env=None):
        """Runs `manage.py args...` as host host_name would (env: settings to change, e.g.
        TCSHOP_CACHE_LOCATION); returns the CompletedProcess."""
        env, extra = dict(os.environ), env
        env.update(self.site_env(self.hosts[host_name], **(extra or {})))
        r = subprocess.run([PYTHON, "manage.py"] + list(args), cwd=SITE, env=env,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("manage.py %s failed (%d):\n%s\n%s"
                               % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def stop(self):
        """Stops everything (sites, then sidecars, then the L2) with SIGTERM and returns a list
        of problems: processes that had to be killed, were still there, or exited non-zero.
        Idempotent."""
        if self.stopped:
            return []
        self.stopped = True
        problems = []
        for c in self._clients:
            c.connection_pool.disconnect()
        for p in reversed(self.procs):
            was_running = p.running()
            rc = p.stop()
            if isinstance(rc, str):
                problems.append("%s %s" % (p.name, rc))
            elif p.running():
                problems.append("%s still running" % p.name)
            elif rc != 0:
                problems.append("%s exited with %s%s" % (
                    p.name, rc, "" if was_running else " before the teardown"))
        for host in self.hosts.values():  # a segment a sidecar left behind
            leftover = os.path.join("/dev/shm", "tiercache-" + host.shm_name)
            if os.path.exists(leftover):
                os.unlink(leftover)
        if self.own_workdir and not problems and not os.environ.get("TIERCACHE_E2E_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.problems = problems
        return problems

    # -- helpers -----------------------------------------------------------------------------
    def url(self, host_name, path="/"):
        return self.hosts[host_name].url + path

    def hot_counts(self, mode):
        """(queries, computations, misses) of the /hot/ page's `mode` (shop/hotkey.py) as the
        shop's database holds them."""
        db = sqlite3.connect(self.db_path, timeout=20)
        try:
            return db.execute("SELECT queries, runs, misses FROM shop_hotkeystat WHERE mode = ?",
                              (mode,)).fetchone()
        finally:
            db.close()

    def cache_client(self, host_name, **kw):
        """redis-py on host_name's cache socket (its sidecar)."""
        host = self.hosts[host_name]
        return self._client(unix_socket_path=host.socket_path or self.l2_socket, **kw)

    def l2_client(self, **kw):
        """redis-py on the L2 itself."""
        return self._client(unix_socket_path=self.l2_socket, **kw)

    def _client(self, **kw):
        c = redis.Redis(socket_timeout=5, **kw)
        self._clients.append(c)  # disconnected by stop()
        return c


def main(argv=None):
    """The demo: the topology on fixed ports until Ctrl-C."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port-a", type=int, default=8001)
    ap.add_argument("--port-b", type=int, default=8002)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--products", type=int, default=48)
    ap.add_argument("--l2", choices=["tiercache", "redis"], default=None)
    ap.add_argument("--no-sidecars", action="store_true",
                    help="point the sites at the L2 directly (no L1, for comparison)")
    args = ap.parse_args(argv)
    sidecars = not args.no_sidecars
    if sidecars and not have_sidecar():
        print("tiercache-sidecar is not built (%s): run scripts/build.sh, or pass "
              "--no-sidecars to run both hosts on the L2 directly" % sidecar_binary(),
              file=sys.stderr)
        return 1
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    topo = Topology(workers=args.workers, l2=args.l2, sidecars=sidecars,
                    products=args.products, ports={"A": args.port_a, "B": args.port_b},
                    quiet=False)
    try:
        topo.start()
        print(topo.manage("A", "warm_cache", "--no-progress").stdout.strip(), flush=True)
    except Exception as e:
        if stop["now"]:
            print("interrupted while starting", file=sys.stderr)
        else:
            print("demo failed to start: %s" % e, file=sys.stderr)
        if not stop["now"]:
            topo.own_workdir = False  # keep the logs
        problems = topo.stop()
        if problems or not stop["now"]:
            print("logs kept in %s %s" % (topo.workdir, "; ".join(problems)), file=sys.stderr)
        return 1
    a, b = topo.hosts["A"].url, topo.hosts["B"].url
    print("""
tiercache demo is up: one L2, two hosts{sc}, one SQLite database.

  host A   {a}/            (admin: {a}/admin/  user admin, password admin)
  host B   {b}/
  stats    {a}/cache-stats/   {b}/cache-stats/   (?format=json for JSON)
  logs     {wd}

See coherence:
  1. open {b}/product/1/ (now cached on host B)
  2. edit that product on host A: {a}/admin/shop/product/1/change/ (change the price, Save)
  3. reload {b}/product/1/: the new price, at once (A's sidecar broadcast the invalidation)
  Sessions follow you too: add to cart on A, then open {b}/cart/.
  From a shell: {py} manage.py cache_stats (in examples/django, with TCSHOP_CACHE_LOCATION={loc})

Ctrl-C stops everything.
""".format(sc=" (each with its tiercache-sidecar)" if sidecars else " (no sidecars)",
           a=a, b=b, wd=topo.workdir, py=PYTHON, loc=topo.hosts["A"].location), flush=True)
    try:
        while not stop["now"]:
            dead = [p.name for p in topo.procs if not p.running()]
            if dead:
                print("stopped unexpectedly: %s (logs in %s)" % (", ".join(dead), topo.workdir))
                break
            time.sleep(0.3)
    finally:
        print("\nstopping...", flush=True)
        problems = topo.stop()
    if problems:
        print("not clean: %s" % "; ".join(problems))
        return 1
    print("all processes stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
