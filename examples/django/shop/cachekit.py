"""Small cache helpers that make the shop's invalidation code read like the rest of Django.
Nothing here is tiercache-specific: they work on django-redis (against the tiercache sidecar or
any Redis) and degrade sensibly on Django's other backends (the local-memory baseline).

  invalidate_fragment(name, *vary_on)  delete a {% cache %} fragment by its name and arguments
  get_version(key) / bump_version(key) a version counter for a namespace of keys
  delete_pattern(pattern)             delete a family of keys by glob (django-redis)
  lock(name, timeout, blocking_timeout) a cache-wide lock (django-redis), else a process lock

On tiercache's backend (tiercache.django_cache.TierCache) three of them use what it offers
instead of the hand-written patterns (docs/django.md, "Tags, namespaces, stampedes"):

  set(key, value, timeout, tags=[...])   entries tagged; invalidate_tags(tags) drops them all
  namespace(name)                        an atomic, eviction-safe version (one INCR script)
  get_or_set(key, factory, timeout, **)  one process of the site computes (a lease at the L2),
                                         early refresh, the last value if the database fails
On other backends they fall back to plain set, the version counter below and Django's
get_or_set, and invalidate_tags deletes the keys the caller names.
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


def has_tiercache_features():
    return hasattr(cache, "invalidate_tags")


def set(key, value, timeout, tags=()):  # noqa: A001 - cache.set's name on purpose
    if tags and has_tiercache_features():
        return cache.set(key, value, timeout, tags=list(tags))
    return cache.set(key, value, timeout)


def set_many(data, timeout, tags=()):
    if tags and has_tiercache_features():
        return cache.set_many(data, timeout, tags=list(tags))
    return cache.set_many(data, timeout)


def invalidate_tags(tags, fallback_keys=()):
    """Drop every entry carrying one of `tags` (tiercache: one write per tag, on every host);
    elsewhere delete `fallback_keys`, the keys the caller knows to carry them."""
    if has_tiercache_features():
        cache.invalidate_tags(list(tags))
    elif fallback_keys:
        cache.delete_many(list(fallback_keys))


def get_or_set(key, factory, timeout, version=None, **features):
    """cache.get_or_set; the tiercache options (refresh_ahead, stale_if_error, ...) only where
    the backend has them."""
    if has_tiercache_features():
        return cache.get_or_set(key, factory, timeout, version=version, **features)
    return cache.get_or_set(key, factory, timeout, version=version)


def namespace_version(name):
    if has_tiercache_features():
        return cache.namespace(name).version()
    return get_version(name)


def bump_namespace(name):
    if has_tiercache_features():
        return cache.namespace(name).bump()
    return bump_version(name)
