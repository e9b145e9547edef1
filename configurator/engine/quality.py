"""The best quality that fits: weight formats ranked by measured quality loss.

A format's loss is its mean KL divergence from the 16-bit model (``Quant.mean_kld``,
from the catalogue's quant formats, each figure with its source and the model it was
measured on). Formats without a measurement are placed by their effective bits on the
curve of the measured ones (``basis="estimated from bits"``); 16-bit formats lose
nothing. Pure Python; bytes and nats.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from . import memory
from .model import ModelArch
from .quant import Quant

MEASURED = "measured"
ESTIMATED = "estimated from bits"


@dataclass(frozen=True)
class QuantChoice:
    """One format for one model: its weights, effective bits, and quality loss."""

    quant: Quant
    weights_bytes: float
    bits_per_weight: float
    mean_kld: float
    basis: str  # MEASURED or ESTIMATED


def _kld_curve(quants: Iterable[Quant]) -> list[tuple[float, float]]:
    points = sorted(
        (q.bits_per_weight, q.mean_kld) for q in quants if q.mean_kld is not None and q.mean_kld > 0
    )
    return points


def _estimate(bits: float, curve: list[tuple[float, float]]) -> float:
    """log-linear interpolation of KLD over bits between measured formats."""
    if bits >= 15.5:
        return 0.0
    if not curve:
        return 2.0 ** (-bits)  # no measurements at all: order by bits only
    if bits <= curve[0][0]:
        return curve[0][1]
    if bits >= curve[-1][0]:
        return curve[-1][1] * 0.5 ** (bits - curve[-1][0])
    for (b0, k0), (b1, k1) in zip(curve, curve[1:], strict=False):
        if b0 <= bits <= b1:
            t = (bits - b0) / (b1 - b0) if b1 > b0 else 0.0
            return math.exp(math.log(k0) + t * (math.log(k1) - math.log(k0)))
    return curve[-1][1]


def rank_by_quality(model: ModelArch, quants: Iterable[Quant]) -> list[QuantChoice]:
    """``quants`` for ``model``, best quality first (then smallest)."""
    quants = list(quants)
    curve = _kld_curve(quants)
    choices = []
    for quant in quants:
        weights = memory.weights_bytes(model, quant)
        bits = memory.effective_bits_per_weight(model, quant)
        if quant.mean_kld is not None:
            kld, basis = quant.mean_kld, MEASURED
        else:
            kld, basis = _estimate(quant.bits_per_weight, curve), ESTIMATED
        choices.append(QuantChoice(quant, weights, bits, kld, basis))
    return sorted(choices, key=lambda c: (c.mean_kld, c.weights_bytes))


def best_quality_that_fits(
    model: ModelArch,
    quants: Iterable[Quant],
    capacity_bytes: float,
    other_bytes: float = 0.0,
) -> QuantChoice | None:
    """The format with the least quality loss whose weights, plus ``other_bytes`` (KV
    cache, buffers, runtime), fit in ``capacity_bytes``; None when none fits."""
    for choice in rank_by_quality(model, quants):
        if choice.weights_bytes + other_bytes <= capacity_bytes:
            return choice
    return None
