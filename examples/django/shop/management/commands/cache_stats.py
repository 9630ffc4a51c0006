"""Prints the local sidecar's figures (L1 hit ratio and memory, invalidation traffic and lag)
and the L2's (from INFO); --json for the raw figures."""
import json

from django.core.management.base import BaseCommand

from shop import stats


class Command(BaseCommand):
    help = "Show the cache's hit ratio, L1 memory, invalidation lag and L2 figures."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        figures = stats.gather()
        if options["json"]:
            self.stdout.write(json.dumps(figures, indent=2, default=str))
            return
        section = None
        for sec, label, value in stats.rows(figures):
            if sec != section:
                self.stdout.write(self.style.MIGRATE_HEADING(sec))
                section = sec
            self.stdout.write("  %-36s %s" % (label, value))
