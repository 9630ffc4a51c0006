"""Django's cache API features that django-redis builds on Lua: cache.incr/decr (EVAL of its
EXISTS-then-INCRBY script) and cache.lock (redis-py's Lock: SET NX PX, then EVALSHA release,
with SCRIPT LOAD after NOSCRIPT), over TCP (db 0) and the unix socket (db 1)."""

import multiprocessing
import time

import pytest
from django.core.cache import caches


def test_incr_decr(cache, raw_db):
    cache.set("n", 10)
    assert cache.incr("n") == 11
    assert cache.incr("n", 5) == 16
    assert cache.decr("n") == 15
    assert cache.decr("n", 20) == -5
    assert cache.get("n") == -5
    assert raw_db.get(":1:n") == b"-5"


def test_incr_keeps_ttl(cache):
    cache.set("t", 1, timeout=100)
    assert cache.incr("t") == 2
    assert 98 <= cache.ttl("t") <= 100


def test_incr_decr_missing_key_raises_value_error(cache):
    with pytest.raises(ValueError):
        cache.incr("missing")
    with pytest.raises(ValueError):
        cache.decr("missing")
    assert cache.get("missing") is None


def test_incr_non_integer_falls_back_like_redis(cache):
    cache.set("s", "text")  # pickled: INCRBY answers an error, django-redis falls back
    with pytest.raises(TypeError):
        cache.incr("s")


def test_lock_context_manager(cache, raw_db):
    with cache.lock("job", timeout=5):
        assert raw_db.exists(":1:job") == 1
    assert raw_db.exists(":1:job") == 0


def _worker(alias, rounds, errors):
    cache = caches[alias]
    for _ in range(rounds):
        with cache.lock("contended", timeout=10, sleep=0.001, blocking_timeout=30):
            if cache.incr("inside") != 1:
                errors.put("two holders at once")
            n = cache.get("counter")
            time.sleep(0.001)
            cache.set("counter", n + 1)
            cache.decr("inside")


def test_lock_two_processes_never_both_inside(cache, alias):
    cache.set("counter", 0, timeout=None)
    cache.set("inside", 0, timeout=None)
    rounds = 25
    errors = multiprocessing.Queue()
    cache.client.do_close_clients()  # the children must not share the parent's sockets
    procs = [multiprocessing.Process(target=_worker, args=(alias, rounds, errors))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert errors.empty()
    assert cache.get("counter") == 2 * rounds
