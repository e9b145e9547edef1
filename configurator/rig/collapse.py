"""Near-identical builds shown once: the same design (architecture, GPUs and their count,
CPU, memory size) at a price within a few percent collapse into the first of them, which
then says "and N similar"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

PRICE_WITHIN = Decimal("0.05")


def _base(slug: str) -> str:
    return slug[:-5] if slug.endswith("-used") else slug


def design_of(build: dict[str, Any]) -> tuple:
    lines = build.get("lines") or []
    gpus = tuple(sorted((_base(ln["slug"]), ln["qty"]) for ln in lines if ln["kind"] == "gpu"))
    cpus = tuple(sorted((_base(ln["slug"]), ln["qty"]) for ln in lines if ln["kind"] == "cpu"))
    system = tuple(sorted(_base(ln["slug"]) for ln in lines if ln["kind"] == "system"))
    return (build.get("architecture"), gpus, cpus, system)


def collapse(builds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``builds`` with near-identical ones folded into ``similar`` of the first."""
    kept: list[dict[str, Any]] = []
    for build in builds:
        total = Decimal(str(build["total"])) if build.get("total") is not None else None
        twin = None
        for first in kept:
            if design_of(first) != design_of(build) or total is None:
                continue
            base = Decimal(str(first["total"]))
            if base and abs(total - base) / base <= PRICE_WITHIN:
                twin = first
                break
        if twin is None:
            build.setdefault("similar", [])
            kept.append(build)
        else:
            twin["similar"].append(build)
    return kept
