"""Seed platforms assemble under the build rules: a Xeon 6 (LGA4710) CPU server and AM5
desktop boards with listed slot layouts carry a GPU build without a server board."""

from __future__ import annotations

import pytest

from configurator.engine.builds import evaluate
from configurator.engine.builds.assembly import machine_for
from configurator.engine.builds.rules import Assembly

XEON_6 = "intel-xeon-6774p"  # 8 channels of DDR5-6400 (Intel's launch table)
XEON_6_BOARD = "supermicro-x14sbw-tf"  # 8 RDIMM slots, 1 DIMM per channel, up to 2 TB
RDIMM_6400 = "micron-ddr5-rdimm-64gb-6400-mtc40f2046s1rc64bh1"
RDIMM_4800 = "samsung-ddr5-rdimm-64gb-4800-m321r8ga0bb0-cqk"
PLATFORM_RULES = (
    "cpu_socket",
    "cpu_chipset",
    "socket_count",
    "memory_type",
    "memory_registered",
    "memory_channels",
    "dimm_slots",
    "max_memory",
)


def rule(build, name: str) -> dict:
    return next(r for r in build.rules if r["name"] == name)


def xeon_6_server(cpu: str = XEON_6, memory: str = RDIMM_6400, modules: int = 8):
    return [
        (cpu, 1),
        (XEON_6_BOARD, 1),
        (memory, modules),
        ("silverstone-xed120s-ws", 1),  # 450 W, mounts LGA4710
        ("phanteks-enthoo-pro-2-server-edition", 1),
        ("corsair-hx1000i-2022", 1),
        ("samsung-990-pro-2tb", 1),
    ]


def am5_gpu_tower(board: str, gpus: int = 1):
    return [
        ("nvidia-geforce-rtx-5090", gpus),
        ("amd-ryzen-9-9950x", 1),
        (board, 1),
        ("crucial-ddr5-32gb-5600-ct32g56c46u5", 2),
        ("noctua-nh-d15-g2", 1),
        ("corsair-hx1500i-2022", 1),
        ("fractal-design-torrent", 1),
        ("samsung-990-pro-2tb", 1),
    ]


def test_a_xeon_6_cpu_server_passes_every_platform_rule(seed, ask):
    build = evaluate(seed, ask(), xeon_6_server())
    for name in PLATFORM_RULES:
        assert rule(build, name)["status"] == "pass", rule(build, name)
    assert all(r["status"] != "fail" for r in build.rules), build.rules
    assert build.estimate is not None and build.tokens_per_s > 0


def test_xeon_6_decodes_faster_on_ddr5_6400_than_4800_but_no_more_than_the_ratio(seed, ask):
    """A 70B at Q4 on one socket is bound by memory bandwidth: 8 channels x 6400 MT/s x
    8 B = 409.6 GB/s against 307.2 GB/s at 4800, so at most 4/3 faster."""
    fast = evaluate(seed, ask(), xeon_6_server(memory=RDIMM_6400)).tokens_per_s
    slow = evaluate(seed, ask(), xeon_6_server(memory=RDIMM_4800)).tokens_per_s
    assert fast > slow
    assert fast / slow <= 6400 / 4800 * 1.01


@pytest.mark.parametrize(
    ("parts", "name"),
    [
        (xeon_6_server(memory="crucial-ddr5-32gb-5600-ct32g56c46u5"), "memory_registered"),
        (xeon_6_server(cpu="intel-xeon-platinum-8592plus-used"), "cpu_socket"),
        (xeon_6_server(modules=6), "memory_channels"),
    ],
    ids=["udimms-in-an-rdimm-board", "lga4677-cpu", "six-of-eight-channels"],
)
def test_a_xeon_6_board_refuses_what_does_not_fit_it(seed, ask, parts, name):
    assert rule(evaluate(seed, ask(), parts), name)["status"] == "fail"


@pytest.mark.parametrize(
    ("board", "link"),
    [
        ("asus-rog-strix-b850-a-gaming-wifi", "PCIe 5.0 x16"),
        ("sapphire-nitro-b850a-wifi-7", "PCIe 5.0 x16"),
        ("asus-rog-strix-x870e-e-gaming-wifi", "PCIe 5.0 x16"),
        ("gigabyte-b650m-ds3h", "PCIe 4.0 x16"),
    ],
)
def test_an_am5_board_seats_an_rtx_5090_in_its_cpu_slot(seed, ask, board, link):
    build = evaluate(seed, ask("llama-3-1-8b-instruct"), am5_gpu_tower(board))
    assert all(r["status"] != "fail" for r in build.rules), build.rules
    assert rule(build, "gpu_slots")["status"] == "pass"  # the slot layout is listed
    assert rule(build, "pcie_lanes")["detail"] == f"GPUs run at {link}."
    assert build.estimate is not None and build.tokens_per_s > 0


def test_a_one_slot_micro_atx_board_takes_one_gpu(seed, ask):
    build = evaluate(seed, ask("llama-3-1-8b-instruct"), am5_gpu_tower("gigabyte-b650m-ds3h", 2))
    assert rule(build, "gpu_slots")["status"] == "fail"


def test_a_second_gpu_on_a_b850_board_gets_the_chipsets_four_lanes(seed, ask):
    """The ROG Strix B850-A's second x16-length slot (position 7) is PCIe 4.0 x4 from the
    chipset, so two PCIe 5.0 cards run one of them at 4.0 x4."""
    build = evaluate(seed, ask(), am5_gpu_tower("asus-rog-strix-b850-a-gaming-wifi", 2))
    assert rule(build, "gpu_slots")["status"] == "pass"
    assert rule(build, "pcie_lanes")["detail"] == "GPUs run at PCIe 5.0 x16/4.0 x4."


def lga1700_gpu_tower(gpu: str, gpus: int = 1):
    return [
        (gpu, gpus),
        ("intel-core-i7-14700k", 1),
        ("asus-rog-strix-b760-f-gaming-wifi", 1),
        ("crucial-ddr5-32gb-5600-ct32g56c46u5", 2),
        ("noctua-nh-d15-g2", 1),
        ("corsair-hx1500i-2022", 1),
        ("fractal-design-torrent", 1),
        ("samsung-990-pro-2tb", 1),
    ]


def test_a_b760_board_seats_one_gpu_in_its_cpu_slot_at_x16(seed, ask):
    """The ROG Strix B760-F's slot at position 2 is PCIe 5.0 x16 from the CPU."""
    build = evaluate(
        seed, ask("llama-3-1-8b-instruct"), lga1700_gpu_tower("nvidia-geforce-rtx-5090")
    )
    assert all(r["status"] != "fail" for r in build.rules), build.rules
    assert rule(build, "gpu_slots")["status"] == "pass"
    assert rule(build, "pcie_lanes")["detail"] == "GPUs run at PCIe 5.0 x16."
    assert build.estimate is not None and build.tokens_per_s > 0


def test_a_second_gpu_on_the_b760_board_gets_the_chipsets_gen3_x4(seed, ask):
    """Its second x16-length slot (position 5) is PCIe 3.0 x4 from the B760 chipset, three
    positions below the first, so two dual-slot RTX 4070 Ti fit and one runs at 3.0 x4;
    the other, a PCIe 4.0 card, trains its 5.0 slot down to 4.0 x16."""
    build = evaluate(seed, ask(), lga1700_gpu_tower("nvidia-geforce-rtx-4070-ti", 2))
    assert rule(build, "gpu_slots")["status"] == "pass"
    assert rule(build, "pcie_lanes")["detail"] == (
        "GPUs run at PCIe 4.0 x16/3.0 x4, the lower of each card's and its slot's link "
        "(slots: PCIe 5.0 x16/3.0 x4)."
    )


def test_a_card_without_a_listed_width_leaves_the_slot_check_open(seed, ask):
    """Radeon RX 9070 cards are partner designs of varying width, so the seed leaves
    slot_width null and two of them are not declared to fit."""
    build = evaluate(seed, ask(), lga1700_gpu_tower("amd-radeon-rx-9070", 2))
    assert rule(build, "gpu_slots")["status"] == "unknown"


def engine_gpu(seed, parts):
    """The engine's view of the build's (single kind of) GPU."""
    machine = machine_for(Assembly([(seed.get(slug), qty) for slug, qty in parts]))
    return machine.gpus[0].gpu


def test_a_pcie_4_card_in_a_pcie_5_slot_runs_at_4_0_x16(seed, ask):
    """Issue 14: the RTX 4070 Ti is a PCIe 4.0 x16 card; in the B760-F's PCIe 5.0 x16
    slot the link trains to 4.0 x16, and host-to-GPU transfers get 4.0 x16's
    16 x 1.969 = 31.5 GB/s, not 5.0's 63 GB/s."""
    parts = lga1700_gpu_tower("nvidia-geforce-rtx-4070-ti")
    build = evaluate(seed, ask("llama-3-1-8b-instruct"), parts)
    assert rule(build, "pcie_lanes")["detail"] == (
        "GPUs run at PCIe 4.0 x16, the lower of each card's and its slot's link "
        "(slots: PCIe 5.0 x16)."
    )
    gpu = engine_gpu(seed, parts)
    assert (gpu.pcie_gen, gpu.pcie_lanes) == (4, 16)
    assert gpu.pcie_bandwidth_gbs == pytest.approx(16 * 1.969)


@pytest.mark.parametrize(
    ("card", "link"),
    [
        ("nvidia-geforce-rtx-4060-ti-16gb", (4, 8)),
        ("nvidia-geforce-rtx-4060", (4, 8)),
        ("nvidia-geforce-rtx-5060-ti-16gb", (5, 8)),
        ("nvidia-geforce-rtx-5060", (5, 8)),
    ],
)
def test_an_x8_card_in_an_x16_slot_runs_at_x8(seed, ask, card, link):
    """The RTX 4060 / 4060 Ti (PCIe 4.0) and 5060 / 5060 Ti (5.0) wire 8 lanes; in the
    X870E-E's PCIe 5.0 x16 CPU slot they get x8, so the engine's link is 8 lanes wide."""
    parts = [(card, 1), *am5_gpu_tower("asus-rog-strix-x870e-e-gaming-wifi")[1:]]
    build = evaluate(seed, ask("llama-3-1-8b-instruct"), parts)
    gen, lanes = link
    assert rule(build, "pcie_lanes")["detail"] == (
        f"GPUs run at PCIe {gen}.0 x{lanes}, the lower of each card's and its slot's link "
        "(slots: PCIe 5.0 x16)."
    )
    gpu = engine_gpu(seed, parts)
    assert (gpu.pcie_gen, gpu.pcie_lanes) == link
    assert gpu.pcie_bandwidth_gbs == pytest.approx(lanes * {4: 1.969, 5: 3.938}[gen])


def test_each_gpu_kind_gets_the_link_of_its_own_slot(seed, ask):
    """An RTX 5090 in the B850-A's PCIe 5.0 x16 slot and an RTX 4060 Ti 16GB in its
    chipset's 4.0 x4 slot: the 5090 keeps 5.0 x16; only the 4060 Ti drops to x4."""
    parts = [
        ("nvidia-geforce-rtx-5090", 1),
        ("nvidia-geforce-rtx-4060-ti-16gb", 1),
        *am5_gpu_tower("asus-rog-strix-b850-a-gaming-wifi")[1:],
    ]
    machine = machine_for(Assembly([(seed.get(slug), qty) for slug, qty in parts]))
    links = {g.gpu.name: (g.gpu.pcie_gen, g.gpu.pcie_lanes) for g in machine.gpus}
    assert links == {"GeForce RTX 5090": (5, 16), "GeForce RTX 4060 Ti 16GB": (4, 4)}


def test_tensor_parallel_over_x8_cards_warns_even_in_x16_slots(seed, ask):
    """Two RTX 4060 Ti 16GB (x8 cards) in the ROMED8-2T's x16 slots under vLLM: the
    all-reduce crosses x8 links although the slots are x16, so the lane rule warns."""
    parts = [
        ("nvidia-geforce-rtx-4060-ti-16gb", 2),
        ("amd-epyc-7313-used", 1),
        ("asrock-rack-romed8-2t", 1),
        ("samsung-ddr4-rdimm-32gb-3200-m393a4k40db3-cwe-used", 8),
        ("noctua-nh-u14s-tr4-sp3", 1),
        ("supermicro-sc747btq-r2k04b", 1),
        ("samsung-990-pro-2tb", 1),
    ]
    request = ask("llama-3-1-8b-instruct", quant="AWQ-4bit", concurrent_sequences=8)
    build = evaluate(seed, request, parts)
    assert build.engine == "vllm" and build.estimate.split == "tensor"
    lanes = [r for r in build.rules if r["name"] == "pcie_lanes"]
    assert any(r["status"] == "warn" and "x8/x8" in r["detail"] for r in lanes), lanes
    assert any("gets the bandwidth of x8" in r["detail"] for r in lanes), lanes
