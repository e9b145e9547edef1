"""The cheapest upgrade: from parts you own to a build that runs a model at a speed.

Owned parts cost nothing (up to the quantity owned). Candidates come from two places,
all priced, checked and estimated by the build generator (the same compatibility
rules and estimator as new builds):

* changes to what you own — another GPU like yours (or two), a bigger GPU replacing
  yours, more memory channels populated, more or bigger memory modules filling the
  board's slots — when the owned parts form a complete build;
* the build search itself, run on the catalogue with your parts priced at zero and
  required in every build (your parts kept, the rest of a platform around them), and
  once more without requiring them (a different platform altogether, keeping whatever
  of yours it can use).

Every candidate is then re-priced honestly (what you would pay: each line's unit price
times the quantity beyond what you own) and ranked by that price, then by speed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from configurator import adapters
from configurator.engine.builds import (
    Build,
    BuildRequest,
    Catalogue,
    GpuPart,
    MemoryPart,
    Price,
    evaluate,
    finite,
    recommend,
)
from configurator.engine.builds.assembly import fmt_money
from configurator.engine.builds.parts import BoardPart, SystemPart

MAX_EXTRA_GPUS = 3
SEARCH_LIMIT = 12
# Rules a one-part swap can clear: a bigger power supply, more RAM, a bigger drive.
REPAIRS = {
    "psu_watts": "psu",
    "psu_gpu_connectors": "psu",
    "system_ram": "memory",
    "storage": "storage",
}
MAX_REPAIRS = 3


@dataclass
class Upgrade:
    """A build reachable from the owned parts: ``added`` parts you would buy (slug, name,
    qty, unit price), ``price`` their total, ``kind`` how it was found."""

    build: Build
    added: list[dict[str, Any]]
    price: Decimal
    kind: str

    def to_dict(self) -> dict[str, Any]:
        est = self.build.estimate
        return finite(
            {
                "kind": self.kind,
                "added": self.added,
                "price": str(self.price),
                "price_text": fmt_money(self.price, self.build.currency),
                "currency": self.build.currency,
                "parts": self.build.parts_param,
                "title": self.build.title,
                "meets_targets": self.build.meets_targets,
                "compatible": self.build.compatible,
                "violations": [f.message for f in self.build.violations],
                "decode_tokens_per_s": self.build.decode_tokens_per_s,
                "tokens_per_s": self.build.tokens_per_s,
                "estimate": est.to_dict() if est is not None else None,
            }
        )


def parse_have(text: str) -> list[tuple[str, int]]:
    """``SLUG[:QTY],...`` as pairs; ``ValueError`` naming ``have`` otherwise."""
    out: dict[str, int] = {}
    for chunk in [c.strip() for c in (text or "").split(",") if c.strip()]:
        slug, _, qty = chunk.partition(":")
        try:
            count = int(qty) if qty.strip() else 1
        except ValueError:
            raise ValueError(f"have: {chunk!r}: the quantity after ':' must be 1–64.") from None
        if not 1 <= count <= 64:
            raise ValueError(f"have: {chunk!r}: the quantity after ':' must be 1–64.")
        out[slug.strip()] = out.get(slug.strip(), 0) + count
    return list(out.items())


def owned_catalogue(catalogue: Catalogue, owned: dict[str, int]) -> Catalogue:
    """The catalogue with every owned part priced at zero (for the search's ranking)."""
    parts = []
    for part in catalogue.parts:
        if part.slug in owned:
            free = Price(Decimal(0), catalogue.currency, origin="owned")
            parts.append(replace(part, price=free))
        else:
            parts.append(part)
    key = ",".join(f"{s}:{q}" for s, q in sorted(owned.items()))
    return Catalogue(
        tuple(parts),
        version=f"{catalogue.version}|owned:{key}",
        prices_as_of=catalogue.prices_as_of,
        currency=catalogue.currency,
    )


def upgrade_price(build: Build, owned: dict[str, int]) -> tuple[Decimal | None, list[dict]]:
    """What you would pay for ``build`` owning ``owned``, and the lines you would buy."""
    total = Decimal(0)
    added = []
    for line in build.lines:
        buy = line.qty - owned.get(line.slug, 0)
        if buy <= 0:
            continue
        if line.unit_price is None:
            return None, []
        total += line.unit_price * buy
        added.append(
            {
                "slug": line.slug,
                "name": line.name,
                "kind": line.kind,
                "qty": buy,
                "unit_price": str(line.unit_price),
            }
        )
    return total, added


def _local_changes(
    catalogue: Catalogue, owned: dict[str, int]
) -> Iterable[tuple[str, list[tuple[str, int]]]]:
    """Parts lists one step from the owned ones: more GPUs, a bigger GPU, more RAM."""
    items = {slug: catalogue.get(slug) for slug in owned}
    if any(isinstance(p, SystemPart) for p in items.values()):
        return
    gpus = [(slug, p) for slug, p in items.items() if isinstance(p, GpuPart)]
    boards = [p for p in items.values() if isinstance(p, BoardPart)]
    memory = [(slug, p) for slug, p in items.items() if isinstance(p, MemoryPart)]
    base = dict(owned)
    priced_gpus = [p for p in catalogue.of("gpu") if isinstance(p, GpuPart) and p.price]
    for gpu in priced_gpus:
        for extra in range(1, MAX_EXTRA_GPUS + 1):
            parts = dict(base)
            parts[gpu.slug] = parts.get(gpu.slug, 0) + extra
            what = "another GPU" if gpu.slug in owned else "an added GPU"
            yield what, list(parts.items())
    for slug, mine in gpus:
        for gpu in priced_gpus:
            if gpu.vram_gb <= mine.vram_gb:
                continue
            for swap in range(1, owned[slug] + 1):
                parts = dict(base)
                parts[slug] -= swap
                if parts[slug] == 0:
                    del parts[slug]
                parts[gpu.slug] = parts.get(gpu.slug, 0) + swap
                yield "a bigger GPU replacing one", list(parts.items())
    if boards and memory:
        board = boards[0]
        slug, module = memory[0]
        yield from _more_modules(board, slug, owned[slug], base)
        for other in catalogue.of("memory"):
            if (
                isinstance(other, MemoryPart)
                and other.price
                and other.memory_type == module.memory_type
                and other.registered == module.registered
                and other.capacity_gb > module.capacity_gb
            ):
                parts = dict(base)
                del parts[slug]
                parts[other.slug] = min(board.dimm_slots, max(owned[slug], board.memory_channels))
                yield "bigger memory modules", list(parts.items())


def _more_modules(
    board: BoardPart, slug: str, have: int, base: dict[str, int]
) -> Iterable[tuple[str, list[tuple[str, int]]]]:
    """More of the owned module: up to every memory channel (each populated channel adds
    bandwidth), then every slot (capacity only)."""
    channels = board.memory_channels
    targets = sorted({n for n in (channels, board.dimm_slots) if have < n <= board.dimm_slots})
    for count in targets:
        parts = dict(base)
        parts[slug] = count
        before, after = min(have, channels), min(count, channels)
        if after > before:
            what = f"more memory channels ({before} → {after} populated)"
        else:
            what = "more RAM (fill the free slots)"
        yield what, list(parts.items())


def _repair(catalogue: Catalogue, request: BuildRequest, build: Build) -> Build | None:
    """``build`` with its power supply, memory or drive swapped for the cheapest one that
    clears those rules, when the rest already works (fits, fast enough, compatible);
    None when something else fails."""
    for _ in range(MAX_REPAIRS + 1):
        if build.shortfalls:
            return None
        failing = {f.rule for f in build.violations}
        if not failing:
            return build
        if not failing <= set(REPAIRS):
            return None
        kind = REPAIRS[sorted(failing)[0]]
        parts = [(ln.slug, ln.qty) for ln in build.lines if ln.kind != kind]
        old = [ln for ln in build.lines if ln.kind == kind]
        fixed = None
        for part in sorted(
            (p for p in catalogue.of(kind) if p.price is not None), key=lambda p: p.price.amount
        ):
            qty = old[0].qty if old and kind == "memory" else 1
            if kind == "memory" and old:
                mine = catalogue.get(old[0].slug)
                if not isinstance(mine, MemoryPart) or not isinstance(part, MemoryPart):
                    continue
                if (part.memory_type, part.registered) != (mine.memory_type, mine.registered):
                    continue
                if part.capacity_gb <= mine.capacity_gb:
                    continue
            try:
                trial = evaluate(catalogue, request, [*parts, (part.slug, qty)])
            except ValueError:
                continue
            if not any(REPAIRS.get(f.rule) == kind for f in trial.violations):
                fixed = trial
                break
        if fixed is None:
            return None
        build = fixed
    return None


def cheapest_upgrades(
    request: BuildRequest, have: list[tuple[str, int]], limit: int = 10
) -> dict[str, Any]:
    """Upgrades from ``have`` reaching the request's targets, cheapest first, plus the
    owned parts as they stand."""
    catalogue = adapters.catalogue()
    unknown = [slug for slug, _ in have if catalogue.get(slug) is None]
    if unknown:
        raise ValueError("have: unknown part slug(s): " + ", ".join(unknown))
    owned = dict(have)
    current = None
    try:
        current = evaluate(catalogue, request, have)
    except ValueError:
        current = None
    found: dict[str, Upgrade] = {}

    def consider(build: Build, kind: str) -> None:
        if not build.meets_targets:
            return
        price, added = upgrade_price(build, owned)
        if price is None or not added:
            return
        known = found.get(build.key)
        if known is None or price < known.price:
            found[build.key] = Upgrade(build, added, price, kind)

    for kind, parts in _local_changes(catalogue, owned):
        try:
            build = evaluate(catalogue, request, parts)
        except ValueError:
            continue
        repaired = _repair(catalogue, request, build)
        if repaired is not None:
            consider(repaired, kind)
    free = owned_catalogue(catalogue, owned)
    keep = tuple(slug for slug in owned if catalogue.get(slug) is not None)
    for must, kind in ((keep, "a platform around your parts"), ((), "a different platform")):
        ask = replace(request, must_include=must, limit=SEARCH_LIMIT, objective="cheapest")
        try:
            rec = recommend(free, ask)
        except ValueError:
            continue
        for build in list(rec.builds) + list(rec.pareto):
            # Re-evaluate on the real catalogue: its lines carry real prices.
            try:
                real = evaluate(catalogue, request, [(ln.slug, ln.qty) for ln in build.lines])
            except ValueError:
                continue
            consider(real, kind)
    ranked = sorted(found.values(), key=lambda u: (u.price, -u.build.decode_tokens_per_s))
    return {
        "have": [{"slug": s, "qty": q, "name": catalogue.get(s).label} for s, q in have],
        "current": _current(current),
        "upgrades": [u.to_dict() for u in ranked[:limit]],
        "considered": len(found),
        "currency": catalogue.currency,
    }


def _current(build: Build | None) -> dict[str, Any] | None:
    if build is None:
        return None
    est = build.estimate
    return finite(
        {
            "meets_targets": build.meets_targets,
            "compatible": build.compatible,
            "violations": [f.message for f in build.violations],
            "shortfalls": [s.message for s in build.shortfalls],
            "decode_tokens_per_s": build.decode_tokens_per_s,
            "tokens_per_s": build.tokens_per_s,
            "fits": build.fits,
            "estimate": est.to_dict() if est is not None else None,
        }
    )
