"""Cache invalidation on writes. Each handler runs after the transaction commits (the admin
saves inside one), so no other request can re-cache the old row in between. The deletes go
to the local sidecar, which broadcasts them: every other host drops its copy too."""
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .caching import invalidate_category, invalidate_product
from .models import Category, Product


@receiver([post_save, post_delete], sender=Product, dispatch_uid="shop.product_changed")
def product_changed(sender, instance, **kwargs):
    pk = instance.pk  # read now: after a delete Django sets it to None
    transaction.on_commit(lambda: invalidate_product(pk))


@receiver([post_save, post_delete], sender=Category, dispatch_uid="shop.category_changed")
def category_changed(sender, instance, **kwargs):
    pk = instance.pk
    ids = list(instance.products.values_list("pk", flat=True)) if pk else []
    transaction.on_commit(lambda: invalidate_category(pk, ids))
