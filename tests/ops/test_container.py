"""The container's entrypoint and health check, run outside Docker the way the image runs them:
docker/entrypoint.sh execs the binary chosen by its first argument from TIERCACHE_BIN_DIR (in
the image /usr/local/bin; here a directory of links to the local build), configured by
TIERCACHE_* variables only; docker/healthcheck.sh answers 0 (healthy) or 1 (unhealthy)."""

import os
import signal
import subprocess
import time

import pytest

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
