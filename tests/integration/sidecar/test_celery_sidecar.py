"""Celery 5 (Debian's python3-celery) through a sidecar's Unix socket, as a host's workers
would use it: broker and result backend at redis+socket://<socket>?virtual_host=3. The worker
waits for tasks with kombu's BRPOP (the sidecar gives it an L2 connection of its own) and the
caller waits for results over pub/sub; test_celery.py runs the same against the L2 directly."""

import pytest

from sidecars import wait_for
from test_celery import celery_worker, run_caller

pytest.importorskip("celery")


def test_worker_through_the_sidecar(cluster, tmp_path):
    url = "redis+socket://%s?virtual_host=3" % cluster.a.socket
    with celery_worker(tmp_path, url) as worker:
        run_caller(worker)
        # Idle, the worker waits in BRPOP on its queues over its own L2 connection.
        wait_for(lambda: cluster.a.info("clients")["dedicated_links"] >= 1, 15,
                 what="the worker's dedicated link")
        l2 = cluster.l2_client()
        wait_for(lambda: int(l2.info("clients")["blocked_clients"]) >= 1, 15,
                 what="the worker blocked at the L2")
        # The queues live in db 3 of the L2 (the client's SELECT reached its own link).
        assert cluster.l2_client(db=3).exists("_kombu.binding.celery") == 1
