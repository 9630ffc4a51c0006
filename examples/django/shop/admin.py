"""The admin: editing a product or category here fires the signal handlers (shop/signals.py)
that invalidate the cached pages, fragments and objects on every host."""
from django.contrib import admin

from .models import Category, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "price", "stock", "updated_at"]
    list_filter = ["category"]
    list_editable = ["price", "stock"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
