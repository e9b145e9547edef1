"""The Django side: recommendations from the database, priced by the pricing app, and a
cached catalogue snapshot that follows admin edits and new prices."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from catalog.models import Gpu, Part
from configurator import adapters
from configurator.forms import RecommendForm
from configurator.recommend import evaluate_build, recommend
from pricing.current import current_prices
from pricing.models import Offer, PriceObservation

pytestmark = pytest.mark.django_db


def request_for(**params):
    form = RecommendForm({k: str(v) for k, v in params.items()})
    assert form.is_valid(), form.errors
    return form.build_request()


def test_prices_in_builds_are_the_pricing_apps_current_prices(seeded):
    rec = recommend(request_for(min_tps=10))
    assert rec.builds
    slugs = {line.slug for b in rec.builds for line in b.lines}
    parts = {p.slug: p for p in Part.objects.filter(slug__in=slugs)}
    prices = current_prices(parts.values())
    for build in rec.builds:
        for line in build.lines:
            current = prices[parts[line.slug].pk]
            assert line.unit_price == current.amount
            assert line.currency == current.currency
            assert line.origin == current.origin
            assert line.age_days == current.age_days
            assert line.stale == current.stale
        assert build.total == sum(line.unit_price * line.qty for line in build.lines)
    assert rec.prices_as_of


def test_the_must_hold_cases_hold_on_the_loaded_catalogue(seeded):
    rec = recommend(request_for(model="llama-3-1-70b-instruct", quant="Q4_K_M", min_tps=10))
    two_gpu_towers = [
        i
        for i, b in enumerate(rec.builds, start=1)
        if b.architecture == "GPU tower"
        and [line.qty for line in b.lines if line.kind == "gpu"] == [2]
    ]
    assert two_gpu_towers and two_gpu_towers[0] <= 3
    assert any("GB more VRAM" in n.reason for n in rec.near_misses)
    big = recommend(request_for(model="llama-3-1-405b-instruct", quant="Q6_K", min_tps=1))
    assert big.builds[0].architecture == "CPU server"
    assert 1 <= big.builds[0].tokens_per_s <= 2.5


def test_a_new_price_reaches_the_next_recommendation(seeded):
    request = request_for(min_tps=10)
    before = recommend(request).builds[0]
    line = next(line for line in before.lines if line.kind == "gpu")
    offer = Offer.objects.filter(part__slug=line.slug).first()
    PriceObservation.objects.create(
        offer=offer,
        amount=line.unit_price - Decimal("100.00"),
        currency=line.currency,
        in_stock=True,
        origin=PriceObservation.Origin.MANUAL,
        source_text="test",
    )
    after = recommend(request)
    again = next(b for b in after.builds if b.key == before.key)
    new_line = next(x for x in again.lines if x.slug == line.slug)
    assert new_line.unit_price == line.unit_price - Decimal("100.00")
    assert new_line.origin == "manual"
    assert again.total == before.total - 100 * line.qty


def test_an_admin_edit_of_a_part_reaches_the_next_snapshot(seeded):
    first = adapters.catalogue()
    gpu = Gpu.objects.get(slug="nvidia-geforce-rtx-3090-used")
    gpu.name = "GeForce RTX 3090 (used, edited)"
    gpu.save()
    second = adapters.catalogue()
    assert second is not first
    assert second.get(gpu.slug).name == "GeForce RTX 3090 (used, edited)"
    Part.objects.filter(slug="nvidia-tesla-p40-used").delete()
    assert adapters.catalogue().get("nvidia-tesla-p40-used") is None


def test_the_snapshot_is_reused_until_something_changes(seeded, django_assert_max_num_queries):
    first = adapters.catalogue()
    with django_assert_max_num_queries(3):
        assert adapters.catalogue() is first
    adapters.clear_local()
    with django_assert_max_num_queries(3):
        from_cache = adapters.catalogue()
    assert from_cache.version == first.version
    assert len(from_cache) == len(first)


def test_the_snapshot_outlives_a_catalogue_worth_of_price_entries(
    seeded, django_assert_max_num_queries
):
    """Current prices are cached one entry per part: a catalogue ten times the seed's
    (2,570 parts) fills the in-process cache and culls it. The catalogue's version comes
    from the database, so the culling cannot change it, and the next request keeps the
    snapshot instead of reading the catalogue again."""
    Gpu.objects.get(slug="nvidia-geforce-rtx-3090-used").save()  # an admin edit
    first = adapters.catalogue()
    version = adapters.catalogue_version()
    cache.set_many({f"pricing:current:test:{n}": n for n in range(2570)})
    assert adapters.catalogue_version() == version
    with django_assert_max_num_queries(3):
        assert adapters.catalogue() is first


def test_a_save_of_some_fields_still_gives_a_new_snapshot(seeded):
    """``save(update_fields=...)`` leaves ``auto_now`` alone unless named: the signal
    stamps the edit time, so the version still moves."""
    first = adapters.catalogue()
    gpu = Gpu.objects.get(slug="nvidia-geforce-rtx-3090-used")
    gpu.name = "GeForce RTX 3090 (used, renamed)"
    gpu.save(update_fields=["name"])
    assert adapters.catalogue().get(gpu.slug).name == "GeForce RTX 3090 (used, renamed)"
    assert adapters.catalogue() is not first


def test_a_build_from_its_url_form_is_the_same_build(seeded):
    request = request_for(min_tps=10)
    build = recommend(request).builds[0]
    again = evaluate_build(request, build.parts_param)
    assert again.key == build.key
    assert again.total == build.total
    assert again.to_dict()["lines"] == build.to_dict()["lines"]


def test_swapping_a_part_re_estimates_the_build(seeded):
    request = request_for(min_tps=10)
    build = next(b for b in recommend(request).builds if b.architecture == "GPU tower")
    gpu = next(line for line in build.lines if line.kind == "gpu")
    swapped = build.key.replace(gpu.slug, "nvidia-geforce-rtx-4090")
    other = evaluate_build(request, swapped)
    assert "nvidia-geforce-rtx-4090" in other.key
    assert other.total != build.total
    assert other.estimate.decode_tokens_per_s != build.estimate.decode_tokens_per_s


def test_unknown_parts_raise_a_parts_error(seeded):
    with pytest.raises(ValueError, match="^parts: unknown part slug"):
        evaluate_build(request_for(), "nope:1")
