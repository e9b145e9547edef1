"""What runs on a machine: every model with the best quantization that fits and meets the
speed target. Pure Python on the engine's dataclasses (no Django).

Quality order: until the catalogue carries measured quality loss per format, formats
are ranked by effective bits per weight (more bits, less loss) — a stand-in to be
replaced by the quality data when it lands (``quality_rank`` is the one place to change).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from configurator.engine import Estimate, Machine, ModelArch, Quant, Workload, estimate
from configurator.engine.engines import engine_profile

TIGHT_HEADROOM = 0.05  # under 5 % of the memory free: "tight"
FAST_TPS = 20.0  # reading speed and above: the "fast" band
QUALITY_BASIS = "bits per weight (stand-in until measured quality loss per format lands)"

RUNS = "runs"
TOO_SLOW = "too_slow"
NO_FIT = "does_not_fit"


MAX_USEFUL_BITS = 16.0  # 32-bit weights hold nothing a 16-bit model lacks
# Quality tiers by bits per weight: ~6 bits is the usual "no visible loss" point, 4-bit
# formats lose a little, 3-bit ones noticeably, below that a lot.
QUALITY_TIERS = ((5.5, "near lossless"), (3.9, "small loss"), (2.9, "noticeable loss"))


def quality_rank(quant: Quant) -> float:
    """Higher is better. Bits per weight for now (see the module docstring)."""
    return min(quant.bits_per_weight, MAX_USEFUL_BITS)


def quality_tier(quant: Quant) -> tuple[int, str]:
    """(0 best .. 3 worst, words) for a format, from :func:`quality_rank`."""
    rank = quality_rank(quant)
    for i, (bits, words) in enumerate(QUALITY_TIERS):
        if rank >= bits:
            return i, words
    return len(QUALITY_TIERS), "heavy loss"


def fit_grade(est: Estimate) -> tuple[str, float]:
    """("comfortable" | "tight" | "does not fit", headroom GB): headroom is the memory
    left over all devices that hold the model; tight is under 5 % of it."""
    capacity = sum(d.capacity_gb for d in est.memory if d.kind != "storage")
    used = sum(d.total_gb for d in est.memory if d.kind != "storage")
    headroom = capacity - used
    if not est.fits:
        return "does not fit", min(headroom, -est.missing_gb)
    if capacity > 0 and headroom < TIGHT_HEADROOM * capacity:
        return "tight", headroom
    return "comfortable", headroom


@dataclass(frozen=True)
class CanRunModel:
    """One model for the list: ``slug``, ``name``, ``uses``, ``arch``."""

    slug: str
    name: str
    arch: ModelArch
    uses: tuple[str, ...] = ()


@dataclass
class Answer:
    """A model on the machine: ``status`` runs / too_slow / does_not_fit; ``quant`` the
    best format that runs (for too_slow: the fastest that fits; for does_not_fit: the
    smallest tried); ``estimate`` its estimate; ``tried`` formats estimated."""

    model: CanRunModel
    status: str
    quant: Quant
    estimate: Estimate
    tried: int = 0
    fit: str = ""
    headroom_gb: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def speed_band(self) -> int:
        """0 fast, 1 meets the target, 2 too slow, 3 does not fit."""
        if self.status == NO_FIT:
            return 3
        if self.status == TOO_SLOW:
            return 2
        return 0 if self.estimate.decode_tokens_per_s >= FAST_TPS else 1

    def to_dict(self) -> dict[str, Any]:
        est = self.estimate
        return {
            "model": self.model.slug,
            "model_name": self.model.name,
            "uses": list(self.model.uses),
            "total_params_b": self.model.arch.total_params_b,
            "active_params_b": self.model.arch.active_params_b,
            "max_context": self.model.arch.max_context,
            "status": self.status,
            "quant": self.quant.name,
            "bits_per_weight": self.quant.bits_per_weight,
            "quality": quality_tier(self.quant)[1],
            "fits": est.fits,
            "fit": self.fit,
            "headroom_gb": self.headroom_gb,
            "decode_tokens_per_s": est.decode_tokens_per_s,
            "prefill_tokens_per_s": est.prefill_tokens_per_s,
            "time_to_first_token_s": est.time_to_first_token_s,
            "placement": est.placement,
            "engine": est.engine,
            "required_gb": est.required_gb,
            "bottleneck": est.bottleneck,
            "formats_tried": self.tried,
        }


def sort_key(answer: Answer) -> tuple:
    """Speed band first (fast, meets the target, too slow, does not fit), then quality:
    the format's quality tier, then bigger models first (parameters as the rough quality
    proxy across models), then the better format."""
    return (
        answer.speed_band,
        quality_tier(answer.quant)[0],
        -answer.model.arch.total_params_b,
        -quality_rank(answer.quant),
        answer.model.slug,
    )


def ladder(quants: Sequence[Quant], engine: str) -> list[Quant]:
    """Formats the engine loads, best quality first, one per bits-per-weight value."""
    profile = engine_profile(engine)
    seen: set[float] = set()
    out = []
    for quant in sorted(quants, key=lambda q: (quality_rank(q), q.name == "BF16"), reverse=True):
        if quant.bits_per_weight > MAX_USEFUL_BITS:
            continue
        if not profile.accepts(quant.family) or quant.bits_per_weight in seen:
            continue
        seen.add(quant.bits_per_weight)
        out.append(quant)
    return out


def best_for(
    machine: Machine,
    model: CanRunModel,
    formats: Sequence[Quant],
    workload: Workload,
    engine: str,
    min_tps: float,
) -> Answer | None:
    """The best format of ``formats`` (best first) that fits and reaches ``min_tps``.

    Smaller formats are never slower and never need more memory, so the formats that
    pass are a tail of the list: a binary search finds the first one in a handful of
    estimates. None when the engine refuses every format."""
    cache: dict[int, Estimate | None] = {}

    def run(i: int) -> Estimate | None:
        if i not in cache:
            try:
                cache[i] = estimate(machine, model.arch, formats[i], workload, engine=engine)
            except ValueError:
                cache[i] = None
        return cache[i]

    def ok(i: int) -> bool:
        est = run(i)
        return est is not None and est.fits and est.decode_tokens_per_s >= min_tps

    low, high = 0, len(formats)
    while low < high:
        mid = (low + high) // 2
        if ok(mid):
            high = mid
        else:
            low = mid + 1
    if low < len(formats):
        return _answer(model, RUNS, formats[low], run(low), len(cache))
    # Nothing meets the target: the smallest format says whether it fits at all.
    last = len(formats) - 1
    est = run(last) if formats else None
    if est is None:
        return None
    if est.fits:
        return _answer(model, TOO_SLOW, formats[last], est, len(cache))
    return _answer(model, NO_FIT, formats[last], est, len(cache))


def _answer(model: CanRunModel, status: str, quant: Quant, est: Estimate, tried: int) -> Answer:
    fit, headroom = fit_grade(est)
    return Answer(model, status, quant, est, tried, fit, headroom)


def can_run(
    machine: Machine,
    models: Sequence[CanRunModel],
    quants: Sequence[Quant],
    workload_for: Callable[[CanRunModel], Workload],
    engine: str = "llama.cpp",
    min_tps: float = 5.0,
) -> list[Answer]:
    """Every model's :class:`Answer`, sorted by :func:`sort_key`."""
    formats = ladder(quants, engine)
    answers = []
    for model in models:
        answer = best_for(machine, model, formats, workload_for(model), engine, min_tps)
        if answer is not None:
            answers.append(answer)
    return sorted(answers, key=sort_key)
