"""Coherence across hosts, over HTTP: what host B serves from its cache (pages, fragments,
objects, sessions) follows writes made through host A, because the signal handlers delete the
affected keys through A's sidecar and the sidecar broadcasts the invalidation. Each test uses
its own products, so the tests share one topology."""

import sqlite3
import threading

from shopdata import (admin_delete_product, admin_edit_product, cached_at, category_of,
                  fragment_key, rendered_at)
from web import Browser, eventually


def test_product_edit_on_a_is_visible_on_b(topo, browser, admin):
    pk = 1
    slug, _ = category_of(topo, pk)
    product_b = topo.url("B", "/product/%d/" % pk)
    category_b = topo.url("B", "/category/%s/" % slug)
    first = browser.get(product_b)
    assert first.status == 200
    assert cached_at(browser.get(product_b).text) == cached_at(first.text), \
        "the detail fragment is not served from B's cache"
    page = browser.get(category_b)
    assert rendered_at(browser.get(category_b).text) == rendered_at(page.text), \
        "the category page is not served from B's cache"
    assert "€123.45" not in first.text + page.text
    card = 'id="product-%d"' % pk
    list_b = next(topo.url("B", "/?page=%d" % n) for n in range(1, 8)
                  if card in browser.get(topo.url("B", "/?page=%d" % n)).text)

    admin_edit_product(admin, topo, "A", pk, price="123.45")

    after = eventually(lambda: (lambda r: r if "€123.45" in r.text else None)(
        browser.get(product_b)), what="new price on host B's product page")
    assert cached_at(after.text) != cached_at(first.text)
    eventually(lambda: "€123.45" in browser.get(category_b).text,
               what="new price on host B's cached category page")
    # the card is re-rendered from the list page of the new catalogue version (incr through
    # A's sidecar), not from B's old copy of the list
    card_html = browser.get(list_b).text.split(card)[1].split("</div>\n</div>")[0]
    assert "€123.45" in card_html, card_html


def test_signal_handlers_drop_fragment_page_and_object_keys(topo, browser, admin):
    pk = 2
    slug, _ = category_of(topo, pk)
    l2, cache_b = topo.l2_client(), topo.cache_client("B")
    # the catalogue namespace's version (tiercache's namespace(): one atomic script per bump)
    version = lambda: int(l2.get(":1:tiercache:ns:catalog:version")  # noqa: E731
                          or l2.get(":1:catalog:version") or 0)  # (django-redis: cache.incr)
    assert browser.get(topo.url("B", "/")).status == 200  # creates the catalogue version
    assert browser.get(topo.url("B", "/product/%d/" % pk)).status == 200
    assert browser.get(topo.url("B", "/category/%s/" % slug)).status == 200
    detail, obj = fragment_key("product_detail", pk), ":1:product:%d" % pk
    pages = ":1:views.decorators.cache.cache_*.category.*"
    assert l2.exists(detail) and l2.exists(obj)
    assert l2.keys(pages), "cache_page stored nothing for the category page"
    assert cache_b.get(detail) is not None  # and host B reads it (from its L1)
    before = version()
    assert before >= 1

    admin_edit_product(admin, topo, "A", pk, stock=999)

    assert not l2.exists(detail) and not l2.exists(obj)  # post-commit handlers ran before 302
    assert not l2.keys(pages)
    assert version() == before + 1  # the whole product_list family moved to a new version
    eventually(lambda: cache_b.get(detail) is None and cache_b.get(obj) is None,
               what="host B's copies dropped")
    assert "999 in stock" in browser.get(topo.url("B", "/product/%d/" % pk)).text


def test_product_delete_on_a_is_a_404_on_b(topo, browser, admin):
    pk = 48
    url = topo.url("B", "/product/%d/" % pk)
    assert browser.get(url).status == 200
    assert browser.get(url).status == 200  # now cached on B
    admin_delete_product(admin, topo, "A", pk)
    eventually(lambda: browser.get(url).status == 404, what="deleted product gone on B")


def test_category_rename_reaches_every_product_fragment_on_b(topo, browser, admin):
    pk = 6
    slug, name = category_of(topo, pk)
    url = topo.url("B", "/product/%d/" % pk)
    assert name in browser.get(url).text
    with sqlite3.connect(topo.db_path) as db:
        cat_id, desc = db.execute("SELECT id, description FROM shop_category WHERE slug = ?",
                                  (slug,)).fetchone()
    change = topo.url("A", "/admin/shop/category/%d/change/" % cat_id)
    r = admin.submit(change, change, {"name": "Vinyl Records", "slug": slug,
                                      "description": desc, "_save": "Save"})
    assert r.status == 302
    eventually(lambda: "Vinyl Records" in browser.get(url).text, what="renamed category on B")
    assert "Vinyl Records" in browser.get(topo.url("B", "/category/%s/" % slug)).text


def test_sessions_follow_the_visitor_across_hosts(topo, browser):
    pk = 3
    form = {}
    r = browser.submit(topo.url("A", "/product/%d/" % pk),
                       topo.url("A", "/cart/add/%d/" % pk), form)
    assert r.status == 302
    assert "sessionid" in browser.cookies
    eventually(lambda: 'cart-line' in browser.get(topo.url("B", "/cart/")).text,
               what="cart on host B")
    r = browser.submit(topo.url("B", "/product/%d/" % pk),
                       topo.url("B", "/cart/add/%d/" % pk), form)
    assert r.status == 302
    eventually(lambda: "2 in your cart" in browser.get(topo.url("A", "/product/%d/" % pk)).text,
               what="cart updated on B seen on A")
    # the recently-viewed list written on both hosts is one list
    assert "1 recently viewed" in browser.get(topo.url("B", "/")).text


def test_admin_login_on_a_is_valid_on_b(topo, admin):
    r = admin.get(topo.url("B", "/admin/"))
    assert r.status == 200 and "Site administration" in r.text
    anonymous = admin.__class__().get(topo.url("B", "/admin/"))
    assert anonymous.status == 302


def test_dashboard_recomputed_once_under_the_lock(topo):
    a, l2 = topo.cache_client("A"), topo.l2_client()
    a.delete(":1:dashboard:summary")
    before = int(l2.get(":1:dashboard:recomputations") or 0)
    b = topo.cache_client("B")
    eventually(lambda: b.get(":1:dashboard:summary") is None, what="dashboard dropped on B")
    results = []

    def hit(host):
        try:
            results.append(Browser().get(topo.url(host, "/dashboard/"), timeout=40))
        except Exception as e:  # reported below
            results.append(e)
    threads = [threading.Thread(target=hit, args=(h,)) for h in "ABABAB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [getattr(r, "status", r) for r in results] == [200] * 6
    assert int(l2.get(":1:dashboard:recomputations")) == before + 1
    computed_by = {r.text.split('id="computed-by">')[1][:1] for r in results}
    assert len(computed_by) == 1  # everybody got the one result
