"""The /accuracy/ page: the validation tables and predicted-vs-measured scatter plots,
from the same report ``make validate`` writes (calibration/validation.json)."""

from __future__ import annotations

from typing import Any

from configurator import charts
from configurator.engine.evidence import validation_data

VIEWS = (
    ("leave_one_source_out", "Leave one source out (each refit from the documented defaults)"),
    ("time_split", "Time split (fit from the defaults on rows up to {year}, predict later rows)"),
    ("in_sample", "In sample"),
)
METRIC_NAMES = {
    "decode": "Single-stream decode",
    "prefill": "Prompt processing",
    "batched_decode": "Batched decode (aggregate)",
    "power": "Power",
    "train_tokens_per_s": "Fine-tuning tokens/s",
    "train_peak_memory": "Fine-tuning peak memory",
    "spec_decode": "Speculative decoding",
}


def _targets(data: dict[str, Any], metric: str) -> str:
    median, p90 = (data.get("targets") or {}).get(metric, (None, None))
    parts = []
    if median:
        parts.append(f"median ≤ {median:.0%}")
    if p90:
        parts.append(f"p90 ≤ {p90:.0%}")
    return ", ".join(parts)


def accuracy_context() -> dict[str, Any]:
    """Tables per view and metric, and one scatter chart per metric (held-out values)."""
    data = validation_data()
    summary = data.get("summary") or {}
    year = data.get("split_year", 2024)
    views = []
    for key, title in VIEWS:
        metrics = []
        for metric, groups in (summary.get(key) or {}).items():
            rows = [{"category": name, **figures} for name, figures in groups.items()]
            metrics.append(
                {
                    "metric": metric,
                    "name": METRIC_NAMES.get(metric, metric),
                    "target": _targets(data, metric),
                    "rows": rows,
                }
            )
        views.append({"key": key, "title": title.format(year=year), "metrics": metrics})
    scatters = []
    for metric, name in METRIC_NAMES.items():
        rows = [r for r in data.get("rows", []) if r["metric"] == metric]
        points = [(r["held_out"] or r["predicted"], r["measured"]) for r in rows if r["measured"]]
        if points:
            unit = rows[0]["unit"]
            scatters.append(
                {
                    "id": f"chart-accuracy-{metric}",
                    "name": name,
                    "count": len(points),
                    "chart": charts.scatter_log(points, unit, f"{name} ({len(points)} rows)"),
                }
            )
    return {
        "views": views,
        "scatters": scatters,
        "rows": data.get("rows", []),
        "sources": data.get("sources", 0),
        "skipped": data.get("skipped", []),
    }
