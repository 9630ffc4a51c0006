"""Real clients and the process itself: redis-cli (Debian redis-tools) over TCP and the unix
socket, redis-benchmark, inline commands with quoting, the --config TOML file, bad
configuration, unix socket permissions, and clean exit on SIGTERM/SIGINT."""

import os
import signal
import socket
import stat
import subprocess
import time

import pytest

import servers
from helpers import connect_raw

REDIS_CLI = "/usr/bin/redis-cli"
REDIS_BENCHMARK = "/usr/bin/redis-benchmark"


def cli(server, *args, unix=False, stdin=None):
    where = ["-s", server.unix_path] if unix else ["-h", "127.0.0.1", "-p", str(server.port)]
    out = subprocess.run([REDIS_CLI] + where + list(args), input=stdin, capture_output=True,
                         timeout=20)
    assert out.returncode == 0, out
    return out.stdout.decode()


# -- redis-cli ------------------------------------------------------------------------------

def test_cli_ping_set_get(server):
    server.client().flushall()
    assert cli(server, "ping") == "PONG\n"
    assert cli(server, "set", "greeting", "hello world") == "OK\n"
    assert cli(server, "get", "greeting") == "hello world\n"
    assert cli(server, "get", "missing") == "\n"
    assert cli(server, "incr", "n") == "1\n"
    assert cli(server, "--no-raw", "get", "missing") == "(nil)\n"
    assert cli(server, "--no-raw", "incr", "n") == "(integer) 2\n"
    assert cli(server, "--no-raw", "nosuchcommand").startswith("(error) ERR unknown command")


def test_cli_unix_socket_and_db(server):
    server.client().flushall()
    assert cli(server, "ping", unix=True) == "PONG\n"
    assert cli(server, "-n", "4", "set", "k", "in4", unix=True) == "OK\n"
    assert cli(server, "-n", "4", "get", "k") == "in4\n"
    assert cli(server, "get", "k") == "\n"
    assert server.client(db=4).get("k") == b"in4"


def test_cli_scan_pattern(server):
    c = server.client()
    c.flushall()
    for i in range(120):
        c.set("user:%d" % i, "x")
        c.set("session:%d" % i, "x")
    out = cli(server, "--scan", "--pattern", "user:*")
    assert sorted(out.split()) == sorted("user:%d" % i for i in range(120))
    out = cli(server, "--scan", "--pattern", "user:1?")
    assert sorted(out.split()) == sorted("user:%d" % i for i in range(10, 20))


def test_cli_info_keyspace(server):
    c = server.client()
    c.flushall()
    c.set("a", "1")
    c.set("b", "1", ex=100)
    out = cli(server, "info", "keyspace")
    lines = [l for l in out.replace("\r", "").split("\n") if l]
    assert lines[0] == "# Keyspace"
    assert lines[1].startswith("db0:keys=2,expires=1,avg_ttl="), lines


def test_cli_stdin_and_pipe_mode(server):
    server.client().flushall()
    assert cli(server, "-x", "set", "fromstdin", stdin=b"line1\nline2\x00") == "OK\n"
    assert server.client().get("fromstdin") == b"line1\nline2\x00"
    # --pipe: mass insertion; redis-cli ends with ECHO of 20 random bytes and waits for it
    payload = b"".join(b"SET pipe:%d %d\r\n" % (i, i) for i in range(5000))
    out = subprocess.run([REDIS_CLI, "-p", str(server.port), "--pipe"], input=payload,
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out
    assert b"errors: 0, replies: 5000" in out.stdout, out.stdout
    assert server.client().get("pipe:4999") == b"4999"


def test_cli_with_password(server_factory):
    s = server_factory(requirepass="clipw")
    out = subprocess.run([REDIS_CLI, "-p", str(s.port), "ping"], capture_output=True,
                         timeout=10)
    assert b"NOAUTH Authentication required." in out.stdout + out.stderr
    out = subprocess.run([REDIS_CLI, "-p", str(s.port), "--no-auth-warning", "-a", "clipw",
                          "ping"], capture_output=True, timeout=10)
    assert out.stdout == b"PONG\n", out


def test_redis_benchmark_runs(server):
    out = subprocess.run([REDIS_BENCHMARK, "-p", str(server.port), "-t", "set,get,incr,mset",
                          "-n", "2000", "-c", "4", "-q"], capture_output=True, timeout=60)
    assert out.returncode == 0, out
    text = out.stdout.decode().replace("\r", "\n")
    for test in ("SET: ", "GET: ", "INCR: ", "MSET (10 keys): "):
        assert test in text, text
    assert text.count("requests per second") == 4, text
    assert "ERR" not in text and "error" not in text.lower(), text


# -- inline commands --------------------------------------------------------------------------

def test_inline_commands_and_quoting(server):
    server.client().flushall()
    c = server.raw()
    c.send(b"PING\r\n")
    c.expect(b"+PONG\r\n")
    c.send(b'SET a "b c"\r\n')
    c.expect(b"+OK\r\n")
    assert c.cmd("GET", "a") == b"b c"
    c.send(b'SET b "tab\\there\\x41\\n\\"q\\"\\\\"\r\n')  # escapes inside double quotes
    c.expect(b"+OK\r\n")
    assert c.cmd("GET", "b") == b'tab\there\x41\n"q"\\'
    c.send(b"SET c 'it\\'s \"raw\" \\n'\r\n")  # single quotes: only \' is an escape
    c.expect(b"+OK\r\n")
    assert c.cmd("GET", "c") == b'it\'s "raw" \\n'
    c.send(b'SET d ""\r\n')
    c.expect(b"+OK\r\n")
    assert c.cmd("GET", "d") == b""
    c.send(b'ECHO "\\x00\\xff"\r\n')
    c.expect(b"$2\r\n\x00\xff\r\n")
    c.send(b"   SET    e     f   \r\n")  # extra blanks
    c.expect(b"+OK\r\n")
    c.send(b"GET e\n")  # a bare LF ends an inline command too
    c.expect(b"$1\r\nf\r\n")
    c.send(b"set lower case\r\nget lower\r\n")
    c.expect(b"+OK\r\n$4\r\ncase\r\n")


# -- configuration ------------------------------------------------------------------------------

def start_expecting_failure(target, flags, timeout=5):
    """Start the server with flags that must be refused; return (exit code, output)."""
    argv = [servers.server_binary(target)] + (
        servers.redis_args(flags) if target == "redis" else servers.tiercache_args(flags))
    try:
        out = subprocess.run(argv, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("server started with bad configuration %r" % flags)
    return out.returncode, (out.stdout + out.stderr).decode("utf-8", "replace")


@pytest.mark.parametrize("flag,value", [("maxmemory_policy", "bogus"), ("maxmemory", "lots"),
                                        ("port", "70000"), ("maxclients", "-3")])
def test_bad_flag_value_refused(target, flag, value):
    rc, output = start_expecting_failure(target, {"port": servers.free_port(), flag: value})
    assert rc != 0
    assert value in output or flag.replace("_", "-") in output, output


def _write(tmp_path, text):
    path = tmp_path / "tiercache-l2.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.tiercache_only("--config takes a TOML file in tiercache")
def test_config_file_applies_and_flags_override(server_factory, tmp_path):
    file_port = servers.free_port()
    path = _write(tmp_path, (
        "# tiercache-l2 test configuration\n"
        "port = %d\n"
        "maxmemory = \"64MiB\"\n"
        "maxmemory-policy = \"volatile-ttl\"\n"
        "requirepass = \"frompw\"\n"
        "maxclients = 123\n") % file_port)
    s = server_factory(config=path, maxclients=77)  # --port and --unixsocket come as flags
    c = s.raw()
    assert c.cmd("PING") == "NOAUTH Authentication required."  # the file's password
    assert c.cmd("AUTH", "frompw") == "OK"
    assert c.cmd("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"67108864"]
    assert c.cmd("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"volatile-ttl"]
    assert c.cmd("CONFIG", "GET", "maxclients") == [b"maxclients", b"77"]  # flag wins
    with pytest.raises(OSError):  # the flag's port replaced the file's
        socket.create_connection(("127.0.0.1", file_port), timeout=1).close()


@pytest.mark.tiercache_only("--config takes a TOML file in tiercache")
def test_config_file_underscore_keys_and_units(server_factory, tmp_path):
    path = _write(tmp_path, (
        "maxmemory_policy = \"noeviction\"\n"
        "maxmemory = \"2mb\"\n"
        "client_query_buffer_limit = \"1MiB\"\n"
        "proto_max_bulk_len = 1048576\n"))
    s = server_factory(config=path)
    c = s.raw()
    assert c.cmd("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"2097152"]
    assert c.cmd("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"noeviction"]
    reply = None
    for i in range(1000):  # noeviction from the file: writes are refused once full
        reply = c.cmd("SET", "k%d" % i, b"v" * 10000)
        if reply != "OK":
            break
    assert reply == "OOM command not allowed when used memory > 'maxmemory'."
    c.send(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n")  # proto_max_bulk_len from the file
    assert c.expect_closed() == b"-ERR Protocol error: invalid bulk length\r\n"


@pytest.mark.tiercache_only("--config takes a TOML file in tiercache")
@pytest.mark.parametrize("text,word", [("maxmemory = \"lots\"\n", "maxmemory"),
                                       ("no_such_option = 1\n", "no_such_option"),
                                       ("port = \n", "")])
def test_bad_config_file_refused(tmp_path, text, word):
    rc, output = start_expecting_failure("tiercache", {"config": _write(tmp_path, text),
                                                       "port": servers.free_port()})
    assert rc != 0
    assert word in output and output.strip(), output


@pytest.mark.tiercache_only("--config takes a TOML file in tiercache")
def test_missing_config_file_refused(tmp_path):
    rc, output = start_expecting_failure("tiercache", {"config": str(tmp_path / "nope.toml"),
                                                       "port": servers.free_port()})
    assert rc != 0 and "nope.toml" in output, output


@pytest.mark.parametrize("level", ["debug", "info", "warning", "error"])
def test_loglevels_accepted(server_factory, level):
    s = server_factory(loglevel=level)
    assert s.raw().cmd("PING") == "PONG"


def test_no_logging_per_request_at_info(server_factory):
    s = server_factory(loglevel="info")
    time.sleep(0.2)
    before = len(s.stderr()) + len(s.stdout())
    c = s.raw()
    c.send(b"".join(b"SET k%d v\r\nGET k%d\r\nNOSUCH x\r\nGET\r\n" % (i, i)
                    for i in range(500)))
    c.read_replies(2000)
    for _ in range(50):
        s.raw().cmd("PING")  # connections opening and closing
    time.sleep(0.2)
    grown = len(s.stderr()) + len(s.stdout()) - before
    assert grown < 2000, "log grew by %d bytes for 2000 requests:\n%s" % (
        grown, (s.stderr() + s.stdout())[-1500:])


# -- sockets ------------------------------------------------------------------------------------

def test_unixsocketperm(server_factory):
    s = server_factory(unixsocketperm="770")
    assert stat.S_IMODE(os.stat(s.unix_path).st_mode) == 0o770
    assert s.raw(unix=True).cmd("PING") == "PONG"


@pytest.mark.tiercache_only("redis's default unixsocketperm 0 leaves the umask's mode")
def test_unixsocketperm_default_700(server_factory):
    s = server_factory()
    assert stat.S_IMODE(os.stat(s.unix_path).st_mode) == 0o700


def test_port_0_disables_tcp(server_factory):
    s = server_factory(port=0)
    assert s.raw(unix=True).cmd("PING") == "PONG"
    c = s.client(unix=True)
    c.set("k", "v")
    assert c.get("k") == b"v"
    assert c.info("server")["tcp_port"] == 0


# -- signals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_exit_on_signal(server_factory, sig):
    s = server_factory()
    # connections the factory does not know about, so they stay open across stop()
    busy = connect_raw(port=s.port)
    busy.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nhal")  # a half-sent command
    sub = connect_raw(unix_path=s.unix_path)
    sub.send(b"SUBSCRIBE ch\r\n")
    assert sub.read_reply() == [b"subscribe", b"ch", 1]
    idle = s.client()
    idle.set("x", "y")
    started = time.monotonic()
    rc = s.stop(sig)
    assert rc == 0, "exit code %r on %s\nstderr:\n%s" % (rc, sig.name, s.stderr()[-3000:])
    assert time.monotonic() - started < 5
    sub.expect_closed()
    busy.expect_closed()
    busy.close()
    sub.close()
