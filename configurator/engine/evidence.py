"""The evidence behind an estimate: the nearest published measurements.

``make validate`` writes ``calibration/validation.json``: every calibration row with its
hardware, model, quant, engine, measured value, the engine's prediction (with the stored
constants) and its leave-one-source-out prediction, plus the summary tables. This module
reads it once and, for an estimate, ranks the rows by how alike their setup is (same
card or the same kind of memory at a similar bandwidth, a model of similar size and
family, a similar bits per weight, the same engine) and returns the closest five.
"""

from __future__ import annotations

import heapq
import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import devices
from .engines import EngineProfile
from .hardware import Machine
from .model import ModelArch
from .quant import Quant
from .workload import Workload

VALIDATION_PATH = Path(__file__).parent / "calibration" / "validation.json"
EVIDENCE_ROWS = 5
_NAME_NOISE = re.compile(r"\b(nvidia|geforce|amd|radeon|intel|apple)\b|[^a-z0-9 ]")


def normalise_name(name: str) -> str:
    """A device name without vendor words and punctuation, for matching."""
    return " ".join(_NAME_NOISE.sub(" ", name.lower()).split())


@lru_cache(maxsize=1)
def validation_data() -> dict[str, Any]:
    """The stored validation report (empty when ``make validate`` has not written one)."""
    if not VALIDATION_PATH.exists():
        return {"rows": [], "summary": {}}
    with VALIDATION_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=1)
def _rows() -> tuple[tuple[dict[str, Any], tuple], ...]:
    """Rows with precomputed matching features."""
    prepared = []
    for row in validation_data().get("rows", []):
        if row.get("metric") not in ("decode", "prefill", "batched_decode"):
            continue
        hw = row.get("hardware_key") or {}
        features = (
            hw.get("kind", ""),
            frozenset(hw.get("names", ())),
            hw.get("memory_class", ""),
            math.log(max(hw.get("bandwidth_gbs") or 1.0, 1.0)),
            math.log(max(row.get("active_params_b") or 1.0, 0.01)),
            math.log(max(row.get("total_params_b") or 1.0, 0.01)),
            float(row.get("bits_per_weight") or 16),
            row.get("engine_key", ""),
            (row.get("model") or "").lower().split(" ")[0],
        )
        prepared.append((row, features))
    return tuple(prepared)


def hardware_key(machine: Machine) -> dict[str, Any]:
    """What matching needs to know about a machine: its kind (gpu, offload, cpu,
    unified), device names, memory class of its fastest pool and that pool's bandwidth."""
    if machine.unified is not None:
        u = machine.unified
        return {
            "kind": "unified",
            "names": [normalise_name(u.name)],
            "memory_class": devices.unified_class(u),
            "bandwidth_gbs": u.bandwidth_gbs,
        }
    if machine.gpus:
        gpu = machine.gpus[0].gpu
        return {
            "kind": "gpu" if machine.gpu_count == 1 else "multi-gpu",
            "names": sorted({normalise_name(g.gpu.name) for g in machine.gpus}),
            "memory_class": devices.gpu_memory_class(gpu),
            "bandwidth_gbs": gpu.bandwidth_gbs,
        }
    cpu = machine.cpu
    assert cpu is not None
    return {
        "kind": "cpu",
        "names": [normalise_name(cpu.name)],
        "memory_class": "cpu",
        "bandwidth_gbs": cpu.bandwidth_gbs,
    }


def _distance(features: tuple, target: tuple) -> float:
    kind, names, memory, log_bw, log_active, log_total, bits, engine, family = features
    t_kind, t_names, t_memory, t_bw, t_active, t_total, t_bits, t_engine, t_family = target
    d = 0.0 if names & t_names else (0.7 if memory == t_memory else 1.5)
    d += 0.0 if kind == t_kind else 1.0
    d += abs(log_bw - t_bw)
    d += 0.8 * abs(log_active - t_active) + 0.4 * abs(log_total - t_total)
    d += abs(bits - t_bits) / 6
    d += 0.0 if engine == t_engine else 0.6
    d += 0.0 if family == t_family else 0.2
    return d


def query_for(
    machine: Machine,
    model: ModelArch,
    quant: Quant,
    engine: EngineProfile,
    workload: Workload | None = None,
) -> tuple:
    """The few numbers :func:`nearest` matches on (cheap to keep with every estimate)."""
    hw = hardware_key(machine)
    return (
        hw["kind"],
        frozenset(hw["names"]),
        hw["memory_class"],
        math.log(max(hw["bandwidth_gbs"], 1.0)),
        math.log(max(model.active_params_b, 0.01)),
        math.log(max(model.total_params_b, 0.01)),
        float(quant.bits_per_weight),
        engine.name,
        model.name.lower().split(" ")[0],
        workload is not None and workload.concurrent_sequences > 1,
    )


@lru_cache(maxsize=4096)
def nearest_for(query: tuple, count: int = EVIDENCE_ROWS) -> tuple[dict[str, Any], ...]:
    """Up to ``count`` published measurements nearest the setup ``query`` describes
    (see :func:`query_for`), nearest first: each with what was measured, the engine's
    prediction for it, the source link and date."""
    rows = _rows()
    if not query or not rows:
        return ()
    target, batched = query[:-1], query[-1]
    scored = []
    for row, features in rows:
        if row["metric"] == "batched_decode" and not batched:
            continue
        scored.append((_distance(features, target), row["id"], row))
    best = heapq.nsmallest(count, scored, key=lambda item: (item[0], item[1]))
    return tuple(_public(row, distance) for distance, _, row in best)


def nearest(
    machine: Machine,
    model: ModelArch,
    quant: Quant,
    engine: EngineProfile,
    workload: Workload | None = None,
    count: int = EVIDENCE_ROWS,
) -> tuple[dict[str, Any], ...]:
    """The published measurements nearest this setup (see :func:`nearest_for`)."""
    return nearest_for(query_for(machine, model, quant, engine, workload), count)


def _public(row: dict[str, Any], distance: float) -> dict[str, Any]:
    keys = (
        "id",
        "metric",
        "setup",
        "measured",
        "predicted",
        "held_out",
        "unit",
        "source",
        "date",
        "engine",
        "test",
    )
    item = {key: row.get(key) for key in keys}
    item["distance"] = round(distance, 3)
    return item
