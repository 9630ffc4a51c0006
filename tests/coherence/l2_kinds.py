"""The L2s the coherence checker (check.py) runs its hosts on, beyond one L2 process
(sidecars.Cluster): a Redis Cluster (OnRedisCluster) and a master with a replica under Redis
Sentinel (OnRedisSentinel); how a writer straight to the L2 connects to each (l2_client); and
the failover a run can go through on either (failover(), a controller for check.run).

A failover here is a crash: kill -9 of a master, so its replica is promoted. Redis replicates
asynchronously, so a crash can lose writes the master acknowledged and its replica never got;
the new master then holds an older version than one acknowledged, which the checker would count
as a stale read although it is Redis's contract, not tiercache's, that allows it. So the master
is first paused for writes (CLIENT PAUSE WRITE: writes in flight wait, and fail with the kill)
until its replica has everything it acknowledged; then it is killed."""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "sidecar"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import redis  # noqa: E402

from sidecars import Cluster, Sidecar, wait_for  # noqa: E402

FOLLOW_DEADLINE = 30.0  # kill -9 to promotion, and promotion to every sidecar on the new master


def l2_client(target):
    """A client for a writer straight to the L2: target is ("redis", host, port, password),
    ("cluster", host, port) (redis-py's cluster client, one seed) or ("sentinel", [(host,
    port), ...], master name) (redis-py's Sentinel client: it asks the sentinels again on every
    new connection, so it follows a failover)."""
    kind = target[0]
    if kind == "cluster":
        from redis.cluster import RedisCluster as ClusterClient
        return ClusterClient(host=target[1], port=target[2], socket_timeout=10)
    if kind == "sentinel":
        from redis.sentinel import Sentinel
        return Sentinel(target[1], socket_timeout=5).master_for(target[2], socket_timeout=10)
    return redis.Redis(host=target[1], port=target[2], password=target[3], socket_timeout=10)


# What a writer straight to the L2 may get while a failover is under way: redis-py's cluster
# client raises RedisClusterException (not a RedisError) when no node it knows answers.
L2_ERRORS = (redis.RedisError, redis.exceptions.RedisClusterException)


def crash_when_replicated(master, replica, kill, deadline=10.0):
    """Pauses writes at `master` (a client), waits until `replica` has processed every byte of
    the master's replication stream, then calls kill() (kill -9 of the master)."""
    master.execute_command("CLIENT", "PAUSE", int(deadline * 1000 + 5000), "WRITE")

    def caught_up():
        want = master.info("replication")["master_repl_offset"]
        return replica.info("replication").get("slave_repl_offset", -1) >= want
    wait_for(caught_up, deadline, interval=0.002, what="the replica caught up with the master")
    kill()


class _Hosts:
    """What the L2 kinds share: the sidecars started (their exit statuses checked at close(),
    problems noted as sidecars.Cluster does), and use as a context manager."""

    source = "tracking"

    @staticmethod
    def _own(flags):
        flags = dict(flags)
        flags.pop("invalidation_source", None)  # the mode's own default: tracking
        return flags

    def _start(self, sidecar):
        self.sidecars.append(sidecar)
        return sidecar.start()

    def close(self):
        for s in self.sidecars:
            rc = s.stop()
            if rc not in (0, None):
                self.problems.append("sidecar %s exited with %r\n%s" % (s.name, rc, s.stderr()))
        self._close_l2()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class OnRedisCluster(_Hosts):
    """The hosts on a Redis Cluster of three masters and three replicas (redis_cluster.py):
    sidecars in l2-mode cluster given one seed, the tracking source on every master. Writers
    straight to the L2 use redis-py's cluster client. Stands in for sidecars.Cluster.
    full_coverage=False: the masters that are up keep serving while one master's slots have
    none (cluster-require-full-coverage no)."""

    l2_kind = "redis-cluster"

    def __init__(self, full_coverage=True):
        from redis_cluster import RedisCluster
        self.rc = RedisCluster(full_coverage=full_coverage)
        # Just created, the replicas are still in their first full sync: a failover now would
        # have nothing to promote. Ready once every replica's link to its master is up.
        wait_for(self._replicas_in_sync, 30.0, interval=0.05, what="every replica in sync")
        self.sidecars = []
        self.problems = []
        seed = self.rc.masters()[0]
        self.l2 = type("Seed", (), {"port": seed, "password": None})()

    def l2_target(self):
        return ("cluster", "127.0.0.1", self.l2.port)

    def _replicas_in_sync(self):
        masters = set(self.rc.masters())
        return all(self.rc.node(p).info("replication").get("master_link_status") == "up"
                   for p in self.rc.procs if p not in masters)

    def reshard_later(self, slots, delay_s=1.0):
        """Moves `slots` slots from the first master to the second with `redis-cli --cluster
        reshard`, starting delay_s from now, in a thread; the thread is returned and its
        .result is redis-cli's exit status, seconds taken and the last lines of its output (what
        it said when it failed) once it ends."""
        import subprocess
        from redis_cluster import REDIS_CLI
        masters = self.rc.masters()
        ids = [self.rc.node(p).execute_command("CLUSTER", "MYID") for p in masters[:2]]

        def reshard():
            time.sleep(delay_s)
            t0 = time.monotonic()
            r = subprocess.run([REDIS_CLI, "--cluster", "reshard", "127.0.0.1:%d" % masters[0],
                                "--cluster-from", ids[0], "--cluster-to", ids[1],
                                "--cluster-slots", str(slots), "--cluster-yes",
                                "--cluster-pipeline", "100"], capture_output=True, timeout=300)
            said = (r.stdout + r.stderr).decode(errors="replace").splitlines()
            t.result = (r.returncode, time.monotonic() - t0, "\n".join(said[-15:]))

        t = threading.Thread(target=reshard, daemon=True)
        t.result = None
        t.start()
        return t

    # -- the failover (failover() below): the second master dies, not the writers' seed --

    def victim(self):
        return self.rc.masters()[1]

    def owned_by(self, victim):
        """A predicate: is key served by `victim` (its slots now, before the crash)?"""
        from redis.crc import key_slot
        ranges = [(r[0], r[1]) for r in self.rc.node(victim).execute_command("CLUSTER", "SLOTS")
                  if r[2][1] == victim]
        return lambda key: any(a <= key_slot(key.encode()) <= b for a, b in ranges)

    def crash(self, victim):
        replica = int(self.rc.node(victim).info("replication")["slave0"]["port"])
        crash_when_replicated(self.rc.node(victim), self.rc.node(replica),
                              lambda: self.rc.kill9(victim))
        return replica

    def promoted(self, victim, replica):
        return replica in self.rc.masters_alive()

    def diagnostics(self):
        """CLUSTER NODES as the first live node sees it (flags fail?, fail, the epochs)."""
        for port, proc in self.rc.procs.items():
            if proc.poll() is None:
                try:
                    return "CLUSTER NODES at %d:\n%s" % (
                        port, self.rc.node(port).execute_command("CLUSTER", "NODES"))
                except redis.RedisError:
                    continue
        return "no cluster node alive"

    def follows(self, sidecar, replica):
        """The sidecar follows every master's tracking again (L1 serves all slots)."""
        return sidecar.info()["bus_slots_unhealthy"] == 0

    def sidecar(self, name, **flags):
        return self._start(Sidecar(self.rc.seeds(1), name, l2_mode="cluster",
                                   **self._own(flags)))

    def _close_l2(self):
        self.rc.close()


class OnRedisSentinel(_Hosts):
    """The hosts on a master and its replica under three sentinels (redis_sentinel.py):
    sidecars in l2-mode sentinel given the sentinels, the tracking source at the master.
    Writers straight to the L2 use redis-py's Sentinel client."""

    l2_kind = "redis-sentinel"

    def __init__(self):
        from redis_sentinel import Topology
        self.topology = Topology()
        self.sidecars = []
        self.problems = []
        self.l2 = type("Master", (), {"port": self.topology.master_port, "password": None})()

    def l2_target(self):
        from redis_sentinel import MASTER
        return ("sentinel", [("127.0.0.1", p) for p in self.topology.sentinel_ports], MASTER)

    def victim(self):
        return self.topology.master_port

    def owned_by(self, victim):
        return lambda key: True

    def crash(self, victim):
        t = self.topology
        crash_when_replicated(t.redis(victim), t.redis(t.replica_port), lambda: t.kill9(victim))
        return t.replica_port

    def promoted(self, victim, replica):
        return (self.topology.master_named() == "127.0.0.1:%d" % replica
                and self.topology.redis(replica).execute_command("ROLE")[0] == "master")

    def diagnostics(self):
        return self.topology.diagnostics()

    def follows(self, sidecar, replica):
        """The sidecar's master is the promoted replica, its tracking there set up."""
        return (sidecar.info("server").get("l2_master") == "127.0.0.1:%d" % replica
                and sidecar.info()["bus_healthy"] == 1)

    def sidecar(self, name, **flags):
        from redis_sentinel import MASTER
        return self._start(Sidecar(self.topology.sentinels(), name, l2_mode="sentinel",
                                   l2_sentinel_master=MASTER, **self._own(flags)))

    def _close_l2(self):
        self.topology.close()


def l2_hosts(l2):
    if l2 == "redis-cluster":
        return OnRedisCluster()
    if l2 == "redis-cluster-partial":  # keeps serving with a master's slots down
        return OnRedisCluster(full_coverage=False)
    if l2 == "redis-sentinel":
        return OnRedisSentinel()
    return Cluster(l2)


def l2_target(cluster):
    """Where a writer straight to the L2 connects (see l2_client)."""
    if hasattr(cluster, "l2_target"):
        return cluster.l2_target()
    return ("redis", "127.0.0.1", cluster.l2.port, cluster.l2.password)


def failover(delay_s=1.0, grace_s=5.0, after_s=3.0):
    """A controller for check.run: delay_s into the run, a master crashes (kill -9 once its
    replica has everything it acknowledged; on a cluster, the second master, whose keys become
    the watched ones). Failures may happen from the moment the master is paused until grace_s
    after every sidecar serves the promoted replica (requests in flight, writers straight to
    the L2 finding it on their own); then the run goes on after_s more, so that the watched
    keys are seen read and written again. Events: paused (the crash begins), killed,
    promoted (the sentinels or the cluster name the replica), followed-<host>."""

    def control(cluster, sc, ctl):
        time.sleep(delay_s)
        victim = cluster.victim()
        owned = cluster.owned_by(victim)
        ctl.watched = {k for k in ctl.keys if owned(k)}
        probe = sorted(ctl.watched)[0]
        ctl.open_failure_window()
        ctl.mark("paused")
        replica = cluster.crash(victim)
        ctl.mark("killed")
        try:
            wait_for(lambda: cluster.promoted(victim, replica), FOLLOW_DEADLINE, interval=0.02,
                     what="the replica promoted")
        except AssertionError as e:  # why not: the sentinels' or the cluster's own account
            diagnostics = getattr(cluster, "diagnostics", None)
            raise AssertionError("%s\n%s" % (e, diagnostics() if diagnostics else "")) from None
        ctl.mark("promoted")
        for h, s in sc.items():
            c = redis.Redis(unix_socket_path=s.socket, socket_timeout=10)

            def answers():
                try:
                    c.get(probe)
                    return True
                except redis.RedisError:
                    return False
            wait_for(lambda: cluster.follows(s, replica) and answers(), FOLLOW_DEADLINE,
                     interval=0.02, what="sidecar %s on the promoted replica" % h)
            ctl.mark("followed-" + h)
            c.close()
        ctl.close_failure_window(time.monotonic() + grace_s)
        ctl.end_in(grace_s + after_s)

    return control
