"""The one price the rest of RigRank asks for: choice, staleness, currency, caching."""

from decimal import Decimal

import pytest

from pricing.current import current_price, current_prices, prices_version
from pricing.models import ExchangeRate, Offer, PriceReview
from pricing.observations import observations_review
from tests.pricing.helpers import add_price, make_offer, make_part, make_retailer, seed_rates

pytestmark = pytest.mark.django_db


@pytest.fixture
def part():
    seed_rates()
    return make_part()


@pytest.fixture
def shops():
    return {
        "reference": make_retailer("reference", is_reference=True, scrape_enabled=False),
        "us": make_retailer("us-shop", domain="us.example"),
        "uk": make_retailer("uk-shop", domain="uk.example", currency="GBP"),
        "de": make_retailer("de-shop", domain="de.example", currency="EUR"),
    }


def offer_at(part, shop, path="/p"):
    url = "" if shop.is_reference else f"https://{shop.domain}{path}"
    return make_offer(part, shop, url)


def test_a_part_without_offers_has_no_price(part):
    assert current_price(part) is None
    assert current_prices([part]) == {}


def test_the_cheapest_fresh_in_stock_offer_wins(part, shops):
    add_price(offer_at(part, shops["us"]), "1599.99", days_ago=3)
    add_price(offer_at(part, shops["de"]), "1300.00", "EUR", days_ago=2)  # = 1529.41 USD
    add_price(offer_at(part, shops["uk"]), "1000.00", "GBP", days_ago=1, in_stock=False)
    price = current_price(part)
    assert (price.amount, price.currency) == (Decimal("1529.41"), "USD")
    assert (price.original_amount, price.original_currency) == (Decimal("1300.00"), "EUR")
    assert (price.retailer, price.origin, price.in_stock, price.stale) == (
        "De Shop",
        "scrape",
        True,
        False,
    )
    assert price.age_days == 2
    assert price.offer_url == price.url == "https://de.example/p"


def test_an_offers_latest_observation_is_its_price(part, shops):
    offer = offer_at(part, shops["us"])
    add_price(offer, "999.00", days_ago=5)  # an older, cheaper price is history
    add_price(offer, "1599.99", days_ago=1)
    assert current_price(part).amount == Decimal("1599.99")


def test_an_offer_now_out_of_stock_does_not_fall_back_to_its_old_price(part, shops):
    offer = offer_at(part, shops["us"])
    add_price(offer, "1499.00", days_ago=5)
    add_price(offer, "1599.99", days_ago=1, in_stock=False)
    assert current_price(part) is None


def test_real_fresh_prices_beat_the_reference_price(part, shops):
    add_price(offer_at(part, shops["reference"]), "1499.00", origin="reference", in_stock=None)
    add_price(offer_at(part, shops["us"]), "1599.99", days_ago=1)
    price = current_price(part)
    assert (price.amount, price.origin) == (Decimal("1599.99"), "scrape")


def test_the_reference_price_is_used_when_nothing_fresher_exists(part, shops):
    reference = offer_at(part, shops["reference"])
    add_price(reference, "1499.00", origin="reference", in_stock=None, days_ago=10)
    add_price(offer_at(part, shops["us"]), "1599.99", days_ago=45)  # stale
    price = current_price(part)
    assert (price.amount, price.origin, price.is_reference, price.stale) == (
        Decimal("1499.00"),
        "reference",
        True,
        False,
    )
    assert price.url == ""


def test_stale_prices_are_flagged_never_hidden(part, shops, settings):
    settings.PRICE_STALE_DAYS = 30
    add_price(offer_at(part, shops["us"], "/a"), "1599.99", days_ago=90)
    add_price(offer_at(part, shops["de"], "/b"), "1500.00", "EUR", days_ago=40)
    price = current_price(part)
    # All stale: the most recent one is shown, flagged.
    assert (price.original_amount, price.stale, price.age_days) == (Decimal("1500.00"), True, 40)


def test_suspect_prices_are_not_current_until_accepted(part, shops):
    offer = offer_at(part, shops["us"])
    add_price(offer, "1599.99", days_ago=2)
    suspect = add_price(offer, "15.99", days_ago=1, suspect=True)
    assert current_price(part).amount == Decimal("1599.99")
    observations_review([suspect], decision=PriceReview.Decision.ACCEPTED)
    assert current_price(part).amount == Decimal("15.99")


def test_inactive_offers_do_not_count(part, shops):
    offer = offer_at(part, shops["us"])
    add_price(offer, "1599.99")
    offer.active = False
    offer.save()
    assert current_price(part) is None


def test_prices_are_shown_in_the_display_currency(part, shops, settings):
    add_price(offer_at(part, shops["us"]), "1000.00")
    settings.DISPLAY_CURRENCY = "EUR"
    price = current_price(part)
    assert (price.amount, price.currency, price.original_currency) == (
        Decimal("850.00"),
        "EUR",
        "USD",
    )


def test_a_price_in_a_currency_without_a_rate_is_skipped_not_guessed(part, shops):
    nzd = make_retailer("nz-shop", domain="nz.example", currency="NZD")
    add_price(offer_at(part, nzd), "100.00", "NZD")
    add_price(offer_at(part, shops["us"]), "1599.99")
    assert current_price(part).amount == Decimal("1599.99")


def test_bulk_prices_take_a_few_queries_for_hundreds_of_parts(shops, django_assert_max_num_queries):
    seed_rates()
    parts = [make_part(f"part-{n}") for n in range(200)]
    for n, part in enumerate(parts):
        add_price(offer_at(part, shops["reference"]), f"{100 + n}.00", origin="reference")
        add_price(offer_at(part, shops["us"], f"/p{n}"), f"{110 + n}.00")
    with django_assert_max_num_queries(4):
        prices = current_prices(parts)
    assert len(prices) == 200
    assert prices[parts[7].pk].amount == Decimal("117.00")
    # Only the version is read now: the prices come from the cache.
    with django_assert_max_num_queries(1):
        assert current_prices([p.pk for p in parts]) == prices


def test_a_new_observation_invalidates_the_cache(part, shops):
    offer = offer_at(part, shops["us"])
    add_price(offer, "1599.99", days_ago=2)
    version = prices_version()
    assert current_price(part).amount == Decimal("1599.99")
    add_price(offer, "1549.99", days_ago=1)
    assert prices_version() != version
    assert current_price(part).amount == Decimal("1549.99")


def test_admin_edits_invalidate_the_cache(part, shops, settings):
    settings.DISPLAY_CURRENCY = "GBP"
    add_price(offer_at(part, shops["us"]), "1000.00")
    assert current_price(part).amount == Decimal("750.00")
    rate = ExchangeRate.objects.get(currency="GBP")
    rate.per_usd = Decimal("0.80")
    rate.save()
    assert current_price(part).amount == Decimal("800.00")
    Offer.objects.get(part=part).delete()
    assert current_price(part) is None


def test_scheduling_bookkeeping_does_not_invalidate_the_cache(part, shops):
    offer = offer_at(part, shops["us"])
    add_price(offer, "1599.99")
    version = prices_version()
    offer.lease_task = "t"
    offer.save(update_fields=["lease_task"])
    assert prices_version() == version


def test_the_version_names_the_day_and_the_display_currency(part):
    assert prices_version().endswith("-USD")
