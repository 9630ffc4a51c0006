"""The cache's figures for `manage.py cache_stats` and /cache-stats/: from the local sidecar's
`INFO tiercache` (L1 hit ratio and memory, invalidation traffic and lag) and the L2's own INFO
(`INFO l2` through the sidecar). Against a plain Redis or tiercache-l2 only the L2 part is
filled; against a non-Redis backend nothing is."""
from django.conf import settings

L1_FIELDS = ["l1_hits", "l1_direct_hits", "l1_misses", "l1_items", "l1_bytes", "l1_capacity_bytes",
             "l1_evictions", "fills_discarded", "coalesced_misses"]
BUS_FIELDS = ["invalidations_sent", "invalidations_received", "bus_resets", "bus_healthy",
              "invalidation_lag_p50_us", "invalidation_lag_p99_us", "invalidation_lag_max_us",
              "l2_errors", "l2_latency_p50_us", "l2_latency_p99_us"]
L2_FIELDS = ["redis_version", "tiercache_version", "uptime_in_seconds", "connected_clients",
             "used_memory", "used_memory_human", "maxmemory", "maxmemory_policy",
             "total_commands_processed", "keyspace_hits", "keyspace_misses", "evicted_keys",
             "expired_keys", "pubsub_channels"]


def _ratio(hits, misses):
    total = hits + misses
    return round(hits / total, 4) if total else None


def gather(alias="default"):
    """A JSON-ready dict: host, backend, sidecar (or None), l2 (or None)."""
    conf = settings.CACHES[alias]
    out = {"host": settings.HOST_NAME, "backend": conf["BACKEND"],
           "location": conf.get("LOCATION"), "sidecar": None, "l2": None}
    from django.core.cache import caches
    from django_redis import get_redis_connection
    from django_redis.cache import RedisCache
    if not isinstance(caches[alias], RedisCache):  # tiercache's backend is one too
        out["note"] = "not a Redis-protocol cache: no figures"
        return out
    conn = get_redis_connection(alias)
    tc = conn.info("tiercache")
    if "l1_hits" in tc:
        sidecar = {k: tc.get(k) for k in L1_FIELDS + BUS_FIELDS}
        # hits served by the sidecar plus those app processes read from L1 themselves
        # (tiercache.django_cache); a direct miss comes to the sidecar and counts there
        sidecar["l1_hit_ratio"] = _ratio(tc.get("l1_hits", 0) + tc.get("l1_direct_hits", 0),
                                         tc.get("l1_misses", 0))
        cap = tc.get("l1_capacity_bytes") or 0
        sidecar["l1_fill_ratio"] = round(tc.get("l1_bytes", 0) / cap, 4) if cap else None
        out["sidecar"] = sidecar
        l2 = conn.info("l2")
    else:
        out["note"] = "the cache is not a tiercache sidecar: L2 figures only"
        l2 = conn.info()
    figures = {k: l2.get(k) for k in L2_FIELDS if k in l2}
    figures["hit_ratio"] = _ratio(l2.get("keyspace_hits", 0), l2.get("keyspace_misses", 0))
    db = l2.get("db%d" % conn.connection_pool.connection_kwargs.get("db", 0))
    figures["keys"] = db.get("keys", 0) if isinstance(db, dict) else 0
    out["l2"] = figures
    features = getattr(caches[alias], "tier_stats", None)
    if features is not None:  # tiercache's backend: tags, leases, refreshes (every process)
        out["features"] = features()
    return out


FEATURE_ROWS = [
    ("tagged reads rejected (a tag was invalidated)", "tagged_rejected"),
    ("tag invalidations / namespace bumps", ("tag_invalidations", "namespace_bumps")),
    ("get_or_set leases won / waited / timed out",
     ("leases_won", "leases_waited", "leases_timed_out")),
    ("early refreshes", "early_refreshes"),
    ("stale answers (fail-safe, or while another process refreshes)", "stale_answers"),
    ("factory runs / errors / timeouts", ("factory_runs", "factory_errors", "factory_timeouts")),
]


def _us(v):
    return "-" if v is None else ("%d us" % v if v < 10000 else "%.1f ms" % (v / 1000))


def _bytes(v):
    if v is None:
        return "-"
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if v < 1024 or unit == "GiB":
            return ("%d %s" % (v, unit)) if unit == "B" else ("%.1f %s" % (v, unit))
        v /= 1024


def _pct(v):
    return "-" if v is None else "%.1f%%" % (100 * v)


def rows(stats):
    """(section, label, value) rows for the text and HTML views."""
    out = [("cache", "host", stats["host"]), ("cache", "backend", stats["backend"]),
           ("cache", "location", stats["location"] or "-")]
    if stats.get("note"):
        out.append(("cache", "note", stats["note"]))
    s = stats["sidecar"]
    if s:
        out += [
            ("L1 (this host)", "hit ratio", "%s (%d hits, %d of them read directly from "
             "shared memory; %d misses)"
             % (_pct(s["l1_hit_ratio"]), (s["l1_hits"] or 0) + (s["l1_direct_hits"] or 0),
                s["l1_direct_hits"] or 0, s["l1_misses"] or 0)),
            ("L1 (this host)", "memory", "%s of %s (%s), %d items"
             % (_bytes(s["l1_bytes"]), _bytes(s["l1_capacity_bytes"]),
                _pct(s["l1_fill_ratio"]), s["l1_items"] or 0)),
            ("L1 (this host)", "evictions", s["l1_evictions"]),
            ("L1 (this host)", "fills discarded / coalesced misses",
             "%s / %s" % (s["fills_discarded"], s["coalesced_misses"])),
            ("invalidation", "bus healthy", "yes" if s["bus_healthy"] else "NO"),
            ("invalidation", "sent / received",
             "%s / %s" % (s["invalidations_sent"], s["invalidations_received"])),
            ("invalidation", "lag p50 / p99 / max", "%s / %s / %s"
             % (_us(s["invalidation_lag_p50_us"]), _us(s["invalidation_lag_p99_us"]),
                _us(s["invalidation_lag_max_us"]))),
            ("invalidation", "bus resets", s["bus_resets"]),
            ("L2 link", "latency p50 / p99", "%s / %s"
             % (_us(s["l2_latency_p50_us"]), _us(s["l2_latency_p99_us"]))),
            ("L2 link", "errors", s["l2_errors"]),
        ]
    l2 = stats["l2"]
    if l2:
        out += [
            ("L2", "server", "%s %s" % ("tiercache-l2" if l2.get("tiercache_version")
                                        else "redis", l2.get("tiercache_version")
                                        or l2.get("redis_version"))),
            ("L2", "keys (this db)", l2["keys"]),
            ("L2", "memory", l2.get("used_memory_human", "-")),
            ("L2", "hit ratio", "%s (%s hits, %s misses)" % (
                _pct(l2["hit_ratio"]), l2.get("keyspace_hits"), l2.get("keyspace_misses"))),
            ("L2", "clients", l2.get("connected_clients")),
            ("L2", "commands processed", l2.get("total_commands_processed")),
            ("L2", "evicted / expired keys", "%s / %s" % (l2.get("evicted_keys"),
                                                         l2.get("expired_keys"))),
        ]
    f = stats.get("features")
    if f:
        section = "tags, leases, refreshes (host %s, every process)" % stats["host"]
        for label, names in FEATURE_ROWS:
            names = names if isinstance(names, tuple) else (names,)
            out.append((section, label, " / ".join(str(f.get(n, 0)) for n in names)))
    return out
