"""One-command backups and restores of the whole database (SQLite or PostgreSQL).

SQLite is copied with SQLite's online backup API (a consistent copy while the app runs);
PostgreSQL with ``pg_dump --format=custom`` and restored with ``pg_restore --clean``.
Everything is in the database — catalogue and admin edits, every price observation,
shared builds, users — so one file holds it all.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connections

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    pass


def _db() -> dict:
    return settings.DATABASES["default"]


def vendor() -> str:
    engine = _db()["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite"
    if "postgresql" in engine:
        return "postgresql"
    raise BackupError(f"backups support SQLite and PostgreSQL, not {engine}")


def backup_dir() -> Path:
    return Path(getattr(settings, "BACKUP_DIR", settings.BASE_DIR / "backups"))


def _pg_env() -> dict[str, str]:
    db = _db()
    env = {**os.environ}
    for key, name in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER")):
        if db.get(key):
            env[name] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _run(command: list[str]) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (PostgreSQL client tools are needed)")
    done = subprocess.run(command, env=_pg_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[-800:]}")


def backup_create(output: Path | None = None) -> Path:
    """Write a backup file and return its path (default: BACKUP_DIR/rigrank-<UTC time>)."""
    kind = vendor()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    suffix = ".sqlite3" if kind == "sqlite" else ".pgdump"
    path = output or backup_dir() / f"rigrank-{stamp}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        source = sqlite3.connect(str(_db()["NAME"]))
        target = sqlite3.connect(str(path))
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={path}", _db()["NAME"]])
    path.chmod(0o600)
    return path


def backup_restore(path: Path) -> None:
    """Replace the database's contents with the backup at ``path``."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    head = path.read_bytes()[:16]
    kind = vendor()
    connections.close_all()
    if kind == "sqlite":
        if not head.startswith(SQLITE_MAGIC):
            raise BackupError(f"{path} is not a SQLite backup (the database is SQLite)")
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(str(_db()["NAME"]))
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        if not head.startswith(PGDUMP_MAGIC):
            raise BackupError(f"{path} is not a pg_dump backup (the database is PostgreSQL)")
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={_db()['NAME']}",
                str(path),
            ]
        )
