"""``manage.py restore FILE`` (``make restore FILE=...``): put a backup back, then migrate."""

from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from ops.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Replace the database's contents with a backup made by `manage.py backup`, then "
        "apply any newer migrations. Stop the app (make run, docker compose) first."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options) -> None:
        try:
            backup_restore(file)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        call_command("migrate", "--no-input", verbosity=0)
        self.stdout.write(f"Restored {file}.")
