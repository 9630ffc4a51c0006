"""The Debian package (issue #16): built by CPack from the wheel's static build, installed with
dpkg, its systemd units checked by systemd-analyze, both servers started the way the units'
ExecStart starts them from the packaged configuration files and answering PING, then removed
(conffiles kept) and purged (nothing left). The tests of this module run in order; the module
fixture purges the package and undoes what it created even when one fails.

There is no running systemd in CI's container, so the units are not started by systemctl: each
ExecStart line is run as its User/Group with the RuntimeDirectory systemd would create."""

import configparser
import grp
import os
import pwd
import re
import shlex
import shutil
import subprocess
import time

import pytest

from conftest import REPO, free_port, project_version, run
from leftovers import stop_process  # tests/integration, on sys.path by conftest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dpkg -i needs root")

UNIT_DIR = "/usr/lib/systemd/system"
UNITS = {"tiercache-l2.service": "tiercache-l2.service",
         # a template is verified through an instance
         "tiercache-sidecar@.service": "tiercache-sidecar@default.service"}
CONFFILES = ["/etc/tiercache/l2.toml", "/etc/tiercache/sidecar-default.toml"]
HARDENING = ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
             "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
             "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes"]


def dpkg(*args, check=True):
    """dpkg, waiting (up to 10 min) while another apt/dpkg run holds its lock."""
    deadline = time.monotonic() + 600
    while True:
        p = run(["dpkg"] + list(args), check=False)
        if p.returncode != 0 and "lock" in p.stdout and time.monotonic() < deadline:
            time.sleep(5)
            continue
        if check and p.returncode != 0:
            raise AssertionError("dpkg %s: %s" % (" ".join(args), p.stdout))
        return p


def package_status():
    p = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "tiercache"], check=False)
    return p.stdout.strip() if p.returncode == 0 else "not-installed"


class State:
    files = []          # dpkg -L of the installed package
    procs = []
    run_dirs = []


@pytest.fixture(scope="module")
def deb(artifacts):
    if package_status() not in ("not-installed", "un"):
        pytest.fail("a tiercache package is already installed (%s); remove it first"
                    % package_status(), pytrace=False)
    user_existed = _user_exists()
    try:
        dpkg("-i", artifacts["deb"])
        State.files = run(["dpkg", "-L", "tiercache"]).stdout.split()
        yield artifacts["deb"]
    finally:
        for p in State.procs:
            stop_process(p, 5)
        for d in State.run_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if package_status() not in ("not-installed", "un"):
            dpkg("--purge", "tiercache", check=False)
        if not user_existed and _user_exists():
            # postrm keeps the system user, as Debian packages do; the test leaves the machine
            # as it found it.
            run(["deluser", "--system", "--quiet", "tiercache"], check=False)
            run(["delgroup", "--system", "--quiet", "tiercache"], check=False)


def _user_exists():
    try:
        pwd.getpwnam("tiercache")
        return True
    except KeyError:
        return False


def unit(name):
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str
    with open(os.path.join(UNIT_DIR, name)) as f:
        parser.read_string(f.read())
    return parser["Service"]


def test_installs_the_servers_units_man_pages_and_conffiles(deb):
    assert package_status() == "ii"
    for path in ["/usr/bin/tiercache-l2", "/usr/bin/tiercache-sidecar",
                 "/usr/share/man/man1/tiercache-l2.1.gz",
                 "/usr/share/man/man1/tiercache-sidecar.1.gz"] + [
                     os.path.join(UNIT_DIR, u) for u in UNITS] + CONFFILES:
        assert path in State.files, path
        assert os.path.isfile(path), path
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "tiercache"]).stdout
    for c in CONFFILES:
        assert c + " " in conffiles, conffiles
    version = project_version()
    for server in ("tiercache-l2", "tiercache-sidecar"):
        assert run(["/usr/bin/" + server, "--version"]).stdout == "%s %s\n" % (server, version)
    depends = run(["dpkg-query", "-W", "-f=${Depends}", "tiercache"]).stdout
    assert re.fullmatch(r"adduser, libc6 \(>= [0-9.]+\)", depends), depends
    u = pwd.getpwnam("tiercache")
    assert u.pw_uid < 1000 and u.pw_shell.endswith("nologin"), u


def test_man_pages_come_from_help():
    for server, option in (("tiercache-l2", "maxmemory"), ("tiercache-sidecar", "l1\\-memory")):
        page = run(["zcat", "/usr/share/man/man1/%s.1.gz" % server]).stdout
        assert ".TH %s \"1\"" % server.upper() in page, page[:300]
        assert "\\-\\-" + option in page, option
        # man renders it
        assert "NAME" in run(["man", "-P", "cat", "-l", "/usr/share/man/man1/%s.1.gz" % server],
                             env=dict(os.environ, MANWIDTH="100")).stdout


def test_maintainer_scripts_pass_shellcheck():
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (scripts/deps.sh installs it)")
    scripts = [os.path.join(REPO, "packaging", "debian", s) for s in ("postinst", "prerm", "postrm")]
    run(["shellcheck", "--shell=sh", "--format=gcc"] + scripts)


def analyze(path):
    p = run(["systemd-analyze", "verify", path], check=False)
    return p.returncode, p.stdout.strip()


def test_systemd_analyze_verify_the_units(tmp_path):
    """systemd-analyze verify loads a unit without a running systemd (it works in this
    container): it parses every line, checks the ExecStart binaries exist, and prints a warning
    for any unknown or bad setting while still exiting 0. So both are asserted: exit 0 and no
    output at all."""
    for name, verified in UNITS.items():
        rc, out = analyze(os.path.join(UNIT_DIR, verified))
        assert rc == 0 and out == "", "%s: rc=%d\n%s" % (verified, rc, out)
    # The check catches what it should: the same template with a misspelt key, and with a
    # binary that does not exist.
    with open(os.path.join(UNIT_DIR, "tiercache-sidecar@.service")) as f:
        text = f.read()
    (tmp_path / "tiercache-sidecar@.service").write_text(
        text.replace("ProtectHome=yes", "ProtectHome=yes\nProtectHomme=yes"))
    rc, out = analyze(str(tmp_path / "tiercache-sidecar@default.service"))
    assert "Unknown key 'ProtectHomme'" in out, out
    (tmp_path / "broken.service").write_text(
        text.replace("/usr/bin/tiercache-sidecar", "/usr/bin/tiercache-nonexistent"))
    rc, out = analyze(str(tmp_path / "broken.service"))
    assert rc != 0 and "not executable" in out, out


def test_units_run_as_the_system_user_with_hardening():
    for name in UNITS:
        with open(os.path.join(UNIT_DIR, name)) as f:
            lines = set(f.read().splitlines())
        s = unit(name)
        assert s["User"] == "tiercache" and s["Group"] == "tiercache", name
        assert s["RuntimeDirectory"], name
        for h in HARDENING:
            assert h in lines, "%s lacks %s" % (name, h)
    # the sidecar shares /dev/shm with the application: no private /dev, no IPC removal
    sidecar = unit("tiercache-sidecar@.service")
    assert "PrivateDevices" not in sidecar and "RemoveIPC" not in sidecar
    assert unit("tiercache-l2.service")["PrivateDevices"] == "yes"


def start_as_unit(name, instance, extra_flags, ready_socket):
    """Runs the unit's ExecStart the way systemd would: %i expanded, RuntimeDirectory created
    (owned by User, RuntimeDirectoryMode), as User/Group, no TIERCACHE_* environment. Extra
    flags are appended (flags override the configuration file) only where this shared machine
    needs it (free ports, a private L1 segment name)."""
    s = unit(name)
    argv = [a.replace("%i", instance) for a in shlex.split(s["ExecStart"])]
    user = pwd.getpwnam(s["User"])
    group = grp.getgrnam(s["Group"])
    for rd in s["RuntimeDirectory"].replace("%i", instance).split():
        path = os.path.join("/run", rd)
        parts = rd.split("/")
        for i in range(1, len(parts) + 1):  # the outermost directory this creates goes later
            created = os.path.join("/run", *parts[:i])
            if not os.path.exists(created):
                State.run_dirs.append(created)
                break
        os.makedirs(path, exist_ok=True)
        os.chown(path, user.pw_uid, group.gr_gid)
        os.chmod(path, int(s.get("RuntimeDirectoryMode", "0755"), 8))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERCACHE_")}
    argv = ["setpriv", "--reuid", s["User"], "--regid", s["Group"], "--init-groups",
            "--inh-caps=-all"] + argv + extra_flags
    p = subprocess.Popen(argv, env=env, cwd="/", stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    State.procs.append(p)
    deadline = time.monotonic() + 10
    while not os.path.exists(ready_socket):
        if p.poll() is not None:
            raise AssertionError("%s exited %d: %s\n%s" % (name, p.returncode, argv, p.stdout.read()))
        assert time.monotonic() < deadline, "%s: no socket %s" % (name, ready_socket)
        time.sleep(0.05)
    return p, argv


def cli(*args):
    return run(["redis-cli"] + list(args)).stdout.strip()


def test_servers_start_from_the_packaged_configuration_and_answer_ping():
    with open("/etc/tiercache/l2.toml") as f:
        l2_sock = re.search(r'^unixsocket = "([^"]+)"', f.read(), re.M).group(1)
    with open("/etc/tiercache/sidecar-default.toml") as f:
        sidecar_sock = re.search(r'^socket = "([^"]+)"', f.read(), re.M).group(1)
    port = free_port()
    l2, l2_argv = start_as_unit("tiercache-l2.service", "", ["--port", str(port)], l2_sock)
    assert l2_argv[-4:] == ["--config", "/etc/tiercache/l2.toml", "--port", str(port)]
    assert cli("-p", str(port), "ping") == "PONG"
    assert cli("-s", l2_sock, "ping") == "PONG"
    # The sidecar reaches the L2 through the L2's packaged Unix socket (its packaged l2 address
    # is 127.0.0.1:6479, which this shared machine's other tests may use).
    shm_name = "pkgtest-%d-sidecar" % os.getpid()  # the pid between dashes: see leftovers.py
    sc, sc_argv = start_as_unit("tiercache-sidecar@.service", "default",
                                ["--l2", "unix:" + l2_sock, "--shm-name", shm_name],
                                sidecar_sock)
    try:
        assert "/etc/tiercache/sidecar-default.toml" in sc_argv
        assert cli("-s", sidecar_sock, "ping") == "PONG"
        assert cli("-s", sidecar_sock, "set", "pkg:k", "v") == "OK"
        assert cli("-s", sidecar_sock, "get", "pkg:k") == "v"
        assert cli("-p", str(port), "get", "pkg:k") == "v"
        # run as the unit's user; socket and segment as the packaged config says
        for p in (l2, sc):
            with open("/proc/%d/status" % p.pid) as f:
                uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
            assert int(uid) == pwd.getpwnam("tiercache").pw_uid
        st = os.stat(sidecar_sock)
        assert oct(st.st_mode & 0o777) == "0o660" and st.st_uid == pwd.getpwnam("tiercache").pw_uid
        # the packaged [l1] memory = "256MiB" and shm-mode = "0660"
        seg = os.stat("/dev/shm/tiercache-" + shm_name)
        assert seg.st_size == 256 << 20 and oct(seg.st_mode & 0o777) == "0o660"
        info = cli("-s", sidecar_sock, "info", "tiercache")
        assert "l2_connected:1" in info and "bus_healthy:1" in info, info
    finally:
        for p in (sc, l2):
            p.terminate()
            p.wait(10)
        if os.path.exists("/dev/shm/tiercache-" + shm_name):
            os.unlink("/dev/shm/tiercache-" + shm_name)
    assert sc.returncode == 0 and l2.returncode == 0, (sc.returncode, l2.returncode)


def test_remove_keeps_conffiles_and_purge_removes_everything():
    with open(CONFFILES[0], "a") as f:
        f.write("# changed by the administrator\n")
    dpkg("-r", "tiercache")
    assert package_status() == "rc"  # removed, configuration files remain
    for path in State.files:
        if path.startswith("/usr/") and not os.path.isdir(path):
            assert not os.path.lexists(path), "left after dpkg -r: " + path
    for c in CONFFILES:
        assert os.path.isfile(c), "dpkg -r must keep the conffile %s" % c
    with open(CONFFILES[0]) as f:
        assert "changed by the administrator" in f.read()
    assert run(["systemd-analyze", "verify", "tiercache-l2.service"], check=False).returncode != 0

    dpkg("--purge", "tiercache")
    assert package_status() in ("not-installed", "un")
    assert not os.path.exists("/etc/tiercache"), os.listdir("/etc/tiercache")
    for path in State.files:
        if not os.path.isdir(path):
            assert not os.path.lexists(path), "left after purge: " + path
