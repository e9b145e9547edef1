"""The build page: parts table, estimate, charts, swapping parts; and comparing builds."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.urls import reverse

from tests.web.conftest import LLAMA_70B

pytestmark = pytest.mark.usefixtures("seeded")

HX = {"HTTP_HX_REQUEST": "true"}
WORKLOAD = {"model": LLAMA_70B, "quant": "Q4_K_M", "min_tps": "10"}


def top_build_urls(client, count: int = 1) -> list[str]:
    html = client.get(reverse("home"), WORKLOAD).content.decode()
    urls = re.findall(r'href="(/build/\?parts=[^"]+)" class="build-link"', html)
    return [url.replace("&amp;", "&") for url in urls[:count]]


def test_it_lists_every_feasibility_rule_with_its_status(client):
    html = client.get(top_build_urls(client)[0]).content.decode()
    rules = dict(re.findall(r'data-rule="([a-z_]+)" data-status="([a-z]+)"', html))
    assert {"cpu_socket", "psu_watts", "gpu_slots", "tensor_parallel"} <= set(rules)
    assert set(rules.values()) <= {"pass", "warn", "unknown"}


def chart(html: str, chart_id: str) -> dict:
    match = re.search(rf'<script id="{chart_id}" type="application/json">(.*?)</script>', html)
    assert match, f"no chart {chart_id}"
    return json.loads(match.group(1))


def test_it_shows_the_parts_prices_and_estimate(client):
    response = client.get(top_build_urls(client)[0])
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert 'id="build-total"' in html and "Prices as of" in html
    assert "Reference price" in html and "days old" in html
    assert "Bottleneck:" in html and "tokens/s" in html
    assert "Electricity per million tokens" in html and "Break-even vs cloud" in html
    assert html.count('name="slot"') == html.count('name="qty"') >= 5
    assert 'action="/share/"' in html and 'name="csrfmiddlewaretoken"' in html
    assert "HX-Request" in response["Vary"]


def test_it_draws_memory_time_context_users_and_price_history_charts(client):
    html = client.get(top_build_urls(client)[0]).content.decode()
    memory = chart(html, "chart-memory")
    assert memory["type"] == "bar" and memory["data"]["labels"][0].startswith("GPU 0")
    time = chart(html, "chart-time")
    assert sum(d["data"][0] for d in time["data"]["datasets"]) > 0
    context = chart(html, "chart-context")
    speeds = [v for v in context["data"]["datasets"][0]["data"] if v is not None]
    assert len(speeds) >= 4 and speeds == sorted(speeds, reverse=True)
    users = chart(html, "chart-batch")
    assert users["data"]["labels"][:3] == ["1", "2", "4"]
    # One (reference) price per part: the chart waits for a second observation.
    assert "a chart appears with the second" in html
    assert 'src="/static/vendor/chartjs/chart-4.6.1.umd.min.js"' in html


def test_it_answers_htmx_with_the_build_fragment(client):
    response = client.get(top_build_urls(client)[0], **HX)
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="build-main">')


def test_it_swaps_a_part_by_redirecting_to_the_new_build(client):
    url = top_build_urls(client)[0]
    html = client.get(url).content.decode()
    slots = re.findall(
        r'<select name="slot" id="slot-\d+">.*?<option value="([^"]+)"[^>]*selected', html, re.S
    )
    quantities = re.findall(r'name="qty" id="qty-\d+" value="(\d+)"', html)
    gpu_options = re.findall(r'<option value="(nvidia-[^"]+)"', html)
    swapped = [gpu_options[0], *slots[1:]]
    params = parse_qs(urlparse(url).query)
    query = {k: v[0] for k, v in params.items() if k != "parts"}
    swap = {**query, "parts": params["parts"][0], "slot": swapped, "qty": quantities}
    response = client.get(reverse("build_detail"), swap)
    assert response.status_code == 302
    assert gpu_options[0] in parse_qs(urlparse(response["Location"]).query)["parts"][0]

    fragment = client.get(reverse("build_detail"), swap, **HX)
    assert fragment.status_code == 200
    assert gpu_options[0] in fragment["HX-Push-Url"]
    assert "<html" not in fragment.content.decode()
    assert json.loads(fragment["HX-Trigger"])["rigrank:title"]["title"].endswith("— RigRank")

    tampered = {**swap, "slot": ["not-a-part", *slots[1:]]}
    broken = client.get(reverse("build_detail"), tampered, **HX)
    assert broken.status_code == 200  # htmx swaps only 2xx: the message replaces the build
    assert "not-a-part" in broken.content.decode() and "<html" not in broken.content.decode()
    assert client.get(reverse("build_detail"), tampered).status_code == 302


def test_it_drops_a_line_with_quantity_zero_and_changes_the_estimate(client):
    url = top_build_urls(client)[0]
    html = client.get(url).content.decode()
    slots = re.findall(
        r'<select name="slot" id="slot-\d+">.*?<option value="([^"]+)"[^>]*selected', html, re.S
    )
    quantities = re.findall(r'name="qty" id="qty-\d+" value="(\d+)"', html)
    params = parse_qs(urlparse(url).query)
    query = {k: v[0] for k, v in params.items() if k != "parts"}
    quantities[0] = str(int(quantities[0]) + 1)  # one more GPU
    more = client.get(reverse("build_detail"), {**query, "slot": slots, "qty": quantities})
    after = client.get(more["Location"]).content.decode()
    total = re.compile(r'id="build-total" data-total="([^"]+)"')
    assert total.search(after).group(1) != total.search(html).group(1)


def test_it_explains_an_unknown_part_instead_of_failing(client):
    response = client.get(reverse("build_detail"), {**WORKLOAD, "parts": "no-such-part:2"})
    assert response.status_code == 400
    assert "no-such-part" in response.content.decode()


def test_it_explains_a_bad_workload_on_the_build_page(client):
    url = top_build_urls(client)[0] + "&context=99999999"
    response = client.get(url)
    assert response.status_code == 400
    assert "context must be from 1 to 131,072" in response.content.decode()


def test_it_compares_two_to_four_builds(client):
    urls = top_build_urls(client, 3)
    keys = [parse_qs(urlparse(u).query)["parts"][0] for u in urls]
    response = client.get(reverse("compare") + "?" + urlencode({**WORKLOAD, "b": keys}, doseq=True))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="card compare-card"') == 3
    assert all(f'<span class="rank">#{i}</span>' in html for i in (1, 2, 3))
    assert "Prices as of" in html
    assert chart(html, "chart-compare")["data"]["labels"] == ["#1", "#2", "#3"]


def test_it_asks_for_two_to_four_builds_to_compare(client):
    key = parse_qs(urlparse(top_build_urls(client)[0]).query)["parts"][0]
    response = client.get(reverse("compare"), {**WORKLOAD, "b": key})
    assert response.status_code == 400
    assert "Choose 2 to 4 builds" in response.content.decode()


def test_it_links_each_priced_part_to_its_offer(client):
    from pricing.models import Offer, PriceObservation, Retailer
    from pricing.observations import observation_add

    url = top_build_urls(client)[0]
    slug = parse_qs(urlparse(url).query)["parts"][0].split(",")[0].split(":")[0]
    reference = Offer.objects.get(part__slug=slug)
    amount = reference.observations.get().amount - 10
    offer = Offer.objects.create(
        part=reference.part,
        retailer=Retailer.objects.get(name="Newegg"),
        url="https://www.newegg.com/p/example-offer",
        condition=reference.part.condition,
    )
    observation_add(
        offer=offer, amount=amount, currency="USD", origin=PriceObservation.Origin.MANUAL
    )
    html = client.get(url).content.decode()
    row = re.search(rf'<tr data-slug="{slug}">(.*?)</tr>', html, re.S).group(1)
    assert 'href="https://www.newegg.com/p/example-offer"' in row and ">Newegg</a>" in row
    assert "entered by hand" in row
