"""The build generator on the seed catalogue (plain dataclasses, no database)."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal

import pytest

from configurator.engine import ModelArch, Quant, Workload
from configurator.engine.builds import (
    Assembly,
    BuildRequest,
    Catalogue,
    Search,
    check,
    evaluate,
    parse_parts_param,
    parts_param,
    recommend,
)
from configurator.engine.builds.request import CPU_SERVER, GPU_SERVER, GPU_TOWER, HYBRID, UNIFIED
from configurator.engine.builds.rules import ModelNeeds
from configurator.engine.builds.synthetic import scaled
from tests.configurator.conftest import LLAMA_70B, LLAMA_405B
from tests.configurator.seedcat import seed_model, seed_quant

GPU_ONLY = (GPU_TOWER, GPU_SERVER)


def gpu_lines(build):
    return [line for line in build.lines if line.kind == "gpu"]


def every_build(rec):
    return [*rec.builds, *(n.build for n in rec.near_misses), *rec.pareto]


def assert_passes_every_rule(catalogue: Catalogue, build, request: BuildRequest) -> None:
    """Re-check the build's parts from the catalogue, not trusting its own findings."""
    items = [(catalogue.get(line.slug), line.qty) for line in build.lines]
    weights_gb = request.model.total_params_b * request.quant.bits_per_weight / 8
    findings = check(Assembly(items), ModelNeeds(weights_gb, weights_gb))
    broken = [f"{f.rule}: {f.message}" for f in findings if f.ok is False]
    assert not broken, f"{build.title} breaks {broken}"


# Must hold -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def four_hundred_b(seed):
    request = BuildRequest(
        model=seed_model(LLAMA_405B), quant=seed_quant("Q6_K"), min_tps=1.0, limit=10
    )
    return request, recommend(seed, request)


def test_it_puts_a_two_socket_24_channel_epyc_among_the_cheapest_for_400b_at_6_bits(
    four_hundred_b,
):
    request, rec = four_hundred_b
    weights_gb = request.model.total_params_b * request.quant.bits_per_weight / 8
    assert 300 < weights_gb < 350  # ~400B at ~6.5 bits per weight
    cheapest_three = rec.builds[:3]
    epyc = [
        b
        for b in cheapest_three
        if b.architecture == CPU_SERVER
        and any(line.kind == "cpu" and line.qty == 2 and "EPYC" in line.name for line in b.lines)
    ]
    assert epyc, [b.title for b in cheapest_three]
    server = epyc[0]
    memory = next(line for line in server.lines if line.kind == "memory")
    assert memory.qty == 24 and "DDR5" in memory.name
    assert 1.0 <= server.tokens_per_s <= 2.5
    assert server.estimate.fits


def test_it_prices_gpu_builds_that_hold_400b_at_several_times_the_epyc_server(four_hundred_b):
    _, rec = four_hundred_b
    server = next(b for b in rec.builds if b.architecture == CPU_SERVER)
    gpu = [b for b in rec.builds if b.architecture in GPU_ONLY]
    assert gpu, "the best GPU build that holds the model is shown for comparison"
    assert min(b.total for b in gpu) >= 3 * server.total
    assert all(b.estimate.fits for b in gpu)
    assert all(all(d.kind != "cpu" or d.layers == 0 for d in b.estimate.memory) for b in gpu)


def test_it_finds_the_same_for_a_400b_model_known_only_by_size(seed):
    request = BuildRequest(model=ModelArch.from_size("400b"), quant=Quant.from_name("Q6_K"))
    rec = recommend(seed, request.relaxed(min_tps=1.0))
    top = rec.builds[:3]
    assert any(b.architecture == CPU_SERVER for b in top), [b.title for b in top]


@pytest.fixture(scope="module")
def seventy_b(seed):
    request = BuildRequest(
        model=seed_model(LLAMA_70B), quant=seed_quant("Q4_K_M"), min_tps=10.0, limit=10
    )
    return request, recommend(seed, request)


def test_it_ranks_a_two_by_24gb_gpu_tower_at_or_near_the_top_by_cost(seventy_b):
    _, rec = seventy_b
    towers = [
        (rank, b)
        for rank, b in enumerate(rec.builds, start=1)
        if b.architecture == GPU_TOWER
        and len(gpu_lines(b)) == 1
        and gpu_lines(b)[0].qty == 2
        and b.estimate.memory[0].capacity_gb < 26
    ]
    assert towers, [b.title for b in rec.builds]
    rank, tower = towers[0]
    assert rank <= 3, [b.title for b in rec.builds]
    assert tower.tokens_per_s >= 10


def test_it_excludes_a_single_24gb_gpu_build_saying_how_much_vram_it_lacks(seventy_b):
    _, rec = seventy_b
    singles = [
        n
        for n in rec.near_misses
        if n.build.architecture in GPU_ONLY
        and [line.qty for line in gpu_lines(n.build)] == [1]
        and 23 < n.build.estimate.memory[0].capacity_gb / 1.0737 < 25
    ]
    assert singles, [(n.build.title, n.reason) for n in rec.near_misses]
    assert re.search(r"needs \d+(\.\d+)? GB more VRAM", singles[0].reason)
    shown = [b for b in rec.builds if b.architecture in GPU_ONLY]
    assert not any(
        sum(line.qty for line in gpu_lines(b)) == 1 and b.estimate.memory[0].capacity_gb < 26
        for b in shown
    )


def test_every_returned_build_passes_every_compatibility_rule(seed, seventy_b, four_hundred_b):
    for request, rec in (seventy_b, four_hundred_b):
        for build in every_build(rec):
            assert_passes_every_rule(seed, build, request)
            assert build.compatible


def test_prices_in_a_build_are_the_parts_current_prices(seed, seventy_b):
    _, rec = seventy_b
    for build in every_build(rec):
        for line in build.lines:
            assert line.unit_price == seed.get(line.slug).price.amount
            assert line.origin == seed.get(line.slug).price.origin
        assert build.total == sum(line.unit_price * line.qty for line in build.lines)


@pytest.mark.parametrize("budget", ["1500", "3000", "3400", "6000", "20000"])
def test_a_build_over_budget_is_never_returned_as_meeting_it(seed, ask, budget):
    rec = recommend(seed, ask(min_tps=10, budget=budget, limit=5))
    for build in rec.builds:
        assert build.total <= Decimal(budget)
        assert build.meets_targets
    for miss in rec.near_misses:
        if miss.build.total > Decimal(budget):
            assert not miss.build.meets_targets
            assert any(
                s.constraint == "budget" and "over budget" in s.message for s in miss.reasons
            )


# What every answer satisfies -------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_tps": 5, "objective": "cheapest"},
        {"min_tps": 8, "objective": "fastest", "budget": "8000"},
        {"min_tps": 5, "objective": "value"},
        {"min_tps": 3, "objective": "power"},
        {"min_tps": 5, "objective": "pareto"},
        {"min_tps": 5, "allow_used": False},
        {"min_tps": 5, "stack": "cuda"},
        {"min_tps": 5, "form": "small"},
        {"min_tps": 0, "max_watts": 400},
        {"min_tps": 5, "concurrent_sequences": 4, "context_tokens": 8192},
        {"model": "llama-3-1-8b-instruct", "quant": "Q8_0", "min_tps": 30},
        {"model": "deepseek-r1", "quant": "Q4_K_M", "min_tps": 3, "limit": 6},
        {"model": "qwen3-30b-a3b", "quant": "Q4_K_M", "min_tps": 20, "form": "laptop"},
    ],
)
def test_every_build_meets_the_request_and_passes_the_rules(seed, ask, kwargs):
    request = ask(**kwargs)
    rec = recommend(seed, request)
    assert len(rec.builds) <= request.limit
    assert len({b.key for b in rec.builds}) == len(rec.builds)
    for build in rec.builds:
        assert build.meets_targets, (build.title, build.shortfalls)
        assert_passes_every_rule(seed, build, request)
        assert build.tokens_per_s >= request.min_tps
        if request.budget is not None:
            assert build.total <= request.budget
        if request.max_watts is not None:
            assert build.power_w <= request.max_watts
        if not request.allow_used:
            assert all(line.condition == "new" for line in build.lines)
        if request.stack == "cuda":
            assert any(
                seed.get(line.slug).stack == "CUDA"
                for line in build.lines
                if line.kind in ("gpu", "system")
            )
        if request.form != "any":
            forms = {
                getattr(seed.get(line.slug), "form_factor", "")
                for line in build.lines
                if line.kind in ("case", "system")
            }
            assert request.form in forms
    for miss in rec.near_misses:
        assert miss.reason and not miss.build.meets_targets
    ranks = [b.rank for b in rec.builds]
    assert ranks == list(range(1, len(rec.builds) + 1))


def test_cheapest_ranking_is_in_price_order(seventy_b):
    _, rec = seventy_b
    totals = [b.total for b in rec.builds]
    assert totals == sorted(totals)
    assert rec.builds[0].rank_reason.startswith("Cheapest")


def test_fastest_ranking_is_in_speed_order_within_the_budget(seed, ask):
    rec = recommend(seed, ask(min_tps=5, objective="fastest", budget="8000"))
    speeds = [b.tokens_per_s for b in rec.builds]
    assert speeds == sorted(speeds, reverse=True)


def test_it_shows_different_architectures_side_by_side(seed):
    # At 6 tokens/s every kind of machine can run a 70B at Q4_K_M; at 10 a CPU server
    # cannot for a sane price (one socket's ~300 GB/s effective reads 42.5 GB per token at
    # about 7 tokens/s; two sockets pay NUMA and CCD-link costs).
    request = BuildRequest(
        model=seed_model(LLAMA_70B), quant=seed_quant("Q4_K_M"), min_tps=6.0, limit=10
    )
    rec = recommend(seed, request)
    architectures = {b.architecture for b in rec.builds}
    assert {GPU_TOWER, UNIFIED, CPU_SERVER} <= architectures
    assert HYBRID in architectures or GPU_SERVER in architectures


def test_the_pareto_front_matches_a_brute_force_search(seed, ask):
    request = ask(min_tps=10, objective="pareto")
    rec = recommend(seed, request)
    assert rec.stats["pareto_exact"]
    brute = Search(seed, request)
    qualifying = []
    for stub in brute.stubs():
        if brute.complete(stub):
            build = brute.evaluate(stub)
            if build.meets_targets:
                qualifying.append((build.total, build.tokens_per_s))
    front, fastest = [], 0.0
    for total, tps in sorted(qualifying, key=lambda q: (q[0], -q[1])):
        if tps > fastest * (1 + 1e-6):
            front.append((total, round(tps, 6)))
            fastest = tps
    assert [(b.total, round(b.tokens_per_s, 6)) for b in rec.pareto] == front
    assert rec.stats["estimates"] < len(qualifying) / 2


def test_work_grows_far_slower_than_the_catalogue(seed, ask):
    request = ask(min_tps=10)
    small = recommend(seed, request)
    big_catalogue = scaled(seed, 10)
    big = recommend(big_catalogue, request)
    assert len(big_catalogue) == 10 * len(seed)
    # Combinations of GPU x CPU x board x memory grow 10^4-fold; estimates do not.
    assert big.stats["estimates"] <= 4 * small.stats["estimates"]
    assert big.builds and big.builds[0].total <= small.builds[0].total * Decimal("1.2")


# Near misses and relaxations -----------------------------------------------------------


def test_it_says_which_constraint_to_relax_and_by_how_much_when_nothing_qualifies(seed, ask):
    # A budget below the cheapest qualifying build, whatever the catalogue holds.
    cheapest = recommend(seed, ask(min_tps=10, limit=1)).builds[0]
    budget = (cheapest.total * Decimal("0.8")).quantize(Decimal("1"))
    rec = recommend(seed, ask(min_tps=10, budget=str(budget)))
    assert rec.builds == []
    relax = {r.field: r for r in rec.relax}
    assert "budget" in relax
    suggested = Decimal(relax["budget"].suggested)
    assert suggested > budget
    assert "Raise the budget to $" in relax["budget"].message
    assert suggested == cheapest.total
    assert "min_tps" in relax and float(relax["min_tps"].suggested) < 10


def test_it_names_the_gap_of_a_build_that_is_too_slow(seed, ask):
    rec = recommend(seed, ask(min_tps=10))
    slow = [n for n in rec.near_misses if any(s.constraint == "min_tps" for s in n.reasons)]
    assert slow
    assert re.search(r"short of the 10 tokens/s target", slow[0].reason)


def test_it_says_how_far_over_budget_a_near_miss_is(seed, ask):
    # A budget a little below the cheapest qualifying build, whatever the catalogue holds.
    cheapest = recommend(seed, ask(min_tps=10, limit=1)).builds[0]
    budget = (cheapest.total * Decimal("0.9")).quantize(Decimal("1"))
    rec = recommend(seed, ask(min_tps=10, budget=str(budget)))
    over = [n for n in rec.near_misses if any(s.constraint == "budget" for s in n.reasons)]
    assert over
    build = over[0].build
    assert f"${build.total - budget:,.0f} over budget" in over[0].reason


def test_must_include_puts_the_part_in_every_build(seed, ask):
    rec = recommend(seed, ask(min_tps=10, must_include=("nvidia-geforce-rtx-4090",)))
    assert rec.builds
    for build in rec.builds:
        assert "nvidia-geforce-rtx-4090" in {line.slug for line in build.lines}


def test_fine_tuning_proposes_gpu_and_unified_builds_only(seed, ask):
    rec = recommend(
        seed, ask(model="falcon-40b", quant="BF16", mode="qlora", min_tps=0, context_tokens=2048)
    )
    assert rec.builds
    assert {b.architecture for b in rec.builds} <= {GPU_TOWER, GPU_SERVER, UNIFIED}
    assert all(b.estimate.training is not None and b.estimate.fits for b in rec.builds)


# Evaluating a given build ----------------------------------------------------------------


def test_a_build_key_round_trips_through_its_url_form(seed, seventy_b):
    request, rec = seventy_b
    build = rec.builds[0]
    again = evaluate(seed, request, parse_parts_param(build.key))
    assert again.key == build.key
    assert again.total == build.total
    assert again.architecture == build.architecture
    assert again.estimate.decode_tokens_per_s == pytest.approx(build.estimate.decode_tokens_per_s)
    assert parts_param(parse_parts_param(build.key)) == build.key


def test_evaluating_parts_that_do_not_fit_together_names_the_rules(seed, ask):
    build = evaluate(
        seed,
        ask(),
        [
            ("amd-epyc-9124", 1),
            ("asus-proart-x870e-creator-wifi", 1),
            ("samsung-ddr5-rdimm-32gb-4800-m321r4ga3bb6-cqk", 3),
            ("nvidia-tesla-p40-used", 2),
            ("corsair-rm750x-2021", 1),
        ],
    )
    rules = {f.rule for f in build.violations}
    assert {"cpu_socket", "memory_registered", "memory_channels", "parts"} <= rules
    missing = next(f for f in build.violations if f.rule == "parts")
    assert "cooler" in missing.message and "case" in missing.message
    assert not build.compatible and not build.meets_targets


def test_evaluating_one_24gb_gpu_with_a_cpu_is_a_hybrid_offload_build(seed, ask):
    rec = recommend(seed, ask(min_tps=10))
    tower = next(b for b in rec.builds if b.architecture == GPU_TOWER)
    parts = [(line.slug, 1 if line.kind == "gpu" else line.qty) for line in tower.lines]
    build = evaluate(seed, ask(min_tps=10), parts)
    assert build.architecture == HYBRID
    assert build.estimate.fits


def test_unknown_parts_are_reported_by_name(seed, ask):
    with pytest.raises(ValueError, match=r"^parts: unknown part slug\(s\): no-such-gpu"):
        evaluate(seed, ask(), [("no-such-gpu", 1)])
    with pytest.raises(ValueError, match="^parts"):
        parse_parts_param("a:zero")
    with pytest.raises(ValueError, match="^parts"):
        parse_parts_param("a:0")


def test_a_complete_system_is_priced_with_an_extra_drive_when_its_own_is_too_small(seed, ask):
    framework = "framework-desktop-ryzen-ai-max-395-128gb"  # sold without a drive
    rec = recommend(seed, ask(min_tps=1, stack="rocm", form="small", limit=20))
    build = next(b for b in rec.builds if framework in b.key)
    assert {line.kind for line in build.lines} == {"system", "storage"}
    assert build.estimate.fits
    bare = evaluate(seed, ask(), [(framework, 1)])
    assert [f.rule for f in bare.violations] == ["storage"]


def test_economics_use_the_requested_electricity_and_cloud_prices(seed, ask):
    request = ask(min_tps=10, kwh_price=Decimal("0.30"), cloud_price_per_mtok=Decimal("5"))
    build = recommend(seed, request).builds[0]
    kwh = build.estimate.kwh_per_million_tokens
    assert build.electricity_cost_per_mtok == (Decimal(str(kwh)) * Decimal("0.30")).quantize(
        Decimal("0.0001")
    )
    monthly = build.monthly_million_tokens * float(Decimal("5") - build.electricity_cost_per_mtok)
    assert build.break_even_months == pytest.approx(float(build.total) / monthly)
    cheap_cloud = recommend(seed, request.relaxed(cloud_price_per_mtok=Decimal("0"))).builds[0]
    assert cheap_cloud.break_even_months is None
    data = build.to_dict()
    assert data["estimate"]["break_even_months"] == pytest.approx(build.break_even_months, rel=1e-3)


def test_the_generator_imports_nothing_from_django():
    code = (
        "import sys; import configurator.engine.builds, configurator.engine.builds.synthetic; "
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_requests_reject_bad_values_naming_the_field():
    arch, quant = ModelArch.from_size("8b"), Quant.from_name("Q4_K_M")
    with pytest.raises(ValueError, match="^objective"):
        BuildRequest(model=arch, quant=quant, objective="best")
    with pytest.raises(ValueError, match="^budget"):
        BuildRequest(model=arch, quant=quant, budget=Decimal("-1"))
    with pytest.raises(ValueError, match="^limit"):
        BuildRequest(model=arch, quant=quant, limit=0)
    with pytest.raises(ValueError, match="^context_tokens"):
        BuildRequest(model=arch, quant=quant, workload=Workload(context_tokens=0))


def test_sxm_and_oam_modules_are_never_offered_as_pcie_cards(seed, ask):
    from tests.configurator.seedcat import seed_rows

    modules = {
        row["slug"]
        for row in seed_rows()
        if row["kind"] == "gpu" and row["specs"].get("form_factor") in ("sxm", "oam")
    }
    assert modules  # the seed holds H100/H200/A100 SXM and MI300X OAM rows
    assert not modules & {part.slug for part in seed.parts}
    rec = recommend(seed, ask("llama-3-1-405b-instruct", min_tps=5, limit=10))
    assert rec.builds
    assert not modules & {line.slug for build in rec.builds for line in build.lines}
