"""App config: connects the cache-invalidation signal handlers and puts SQLite in WAL mode
(two gunicorn "hosts" share the demo's database file)."""
from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _sqlite_wal(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")


class ShopConfig(AppConfig):
    name = "shop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401  (registers the receivers)
        connection_created.connect(_sqlite_wal, dispatch_uid="shop.sqlite_wal")
