"""Search memos that live as long as a catalogue keep only their newest entries, and
dropping entries never changes what a search returns."""

from __future__ import annotations

from decimal import Decimal

import pytest

from configurator.engine.builds import BuildRequest, platforms, recommend
from configurator.engine.builds.memo import BoundedMemo
from configurator.engine.builds.platforms import shop_for
from tests.configurator.conftest import LLAMA_70B
from tests.configurator.seedcat import seed_catalogue, seed_model, seed_quant


def test_it_keeps_at_most_its_limit_dropping_the_oldest_first():
    memo = BoundedMemo(8)
    for key in range(20):
        memo[key] = str(key)
        assert len(memo) <= 8
    assert 19 in memo and memo[19] == "19"
    assert 0 not in memo
    assert min(memo) > 20 - 8 - 8 // 4


def test_replacing_a_key_it_holds_drops_nothing():
    memo = BoundedMemo(4)
    memo.update({1: "a", 2: "b", 3: "c", 4: "d"})
    memo[2] = "B"
    assert memo == {1: "a", 2: "B", 3: "c", 4: "d"}
    assert memo.setdefault(5, "e") == "e" and len(memo) <= 4


def test_it_refuses_a_limit_below_one():
    with pytest.raises(ValueError, match="limit"):
        BoundedMemo(0)


def requests() -> list[BuildRequest]:
    quant = seed_quant("Q4_K_M")
    return [
        BuildRequest(model=seed_model(LLAMA_70B), quant=quant, min_tps=10.0, limit=5),
        BuildRequest(model=seed_model("qwen3-30b-a3b"), quant=quant, min_tps=20.0, limit=5),
    ]


def answers(catalogue) -> list[dict]:
    out = []
    for request in [*requests(), *requests()]:
        data = recommend(catalogue, request).to_dict()
        data["stats"].pop("seconds", None)
        out.append(data)
    return out


def test_a_search_with_tiny_memos_returns_what_one_with_room_returns(monkeypatch):
    roomy = answers(seed_catalogue())
    monkeypatch.setattr(platforms, "MEMO_LIMIT", 16)
    monkeypatch.setattr(platforms, "STUB_TEMPLATES_KEPT", 1)
    monkeypatch.setattr(platforms, "HOST_MEMORY_SIZES_KEPT", 1)
    monkeypatch.setattr(platforms, "ASSEMBLED_KEPT", 4)
    catalogue = seed_catalogue()
    assert answers(catalogue) == roomy
    shop = shop_for(catalogue, True, "any", ())
    assert 0 < len(shop._memo) <= 16
    assert len(shop.stub_templates) == 1
    assert 0 < len(shop.assembled) <= 4


def test_a_warm_catalogue_answers_other_targets_and_options_as_a_fresh_one_does():
    """Builds assembled for one request are reused by the next on the same catalogue;
    what depends on the targets, the budget or the run options never leaks: each answer
    equals the one a fresh catalogue gives."""
    quant = seed_quant("Q4_K_M")
    model = seed_model(LLAMA_70B)
    asked = [
        BuildRequest(model=model, quant=quant, min_tps=10.0, limit=5),
        BuildRequest(model=model, quant=quant, min_tps=20.0, budget=Decimal(6000), limit=5),
        BuildRequest(model=model, quant=quant, max_watts=600.0, objective="fastest", limit=5),
        BuildRequest(model=model, quant=quant, min_tps=5.0, backend="Vulkan", limit=5),
        BuildRequest(model=model, quant=quant, min_tps=5.0, threads=4, limit=5),
    ]

    def answer(catalogue, request) -> dict:
        data = recommend(catalogue, request).to_dict()
        data["stats"].pop("seconds", None)
        return data

    warm = seed_catalogue()
    for request in asked:
        assert answer(warm, request) == answer(seed_catalogue(), request)


def test_assembled_builds_are_reused_only_under_the_same_constants_and_generation():
    from configurator.engine.builds.assembly import forget_estimates
    from configurator.engine.calibration import load_constants

    catalogue = seed_catalogue()
    request = requests()[0]
    first = recommend(catalogue, request).builds[0]
    assert recommend(catalogue, request).builds[0].estimate is first.estimate
    load_constants.cache_clear()  # as after a recalibration: a new Constants object
    try:
        again = recommend(catalogue, request).builds[0]
        assert again.estimate is not first.estimate
        assert again.estimate == first.estimate  # the same values, estimated anew
        forget_estimates()
        assert recommend(catalogue, request).builds[0].estimate is not again.estimate
    finally:
        load_constants.cache_clear()
