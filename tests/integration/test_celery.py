"""Celery 5 (Debian's python3-celery) with the server under test as broker and result backend:
a real worker process waits for tasks with kombu's BRPOP on several queues with a timeout, runs
them and stores the results, which the caller reads back. Runs against both targets."""

import contextlib
import os
import subprocess
import sys
import textwrap

import pytest

from helpers import wait_until
from leftovers import stop_process

celery = pytest.importorskip("celery")

TASKS = textwrap.dedent("""
    import os
    from celery import Celery

    url = os.environ["CELERY_TEST_URL"]
    app = Celery("tc_tasks", broker=url, backend=url)
    app.conf.broker_transport_options = {"visibility_timeout": 60}
    app.conf.worker_hijack_root_logger = False

    @app.task
    def add(x, y):
        return x + y

    @app.task
    def shout(s):
        return s.upper()
""")


CALLER = textwrap.dedent("""
    import sys
    import tc_tasks as tasks
    r1 = tasks.add.delay(2, 3)
    r2 = tasks.shout.apply_async(("hello",), queue="other")
    print(r1.get(timeout=30), r2.get(timeout=30))
    results = [tasks.add.delay(i, i) for i in range(10)]
    print(*[r.get(timeout=30) for r in results])
""")


@contextlib.contextmanager
def celery_worker(tmp_path, url):
    """A Celery worker process on broker and backend `url` (tasks in tmp_path); yields
    (tmp_path, env, proc); the caller script is tmp_path/caller.py."""
    (tmp_path / "tc_tasks.py").write_text(TASKS)
    (tmp_path / "caller.py").write_text(CALLER)
    env = dict(os.environ, CELERY_TEST_URL=url, PYTHONPATH=str(tmp_path))
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tc_tasks", "worker", "--pool=solo",
         "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-Q", "celery,other", "--loglevel=INFO"],
        cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield tmp_path, env, proc
    finally:
        stop_process(proc, 20)
        log.close()


def run_caller(worker):
    """Runs caller.py (in a process of its own: Celery's result consumer keeps connections and
    threads that must not outlive a test inside pytest) and checks its results."""
    tmp_path, env, proc = worker
    out = subprocess.run([sys.executable, str(tmp_path / "caller.py")], cwd=str(tmp_path),
                         env=env, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert out.returncode == 0, out.stderr[-3000:] + "\nworker log:\n" + log[-3000:]
    assert out.stdout.split("\n")[:2] == ["5 HELLO", " ".join(str(2 * i) for i in range(10))]
    assert proc.poll() is None  # the worker is still running


@pytest.fixture
def worker(server, tmp_path):
    with celery_worker(tmp_path, "redis://127.0.0.1:%d/3" % server.port) as w:
        yield w


def test_worker_runs_tasks_and_returns_results(server, worker):
    run_caller(worker)
    # Idle, the worker waits in BRPOP on its queues: a blocked client of the server.
    c = server.client()
    assert wait_until(lambda: c.info("clients")["blocked_clients"] >= 1, timeout=15)
