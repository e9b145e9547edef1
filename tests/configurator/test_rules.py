"""Compatibility rules, one by one: each broken rule is named."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configurator.engine.builds import RULES, Assembly, check
from configurator.engine.builds.rules import (
    ModelNeeds,
    OffBoard,
    effective_memory_mts,
    plan_slots,
)

NEEDS = ModelNeeds(weights_gb=43.2, files_gb=43.2)


@pytest.fixture
def part(seed):
    return seed.get


@pytest.fixture
def desktop(part):
    """A compatible dual-RTX-3090 desktop, as parts and quantities."""
    return [
        (part("nvidia-geforce-rtx-3090-used"), 2),
        (part("amd-ryzen-9-9950x"), 1),
        (part("asus-proart-x870e-creator-wifi"), 1),
        (part("crucial-ddr5-32gb-5600-ct32g56c46u5"), 2),
        (part("noctua-nh-d15-g2"), 1),
        (part("corsair-hx1500i-2022"), 1),
        (part("phanteks-enthoo-pro-2-server-edition"), 1),
        (part("samsung-990-pro-1tb"), 1),
    ]


@pytest.fixture
def epyc_server(part):
    return [
        (part("amd-epyc-9124"), 2),
        (part("gigabyte-mz73-lm1"), 1),
        (part("samsung-ddr5-rdimm-16gb-4800-m321r2ga3bb6-cqk"), 24),
        (part("silverstone-xed120s-ws"), 2),
        (part("corsair-hx1000i-2022"), 1),
        (part("phanteks-enthoo-pro-2-server-edition"), 1),
        (part("samsung-990-pro-1tb"), 1),
    ]


def violated(items, needs=NEEDS) -> set[str]:
    return {f.rule for f in check(Assembly(items), needs) if f.ok is False}


def swap(items, kind, new, qty=None):
    return [(new, qty if qty is not None else q) if p.kind == kind else (p, q) for p, q in items]


def test_it_accepts_a_compatible_desktop_and_a_compatible_epyc_server(desktop, epyc_server):
    assert violated(desktop) == set()
    assert violated(epyc_server, ModelNeeds(330, 330)) == set()


def test_every_rule_is_described():
    assert all(RULES[name].strip() for name in RULES)


def test_a_cpu_for_another_socket_breaks_cpu_socket(desktop, part):
    assert "cpu_socket" in violated(swap(desktop, "cpu", part("intel-core-i9-14900k")))


def test_a_xeon_scalable_on_a_w790_board_breaks_cpu_chipset(part):
    board = part("asus-pro-ws-w790e-sage-se")
    scalable = part("intel-xeon-platinum-8480plus-used")
    workstation = part("intel-xeon-w9-3475x")
    assert "cpu_chipset" in violated([(scalable, 1), (board, 1)])
    assert "cpu_chipset" not in violated([(workstation, 1), (board, 1)])
    assert "cpu_chipset" not in violated([(scalable, 1), (part("gigabyte-ms03-ce0"), 1)])


def test_one_cpu_on_a_two_socket_board_breaks_socket_count(epyc_server):
    items = [(p, 1 if p.kind in ("cpu", "cooler") else q) for p, q in epyc_server]
    assert "socket_count" in violated(items, ModelNeeds(330, 330))


def test_a_single_socket_cpu_on_a_dual_board_breaks_socket_count(epyc_server):
    one_socket = replace(epyc_server[0][0], slug="epyc-1p", max_sockets=1)
    assert "socket_count" in violated(swap(epyc_server, "cpu", one_socket), ModelNeeds(330, 330))


def test_ddr4_modules_on_a_ddr5_board_break_memory_type(desktop, part):
    ddr4 = part("samsung-ddr4-rdimm-32gb-3200-m393a4k40db3-cwe")
    assert {"memory_type", "memory_registered"} <= violated(swap(desktop, "memory", ddr4))


def test_rdimms_on_a_udimm_board_break_memory_registered(desktop, part):
    rdimm = part("samsung-ddr5-rdimm-32gb-4800-m321r4ga3bb6-cqk")
    assert "memory_registered" in violated(swap(desktop, "memory", rdimm))


def test_unevenly_populated_channels_break_memory_channels(epyc_server):
    module = epyc_server[2][0]
    assert "memory_channels" in violated(
        swap(epyc_server, "memory", module, 20), ModelNeeds(300, 300)
    )
    assert "memory_channels" in violated(swap(epyc_server, "memory", module, 12), ModelNeeds(1, 1))


def test_more_modules_than_slots_break_dimm_slots(desktop):
    module = desktop[3][0]
    assert "dimm_slots" in violated(swap(desktop, "memory", module, 6))


def test_more_memory_than_the_board_takes_breaks_max_memory(desktop):
    module = replace(desktop[3][0], slug="big-dimm", capacity_gb=128)
    assert "max_memory" in violated(swap(desktop, "memory", module, 4))


def test_memory_runs_at_the_slowest_rating_and_slower_with_two_per_channel(part):
    cpu, board = part("amd-ryzen-9-9950x"), part("asus-proart-x870e-creator-wifi")
    fast = part("g-skill-trident-z5-rgb-ddr5-16gb-6400-f5-6400j3239g16gx2")
    assert effective_memory_mts(cpu, board, fast, 2) == 5600
    assert effective_memory_mts(cpu, board, fast, 4) == 3600


def test_too_many_wide_gpus_break_gpu_slots(desktop):
    gpu = desktop[0][0]  # 3 slots wide, on a board with three x16 slots
    assert "gpu_slots" in violated(swap(desktop, "gpu", gpu, 4))
    # Three fit only at positions 1, 4 and 7 and cover 9 slot positions; the case has 8.
    assert "case_slots" in violated(swap(desktop, "gpu", gpu, 3))


def test_slot_spacing_decides_how_many_wide_cards_fit(part):
    board = part("asus-pro-ws-wrx90e-sage-se")  # seven x16 slots, one position apart
    assert plan_slots(board, 2, 4).status == "pass"
    assert plan_slots(board, 2, 5).status == "fail"
    assert plan_slots(board, 3, 3).status == "pass"
    assert plan_slots(board, 3, 4).status == "fail"
    assert plan_slots(board, 2, 4).case_slots == 8
    assert plan_slots(board, 2, 4).slots == (0, 2, 4, 6)


def test_listed_slot_positions_seat_cards_from_the_top_down(part):
    # Slots at positions 1, 4 and 7: three 3-slot cards fit, with 9 positions covered.
    board = replace(part("asus-proart-x870e-creator-wifi"), x16_positions=(1, 4, 7))
    plan = plan_slots(board, 3, 3)
    assert (plan.status, plan.slots, plan.case_slots) == ("pass", (0, 1, 2), 9)
    assert plan.lanes == (8, 8, 4)
    # Slots at 1, 3 and 5: only the first and the third seat 3-slot cards side by side.
    tight = replace(board, x16_positions=(1, 3, 5))
    assert plan_slots(tight, 3, 2).slots == (0, 2)
    assert plan_slots(tight, 3, 3).status == "fail"
    # A riser cable seats the card that does not fit, in the slot left over.
    risered = plan_slots(tight, 3, 3, risers=1)
    assert (risered.status, risered.risers, risered.slots) == ("warn", 1, (0, 1, 2))


def test_riser_cables_seat_cards_in_the_widest_free_slots_at_the_cables_link(part):
    # Slots at 1, 3 and 5 with x8, x8 and x4 lanes: two 3-slot cards sit at 1 and 5;
    # the third, on a riser, gets the x8 slot at 3, and no more than its PCIe 3.0 cable.
    board = replace(
        part("asus-proart-x870e-creator-wifi"), x16_positions=(1, 3, 5), x16_electrical=(8, 8, 4)
    )
    plan = plan_slots(board, 3, 3, off=OffBoard(risers=1, cable=(16, 3)))
    assert (plan.status, plan.slots, plan.lanes, plan.gens) == (
        "warn",
        (0, 1, 2),
        (8, 8, 4),
        (5, 3, 4),
    )
    assert plan_slots(board, 3, 3, off=OffBoard(risers=1)).gens == (5, 5, 4)


def test_a_bifurcation_card_seats_a_card_on_each_link_its_slot_carries(part):
    board = replace(
        part("asus-proart-x870e-creator-wifi"), x16_positions=(1, 3, 5), x16_electrical=(8, 8, 4)
    )
    # Four 3-slot cards: two side by side, two on risers, but one slot left over.
    assert plan_slots(board, 3, 4, off=OffBoard(risers=2)).status == "fail"
    # An x4/x4 bifurcation card in the x8 slot left over seats both, at x4 each.
    split = plan_slots(board, 3, 4, off=OffBoard(risers=2, splits=((2, 4, 4),)))
    assert (split.status, split.risers, split.split) == ("warn", 2, 2)
    assert (split.slots, split.lanes, split.gens) == ((0, 1, 1, 2), (8, 4, 4, 4), (5, 4, 4, 4))
    assert "2 of them on the links of bifurcation cards" in split.detail
    # An x8/x8 card in an x8 slot carries one link only: still one seat short.
    assert plan_slots(board, 3, 4, off=OffBoard(risers=2, splits=((2, 8, 4),))).status == "fail"
    # Each card on a link still needs its riser cable.
    assert plan_slots(board, 3, 4, off=OffBoard(risers=1, splits=((2, 4, 4),))).status == "fail"
    # A bifurcation card is used only when the free slots are too few.
    spare = plan_slots(board, 3, 3, off=OffBoard(risers=1, splits=((2, 4, 4),)))
    assert (spare.status, spare.split, spare.lanes) == ("warn", 0, (8, 8, 4))
    # Without a listed slot layout nothing is assumed: unknown, not a pass.
    h12 = part("supermicro-h12ssl-i")  # five x16 slots, positions not listed
    assert plan_slots(h12, 2, 6, off=OffBoard(risers=2, splits=((2, 8, 4),))).status == "unknown"
    assert plan_slots(h12, 2, 6, off=OffBoard(risers=2)).status == "fail"


def test_unknown_slot_positions_are_unknown_unless_no_layout_could_fit(part):
    board = part("supermicro-h12ssl-i")  # ATX, five x16 slots, positions not listed
    assert board.x16_positions == () and board.slot_spacing is None
    assert plan_slots(board, 2, 1).status == "pass"
    assert plan_slots(board, 2, 3).status == "unknown"
    assert plan_slots(board, 2, 4).status == "unknown"
    # Five dual-slot cards side by side need a slot at position 9: an ATX board has 7.
    assert plan_slots(board, 2, 5).status == "fail"


def test_a_case_without_enough_expansion_slots_breaks_case_slots(desktop):
    case = replace(desktop[6][0], slug="short-case", expansion_slots=5)
    assert "case_slots" in violated(swap(desktop, "case", case))


def test_a_gpu_longer_than_the_case_takes_breaks_gpu_length(desktop):
    case = replace(desktop[6][0], slug="tiny-case", max_gpu_length_mm=250)
    assert "gpu_length" in violated(swap(desktop, "case", case))


def test_a_board_the_case_does_not_take_breaks_board_form_factor(epyc_server, part):
    items = swap(epyc_server, "case", part("corsair-4000d-airflow"))
    assert "board_form_factor" in violated(items, ModelNeeds(300, 300))


def test_a_cooler_for_another_socket_or_too_tall_breaks_cooler(desktop, part):
    assert "cooler" in violated(swap(desktop, "cooler", part("arctic-freezer-4u-sp5")))
    tall = replace(desktop[4][0], slug="tall", height_mm=200)
    assert "cooler" in violated(swap(desktop, "cooler", tall))
    weak = replace(desktop[4][0], slug="weak", tdp_rating_w=95)
    assert "cooler" in violated(swap(desktop, "cooler", weak))


def test_one_cooler_for_two_sockets_breaks_cooler(epyc_server):
    cooler = epyc_server[3][0]
    assert "cooler" in violated(swap(epyc_server, "cooler", cooler, 1), ModelNeeds(300, 300))


def test_a_small_power_supply_breaks_psu_watts(desktop, part):
    assert "psu_watts" in violated(swap(desktop, "psu", part("corsair-rm850x-2021")))


def test_too_few_gpu_leads_break_psu_gpu_connectors(desktop, part):
    psu = replace(part("corsair-hx1500i-2022"), slug="few-leads", pcie_8pin=2, connectors_12v_2x6=0)
    assert "psu_gpu_connectors" in violated(swap(desktop, "psu", psu))


def test_too_few_eps_leads_break_psu_cpu_connectors(epyc_server):
    board = replace(epyc_server[1][0], slug="hungry-board", eps_connectors=4)
    psu = replace(epyc_server[4][0], slug="two-eps", eps=2)
    items = swap(swap(epyc_server, "motherboard", board), "psu", psu)
    assert "psu_cpu_connectors" in violated(items, ModelNeeds(300, 300))


def test_passive_gpus_outside_a_rack_break_gpu_cooling(desktop, part):
    assert "gpu_cooling" in violated(swap(desktop, "gpu", part("nvidia-tesla-p40-used")))


def test_gpus_of_two_software_stacks_break_gpu_mix(desktop, part):
    items = [*desktop[1:], (part("nvidia-geforce-rtx-3090-used"), 1)]
    items.append((part("amd-radeon-rx-7900-xtx-used"), 1))
    assert "gpu_mix" in violated(items)


def test_too_little_ram_or_storage_for_the_model_breaks_system_ram_and_storage(desktop):
    rules = violated(desktop, ModelNeeds(weights_gb=140, files_gb=600))
    assert {"system_ram", "storage"} <= rules


def test_missing_parts_are_listed(desktop):
    items = [(p, q) for p, q in desktop if p.kind not in ("psu", "case")]
    finding = next(f for f in check(Assembly(items), NEEDS) if f.rule == "parts")
    assert "psu" in finding.message and "case" in finding.message


def test_a_complete_system_takes_nothing_but_a_drive(part):
    mac = part("apple-mac-studio-m3-ultra-96gb-used")
    assert violated([(mac, 1), (part("samsung-990-pro-1tb"), 1)]) == set()
    assert "system_extras" in violated([(mac, 1), (part("nvidia-geforce-rtx-3090-used"), 1)])


def test_unknown_specs_are_notes_not_passes_or_failures(desktop):
    board = desktop[2][0]  # its x16 slot positions are not listed
    assert board.slot_spacing is None and not board.x16_positions
    notes = [f for f in check(Assembly(desktop), NEEDS) if f.ok is None]
    assert any(f.rule == "gpu_slots" and f.status == "unknown" for f in notes)
    assert any("positions are not listed" in f.message for f in notes)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_mix_of_parts_gives_findings_naming_known_rules(seed, data):
    """Whatever parts are thrown together, checking never fails and every finding names
    a documented rule; a build without violations really has matching sockets."""
    kinds = ["gpu", "cpu", "motherboard", "memory", "cooler", "psu", "case", "storage"]
    items = []
    for kind in kinds:
        if data.draw(st.booleans()):
            parts = seed.of(kind)
            items.append((data.draw(st.sampled_from(parts)), data.draw(st.integers(1, 4))))
    findings = check(Assembly(items), NEEDS)
    assert all(f.rule in RULES for f in findings)
    assert all(f.message for f in findings)
    if items and not any(f.ok is False for f in findings):
        assembly = Assembly(items)
        assert assembly.cpu.socket == assembly.board.socket
        assert assembly.count("memory") % assembly.board.memory_channels == 0


def test_a_bifurcation_card_on_a_board_without_a_slot_layout_is_unverified(part):
    from configurator.engine.builds.parts import AdapterPart

    cable = AdapterPart(slug="cable", name="x16 riser cable", adapter_type="riser_cable")
    split = AdapterPart(
        slug="x8x8", name="x8/x8 card", adapter_type="bifurcation_card", gpus_joined=2
    )
    items = [
        (part("amd-instinct-mi50-32gb-used"), 6),
        (part("amd-epyc-7313-used"), 1),
        (part("supermicro-h12ssl-i"), 1),
        (part("samsung-ddr4-rdimm-32gb-3200-m393a4k40db3-cwe-used"), 8),
        (part("noctua-nh-u14s-tr4-sp3"), 1),
        (part("supermicro-sc747btq-r2k04b"), 1),
        (part("samsung-990-pro-2tb"), 1),
        (cable, 2),
    ]
    assert "gpu_slots" in violated(items)
    found = check(Assembly([*items, (split, 1)]), NEEDS)
    risers = [f for f in found if f.rule == "risers"]
    assert any(f.status == "unknown" and "bifurcation" in f.message for f in risers)
    assert "gpu_slots" not in {f.rule for f in found if f.ok is False}
