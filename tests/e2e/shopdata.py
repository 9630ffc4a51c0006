"""What the tests know about the example shop: reading rows straight from its SQLite file, and
editing through the admin of a given host (as a person would)."""

import re
import sqlite3

from django.core.cache.utils import make_template_fragment_key

FIELDS = ["category_id", "name", "slug", "description", "price", "stock"]


def product_row(topo, pk):
    with sqlite3.connect(topo.db_path) as db:
        row = db.execute("SELECT %s FROM shop_product WHERE id = ?" % ", ".join(FIELDS),
                         (pk,)).fetchone()
    return dict(zip(FIELDS, row)) if row else None


def category_of(topo, pk):
    with sqlite3.connect(topo.db_path) as db:
        return db.execute("SELECT c.slug, c.name FROM shop_category c JOIN shop_product p "
                          "ON p.category_id = c.id WHERE p.id = ?", (pk,)).fetchone()


def admin_edit_product(admin, topo, host, pk, **changes):
    """Saves the product through host's admin change form with some fields changed."""
    row = product_row(topo, pk)
    form = {"category": row["category_id"], "name": row["name"], "slug": row["slug"],
            "description": row["description"], "price": "%.2f" % float(row["price"]),
            "stock": row["stock"], "_save": "Save"}
    form.update(changes)
    url = topo.url(host, "/admin/shop/product/%d/change/" % pk)
    r = admin.submit(url, url, form)
    assert r.status == 302, "admin save failed: %s" % errors(r.text)
    return r


def admin_delete_product(admin, topo, host, pk):
    url = topo.url(host, "/admin/shop/product/%d/delete/" % pk)
    r = admin.submit(url, url, {"post": "yes"})
    assert r.status == 302, "admin delete failed: %s" % errors(r.text)


def errors(html):
    return re.findall(r'<ul class="errorlist[^"]*">(.*?)</ul>', html) or html[:1000]


def fragment_key(name, *args):
    """The cache key of a {% cache %} fragment as stored by django-redis (prefix :1:)."""
    return ":1:" + make_template_fragment_key(name, args)


def cached_at(html):
    """The 'cached at' stamp of the product detail fragment."""
    m = re.search(r"this block was cached at ([0-9:.]+) by host (\w+)", html)
    return m.groups() if m else None


def rendered_at(html):
    m = re.search(r"rendered by host (\w+) \(port \d+\) at ([0-9:.]+)", html)
    return m.groups() if m else None
