"""Small cache helpers that make the shop's invalidation code read like the rest of Django.
Nothing here is tiercache-specific: they work on django-redis (against the tiercache sidecar or
any Redis) and degrade sensibly on Django's other backends (the local-memory baseline).

  invalidate_fragment(name, *vary_on)  delete a {% cache %} fragment by its name and arguments
  get_version(key) / bump_version(key) a version counter for a namespace of keys
  delete_pattern(pattern)             delete a family of keys by glob (django-redis)
  lock(name, timeout, blocking_timeout) a cache-wide lock (django-redis), else a process lock
"""
import threading

from django.core.cache import cache
from django.core.cache.utils import make_template_fragment_key


def fragment_key(name, *vary_on):
    """The cache key {% cache <timeout> name vary_on... %} stores its fragment under."""
    return make_template_fragment_key(name, vary_on)


def invalidate_fragment(name, *vary_on):
    cache.delete(fragment_key(name, *vary_on))


def get_version(key):
    """The current value of a namespace's version counter (created at 1, never expires)."""
    version = cache.get(key)
    if version is None:
        cache.add(key, 1, timeout=None)
        version = cache.get(key, 1)
    return version


def bump_version(key):
    """Move a namespace to its next version: every key read with version=get_version(key)
    becomes unreachable at once (the old entries expire on their own)."""
    try:
        return cache.incr(key)
    except ValueError:  # not there (first use, or evicted): start past any old value
        cache.add(key, 2, timeout=None)
        return cache.get(key, 2)


def delete_pattern(pattern):
    """Delete every key matching a glob (django-redis SCANs and DELs). Backends without pattern
    deletion are cleared entirely, which is coarse but never stale."""
    delete = getattr(cache, "delete_pattern", None)
    if delete is not None:
        return delete(pattern)
    cache.clear()
    return None


_process_locks = {}


def lock(name, timeout=30, blocking_timeout=10):
    """A lock shared by every process using the cache (django-redis's cache.lock, a Redis lock:
    SET NX PX to take it, a Lua script to release it). Other backends get a per-process lock."""
    make = getattr(cache, "lock", None)
    if make is not None:
        return make(name, timeout=timeout, blocking_timeout=blocking_timeout)
    return _process_locks.setdefault(name, threading.Lock())
