"""The shop's pages. Each shows one cache pattern a Django team uses (see caching.py for keys):

  product_list    session read, a versioned get_or_set page, {% cache %} fragments per card
  product_detail  cache.get + get_many/set_many for related items, a fragment, session writes,
                  a view counted in the ranking (ZINCRBY on a sorted set)
  most_viewed     the ranking's top (ZREVRANGE ... WITHSCORES), shared by every host
  category        cache_page (invalidated by delete_pattern on any catalogue change)
  dashboard       an expensive recomputation under cache.lock
  hot             a hot key with a 1 s TTL, filled plain, lease-protected or refreshed early
                  (?mode=, see hotkey.py; what bench/django/stampede.py --wrk measures)
  cache_stats     the sidecar's and the L2's figures (HTML, or JSON with ?format=json)
"""
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.cache import cache_page
from django.views.decorators.http import require_POST

from . import caching, hotkey, series, stats
from .models import Category

RECENT = 5


def _cart_count(request):
    return sum(request.session.get("cart", {}).values())


def product_list(request):
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    listing = caching.product_list_page(page)
    if page > listing["pages"]:
        raise Http404("no such page")
    return render(request, "shop/product_list.html", {
        "products": listing["products"], "page": page, "pages": range(1, listing["pages"] + 1),
        "total": listing["total"], "cart_count": _cart_count(request),
        "recent": len(request.session.get("recent", [])),
    })


def product_detail(request, pk):
    product = caching.get_product(pk)
    if product is None:
        raise Http404("no such product")
    related = caching.get_products(caching.related_ids(product))
    caching.record_view(pk)
    recent = [i for i in request.session.get("recent", []) if i != pk][:RECENT - 1]
    request.session["recent"] = [pk] + recent
    return render(request, "shop/product_detail.html", {
        "product": product, "related": related, "cart_count": _cart_count(request),
        "recently_viewed": caching.get_products(recent),
        "in_cart": request.session.get("cart", {}).get(str(pk), 0),
    })


def most_viewed(request):
    return render(request, "shop/most_viewed.html", {
        "ranking": caching.most_viewed(), "cart_count": _cart_count(request)})


@require_POST
def cart_add(request, pk):
    if caching.get_product(pk) is None:
        raise Http404("no such product")
    cart = request.session.get("cart", {})
    cart[str(pk)] = cart.get(str(pk), 0) + 1
    request.session["cart"] = cart
    return redirect("shop:product", pk=pk)


def cart(request):
    items = request.session.get("cart", {})
    products = caching.get_products([int(k) for k in items])
    lines = [{"product": p, "qty": items[str(p["id"])], "total": p["price"] * items[str(p["id"])]}
             for p in products]
    return render(request, "shop/cart.html", {
        "lines": lines, "cart_count": _cart_count(request),
        "total": sum(line["total"] for line in lines)})


@cache_page(300, key_prefix=caching.CATEGORY_PAGE_PREFIX)
def category(request, slug):
    cat = get_object_or_404(Category, slug=slug)
    products = cat.products.order_by("name")
    return render(request, "shop/category.html", {"category": cat, "products": products})


def dashboard(request):
    return render(request, "shop/dashboard.html", {
        "summary": caching.get_dashboard(), "cart_count": _cart_count(request)})


def hot(request):
    mode = request.GET.get("mode", "refresh")
    if mode not in hotkey.MODES:
        raise Http404("mode is one of %s" % ", ".join(hotkey.MODES))
    return render(request, "shop/hot.html", {
        "report": hotkey.report(mode), "mode": mode, "modes": hotkey.MODES,
        "timeout": hotkey.TIMEOUT})


def cache_stats(request):
    figures = stats.gather()
    if request.GET.get("format") == "json" or "application/json" in request.headers.get(
            "Accept", ""):
        return JsonResponse(figures)
    try:
        charts = series.charts()
    except Exception:  # not a Redis-protocol cache: tables only
        charts = []
    return render(request, "shop/cache_stats.html", {
        "stats": figures, "rows": stats.rows(figures), "cart_count": _cart_count(request),
        "charts": [(host, n, [mark_safe(svg) for svg in svgs]) for host, n, svgs in charts],
        "window_minutes": series.WINDOW // 60})
