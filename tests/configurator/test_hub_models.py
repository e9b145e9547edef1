"""A Hugging Face repo id works in every entry point (wizard, API, CLI) against a local
hub, is imported once and cached as a catalogue row, and fails clearly offline."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from catalog.models import LlmModel
from tests.engine.real_configs import QWEN3_NEXT_80B_CONFIG
from tests.hubfake import CONFIGS, LLAMA_31_8B_TOTAL_SIZE, serve_repo

pytestmark = pytest.mark.django_db

# Real configs served under repo ids the seed catalogue does not hold.
NEXT_REPO = "rigrank-test/Hybrid-Next-80B-A3B-Local"
LLAMA_REPO = "rigrank-test/Llama-3.1-8B-Instruct-Local"
GPU = "nvidia-geforce-rtx-3090-used:4"


def api(client, name: str, **params):
    response = client.get(reverse(f"api:{name}"), params)
    return response, json.loads(response.content)


def fetches(hub, repo_id: str) -> int:
    return sum(
        1
        for request, _ in hub.log
        if request.method == "GET" and request.path.endswith(f"{repo_id}/resolve/main/config.json")
    )


def test_the_estimate_api_imports_a_hub_model_once_and_answers(seeded, client, hub):
    serve_repo(hub, NEXT_REPO, QWEN3_NEXT_80B_CONFIG)

    response, data = api(client, "estimate", model=NEXT_REPO, quant="Q4_K_M", gpu=GPU)

    assert response.status_code == 200, data
    model = LlmModel.objects.get(hf_repo=NEXT_REPO)
    assert (model.full_attention_layers, model.linear_attention_kind) == (12, "gated_deltanet")
    assert data["fits"] is True
    again, _ = api(client, "estimate", model=NEXT_REPO, quant="Q4_K_M", gpu=GPU)
    assert again.status_code == 200
    assert fetches(hub, NEXT_REPO) == 1  # the second answer came from the cached row


def test_the_builds_api_and_the_wizard_take_a_repo_id(seeded, client, hub):
    serve_repo(
        hub,
        LLAMA_REPO,
        (CONFIGS / "llama-3.1-8b-instruct.json").read_bytes(),
        LLAMA_31_8B_TOTAL_SIZE,
    )

    response, data = api(client, "builds", model=LLAMA_REPO, quant="Q4_K_M", limit=3)
    assert response.status_code == 200, data
    assert data["builds"]
    model = LlmModel.objects.get(hf_repo=LLAMA_REPO)
    assert model.total_params_b == pytest.approx(LLAMA_31_8B_TOTAL_SIZE / 2e9, abs=1e-3)

    page = client.get(reverse("home"), {"model": LLAMA_REPO, "quant": "Q4_K_M"})
    assert page.status_code == 200
    assert model.name in page.content.decode()


def test_the_cli_estimate_and_recommend_take_a_repo_id(seeded, hub):
    serve_repo(hub, NEXT_REPO, QWEN3_NEXT_80B_CONFIG)
    out = StringIO()

    call_command(
        "estimate", "--model", NEXT_REPO, "--quant", "Q4_K_M", "--gpu", GPU, "--json", stdout=out
    )
    assert json.loads(out.getvalue())["fits"] is True

    out = StringIO()
    call_command("recommend", "--model", NEXT_REPO, "--quant", "Q4_K_M", stdout=out)
    assert out.getvalue().strip()


def test_offline_it_says_so_and_suggests_the_size_and_import_model(seeded, client, offline_hub):
    response, data = api(
        client, "estimate", model="Qwen/Qwen3-32B-Thinking", quant="Q4_K_M", gpu=GPU
    )

    assert response.status_code == 400
    message = data["errors"]["model"][0]
    assert "could not be reached" in message and offline_hub in message
    assert "32B?" in message
    assert "python manage.py import_model Qwen/Qwen3-32B-Thinking" in message
    # Nothing that contradicts it: no "use a Hugging Face repo id" to someone who did.
    assert "matches no catalogue model" not in message
    assert not LlmModel.objects.filter(hf_repo="Qwen/Qwen3-32B-Thinking").exists()

    with pytest.raises(CommandError, match="could not be reached"):
        call_command(
            "estimate", "--model", "Qwen/Qwen3-32B-Thinking", "--gpu", GPU, stdout=StringIO()
        )


def test_an_unknown_repo_is_reported_as_unknown(seeded, client, hub):
    hub.expect_request("/nobody/Nothing-7B/resolve/main/config.json").respond_with_data(
        "Repository not found", status=404, headers={"X-Error-Code": "RepoNotFound"}
    )

    response, data = api(client, "estimate", model="nobody/Nothing-7B", gpu=GPU)

    assert response.status_code == 400
    message = data["errors"]["model"][0]
    assert "no such repository" in message and "7B?" in message
    assert "could not be reached" not in message


def test_a_hub_config_with_a_number_no_config_holds_is_a_400_naming_the_model(seeded, client, hub):
    config = (CONFIGS / "llama-3.1-8b-instruct.json").read_text()
    repo = "rigrank-test/Digits-8B"
    serve_repo(hub, repo, config.replace('"hidden_size": 4096', '"hidden_size": ' + "9" * 5000))

    response, data = api(client, "estimate", model=repo, gpu=GPU)

    assert response.status_code == 400
    assert "a number with 5,000 digits" in data["errors"]["model"][0]
    assert client.get(reverse("home"), {"model": repo}).status_code == 400
