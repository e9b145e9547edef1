"""Results are cached by query, catalogue and prices: the same query is served from the
cache, any part, model or price change gives fresh results, each reader gets their own
CSRF token, and after a change the default and most requested queries are rendered again."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client

from catalog.models import LlmModel, Part
from configurator import results_cache
from pricing.current import current_price
from pricing.models import Offer
from pricing.observations import observation_add
from tests.web.conftest import LLAMA_70B

pytestmark = pytest.mark.usefixtures("seeded")

QUERY = {"model": LLAMA_70B, "quant": "Q4_K_M", "min_tps": "10"}
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def fresh_versions():
    # An empty cache: the test process's cache has a size limit and culls a third of its
    # entries when full, which after hundreds of other tests could drop a page these
    # tests just rendered.
    cache.clear()
    results_cache.forget_version()
    yield
    results_cache.forget_version()


def token_of(html: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def first_card_total(html: str) -> str:
    return re.search(r'class="build-link">[^<]+</a>.*?(\$[\d,]+)', html, re.S).group(1)


def test_the_same_query_is_served_from_the_cache(client):
    first = client.get("/", QUERY)
    again = client.get("/", {k: QUERY[k] for k in reversed(QUERY)})  # other order, same query
    assert first.status_code == again.status_code == 200
    assert "X-Results-Cache" not in first
    assert again["X-Results-Cache"] == "hit"
    strip = re.compile(r'"X-CSRFToken": "[^"]+"|name="csrfmiddlewaretoken" value="[^"]+"')
    assert strip.sub("", first.content.decode()) == strip.sub("", again.content.decode())
    fragment = client.get("/", QUERY, **HX)
    assert "X-Results-Cache" not in fragment  # the fragment is its own entry
    assert client.get("/", QUERY, **HX)["X-Results-Cache"] == "hit"
    assert client.get("/", QUERY, **HX)["HX-Push-Url"] == fragment["HX-Push-Url"]


def test_every_reader_gets_their_own_csrf_token(client):
    client.get("/", QUERY)
    other = Client()
    cached = other.get("/", QUERY)
    assert cached["X-Results-Cache"] == "hit"
    html = cached.content.decode()
    assert results_cache.CSRF_PLACEHOLDER not in html
    assert token_of(html) != token_of(client.get("/", QUERY).content.decode())
    assert other.cookies["csrftoken"].value  # the token matches this reader's cookie


def test_a_price_change_gives_fresh_results(client):
    html = client.get("/", QUERY).content.decode()
    slug = re.search(r'href="/build/\?parts=([^":%&]+)', html).group(1)
    price = current_price(Part.objects.get(slug=slug))
    cheaper = price.original_amount - 50
    offer = Offer.objects.get(pk=price.offer_id)
    observation_add(offer=offer, amount=cheaper, currency=price.original_currency, origin="manual")
    fresh = client.get("/", QUERY)
    assert "X-Results-Cache" not in fresh
    assert first_card_total(fresh.content.decode()) != first_card_total(html)


def test_a_part_or_model_edit_gives_fresh_results(client):
    client.get("/", QUERY)
    assert client.get("/", QUERY)["X-Results-Cache"] == "hit"
    part = Part.objects.filter(kind="gpu").first()
    part.notes = "edited by an admin"
    part.save()
    assert "X-Results-Cache" not in client.get("/", QUERY)
    assert client.get("/", QUERY)["X-Results-Cache"] == "hit"
    model = LlmModel.objects.get(slug=LLAMA_70B)
    model.license = model.license + " "
    model.save()
    assert "X-Results-Cache" not in client.get("/", QUERY)


def test_the_api_is_cached_the_same_way(client):
    first = client.get("/api/builds", QUERY)
    again = client.get("/api/builds", QUERY)
    assert again["X-Results-Cache"] == "hit"
    assert again.json() == first.json()
    assert again["Content-Type"].startswith("application/json")


def test_bad_input_is_never_cached(client):
    for _ in range(2):
        response = client.get("/", {**QUERY, "budget": "-5"})
        assert response.status_code == 400
        assert "X-Results-Cache" not in response


def test_after_a_change_the_default_and_most_requested_queries_are_rendered_again(client):
    popular = {"model": "8b", "min_tps": "20"}
    # Counts of earlier tests' queries live on in this process; only this test's count.
    with results_cache._counts_lock:
        results_cache._counts.clear()
    for _ in range(3):
        client.get("/", popular)
    part = Part.objects.filter(kind="gpu").first()
    part.notes = "a change"
    part.save()
    results_cache.forget_version()
    rendered = results_cache.results_warm()
    assert rendered >= 4  # default page, its fragment, the default API answer, the popular one
    assert client.get("/", popular)["X-Results-Cache"] == "hit"
    default = client.get(f"/?{results_cache.default_query()}")
    assert default["X-Results-Cache"] == "hit"
