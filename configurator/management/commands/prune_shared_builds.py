"""Remove shared builds nobody has opened for a while: ``manage.py prune_shared_builds``."""

from django.conf import settings
from django.core.management.base import BaseCommand

from configurator.models import shared_builds_prune


class Command(BaseCommand):
    help = (
        "Delete shared-build snapshots not opened for --days days (default "
        "SHARE_RETENTION_DAYS); never-opened ones count from when they were made."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=settings.SHARE_RETENTION_DAYS)

    def handle(self, *args, days: int, **options) -> None:
        if days < 1:
            self.stderr.write("--days must be 1 or more.")
            raise SystemExit(2)
        deleted = shared_builds_prune(days=days)
        self.stdout.write(f"Deleted {deleted} shared build(s) not opened for {days} days.")
