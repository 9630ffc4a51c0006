"""The shop on Redis data types: the "most viewed" ranking (a sorted set the product pages
ZINCRBY through each host's sidecar) and the backup/restore management commands
(cache_backup / cache_restore: every key by TYPE with its TTL) round-tripping through
tiercache-l2 (or, with TIERCACHE_E2E_L2=redis, redis-server) and through a sidecar."""

import re

import pytest

VIEWS = "shop:views"


def test_most_viewed_ranking_is_one_sorted_set_for_every_host(topo, browser):
    topo.cache_client("A").delete(VIEWS)
    empty = browser.get(topo.url("B", "/most-viewed/"))
    assert empty.status == 200 and "no views yet" in empty.text
    # product 11 three times, 12 twice, 13 once, the views split over both hosts
    for host, pk in [("A", 11), ("B", 12), ("B", 11), ("A", 13), ("A", 12), ("B", 11)]:
        assert browser.get(topo.url(host, "/product/%d/" % pk)).status == 200
    l2 = topo.l2_client()
    assert l2.type(VIEWS) == b"zset"
    assert l2.zrevrange(VIEWS, 0, -1, withscores=True) == [(b"11", 3.0), (b"12", 2.0),
                                                            (b"13", 1.0)]
    for host in ("A", "B"):
        page = browser.get(topo.url(host, "/most-viewed/"))
        assert page.status == 200
        rows = re.findall(r'data-id="(\d+)">[^<]*</a></td><td class="views">(\d+)</td>',
                          page.text)
        assert rows == [("11", "3"), ("12", "2"), ("13", "1")], page.text
    # one more view on B moves 13 past nobody but counts at once on A's page
    for _ in range(2):
        browser.get(topo.url("B", "/product/13/"))
    page = browser.get(topo.url("A", "/most-viewed/")).text
    assert re.findall(r'data-id="(\d+)"', page)[:3] == ["13", "11", "12"], page


def _fill(r):
    """Keys of every type, small (compact encodings) and large, binary names and values, some
    with TTLs; returns the keys with a TTL."""
    big = 3000
    r.set(b"str:bin\x00\xff key", b"\x00\x01\xfe\xff value")
    r.set("str:ttl", "expires", px=3_600_000)
    r.set("str:int", 12345)
    r.hset("hash:small", mapping={"f1": "v1", b"f\x00bin": b"\xff"})
    r.hset("hash:big", mapping={"field:%d" % i: "value:%d" % i for i in range(big)})
    r.expire("hash:big", 7200)
    r.rpush("list:small", "a", "b", "a", b"\x00")
    r.rpush("list:big", *["item:%d" % i for i in range(big)])
    r.pexpire("list:small", 500_000)
    r.sadd("set:ints", *range(100))
    r.sadd("set:big", *["member:%d" % i for i in range(big)])
    r.sadd("set:small", "x", b"y\xff")
    r.zadd("zset:small", {"a": 1.5, "b": float("-inf"), "c": float("inf"), "d": 0.1, "e": 1e300})
    r.zadd("zset:big", {"m:%d" % i: i / 7 for i in range(big)})
    r.expire("zset:big", 86400)
    return [b"str:ttl", b"hash:big", b"list:small", b"zset:big"]


def _snapshot(r):
    out = {}
    for key in r.scan_iter(count=1000):
        if key.startswith(b"__tiercache:"):  # a sidecar's heartbeat (not backed up)
            continue
        kind = r.type(key).decode()
        value = {"string": lambda: r.get(key),
                 "hash": lambda: r.hgetall(key),
                 "list": lambda: r.lrange(key, 0, -1),
                 "set": lambda: r.smembers(key),
                 "zset": lambda: r.zrange(key, 0, -1, withscores=True)}[kind]()
        out[key] = (kind, value, r.pttl(key))
    return out


@pytest.mark.parametrize("via", ["l2", "sidecar"])
def test_cache_backup_and_restore_round_trip_every_type_with_ttls(topo, tmp_path, via):
    db = 5 if via == "l2" else 6  # not the shop's db 0
    if via == "l2":
        r, sock = topo.l2_client(db=db), topo.l2_socket
    else:
        if not topo.use_sidecars:
            pytest.skip("the topology runs without sidecars")
        r, sock = topo.cache_client("A", db=db), topo.hosts["A"].socket_path
    r.flushdb()
    with_ttl = _fill(r)
    want = _snapshot(r)
    assert {kind for kind, _, _ in want.values()} == {"string", "hash", "list", "set", "zset"}
    env = {"TCSHOP_CACHE_LOCATION": "unix://%s?db=%d" % (sock, db),
           "TCSHOP_CACHE_BACKEND": "redis"}
    path = str(tmp_path / "backup.jsonl")
    out = topo.manage("A", "cache_backup", path, env=env)
    assert "cache_backup: %d keys" % len(want) in out.stderr, out.stderr
    r.flushdb()
    out = topo.manage("A", "cache_restore", path, env=env)
    assert "cache_restore: %d keys restored, 0 left" % len(want) in out.stderr, out.stderr
    got = _snapshot(r)
    assert set(got) == set(want)
    for key, (kind, value, pttl) in want.items():
        assert got[key][:2] == (kind, value), key
        if key in with_ttl:  # the TTL left, less the seconds the round trip took
            assert 0 < want[key][2] - got[key][2] < 60_000 and got[key][2] > 0, (key, got[key][2])
        else:
            assert pttl == -1 and got[key][2] == -1, key
    # existing keys are left alone unless --replace
    r.set("str:int", "changed")
    out = topo.manage("A", "cache_restore", path, env=env)
    assert "0 keys restored, %d left as they were" % len(want) in out.stderr, out.stderr
    assert r.get("str:int") == b"changed"
    topo.manage("A", "cache_restore", "--replace", path, env=env)
    assert r.get("str:int") == b"12345" and _snapshot(r).keys() == want.keys()
    # a file that is not a backup: a clear error, nothing written
    r.flushdb()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": "eA==", "type": "stream", "pttl_ms": -1, "value": []}\n')
    out = topo.manage("A", "cache_restore", str(bad), env=env, check=False)
    assert out.returncode != 0 and "line 1: unknown type 'stream'" in out.stderr, out.stderr
    assert not [k for k in r.keys() if not k.startswith(b"__tiercache:")]
    r.flushdb()
