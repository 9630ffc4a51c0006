"""Restores what cache_backup wrote: each key by type, with the TTL it had left (shop/backup.py)."""
import sys

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from shop import backup


class Command(BaseCommand):
    help = "Write back the keys of a cache_backup file, each with the TTL it had left."

    def add_arguments(self, parser):
        parser.add_argument("file", help="what cache_backup wrote (- for standard input)")
        parser.add_argument("--replace", action="store_true",
                            help="overwrite keys that exist (default: leave them)")

    def handle(self, *args, **options):
        from django_redis import get_redis_connection
        try:
            r = get_redis_connection("default")
        except NotImplementedError:
            raise CommandError("the default cache is not a Redis cache")
        try:
            if options["file"] == "-":
                counts = backup.restore(r, sys.stdin, options["replace"])
            else:
                with open(options["file"]) as inp:
                    counts = backup.restore(r, inp, options["replace"])
        except (OSError, ValueError, RedisError) as e:
            raise CommandError(str(e))
        self.stderr.write("cache_restore: %d keys restored, %d left as they were (existing)"
                          % (counts["keys"], counts["existing"]))
