"""The /hot/ page's data: a report computed by a deliberately slow aggregate query and cached
under one hot key with a 1 s TTL, three ways (?mode=, one key each):

  plain      the hand-written pattern: v = cache.get(k); if v is None: v = compute();
             cache.set(k, v, 1)  (what Django's own get_or_set does too): every process that
             misses runs the query
  protected  cache.get_or_set(k, compute, 1) on tiercache's backend: one process of the site
             (the holder of the key's lease at the L2, across hosts) runs it, the others wait
             for its value
  refresh    the same with refresh_ahead=0.8: in the last 20% of the TTL one process runs it in
             the background while everybody is answered the current value

What it costs is counted in the database (models.HotKeyStat, one row per mode): the queries
the computation ran, counted as they execute (connection.execute_wrapper), the computations,
and the requests that found the key missing. bench/django/stampede.py --wrk drives the page
under wrk and reads those rows.
"""
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import F

from . import cachekit
from .models import HotKeyStat, Product

MODES = ("plain", "protected", "refresh")
TIMEOUT = 1
REFRESH_AHEAD = 0.8


def key(mode):
    return "hot:%s" % mode


def report(mode):
    """The hot report (a dict), read and filled the way `mode` says."""
    k = key(mode)
    value = cache.get(k)
    if value is None:
        _tally(mode, misses=1)
        if mode == "plain":
            value = compute(mode)
            cache.set(k, value, TIMEOUT)
            return value
    if mode == "plain":
        return value
    features = {"refresh_ahead": REFRESH_AHEAD} if mode == "refresh" else {}
    return cachekit.get_or_set(k, lambda: compute(mode), TIMEOUT, **features)


class _QueryCounter:
    """Counts the statements this thread's connection executes while installed."""

    def __init__(self):
        self.n = 0

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        return execute(sql, params, many, context)


def compute(mode):
    """The expensive part: per category, a four-way self-join of the catalogue (tens of
    milliseconds on SQLite however warm its cache), standing in for a report query."""
    product = Product._meta.db_table
    counter = _QueryCounter()
    connection.ensure_connection()  # a new connection's PRAGMAs (apps.py) are not the report's
    with connection.execute_wrapper(counter), connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.category_id, COUNT(*), SUM(b.price * d.stock), MAX(e.price - a.price) "
            "FROM {p} a JOIN {p} b ON b.category_id <> a.category_id "
            "JOIN {p} d ON d.stock >= b.stock JOIN {p} e ON e.category_id = a.category_id "
            "AND e.stock >= a.stock AND e.price >= a.price "
            "GROUP BY a.category_id ORDER BY a.category_id".format(p=product))
        rows = cursor.fetchall()
    _tally(mode, queries=counter.n, runs=1)
    return {"rows": [{"category_id": r[0], "pairs": r[1], "weighted": float(r[2] or 0),
                      "spread": float(r[3] or 0)} for r in rows],
            "computed_by": settings.HOST_NAME, "computed_at": time.time(), "mode": mode}


def _tally(mode, queries=0, runs=0, misses=0):
    HotKeyStat.objects.filter(mode=mode).update(
        queries=F("queries") + queries, runs=F("runs") + runs, misses=F("misses") + misses)
