"""The shop on Redis data types: the "most viewed" ranking (a sorted set the product pages
ZINCRBY through each host's sidecar)."""

import re

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
