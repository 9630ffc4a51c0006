"""Preloads the hot keys (every product object, every product-list page, the product card
fragments, the dashboard) so the first visitors hit a warm cache; prints a progress bar and
a summary: keys, bytes, seconds."""
import pickle
import time

from django.core.cache import cache
from django.core.management.base import BaseCommand
from django.template.loader import render_to_string

from shop import cachekit, caching
from shop.models import Product


class Command(BaseCommand):
    help = "Preload the shop's hot cache keys."

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, no_progress=False, **options):
        start = time.monotonic()
        ids = list(Product.objects.order_by("name").values_list("pk", flat=True))
        pages = max(1, (len(ids) + caching.PAGE_SIZE - 1) // caching.PAGE_SIZE)
        products = {}
        steps = [("products", lambda: products.update(
            (p["id"], p) for p in caching.get_products(ids)))]
        steps += [("list page %d" % n, lambda n=n: caching.product_list_page(n))
                  for n in range(1, pages + 1)]
        steps += [("card %d" % pk, lambda pk=pk: render_to_string(
            "shop/_card.html", {"product": products[pk]})) for pk in ids]
        steps.append(("dashboard", caching.get_dashboard))

        for i, (label, step) in enumerate(steps, 1):
            step()
            if not no_progress:
                self._progress(i, len(steps), label)
        if not no_progress:
            self.stdout.write("")

        version = cachekit.namespace_version(caching.CATALOG_VERSION)
        entries = [(caching.product_key(pk), None) for pk in ids]
        entries += [("product_list:%d" % n, version) for n in range(1, pages + 1)]
        entries += [(cachekit.fragment_key("product_card", pk), None) for pk in ids]
        entries.append((caching.DASHBOARD, None))
        found = [(cache.make_key(k, v), cache.get(k, version=v)) for k, v in entries]
        found = [(k, v) for k, v in found if v is not None]
        size = sum(len(k) + len(pickle.dumps(v, -1)) for k, v in found)
        seconds = time.monotonic() - start
        if len(found) < len(entries):  # evicted at once, or a cache that lost a write
            self.stderr.write("warm_cache: %d of %d keys were not readable right after warming"
                              % (len(entries) - len(found), len(entries)))
        self.stdout.write(self.style.SUCCESS(
            "warm_cache: %d keys, %d bytes in %.2f s (%d products, %d list pages, %d fragments,"
            " dashboard)" % (len(found), size, seconds, len(ids), pages, len(ids))))

    def _progress(self, done, total, label, width=30):
        if done != total and not self.stdout.isatty() and done % max(1, total // 4):
            return  # not a terminal: a few lines, not one per step
        filled = width * done // total
        line = "\r[%s%s] %3d%% %d/%d %-16s" % ("#" * filled, "-" * (width - filled),
                                               100 * done // total, done, total, label)
        self.stdout.write(line, ending="")
        self.stdout.flush()
