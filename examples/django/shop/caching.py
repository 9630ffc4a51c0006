"""The shop's cached reads: every key the site uses is named here, next to the loader that fills
it, so signals.py can invalidate exactly what a change affects.

  product:<id>                    one product as a dict (cache.get / get_many / set_many),
                                  tagged category:<category id> (a category edit drops them all)
  :<v>:product_list:<page>        a page of the product list, in the catalogue namespace (its
                                  version: tiercache:ns:catalog:version on tiercache, else
                                  catalog:version; bump it to drop every page); computed through
                                  get_or_set by one process of the site, refreshed early
  template.cache.product_card.*   {% cache %} fragment per product card (shop/_card.html)
  template.cache.product_detail.* {% cache %} fragment of a product's detail block
  views.decorators.cache.cache_*.category.*   the cache_page entries of the category pages
  dashboard:summary               the dashboard figures, recomputed under dashboard:lock
  shop:views                      a sorted set, product id -> views (ZINCRBY on every product
                                  page; /most-viewed/ reads its top): a raw Redis key, shared by
                                  every host, not a Django cache entry (no prefix, no version)
"""
import time
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Sum

from . import cachekit
from .models import Category, Product

OBJECT_TIMEOUT = 600
LIST_TIMEOUT = 300
STALE_LIST = 600
PAGE_SIZE = 8
CATALOG_VERSION = "catalog:version"
CATEGORY_PAGE_PREFIX = "category"  # cache_page(key_prefix=...) of the category view
CATEGORY_PAGES = "views.decorators.cache.cache_*.%s.*" % CATEGORY_PAGE_PREFIX
DASHBOARD = "dashboard:summary"
DASHBOARD_LOCK = "dashboard:lock"
DASHBOARD_RECOMPUTATIONS = "dashboard:recomputations"
VIEWS = "shop:views"


def product_key(pk):
    return "product:%d" % pk


def category_tag(category_id):
    return "category:%d" % category_id


def product_dict(p):
    return {"id": p.pk, "name": p.name, "slug": p.slug, "description": p.description,
            "price": p.price, "stock": p.stock, "category": p.category.name,
            "category_slug": p.category.slug, "category_id": p.category_id,
            "updated_at": p.updated_at}


def get_products(ids):
    """Products by id, from the cache (one MGET), loading and caching only the misses."""
    keys = {product_key(pk): pk for pk in ids}
    found = cache.get_many(list(keys))
    missing = [pk for key, pk in keys.items() if key not in found]
    if missing:
        by_category = {}
        for p in Product.objects.select_related("category").filter(pk__in=missing):
            by_category.setdefault(p.category_id, {})[product_key(p.pk)] = product_dict(p)
        for category_id, loaded in by_category.items():
            cachekit.set_many(loaded, OBJECT_TIMEOUT, tags=[category_tag(category_id)])
            found.update(loaded)
    return [found[product_key(pk)] for pk in ids if product_key(pk) in found]


def _redis():
    """The cache's Redis connection (django-redis, or tiercache's backend built on it); None on a
    backend that is not Redis (locmem), where there is no ranking."""
    try:
        from django_redis import get_redis_connection
        return get_redis_connection("default")
    except (ImportError, NotImplementedError):
        return None


def record_view(pk):
    """One more view of product pk in the ranking (ZINCRBY: atomic, one round trip; through
    the sidecar it reaches the L2, and every host's copy of the key is invalidated)."""
    r = _redis()
    if r is not None:
        r.zincrby(VIEWS, 1, pk)


def most_viewed(n=10):
    """The n most viewed products as [(product dict, views)], most viewed first (ties: the
    higher id first, as ZREVRANGE orders equal scores); None without a Redis cache."""
    r = _redis()
    if r is None:
        return None
    rows = [(int(member), int(score)) for member, score in
            r.zrevrange(VIEWS, 0, n - 1, withscores=True)]
    by_id = {p["id"]: p for p in get_products([pk for pk, _ in rows])}
    return [(by_id[pk], views) for pk, views in rows if pk in by_id]


def get_product(pk):
    product = cache.get(product_key(pk))
    if product is None:
        p = Product.objects.select_related("category").filter(pk=pk).first()
        if p is None:
            return None
        product = product_dict(p)
        cachekit.set(product_key(pk), product, OBJECT_TIMEOUT, tags=[category_tag(p.category_id)])
    return product


def related_ids(product, limit=4):
    return list(Product.objects.filter(category__slug=product["category_slug"])
                .exclude(pk=product["id"]).order_by("-stock", "pk")
                .values_list("pk", flat=True)[:limit])


def product_list_page(page):
    """One page of the product list, versioned with the catalogue. On a miss one process of the
    site computes it while the others wait for its result (a lease at the L2); in the last 20% of
    its TTL one process recomputes it in the background; if the database fails, the last page is
    answered for up to STALE_LIST seconds past its TTL."""
    def load():
        qs = Product.objects.select_related("category").order_by("name")
        total = qs.count()
        start = (page - 1) * PAGE_SIZE
        return {"ids": list(qs.values_list("pk", flat=True)[start:start + PAGE_SIZE]),
                "products": [product_dict(p) for p in qs[start:start + PAGE_SIZE]],
                "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE), "total": total}
    return cachekit.get_or_set("product_list:%d" % page, load, LIST_TIMEOUT,
                               version=cachekit.namespace_version(CATALOG_VERSION),
                               refresh_ahead=0.8, stale_if_error=STALE_LIST)


def compute_dashboard():
    """The expensive part: aggregates over the whole catalogue (and a pause standing in for
    the reports a real dashboard runs)."""
    time.sleep(0.2)
    per_category = list(Category.objects.annotate(n=Count("products"))
                        .order_by("-n", "name").values("name", "slug", "n"))
    stock_value = Product.objects.aggregate(v=Sum(F("price") * F("stock")))["v"] or Decimal(0)
    return {"products": Product.objects.count(), "categories": per_category,
            "stock_value": stock_value,
            "out_of_stock": Product.objects.filter(stock=0).count(),
            "priciest": list(Product.objects.order_by("-price").values("pk", "name", "price")[:5]),
            "computed_by": settings.HOST_NAME, "computed_at": time.time()}


def get_dashboard():
    """The dashboard from the cache; on a miss one process recomputes it under a lock while
    the others wait for its result instead of stampeding the database."""
    summary = cache.get(DASHBOARD)
    if summary is not None:
        return summary
    with cachekit.lock(DASHBOARD_LOCK, timeout=30, blocking_timeout=20):
        summary = cache.get(DASHBOARD)  # somebody else may have done it while we waited
        if summary is None:
            summary = compute_dashboard()
            cache.set(DASHBOARD, summary, 120)
            if not cache.add(DASHBOARD_RECOMPUTATIONS, 1, timeout=None):
                cache.incr(DASHBOARD_RECOMPUTATIONS)
    return summary


def invalidate_product(pk):
    """Everything that shows this product: its object, its fragments, the list pages (a new
    catalogue version), the category pages and the dashboard."""
    cache.delete_many([product_key(pk), cachekit.fragment_key("product_card", pk),
                       cachekit.fragment_key("product_detail", pk), DASHBOARD])
    cachekit.bump_namespace(CATALOG_VERSION)
    cachekit.delete_pattern(CATEGORY_PAGES)


def invalidate_category(category_id, product_ids):
    """A category's name shows on every card and detail of its products: drop those objects (one
    write: their tag), every product fragment, the lists, the category pages and the
    dashboard."""
    cachekit.invalidate_tags([category_tag(category_id)],
                             fallback_keys=[product_key(pk) for pk in product_ids])
    cache.delete(DASHBOARD)
    cachekit.delete_pattern("template.cache.product_*")
    cachekit.bump_namespace(CATALOG_VERSION)
    cachekit.delete_pattern(CATEGORY_PAGES)
