"""Every ranked build can be bought, assembled and run: the infeasible builds users met
are rejected or repaired, and every build lists its rules with a status."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from configurator.engine.builds import BuildRequest, evaluate, recommend
from configurator.engine.builds.parts import AdapterPart
from configurator.engine.builds.rules import STATUSES
from configurator.engine.engines import tensor_parallel_sizes
from tests.configurator.conftest import LLAMA_70B
from tests.configurator.seedcat import seed_model

A100 = "nvidia-a100-80gb-pcie-used"
# The seed's Ampere 2-slot NVLink bridge for A100 PCIe: cards bridge in pairs, three
# bridges a pair (its seed row cites PNY and a photographed installation).
A100_BRIDGE = "nvidia-nvlink-bridge-ampere-2-slot-a100-pcie"


def gpu_count(build) -> int:
    return sum(line.qty for line in build.lines if line.kind == "gpu")


def rule(build, name: str) -> dict:
    return next(r for r in build.rules if r["name"] == name)


def every_build(rec):
    return [*rec.builds, *(n.build for n in rec.near_misses), *rec.pareto]


@pytest.fixture(scope="module")
def fp8_batch(seed):
    """Llama 3.1 70B (64 attention heads, 8 KV heads) in FP8 for 32 users: vLLM."""
    from configurator.engine import Workload
    from tests.configurator.seedcat import seed_quant

    request = BuildRequest(
        model=seed_model(LLAMA_70B),
        quant=seed_quant("FP8"),
        workload=Workload(context_tokens=8192, concurrent_sequences=32),
        limit=10,
    )
    return request, recommend(seed, request)


def test_vllm_shards_a_64_head_model_only_over_1_2_4_or_8_gpus():
    assert tensor_parallel_sizes("vllm", seed_model(LLAMA_70B)) == (1, 2, 4, 8)
    assert tensor_parallel_sizes("llama.cpp", seed_model(LLAMA_70B)) == (1, 2, 4, 8)
    assert tensor_parallel_sizes("mlx", seed_model(LLAMA_70B)) == (1,)


def test_three_five_or_seven_gpus_under_vllm_run_as_a_pipeline_and_say_so(fp8_batch):
    _, rec = fp8_batch
    builds = [b for b in every_build(rec) if b.engine == "vllm" and gpu_count(b) > 1]
    odd = [b for b in builds if gpu_count(b) in (3, 5, 6, 7)]
    even = [b for b in builds if gpu_count(b) in (2, 4, 8)]
    assert odd and even, [b.title for b in builds]
    for build in odd:
        assert build.estimate.split == "layer", build.title
        assert rule(build, "tensor_parallel")["status"] == "warn"
        assert "pipeline" in rule(build, "tensor_parallel")["detail"]
    for build in even:
        assert build.estimate.split == "tensor", build.title
        assert rule(build, "tensor_parallel")["status"] == "pass"


def test_a_pipeline_of_three_is_no_faster_than_one_card_holding_the_same_share(fp8_batch, seed):
    """Three GPUs in a layer split take turns: their bandwidth does not add up, so the
    build is slower per sequence than two of the same cards sharding each layer."""
    request, rec = fp8_batch
    three = next(b for b in every_build(rec) if gpu_count(b) == 3 and b.engine == "vllm")
    gpu = next(line.slug for line in three.lines if line.kind == "gpu")
    four = evaluate(
        seed,
        request,
        [(line.slug, 4 if line.kind == "gpu" else line.qty) for line in three.lines],
    )
    assert four.estimate.split == "tensor" and gpu
    assert four.tokens_per_s > 1.5 * three.tokens_per_s


def a100_server(count: int, bridges: int = 0) -> list[tuple[str, int]]:
    parts = [
        (A100, count),
        ("amd-epyc-7313-used", 1),
        ("asrock-rack-romed8-2t", 1),
        ("samsung-ddr4-rdimm-32gb-3200-m393a4k40db3-cwe-used", 8),
        ("noctua-nh-u14s-tr4-sp3", 1),
        ("supermicro-sc747btq-r2k04b", 1),
        ("samsung-990-pro-2tb", 1),
    ]
    return [*parts, (A100_BRIDGE, bridges)] if bridges else parts


def test_the_seed_pairs_a100_pcie_cards_with_three_bridges(seed):
    gpu, bridge = seed.get(A100), seed.get(A100_BRIDGE)
    assert gpu.interconnect == "NVLink" and gpu.interconnect_group_size == 2
    assert bridge.gpus_joined == 2 and bridge.bridges_per_group == 3
    assert A100 in bridge.compatible_gpus and bridge.slot_spacing == 2


@pytest.fixture
def a100_request():
    from tests.configurator.seedcat import seed_quant

    return BuildRequest(model=seed_model(LLAMA_70B), quant=seed_quant("FP8"), engine="vllm")


def test_four_a100_pcie_without_bridges_talk_over_pcie(seed, a100_request):
    build = evaluate(seed, a100_request, a100_server(4))
    assert build.compatible, build.violations
    assert rule(build, "gpu_interconnect")["status"] == "pass"
    assert "PCIe" in rule(build, "gpu_interconnect")["detail"]
    assert "over PCIe" in " ".join(build.estimate.assumptions)
    assert "over NVLink" not in " ".join(build.estimate.assumptions)


def test_a100_bridges_join_pairs_only(seed, a100_request):
    pair = evaluate(seed, a100_request, a100_server(2, bridges=3))
    assert rule(pair, "gpu_interconnect")["status"] == "pass"
    assert "over NVLink" in " ".join(pair.estimate.assumptions)
    unbridged = evaluate(seed, a100_request, a100_server(2))
    assert pair.tokens_per_s > unbridged.tokens_per_s
    assert pair.total > unbridged.total  # the three bridges are priced into the build
    # Four cards with bridges: two bridged pairs; a tensor split over four spans them.
    quad = evaluate(seed, a100_request, a100_server(4, bridges=6))
    assert rule(quad, "gpu_interconnect")["status"] == "warn"
    assert "over NVLink" not in " ".join(quad.estimate.assumptions)
    # Too few bridges for a pair is a failure, not a silent NVLink.
    short = evaluate(seed, a100_request, a100_server(2, bridges=1))
    assert rule(short, "gpu_interconnect")["status"] == "fail"


def mi50_box(count: int):
    return [
        ("amd-instinct-mi50-32gb-used", count),
        ("amd-epyc-7313-used", 1),
        ("supermicro-h12ssl-i", 1),
        ("samsung-ddr4-rdimm-32gb-3200-m393a4k40db3-cwe-used", 8),
        ("noctua-nh-u14s-tr4-sp3", 1),
        ("supermicro-sc747btq-r2k04b", 1),
        ("samsung-990-pro-2tb", 1),
    ]


def test_five_dual_slot_mi50s_do_not_fit_an_atx_h12ssl_i(seed, ask):
    build = evaluate(seed, ask(), mi50_box(5))
    assert rule(build, "gpu_slots")["status"] == "fail"
    assert "position 9" in rule(build, "gpu_slots")["detail"]
    # Three fit no matter where its slots are? Not known: its slot layout is not listed.
    assert rule(evaluate(seed, ask(), mi50_box(3)), "gpu_slots")["status"] == "unknown"


def test_the_search_never_seats_more_dual_slot_cards_than_an_atx_board_can(seed, ask):
    rec = recommend(seed, ask(quant="Q8_0", stack="rocm", limit=10))
    for build in every_build(rec):
        board = next((line.slug for line in build.lines if line.kind == "motherboard"), "")
        if board == "supermicro-h12ssl-i":
            assert gpu_count(build) <= 4, build.title
        assert all(r["status"] != "fail" for r in build.rules if r["name"] == "gpu_slots")


def test_a_chassis_with_its_own_supplies_takes_no_atx_supply(seed, ask):
    parts = [*mi50_box(2), ("corsair-hx1500i-2022", 2)]
    build = evaluate(seed, ask(), parts)
    assert rule(build, "psu_watts")["status"] == "fail"
    assert "ships with its own 2 × 2000 W" in rule(build, "psu_watts")["detail"]
    alone = evaluate(seed, ask(), mi50_box(2))
    assert rule(alone, "psu_watts")["status"] == "pass"
    assert rule(alone, "parts")["status"] == "pass"


def test_search_builds_in_the_sc747_use_its_own_supplies(seed, ask):
    rec = recommend(seed, ask(form="rack", limit=5))
    racked = [
        b
        for b in every_build(rec)
        if any(line.slug == "supermicro-sc747btq-r2k04b" for line in b.lines)
    ]
    assert racked
    for build in racked:
        assert not [line for line in build.lines if line.kind == "psu"], build.title


def test_every_returned_build_lists_its_rules_and_none_fails(seed, ask):
    rec = recommend(seed, ask(min_tps=10, limit=10))
    kinds = {line.kind for b in rec.builds for line in b.lines}
    assert {"gpu", "system"} <= kinds
    for build in rec.builds:
        names = {r["name"] for r in build.rules}
        built = {line.kind for line in build.lines}
        if "system" in built:
            assert names == {"parts", "system_extras", "storage"}
        else:
            assert {"cpu_socket", "psu_watts", "memory_channels"} <= names
        if "gpu" in built:
            assert {"gpu_slots", "tensor_parallel", "gpu_interconnect", "pcie_lanes"} <= names
        assert all(r["status"] in STATUSES and r["detail"] for r in build.rules)
        assert all(r["status"] != "fail" for r in build.rules), build.title
        assert build.to_dict()["rules"] == build.rules


@pytest.mark.parametrize(
    ("quant", "kwargs"),
    [
        ("Q4_K_M", {"min_tps": 10, "allow_used": False}),
        ("FP8", {"concurrent_sequences": 32, "context_tokens": 8192}),
        ("Q8_0", {"concurrent_sequences": 8, "context_tokens": 8192, "objective": "pareto"}),
        ("Q4_K_M", {"stack": "rocm", "form": "rack"}),
    ],
    ids=["q4-new", "fp8-batch32", "q8-pareto", "rocm-rack"],
)
def test_the_front_and_the_trade_offs_list_their_rules_and_none_fails(seed, ask, quant, kwargs):
    """The JSON also returns the price/speed front and the trade-offs outside the
    targets: each of those builds lists its rules too, and none breaks one."""
    rec = recommend(seed, ask(quant=quant, limit=10, **kwargs))
    shown = [*rec.builds, *rec.pareto, *(t.build for t in rec.trade_offs)]
    assert len(shown) > len(rec.builds)
    data = rec.to_dict()
    for build in shown:
        assert build.rules and all(r["status"] in STATUSES for r in build.rules)
        assert [r["name"] for r in build.rules if r["status"] == "fail"] == [], build.title
    for entry in (*data["builds"], *data["trade_offs"]):
        assert entry["rules"] and all(r["status"] != "fail" for r in entry["rules"])


def test_an_unverified_rule_ranks_below_an_equal_build_whose_rules_all_pass(seed, ask):
    """Two boards alike in price and specs, one without its slot layout (and a slug that
    sorts first): the build on the board whose layout is known is the one ranked."""
    from configurator.engine.builds import Catalogue

    board = seed.get("asrock-rack-romed8-2t")  # seven x16 slots, one position apart
    unknown = replace(board, slug="aaa-romed8-unknown-layout", slot_spacing=None, x16_positions=())
    parts = [p for p in seed.parts if p.kind != "motherboard" or p.slug == board.slug]
    catalogue = Catalogue((*parts, unknown), version="unknown-layout")
    request = ask(must_include=("nvidia-geforce-rtx-3090-used",), min_tps=10, limit=3)
    top = recommend(catalogue, request).builds[0]
    assert [line.slug for line in top.lines if line.kind == "motherboard"] == [board.slug]
    assert rule(top, "gpu_slots")["status"] == "pass"
    moved = evaluate(
        catalogue,
        request,
        [(unknown.slug if line.slug == board.slug else line.slug, line.qty) for line in top.lines],
    )
    assert moved.total == top.total and rule(moved, "gpu_slots")["status"] == "unknown"


DESKTOP_SOCKETS = ("AM4", "AM5", "LGA1700", "LGA1851")


def test_70b_q4_at_10_tokens_on_new_parts_ranks_a_desktop_two_gpu_tower_first(seed, ask):
    request = ask(min_tps=10, allow_used=False, limit=5)
    rec = recommend(seed, request)
    first = rec.builds[0]
    cpu = seed.get(next(line.slug for line in first.lines if line.kind == "cpu"))
    board = seed.get(next(line.slug for line in first.lines if line.kind == "motherboard"))
    assert cpu.socket in DESKTOP_SOCKETS and board.socket in DESKTOP_SOCKETS, first.title
    assert gpu_count(first) >= 2 and first.tokens_per_s >= 10
    assert all(not seed.get(line.slug).used for line in first.lines)
    assert rule(first, "gpu_slots")["status"] == "pass"  # the board's slot layout is listed
    # The desktop host costs a fraction of the cheapest server host for the same GPUs.
    host = sum(line.line_total for line in first.lines if line.kind in ("cpu", "motherboard"))
    assert host < 400


def test_an_x8_x8_desktop_split_says_what_it_costs_tensor_parallel_speed(seed, ask):
    """Two RTX 4090s under vLLM (AWQ) on an X570 board that splits the CPU's 16 lanes."""
    parts = [
        ("nvidia-geforce-rtx-4090", 2),
        ("amd-ryzen-5-5600", 1),
        ("gigabyte-x570s-aorus-master", 1),
        ("crucial-ddr4-32gb-3200-ct32g4dfd832a", 2),
        ("thermalright-peerless-assassin-120-se", 1),
        ("seasonic-prime-tx-1600", 1),
        ("fractal-design-define-7-xl", 1),
        ("samsung-990-pro-2tb", 1),
    ]
    request = ask(quant="AWQ-4bit", concurrent_sequences=8)
    build = evaluate(seed, request, parts)
    assert build.engine == "vllm" and build.estimate.split == "tensor"
    lanes = rule(build, "pcie_lanes")
    assert lanes["status"] == "warn" and "x8/x8" in lanes["detail"]
    faster = re.search(r"would decode ([\d.]+) tokens/s \((\d+)% faster\)", lanes["detail"])
    assert faster and float(faster.group(1)) > build.tokens_per_s


def _test_riser(seed) -> AdapterPart:
    """A PCIe 4.0 x16 riser cable priced as a 1 TB drive (the catalogue lists none)."""
    return AdapterPart(
        slug="test-riser",
        name="PCIe 4.0 x16 riser cable",
        adapter_type="riser_cable",
        pcie_lanes=16,
        pcie_gen=4,
        price=seed.get("samsung-990-pro-1tb").price,
    )


def test_a_riser_cable_seats_the_card_that_does_not_fit_side_by_side(seed, ask):
    """Three 3-slot RTX 3090s on a board with x16 slots at positions 2, 5 and 7: the third
    card would cover slots the second one already covers, unless a riser moves it."""
    from configurator.engine.builds import Catalogue

    catalogue = Catalogue((*seed.parts, _test_riser(seed)), version="with-riser")
    parts = [
        ("nvidia-geforce-rtx-3090-used", 3),
        ("amd-ryzen-5-5600", 1),
        ("gigabyte-b550-aorus-pro-ac", 1),
        ("crucial-ddr4-32gb-3200-ct32g4dfd832a", 2),
        ("thermalright-peerless-assassin-120-se", 1),
        ("super-flower-leadex-platinum-2000w", 1),
        ("fractal-design-define-7-xl", 1),
        ("samsung-990-pro-2tb", 1),
    ]
    without = evaluate(catalogue, ask(), parts)
    assert rule(without, "gpu_slots")["status"] == "fail"
    with_riser = evaluate(catalogue, ask(), [*parts, ("test-riser", 1)])
    slots = rule(with_riser, "gpu_slots")
    assert slots["status"] == "warn" and "riser" in slots["detail"]
    assert any(line.slug == "test-riser" and line.line_total for line in with_riser.lines)
    assert with_riser.total > without.total  # the riser is priced into the build


def test_a_bifurcation_card_seats_more_gpus_than_slots_and_is_priced(seed, ask):
    """Eight 3-slot RTX 3090s on a seven-slot ROMED8-2T: three side by side, five on
    riser cables, two of them on an x8/x8 bifurcation card in one x16 slot. The board's
    bifurcation support is not in the catalogue, so that is unknown, not a pass."""
    from configurator.engine.builds import Catalogue

    riser = _test_riser(seed)
    price = riser.price
    split = AdapterPart(
        slug="test-x8x8",
        name="PCIe 4.0 x16 to x8/x8 bifurcation card",
        adapter_type="bifurcation_card",
        gpus_joined=2,
        pcie_lanes=8,
        pcie_gen=4,
        price=price,
    )
    catalogue = Catalogue((*seed.parts, riser, split), version="with-bifurcation")
    parts = [
        ("nvidia-geforce-rtx-3090-used", 8),
        ("amd-epyc-7313-used", 1),
        ("asrock-rack-romed8-2t", 1),
        ("samsung-ddr4-rdimm-32gb-3200-m393a4k40db3-cwe-used", 8),
        ("noctua-nh-u14s-tr4-sp3", 1),
        ("supermicro-sc747btq-r2k04b", 1),
        ("samsung-990-pro-2tb", 1),
        ("test-riser", 5),
    ]
    without = evaluate(catalogue, ask(), parts)
    assert rule(without, "gpu_slots")["status"] == "fail"
    assert "has 7" in rule(without, "gpu_slots")["detail"]
    build = evaluate(catalogue, ask(), [*parts, ("test-x8x8", 1)])
    slots = rule(build, "gpu_slots")
    assert slots["status"] == "warn" and "2 of them on the links of bifurcation" in slots["detail"]
    assert rule(build, "risers")["status"] == "unknown"
    assert "bifurcation" in rule(build, "risers")["detail"]
    assert rule(build, "pcie_lanes")["detail"].count("x8") == 2
    assert build.total == without.total + price.amount


@pytest.mark.parametrize(
    ("board", "socket"),
    [
        ("gigabyte-b550-aorus-pro-ac", "AM4"),
        ("sapphire-nitro-b850a-wifi-7", "AM5"),
        ("asus-rog-strix-b760-f-gaming-wifi", "LGA1700"),
        ("asus-proart-z890-creator-wifi", "LGA1851"),
        ("asus-pro-ws-trx50-sage-wifi", "sTR5"),  # TRX50
        ("asus-pro-ws-w790e-sage-se", "LGA4677"),  # W790
        ("supermicro-x14sbw-tf", "LGA4710"),  # Xeon 6
    ],
)
def test_desktop_and_workstation_platforms_host_gpu_builds(seed, ask, board, socket):
    """Each desktop and workstation platform is a candidate host: a request that must
    include its board gets a GPU tower on it with a CPU of its socket, breaking no rule."""
    rec = recommend(seed, ask(must_include=(board,), limit=3))
    towers = [b for b in rec.builds if b.architecture == "GPU tower"]
    assert towers, [b.title for b in rec.builds]
    for build in towers:
        slugs = {line.slug for line in build.lines}
        cpu = next(seed.get(line.slug) for line in build.lines if line.kind == "cpu")
        assert board in slugs and cpu.socket == socket and gpu_count(build) >= 1
        assert all(r["status"] != "fail" for r in build.rules), build.title
