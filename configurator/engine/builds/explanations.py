"""Stage 4 of the search: what the ranking alone would not say.

- **Near misses**: excluded builds with the reason (one GPU fewer than the cheapest GPU
  builds, unified systems just too small, and per architecture the build that misses
  only memory, only speed, only power or only the budget).
- **Relaxations**, when nothing qualifies: which constraint to relax, and to what (each
  from a search with that constraint lifted).
- **Trade-offs** outside the targets: :mod:`.tradeoffs`.
- **Notes** on what the search could not do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .assembly import fmt_money
from .candidates import Candidate, CandidateState, gpu_stub, unified_stubs
from .parts import GpuPart
from .ranking import stream
from .result import Build, NearMiss, Relaxation
from .tradeoffs import TradeOff, trade_offs

if TYPE_CHECKING:
    from .search import Search

__all__ = ["TradeOff", "near_misses", "notes", "relaxations", "trade_offs"]

# Most builds of one architecture tried when looking for one that misses only the budget.
OVER_BUDGET_TRIES = 3


# Near misses ---------------------------------------------------------------------------


def near_misses(search: Search, ranked: Sequence[Build]) -> list[NearMiss]:
    """Builds left out, and why (cheapest first; at most ``max(limit, 3)``)."""
    shown = {b.key for b in ranked}
    misses: dict[str, Build] = {}

    def add(build: Build | None) -> None:
        if build is None:
            return
        if build.key not in shown and build.shortfalls and build.compatible:
            misses.setdefault(build.key, build)

    for build in fewer_gpus(search):
        add(build)
    for build in too_small_systems(search):
        add(build)
    by_arch: dict[str, list[Candidate]] = {}
    for cand in search.stubs():
        by_arch.setdefault(cand.arch, []).append(cand)
    for group in by_arch.values():
        for build in closest_misses(search, group):
            add(build)
    ordered = sorted(misses.values(), key=lambda b: (b.total or 0, b.key))
    kept = search.verify(ordered[: max(search.request.limit, 3)])
    return [NearMiss(b) for b in kept]


def fewer_gpus(search: Search) -> list[Build]:
    """One GPU fewer than the four cheapest GPU builds that hold the model."""
    held = [
        c
        for c in search.stubs()
        if c.gpu_only and len(c.gpus) == 1 and c.build is not None and c.build.meets_targets
    ]
    held.sort(key=lambda c: c.price)
    configs: list[tuple[GpuPart, int]] = []
    for cand in held[:4]:
        gpu, n = cand.gpus[0]
        if n > 1 and (gpu, n - 1) not in configs:
            configs.append((gpu, n - 1))
    out = []
    for gpu, n in configs:
        engine = search.engine_for("gpu", gpu.vendor)
        fewer = gpu_stub(search, ((gpu, n),), engine) if engine else None
        if fewer is not None and search.complete(fewer):
            out.append(search.evaluate(fewer))
    return out


def too_small_systems(search: Search) -> list[Build]:
    """The two largest unified systems that do not quite hold the model."""
    small = sorted(unified_stubs(search, near_miss=True), key=lambda c: -c.system.memory_gb)
    return [search.evaluate(c) for c in small[:2] if search.complete(c)]


def only(constraints: tuple[str, ...]) -> Callable[[Build], bool]:
    return lambda b: all(s.constraint in constraints for s in b.shortfalls)


def closest_misses(search: Search, group: list[Candidate]) -> list[Build | None]:
    """Of one architecture's estimated builds: the one closest to holding the model,
    the fastest too slow, the most frugal too hungry, and the cheapest over budget."""
    evaluated = [c.build for c in group if c.build is not None and not c.build.meets_targets]
    short = [
        b
        for b in evaluated
        if b.compatible
        and b.shortfalls
        and b.shortfalls[0].constraint == "memory"
        and only(("memory", "budget"))(b)
    ]
    slow = [b for b in evaluated if b.fits and only(("min_tps", "min_prefill_tps"))(b)]
    hungry = [b for b in evaluated if b.fits and only(("max_watts",))(b)]
    return [
        min(short, key=lambda b: (b.shortfalls[0].amount, b.total or 0), default=None),
        max(slow, key=lambda b: (b.tokens_per_s, -(b.total or 0)), default=None),
        min(hungry, key=lambda b: b.power_w, default=None),
        over_budget(search, group),
    ]


def over_budget(search: Search, group: list[Candidate]) -> Build | None:
    """The cheapest build of the group that misses only the budget (a few tries)."""
    budget = search.request.budget
    if budget is None:
        return None
    over = [
        c
        for c in group
        if (c.complete and c.price > budget)
        or (c.state is CandidateState.STUB and c.cost_lb > budget)
    ]
    for tries, cand in enumerate(stream(search, over, "cheapest", budget=False), start=1):
        build = search.evaluate(cand)
        if only(("budget",))(build):
            return build
        if tries >= OVER_BUDGET_TRIES:
            break
    return None


# Relaxations ---------------------------------------------------------------------------


def relaxations(search: Search) -> list[Relaxation]:
    """When nothing qualifies: each constraint to relax, and what that buys."""
    out = [*target_relaxations(search), *choice_relaxations(search)]
    if not out:
        out.append(
            Relaxation(
                "quant",
                search.request.quant.name,
                "",
                "Nothing in the catalogue holds this model at this quantization and "
                "context; choose a smaller quantization or a shorter context.",
            )
        )
    return out


def retry(search: Search, **changes: object) -> Build | None:
    """The top build of a search with ``changes`` to the request."""
    from .search import Search as SubSearch

    sub = SubSearch(search.catalogue, search.request.relaxed(**changes))
    found = sub.run(relax=False).builds
    search.state.estimates += sub.state.estimates
    return found[0] if found else None


def target_relaxations(search: Search) -> list[Relaxation]:
    req = search.request
    out: list[Relaxation] = []
    if req.budget is not None:
        best = retry(search, budget=None, objective="cheapest", limit=1)
        if best is not None and best.total is not None:
            more = fmt_money(best.total - req.budget, search.currency)
            text = (
                f"Raise the budget to {fmt_money(best.total, search.currency)} ({more} more): "
                "that buys the cheapest build meeting the other targets."
            )
            out.append(Relaxation("budget", str(req.budget), str(best.total), text, best.key))
    if req.min_tps > 0:
        best = retry(search, min_tps=0.0, objective="fastest", limit=1)
        if best is not None:
            text = (
                f"Lower the speed target to {best.tokens_per_s:.1f} tokens/s: the fastest "
                "build within the other constraints reaches that."
            )
            floor = f"{math.floor(best.tokens_per_s * 10) / 10:g}"
            out.append(Relaxation("min_tps", f"{req.min_tps:g}", floor, text, best.key))
    if req.min_prefill_tps > 0:
        best = retry(search, min_prefill_tps=0.0, objective="fastest", limit=1)
        if best is not None and best.estimate is not None:
            rate = best.estimate.prefill_tokens_per_s
            text = f"Lower the prompt-processing target to {rate:.0f} tokens/s."
            value = f"{math.floor(rate):g}"
            out.append(
                Relaxation("min_prefill_tps", f"{req.min_prefill_tps:g}", value, text, best.key)
            )
    if req.max_watts is not None:
        best = retry(search, max_watts=None, objective="power", limit=1)
        if best is not None:
            watts = math.ceil(best.power_w)
            text = f"Raise the power limit to {watts} W."
            out.append(Relaxation("max_watts", f"{req.max_watts:g}", f"{watts}", text, best.key))
    return out


def choice_relaxations(search: Search) -> list[Relaxation]:
    req = search.request
    out: list[Relaxation] = []
    for name, value, default, label in (
        ("allow_used", req.allow_used, True, "Allow used parts"),
        ("form", req.form, "any", "Allow any form factor"),
        ("stack", req.stack, "any", "Allow any GPU software stack"),
        ("must_include", req.must_include, (), "Drop the must-include parts"),
    ):
        if value == default:
            continue
        best = retry(search, **{name: default, "objective": "cheapest", "limit": 1})
        if best is not None and best.total is not None:
            price = fmt_money(best.total, search.currency)
            text = f"{label}: the cheapest qualifying build is then {price}."
            out.append(Relaxation(name, _text(value), _text(default), text, best.key))
    return out


def _text(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Notes ---------------------------------------------------------------------------------


def notes(search: Search, max_estimates: int) -> list[str]:
    """What the search could not do, or left out."""
    req = search.request
    out: list[str] = []
    if req.engine != "auto" and search.engine_for("cpu") is None:
        out.append(f"{req.engine} cannot run on the CPU: no CPU-only or offload builds.")
    if req.training:
        out.append("Fine-tuning: CPU-only and offload builds are not proposed.")
    out += run_option_notes(search)
    missing = [slug for slug, part in search.shop.must.items() if part is None or not part.priced]
    for slug in missing:
        out.append(f"must_include: {slug} is unknown or has no current price.")
    if search.state.truncated:
        out.append(f"Search stopped after {max_estimates} estimates; results may be partial.")
    unpriced = sum(1 for p in search.catalogue.parts if not p.priced)
    if unpriced:
        out.append(f"{unpriced} catalogue part(s) have no current price and were left out.")
    return out


def run_option_notes(search: Search) -> list[str]:
    """How the request's run options shape the builds, and the hardware they leave out."""
    req = search.request
    out: list[str] = []
    if req.backend:
        out.append(
            f"backend {req.backend}: every build runs on it; hardware {req.backend} does not "
            "drive, or engines without it, are left out."
        )
    if req.threads is not None:
        out.append(f"threads {req.threads}: builds with a host CPU run with {req.threads} threads.")
    if req.expert_offload is not None:
        layers = "all layers" if req.expert_offload == "all" else f"{req.expert_offload} layers"
        out.append(
            f"expert_offload {req.expert_offload}: GPU builds keep the routed experts of "
            f"{layers} in system RAM; CPU servers and unified-memory systems hold the whole "
            "model in one memory anyway."
        )
    spec = req.spec_decode
    if spec is not None:
        what = f"draft:{spec.draft_model}" if spec.method == "draft" else spec.method
        out.append(
            f"spec_decode {what} ({spec.k} drafted tokens, acceptance {spec.alpha:.0%}): "
            "decode speeds are the speculative ones; engines without it are left out."
        )
    kinds = ("cpu", "gpu", "unified")
    if (req.backend or spec is not None) and not any(
        search.engine_for(kind, vendor)
        for kind in kinds
        for vendor in ("", "nvidia", "amd", "intel", "apple")
    ):
        out.append(
            f"No engine runs {req.quant.name} with these options"
            + (f" (engine {req.engine})" if req.engine != "auto" else "")
            + ": no builds."
        )
    return out
