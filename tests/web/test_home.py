"""The wizard on the home page: defaults, ranked results, HTMX fragments, inline errors."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from tests.web.conftest import LLAMA_70B

pytestmark = pytest.mark.usefixtures("seeded")

HX = {"HTTP_HX_REQUEST": "true"}
LLAMA_Q4_10 = {"model": LLAMA_70B, "quant": "Q4_K_M", "min_tps": "10"}


def card_titles(html: str) -> list[str]:
    return re.findall(r'class="build-link">([^<]+)</a>', html)


def field_errors(html: str) -> list[str]:
    return re.findall(r'<p class="field-error">([^<]+)</p>', html)


def test_it_shows_the_wizard_with_its_defaults(client):
    response = client.get(reverse("home"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="wizard"' in html and 'method="get"' in html
    assert 'value="llama-3-1-70b-instruct"' in html
    assert '<option value="Q4_K_M" selected>' in html
    for step in ("The model", "How you will run it", "What matters"):
        assert step in html


def test_it_labels_every_control(client):
    html = client.get(reverse("home")).content.decode()
    form = html[html.index('id="wizard"') : html.index("</form>", html.index('id="wizard"'))]
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', form)
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', form))
    assert ids and set(ids) <= labelled


def test_it_ranks_builds_for_llama_70b_on_a_full_page(client):
    response = client.get(reverse("home"), LLAMA_Q4_10)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    titles = card_titles(html)
    assert len(titles) >= 3
    assert "Prices as of" in html
    assert "Llama 3.3 70B Instruct at Q4_K_M" in html
    assert 'href="/build/?parts=' in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_it_answers_htmx_with_the_results_fragment_and_a_clean_url(client):
    response = client.get(reverse("home"), LLAMA_Q4_10, **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="results"')
    assert card_titles(html)
    # Error slots and the quantization note travel out of band to the form.
    assert 'id="id_budget_error" class="error-slot"' in html and 'hx-swap-oob="true"' in html
    assert 'id="quant-note" hx-swap-oob="true"' in html
    title = json.loads(response["HX-Trigger"])["rigrank:title"]["title"]
    assert title == "Llama 3.3 70B Instruct: ranked builds — RigRank"
    push = response["HX-Push-Url"]
    assert push.startswith("/?") and f"model={LLAMA_70B}" in push and "min_tps=10" in push


def test_it_changes_the_results_with_the_quantization(client):
    q4 = client.get(reverse("home"), LLAMA_Q4_10, **HX).content.decode()
    q8 = client.get(reverse("home"), {**LLAMA_Q4_10, "quant": "Q8_0"}, **HX).content.decode()
    prices = re.compile(r'data-total="([^"]+)"')
    assert prices.findall(q4) != prices.findall(q8)
    assert "at Q8_0" in q8


def test_it_keeps_the_state_in_the_query_string(client):
    first = client.get(reverse("home"), {**LLAMA_Q4_10, "budget": "5000"}, **HX)
    bookmarked = client.get(first["HX-Push-Url"])
    html = bookmarked.content.decode()
    assert card_titles(html)
    assert 'name="budget" value="5000' in html
    assert 'name="min_tps" value="10' in html


def test_it_shows_a_negative_budget_message_by_the_field(client):
    for headers in ({}, HX):
        response = client.get(reverse("home"), {**LLAMA_Q4_10, "budget": "-5"}, **headers)
        html = response.content.decode()
        assert response.status_code == (200 if headers else 400)
        # The message speaks the form's label, not the parameter name.
        assert "Budget (USD) must be a number from 0.01" in " ".join(field_errors(html))
        assert card_titles(html) == []
    full = client.get(reverse("home"), {"budget": "-5"}).content.decode()
    assert re.search(r'name="budget"[^>]*aria-invalid="true"', full)


def test_it_explains_an_unknown_model(client):
    html = client.get(reverse("home"), {"model": "no-such-model-xyz"}).content.decode()
    assert any("matches no catalogue model" in e for e in field_errors(html))
    assert 'id="id_model_error"' in html


def test_it_refuses_a_context_beyond_the_models_maximum(client):
    html = client.get(reverse("home"), {**LLAMA_Q4_10, "context": "999999"}).content.decode()
    assert any("131,072" in e for e in field_errors(html))


def test_it_accepts_a_size_instead_of_a_catalogue_model(client):
    response = client.get(reverse("home"), {"model": "671B MoE 37B active", "min_tps": "1"}, **HX)
    html = response.content.decode()
    assert card_titles(html)
    assert "approximate" in html
    assert "model=671B+MoE+37B+active" in response["HX-Push-Url"]
    build = re.search(r'href="(/build/\?parts=[^"]+)" class="build-link"', html).group(1)
    assert "model=671B+MoE+37B+active" in build
    assert client.get(build.replace("&amp;", "&")).status_code == 200


def test_it_tells_an_unticked_used_box_from_an_absent_one(client):
    used = client.get(reverse("home"), LLAMA_Q4_10).content.decode()
    new_only = client.get(
        reverse("home") + f"?model={LLAMA_70B}&quant=Q4_K_M&min_tps=10&allow_used=false"
    ).content.decode()
    assert "(used)" in " ".join(card_titles(used))
    assert "(used)" not in " ".join(card_titles(new_only))
    assert re.search(r'name="allow_used"[^>]*checked', used)
    assert not re.search(r'name="allow_used" value="true"[^>]*checked', new_only)


def test_it_shows_near_misses_with_reasons(client):
    html = client.get(reverse("home"), LLAMA_Q4_10).content.decode()
    assert 'id="near-misses"' in html
    assert re.search(r"needs [\d.]+ GB more", html)


def test_it_suggests_what_to_relax_when_nothing_qualifies(client):
    html = client.get(reverse("home"), {**LLAMA_Q4_10, "budget": "300"}).content.decode()
    assert 'id="no-builds"' in html
    assert "Relax a constraint" in html


@pytest.mark.parametrize(
    "query",
    [
        "budget=abc",
        "budget=-1e309",
        "context=-1",
        "context=1e9",
        "batch=0",
        "batch=99999",
        "min_tps=-3",
        "mode=pretrain",
        "objective=best",
        "form=cube",
        "quant=Q9_Z",
        "engine=nonsense",
        "must_include=no-such-part",
        "limit=0",
        "model=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "model=" + "7" * 400,
        "allow_used=maybe",
        "prompt_tokens=999999",
        "kwh_price=-1",
    ],
)
def test_it_never_fails_on_bad_input(client, query):
    for url in (f"/?{query}", f"/build/?parts=x:1&{query}", f"/compare/?b=a&b=b&{query}"):
        for headers in ({}, HX):
            response = client.get(url, **headers)
            assert response.status_code < 500, url
    html = client.get(f"/?{query}").content.decode()
    assert field_errors(html), f"no field message for {query}"
    assert "<script>alert(1)" not in html


def test_a_first_visit_shows_ranked_builds_for_the_defaults_without_a_click(seeded, client):
    html = client.get(reverse("home")).content.decode()
    assert 'value="llama-3-1-70b-instruct"' in html
    assert len(card_titles(html)) >= 3
    # Every card can be shared in one click: a Share button bound to its own POST form.
    assert html.count('class="small secondary share-card"') == len(card_titles(html))
    assert 'id="share-1" hidden' in html and 'action="/share/"' in html
