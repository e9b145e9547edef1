"""Prices that make no sense never reach the rankings on their own: a loopback shop
serves a negative price, a $3,499 card at $5 and a $220 card at $1, scraped again and
again through the real fetcher and extractors."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from pricing.current import current_price
from pricing.models import PriceObservation, PriceReview, ScrapeAttempt
from pricing.observations import observation_add, observations_review
from pricing.refresh import offer_refresh
from tests.pricing.helpers import add_price, make_offer, make_part, make_retailer, make_run

pytestmark = pytest.mark.django_db


def product_at(price: str) -> str:
    return (
        '<script type="application/ld+json">{"@type": "Product", "name": "A card", '
        f'"offers": {{"@type": "Offer", "price": "{price}", "priceCurrency": "USD", '
        '"availability": "https://schema.org/InStock"}}</script>'
    )


def shop_offer(site, path: str, price: str, slug: str = "nvidia-rtx-pro-6000"):
    site.page(path, body=product_at(price))
    return make_offer(make_part(slug), make_retailer(), url=site.url(path))


def scrape(offer, task_id: str) -> str:
    return offer_refresh(offer_id=offer.pk, run_id=make_run([offer]).pk, task_id=task_id)


@pytest.mark.parametrize("text", ["-5.00", "$-5.00", "-$5.00", "USD \u22125.00"])
def test_a_negative_price_is_refused_and_the_last_good_one_kept(site, text):
    site.page("/p/neg", body=f'<span class="price">{text}</span>')
    offer = make_offer(make_part(), make_retailer(price_selector=".price"), url=site.url("/p/neg"))
    add_price(offer, "1599.99", days_ago=1)
    assert scrape(offer, "neg") != "ok"
    assert not PriceObservation.objects.filter(offer=offer, amount=Decimal("5.00")).exists()
    assert "negative" in ScrapeAttempt.objects.get(offer=offer).message
    assert current_price(offer.part).amount == Decimal("1599.99")


def test_a_negative_structured_price_is_refused(site):
    offer = shop_offer(site, "/p/neg-jsonld", "-5.00")
    add_price(offer, "3499.00", days_ago=1)
    scrape(offer, "neg-jsonld")
    assert PriceObservation.objects.filter(offer=offer).count() == 1
    assert current_price(offer.part).amount == Decimal("3499.00")


def test_a_suspect_price_scraped_twice_in_a_row_stays_suspect(site):
    offer = shop_offer(site, "/p/6000", "1499.00")
    add_price(offer, "3499.00", days_ago=2)
    scrape(offer, "first")
    scrape(offer, "second")
    latest = PriceObservation.objects.filter(offer=offer)[:2]
    assert [o.suspect for o in latest] == [True, True]
    assert current_price(offer.part).amount == Decimal("3499.00")
    assert PriceObservation.objects.needs_review().count() == 2


def test_a_large_drop_seen_over_a_day_becomes_current(site):
    offer = shop_offer(site, "/p/6000", "1499.00")
    add_price(offer, "3499.00", days_ago=3)
    add_price(offer, "1499.00", days_ago=1.01, suspect=True)
    assert current_price(offer.part).amount == Decimal("3499.00")
    scrape(offer, "a-day-later")
    newest = PriceObservation.objects.filter(offer=offer).first()
    assert not newest.suspect and newest.confirms.amount == Decimal("1499.00")
    assert current_price(offer.part).amount == Decimal("1499.00")


@pytest.mark.parametrize(("price", "was"), [("5.00", "3499.00"), ("1.00", "220.00")])
def test_a_placeholder_below_the_floor_waits_for_an_admin_however_often_seen(site, price, was):
    offer = shop_offer(site, "/p/placeholder", price)
    add_price(offer, was, days_ago=5)
    for days in (3, 2, 1):
        observation_add(
            offer=offer,
            amount=price,
            currency="USD",
            origin="scrape",
            observed_at=timezone.now() - timedelta(days=days),
        )
    scrape(offer, "again")
    assert all(o.suspect for o in PriceObservation.objects.filter(amount=Decimal(price)))
    assert current_price(offer.part).amount == Decimal(was)
    newest = PriceObservation.objects.filter(offer=offer).first()
    observations_review([newest], decision=PriceReview.Decision.ACCEPTED)
    assert current_price(offer.part).amount == Decimal(price)


def test_a_first_price_below_the_floor_is_suspect_without_any_history(site):
    offer = shop_offer(site, "/p/first", "1.00", slug="some-new-gpu")
    scrape(offer, "first")
    assert PriceObservation.objects.get(offer=offer).suspect
    assert current_price(offer.part) is None


def test_the_floor_is_per_kind_of_part(site):
    def first_price(offer):
        return observation_add(offer=offer, amount="19.99", currency="USD", origin="scrape")

    cooler = make_offer(make_part("a-cooler", kind="cooler"), make_retailer("cool-shop"))
    assert not first_price(cooler).suspect
    gpu = make_offer(make_part("a-gpu"), make_retailer("gpu-shop"))
    assert first_price(gpu).suspect


def product_block_then_selector(block: str) -> str:
    return (
        f'<script type="application/ld+json">{block}</script><span class="price">$1,499.00</span>'
    )


HOSTILE_BLOCKS = {
    "price list": '{"@type": "Product", "offers": {"@type": "Offer", "price": [1, 2]}}',
    "price object": '{"@type": "Product", "offers": {"@type": "Offer", "price": {"v": 1}}}',
    "5,000 digits": '{"@type": "Offer", "price": ' + "9" * 5000 + "}",
    "deep nesting": '{"@type": "Offer", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
}


@pytest.mark.parametrize("name", HOSTILE_BLOCKS)
def test_a_hostile_structured_price_is_skipped_for_the_page_price(site, name):
    site.page("/p/hostile", body=product_block_then_selector(HOSTILE_BLOCKS[name]))
    retailer = make_retailer(price_selector=".price")
    offer = make_offer(make_part("a-card"), retailer, url=site.url("/p/hostile"))
    add_price(offer, "1499.00", days_ago=1)
    assert scrape(offer, "hostile") == "ok"
    newest = PriceObservation.objects.filter(offer=offer).first()
    assert (newest.amount, newest.method) == (Decimal("1499.00"), "selector")
