"""The shop's catalogue: categories and their products."""
from django.db import models
from django.urls import reverse


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("shop:category", args=[self.slug])


class Product(models.Model):
    category = models.ForeignKey(Category, related_name="products", on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("shop:product", args=[self.pk])


class HotKeyStat(models.Model):
    """What the /hot/ page cost the database, per mode (shop/hotkey.py): the queries its
    computation ran (counted as they executed), the computations, and the requests that found
    the hot key missing. Kept in the database itself, so every worker of every host adds to one
    row and the benchmark reads the figures from the database's side."""
    mode = models.CharField(max_length=16, primary_key=True)
    queries = models.BigIntegerField(default=0)
    runs = models.BigIntegerField(default=0)
    misses = models.BigIntegerField(default=0)

    def __str__(self):
        return "%s: %d queries, %d runs, %d misses" % (self.mode, self.queries, self.runs,
                                                      self.misses)
