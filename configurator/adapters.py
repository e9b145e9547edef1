"""Catalogue rows and current prices → the engine's and the build generator's plain
dataclasses. The one place that turns Django models into engine inputs.

The part snapshot (every part with its specs and current price) is cached in Django's
cache under a version made of the catalogue's state in the database (part count and
newest edit; a save that leaves the edit time alone is stamped by a signal) and the
pricing app's ``prices_version()``, so an admin edit or a new price gives a new snapshot
at once, in every process. A process also keeps the last snapshots it used in memory, so a
request does not even unpickle it.
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from catalog.models import PART_MODELS, LlmModel, Part, QuantFormat
from configurator.engine import ModelArch, Quant
from configurator.engine.builds import Catalogue, Price, part_from_specs
from configurator.engine.builds import Part as BuildPart

log = logging.getLogger(__name__)

CACHE_SECONDS = 24 * 3600
SNAPSHOT_KEY = "configurator:catalogue:{version}"
_local: dict[str, Catalogue] = {}
_local_lock = threading.Lock()
_LOCAL_KEEP = 3


# Versions and invalidation ----------------------------------------------------------------


@receiver(post_save, dispatch_uid="configurator-catalogue-stamp-save")
def _stamp_partial_save(sender: type, instance: object, **kwargs: Any) -> None:
    """A part saved with ``update_fields`` that leave out ``updated_at`` keeps its old
    edit time: stamp it, so the catalogue's version (part count and newest edit) moves
    with every saved change. Deletions change the count."""
    fields = kwargs.get("update_fields")
    if isinstance(instance, Part) and fields and "updated_at" not in fields:
        Part.objects.filter(pk=instance.pk).update(updated_at=timezone.now())


def _prices_version() -> str:
    from pricing.current import prices_version

    return prices_version()


def display_currency() -> str:
    from pricing.current import display_currency as currency

    return currency()


def catalogue_version() -> str:
    """Changes whenever a part is added, edited or deleted, or any price input changes.
    Read from the database only: a counter kept in the cache could be culled (a cache
    holding one entry per part's price fills up) and so change the version of a
    catalogue that did not change, making every process read the catalogue again."""
    state = Part.objects.aggregate(count=Count("id"), newest=Max("updated_at"))
    newest = state["newest"].isoformat() if state["newest"] else "-"
    return f"{state['count']}:{newest}:{_prices_version()}"


# Rows → dataclasses ---------------------------------------------------------------------


def price_of(current: Any) -> Price:
    """A pricing ``CurrentPrice`` as the generator's :class:`Price`."""
    observed = getattr(current, "observed_at", None)
    return Price(
        amount=Decimal(current.amount),
        currency=current.currency,
        origin=str(current.origin),
        age_days=current.age_days,
        retailer=current.retailer or "",
        url=getattr(current, "url", "") or "",
        stale=bool(current.stale),
        observed_at=observed.isoformat() if observed else "",
    )


def part_of(row: Part, price: Price | None) -> BuildPart | None:
    """One catalogue part (its kind's subclass instance) as a generator part; None when
    a spec the estimator needs is missing."""
    specs = {field.name: getattr(row, field.name) for field in type(row).spec_fields()}
    return part_from_specs(
        row.kind,
        slug=row.slug,
        name=row.name,
        brand=row.brand,
        condition=row.condition,
        specs=specs,
        price=price,
    )


def load_catalogue(version: str = "") -> Catalogue:
    """Every part with its specs and current price, read from the database now."""
    from pricing.current import current_prices

    rows: list[Part] = []
    for model in PART_MODELS.values():
        rows.extend(model.objects.all())
    prices = current_prices(rows)
    parts = []
    skipped = []
    for row in rows:
        current = prices.get(row.pk)
        part = part_of(row, price_of(current) if current is not None else None)
        if part is None:
            skipped.append(row.slug)
        else:
            parts.append(part)
    if skipped:
        log.info("parts left out of builds (missing specs): %s", ", ".join(skipped))
    return Catalogue(
        tuple(parts),
        version=version,
        prices_as_of=timezone.now().isoformat(timespec="seconds"),
        currency=display_currency(),
    )


def catalogue() -> Catalogue:
    """The current snapshot: from this process, else Django's cache, else built."""
    version = catalogue_version()
    snapshot = _local.get(version)
    if snapshot is not None:
        return snapshot
    key = SNAPSHOT_KEY.format(version=version)
    snapshot = cache.get(key)
    if snapshot is None:
        snapshot = load_catalogue(version)
        cache.set(key, snapshot, CACHE_SECONDS)
    with _local_lock:
        _local[version] = snapshot
        while len(_local) > _LOCAL_KEEP:
            _local.pop(next(iter(_local)))
    return snapshot


def clear_local() -> None:
    """Forget this process's snapshots (tests)."""
    with _local_lock:
        _local.clear()


# Models and quantizations ---------------------------------------------------------------


def model_arch(row: LlmModel) -> ModelArch:
    """An LLM model row as the engine's architecture."""
    data = {field.name: getattr(row, field.name) for field in LlmModel._meta.concrete_fields}
    data["name"] = row.name
    return ModelArch.from_dict(data)


def quant_of(row: QuantFormat) -> Quant:
    """A weight format row as the engine's quant (the catalogue's bits per weight)."""
    family = row.family if row.family != QuantFormat.Family.NATIVE else "native"
    return Quant(
        name=row.name, bits_per_weight=row.bits_per_weight, family=family, mean_kld=row.mean_kld
    )


def best_quality_that_fits(
    model: LlmModel, capacity_gb: float, other_gb: float = 0.0, engines: tuple[str, ...] = ()
) -> tuple[QuantFormat, Any] | None:
    """The catalogue weight format with the least measured (or, unmeasured, estimated)
    quality loss whose weights plus ``other_gb`` fit ``capacity_gb``; only formats one of
    ``engines`` runs when given. Returns the row and the engine's QuantChoice."""
    from configurator.engine.quality import best_quality_that_fits as best

    rows = [
        row
        for row in QuantFormat.objects.filter(applies_to=QuantFormat.AppliesTo.WEIGHTS)
        if not engines or set(row.engines) & set(engines)
    ]
    by_name = {row.name: row for row in rows}
    choice = best(model_arch(model), [quant_of(r) for r in rows], capacity_gb * 1e9, other_gb * 1e9)
    return (by_name[choice.quant.name], choice) if choice else None
