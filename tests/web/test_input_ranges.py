"""Sizes and contexts that look valid but lie outside what the estimator models are
400s naming the field on every page and API, never server errors; API errors are JSON."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.usefixtures("seeded")

HX = {"HTTP_HX_REQUEST": "true"}
SCOUT = "llama-4-scout-17b-16e-instruct"
GPU = "nvidia-geforce-rtx-4090:1"

MODEL_RANGE = "must be a size of total 0.01B to 10,000B, active 0.01B to 3,000B"
CONTEXT_RANGE = "must be from 1 to 10,000,000 tokens"
OUT_OF_RANGE = [
    ({"model": "5T"}, "model", MODEL_RANGE),
    ({"model": "3200b"}, "model", MODEL_RANGE),
    ({"model": "1000000b"}, "model", MODEL_RANGE),
    ({"model": "0.0005b"}, "model", MODEL_RANGE),
    ({"model": "1000b-a0.1b"}, "model", MODEL_RANGE),
    ({"model": SCOUT, "context": "10000001"}, "context", CONTEXT_RANGE),
    ({"model": SCOUT, "context": "10485760"}, "context", CONTEXT_RANGE),
]


def page_urls(params: dict[str, str]) -> list[str]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return [
        f"/?{query}",
        f"/build/?parts={GPU}&{query}",
        f"/compare/?b={GPU}&b=nvidia-geforce-rtx-3090-used:2&{query}",
    ]


@pytest.mark.parametrize(("params", "field", "message"), OUT_OF_RANGE)
def test_it_answers_400_naming_the_field_on_every_page(client, params, field, message):
    for url in page_urls(params):
        response = client.get(url)
        assert response.status_code == 400, url
        assert message in response.content.decode(), url
        assert client.get(url, **HX).status_code < 500, url
    wizard = client.get(page_urls(params)[0]).content.decode()
    assert f'id="id_{field}_error"' in wizard  # the message sits by its field
    shared = client.post(reverse("share"), {"parts": GPU, **params})
    assert shared.status_code == 400
    assert message in shared.content.decode()


@pytest.mark.parametrize(("params", "field", "message"), OUT_OF_RANGE)
def test_it_answers_json_400_naming_the_field_on_every_api(client, params, field, message):
    extras = {
        "/api/builds": {},
        "/api/build": {"parts": GPU},
        "/api/estimate": {"gpu": "4090"},
        "/api/upgrade": {"have": GPU, "min_tps": "5"},
    }
    for url, extra in extras.items():
        response = client.get(url, {**params, **extra})
        assert response.status_code == 400, url
        assert response["Content-Type"].startswith("application/json")
        errors = response.json()["errors"]
        assert field in errors, (url, errors)
        assert errors[field][0].startswith(f"{field} {message}")


def test_it_still_answers_the_largest_sizes_and_contexts_it_models(client):
    for params in ({"model": "3000b"}, {"model": "10000b-a37b"}, {"model": "0.01b"}):
        response = client.get("/api/estimate", {**params, "gpu": "4090"})
        assert response.status_code == 200, (params, response.content[:300])
    response = client.get(
        "/api/estimate", {"model": SCOUT, "context": "10000000", "cpu": "epyc-9124"}
    )
    assert response.status_code == 200, response.content[:300]
    assert response.json()["context"] == 10_000_000


def test_it_answers_api_errors_as_json_for_unknown_paths_and_methods(client):
    missing = client.get("/api/no-such-endpoint")
    assert missing.status_code == 404
    assert missing.json()["errors"]["__all__"]
    post = client.post("/api/builds")
    assert post.status_code == 405
    assert "GET" in post.json()["errors"]["__all__"][0]
    assert post["Allow"] == "GET"


def test_the_rig_api_names_a_context_beyond_its_range(client):
    for context in ("10000001", "10485760"):
        response = client.get("/api/canrun", {"gpu": "4090", "context": context})
        assert response.status_code == 400
        assert "context" in response.json()["errors"]
