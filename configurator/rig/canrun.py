"""What runs on a machine: every model with the best quantization that fits and meets the
speed target. Pure Python on the engine's dataclasses (no Django).

Quality order: each format's measured quality loss (mean KL divergence from the 16-bit
model, ``configurator.engine.quality``); formats nobody measured are placed by their
bits on the curve of the measured ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from configurator.engine import Estimate, Machine, ModelArch, Quant, Workload, estimate
from configurator.engine.engines import engine_profile
from configurator.engine.quality import QuantChoice, rank_by_quality

TIGHT_HEADROOM = 0.05  # under 5 % of the memory free: "tight"
FAST_TPS = 20.0  # reading speed and above: the "fast" band
QUALITY_BASIS = (
    "measured quality loss (mean KL divergence from the 16-bit model); formats without a "
    "measurement placed by their bits"
)

RUNS = "runs"
TOO_SLOW = "too_slow"
NO_FIT = "does_not_fit"


MAX_USEFUL_BITS = 16.0  # 32-bit weights hold nothing a 16-bit model lacks
# Quality tiers by mean KL divergence from 16-bit (nats): Q8_0 and Q6_K sit under 0.01,
# the 4- and 5-bit K-quants under 0.05, 3-bit formats under 0.2, 2-bit and below above.
QUALITY_TIERS = ((0.01, "near lossless"), (0.05, "small loss"), (0.2, "noticeable loss"))


def quality_tier(mean_kld: float) -> tuple[int, str]:
    """(0 best .. 3 worst, words) for a format's quality loss."""
    for i, (limit, words) in enumerate(QUALITY_TIERS):
        if mean_kld < limit:
            return i, words
    return len(QUALITY_TIERS), "heavy loss"


def fit_grade(est: Estimate) -> tuple[str, float]:
    """("comfortable" | "tight" | "does not fit", headroom GB): headroom is the memory
    left over all devices that hold the model; tight is under 5 % of it."""
    # Devices that hold part of the model (an idle host's free RAM is no headroom).
    holding = [
        d for d in est.memory if d.kind != "storage" and (d.weights_gb > 0 or d.kv_cache_gb > 0)
    ]
    capacity = sum(d.capacity_gb for d in holding)
    used = sum(d.total_gb for d in holding)
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
    choice: QuantChoice
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

    @property
    def quant(self) -> Quant:
        return self.choice.quant

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
            "quality": quality_tier(self.choice.mean_kld)[1],
            "mean_kld": self.choice.mean_kld,
            "quality_basis": self.choice.basis,
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
    proxy across models), then the smaller loss."""
    return (
        answer.speed_band,
        quality_tier(answer.choice.mean_kld)[0],
        -answer.model.arch.total_params_b,
        answer.choice.mean_kld,
        answer.model.slug,
    )


def ladder(reference: ModelArch, quants: Sequence[Quant], engine: str) -> list[QuantChoice]:
    """Formats the engine loads, least quality loss first, keeping only those no better
    format beats on size (bits per weight): down the list every format is smaller, so
    "fits and fast enough" holds for a tail of it. Quality loss does not depend on the
    model; ``reference`` only sizes the choices (compute the ladder once, reuse it)."""
    profile = engine_profile(engine)
    usable = [
        q for q in quants if profile.accepts(q.family) and q.bits_per_weight <= MAX_USEFUL_BITS
    ]
    out: list[QuantChoice] = []
    for choice in rank_by_quality(reference, usable):
        if out and choice.quant.bits_per_weight >= out[-1].quant.bits_per_weight:
            continue  # as big as a better format: never the answer
        out.append(choice)
    return out


def best_for(
    machine: Machine,
    model: CanRunModel,
    formats: Sequence[QuantChoice],
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
                cache[i] = estimate(machine, model.arch, formats[i].quant, workload, engine=engine)
            except ValueError:
                cache[i] = None
        return cache[i]

    def ok(i: int) -> bool:
        est = run(i)
        return est is not None and est.fits and est.decode_tokens_per_s >= min_tps

    # Formats the machine cannot hold, or cannot read fast enough even at its summed
    # bandwidth, are skipped without an estimate (with a margin: the bounds use bits per
    # weight, the estimate the real file layout). The first plausible format is tried
    # first: most models either run at their best format or not near it.
    low = _first_plausible(machine, model.arch, formats, min_tps)
    high = len(formats)
    if low < high and ok(low):
        high = low
    else:
        low += 1
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


BOUND_MARGIN = 1.25


def machine_capacity_bytes(machine: Machine) -> float:
    """All memory a model could use: VRAM, system RAM, unified memory."""
    total = sum(g.gpu.capacity_bytes * g.count for g in machine.gpus)
    if machine.cpu is not None:
        total += machine.cpu.capacity_bytes
    if machine.unified is not None:
        total += machine.unified.capacity_bytes
    return total


def machine_bandwidth_gbs(machine: Machine) -> float:
    """Every device's peak bandwidth added up: no placement reads faster."""
    total = sum(g.gpu.bandwidth_gbs * g.count for g in machine.gpus)
    if machine.cpu is not None:
        total += machine.cpu.bandwidth_gbs
    if machine.unified is not None:
        total += machine.unified.bandwidth_gbs
    return total


def _first_plausible(
    machine: Machine, arch: ModelArch, formats: Sequence[QuantChoice], min_tps: float
) -> int:
    capacity = machine_capacity_bytes(machine) * BOUND_MARGIN
    bandwidth = machine_bandwidth_gbs(machine) * 1e9 * BOUND_MARGIN
    for i, choice in enumerate(formats):
        bytes_per_weight = choice.quant.bits_per_weight / 8
        weights = arch.total_params_b * 1e9 * bytes_per_weight
        per_token = max(arch.active_params_b, 1e-3) * 1e9 * bytes_per_weight
        if weights <= capacity and bandwidth / per_token >= min_tps:
            return i
    return len(formats)


def _answer(
    model: CanRunModel, status: str, choice: QuantChoice, est: Estimate, tried: int
) -> Answer:
    fit, headroom = fit_grade(est)
    return Answer(model, status, choice, est, tried, fit, headroom)


def can_run(
    machine: Machine,
    models: Sequence[CanRunModel],
    formats: Sequence[QuantChoice],
    workload_for: Callable[[CanRunModel], Workload],
    engine: str = "llama.cpp",
    min_tps: float = 5.0,
) -> list[Answer]:
    """Every model's :class:`Answer` over ``formats`` (a :func:`ladder`), sorted by
    :func:`sort_key`."""
    answers = []
    for model in models:
        answer = best_for(machine, model, formats, workload_for(model), engine, min_tps)
        if answer is not None:
            answers.append(answer)
    return sorted(answers, key=sort_key)
