"""Backs up every key of the cache's Redis database, by type with its TTL (shop/backup.py)."""
import sys

from django.core.management.base import BaseCommand, CommandError

from shop import backup


class Command(BaseCommand):
    help = "Write every key of the cache (string, hash, list, set, zset) with its TTL to a file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="where to write (- for standard output)")
        parser.add_argument("--match", help="only keys matching this glob pattern")

    def handle(self, *args, **options):
        from django_redis import get_redis_connection
        try:
            r = get_redis_connection("default")
        except NotImplementedError:
            raise CommandError("the default cache is not a Redis cache")
        if options["file"] == "-":
            counts = backup.backup(r, sys.stdout, options["match"])
        else:
            with open(options["file"], "w") as out:
                counts = backup.backup(r, out, options["match"])
        self.stderr.write("cache_backup: %d keys (%s), %d skipped (expired or changed meanwhile)"
                          % (counts["keys"], ", ".join("%d %s" % (counts[t], t)
                                                       for t in backup.TYPES), counts["skipped"]))
