"""Every results list also shows the price/speed front outside the user's targets."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from configurator.engine.builds import recommend
from configurator.engine.builds.request import CPU_SERVER
from tests.configurator.conftest import LLAMA_405B


@pytest.fixture(scope="module")
def four_hundred_b_at_the_default_floor(seed):
    from configurator.engine.builds import BuildRequest
    from tests.configurator.seedcat import seed_model, seed_quant

    request = BuildRequest(model=seed_model(LLAMA_405B), quant=seed_quant("Q6_K"), min_tps=5.0)
    return recommend(seed, request)


def test_400b_q6_k_shows_a_sub_10k_two_socket_ddr5_server_at_1_token_per_s(
    four_hundred_b_at_the_default_floor,
):
    rec = four_hundred_b_at_the_default_floor
    servers = [
        t.build
        for t in rec.trade_offs
        if t.build.architecture == CPU_SERVER
        and t.build.total < Decimal(10_000)
        and t.build.tokens_per_s >= 1.0
    ]
    assert servers, [(t.label, t.build.title) for t in rec.trade_offs]
    server = servers[0]
    cpus = [line for line in server.lines if line.kind == "cpu"]
    memory = [line for line in server.lines if line.kind == "memory"]
    assert cpus[0].qty == 2 and "DDR5" in memory[0].name
    assert server.estimate.fits and server.estimate.training is None
    # Shown with what it misses, not hidden: it is below the 5 tokens/s floor.
    assert [s.constraint for s in server.shortfalls] == ["min_tps"]


def test_the_trade_offs_run_the_model_and_climb_in_speed_with_price(
    four_hundred_b_at_the_default_floor,
):
    rec = four_hundred_b_at_the_default_floor
    trades = rec.trade_offs
    assert trades[0].kind == "cheapest"
    assert all(t.build.fits and t.build.compatible for t in trades)
    prices = [t.build.total for t in trades]
    speeds = [t.build.tokens_per_s for t in trades]
    assert prices == sorted(prices) and speeds == sorted(speeds)
    assert len({t.build.key for t in trades}) == len(trades)


def test_half_the_price_and_twice_as_fast_are_measured_against_the_top_pick(seed, ask):
    rec = recommend(seed, ask(min_tps=10))
    top = rec.builds[0]
    kinds = {kind: t.build for t in rec.trade_offs for kind in t.kinds}
    assert {"cheapest", "twice_as_fast"} <= set(kinds)
    assert kinds["twice_as_fast"].tokens_per_s >= 2 * top.tokens_per_s
    # Half the price is shown whenever something that cheap runs the model at all.
    if kinds["cheapest"].total * 2 <= top.total:
        assert kinds["half_price"].total * 2 <= top.total
    else:
        assert "half_price" not in kinds
    assert kinds["cheapest"].total <= min(t.build.total for t in rec.trade_offs)
    assert not {t.build.key for t in rec.trade_offs} & {b.key for b in rec.builds}


@pytest.mark.django_db
def test_the_api_the_command_and_the_page_show_the_trade_offs(seeded, client):
    params = {"model": "llama-3-1-70b-instruct", "quant": "Q4_K_M", "min_tps": "10"}
    api = json.loads(client.get("/api/builds", params).content)
    assert api["trade_offs"] and all("estimate" in t and "lines" in t for t in api["trade_offs"])
    kinds = {kind for t in api["trade_offs"] for kind in t["trade_off"]["kinds"]}
    assert kinds >= {"cheapest", "twice_as_fast"}
    out = StringIO()
    call_command(
        "recommend",
        "--model",
        "llama-3-1-70b-instruct",
        "--min-tps",
        "10",
        stdout=out,
        stderr=StringIO(),
    )
    text = out.getvalue()
    assert "Trade-offs outside your targets:" in text
    assert api["trade_offs"][0]["trade_off"]["label"] in text
    html = client.get("/", params).content.decode()
    assert 'id="trade-offs"' in html
    assert api["trade_offs"][0]["title"] in html.replace("&amp;", "&")


def test_listed_builds_brief_dicts_match_their_full_dicts(four_hundred_b_at_the_default_floor):
    """The results page lists trade-offs and near misses from brief dicts: every key
    they carry reads as the full dict (the API's) has it."""
    rec = four_hundred_b_at_the_default_floor
    listed = [t.build for t in rec.trade_offs] + [n.build for n in rec.near_misses]
    assert listed
    for build in listed:
        brief, full = build.brief_dict(), build.to_dict()
        assert brief == {key: full[key] for key in brief}
        assert {"key", "title", "total", "currency", "tokens_per_s", "shortfalls"} <= set(brief)


def test_fine_tuning_results_show_their_trade_offs_in_training_tokens(seeded, client):
    params = {"model": "llama-3-1-70b-instruct", "mode": "qlora", "quant": "NF4", "min_tps": "500"}
    api = json.loads(client.get("/api/builds", params).content)
    trades = api["trade_offs"]
    assert trades and all(t["estimate"]["training"] for t in trades)
    kinds = {kind for t in trades for kind in t["trade_off"]["kinds"]}
    assert "cheapest" in kinds
    # Below the 500 training tokens/s target, cheaper: a fine-tuning front, not decode's.
    cheapest = next(t for t in trades if "cheapest" in t["trade_off"]["kinds"])
    assert cheapest["tokens_per_s"] == cheapest["estimate"]["training"]["tokens_per_s"] < 500
    fractions = [t["trade_off"]["label"] for t in trades if "fraction" in t["trade_off"]["kinds"]]
    assert all("training tokens/s" in label for label in fractions)
    out = StringIO()
    call_command(
        "recommend", "--model", "llama-3-1-70b-instruct", "--mode", "qlora", "--quant", "NF4",
        "--min-tps", "500", stdout=out, stderr=StringIO(),
    )  # fmt: skip
    text = out.getvalue()
    assert "Trade-offs outside your targets:" in text and "≥ 500 training tokens/s" in text
    assert re.search(r", [\d.]+ training tokens/s\n", text)
    # The command's fine-tuning builds read as fine-tuning.
    assert "    training " in text and "GB per GPU" in text and "runs with " in text
    for word in ("decode", "prefill", "TTFT", "electricity"):
        assert word not in text, word
    html = client.get("/", params).content.decode()
    section = html[html.index('id="trade-offs"') :]
    section = section[: section.index("</section>")]
    assert "training tokens/s" in section
