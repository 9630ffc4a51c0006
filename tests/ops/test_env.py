"""Environment overrides for container use: TIERCACHE_<OPTION> sits between the TOML file and
the flags, for both binaries (defaults < file < environment < flags)."""

import redis

from conftest import L2_BIN, SIDECAR_BIN, clean_env, free_port, wait_for


def l2_maxmemory(procs, tmp_path, env, flags=()):
    conf = tmp_path / "l2.toml"
    conf.write_text('maxmemory = "1mb"\n')
    l2 = procs.l2("--config", str(conf), *flags, env=clean_env(**env))
    value = redis.Redis(port=l2.port).config_get("maxmemory")["maxmemory"]
    assert l2.stop() == 0
    return int(value)


def test_l2_precedence(procs, tmp_path):
    assert l2_maxmemory(procs, tmp_path, {}) == 1 << 20  # file
    assert l2_maxmemory(procs, tmp_path, {"TIERCACHE_MAXMEMORY": "2mb"}) == 2 << 20  # env > file
    assert l2_maxmemory(procs, tmp_path, {"TIERCACHE_MAXMEMORY": "2mb"},
                        ("--maxmemory", "3mb")) == 3 << 20  # flag > env


def test_l2_env_alone_configures_the_server(procs):
    port = free_port()
    env = clean_env(TIERCACHE_PORT=port, TIERCACHE_MAXMEMORY_POLICY="volatile-ttl",
                    TIERCACHE_REQUIREPASS="pw-from-env")
    l2 = procs.start([L2_BIN], env=env, name="l2")
    c = redis.Redis(port=port, password="pw-from-env")
    wait_for(lambda: _ping(c), what="L2 on the port from TIERCACHE_PORT")
    assert c.config_get("maxmemory-policy")["maxmemory-policy"] == "volatile-ttl"
    assert l2.stop() == 0


def test_bad_env_value_names_the_variable(procs):
    p = procs.start([L2_BIN, "--port", str(free_port())],
                    env=clean_env(TIERCACHE_MAXMEMORY="lots-please"), name="l2")
    assert p.proc.wait(10) == 1
    assert "TIERCACHE_MAXMEMORY" in p.output()
    p = procs.start([SIDECAR_BIN, "--socket", ""], env=clean_env(TIERCACHE_L1_MEMORY="huge"),
                    name="sidecar")
    assert p.proc.wait(10) == 1
    assert "TIERCACHE_L1_MEMORY" in p.output()


def test_sidecar_precedence(procs, tmp_path):
    conf = tmp_path / "sc.toml"
    conf.write_text('l2 = "127.0.0.1:1111"\nl1-max-ttl-ms = 1000\n')
    sock = str(tmp_path / "s.sock")
    shm = procs.shm_name()

    def run(env, flags=()):
        p = procs.start([SIDECAR_BIN, "--config", str(conf), "--socket", sock, "--shm-name", shm]
                        + list(flags), env=clean_env(**env), name="sidecar")
        c = redis.Redis(unix_socket_path=sock)
        wait_for(lambda: _ping(c) or not p.alive(), what="sidecar socket")
        value = c.info("server")["l2"]
        assert p.stop() == 0, p.output()
        return value

    assert run({}) == "127.0.0.1:1111"
    assert run({"TIERCACHE_L2": "127.0.0.1:2222"}) == "127.0.0.1:2222"
    assert run({"TIERCACHE_L2": "127.0.0.1:2222"}, ("--l2", "127.0.0.1:3333")) == "127.0.0.1:3333"


def _ping(client):
    try:
        return client.ping()
    except redis.exceptions.RedisError:
        return False
