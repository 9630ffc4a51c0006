"""The /hot/ page (examples/django/shop/hotkey.py): a report behind one key with a 1 s TTL. It
answers in each mode, and in protected mode concurrent requests on both hosts that find the key
expired run its query once (the lease at the L2), counted by the database."""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from web import Browser

MODES = ("plain", "protected", "refresh")


def computed_at(page):
    return re.search(r'id="computed-at">([^<]+)<', page.text).group(1)


def test_hot_page_answers_in_each_mode(topo, browser):
    for mode in MODES:
        page = browser.get(topo.url("B", "/hot/?mode=" + mode))
        assert page.status == 200 and "in mode %s" % mode in page.text, page
        assert page.text.count("<tr><td>") == 6  # one row per seeded category
    assert browser.get(topo.url("A", "/hot/?mode=nope")).status == 404


def test_protected_mode_runs_the_query_once_for_concurrent_misses(topo):
    """8 requests at once, half on each host (2 workers each): several find the key missing,
    one runs the query. An attempt where fewer than two requests missed together, or that took
    so long the key could expire again, proves nothing and is repeated."""
    for _ in range(4):
        time.sleep(1.2)  # past the key's 1 s TTL
        before = topo.hot_counts("protected")
        start = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(
                lambda i: Browser().get(topo.url("AB"[i % 2], "/hot/?mode=protected")),
                range(8)))
        took = time.monotonic() - start
        queries, runs, misses = (a - b for a, b in zip(topo.hot_counts("protected"), before))
        assert all(p.status == 200 for p in pages), pages
        if took > 0.9 or misses < 2:
            continue
        assert (queries, runs) == (1, 1), (queries, runs, misses)
        assert len({computed_at(p) for p in pages}) == 1
        return
    pytest.fail("no attempt had two requests missing the key at once within its TTL")
