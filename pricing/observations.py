"""Adding prices to the history, through the outlier guard, and reviewing suspect ones."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from pricing import conf
from pricing.models import Offer, PriceObservation, PriceReview
from pricing.money import CENT, MissingRate, convert, to_amount


def exchange_rates() -> dict[str, Decimal]:
    from pricing.models import ExchangeRate

    rates = dict(ExchangeRate.objects.values_list("currency", "per_usd"))
    rates.setdefault("USD", Decimal(1))
    return rates


def _deviates(amount: Decimal, baseline: Decimal, fraction: float) -> bool:
    return abs(amount - baseline) > baseline * Decimal(str(fraction))


def baseline_for(offer: Offer, currency: str) -> Decimal | None:
    """The recent median price of this offer (in ``currency``), else the part's price.

    The offer's last few trusted observations are the reference; an offer with no history
    is compared with the part's current price at its other offers, so a first scrape of
    the wrong product (a $15 cable on a $1,500 GPU's page) is caught too.
    """
    rates = None
    window = int(conf.get("PRICE_OUTLIER_WINDOW"))
    recent = list(
        PriceObservation.objects.trusted()
        .filter(offer=offer)
        .order_by("-observed_at", "-id")
        .values_list("amount", "currency")[:window]
    )
    amounts = []
    for amount, obs_currency in recent:
        if obs_currency == currency:
            amounts.append(amount)
            continue
        rates = rates or exchange_rates()
        try:
            amounts.append(convert(amount, obs_currency, currency, rates))
        except MissingRate:
            continue
    if amounts:
        return Decimal(statistics.median(amounts)).quantize(CENT)
    from pricing.current import current_prices_uncached

    price = current_prices_uncached([offer.part_id], exclude_offer_id=offer.pk).get(offer.part_id)
    if price is None:
        return None
    rates = rates or exchange_rates()
    try:
        return convert(price.original_amount, price.original_currency, currency, rates)
    except MissingRate:
        return None


def below_floor(offer: Offer, amount: Decimal, currency: str) -> Decimal | None:
    """The floor (in ``currency``) of this offer's kind of part when ``amount`` is below it."""
    floor_usd = dict(conf.get("PRICE_FLOORS_USD")).get(offer.part.kind)
    if floor_usd is None:
        return None
    try:
        floor = convert(Decimal(str(floor_usd)), "USD", currency, exchange_rates())
    except MissingRate:
        return None
    return floor if amount < floor else None


def _confirmed_suspect(offer: Offer, amount: Decimal, currency: str, observed_at: datetime):
    """The latest suspect price this one repeats, when the run of suspect prices at this
    level (unreviewed, same currency, within PRICE_CONFIRM_FRACTION) spans at least
    PRICE_CONFIRM_HOURS; else None."""
    fraction = conf.get("PRICE_CONFIRM_FRACTION")
    latest, earliest = None, None
    recent = (
        PriceObservation.objects.filter(offer=offer)
        .select_related("review")
        .order_by("-observed_at", "-id")[:50]
    )
    for previous in recent:
        if (
            not previous.suspect
            or previous.review_decision
            or previous.currency != currency
            or _deviates(amount, previous.amount, fraction)
        ):
            break
        latest = latest or previous
        earliest = previous
    if earliest is None:
        return None
    span = observed_at - earliest.observed_at
    return latest if span >= timedelta(hours=float(conf.get("PRICE_CONFIRM_HOURS"))) else None


def observation_add(
    *,
    offer: Offer,
    amount: Decimal | str,
    currency: str,
    origin: str,
    in_stock: bool | None = None,
    source_text: str = "",
    method: str = "",
    observed_at: datetime | None = None,
    item_count: int | None = None,
    created_by=None,
) -> PriceObservation:
    """Append one price to ``offer``'s history, marking it suspect if it is an outlier.

    Scraped and manual prices further than PRICE_OUTLIER_FRACTION from the baseline, or
    below the floor of their kind of part (PRICE_FLOORS_USD), are stored with
    ``suspect=True`` and are not used until an admin accepts them. A price away from the
    baseline (but above the floor) also counts once it has been seen again and again at
    the same level over at least PRICE_CONFIRM_HOURS: the observation that completes that
    span confirms the latest suspect one. Reference prices from the seed skip the guard.
    """
    amount = to_amount(amount)
    currency = currency.upper()
    suspect, baseline, confirms = False, None, None
    if origin != PriceObservation.Origin.REFERENCE:
        baseline = baseline_for(offer, currency)
        if below_floor(offer, amount, currency) is not None:
            suspect = True
        elif baseline is not None and _deviates(
            amount, baseline, conf.get("PRICE_OUTLIER_FRACTION")
        ):
            when = observed_at or timezone.now()
            confirms = _confirmed_suspect(offer, amount, currency, when)
            suspect = confirms is None
    extra = {"observed_at": observed_at} if observed_at else {}
    return PriceObservation.objects.create(
        offer=offer,
        amount=amount,
        currency=currency,
        in_stock=in_stock,
        origin=origin,
        source_text=source_text[:2000],
        method=method,
        item_count=item_count,
        suspect=suspect,
        baseline_amount=baseline,
        confirms=confirms,
        created_by=created_by,
        **extra,
    )


def observations_review(
    observations: Iterable[PriceObservation], *, decision: str, reviewed_by=None, note: str = ""
) -> int:
    """Record an admin's decision on suspect prices; returns how many were decided."""
    count = 0
    with transaction.atomic():
        for observation in observations:
            if not observation.suspect:
                continue
            _, created = PriceReview.objects.get_or_create(
                observation=observation,
                defaults={"decision": decision, "reviewed_by": reviewed_by, "note": note},
            )
            count += created
    return count
