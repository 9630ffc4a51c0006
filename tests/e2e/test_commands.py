"""The management commands (warm_cache, cache_stats) and the /cache-stats/ page on a running
topology."""

import json
import re
import sqlite3

from shopdata import fragment_key
from web import eventually


def test_warm_cache_preloads_hot_keys(topo):
    topo.cache_client("B").delete(fragment_key("product_card", 10), ":1:product:10")
    r = topo.manage("B", "warm_cache")
    m = re.search(r"warm_cache: (\d+) keys, (\d+) bytes in ([0-9.]+) s", r.stdout)
    assert m, r.stdout
    keys, size = int(m.group(1)), int(m.group(2))
    with sqlite3.connect(topo.db_path) as db:
        products = db.execute("SELECT COUNT(*) FROM shop_product").fetchone()[0]
    pages = (products + 7) // 8
    # every object, card and list page, and the dashboard, read back right after warming
    assert keys == 2 * products + pages + 1, (r.stdout, r.stderr)
    assert size > 10000 and "not readable" not in r.stderr
    assert "100%" in r.stdout  # the progress bar finished
    assert topo.l2_client().exists(fragment_key("product_card", 10), ":1:product:10") == 2
    assert topo.cache_client("A").get(":1:product:10") is not None


def test_cache_stats_command(topo, browser):
    browser.get(topo.url("A", "/product/5/"))
    browser.get(topo.url("A", "/product/5/"))
    r = topo.manage("A", "cache_stats")
    out = r.stdout
    assert "L2" in out and "commands processed" in out
    if topo.use_sidecars:
        for label in ["L1 (this host)", "hit ratio", "memory", "lag p50 / p99 / max",
                      "bus healthy", "yes"]:
            assert label in out, out
    raw = json.loads(topo.manage("A", "cache_stats", "--json").stdout)
    assert raw["host"] == "A" and raw["l2"]["keys"] > 0


def test_cache_stats_page_json_and_html(topo, browser):
    for _ in range(3):
        assert browser.get(topo.url("B", "/product/7/")).status == 200
    r = browser.get(topo.url("B", "/cache-stats/?format=json"))
    assert r.status == 200 and r.header("content-type") == "application/json"
    stats = json.loads(r.text)
    assert stats["host"] == "B"
    assert stats["l2"]["keys"] > 0 and stats["l2"]["used_memory"] > 0
    if topo.use_sidecars:
        s = stats["sidecar"]
        for field in ["l1_hits", "l1_direct_hits", "l1_misses", "l1_items", "l1_bytes", "l1_capacity_bytes",
                      "invalidations_received", "invalidation_lag_p50_us",
                      "invalidation_lag_p99_us", "invalidation_lag_max_us", "bus_healthy"]:
            assert field in s and s[field] is not None, field
        # the site's processes read L1 hits from shared memory themselves
        # (tiercache.django_cache.TierCache); the sidecar answers their misses
        assert s["l1_direct_hits"] > 0 and s["l1_items"] > 0 and 0 < s["l1_hit_ratio"] <= 1
        assert s["bus_healthy"] == 1
        received = s["invalidations_received"]
        topo.cache_client("A").set(":1:stats-probe", "x")  # a write on A is broadcast to B
        eventually(lambda: json.loads(browser.get(topo.url("B", "/cache-stats/?format=json"))
                                      .text)["sidecar"]["invalidations_received"] > received,
                   what="B counting A's invalidation")
    html = browser.get(topo.url("B", "/cache-stats/"))
    assert html.status == 200 and 'id="stats"' in html.text and "hit ratio" in html.text
