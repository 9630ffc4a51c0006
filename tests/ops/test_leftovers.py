"""The suites' leftover check (tests/integration/leftovers.py) fails a session that leaves a
process or a shared-memory segment behind, and cleans them up; a clean session passes."""
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(HERE, "..", "integration")


def run_suite(tmp_path, body):
    (tmp_path / "conftest.py").write_text(textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        from leftovers import pytest_sessionfinish  # noqa
    """ % os.path.abspath(INTEGRATION)))
    (tmp_path / "test_it.py").write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tmp_path)], capture_output=True, text=True, timeout=120,
                          cwd=str(tmp_path))


def test_a_clean_session_passes(tmp_path):
    r = run_suite(tmp_path, """
        import subprocess
        def test_ok():
            subprocess.run(["true"], check=True)
    """)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "LEFTOVERS" not in r.stdout


def test_a_left_process_and_segment_fail_the_session(tmp_path):
    marker = tmp_path / "pid"
    r = run_suite(tmp_path, """
        import os, subprocess
        def test_leaves_things():
            p = subprocess.Popen(["sleep", "300"])
            open(%r, "w").write(str(p.pid))
            open("/dev/shm/tiercache-left-%%d-0" %% os.getpid(), "w").close()
    """ % str(marker))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 passed" in r.stdout
    assert "LEFTOVERS" in r.stdout and "sleep 300" in r.stdout
    assert "/dev/shm/tiercache-left-" in r.stdout
    pid = int(marker.read_text())
    state = open("/proc/%d/stat" % pid).read().split()[2] if os.path.exists("/proc/%d" % pid) else "gone"
    assert state in ("gone", "Z")  # killed (a zombie until init reaps it)
    assert not [n for n in os.listdir("/dev/shm") if n.startswith("tiercache-left-")]
