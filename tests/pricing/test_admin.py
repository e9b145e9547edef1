"""The pricing admin: offers on parts, history, manual prices, review, selector testing."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from catalog.models import Gpu, Part
from pricing.admin import OfferInline, attach_offer_inline
from pricing.current import current_price
from pricing.models import Offer, PriceObservation, PriceReview, RefreshRun, Retailer
from tests.pricing.helpers import add_price, make_offer, make_part, make_retailer

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(site):
    site.page("/p/4090", "jsonld_product.html")
    offer = make_offer(make_part(), make_retailer(), url=site.url("/p/4090"))
    add_price(offer, "1599.99", days_ago=2)
    return offer


def test_every_part_admin_shows_the_offers_inline_on_existing_parts(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    part = make_part()
    for model, model_admin in admin.site._registry.items():
        if issubclass(model, Part):
            assert OfferInline in model_admin.get_inlines(request, part), model
            assert OfferInline not in model_admin.get_inlines(request, None), model


def test_the_inline_attaches_to_any_site_registering_parts(rf):
    site = admin.AdminSite(name="other")
    site.register(Part)
    attach_offer_inline(site)
    attach_offer_inline(site)  # twice is harmless
    assert site._registry[Part].get_inlines(rf.get("/"), Part(pk=1)) == [OfferInline]


def test_a_gpus_admin_page_lists_its_offers(admin_client, site):
    gpu = Gpu.objects.create(
        slug="nvidia-rtx-4090-test",
        brand="NVIDIA",
        name="RTX 4090",
        spec_source="https://www.techpowerup.com/gpu-specs/",
        vram_gb=24,
        bandwidth_gbs=1008,
    )
    offer = make_offer(gpu, make_retailer(), url=site.url("/p/4090"))
    add_price(offer, "1599.99")
    page = admin_client.get(reverse("admin:catalog_gpu_change", args=[gpu.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert site.url("/p/4090") in html
    assert "1,599.99 USD" in html


def test_the_offer_page_shows_price_history_and_attempts(admin_client, offer):
    from pricing.refresh import offer_refresh
    from pricing.runs import run_create

    run = run_create(offers=[offer], trigger=RefreshRun.Trigger.ADMIN)
    offer_refresh(offer_id=offer.pk, run_id=run.pk, task_id="t")
    page = admin_client.get(reverse("admin:pricing_offer_change", args=[offer.pk]))
    html = page.content.decode()
    assert "price history" in html.lower()
    assert html.count("1,599.99 USD") >= 2
    assert "Offer price: 1599.99 USD" in html
    assert "recent attempts" in html.lower() and ">OK<" in html


def manual_price_post(offer, amount: str) -> dict:
    prefix = "observations"
    return {
        "part": offer.part_id,
        "retailer": offer.retailer_id,
        "url": offer.url,
        "page_kind": offer.page_kind,
        "condition": offer.condition,
        "active": "on",
        "notes": "",
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        f"{prefix}-0-amount": amount,
        f"{prefix}-0-currency": "",
        f"{prefix}-0-in_stock": "true",
        f"{prefix}-0-source_text": "phoned the shop",
    }


def test_an_admin_adds_a_manual_price_as_new_history(admin_client, admin_user, offer):
    url = reverse("admin:pricing_offer_change", args=[offer.pk])
    response = admin_client.post(url, manual_price_post(offer, "1549.00"))
    assert response.status_code == 302, response.content.decode()[:3000]
    manual = PriceObservation.objects.get(origin="manual")
    assert (manual.amount, manual.currency, manual.created_by, manual.suspect) == (
        Decimal("1549.00"),
        "USD",
        admin_user,
        False,
    )
    assert PriceObservation.objects.count() == 2
    assert current_price(offer.part).amount == Decimal("1549.00")


def test_a_typo_in_a_manual_price_is_held_as_suspect(admin_client, offer):
    url = reverse("admin:pricing_offer_change", args=[offer.pk])
    response = admin_client.post(url, manual_price_post(offer, "15490.00"), follow=True)
    assert "stored as suspect" in response.content.decode()
    assert current_price(offer.part).amount == Decimal("1599.99")


def test_suspect_prices_are_listed_for_review_and_accepted_by_an_action(admin_client, offer):
    suspect = add_price(offer, "699.00", days_ago=1, suspect=True)
    changelist = reverse("admin:pricing_suspectprice_changelist")
    assert "699.00 USD" in admin_client.get(changelist).content.decode()
    admin_client.post(changelist, {"action": "accept", "_selected_action": [suspect.pk]})
    assert PriceReview.objects.get(observation=suspect).decision == "accepted"
    assert current_price(offer.part).amount == Decimal("699.00")
    assert "699.00 USD" not in admin_client.get(changelist).content.decode()


def test_the_retailer_page_links_to_the_selector_test(admin_client):
    retailer = make_retailer()
    page = admin_client.get(reverse("admin:pricing_retailer_change", args=[retailer.pk]))
    assert reverse("admin:pricing_retailer_test", args=[retailer.pk]) in page.content.decode()


def test_testing_selectors_on_a_url_shows_what_each_extractor_reads(admin_client, site):
    retailer = make_retailer(price_selector=".price-box")
    url = site.page("/p/psu", "selector_only.html")
    test_url = reverse("admin:pricing_retailer_test", args=[retailer.pk])
    form = admin_client.get(test_url).content.decode()
    assert 'value=".price-box"' in form
    response = admin_client.post(
        test_url, {"url": url, "price_selector": ".price-box .now", "condition": ""}
    )
    html = response.content.decode()
    assert "Result: 399.00 USD" in html
    assert "no itemprop" in html  # why microdata found nothing
    assert not PriceObservation.objects.exists()
    retailer.refresh_from_db()
    assert retailer.price_selector == ".price-box"  # nothing saved


def test_invalid_selectors_are_refused_with_a_message(admin_client):
    retailer = make_retailer()
    data = {
        "name": retailer.name,
        "slug": retailer.slug,
        "currency": "USD",
        "decimal_separator": ".",
        "request_interval_s": "10",
        "price_selector": "div[[",
    }
    response = admin_client.post(reverse("admin:pricing_retailer_change", args=[retailer.pk]), data)
    assert "Not a valid CSS selector" in response.content.decode()
    assert Retailer.objects.get(pk=retailer.pk).price_selector == ""


def test_offer_urls_are_checked_against_the_retailer(admin_client):
    shop = make_retailer("newegg", domain="newegg.com")
    offer = Offer(part=make_part(), retailer=shop, url="https://evil.example/p", condition="new")
    with pytest.raises(Exception) as error:
        offer.full_clean()
    assert "not on newegg.com" in str(error.value)
    reference = make_retailer("reference", is_reference=True)
    with pytest.raises(Exception) as error:
        Offer(part=offer.part, retailer=reference, url="https://x.example/").full_clean()
    assert "Reference offers have no URL" in str(error.value)


def test_the_refresh_action_starts_a_run_and_shows_its_page(
    admin_client, offer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:pricing_offer_changelist"),
            {"action": "refresh_now", "_selected_action": [offer.pk]},
        )
    run = RefreshRun.objects.get()
    assert response.url == reverse("pricing:run", args=[run.pk])
    run.refresh_from_db()
    assert (run.trigger, run.total, run.done, run.is_finished) == ("admin", 1, 1, True)


def test_offer_and_run_lists_have_the_refresh_now_button(admin_client, offer):
    for name in ("admin:pricing_offer_changelist", "admin:pricing_refreshrun_changelist"):
        html = admin_client.get(reverse(name)).content.decode()
        assert "Refresh prices now" in html
        assert reverse("pricing:run_new") in html


@pytest.mark.parametrize(
    "name",
    [
        "admin:pricing_retailer_changelist",
        "admin:pricing_offer_changelist",
        "admin:pricing_priceobservation_changelist",
        "admin:pricing_suspectprice_changelist",
        "admin:pricing_scrapeattempt_changelist",
        "admin:pricing_exchangerate_changelist",
        "admin:pricing_refreshrun_changelist",
        "admin:pricing_retailer_add",
        "admin:pricing_offer_add",
        "admin:pricing_exchangerate_add",
    ],
)
def test_every_pricing_admin_page_renders(admin_client, offer, name):
    assert admin_client.get(reverse(name)).status_code == 200


def test_adding_a_part_is_unchanged_offers_come_once_it_exists(admin_client):
    html = admin_client.get(reverse("admin:catalog_gpu_add")).content.decode()
    assert "offers-TOTAL_FORMS" not in html


def test_a_manual_price_below_the_floor_says_why_it_waits(admin_client, offer):
    url = reverse("admin:pricing_offer_change", args=[offer.pk])
    response = admin_client.post(url, manual_price_post(offer, "9.99"), follow=True)
    html = response.content.decode()
    assert "is below the floor for a GPU / accelerator (40.00 USD)" in html
    assert current_price(offer.part).amount == Decimal("1599.99")
