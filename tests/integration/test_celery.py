"""Celery 5 (Debian's python3-celery) with the server under test as broker and result backend:
a real worker process waits for tasks with kombu's BRPOP on several queues with a timeout, runs
them and stores the results, which the caller reads back. Runs against both targets."""

import os
import subprocess
import sys
import textwrap

import pytest

from helpers import wait_until

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


@pytest.fixture
def worker(server, tmp_path):
    (tmp_path / "tc_tasks.py").write_text(TASKS)
    env = dict(os.environ, CELERY_TEST_URL="redis://127.0.0.1:%d/3" % server.port,
               PYTHONPATH=str(tmp_path))
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tc_tasks", "worker", "--pool=solo",
         "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-Q", "celery,other", "--loglevel=INFO"],
        cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT)
    sys.path.insert(0, str(tmp_path))
    os.environ["CELERY_TEST_URL"] = env["CELERY_TEST_URL"]
    try:
        import tc_tasks
        yield tc_tasks, proc
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("tc_tasks", None)
        os.environ.pop("CELERY_TEST_URL", None)
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_worker_runs_tasks_and_returns_results(server, worker):
    tasks, proc = worker
    r1 = tasks.add.delay(2, 3)
    r2 = tasks.shout.apply_async(("hello",), queue="other")
    try:
        assert r1.get(timeout=30) == 5
        assert r2.get(timeout=30) == "HELLO"
    except Exception:
        log = open(os.path.join(os.path.dirname(tasks.__file__), "worker.log")).read()
        raise AssertionError("worker log:\n" + log[-4000:])
    assert proc.poll() is None  # the worker is still waiting on BRPOP
    # Idle, the worker waits in BRPOP on its queues: a blocked client of the server.
    c = server.client()
    assert wait_until(lambda: c.info("clients")["blocked_clients"] >= 1, timeout=15)
    results = [tasks.add.delay(i, i) for i in range(10)]
    assert [r.get(timeout=30) for r in results] == [2 * i for i in range(10)]
