"""``python manage.py calibrate`` (``make calibrate``): refit the estimator's constants
with the approved user measurements included, and report what changed.

Writes the approved measurements as v2 calibration rows (``export_measurements``), runs
the engine's fit (``python -m configurator.engine.validate --fit``, which rewrites
``configurator/engine/calibration/constants.json`` and the validation report), then
prints each constant that moved, old and new, and the row counts.
"""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from configurator.engine import validate
from configurator.engine.calibration import CONSTANTS_PATH, load_constants

MOVED = 0.005  # report constants that moved by more than half a percent


def _values() -> dict[str, float]:
    with CONSTANTS_PATH.open(encoding="utf-8") as handle:
        return {k: float(v) for k, v in json.load(handle).get("values", {}).items()}


def _rows() -> int | None:
    with CONSTANTS_PATH.open(encoding="utf-8") as handle:
        return (json.load(handle).get("validation") or {}).get("rows")


class Command(BaseCommand):
    help = "Refit the estimator's constants with approved user measurements; report changes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--in-sample",
            action="store_true",
            help="Skip the leave-one-source-out refits (faster; no error bands refreshed).",
        )
        parser.add_argument("--workers", type=int, default=2, help="Processes for the refits.")

    def handle(self, *args: Any, **options: Any) -> None:
        out = StringIO()
        call_command("export_measurements", stdout=out)
        self.stdout.write(out.getvalue().strip())
        before, rows_before = _values(), _rows()
        argv = ["--fit", "--quiet", "--workers", str(options["workers"])]
        if options["in_sample"]:
            argv.append("--in-sample")
        validate.main(argv)
        load_constants.cache_clear()
        after, rows_after = _values(), _rows()
        self.stdout.write("")
        self.stdout.write(f"Rows fitted: {rows_before} before, {rows_after} now.")
        moved = [
            (name, before.get(name), value)
            for name, value in sorted(after.items())
            if before.get(name) is None
            or abs(value - before[name]) > MOVED * max(abs(before[name]), 1e-12)
        ]
        if not moved:
            self.stdout.write("No constant moved by more than 0.5 %.")
        for name, old, new in moved:
            change = f"{(new / old - 1) * 100:+.1f} %" if old else "new"
            old_text = f"{old:.4g}" if old is not None else "—"
            self.stdout.write(f"  {name:42} {old_text:>10} → {new:<10.4g} {change}")
