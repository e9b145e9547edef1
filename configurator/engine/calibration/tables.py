"""The validation report as Markdown tables, for the READMEs.

    python -m configurator.engine.calibration.tables            # the summary table
    python -m configurator.engine.calibration.tables --categories decode prefill
    python -m configurator.engine.calibration.tables --constants  # the stored constants

Reads ``calibration/validation.json`` as ``make validate`` last wrote it, so the figures in
the READMEs are the ones the ``/accuracy/`` page shows; nothing is recomputed here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..evidence import VALIDATION_PATH
from . import PARAMETERS, Constants, Parameter, load_constants

VIEWS = (
    ("in_sample", "in sample"),
    ("leave_one_source_out", "leave one source out"),
    ("time_split", "time split (≤ {year} → later)"),
)
METRIC_LABELS = {
    "decode": "decode tokens/s",
    "prefill": "prefill tokens/s",
    "batched_decode": "batched aggregate tokens/s",
    "spec_decode": "speculative decode tokens/s",
    "power": "power (W)",
    "train_tokens_per_s": "training tokens/s",
    "train_peak_memory": "training peak memory",
}


def cell(stats: dict[str, Any] | None) -> str:
    """``median % / p90 % (rows)``, or ``no rows``."""
    if not stats or not stats.get("rows"):
        return "no rows"
    return f"{stats['median']:.1f} % / {stats['p90']:.1f} % ({stats['rows']})"


def target(targets: dict[str, list], metric: str) -> str:
    median, p90 = targets.get(metric) or (None, None)
    if median is None:
        return "—"
    if p90 is None:
        return f"median ≤ {median * 100:.0f} %"
    return f"≤ {median * 100:.0f} % / ≤ {p90 * 100:.0f} %"


def summary_table(report: dict[str, Any]) -> str:
    """Every metric's overall median / p90 absolute error per view, and its target."""
    summary = report["summary"]
    views = [
        (key, label.format(year=report["split_year"])) for key, label in VIEWS if key in summary
    ]
    head = "| metric | " + " | ".join(label for _, label in views) + " | target |"
    lines = [head, "|---" * (len(views) + 2) + "|"]
    for metric, label in METRIC_LABELS.items():
        cells = [cell(summary.get(key, {}).get(metric, {}).get("overall")) for key, _ in views]
        lines.append(
            f"| {label} | " + " | ".join(cells) + f" | {target(report['targets'], metric)} |"
        )
    return "\n".join(lines)


def category_table(report: dict[str, Any], metric: str) -> str:
    """One metric's error per category in every view."""
    summary = report["summary"]
    views = [
        (key, label.format(year=report["split_year"])) for key, label in VIEWS if key in summary
    ]
    categories = sorted(
        {c for key, _ in views for c in summary.get(key, {}).get(metric, {}) if c != "overall"}
    )
    lines = [
        f"| {METRIC_LABELS.get(metric, metric)} | " + " | ".join(lab for _, lab in views) + " |",
        "|---" * (len(views) + 1) + "|",
    ]
    for category in [*categories, "overall"]:
        cells = [cell(summary.get(key, {}).get(metric, {}).get(category)) for key, _ in views]
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value: float) -> str:
    return f"{value:.3g}"


def constants_table(constants: Constants) -> str:
    """The stored constants grouped by name (the part before the first dot), each member
    with its value, the group's bounds, and whether the fit set it or it kept its default."""
    groups: dict[str, list[Parameter]] = {}
    for p in PARAMETERS:
        groups.setdefault(p.name.split(".", 1)[0], []).append(p)
    lines = ["| constant | values (* = documented default, not fitted) | bounds |", "|---|---|---|"]
    for group, members in groups.items():
        cells = []
        for p in members:
            label = p.name.split(".", 1)[1] if "." in p.name else ""
            mark = "" if p.name in constants.fitted else "*"
            value = _number(constants[p.name]) + mark
            cells.append(f"{label} {value}".strip())
        bounds = sorted({f"{_number(p.low)}–{_number(p.high)}" for p in members})
        lines.append(f"| `{group}` | " + ", ".join(cells) + " | " + "; ".join(bounds) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=VALIDATION_PATH)
    parser.add_argument("--categories", nargs="*", default=[], help="metrics to break down")
    parser.add_argument("--constants", action="store_true", help="print the constants table")
    options = parser.parse_args(argv)
    if options.constants:
        print(constants_table(load_constants()))
        return 0
    report = json.loads(options.report.read_text(encoding="utf-8"))
    print(
        f"{len(report['rows'])} rows from {report['sources']} sources, "
        f"{len(report['skipped'])} skipped\n"
    )
    print(summary_table(report))
    for metric in options.categories:
        print()
        print(category_table(report, metric))
    return 0


if __name__ == "__main__":
    sys.exit(main())
