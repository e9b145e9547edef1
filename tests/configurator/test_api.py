"""The JSON API: builds, one build, the estimator, the OpenAPI description, and 400s
that name each bad parameter."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from configurator.forms import EstimateForm, RecommendForm
from configurator.recommend import recommend

pytestmark = pytest.mark.django_db


def get(client, name: str, **params):
    response = client.get(reverse(f"api:{name}"), params)
    assert response["Content-Type"].startswith("application/json")
    return response, json.loads(response.content)


def test_it_lists_ranked_builds_as_json(seeded, client):
    response, data = get(client, "builds", model="llama-3-1-70b-instruct", min_tps=10)
    assert response.status_code == 200
    assert data["request"]["model"] == "llama-3-1-70b-instruct"
    assert data["builds"] and data["near_misses"] and data["pareto"]
    first = data["builds"][0]
    for key in (
        "key",
        "parts_param",
        "architecture",
        "total",
        "currency",
        "lines",
        "estimate",
        "compatibility",
        "rank_reason",
        "rules",
    ):
        assert key in first
    for build in data["builds"]:
        assert build["rules"] and {"name", "status", "detail"} == set(build["rules"][0])
        assert all(r["status"] in ("pass", "warn", "unknown") for r in build["rules"])
    for key in (
        "decode_tokens_per_s",
        "decode_range",
        "prefill_tokens_per_s",
        "time_to_first_token_s",
        "memory",
        "bottleneck",
        "power_w",
        "kwh_per_million_tokens",
        "electricity_cost_per_mtok",
        "break_even_months",
    ):
        assert key in first["estimate"]
    for key in (
        "slug",
        "name",
        "kind",
        "qty",
        "unit_price",
        "currency",
        "origin",
        "age_days",
        "retailer",
        "url",
        "stale",
    ):
        assert key in first["lines"][0]
    assert all(n["reason"] for n in data["near_misses"])
    assert data["prices_as_of"]


def test_an_empty_query_gives_an_answer(seeded, client):
    response, data = get(client, "builds")
    assert response.status_code == 200
    assert data["builds"]


def test_the_api_returns_what_the_service_returns(seeded, client):
    form = RecommendForm({"min_tps": "10", "limit": "3"})
    assert form.is_valid()
    expected = json.loads(json.dumps(recommend(form.build_request()).to_dict()))
    _, data = get(client, "builds", min_tps=10, limit=3)
    assert [b["key"] for b in data["builds"]] == [b["key"] for b in expected["builds"]]
    assert [b["total"] for b in data["builds"]] == [b["total"] for b in expected["builds"]]


def test_invalid_parameters_give_400_naming_each_field(seeded, client):
    response, data = get(
        client, "builds", context="999999", budget="-1", objective="best", allow_used="maybe"
    )
    assert response.status_code == 400
    errors = data["errors"]
    assert set(errors) == {"context", "budget", "objective", "allow_used"}
    assert "context must be from 1 to 131,072 tokens" in errors["context"][0]
    assert "budget must be a number from 0.01" in errors["budget"][0]


def test_nothing_qualifying_is_an_answer_with_what_to_relax(seeded, client):
    # A budget below the cheapest qualifying build, whatever the catalogue holds.
    _, cheapest = get(client, "builds", min_tps=10, limit=1)
    budget = int(float(cheapest["builds"][0]["total"]) * 0.8)
    response, data = get(client, "builds", min_tps=10, budget=budget)
    assert response.status_code == 200
    assert data["builds"] == []
    assert {r["field"] for r in data["relax"]} >= {"budget", "min_tps"}


def test_one_build_from_its_parts(seeded, client):
    _, listing = get(client, "builds", min_tps=10, limit=1)
    key = listing["builds"][0]["key"]
    response, data = get(client, "build", parts=key, min_tps=10)
    assert response.status_code == 200
    assert data["key"] == key
    assert data["total"] == listing["builds"][0]["total"]
    assert data["meets_targets"]


def test_bad_parts_give_400_naming_parts(seeded, client):
    response, data = get(client, "build", parts="no-such-part:2")
    assert response.status_code == 400
    assert "no-such-part" in data["errors"]["parts"][0]
    response, data = get(client, "build")
    assert response.status_code == 400 and "parts" in data["errors"]
    response, data = get(client, "build", parts="x:1", context="0")
    assert set(data["errors"]) == {"context"}


def test_it_estimates_named_hardware(seeded, client):
    response, data = get(
        client,
        "estimate",
        model="llama-3-1-70b-instruct",
        quant="Q4_K_M",
        gpu="nvidia-geforce-rtx-3090-used:2",
        cpu="amd-ryzen-9-9950x",
    )
    assert response.status_code == 200, data
    assert data["fits"] is True
    assert data["decode_tokens_per_s"] > 10
    for key in (
        "decode_range",
        "prefill_tokens_per_s",
        "time_to_first_token_s",
        "aggregate_tokens_per_s",
        "memory",
        "placement",
        "bottleneck",
        "power_w",
        "kwh_per_million_tokens",
        "assumptions",
    ):
        assert key in data
    assert data["hardware"][0] == {
        "kind": "gpu",
        "slug": "nvidia-geforce-rtx-3090-used",
        "name": "NVIDIA GeForce RTX 3090 (used)",
        "count": 2,
    }


def test_it_estimates_the_400b_case_on_two_epyc_sockets(seeded, client):
    _, data = get(
        client,
        "estimate",
        model="llama-3-1-405b-instruct",
        quant="Q6_K",
        cpu="amd-epyc-9254-used:2",
    )
    assert data["fits"] is True
    assert 1 <= data["decode_tokens_per_s"] <= 2.5


def test_it_reports_what_does_not_fit(seeded, client):
    _, data = get(
        client, "estimate", model="llama-3-1-70b-instruct", gpu="nvidia-geforce-rtx-3090-used"
    )
    assert data["fits"] is False
    assert data["missing_gb"] > 10 and data["reason"]


def test_estimate_errors_name_the_parameter(seeded, client):
    response, data = get(client, "estimate", model="llama-3-1-70b-instruct")
    assert response.status_code == 400 and "gpu" in data["errors"]
    response, data = get(client, "estimate", gpu="rtx")
    assert response.status_code == 400 and "ambiguous" in data["errors"]["gpu"][0]
    response, data = get(client, "estimate", gpu="nvidia-rtx-a6000-used", split="diagonal")
    assert "split" in data["errors"]
    response, data = get(client, "estimate", custom_gpu="vram_gb=24")
    assert "custom_gpu" in data["errors"]
    response, data = get(client, "estimate", gpu="intel-arc-b580", quant="GPTQ-4bit", engine="vllm")
    assert response.status_code == 400
    assert any(key in data["errors"] for key in ("quant", "engine"))


def test_the_openapi_description_covers_every_parameter(client):
    response, spec = get(client, "openapi")
    assert response.status_code == 200
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, form_class in (("/api/builds", RecommendForm), ("/api/estimate", EstimateForm)):
        described = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert set(form_class.base_fields) <= set(described), path
        for name in form_class.base_fields:
            assert described[name]["description"].strip(), name
            assert described[name]["in"] == "query"
        assert "400" in paths[path]["get"]["responses"]
    build_params = {p["name"] for p in paths["/api/build"]["get"]["parameters"]}
    assert {"parts", *RecommendForm.base_fields} <= build_params
    objective = next(
        p for p in paths["/api/builds"]["get"]["parameters"] if p["name"] == "objective"
    )
    assert objective["schema"]["enum"] == ["cheapest", "fastest", "value", "power", "pareto"]
    limit = next(p for p in paths["/api/builds"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 50)


def test_only_get_is_allowed(client):
    assert client.post(reverse("api:builds")).status_code == 405
