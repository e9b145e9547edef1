"""``python manage.py export_measurements``: write every approved user measurement as
calibration rows (schema v2) to ``configurator/engine/calibration/measurements/
rig-user-approved.json`` (or ``--out``), where the calibration loader reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from configurator.rig.measure import approved_calibration_rows

DEFAULT_OUT = (
    Path(__file__).resolve().parents[2]
    / "engine"
    / "calibration"
    / "measurements"
    / "rig-user-approved.json"
)


class Command(BaseCommand):
    help = "Write approved user measurements as v2 calibration rows (for make calibrate)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", default=str(DEFAULT_OUT), help="File to write.")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = approved_calibration_rows()
        out = Path(options["out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
        self.stdout.write(f"{len(rows)} approved row(s) written to {out}")
