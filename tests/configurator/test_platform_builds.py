"""Seed platforms assemble under the build rules: a Xeon 6 (LGA4710) CPU server and AM5
desktop boards with listed slot layouts carry a GPU build without a server board."""

from __future__ import annotations

import pytest

from configurator.engine.builds import evaluate

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
    chipset, so two cards run one of them at x4."""
    build = evaluate(seed, ask(), am5_gpu_tower("asus-rog-strix-b850-a-gaming-wifi", 2))
    assert rule(build, "gpu_slots")["status"] == "pass"
    assert rule(build, "pcie_lanes")["detail"] == "GPUs run at PCIe x16/x4."


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
    positions below the first, so two dual-slot RTX 4070 Ti fit and one runs at x4."""
    build = evaluate(seed, ask(), lga1700_gpu_tower("nvidia-geforce-rtx-4070-ti", 2))
    assert rule(build, "gpu_slots")["status"] == "pass"
    assert rule(build, "pcie_lanes")["detail"] == "GPUs run at PCIe x16/x4."


def test_a_card_without_a_listed_width_leaves_the_slot_check_open(seed, ask):
    """Radeon RX 9070 cards are partner designs of varying width, so the seed leaves
    slot_width null and two of them are not declared to fit."""
    build = evaluate(seed, ask(), lga1700_gpu_tower("amd-radeon-rx-9070", 2))
    assert rule(build, "gpu_slots")["status"] == "unknown"
