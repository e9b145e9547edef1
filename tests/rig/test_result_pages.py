"""What every result shows: compatibility and graded fit on top, fine-tuning as
fine-tuning, exports beside the share link, glossary help, reference-price dates."""

from __future__ import annotations

import re

import pytest

from configurator.templatetags.rig_extras import as_bbcode, as_markdown, as_reddit, build_status

pytestmark = pytest.mark.django_db
LLAMA_70B = "llama-3-1-70b-instruct"


def first_build(client, **params) -> dict:
    data = client.get("/api/builds", {"model": LLAMA_70B, "limit": 1, **params}).json()
    return data["builds"][0]


def banner(html: str) -> str:
    return re.search(r'<div class="status-banner[^"]*"[^>]*>.*?</div>', html, re.S).group(0)


def test_a_compatible_build_page_opens_with_a_green_banner_and_its_fit(seeded, client):
    build = first_build(client)
    html = client.get("/build/", {"parts": build["parts_param"]}).content.decode()
    top = banner(html)
    assert 'data-compatible="true"' in top and "compatible" in top
    assert re.search(r'data-fit="(comfortable|tight)"', top)
    assert "GB" in top and html.index("status-banner") < html.index("<h1>")


def test_a_third_gpu_that_does_not_fit_the_board_turns_the_banner_red(seeded, client):
    build = first_build(client, stack="cuda", min_tps=10)
    gpus = [ln for ln in build["lines"] if ln["kind"] == "gpu"]
    parts = build["parts_param"].replace(
        f"{gpus[0]['slug']}:{gpus[0]['qty']}", f"{gpus[0]['slug']}:{gpus[0]['qty'] + 6}"
    )
    html = client.get("/build/", {"parts": parts, "min_tps": 10, "stack": "cuda"}).content.decode()
    top = banner(html)
    assert 'data-compatible="false"' in top and 'role="alert"' in top
    assert "Not compatible:" in top


def test_fit_grades_follow_the_headroom():
    def build(used, capacity, fits=True):
        device = {"kind": "gpu", "total_gb": used, "capacity_gb": capacity, "weights_gb": used}
        return {"fits": fits, "estimate": {"fits": fits, "memory": [device]}, "compatibility": {}}

    assert build_status(build(20, 25.8))["fit"] == "comfortable"
    tight = build_status(build(25, 25.8))
    assert tight["fit"] == "tight" and tight["headroom_gb"] == pytest.approx(0.8)
    assert build_status(build(30, 25.8, fits=False))["fit"] == "does not fit"
    # A host that holds nothing of the model adds no headroom.
    idle = build(25, 25.8)
    idle["estimate"]["memory"].append(
        {"kind": "cpu", "total_gb": 2, "capacity_gb": 64, "weights_gb": 0, "kv_cache_gb": 0}
    )
    assert build_status(idle)["fit"] == "tight"


def test_a_fine_tuning_card_reads_as_fine_tuning(seeded, client):
    html = client.get(
        "/", {"model": "llama-3-1-8b-instruct", "mode": "qlora", "quant": "NF4"}
    ).content.decode()
    card = html[html.index('class="card build-card"') :]
    card = card[: card.index("</li>")]
    assert "Training" in card and "Whole run" in card and "Memory per GPU" in card
    assert "1 epoch × 10M tokens (assumed)" in card
    assert "PEFT" in card and "NF4" in card
    for word in ("Generation", "Prompt processing", "per M tokens", "Break-even"):
        assert word not in card


def test_exports_are_tables_with_every_part(seeded, client):
    build = first_build(client)
    markdown = as_markdown(build, "https://rigrank.example/b/x/")
    assert markdown.count("\n|") == len(build["lines"]) + 2  # header, rule, one per part
    assert "| --- | --- | ---: | ---: |" in markdown and "https://rigrank.example/b/x/" in markdown
    assert as_reddit(build).count("\n") >= len(build["lines"]) + 2
    bbcode = as_bbcode(build)
    assert bbcode.count("[tr]") == len(build["lines"]) + 1 and "[/table]" in bbcode
    page = client.get("/build/", {"parts": build["parts_param"]}).content.decode()
    assert 'id="export-markdown"' in page and 'id="export-bbcode"' in page


def test_seed_prices_say_they_are_reference_prices_with_their_date(seeded, client):
    build = first_build(client)
    page = client.get("/build/", {"parts": build["parts_param"]}).content.decode()
    assert "reference price, 1 Nov 2026" in page


def test_glossary_terms_carry_hover_help(seeded, client):
    build = first_build(client)
    page = client.get("/build/", {"parts": build["parts_param"]}).content.decode()
    for word in ("decode", "prefill", "headroom"):
        assert f'data-term="{word}"' in page


def test_must_include_takes_names_with_counts(seeded, client):
    html = client.get(
        "/", {"model": LLAMA_70B, "must_include": "RTX 3090 Ti:2", "min_tps": 5}
    ).content.decode()
    titles = re.findall(r'class="build-link">([^<]+)</a>', html)
    assert titles and all("3090 Ti" in t for t in titles)
    assert 'list="part-options"' in html and '<datalist id="part-options">' in html
    from configurator.forms import RecommendForm

    form = RecommendForm({"must_include": "2x RTX 3090 Ti, epyc 9124"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["must_include"] == (
        "nvidia-geforce-rtx-3090-ti-used:2",
        "amd-epyc-9124",
    )
    bad = RecommendForm({"must_include": "flux capacitor"})
    assert not bad.is_valid() and "must_include" in bad.errors


def test_a_name_resolving_to_another_model_says_so(seeded, client):
    html = client.get("/", {"model": "llama 3.3 70b"}).content.decode()
    assert 'id="interpreted-as"' in html and "Llama 3.3 70B Instruct" in html
    exact = client.get("/", {"model": LLAMA_70B}).content.decode()
    assert 'id="interpreted-as"' not in exact


def test_messages_use_the_form_labels(seeded, client):
    html = client.get("/", {"model": LLAMA_70B, "min_tps": "-3"}).content.decode()
    assert "Minimum" in re.search(r'<p class="field-error">([^<]+)</p>', html).group(1)
    assert "min_tps must" not in html


def test_near_identical_builds_collapse_into_one_card():
    from configurator.rig.collapse import collapse

    def build(slug, total):
        return {
            "architecture": "GPU tower",
            "total": total,
            "lines": [
                {"slug": slug, "kind": "gpu", "qty": 2},
                {"slug": "cpu-x", "kind": "cpu", "qty": 1},
            ],
        }

    kept = collapse(
        [build("rtx-3090", "2000"), build("rtx-3090-used", "2050"), build("rtx-3090", "2500")]
    )
    assert len(kept) == 2 and len(kept[0]["similar"]) == 1 and kept[1]["similar"] == []


def test_a_failed_csrf_check_shows_a_friendly_page(seeded):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    build = first_build(Client())
    response = strict.post("/share/", {"parts": build["parts_param"]})
    assert response.status_code == 403
    html = response.content.decode()
    assert 'id="csrf-failure"' in html and "reload the page" in html


def test_price_history_charts_wait_for_a_second_observation(seeded, client):
    build = first_build(client)
    page = client.get("/build/", {"parts": build["parts_param"]}).content.decode()
    # Seed prices are one observation per part: no chart yet, and the page says why.
    assert 'data-chart="chart-history-' not in page
    assert "a chart appears with the second" in page


def test_a_second_observation_draws_the_price_history_chart(seeded, client):
    from decimal import Decimal

    from pricing.models import Offer, PriceObservation
    from pricing.observations import observation_add

    build = first_build(client)
    line = build["lines"][0]
    offer = Offer.objects.filter(part__slug=line["slug"]).first()
    observation_add(
        offer=offer,
        amount=Decimal(line["unit_price"]) * Decimal("0.97"),
        currency=line["currency"],
        origin=PriceObservation.Origin.MANUAL,
        source_text="test: a second price",
    )
    page = client.get("/build/", {"parts": build["parts_param"]}).content.decode()
    assert 'data-chart="chart-history-' in page
    # The admin's price replaced the reference price on that line.
    row = re.search(rf'<tr data-slug="{line["slug"]}">.*?</tr>', page, re.S).group(0)
    assert "reference price" not in row and "today" in row.lower()


def test_the_api_applies_must_include_counts_too(seeded, client):
    data = client.get(
        "/api/builds", {"model": LLAMA_70B, "must_include": "RTX 3090 Ti:2", "min_tps": 5}
    ).json()
    assert data["builds"]
    for build in data["builds"]:
        qty = {ln["slug"]: ln["qty"] for ln in build["lines"]}
        assert qty.get("nvidia-geforce-rtx-3090-ti-used", 0) >= 2
    assert data["request"]["must_include"] == ["nvidia-geforce-rtx-3090-ti-used"]


def test_context_defaults_to_the_models_maximum_when_that_is_smaller(seeded, client):
    # Falcon-40B was trained for 2,048 tokens, under the 4,096-token default.
    data = client.get("/api/builds", {"model": "falcon-40b", "limit": 1}).json()
    assert data["request"]["context"] == 2048
    html = client.get("/", {"model": "falcon-40b"}).content.decode()
    field = re.search(r'<input type="number" name="context"[^>]*>', html).group(0)
    assert 'value="2048"' in field
    # A longer model keeps the default; asking beyond a model's maximum names the field.
    longer = client.get("/api/builds", {"model": LLAMA_70B, "limit": 1}).json()
    assert longer["request"]["context"] == 4096
    bad = client.get("/api/builds", {"model": "falcon-40b", "context": 4096})
    assert bad.status_code == 400 and "2,048" in bad.json()["errors"]["context"][0]
