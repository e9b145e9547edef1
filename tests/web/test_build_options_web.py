"""The estimate's run options in the build search's front doors: the wizard's "More
options" (full page and htmx), ``/api/builds`` and ``manage.py recommend``."""

from __future__ import annotations

import json
import re
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

pytestmark = pytest.mark.usefixtures("seeded")

HX = {"HTTP_HX_REQUEST": "true"}
GLM_AIR = "glm-4-5-air"  # MoE, 46 layers, one multi-token-prediction layer
LLAMA_8B = "llama-3-1-8b-instruct"
OPTIONS = {
    "model": GLM_AIR,
    "min_tps": "5",
    "backend": "Vulkan",
    "threads": "8",
    "expert_offload": "all",
    "spec_decode": "ngram:3",
    "acceptance_rate": "0.5",
}


def api(client, **params):
    response = client.get(reverse("api:builds"), params)
    return response.status_code, json.loads(response.content)


def field_errors(html: str) -> list[str]:
    return re.findall(r'<p class="field-error">([^<]+)</p>', html)


def more_options(html: str) -> str:
    start = html.index('class="more-options"')
    return html[start : html.index("</details>", start)]


def test_the_api_passes_each_option_to_every_builds_estimate(client):
    status, plain = api(client, model=GLM_AIR, min_tps=5)
    assert status == 200
    status, data = api(client, **{k: v for k, v in OPTIONS.items()})
    assert status == 200, data
    request = data["request"]
    assert request["backend"] == "Vulkan" and request["threads"] == 8
    assert request["expert_offload"] == "all"
    assert request["spec_decode"] == {
        "method": "ngram",
        "draft_model": None,
        "draft_tokens": 3,
        "acceptance_rate": 0.5,
    }
    assert data["builds"]
    for build in data["builds"]:
        est = build["estimate"]
        assert est["backend"].startswith("Vulkan"), build["title"]
        assert est["spec_decode"]["method"] == "ngram"
        spec_tps = est["spec_decode"]["decode_tokens_per_s"]
        assert build["tokens_per_s"] == pytest.approx(spec_tps, rel=1e-3)
        if any(line["kind"] == "gpu" for line in build["lines"]):
            assert "routed experts of 46 layers" in est["placement"]
    # Vulkan drives no Apple GPU and no CPU-only build: none is proposed.
    assert {b["architecture"] for b in data["builds"]} <= {
        "GPU tower",
        "GPU server",
        "hybrid offload",
        "unified memory",
    }
    assert not any("Apple" in b["title"] for b in data["builds"])
    assert [b["key"] for b in data["builds"]] != [b["key"] for b in plain["builds"]]


def test_mtp_through_the_api_raises_decode_speed_of_the_same_build(client):
    _, plain = api(client, model=GLM_AIR, min_tps=5, limit=20)
    _, fast = api(client, model=GLM_AIR, min_tps=5, limit=20, spec_decode="mtp")
    before = {b["key"]: b["tokens_per_s"] for b in plain["builds"]}
    after = {b["key"]: b for b in fast["builds"]}
    gained = [
        key
        for key, build in after.items()
        if key in before
        and build["estimate"]["spec_decode"]["speedup"] > 1
        and build["tokens_per_s"] > before[key]
    ]
    assert gained
    for key in gained:
        # Never more than the tokens a cycle commits at k = 1, acceptance 0.85.
        assert after[key]["tokens_per_s"] <= before[key] * 1.85


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"backend": "opencl"}, "backend", "backend must be one of CUDA, ROCm, Vulkan"),
        ({"threads": "0"}, "threads", "threads must be a whole number from 1"),
        ({"expert_offload": "most"}, "expert_offload", "number of layers or 'all'"),
        (
            {"model": LLAMA_8B, "expert_offload": "all"},
            "expert_offload",
            "no routed experts",
        ),
        (
            {"spec_decode": "medusa"},
            "spec_decode",
            "spec_decode must be draft:<model>, mtp, eagle or ngram",
        ),
        ({"spec_decode": "mtp", "acceptance_rate": "1.5"}, "acceptance_rate", "from 0 to 0.99"),
        ({"acceptance_rate": "0.7"}, "acceptance_rate", "acceptance_rate needs spec_decode"),
        ({"spec_decode": "draft:no-such-model-xyz"}, "spec_decode", "draft model"),
        ({"spec_decode": "mtp", "batch": "4"}, "spec_decode", "batch 1"),
        ({"custom_cpu": "cores=8,channels=2,mts=3200,gflops=500"}, "custom_cpu", "picks the"),
        ({"custom_system": "vendor=apple,memory_gb=64"}, "custom_system", "/api/estimate"),
    ],
)
def test_bad_options_give_400_naming_the_field_and_what_is_allowed(client, params, field, text):
    status, data = api(client, **{"model": GLM_AIR, **params})
    assert status == 400
    assert field in data["errors"], data
    assert any(text in message for message in data["errors"][field]), data["errors"][field]


def test_custom_hardware_is_refused_by_name_not_ignored(client):
    _, data = api(client, custom_cpu="cores=8,channels=2,mts=3200,gflops=500")
    message = data["errors"]["custom_cpu"][0]
    assert "custom_cpu: a build search picks the hardware itself" in message
    assert "Allowed here: expert_offload, backend, threads, spec_decode" in message


def test_the_api_document_lists_the_new_parameters(client):
    document = json.loads(client.get(reverse("api:openapi")).content)
    params = {p["name"]: p for p in document["paths"]["/api/builds"]["get"]["parameters"]}
    for name in ("backend", "threads", "expert_offload", "spec_decode", "acceptance_rate"):
        assert name in params and params[name]["description"]
    assert "Vulkan" in params["backend"]["schema"]["enum"]
    assert "Not taken by a build search" in params["custom_cpu"]["description"]


def test_the_wizard_round_trips_the_options_through_the_query_string(client):
    html = client.get(reverse("home")).content.decode()
    fields = more_options(html)
    for label in (
        "Engine backend",
        "CPU threads",
        "Keep MoE experts in system RAM",
        "Speculative decoding",
        "Draft acceptance rate",
    ):
        assert label in fields
    assert "<details" in html[html.index('class="more-options"') - 20 :][:40]
    assert 'class="more-options" open' not in html  # collapsed until an option is set

    hx = client.get(reverse("home"), {**OPTIONS, "backend": "vulkan"}, **HX)
    assert hx.status_code == 200
    push = parse_qs(urlsplit(hx["HX-Push-Url"]).query)
    assert push["backend"] == ["Vulkan"] and push["threads"] == ["8"]
    assert push["expert_offload"] == ["all"] and push["spec_decode"] == ["ngram:3"]
    assert push["acceptance_rate"] == ["0.5"]
    fragment = hx.content.decode()
    assert "Vulkan backend" in fragment and "speculative decoding (ngram)" in fragment

    full = client.get(hx["HX-Push-Url"])
    page = full.content.decode()
    assert full.status_code == 200
    assert 'class="more-options" open' in page
    options = more_options(page)
    assert '<option value="Vulkan" selected>' in options
    assert 'name="threads" value="8"' in options
    assert 'name="expert_offload" value="all"' in options
    assert 'name="spec_decode" value="ngram:3"' in options
    assert 'name="acceptance_rate" value="0.5"' in options
    assert "Vulkan backend" in page


def test_the_wizard_shows_a_bad_option_by_its_field_on_both_paths(client):
    for headers in ({}, HX):
        response = client.get(
            reverse("home"), {"model": LLAMA_8B, "expert_offload": "all"}, **headers
        )
        html = response.content.decode()
        assert response.status_code == (200 if headers else 400)
        assert any("no routed experts" in e for e in field_errors(html)), field_errors(html)


def test_the_results_cache_keeps_queries_with_other_options_apart(client):
    base = {"model": GLM_AIR, "min_tps": "5"}
    _, first = api(client, **base)
    _, spec = api(client, **base, spec_decode="mtp")
    _, again = api(client, **base)
    assert first["request"]["spec_decode"] is None
    assert spec["request"]["spec_decode"]["method"] == "mtp"
    assert again == first


def run(*args: str) -> str:
    out = StringIO()
    call_command("recommend", *args, stdout=out)
    return out.getvalue()


def test_recommend_takes_the_flags_of_estimate():
    text = run("--model", GLM_AIR, "--min-tps", "5", "--spec-decode", "mtp", "--backend", "Vulkan")
    assert "speculative decoding (mtp, 1 drafted, acceptance 85%)" in text
    assert "(Vulkan" in text
    data = json.loads(
        run(
            "--model",
            GLM_AIR,
            "--min-tps",
            "5",
            "--expert-offload",
            "20",
            "--threads",
            "6",
            "--acceptance-rate",
            "0.7",
            "--spec-decode",
            "mtp",
            "--json",
        )  # fmt: skip
    )
    assert data["request"]["expert_offload"] == 20 and data["request"]["threads"] == 6
    assert data["request"]["spec_decode"]["acceptance_rate"] == 0.7


def test_recommend_exits_2_naming_a_bad_flag_and_the_allowed_values():
    with pytest.raises(CommandError) as caught:
        run("--model", GLM_AIR, "--backend", "opencl", "--custom-system", "vendor=apple")
    assert caught.value.returncode == 2
    message = str(caught.value)
    assert "--backend: backend must be one of CUDA, ROCm, Vulkan" in message
    assert "--custom-system: custom_system: a build search picks the hardware" in message


def test_a_builds_page_from_the_results_keeps_the_options(client):
    html = client.get(reverse("home"), {**OPTIONS, "spec_decode": "mtp"}).content.decode()
    links = re.findall(r'class="build-link" href="([^"]+)"', html) or re.findall(
        r'href="(/build/\?parts=[^"]+)"', html
    )
    assert links
    url = links[0].replace("&amp;", "&")
    assert "spec_decode=mtp" in url and "backend=Vulkan" in url
    page = client.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert "Vulkan" in text and "tokens/s" in text


def test_a_draft_model_speeds_up_memory_bound_builds_of_its_family(client):
    params = {"model": LLAMA_8B, "min_tps": "5", "limit": "20"}
    _, plain = api(client, **params)
    _, draft = api(client, **params, spec_decode="draft:llama-3-2-1b-instruct")
    assert draft["request"]["spec_decode"]["draft_model"] == "llama-3-2-1b-instruct"
    before = {b["key"]: b["tokens_per_s"] for b in plain["builds"]}
    both = [b for b in draft["builds"] if b["key"] in before]
    assert both
    for build in both:
        spec = build["estimate"]["spec_decode"]
        assert spec["method"] == "draft" and spec["draft_step_ms"] > 0
        # The same build's plain speed times the estimator's speed-up, never above the
        # tokens a cycle commits (4 drafted at 65 %).
        plain_tps = before[build["key"]]
        assert build["tokens_per_s"] == pytest.approx(plain_tps * spec["speedup"], rel=1e-2)
        assert build["tokens_per_s"] <= plain_tps * (1 - 0.65**5) / (1 - 0.65)
    # The 1B draft costs a fraction of the 8B step: most builds gain.
    gained = [b for b in both if b["tokens_per_s"] > before[b["key"]]]
    assert len(gained) > len(both) / 2
