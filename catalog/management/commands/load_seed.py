"""Load the seed catalogue shipped in the repository (run by ``make setup``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.serialization import Batch, CatalogError, load

DEFAULT_SEED_DIR = Path(__file__).resolve().parents[2] / "seed"


def read_json_list(path: Path, base: Path) -> list[Any]:
    """The JSON list in ``path``; a clear error naming the file otherwise."""
    label = path.relative_to(base).as_posix()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{label}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from exc
    if not isinstance(data, list):
        raise CommandError(f"{label}: must hold a JSON list of rows, not {type(data).__name__}")
    return data


def seed_batches(seed_dir: Path) -> list[Batch]:
    """parts/*.json, llm_models.json (+ llm_models/*.json) and quant_formats.json (+
    quant_formats/*.json) under ``seed_dir``, in that order; missing files are skipped."""
    batches = [
        Batch("parts", path.relative_to(seed_dir).as_posix(), read_json_list(path, seed_dir))
        for path in sorted((seed_dir / "parts").glob("*.json"))
    ]
    for section in ("llm_models", "quant_formats"):
        # One file (llm_models.json) and/or a folder of them (llm_models/*.json).
        paths = [seed_dir / f"{section}.json", *sorted((seed_dir / section).glob("*.json"))]
        batches.extend(
            Batch(section, path.relative_to(seed_dir).as_posix(), read_json_list(path, seed_dir))
            for path in paths
            if path.exists()
        )
    return batches


class Command(BaseCommand):
    help = (
        "Load the seed catalogue (parts/*.json, llm_models.json, quant_formats.json). "
        "Idempotent: rows are matched by slug (quant formats by name and applies_to) and "
        "only changed rows are written. A row an admin edited since the seed last wrote it "
        "keeps the edit and is listed as a conflict (--overwrite takes the seed's values "
        "instead). Every row is validated first; if any row is bad "
        "each problem is listed by file, row number and field, and nothing is loaded. "
        "Reference prices in part rows are left to the pricing app (load_seed_prices)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed-dir",
            type=Path,
            default=DEFAULT_SEED_DIR,
            help="Directory holding parts/, llm_models.json and quant_formats.json "
            "(default: catalog/seed).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and report, write nothing."
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="Write the seed's values even over rows an admin edited since the last load.",
        )

    def handle(
        self, *args: Any, seed_dir: Path, dry_run: bool, overwrite: bool = False, **options: Any
    ) -> None:
        seed_dir = seed_dir.resolve()
        if not seed_dir.is_dir():
            raise CommandError(f"Seed directory {seed_dir} does not exist.")
        batches = seed_batches(seed_dir)
        if not batches:
            self.stdout.write(f"No seed files in {seed_dir}; nothing to load.")
            return
        try:
            report = load(batches, dry_run=dry_run, seed=True, overwrite=overwrite)
        except CatalogError as exc:
            raise CommandError(
                f"{len(exc.errors)} problem(s) in the seed catalogue; nothing was loaded.\n"
                + "\n".join(f"  {e}" for e in exc.errors)
            ) from exc
        prefix = "Dry run, nothing written. " if dry_run else ""
        files = ", ".join(b.label for b in batches)
        self.stdout.write(f"{prefix}Seed catalogue from {files}: {report}.")
        if report.conflicts:
            self.stdout.write(
                f"Kept {len(report.conflicts)} row(s) edited since the seed last wrote them "
                "(the seed holds other values; `load_seed --overwrite` takes the seed's):"
            )
            for where in report.conflicts:
                self.stdout.write(f"  {where}")
            if any(w.endswith("(loaded before edits were tracked)") for w in report.conflicts):
                self.stdout.write(
                    "Rows loaded before edits were tracked have no record of what the seed "
                    "wrote; if nobody edited them, `load_seed --overwrite` once takes the seed's "
                    "values and tracks them from then on."
                )
