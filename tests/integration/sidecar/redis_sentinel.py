"""Redis Sentinel on loopback for the l2-mode sentinel tests and the coherence checker: a
redis-server master, one replica and three redis-sentinel processes (each with its own config
file, down-after-milliseconds 1000, quorum 2). Ready when the replica is in sync and every
sentinel can authorise a failover (CKQUORUM) and knows the replica. close() kills every
process and removes the dir."""

import os
import shutil
import signal
import subprocess
import tempfile

import redis

from servers import REDIS_SERVER, free_port
from sidecars import wait_for

REDIS_SENTINEL = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
MASTER = "tcmain"
SETUP_DEADLINE = 30.0   # sentinels know each other and the replica


class Topology:
    """redis-server master + replica, three sentinels; every process killed at close()."""

    def __init__(self, sentinel_password=None):
        self.sentinel_password = sentinel_password  # the sentinels' requirepass, if any
        self.dir = tempfile.mkdtemp(prefix="tc-sentinel-")
        self.procs = []
        self.master_port = self._redis("master")
        self.replica_port = self._redis("replica", "--replicaof", "127.0.0.1",
                                        str(self.master_port), "--replica-read-only", "no")
        wait_for(lambda: self.redis(self.replica_port).info("replication")
                 .get("master_link_status") == "up", SETUP_DEADLINE,
                 what="the replica in sync with the master")
        self.sentinel_ports = [self._sentinel(i) for i in range(3)]
        # Failover needs a majority of sentinels that know each other (hello messages every
        # 2 s) and a replica they have seen.
        wait_for(self._ready, SETUP_DEADLINE, interval=0.1, what="sentinels ready for failover")

    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, name + ".log"), "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                cwd=self.dir)
        log.close()
        self.procs.append(proc)
        return proc

    def _redis(self, name, *extra):
        port = free_port()
        self.__dict__.setdefault("proc_of", {})[port] = self._spawn(name, [
            REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", self.dir, "--dbfilename", name + ".rdb",
            "--logfile", ""] + list(extra))
        wait_for(lambda: self._pings(port), 10.0, interval=0.02, what="redis %s up" % name)
        return port

    def _sentinel(self, i):
        port = free_port()
        conf = os.path.join(self.dir, "sentinel-%d.conf" % i)
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndaemonize no\nlogfile \"\"\ndir %s\n"
                    "sentinel resolve-hostnames no\n"
                    "sentinel monitor %s 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds %s 1000\n"
                    "sentinel failover-timeout %s 5000\n"
                    "sentinel parallel-syncs %s 1\n"
                    % (port, self.dir, MASTER, self.master_port, MASTER, MASTER, MASTER))
            if self.sentinel_password:
                # (sentinel-pass: they need each other's password too, to vote)
                f.write("requirepass %s\nsentinel sentinel-pass %s\n"
                        % (self.sentinel_password, self.sentinel_password))
        self._spawn("sentinel-%d" % i, [REDIS_SENTINEL, conf])
        wait_for(lambda: self._pings(port, self.sentinel_password), 10.0, interval=0.02,
                 what="sentinel %d up" % i)
        return port

    @staticmethod
    def _pings(port, password=None):
        try:
            return redis.Redis(port=port, socket_timeout=1, password=password).ping()
        except redis.RedisError:
            return False

    def _ready(self):
        for port in self.sentinel_ports:
            s = self.sentinel(port)
            try:
                s.execute_command("SENTINEL", "CKQUORUM", MASTER)
            except redis.ResponseError:
                return False
            if not s.execute_command("SENTINEL", "REPLICAS", MASTER):
                return False
        return True

    @staticmethod
    def redis(port):
        return redis.Redis(port=port, socket_timeout=5, decode_responses=True)

    def sentinel(self, port):
        return redis.Redis(port=port, socket_timeout=5, decode_responses=True,
                           password=self.sentinel_password)

    def sentinels(self):
        return ",".join("127.0.0.1:%d" % p for p in self.sentinel_ports)

    def master_named(self):
        """The master address the first sentinel that answers names."""
        for port in self.sentinel_ports:
            try:
                host, p = self.sentinel(port).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
                return "%s:%s" % (host, p)
            except (redis.RedisError, TypeError, ValueError):
                continue
        return None

    def diagnostics(self, lines=25):
        """For a failure message: each sentinel's view of the master (flags, failover state,
        the address it names) and the last lines of its log (+sdown, +odown, +try-failover,
        -failover-abort-...), and the replica's ROLE."""
        out = []
        for i, port in enumerate(self.sentinel_ports):
            try:
                m = self.sentinel(port).execute_command("SENTINEL", "MASTER", MASTER)
                m = dict(zip(m[::2], m[1::2])) if isinstance(m, list) else m
                view = "flags=%s failover-state=%s ip:port=%s:%s" % (
                    m.get("flags"), m.get("failover-state"), m.get("ip"), m.get("port"))
            except redis.RedisError as e:
                view = "unreachable (%s)" % e
            out.append("sentinel %d (port %d): %s" % (i, port, view))
            try:
                with open(os.path.join(self.dir, "sentinel-%d.log" % i), "rb") as f:
                    tail = f.read().decode("utf-8", "replace").splitlines()[-lines:]
                out += ["  | " + line for line in tail]
            except OSError as e:
                out.append("  (no log: %s)" % e)
        try:
            out.append("replica %d ROLE: %r" % (
                self.replica_port, self.redis(self.replica_port).execute_command("ROLE")))
        except redis.RedisError as e:
            out.append("replica %d: %s" % (self.replica_port, e))
        return "\n".join(out)

    def kill9(self, port):
        proc = self.proc_of[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
