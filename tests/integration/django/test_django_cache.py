"""Django's cache API through django-redis 5.2 against the server, over TCP (db 0) and the
unix socket (db 1). incr/decr/lock are left out: django-redis implements them with Lua."""

import datetime
import time

import pytest
from django.core.cache import caches


def test_get_set_default_timeout(cache, raw_db):
    assert cache.get("missing") is None
    assert cache.get("missing", "dflt") == "dflt"
    assert cache.set("k", {"a": [1, 2.5, "x"], "when": datetime.date(2024, 1, 2)}) is True
    assert cache.get("k") == {"a": [1, 2.5, "x"], "when": datetime.date(2024, 1, 2)}
    assert 299000 <= raw_db.pttl(":1:k") <= 300000  # default TIMEOUT 300 s, sent as PX


def test_set_int_stored_as_plain_decimal(cache, raw_db):
    cache.set("n", 42)
    assert raw_db.get(":1:n") == b"42"
    assert cache.get("n") == 42


def test_set_with_timeout_and_none(cache, raw_db):
    cache.set("t", "v", timeout=50)
    assert 49 <= cache.ttl("t") <= 50
    cache.set("forever", "v", timeout=None)
    assert cache.ttl("forever") is None
    assert raw_db.ttl(":1:forever") == -1


def test_set_with_short_timeout_expires(cache):
    cache.set("short", "v", timeout=0.2)
    assert cache.get("short") == "v"
    time.sleep(0.35)
    assert cache.get("short") is None


def test_set_timeout_zero_deletes(cache, raw_db):
    cache.set("z", "v")
    cache.set("z", "new", timeout=0)
    assert cache.get("z") is None
    assert raw_db.exists(":1:z") == 0


def test_add(cache):
    assert cache.add("a", "first") is True
    assert cache.add("a", "second") is False  # SET ... NX answered nil
    assert cache.get("a") == "first"
    cache.set("b", "x", nx=True)
    assert cache.get("b") == "x"
    assert cache.set("b", "y", nx=True) is False
    assert cache.get("b") == "x"


def test_get_many_set_many(cache):
    cache.set_many({"a": 1, "b": "two", "c": [3]}, timeout=100)  # MULTI, SET PX x3, EXEC
    assert cache.get_many(["a", "b", "c", "missing"]) == {"a": 1, "b": "two", "c": [3]}
    assert 98 <= cache.ttl("b") <= 100
    assert cache.get_many([]) == {}


def test_delete_and_delete_many(cache):
    cache.set_many({"a": 1, "b": 2, "c": 3})
    assert cache.delete("a")
    assert not cache.delete("a")
    assert cache.get("a") is None
    cache.delete_many(["b", "c", "missing"])
    assert cache.get_many(["a", "b", "c"]) == {}


def test_delete_pattern(cache):
    for i in range(30):
        cache.set("user:%d" % i, i)
        cache.set("other:%d" % i, i)
    cache.set("xuser:1", "x")
    assert cache.delete_pattern("user:*") == 30  # SCAN MATCH :1:user:* COUNT 10, DEL each
    assert cache.keys("user:*") == []
    assert len(cache.keys("other:*")) == 30
    assert cache.delete_pattern("*user:1") == 1  # a leading *
    assert cache.get("xuser:1") is None
    assert cache.delete_pattern("nothing*") == 0


def test_delete_pattern_with_star_in_key_prefix(server):
    """KEY_PREFIX "tc*" makes django-redis send the pattern "tc[*]:1:a*": a class, which must
    not match the keys of the "tcX" prefix in the same db."""
    server.client(db=2).flushdb()
    star, x = caches["starprefix"], caches["xprefix"]
    for i in range(15):
        star.set("a%d" % i, i)
        x.set("a%d" % i, i)
    assert server.client(db=2).dbsize() == 30
    assert sorted(star.keys("a1*")) == sorted(["a1"] + ["a1%d" % i for i in range(5)])
    assert star.delete_pattern("a*") == 15
    assert x.get_many(["a%d" % i for i in range(15)]) == {"a%d" % i: i for i in range(15)}
    assert sorted(k.decode() for k in server.client(db=2).keys("*")) == \
        sorted("tcX:1:a%d" % i for i in range(15))


def test_touch(cache):
    cache.set("t", "v", timeout=10)
    assert cache.touch("t", 500) is True  # PEXPIRE
    assert 498 <= cache.ttl("t") <= 500
    assert cache.touch("t", None) is True  # PERSIST
    assert cache.ttl("t") is None
    assert cache.touch("missing", 10) is False
    assert cache.touch("t", 0) is True  # PEXPIRE 0 deletes
    assert cache.get("t") is None


def test_ttl_and_pttl(cache):
    assert cache.ttl("missing") == 0
    cache.set("k", "v", timeout=100)
    assert 98 <= cache.ttl("k") <= 100
    assert 98000 <= cache.pttl("k") <= 100000
    cache.set("p", "v", timeout=None)
    assert cache.ttl("p") is None and cache.pttl("p") is None


def test_keys_and_iter_keys(cache):
    for i in range(25):
        cache.set("page:%d" % i, i)
    cache.set("pager", 1)
    assert sorted(cache.keys("page:*")) == sorted("page:%d" % i for i in range(25))
    assert sorted(cache.iter_keys("page:*")) == sorted("page:%d" % i for i in range(25))
    assert cache.keys("page?") == ["pager"]
    assert cache.keys("page[r]") == ["pager"]
    assert sorted(cache.keys("page[^r]*")) == sorted("page:%d" % i for i in range(25))
    assert cache.keys("page[^:]") == ["pager"]


def test_clear_flushes_only_this_db(server, alias, cache):
    other_alias = "unix" if alias == "default" else "default"
    cache.set("mine", 1)
    caches[other_alias].set("theirs", 2)
    cache.clear()
    assert cache.get("mine") is None
    assert caches[other_alias].get("theirs") == 2


def test_get_or_set(cache):
    assert cache.get_or_set("g", "computed", timeout=100) == "computed"
    assert cache.get_or_set("g", "other") == "computed"
    calls = []

    def expensive():
        calls.append(1)
        return {"v": 1}
    assert cache.get_or_set("h", expensive) == {"v": 1}
    assert cache.get_or_set("h", expensive) == {"v": 1}
    assert len(calls) == 1


def test_has_key(cache):
    assert cache.has_key("k") is False
    cache.set("k", None)  # a stored None still exists
    assert cache.has_key("k") is True
    assert "k" in cache


def test_expire_persist_expire_at(cache):
    cache.set("k", "v", timeout=None)
    assert cache.expire("k", 100) is True
    assert 98 <= cache.ttl("k") <= 100
    assert cache.persist("k") is True
    assert cache.ttl("k") is None
    when = datetime.datetime.now() + datetime.timedelta(seconds=200)
    assert cache.expire_at("k", when) is True
    assert 197 <= cache.ttl("k") <= 200
    assert cache.pexpire("k", 300000) is True
    assert 298 <= cache.ttl("k") <= 300
    assert cache.expire("missing", 10) is False
    assert cache.persist("missing") is False


def test_versions(cache, raw_db):
    cache.set("v", "one", version=1)
    cache.set("v", "two", version=2)
    assert cache.get("v") == "one"
    assert cache.get("v", version=2) == "two"
    assert raw_db.exists(":1:v", ":2:v") == 2
    assert cache.incr_version("v") == 2  # GET, SET new, DEL old (no Lua)
    assert cache.get("v", version=2) == "one"
    assert cache.get("v", version=1) is None


def test_binary_and_large_values(cache):
    blob = bytes(range(256)) * 4096  # 1 MiB, all byte values
    cache.set("blob", blob)
    assert cache.get("blob") == blob
    cache.set("unicode ключ \u2603", "value \u00e9")
    assert cache.get("unicode ключ \u2603") == "value \u00e9"


@pytest.mark.parametrize("n", [200])
def test_many_keys_round_trip(cache, n):
    data = {"bulk:%d" % i: {"i": i} for i in range(n)}
    cache.set_many(data, timeout=60)
    assert cache.get_many(list(data)) == data
    cache.delete_many(list(data))
    assert cache.get_many(list(data)) == {}
