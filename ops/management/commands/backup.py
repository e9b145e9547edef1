"""``manage.py backup [--output FILE]`` (``make backup``): the whole database to one file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ops.backups import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the whole database (SQLite: online copy; PostgreSQL: pg_dump) to "
        "backups/rigrank-<UTC time>.sqlite3 or .pgdump, or to --output."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", type=Path, default=None)

    def handle(self, *args, output: Path | None, **options) -> None:
        try:
            path = backup_create(output)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        size_mb = path.stat().st_size / 1e6
        self.stdout.write(f"Backed up to {path} ({size_mb:.1f} MB).")
