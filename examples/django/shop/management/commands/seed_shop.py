"""Creates the demo catalogue (deterministic) and the admin user. Idempotent unless --reset."""
import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management.base import BaseCommand
from django.db import transaction

from shop.models import Category, Product

CATEGORIES = ["Coffee", "Tea", "Kitchen", "Books", "Garden", "Music"]
ADJECTIVES = ["Classic", "Smoky", "Bright", "Rustic", "Velvet", "Alpine", "Golden", "Tiny",
              "Grand", "Quiet"]


class Command(BaseCommand):
    help = "Seed the demo catalogue and the admin user (admin / admin)."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=48)
        parser.add_argument("--reset", action="store_true", help="delete the catalogue first")
        parser.add_argument("--admin-password", default="admin")

    @transaction.atomic
    def handle(self, *args, products, reset, admin_password, **options):
        if reset:
            Product.objects.all().delete()
            Category.objects.all().delete()
        rng = random.Random(42)
        have = set(Category.objects.values_list("slug", flat=True))
        Category.objects.bulk_create(  # bulk: no signals, the cache is cleared below instead
            [Category(slug=n.lower(), name=n, description="Everything %s." % n.lower())
             for n in CATEGORIES if n.lower() not in have])
        by_slug = {c.slug: c for c in Category.objects.all()}
        cats = [by_slug[n.lower()] for n in CATEGORIES]
        existing = set(Product.objects.values_list("slug", flat=True))
        new = []
        for i in range(products):
            cat = cats[i % len(cats)]
            name = "%s %s %d" % (ADJECTIVES[(i // len(cats)) % len(ADJECTIVES)], cat.name, i + 1)
            slug = "%s-%d" % (cat.slug, i + 1)
            if slug in existing:
                continue
            new.append(Product(category=cat, name=name, slug=slug,
                               description="%s, from the %s range." % (name, cat.name),
                               price=Decimal(rng.randrange(300, 9900)) / 100,
                               stock=rng.choice([0, 3, 7, 12, 25, 40])))
        Product.objects.bulk_create(new)
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", admin_password)
        transaction.on_commit(cache.clear)
        self.stdout.write("seeded %d categories, %d new products (%d in all); admin user: admin"
                          % (len(cats), len(new), Product.objects.count()))
