"""The PCIe link each seated GPU trains to.

A card and its slot negotiate the lower of the two PCIe generations and the lower of
the two lane counts (a PCIe 4.0 x16 card in a PCIe 5.0 x16 slot runs at 4.0 x16; an
x8 card in an x16 slot runs at x8). The cards with the fastest links of their own
take the fastest slots of a slot plan. Used by the lane rule's text and by the
engine's machine, so both name the same link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..hardware import PCIE_LANE_GBS
from .parts import GpuPart


@dataclass(frozen=True)
class Link:
    """One GPU's link: the card, its slot's electrical lanes and generation, and the
    negotiated ``lanes`` and ``gen`` (None where the card's or slot's is unknown;
    a card without listed lanes is taken as x16, the engine's default)."""

    card: GpuPart
    slot_lanes: int | None
    slot_gen: int | None

    @property
    def lanes(self) -> int | None:
        if self.slot_lanes is None:
            return None
        return min(self.card.pcie_lanes or 16, self.slot_lanes)

    @property
    def gen(self) -> int | None:
        if self.slot_gen is None or self.card.pcie_gen is None:
            return None
        return min(self.card.pcie_gen, self.slot_gen)

    @property
    def card_limited(self) -> bool:
        """The card, not the slot, sets the link's width or generation."""
        narrower = self.lanes is not None and self.lanes < (self.slot_lanes or 0)
        older = self.gen is not None and self.gen < (self.slot_gen or 0)
        return narrower or older


def _rate(gen: int | None, lanes: int | None) -> float:
    return float(PCIE_LANE_GBS.get(gen or 4, 0.0) * (lanes or 16))


def seat(
    gpus: Sequence[tuple[GpuPart, int]],
    lanes: Sequence[int | None],
    gens: Sequence[int | None],
) -> tuple[Link, ...]:
    """Each card's link, in the order of the slots used: the card with the fastest
    link of its own takes the fastest slot, and so on down (unknown figures ranked as
    4.0 x16, the engine's default)."""
    cards = sorted(
        (gpu for gpu, qty in gpus for _ in range(qty)),
        key=lambda c: -_rate(c.pcie_gen, c.pcie_lanes),
    )
    count = min(len(cards), len(lanes))
    slots = sorted(range(count), key=lambda i: -_rate(gens[i], lanes[i]))
    links = {i: Link(card, lanes[i], gens[i]) for i, card in zip(slots, cards[:count], strict=True)}
    return tuple(links[i] for i in sorted(links))


def describe(pairs: Sequence[tuple[int | None, int | None]]) -> str:
    """The links as text: PCIe 4.0 x16/x8 when every (gen, lanes) pair shares a known
    generation, PCIe 4.0 x16/3.0 x4 when they differ, PCIe x16/x4 when one is unknown."""
    gens = {gen for gen, _ in pairs}
    if None in gens:
        return "PCIe " + "/".join(f"x{lanes}" for _, lanes in pairs)
    if len(gens) == 1:
        return f"PCIe {gens.pop()}.0 " + "/".join(f"x{lanes}" for _, lanes in pairs)
    return "PCIe " + "/".join(f"{gen}.0 x{lanes}" for gen, lanes in pairs)


def narrowest(links: Sequence[Link], card: GpuPart) -> tuple[int | None, int | None]:
    """(lanes, gen) of ``card``'s narrowest and slowest slot (the engine takes one
    figure per GPU kind); None where no slot of that card lists it."""
    mine = [link for link in links if link.card is card]
    lanes = [link.slot_lanes for link in mine if link.slot_lanes]
    gens = [link.slot_gen for link in mine if link.slot_gen]
    return (min(lanes) if lanes else None, min(gens) if gens else None)
