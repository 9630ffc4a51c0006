"""Fails a test session loudly when it leaves something behind: a process it started that is
still running (server, sidecar, gunicorn, browser), or a shared-memory segment named after it.
A leftover of one step is the next step's flake (a port taken, a segment in use, a busy CPU),
so it is killed, removed and reported here, and the session's exit status is made non-zero.

Every suite's conftest imports `pytest_sessionfinish` from here. Looks only at this pytest
process's own descendants and at /dev/shm names that carry its pid, so suites running side by
side (scripts/flaky.sh, developers' worktrees) do not see each other's processes."""

import os
import signal
import subprocess
import time

import pytest


def stop_process(proc, timeout):
    """Stops a subprocess.Popen a test started, so it is no leftover: SIGTERM, then SIGKILL if
    it is still running after timeout seconds. Returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _children_map():
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z":  # a zombie holds nothing; its parent reaps it
            continue
        kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def descendants(pid):
    kids, out, todo = _children_map(), [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def find_leftovers(grace=5.0):
    """Processes and segments this session left; waits up to `grace` seconds for processes
    that are exiting on their own."""
    me = os.getpid()
    deadline = time.monotonic() + grace
    while True:
        procs = [p for p in descendants(me) if p != me]
        if not procs or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    procs = [(p, _cmdline(p)) for p in procs]
    procs = [(p, c) for p, c in procs if c != "?"]
    segments = sorted(name for name in os.listdir("/dev/shm")
                      if name.startswith("tiercache-") and "-%d-" % me in name)
    return procs, segments


@pytest.hookimpl(trylast=True)  # after pytest's own teardown of the session's fixtures (-x
def pytest_sessionfinish(session, exitstatus):  # leaves them to this hook): not a leftover
    procs, segments = find_leftovers()
    if not procs and not segments:
        return
    lines = ["", "LEFTOVERS: this test session left behind:"]
    for pid, cmd in procs:
        lines.append("  process %d: %s" % (pid, cmd[:200]))
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for name in segments:
        lines.append("  shared-memory segment /dev/shm/%s" % name)
        try:
            os.unlink(os.path.join("/dev/shm", name))
        except OSError:
            pass
    lines.append("(killed and removed now; the fixture that started them must stop them)")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in lines:
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line)
    session.exitstatus = 1
