"""A fine-tuning run over the user's own dataset: its size as typed ("250k", "12M",
"1.5B"), the epochs, and what the run takes on a build — hours from the estimate's
training tokens/s, and energy and electricity where the estimate gives a training power.

Views, the API and the command line attach the figures to an estimate dict as
``training_run``; the engine is not asked anything new.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

DEFAULT_DATASET_TOKENS = 10_000_000
MIN_DATASET_TOKENS = 1_000
MAX_DATASET_TOKENS = 10_000_000_000_000  # 10T tokens
MAX_EPOCHS = 100
SUFFIXES = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}

# Digits (optionally grouped by commas in threes), an optional decimal part, and an
# optional k/M/B/T suffix; nothing else (no sign, exponent or unit words).
_TOKENS = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s?([kmbt])?$", re.IGNORECASE)

RANGE_TEXT = (
    f"{MIN_DATASET_TOKENS:,} to {MAX_DATASET_TOKENS:,} tokens "
    "(a whole number, or with a suffix: 250k, 12M, 1.5B, 2T)"
)


def parse_tokens(value: object, name: str = "dataset_tokens") -> int | None:
    """A token count as typed: ``12000000``, ``12,000,000``, ``250k``, ``12M``,
    ``1.5B``, ``2T`` (suffixes k, M, B, T, any case). Empty means None (the default).
    ``ValueError`` naming ``name`` and the allowed range for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be from {RANGE_TEXT} (got {value!r}).")
    if isinstance(value, int):
        number = Decimal(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        match = _TOKENS.match(text)
        if match is None:
            raise ValueError(f"{name} must be from {RANGE_TEXT} (got {text!r}).")
        whole, fraction, suffix = match.groups()
        number = Decimal(f"{whole.replace(',', '')}.{fraction or '0'}")
        number *= SUFFIXES[suffix.lower()] if suffix else 1
    if number != number.to_integral_value():
        raise ValueError(
            f"{name} must come to a whole number of tokens, from {RANGE_TEXT} (got {value!r})."
        )
    tokens = int(number)
    if not MIN_DATASET_TOKENS <= tokens <= MAX_DATASET_TOKENS:
        raise ValueError(f"{name} must be from {RANGE_TEXT} (got {tokens:,}).")
    return tokens


def tokens_text(tokens: int) -> str:
    """A token count as a short figure a user could type back: 12M, 1.5B, 250k."""
    for suffix, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if tokens >= scale:
            text = f"{Decimal(tokens) / scale:f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return text + suffix
    return str(tokens)


@dataclass(frozen=True)
class Dataset:
    """What the user fine-tunes on: ``tokens`` per epoch (None: not stated, the default
    of 10M is assumed) and ``epochs`` passes over it."""

    tokens: int | None = None
    epochs: int = 1

    @property
    def assumed(self) -> bool:
        return self.tokens is None

    @property
    def tokens_per_epoch(self) -> int:
        return DEFAULT_DATASET_TOKENS if self.tokens is None else self.tokens

    @property
    def total_tokens(self) -> int:
        return self.tokens_per_epoch * self.epochs


def dataset_of(data: Mapping[str, Any]) -> Dataset:
    """The dataset of a cleaned form (``dataset_tokens``, ``epochs``)."""
    return Dataset(tokens=data.get("dataset_tokens"), epochs=data.get("epochs") or 1)


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def run_figures(
    est: Any, dataset: Dataset, kwh_price: Decimal | None = None
) -> dict[str, Any] | None:
    """The run over ``dataset`` on the estimate ``est`` (a dict or an ``Estimate``):
    None for inference. Hours = tokens × epochs ÷ training tokens/s. Energy and its
    cost only where the estimate carries a training power (``training.power_w``): the
    decode power is no stand-in for a compute-bound training step."""
    training = _get(est, "training")
    if not training:
        return None
    rate = float(_get(training, "tokens_per_s") or 0)
    seconds = dataset.total_tokens / rate if rate > 0 else None
    power_w = _get(training, "power_w")
    energy_kwh = power_w * seconds / 3.6e6 if power_w and seconds is not None else None
    cost = None
    if energy_kwh is not None and kwh_price is not None:
        cost = (Decimal(str(energy_kwh)) * kwh_price).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return {
        "dataset_tokens": dataset.tokens_per_epoch,
        "dataset_tokens_assumed": dataset.assumed,
        "epochs": dataset.epochs,
        "total_tokens": dataset.total_tokens,
        "tokens_per_s": rate,
        "hours": seconds / 3600 if seconds is not None else None,
        "hours_per_epoch": seconds / 3600 / dataset.epochs if seconds is not None else None,
        "power_w": float(power_w) if power_w else None,
        "energy_kwh": energy_kwh,
        "kwh_price": str(kwh_price) if kwh_price is not None else None,
        "electricity_cost": str(cost) if cost is not None else None,
    }


def attach(build: dict[str, Any], dataset: Dataset, kwh_price: Decimal | None) -> dict[str, Any]:
    """A build (or estimate-bearing) dict with ``estimate.training_run`` filled in."""
    est = build.get("estimate")
    if isinstance(est, dict):
        est["training_run"] = run_figures(est, dataset, kwh_price)
    return build


def attach_all(data: dict[str, Any], dataset: Dataset, kwh_price: Decimal | None) -> None:
    """A recommendation dict with the dataset in its ``request`` and the run on every
    build: the ranked builds, near misses, trade-offs."""
    if isinstance(data.get("request"), dict):
        data["request"]["dataset_tokens"] = dataset.tokens
        data["request"]["epochs"] = dataset.epochs
    for key in ("builds", "near_misses", "trade_offs"):
        for build in data.get(key) or ():
            attach(build, dataset, kwh_price)
