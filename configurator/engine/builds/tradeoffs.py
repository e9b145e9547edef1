"""Trade-offs: the price/speed front outside the user's targets.

A ranking under the user's targets can hide the answer they would have wanted (a
$9k server at 1.2 tokens/s under a 5 tokens/s floor). Beside the ranking, every
results list shows full builds from the front of price against speed over every build
that runs the model at all (fits, compatible, within the hard constraints: form, stack,
new/used, must-include), ignoring the speed, prompt, power and budget targets:

- ``cheapest``: the cheapest build that runs the model at all;
- ``fraction``: the cheapest reaching a half and a fifth of the speed target;
- ``half_price``: the fastest build at no more than half the price of the top pick;
- ``twice_as_fast``: the cheapest build at least twice as fast as the top pick.

For fine-tuning the speed is training tokens/s (the speed target is a training one), so
the same front is read in training tokens.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .ranking import front_of, stream
from .result import Build

if TYPE_CHECKING:
    from .search import Candidate, Search

# Targets a trade-off may miss (the rest are hard constraints it must meet).
SOFT = frozenset({"min_tps", "min_prefill_tps", "max_watts", "budget"})
# New estimates the front outside the targets may add.
TRADE_OFF_ESTIMATES = 30
# A dearer build joins the front only when at least this much faster (10 %): a few
# hundredths of a token/s more is not a trade-off worth showing.
FASTER = 0.10
FRACTIONS = ((0.5, "half"), (0.2, "a fifth"))


@dataclass
class TradeOff:
    """A build outside the targets and why it is shown: ``kind`` is cheapest,
    fraction, half_price or twice_as_fast (``kinds`` every reason when one build
    answers several); ``label`` says it in words."""

    kind: str
    label: str
    build: Build
    kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.kinds:
            self.kinds = (self.kind,)

    def also(self, other: TradeOff) -> None:
        """The same build answers ``other`` too."""
        if other.kind not in self.kinds:
            self.kinds = (*self.kinds, other.kind)
        self.label += "; " + other.label[0].lower() + other.label[1:]

    def to_dict(self) -> dict[str, Any]:
        data = self.build.to_dict()
        data["trade_off"] = {"kind": self.kind, "kinds": list(self.kinds), "label": self.label}
        return data


def runs(build: Build) -> bool:
    """Compatible, fits, estimated, and misses at most the soft targets."""
    return (
        build.compatible
        and build.fits
        and build.estimate is not None
        and all(s.constraint in SOFT for s in build.shortfalls)
    )


def front_outside_targets(search: Search, extra: int = TRADE_OFF_ESTIMATES) -> list[Build]:
    """Builds that run the model and that no cheaper running build matches in speed,
    cheapest first (one price-ordered scan; at most ``extra`` new estimates)."""
    best = [0.0]
    start = search.state.estimates

    def hopeless(cand: Candidate) -> bool:
        # The bound times the best speed-to-bound ratio seen on the architecture.
        return cand.tps_ub * search.bound_ratio(cand.arch) <= best[0]

    outrun = outrun_by(search)
    cands = [c for c in search.stubs() if not outrun(c)]
    ordered = stream(search, cands, "cheapest", budget=False, skip=hopeless, targets=False)
    for cand in ordered:
        if cand.build is None and search.state.estimates - start >= extra:
            break
        build = search.evaluate(cand)
        if runs(build):
            best[0] = max(best[0], build.tokens_per_s * (1 + FASTER))
    return front_of((b for b in search.estimated() if runs(b)), FASTER)


def outrun_by(search: Search) -> Callable[[Candidate], bool]:
    """A test that is True when a build already estimated that runs the model costs no
    more than a candidate at least and is at least as fast as the candidate can be: the
    candidate cannot join the front (checked before the scan, so the scan's heap stays
    small). The running builds and each architecture's bound ratio are read once."""
    running = sorted((float(b.total or 0), b.tokens_per_s) for b in search.estimated() if runs(b))
    prices, speeds, fastest = [], [], 0.0
    for price, speed in running:
        fastest = max(fastest, speed)
        prices.append(price)
        speeds.append(fastest * (1 + FASTER))
    ratios: dict[str, float] = {}

    def outrun(cand: Candidate) -> bool:
        index = bisect.bisect_right(prices, cand.price_f) - 1
        if index < 0:
            return False
        ratio = ratios.get(cand.arch)
        if ratio is None:
            ratio = ratios[cand.arch] = search.bound_ratio(cand.arch)
        return cand.tps_ub * ratio <= speeds[index]

    return outrun


def trade_offs(search: Search, ranked: Sequence[Build]) -> list[TradeOff]:
    """The trade-offs to show beside ``ranked`` (see the module docstring), cheapest
    first, each build once and none already ranked."""
    front = front_outside_targets(search)
    if not front:
        return []
    picks = [TradeOff("cheapest", "Cheapest build that runs the model at all", front[0])]
    picks += fraction_picks(search, front)
    if ranked and ranked[0].total:
        picks += relative_picks(search, front, ranked[0])
    shown = {b.key for b in ranked}
    kept: dict[str, TradeOff] = {}
    for pick in picks:
        if pick.build.key in shown:
            continue
        if pick.build.key in kept:
            kept[pick.build.key].also(pick)
        else:
            kept[pick.build.key] = pick
    verified = {b.key for b in search.verify([p.build for p in kept.values()])}
    out = [p for p in kept.values() if p.build.key in verified]
    return sorted(out, key=lambda p: (p.build.total or 0, p.build.key))


def unit(search: Search) -> str:
    """What the speeds count: generated tokens, or trained ones when fine-tuning."""
    return "training tokens/s" if search.request.training else "tokens/s"


def fraction_picks(search: Search, front: Sequence[Build]) -> list[TradeOff]:
    """The cheapest builds reaching a half and a fifth of the speed target."""
    target = search.request.min_tps
    picks = []
    for fraction, words in FRACTIONS if target > 0 else ():
        floor = target * fraction
        hit = next((b for b in front if b.tokens_per_s >= floor), None)
        if hit is not None:
            price = search.money(hit.total or 0)
            label = f"At {words} of the speed target ({floor:g} {unit(search)}) for {price}"
            picks.append(TradeOff("fraction", label, hit))
    return picks


def relative_picks(search: Search, front: Sequence[Build], top: Build) -> list[TradeOff]:
    """The fastest build at half the price of ``top``, and the cheapest twice as fast."""
    picks = []
    total = top.total or Decimal(0)
    cheaper = [b for b in front if b.total is not None and b.total * 2 <= total]
    if cheaper:
        half = cheaper[-1]
        label = f"Half the price of #1 at {half.tokens_per_s:.1f} {unit(search)}"
        picks.append(TradeOff("half_price", label, half))
    faster = [b for b in front if b.tokens_per_s >= 2 * top.tokens_per_s]
    if faster:
        twice = faster[0]
        ratio = twice.tokens_per_s / max(top.tokens_per_s, 1e-9)
        extra = search.money((twice.total or 0) - total)
        picks.append(
            TradeOff("twice_as_fast", f"{ratio:.1f}× as fast as #1 for {extra} more", twice)
        )
    return picks
