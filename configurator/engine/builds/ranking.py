"""Stage 3 of the search: best-first ranking under the user's targets.

:func:`stream` pops candidates in the objective's order, completing a stub only when it
reaches the front (its key never sorts after its completed self). :func:`scan` estimates
them until no remaining bound can enter the top ``k``. :func:`rank` keeps the best build
of every architecture beside the overall best; :func:`pareto` is the price/speed front of
the qualifying builds, from one price-ordered scan that skips every candidate whose speed
bound does not beat the fastest cheaper build.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from .assembly import fmt_money
from .candidates import Candidate
from .request import GPU_SERVER, GPU_TOWER
from .result import Build

if TYPE_CHECKING:
    from .search import Search

GPU_ONLY = (GPU_TOWER, GPU_SERVER)
# New estimates spent looking for the best build of an architecture missing from the
# top ``limit`` (shown side by side for comparison).
DIVERSITY_ESTIMATES = 6
# Relative margin by which a dearer build must be faster to join the front (float noise).
FASTER = 1e-6
# New estimates the price/speed front may add after the ranking (×3 when it is the
# objective).
PARETO_EXTRA_ESTIMATES = 20


def order_key(objective: str) -> Callable[[Candidate], tuple]:
    """Sort key of a candidate for ``objective`` (lower first), from its bounds and its
    price (exact once complete, a lower bound before: never too late)."""
    if objective == "fastest":
        return lambda c: (-c.tps_ub, c.price_f, c.serial)
    if objective == "value":
        return lambda c: (-c.tps_ub / max(c.price_f, 1e-9), c.price_f, c.serial)
    if objective == "power":
        return lambda c: (c.power_lb, c.price_f, c.serial)
    return lambda c: (c.price_f, -c.tps_ub, c.serial)


def stream(
    search: Search,
    cands: Iterable[Candidate],
    objective: str,
    budget: bool = True,
    skip: Callable[[Candidate], bool] | None = None,
    targets: bool = True,
) -> Iterator[Candidate]:
    """Complete candidates in ``objective`` order. ``skip`` drops candidates as they
    reach the front, before completion; ``budget`` and ``targets`` False let candidates
    over the budget, or missing any target, through."""
    order = order_key(objective)

    def passes(cand: Candidate) -> bool:
        return search.could_pass(cand, budget, targets)

    heap = [(order(c), c.serial, c) for c in search.viable(cands, budget, targets)]
    heapq.heapify(heap)
    seen: set[str] = set()
    while heap:
        _, _, cand = heapq.heappop(heap)
        if not passes(cand) or (skip is not None and skip(cand)):
            continue
        if not cand.complete:
            if search.complete(cand) and passes(cand):
                heapq.heappush(heap, (order(cand), cand.serial, cand))
            continue
        if cand.key not in seen:
            seen.add(cand.key)
            yield cand


def measures(objective: str) -> tuple[Callable[[Candidate], float], Callable[[Build], float]]:
    """Per objective: the bound of a candidate and the score of a build (lower is
    better)."""
    if objective == "fastest":
        return (lambda c: -c.tps_ub), (lambda b: -b.tokens_per_s)
    if objective == "value":
        return (lambda c: -c.tps_ub / float(c.price)), (
            lambda b: -b.tokens_per_s / float(b.total or 1)
        )
    if objective == "power":
        return (lambda c: c.power_lb), (lambda b: b.power_w)
    return (lambda c: float(c.price)), (lambda b: float(b.total or 0))


def scan(
    search: Search,
    ordered: Iterable[Candidate],
    k: int,
    objective: str,
    max_estimates: int | None = None,
) -> list[Build]:
    """The best ``k`` qualifying builds (one per family) from an ordered stream,
    stopping when no later candidate's bound can beat the k-th build found.

    In price order the first qualifying member of a family is its best. In speed order,
    more GPUs of a kind in a layer split are no faster, so a GPU build's family is done
    once one member qualifies; other members are looked at."""
    bound, score = measures(objective)
    skip_family = objective in ("cheapest", "pareto")
    found: list[Build] = []
    families: set[tuple] = set()
    scores: list[float] = []
    start = search.state.estimates
    for cand in ordered:
        if len(scores) >= k and bound(cand) >= sorted(scores)[k - 1]:
            break
        if max_estimates is not None and search.state.estimates - start >= max_estimates:
            break
        layer_split = objective == "fastest" and cand.gpu_only and not search.tensor(cand)
        if cand.family in families and (skip_family or layer_split):
            continue
        build = search.evaluate(cand)
        if build.meets_targets:
            found.append(build)
            if cand.family not in families:
                families.add(cand.family)
                scores.append(score(build))
    return best_per_family(found, lambda b: (score(b), b.total or 0), k)


def rank(search: Search, objective: str) -> dict[str, list[Build]]:
    """The best builds overall, plus the best of every architecture that has one,
    grouped by architecture."""
    cands = search.stubs()
    best = scan(search, stream(search, cands, objective), search.request.limit, objective)
    groups: dict[str, list[Build]] = {}
    for build in best:
        groups.setdefault(build.architecture, []).append(build)
    for arch in sorted({c.arch for c in cands} - set(groups)):
        pool = [c for c in cands if c.arch == arch or (c.gpu_only and arch in GPU_ONLY)]
        ordered = stream(search, pool, objective, skip=search.likely_too_slow)
        of_arch = (c for c in ordered if c.arch == arch)
        found = scan(search, of_arch, 1, objective, max_estimates=DIVERSITY_ESTIMATES)
        if found:
            groups[arch] = found
    return groups


def pareto(search: Search, extra: int) -> tuple[list[Build], bool]:
    """Qualifying builds that no cheaper build matches in speed, and whether the front
    is exact.

    One price-ordered scan estimates only candidates whose speed bound beats the
    fastest cheaper build; it stops after ``extra`` new estimates, and the front is then
    taken over every build estimated so far (marked inexact)."""
    best = [0.0]
    passed: set[tuple] = set()
    start = search.state.estimates
    exact = True

    def hopeless(cand: Candidate) -> bool:
        if cand.tps_ub <= best[0]:
            return True
        # More of the same GPUs in a layer split is dearer, not faster.
        return cand.gpu_only and cand.complete and cand.family in passed and not search.tensor(cand)

    for cand in stream(search, search.stubs(), "cheapest", skip=hopeless):
        if cand.build is None and search.state.estimates - start >= extra:
            exact = False
            break
        build = search.evaluate(cand)
        if build.meets_targets:
            passed.add(cand.family)
            best[0] = max(best[0], build.tokens_per_s * (1 + FASTER))
    front = front_of(b for b in search.estimated() if b.meets_targets)
    for build in front:
        build.pareto = True
    return front, exact


def front_of(builds: Iterable[Build], faster: float = FASTER) -> list[Build]:
    """Builds that no cheaper one matches in speed (a dearer one must be ``faster``
    relatively), cheapest first."""
    unique = {b.key: b for b in builds}.values()
    ordered = sorted(unique, key=lambda b: (b.total or 0, -b.tokens_per_s, b.key))
    front: list[Build] = []
    fastest = 0.0
    for build in ordered:
        if build.tokens_per_s > fastest * (1 + faster):
            front.append(build)
            fastest = build.tokens_per_s
    return front


# The ranked list ------------------------------------------------------------------------


def spread(builds: list[Build], limit: int) -> list[Build]:
    """At most ``limit`` builds evenly spread over ``builds`` (both ends kept)."""
    if len(builds) <= limit:
        return list(builds)
    if limit == 1:
        return [builds[0]]
    last = len(builds) - 1
    picks = sorted({round(i * last / (limit - 1)) for i in range(limit)})
    return [builds[i] for i in picks]


def family_of(build: Build) -> tuple:
    gpus = tuple(sorted({line.slug for line in build.lines if line.kind in ("gpu", "system")}))
    cpus = tuple(sorted({line.slug for line in build.lines if line.kind == "cpu"}))
    return (build.architecture, gpus, cpus if build.architecture not in GPU_ONLY else ())


def best_per_family(builds: list[Build], key: Callable[[Build], tuple], k: int) -> list[Build]:
    seen: set[tuple] = set()
    out = []
    for build in sorted(builds, key=key):
        family = family_of(build)
        if family not in seen:
            seen.add(family)
            out.append(build)
    return out[:k]


def objective_key(objective: str) -> Callable[[Build], tuple]:
    """Sort key of a build for ``objective``; among equals, a build with unverified
    rules ranks below one whose rules all pass."""
    if objective == "fastest":
        return lambda b: (-b.tokens_per_s, b.unknown_rules, b.total or 0, b.key)
    if objective == "value":
        return lambda b: (-b.tokens_per_s_per_kusd, b.unknown_rules, b.total or 0, b.key)
    if objective == "power":
        return lambda b: (b.power_w, b.unknown_rules, b.total or 0, b.key)
    return lambda b: (b.total or 0, b.unknown_rules, -b.tokens_per_s, b.key)


def merge(per_arch: dict[str, list[Build]], limit: int, objective: str) -> list[Build]:
    """The top ``limit`` builds by ``objective``, keeping each architecture's best so
    different designs appear side by side."""
    key = objective_key(objective)
    everything = sorted((b for builds in per_arch.values() for b in builds), key=key)
    chosen = everything[:limit]
    bests = [builds[0] for builds in per_arch.values() if builds]
    for best in sorted(bests, key=key):
        if best in chosen:
            continue
        # Replace the worst build of an architecture that appears more than once.
        counts: dict[str, int] = {}
        for b in chosen:
            counts[b.architecture] = counts.get(b.architecture, 0) + 1
        for i in range(len(chosen) - 1, -1, -1):
            if counts[chosen[i].architecture] > 1:
                chosen[i] = best
                break
    return sorted(chosen, key=key)


def label(
    ranked: list[Build], objective: str, per_arch: dict[str, list[Build]], currency: str
) -> None:
    """Number the ranked builds and say why each is where it is."""
    arch_best = {builds[0].key for builds in per_arch.values() if builds}
    first = ranked[0] if ranked else None
    for i, build in enumerate(ranked, start=1):
        build.rank = i
        reason = rank_reason(build, i, first, objective, currency)
        if build.key in arch_best and len(per_arch) > 1:
            reason += f" Best {build.architecture} option."
        build.rank_reason = reason.strip()


def rank_reason(build: Build, i: int, first: Build | None, objective: str, currency: str) -> str:
    if objective == "cheapest":
        return cheapest_reason(build, i, first, currency)
    if objective == "fastest":
        return "Fastest build within the constraints." if i == 1 else f"#{i} by speed."
    if objective == "value":
        per = fmt_money(1000, currency)
        return f"{build.tokens_per_s_per_kusd:.2f} tokens/s per {per} (#{i} by value)."
    if objective == "power":
        return f"{build.power_w:.0f} W while generating (#{i} by power)."
    if objective == "pareto":
        return "On the price/speed front: no cheaper build is as fast."
    return ""


def cheapest_reason(build: Build, i: int, first: Build | None, currency: str) -> str:
    if i == 1:
        return "Cheapest build that meets every target."
    if first is None or first.total is None or build.total is None:
        return ""
    reason = f"#{i} by price: {fmt_money(build.total - first.total, currency)} more than #1"
    if first.tokens_per_s > 0 and build.tokens_per_s > first.tokens_per_s * 1.05:
        reason += f", {build.tokens_per_s / first.tokens_per_s:.1f}× its speed"
    if first.estimate and build.estimate and first.estimate.training is None:
        ratio = build.estimate.prefill_tokens_per_s / max(first.estimate.prefill_tokens_per_s, 1e-9)
        if ratio >= 1.5:
            reason += f", {ratio:.0f}× its prompt processing"
    return reason + "."
