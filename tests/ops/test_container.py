"""The container's entrypoint and health check, run outside Docker the way the image runs them:
docker/entrypoint.sh execs the binary chosen by its first argument from TIERCACHE_BIN_DIR (in
the image /usr/local/bin; here a directory of links to the local build), configured by
TIERCACHE_* variables only; docker/healthcheck.sh answers 0 (healthy) or 1 (unhealthy)."""

import os
import re
import shlex
import signal
import subprocess
import time

import pytest
import yaml

from conftest import DOCKER, L2_BIN, SIDECAR_BIN, clean_env, free_port, wait_for

ENTRYPOINT = os.path.join(DOCKER, "entrypoint.sh")
HEALTHCHECK = os.path.join(DOCKER, "healthcheck.sh")
SECRET = "s3cret-never-logged-0451"


@pytest.fixture
def image(tmp_path):
    """A fake image root: bin dir with the binaries, state dir, secret file, run dir."""
    root = tmp_path / "image"
    (root / "bin").mkdir(parents=True)
    os.symlink(L2_BIN, root / "bin" / "tiercache-l2")
    os.symlink(SIDECAR_BIN, root / "bin" / "tiercache-sidecar")
    (root / "state").mkdir()
    (root / "secret").write_text(SECRET + "\n")
    return root


def container_env(image, **extra):
    return clean_env(TIERCACHE_BIN_DIR=image / "bin", TIERCACHE_STATE_DIR=image / "state",
                     **extra)


def health(env, *args):
    r = subprocess.run([HEALTHCHECK] + list(args), env=env, capture_output=True, timeout=15)
    return r.returncode


def test_l2_container(procs, image):
    port = free_port()
    env = container_env(image, TIERCACHE_PORT=port, TIERCACHE_REQUIREPASS_FILE=image / "secret")
    l2 = procs.start([ENTRYPOINT, "l2"], env=env, name="l2")
    wait_for(lambda: health(env, "l2") == 0 or not l2.alive(), what="l2 healthy")
    assert l2.alive(), l2.output()
    # exec: the entrypoint's process is the server itself (signals reach it directly).
    assert os.path.basename(os.readlink("/proc/%d/exe" % l2.pid)) == "tiercache-l2"
    assert (image / "state" / "tiercache-role").read_text().strip() == "l2"
    assert health(env) == 0  # role from the state dir, as the image's HEALTHCHECK runs it
    no_password = container_env(image, TIERCACHE_PORT=port)
    assert health(no_password, "l2") == 1  # NOAUTH is not PONG
    assert health(container_env(image, TIERCACHE_PORT=free_port()), "l2") == 1
    assert l2.stop() == 0
    assert health(env, "l2") == 1
    assert SECRET not in l2.output()


def test_l2_container_is_alive_but_not_ready_while_it_loads(procs, image, tmp_path):
    """A liveness probe that restarted an L2 still loading a big RDB file would never let it
    finish: while it loads (-LOADING to PING), healthcheck.sh l2 says alive, --ready says not
    ready; once loaded, both say yes. The load is made slow with key-load-delay."""
    data = tmp_path / "data"
    data.mkdir()
    l2 = procs.l2("--dir", str(data))
    payload = "".join("SET k:%05d %s\r\n" % (i, "v" * 100) for i in range(2000)) + "SAVE\r\n"
    r = subprocess.run(["redis-cli", "-p", str(l2.port), "--pipe"], input=payload.encode(),
                       capture_output=True, timeout=30)
    assert b"errors: 0" in r.stdout, r.stdout
    assert l2.stop() == 0
    port = free_port()
    env = container_env(image, TIERCACHE_PORT=port, TIERCACHE_DIR=data,
                        TIERCACHE_KEY_LOAD_DELAY=2000,  # 2 ms per key: 4 s at least
                        TIERCACHE_LOADING_PROCESS_EVENTS_INTERVAL_BYTES=1024)
    loading = procs.start([ENTRYPOINT, "l2"], env=env, name="l2-loading")
    wait_for(lambda: health(env, "l2") == 0 or not loading.alive(), timeout=30,
             what="l2 alive")
    assert loading.alive(), loading.output()
    ping = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, timeout=15)
    assert ping.stdout.startswith(b"LOADING"), "the load was over too soon: %r" % ping.stdout
    assert health(env, "l2", "--ready") == 1
    wait_for(lambda: health(env, "l2", "--ready") == 0, timeout=60, what="l2 loaded")
    assert health(env, "l2") == 0
    assert loading.stop() == 0


def test_sidecar_container(procs, image, tmp_path):
    l2 = procs.l2()
    sock = tmp_path / "run" / "tiercache" / "sidecar.sock"  # directory made by the entrypoint
    env = container_env(image, TIERCACHE_L2="localhost:%d" % l2.port, TIERCACHE_SOCKET=sock,
                        TIERCACHE_SHM_NAME=procs.shm_name(), TIERCACHE_L1_MEMORY="8MiB",
                        TIERCACHE_BUS_TIMEOUT_MS=300)
    sc = procs.start([ENTRYPOINT, "sidecar"], env=env, name="sidecar")
    wait_for(lambda: health(env, "sidecar") == 0 or not sc.alive(), what="sidecar healthy")
    assert sc.alive(), sc.output()
    assert os.path.basename(os.readlink("/proc/%d/exe" % sc.pid)) == "tiercache-sidecar"
    wait_for(lambda: health(env, "sidecar", "--ready") == 0, what="sidecar ready (L2 + bus)")
    assert health(env) == 0
    # L2 down: still alive (answers PING, fails cache requests fast), no longer ready.
    l2.stop()
    wait_for(lambda: health(env, "sidecar", "--ready") == 1, timeout=10, what="not ready")
    assert health(env, "sidecar") == 0
    sc.proc.send_signal(signal.SIGTERM)
    assert sc.proc.wait(10) == 0, sc.output()
    assert health(env, "sidecar") == 1
    assert not sock.exists()


def test_entrypoint_arguments(image, tmp_path):
    env = container_env(image)
    assert subprocess.run([ENTRYPOINT], env=env, capture_output=True).returncode == 2
    r = subprocess.run([ENTRYPOINT, "echo", "any", "command"], env=env, capture_output=True)
    assert r.returncode == 0 and r.stdout == b"any command\n"
    r = subprocess.run([ENTRYPOINT, "l2", "--version"], env=env, capture_output=True)
    assert r.returncode == 0 and r.stdout.startswith(b"tiercache-l2 ")
    r = subprocess.run([ENTRYPOINT, "sidecar", "--help"], env=env, capture_output=True)
    assert r.returncode == 0 and b"--l1-memory" in r.stdout
    both = container_env(image, TIERCACHE_REQUIREPASS="x",
                         TIERCACHE_REQUIREPASS_FILE=image / "secret")
    r = subprocess.run([ENTRYPOINT, "l2"], env=both, capture_output=True)
    assert r.returncode == 2 and b"use one" in r.stderr and SECRET.encode() not in r.stderr
    missing = container_env(image, TIERCACHE_REQUIREPASS_FILE=tmp_path / "nope")
    assert subprocess.run([ENTRYPOINT, "l2"], env=missing, capture_output=True).returncode == 2
    assert health(env, "bogus") == 2


def test_entrypoint_config_file(procs, image, tmp_path):
    port = free_port()
    conf = tmp_path / "l2.toml"
    conf.write_text("port = %d\nmaxmemory-policy = \"volatile-lru\"\n" % port)
    env = container_env(image, TIERCACHE_CONFIG=conf)
    l2 = procs.start([ENTRYPOINT, "l2"], env=env, name="l2")
    env_health = container_env(image, TIERCACHE_PORT=port)
    wait_for(lambda: health(env_health, "l2") == 0 or not l2.alive(), what="l2 from TOML")
    assert l2.alive(), l2.output()
    out = subprocess.run(["redis-cli", "-p", str(port), "config", "get", "maxmemory-policy"],
                         capture_output=True, text=True).stdout.split()
    assert out == ["maxmemory-policy", "volatile-lru"]
    assert l2.stop() == 0


def on_loopback(text, ports, host="127.0.0.1"):
    """Arguments or a shell script of a compose file made runnable on loopback: a compose
    service name becomes `host`, and the port after it (`NAME PORT`, `NAME:PORT`, `-h NAME -p
    PORT`) that service's port here."""
    names = "|".join(re.escape(n) for n in sorted(ports, key=len, reverse=True))

    def here(m):
        return host + (m.group(2) + str(ports[m.group(1)]) if m.group(3) else "")
    return re.sub(r"(?<![\w.-])(%s)(?![\w.-])(?:(:| +-p +| +)(\d+)(?![\w.]))?" % names, here,
                  text)


def compose_args(argv, ports):
    return shlex.split(on_loopback(shlex.join(argv), ports))


def compose_services(name):
    return yaml.safe_load(open(os.path.join(DOCKER, name)))["services"]


def redis_cli(port, *args):
    r = subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True,
                       text=True, timeout=10)
    return r.stdout.split()


def socket_cli(sock, *args, stdin=None):
    r = subprocess.run(["redis-cli", "-s", str(sock)] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=30)
    return r.stdout.split()


def start_redis_service(procs, services, name, ports, tmp_path, *extra):
    """Compose service `name`'s redis-server command on loopback, with its own port and dir."""
    argv = list(services[name]["command"])
    assert argv[0] == "redis-server"
    argv = compose_args(argv[1:], ports)
    argv[argv.index("--port") + 1] = str(ports[name])
    (tmp_path / name).mkdir()
    procs.start(["redis-server"] + argv + ["--dir", str(tmp_path / name)] + list(extra),
                name=name)
    wait_for(lambda: redis_cli(ports[name], "ping") == ["PONG"], what=name)


def start_compose_sidecar(procs, image, tmp_path, services, ports):
    """A sidecar started by the entrypoint with the compose file's sidecar environment (the
    same for both hosts), its addresses as names that resolve to loopback; it must become
    ready (L2 and bus). Returns (process, socket)."""
    sidecar_env = dict(services["sidecar-a"]["environment"])
    assert sidecar_env == dict(services["sidecar-b"]["environment"])
    sidecar_env["TIERCACHE_L2"] = on_loopback(sidecar_env["TIERCACHE_L2"], ports, "localhost")
    sock = tmp_path / "sc.sock"
    env = container_env(image, TIERCACHE_SOCKET=sock, TIERCACHE_SHM_NAME=procs.shm_name(),
                        TIERCACHE_L1_MEMORY="8MiB", **sidecar_env)
    sc = procs.start([ENTRYPOINT, "sidecar"], env=env, name="sidecar")
    wait_for(lambda: health(env, "sidecar", "--ready") == 0 or not sc.alive(), timeout=30,
             what="sidecar ready as the compose file configures it")
    assert sc.alive(), sc.output()
    return sc, sock


def test_compose_sentinel_services_run_as_written(procs, image, tmp_path):
    """docker/compose.sentinel.yaml's Redis master, replica and three sentinels, started with
    the arguments the file gives them (service names mapped to loopback ports), agree on the
    master and its replica; a sidecar given the file's sentinel settings finds that master and
    is ready. A typo in the shipped arguments (a sentinel option, the monitor's name or quorum,
    the replica's replicaof) fails here, not in a user's deployment."""
    services = compose_services("compose.sentinel.yaml")
    names = ["l2", "l2-replica", "sentinel-1", "sentinel-2", "sentinel-3"]
    ports = {n: free_port() for n in names}

    def sentinel_argv(name):
        cmd = services[name]["command"]
        assert cmd[:2] == ["sh", "-c"]
        words = shlex.split(cmd[2].split("exec ", 1)[1])
        assert words[0] == "redis-sentinel"
        conf = tmp_path / ("%s.conf" % name)
        conf.write_text("")
        argv = compose_args(words[2:], ports)
        argv[argv.index("--port") + 1] = str(ports[name])
        return ["redis-sentinel", str(conf)] + argv

    cli = redis_cli
    for name in ("l2", "l2-replica"):
        start_redis_service(procs, services, name, ports, tmp_path)
    wait_for(lambda: "master_link_status:up" in " ".join(cli(ports["l2-replica"], "info",
                                                               "replication")),
             timeout=30, what="the replica in sync (its replicaof)")
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        procs.start(sentinel_argv(name), name=name)
    master = ["127.0.0.1", str(ports["l2"])]
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        wait_for(lambda: cli(ports[name], "sentinel", "get-master-addr-by-name",
                             "tiercache") == master, timeout=30, what="%s monitoring" % name)
        # The monitor's quorum is reachable with the sentinels the file runs.
        wait_for(lambda: "OK" in cli(ports[name], "sentinel", "ckquorum", "tiercache"),
                 timeout=30, what="%s: quorum" % name)
        wait_for(lambda: str(ports["l2-replica"]) in cli(ports[name], "sentinel", "replicas",
                                                        "tiercache"),
                 timeout=30, what="%s: the replica known" % name)

    sentinels = services["sidecar-a"]["environment"]["TIERCACHE_L2"].split(",")
    assert sorted(s.rsplit(":", 1)[0] for s in sentinels) == ["sentinel-1", "sentinel-2",
                                                             "sentinel-3"]
    assert all(s.rsplit(":", 1)[1] == "26379" for s in sentinels)
    sc, sock = start_compose_sidecar(procs, image, tmp_path, services, ports)
    assert "l2_master:127.0.0.1:%d" % ports["l2"] in socket_cli(sock, "info", "server")
    assert socket_cli(sock, "set", "k", "v") == ["OK"]
    assert cli(ports["l2"], "get", "k") == ["v"]
    assert sc.stop() == 0


def test_compose_cluster_services_run_as_written(procs, image, tmp_path):
    """docker/compose.cluster.yaml's six Redis nodes, started with the arguments the file gives
    them, are made one cluster by the file's l2-cluster-create script, run as written (service
    names mapped to loopback ports): three masters with a replica each and cluster_state:ok on
    every node; run again (a later `compose up`), it leaves the cluster as it is. A sidecar
    given the file's settings (l2-mode cluster, its seeds) is ready and spreads keys over the
    three masters. A typo in a node's options or in the script fails here."""
    services = compose_services("compose.cluster.yaml")
    nodes = sorted(n for n, s in services.items() if s.get("command", [""])[0] == "redis-server")
    assert len(nodes) == 6
    ports = {n: free_port() for n in nodes}
    for name in nodes:  # (the default bus port, port + 10000, may be taken here)
        start_redis_service(procs, services, name, ports, tmp_path, "--bind", "127.0.0.1",
                            "--cluster-port", str(free_port()))
    create = services["l2-cluster-create"]
    assert create["command"][:2] == ["sh", "-c"] and set(create["depends_on"]) == set(nodes)
    script = on_loopback(create["command"][2], ports)
    assert "--cluster create" in script and "--cluster-replicas 1" in script
    for attempt in ("create", "found made"):
        r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, (attempt, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout  # the second run created nothing
    for name in nodes:
        wait_for(lambda: "cluster_state:ok" in redis_cli(ports[name], "cluster", "info"),
                 timeout=60, what="%s: cluster_state:ok" % name)
    roles = {n: redis_cli(ports[n], "role")[0] for n in nodes}
    masters = [n for n in nodes if roles[n] == "master"]
    assert len(masters) == 3 and list(roles.values()).count("slave") == 3, roles

    seeds = services["sidecar-a"]["environment"]["TIERCACHE_L2"].split(",")
    assert services["sidecar-a"]["environment"]["TIERCACHE_L2_MODE"] == "cluster"
    assert len(seeds) > 1 and all(s.rsplit(":", 1)[0] in nodes for s in seeds)
    assert services["sidecar-a"]["depends_on"]["l2-cluster-create"]["condition"] == \
        "service_completed_successfully"
    sc, sock = start_compose_sidecar(procs, image, tmp_path, services, ports)
    assert "l2_mode:cluster" in socket_cli(sock, "info", "server")
    keys = ["compose:%d" % i for i in range(120)]
    sets = "".join("SET %s v-%s\n" % (k, k) for k in keys)
    assert socket_cli(sock, stdin=sets) == ["OK"] * len(keys)
    assert socket_cli(sock, "mget", *keys) == ["v-" + k for k in keys]
    sizes = [len(redis_cli(ports[m], "keys", "compose:*")) for m in masters]  # (no heartbeats)
    assert min(sizes) > 0 and sum(sizes) == len(keys), sizes
    assert sc.stop() == 0
