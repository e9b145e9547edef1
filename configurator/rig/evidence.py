"""Approved user measurements as an estimate's evidence.

An estimate's ``evidence`` lists the nearest published measurements (the engine reads
them from the validation report). Once an admin approves a measurement a user pasted,
it joins that list for estimates of the same model on the same hardware: the same GPUs
in the same numbers (a used card counts as its new twin), the same complete system, or,
without GPUs, the same CPU. Each row reads like a published one (setup, test, measured,
what RigRank predicted when it was submitted, date) and links to the rig page that
lists it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from configurator.rig.models import UserMeasurement

MAX_USER_ROWS = 5
USED = "-used"


def _same_part(slug: str) -> str:
    return slug[: -len(USED)] if slug.endswith(USED) else slug


def hardware_key(parts: Iterable[tuple[str, str, int]]) -> tuple | None:
    """What must match, from ``(kind, slug, count)`` triples: the GPUs with their counts,
    else the complete system, else the CPU; None when nothing identifies the machine."""
    parts = [(kind, _same_part(slug), count) for kind, slug, count in parts if slug]
    gpus: dict[str, int] = {}
    for kind, slug, count in parts:
        if kind == "gpu":
            gpus[slug] = gpus.get(slug, 0) + count
    if gpus:
        return ("gpu", tuple(sorted(gpus.items())))
    for wanted in ("system", "cpu"):
        found = sorted(slug for kind, slug, _ in parts if kind == wanted)
        if found:
            return (wanted, tuple(found))
    return None


def _key_of(measurement: UserMeasurement) -> tuple | None:
    return hardware_key(
        (h.get("kind", ""), h.get("slug", ""), int(h.get("count") or 1))
        for h in measurement.hardware
    )


def user_evidence(parts: Iterable[tuple[str, str, int]], model_slug: str) -> list[dict[str, Any]]:
    """Evidence rows (the keys of a published one) from approved measurements of
    ``model_slug`` on the hardware ``parts`` describe, newest approval first."""
    key = hardware_key(parts)
    if key is None or not model_slug:
        return []
    approved = UserMeasurement.objects.filter(
        status=UserMeasurement.Status.APPROVED, model_slug=model_slug
    ).order_by("-reviewed_at", "-pk")
    out: list[dict[str, Any]] = []
    for m in approved:
        if _key_of(m) != key:
            continue
        date = (m.reviewed_at or m.created_at).date().isoformat()
        link = "/rig/?" + m.hardware_query
        for i, row in enumerate(m.rows, 1):
            predicted = row.get("estimated")
            out.append(
                {
                    "id": f"rigrank-user-{m.pk}-{i}",
                    "metric": row.get("metric", ""),
                    "setup": f"{m.hardware_label}, {m.model_name} {m.quant} (user measurement)",
                    "measured": round(float(row["tokens_per_s"]), 2),
                    "predicted": round(float(predicted), 2) if predicted is not None else None,
                    "held_out": None,
                    "unit": "tokens/s",
                    "source": link,
                    "date": date,
                    "engine": row.get("tool") or m.tool,
                    "test": row.get("test"),
                    "distance": 0.0,
                }
            )
            if len(out) >= MAX_USER_ROWS:
                return out
    return out


def with_user_evidence(
    estimate: dict[str, Any] | None, parts: Iterable[tuple[str, str, int]], model_slug: str
) -> None:
    """Put the approved user rows first in ``estimate["evidence"]`` (in place)."""
    if not estimate:
        return
    rows = user_evidence(parts, model_slug)
    if rows:
        estimate["evidence"] = rows + list(estimate.get("evidence") or [])
