"""A real Redis Cluster on loopback for the l2-mode cluster tests: six redis-server processes
(cluster-enabled yes, cluster-node-timeout 1000, each with its own dir, cluster config file and
bus port), joined by `redis-cli --cluster create ... --cluster-replicas 1` into three masters
with one replica each. Ready when every node says cluster_state:ok, all agree on the slots and
every replica's replication link is up. close() kills every process and removes the dirs,
failing loudly if anything is left."""

import os
import shutil
import subprocess
import tempfile

import redis

from servers import REDIS_SERVER, free_port
from sidecars import wait_for

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
READY_DEADLINE = 60.0  # the nodes meet (gossip) and agree; a busy machine is slow


class RedisCluster:
    def __init__(self, nodes=6, full_coverage=True):
        """full_coverage=False: cluster-require-full-coverage no, so the masters that are up
        keep serving while one master's slots are down (a failover)."""
        self.full_coverage = full_coverage
        self.dir = tempfile.mkdtemp(prefix="tc-cluster-")
        self.procs = {}  # port -> Popen
        try:
            for _ in range(nodes):
                self._start_node(free_port())
            subprocess.run([REDIS_CLI, "--cluster", "create"]
                           + ["127.0.0.1:%d" % p for p in self.procs]
                           + ["--cluster-replicas", "1", "--cluster-yes"],
                           check=True, capture_output=True, timeout=60)
            wait_for(self._ready, READY_DEADLINE, interval=0.1, what="cluster_state:ok everywhere")
        except BaseException:
            self.close()
            raise

    def _start_node(self, port):
        d = os.path.join(self.dir, str(port))
        os.mkdir(d)
        log = open(os.path.join(d, "redis.log"), "ab")
        self.procs[port] = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", d, "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
             # (the default bus port, port + 10000, may be taken or above 65535)
             "--cluster-port", str(free_port()),
             "--cluster-require-full-coverage", "yes" if self.full_coverage else "no",
             "--logfile", ""], stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=d)
        log.close()
        wait_for(lambda: self._pings(port), 10.0, interval=0.02, what="redis %d up" % port)

    @staticmethod
    def _pings(port):
        try:
            return redis.Redis(port=port, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def node(self, port):
        return redis.Redis(port=port, socket_timeout=5, decode_responses=True)

    def _ready(self):
        seen = None
        for port in self.procs:
            c = self.node(port)
            if "cluster_state:ok" not in c.execute_command("CLUSTER", "INFO"):
                return False
            slots = sorted((r[0], r[1], r[2][1]) for r in c.execute_command("CLUSTER", "SLOTS"))
            if seen is not None and slots != seen:
                return False
            seen = slots
            # Replication set up too (tests wait for their writes to reach the replica): each
            # replica's link up, each master's replica online.
            repl = c.info("replication")
            if repl["role"] == "slave" and repl.get("master_link_status") != "up":
                return False
            if repl["role"] == "master" and len(self.procs) > 3 and \
                    repl.get("connected_slaves", 0) < 1:
                return False
        return len(self.masters()) == 3

    def masters(self):
        """Ports of the masters, in slot order."""
        any_port = next(p for p, proc in self.procs.items() if proc.poll() is None)
        ranges = sorted(self.node(any_port).execute_command("CLUSTER", "SLOTS"))
        out = []
        for r in ranges:
            if r[2][1] not in out:
                out.append(r[2][1])
        return out

    def masters_alive(self):
        """Ports of the masters that the live nodes name (after a kill: the promoted one)."""
        for port, proc in self.procs.items():
            if proc.poll() is None:
                ranges = sorted(self.node(port).execute_command("CLUSTER", "SLOTS"))
                return sorted({r[2][1] for r in ranges})
        return []

    def master_of(self, key):
        """The port of the master serving key's slot (asked of the cluster)."""
        any_port = next(p for p, proc in self.procs.items() if proc.poll() is None)
        slot = self.node(any_port).execute_command("CLUSTER", "KEYSLOT", key)
        for r in self.node(any_port).execute_command("CLUSTER", "SLOTS"):
            if r[0] <= slot <= r[1]:
                return r[2][1]
        raise AssertionError("no master serves slot %d" % slot)

    def wait_replicated(self, port, timeout=20.0):
        """Waits until the master at port's replicas have acknowledged everything it has
        replicated so far (WAIT from a fresh connection would not: it waits only for that
        connection's own writes)."""
        def caught_up():
            repl = self.node(port).info("replication")
            replicas = [v for k, v in repl.items() if k.startswith("slave") and isinstance(v, dict)]
            return bool(replicas) and all(r["offset"] >= repl["master_repl_offset"]
                                          for r in replicas)
        wait_for(caught_up, timeout, interval=0.02, what="replicas of %d caught up" % port)

    def kill9(self, port):
        proc = self.procs[port]
        proc.kill()
        proc.wait(timeout=10)

    def seeds(self, n=1):
        return ",".join("127.0.0.1:%d" % p for p in self.masters()[:n])

    def close(self):
        leftovers = []
        for port, proc in self.procs.items():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            if proc.poll() is None:
                leftovers.append(port)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.procs = {}
        if leftovers or os.path.exists(self.dir):
            raise AssertionError("redis cluster leftovers: processes %s, dir %s exists: %s"
                                 % (leftovers, self.dir, os.path.exists(self.dir)))
