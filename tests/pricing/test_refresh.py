"""Refreshing offers: observations appended, idempotent re-runs, the outlier guard."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from pricing.current import current_price
from pricing.models import Offer, PriceObservation, PriceReview, ScrapeAttempt
from pricing.observations import observation_add, observations_review
from pricing.refresh import offer_refresh
from pricing.tasks import refresh_offer
from tests.pricing.helpers import add_price, make_offer, make_part, make_retailer, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(site):
    site.page("/p/4090", "jsonld_product.html")
    return make_offer(make_part(), make_retailer(), url=site.url("/p/4090"))


def refresh(offer, run=None, task_id="task-1"):
    run = run or make_run([offer])
    return offer_refresh(offer_id=offer.pk, run_id=run.pk, task_id=task_id), run


def test_it_appends_a_scraped_observation_with_its_source(offer):
    outcome, run = refresh(offer)
    assert outcome == "ok"
    obs = PriceObservation.objects.get(offer=offer)
    assert (obs.amount, obs.currency, obs.in_stock, obs.origin) == (
        Decimal("1599.99"),
        "USD",
        True,
        "scrape",
    )
    assert obs.method == "json-ld"
    assert "1599.99" in obs.source_text
    assert not obs.suspect
    attempt = ScrapeAttempt.objects.get(run=run)
    assert (attempt.outcome, attempt.http_status, attempt.observation) == ("ok", 200, obs)
    offer.refresh_from_db()
    assert offer.last_success_at == offer.last_checked_at
    assert offer.next_check_at > timezone.now() + timedelta(hours=23)
    assert (offer.consecutive_failures, offer.lease_task) == (0, "")
    price = current_price(offer.part)
    assert (price.amount, price.origin, price.retailer) == (
        Decimal("1599.99"),
        "scrape",
        "Test Shop",
    )


def test_running_the_same_task_twice_records_once(offer, site):
    _, run = refresh(offer)
    again, _ = refresh(offer, run)
    assert again == "duplicate"
    assert PriceObservation.objects.filter(offer=offer).count() == 1
    assert ScrapeAttempt.objects.filter(offer=offer).count() == 1
    assert len(site.hits("/p/4090")) == 1
    run.refresh_from_db()
    assert (run.done, run.total) == (1, 1)


def test_a_task_redelivered_after_its_worker_died_mid_fetch_takes_its_lease_back(offer):
    run = make_run([offer])
    # The first delivery claimed the offer and died before recording anything.
    Offer.objects.filter(pk=offer.pk).update(
        lease_task="task-1", lease_until=timezone.now() + timedelta(minutes=4)
    )
    outcome, _ = refresh(offer, run, task_id="task-1")
    assert outcome == "ok"
    assert PriceObservation.objects.filter(offer=offer).count() == 1


def test_another_task_holding_the_lease_means_skip_not_fetch(offer, site):
    run = make_run([offer])
    Offer.objects.filter(pk=offer.pk).update(
        lease_task="someone-else", lease_until=timezone.now() + timedelta(minutes=4)
    )
    outcome, _ = refresh(offer, run, task_id="task-2")
    assert outcome == "skipped"
    assert "another task" in ScrapeAttempt.objects.get(run=run).message
    assert site.hits("/p/4090") == []
    run.refresh_from_db()
    assert (run.skipped, run.is_finished) == (1, True)


def test_an_offer_refreshed_after_the_run_started_is_not_fetched_again(offer, site):
    older_run = make_run([offer])
    refresh(offer)  # a newer run got there first
    outcome, _ = refresh(offer, older_run, task_id="task-old")
    assert outcome == "skipped"
    assert len(site.hits("/p/4090")) == 1


def test_unscrapeable_offers_are_skipped_with_the_reason(offer):
    offer.retailer.scrape_enabled = False
    offer.retailer.save()
    outcome, run = refresh(offer)
    assert outcome == "skipped"
    assert "scraping is disabled" in ScrapeAttempt.objects.get(run=run).message


def test_the_task_returns_the_outcome_and_never_raises_on_a_bad_page(site):
    site.page("/p/nothing", "no_price.html")
    offer = make_offer(make_part(), make_retailer(), url=site.url("/p/nothing"))
    run = make_run([offer])
    result = refresh_offer.apply(args=(offer.pk, run.pk))
    assert result.successful()
    assert result.get() == "no_price"


def test_a_deleted_offer_does_not_leave_its_run_waiting(offer):
    run = make_run([offer])
    offer.delete()
    assert refresh_offer.apply(args=(offer.pk, run.pk)).get() == "gone"
    run.refresh_from_db()
    assert run.is_finished


# --- outlier guard ---------------------------------------------------------------------------


def test_a_price_far_from_the_recent_median_is_stored_as_suspect_and_not_used(offer, site):
    for days, amount in [(3, "1619.99"), (2, "1599.99"), (1, "1609.99")]:
        add_price(offer, amount, days_ago=days)
    site.page("/p/4090", body=_product_at("159.99"))  # a misplaced decimal point
    refresh(offer)
    newest = PriceObservation.objects.filter(offer=offer).first()
    assert (newest.amount, newest.suspect, newest.baseline_amount) == (
        Decimal("159.99"),
        True,
        Decimal("1609.99"),
    )
    assert current_price(offer.part).amount == Decimal("1609.99")
    assert list(PriceObservation.objects.needs_review()) == [newest]


def test_an_admin_accepting_a_suspect_price_makes_it_current(offer, site):
    add_price(offer, "1599.99", days_ago=1)
    site.page("/p/4090", body=_product_at("699.00"))  # a real Black Friday deal
    refresh(offer)
    suspect = PriceObservation.objects.get(suspect=True)
    assert current_price(offer.part).amount == Decimal("1599.99")
    assert observations_review([suspect], decision=PriceReview.Decision.ACCEPTED) == 1
    assert current_price(offer.part).amount == Decimal("699.00")
    assert not PriceObservation.objects.needs_review().exists()


def test_scrapes_at_the_same_price_a_day_apart_confirm_the_suspect_one(offer, site):
    add_price(offer, "1599.99", days_ago=3)
    add_price(offer, "699.00", days_ago=1.1, suspect=True)  # yesterday's scrape
    site.page("/p/4090", body=_product_at("699.00"))
    refresh(offer, task_id="today")
    confirming = PriceObservation.objects.first()
    assert not confirming.suspect
    assert confirming.confirms.suspect
    assert current_price(offer.part).amount == Decimal("699.00")
    assert not PriceObservation.objects.needs_review().exists()


def test_a_rejected_suspect_price_is_not_confirmed_by_repeating_it(offer):
    add_price(offer, "1599.99", days_ago=2)
    first = observation_add(offer=offer, amount="15.99", currency="USD", origin="scrape")
    observations_review([first], decision=PriceReview.Decision.REJECTED)
    second = observation_add(offer=offer, amount="15.99", currency="USD", origin="scrape")
    assert second.suspect and second.confirms is None
    assert current_price(offer.part).amount == Decimal("1599.99")


def test_a_first_scrape_is_compared_with_the_parts_price_elsewhere(offer):
    reference = make_offer(offer.part, make_retailer("reference", is_reference=True))
    add_price(reference, "1599.00", origin="reference", in_stock=None)
    cable = observation_add(offer=offer, amount="14.99", currency="USD", origin="scrape")
    fair = observation_add(offer=offer, amount="1549.00", currency="USD", origin="scrape")
    assert cable.suspect and cable.baseline_amount == Decimal("1599.00")
    assert not fair.suspect


def test_manual_prices_go_through_the_guard_and_reference_prices_do_not(offer):
    add_price(offer, "1599.99")
    typo = observation_add(offer=offer, amount="15999.00", currency="USD", origin="manual")
    seed = observation_add(offer=offer, amount="15999.00", currency="USD", origin="reference")
    assert typo.suspect and not seed.suspect


def test_the_outlier_fraction_is_configurable(offer, settings):
    add_price(offer, "1000.00")
    settings.PRICE_OUTLIER_FRACTION = 0.2
    assert observation_add(offer=offer, amount="1250.00", currency="USD", origin="scrape").suspect
    settings.PRICE_OUTLIER_FRACTION = 0.3
    assert not observation_add(
        offer=offer, amount="1250.00", currency="USD", origin="manual"
    ).suspect


def _product_at(price: str) -> str:
    return (
        '<script type="application/ld+json">{"@type": "Product", "name": "RTX 4090", '
        f'"offers": {{"@type": "Offer", "price": "{price}", "priceCurrency": "USD", '
        '"availability": "https://schema.org/InStock"}}</script>'
    )
