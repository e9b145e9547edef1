"""A fine-tuning run over the user's dataset: the size as typed (250k, 12M, 1.5B), the
epochs, and the run's hours from the training tokens/s, in the API and the command line."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from configurator.training_run import (
    DEFAULT_DATASET_TOKENS,
    Dataset,
    parse_tokens,
    run_figures,
    tokens_text,
)

LLAMA_8B = "llama-3-1-8b-instruct"


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("250k", 250_000),
        ("12M", 12_000_000),
        ("12m", 12_000_000),
        ("1.5B", 1_500_000_000),
        ("2T", 2_000_000_000_000),
        ("10,000,000", 10_000_000),
        ("12000000", 12_000_000),
        (" 12 M ", 12_000_000),
        ("1.234567M", 1_234_567),
        ("", None),
    ],
)
def test_token_counts_parse_as_typed(text, tokens):
    assert parse_tokens(text) == tokens
    if tokens is not None:
        assert parse_tokens(tokens_text(tokens)) == tokens  # the short form reads back


@pytest.mark.parametrize(
    "text", ["12MB", "1e6", "-5000", "abc", "1.2345k", "1.5", "1,00,000", "999", "20T", "nan"]
)
def test_bad_token_counts_name_the_field_and_the_range(text):
    with pytest.raises(ValueError) as exc:
        parse_tokens(text)
    message = str(exc.value)
    assert message.startswith("dataset_tokens must")
    assert "1,000 to 10,000,000,000,000 tokens" in message and "12M" in message


def test_hours_follow_tokens_epochs_and_speed_and_energy_needs_a_training_power():
    est = {"training": {"tokens_per_s": 2500.0, "mode": "lora"}}
    run = run_figures(est, Dataset(tokens=45_000_000, epochs=2), Decimal("0.30"))
    assert run["hours"] == pytest.approx(90_000_000 / 2500 / 3600)  # 10 hours
    assert run["hours_per_epoch"] == pytest.approx(5.0)
    # The decode power is no stand-in for training: no training power, no energy.
    assert run["power_w"] is run["energy_kwh"] is run["electricity_cost"] is None
    est["training"]["power_w"] = 600.0
    run = run_figures(est, Dataset(tokens=45_000_000, epochs=2), Decimal("0.30"))
    assert run["energy_kwh"] == pytest.approx(6.0)  # 600 W for 10 h
    assert run["electricity_cost"] == "1.80"
    assert run_figures({"training": None}, Dataset()) is None
    default = run_figures(est, Dataset())
    assert default["dataset_tokens"] == DEFAULT_DATASET_TOKENS
    assert default["dataset_tokens_assumed"] is True and default["epochs"] == 1


def _api(client, name: str, **params):
    response = client.get(reverse(f"api:{name}"), params)
    return response, json.loads(response.content)


def _check_runs(builds: list[dict], tokens: int, epochs: int) -> int:
    checked = 0
    for build in builds:
        est = build["estimate"]
        if not est or not est["training"]["tokens_per_s"]:
            continue
        run = est["training_run"]
        rate = est["training"]["tokens_per_s"]
        assert run["dataset_tokens"] == tokens and run["epochs"] == epochs
        assert run["hours"] * 3600 * rate == pytest.approx(tokens * epochs, rel=1e-4)
        checked += 1
    return checked


@pytest.mark.django_db
def test_api_builds_give_the_hours_of_the_users_run(seeded, client):
    response, data = _api(
        client, "builds", model=LLAMA_8B, mode="lora", min_tps="0", dataset_tokens="12M", epochs=3
    )
    assert response.status_code == 200, data
    assert data["request"]["dataset_tokens"] == 12_000_000 and data["request"]["epochs"] == 3
    assert _check_runs(data["builds"], 12_000_000, 3) >= 1
    assert all(not b["estimate"]["training_run"]["dataset_tokens_assumed"] for b in data["builds"])
    # Nothing stated: the default 10M for one epoch, flagged as assumed.
    _, default = _api(client, "builds", model=LLAMA_8B, mode="lora", min_tps="0")
    assert default["request"]["dataset_tokens"] is None
    assert _check_runs(default["builds"], DEFAULT_DATASET_TOKENS, 1) >= 1
    assert default["builds"][0]["estimate"]["training_run"]["dataset_tokens_assumed"] is True
    # Inference has no run.
    _, chat = _api(client, "builds", model=LLAMA_8B, min_tps="1", dataset_tokens="12M")
    assert chat["builds"] and chat["builds"][0]["estimate"]["training_run"] is None


@pytest.mark.django_db
def test_api_estimate_gives_the_run_and_energy_only_with_a_training_power(seeded, client):
    response, data = _api(
        client,
        "estimate",
        model=LLAMA_8B,
        quant="BF16",
        gpu="nvidia-geforce-rtx-4090",
        mode="qlora",
        dataset_tokens="1.5B",
        epochs="2",
    )
    assert response.status_code == 200, data
    run, rate = data["training_run"], data["training"]["tokens_per_s"]
    assert run["total_tokens"] == 3_000_000_000
    assert run["hours"] * 3600 * rate == pytest.approx(3e9, rel=1e-4)
    power = data["training"].get("power_w")
    if power is None:
        assert run["energy_kwh"] is None
    else:
        assert run["energy_kwh"] == pytest.approx(power * run["hours"] / 1000, rel=1e-4)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"dataset_tokens": "12MB"}, "dataset_tokens", "1,000 to 10,000,000,000,000 tokens"),
        ({"dataset_tokens": "500"}, "dataset_tokens", "(got 500)"),
        ({"epochs": "0"}, "epochs", "from 1 to 100"),
        ({"epochs": "101"}, "epochs", "from 1 to 100"),
        ({"epochs": "two"}, "epochs", "whole number from 1 to 100"),
    ],
)
def test_bad_dataset_or_epochs_are_400_naming_the_field(seeded, client, params, field, says):
    for endpoint, extra in (
        ("builds", {}),
        ("estimate", {"gpu": "nvidia-geforce-rtx-4090", "quant": "BF16"}),
    ):
        query = {"model": LLAMA_8B, "mode": "lora", **extra, **params}
        response, data = _api(client, endpoint, **query)
        assert response.status_code == 400
        assert list(data["errors"]) == [field]
        message = data["errors"][field][0]
        assert message.startswith(field) and says in message


def _estimate(*args: str) -> str:
    out = StringIO()
    call_command("estimate", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


ESTIMATE_ARGS = ("--model", LLAMA_8B, "--quant", "BF16", "--gpu", "nvidia-geforce-rtx-4090")


@pytest.mark.django_db
def test_the_estimate_command_takes_the_dataset_and_epochs(seeded):
    args = (*ESTIMATE_ARGS, "--mode", "lora", "--dataset-tokens", "250k", "--epochs", "4")
    data = json.loads(_estimate(*args, "--json"))
    run = data["training_run"]
    assert run["total_tokens"] == 1_000_000
    assert run["hours"] * 3600 * data["training"]["tokens_per_s"] == pytest.approx(1e6, rel=1e-4)
    text = _estimate(*args)
    assert "the run over 250,000 tokens × 4 epoch(s) takes" in text
    assert "assumed" not in text.split("Training:")[1].splitlines()[0]
    default = _estimate(*ESTIMATE_ARGS, "--mode", "lora")
    assert "10,000,000 tokens (assumed" in default
    with pytest.raises(CommandError) as exc:
        _estimate(*ESTIMATE_ARGS, "--mode", "lora", "--epochs", "0")
    assert "--epochs: epochs must be a whole number from 1 to 100" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        _estimate(*ESTIMATE_ARGS, "--dataset-tokens", "12 tokens")
    assert "--dataset-tokens: dataset_tokens must be from 1,000" in str(exc.value)


@pytest.mark.django_db
def test_the_recommend_command_gives_the_api_s_run(seeded, client):
    flags = ("--model", LLAMA_8B, "--mode", "lora", "--min-tps", "0", "--limit", "3")
    out = StringIO()
    call_command(
        "recommend", *flags, "--dataset-tokens", "12M", "--epochs", "3", "--json", stdout=out
    )
    data = json.loads(out.getvalue())
    query = {"model": LLAMA_8B, "mode": "lora", "min_tps": "0", "limit": "3"}
    _, api = _api(client, "builds", **query, dataset_tokens="12M", epochs="3")
    assert data["request"]["dataset_tokens"] == 12_000_000 == api["request"]["dataset_tokens"]
    runs = [b["estimate"]["training_run"] for b in data["builds"]]
    assert runs == [b["estimate"]["training_run"] for b in api["builds"]]
    assert _check_runs(data["builds"], 12_000_000, 3) >= 1
    text = StringIO()
    call_command("recommend", *flags, "--epochs", "2", stdout=text)
    assert "for 2 epoch(s) over 10,000,000 tokens (assumed" in text.getvalue()
