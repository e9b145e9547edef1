"""Chart.js configurations as plain dicts; templates print them with ``json_script`` and
static/js/rigrank.js draws them. Every chart also has its numbers in a table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Colour-blind-safe palette (Okabe–Ito), dark enough for text contrast on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def _axis(title: str, *, begin_at_zero: bool = True, stacked: bool = False) -> dict[str, Any]:
    return {
        "beginAtZero": begin_at_zero,
        "stacked": stacked,
        "title": {"display": True, "text": title},
    }


def bar(labels: Sequence[str], values: Sequence[float], unit: str, label: str = "") -> dict:
    return {
        "type": "bar",
        "data": {
            "labels": list(labels),
            "datasets": [
                {"label": label or unit, "data": list(values), "backgroundColor": PALETTE[0]}
            ],
        },
        "options": {"plugins": {"legend": {"display": False}}, "scales": {"y": _axis(unit)}},
    }


def stacked_bar(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    unit: str,
    *,
    horizontal: bool = False,
) -> dict:
    """One bar per label, split into the named series."""
    datasets = [
        {"label": name, "data": list(values), "backgroundColor": PALETTE[i % len(PALETTE)]}
        for i, (name, values) in enumerate(series)
    ]
    value_axis, label_axis = ("x", "y") if horizontal else ("y", "x")
    return {
        "type": "bar",
        "data": {"labels": list(labels), "datasets": datasets},
        "options": {
            "indexAxis": "y" if horizontal else "x",
            "scales": {value_axis: _axis(unit, stacked=True), label_axis: {"stacked": True}},
        },
    }


def line(
    labels: Sequence[Any],
    series: Sequence[tuple[str, Sequence[float | None]]],
    x_title: str,
    y_title: str,
) -> dict:
    datasets = [
        {
            "label": name,
            "data": list(values),
            "borderColor": PALETTE[i % len(PALETTE)],
            "backgroundColor": PALETTE[i % len(PALETTE)],
            "tension": 0.2,
            "spanGaps": True,
        }
        for i, (name, values) in enumerate(series)
    ]
    return {
        "type": "line",
        "data": {"labels": [str(x) for x in labels], "datasets": datasets},
        "options": {
            "scales": {"x": {"title": {"display": True, "text": x_title}}, "y": _axis(y_title)}
        },
    }


def multi_price_history(by_retailer: dict[str, list[tuple[str, float]]]) -> dict:
    """Observed prices over time, one stepped line per retailer: ``by_retailer`` maps a
    label to (ISO date, amount) points in date order. Dates are merged onto one axis."""
    days = sorted({day for points in by_retailer.values() for day, _ in points})
    datasets = []
    for i, (name, points) in enumerate(by_retailer.items()):
        latest = {day: amount for day, amount in points}
        datasets.append(
            {
                "label": name,
                "data": [latest.get(day) for day in days],
                "borderColor": PALETTE[i % len(PALETTE)],
                "backgroundColor": PALETTE[i % len(PALETTE)],
                "stepped": True,
                "spanGaps": True,
                "pointRadius": 3,
            }
        )
    return {
        "type": "line",
        "data": {"labels": days, "datasets": datasets},
        "options": {
            "plugins": {"legend": {"display": len(datasets) > 1}},
            "scales": {"y": _axis("price", begin_at_zero=False)},
        },
    }


def scatter_log(points: Sequence[tuple[float, float]], unit: str, label: str) -> dict:
    """Predicted (x) against measured (y) on log axes, with the line where they agree."""
    values = [v for point in points for v in point if v > 0]
    low, high = (min(values), max(values)) if values else (1.0, 10.0)
    return {
        "type": "scatter",
        "data": {
            "datasets": [
                {
                    "label": label,
                    "data": [{"x": x, "y": y} for x, y in points],
                    "backgroundColor": PALETTE[0],
                },
                {
                    "label": "predicted = measured",
                    "type": "line",
                    "data": [{"x": low, "y": low}, {"x": high, "y": high}],
                    "borderColor": PALETTE[1],
                    "pointRadius": 0,
                },
            ]
        },
        "options": {
            "scales": {
                "x": {
                    "type": "logarithmic",
                    "title": {"display": True, "text": f"predicted, {unit}"},
                },
                "y": {
                    "type": "logarithmic",
                    "title": {"display": True, "text": f"measured, {unit}"},
                },
            }
        },
    }
