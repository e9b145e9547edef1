"""Power draw: the GPU's share under memory-bound decode, an owner's power limit, and the
platform and power-supply losses a wall meter sees on top of the GPUs."""

import dataclasses

import pytest

from configurator.engine import Machine, ModelArch, Quant, Workload, load_constants
from configurator.engine.calibration.fit import predict
from configurator.engine.calibration.loader import load_measurements
from configurator.engine.engines import engine_profile
from configurator.engine.memory import model_parts
from configurator.engine.placement import place
from configurator.engine.power import gpu_power_w, wall_power_w, work_shares
from configurator.engine.throughput import decode_step, prefill

from .models import LLAMA_3_8B, LLAMA_3_70B, Q4_K_M, RTX_3090, RTX_4090, RYZEN_DESKTOP

CONSTANTS = load_constants()
LLAMA_CPP = engine_profile("llama.cpp")


def _decode(machine: Machine, model: ModelArch, quant: Quant = Q4_K_M, split=None):
    workload = Workload(prompt_tokens=512, gen_tokens=128)
    parts = model_parts(model, quant)
    layout = place(machine, model, quant, workload, LLAMA_CPP, CONSTANTS, split, parts=parts)
    step = decode_step(layout, parts, LLAMA_CPP, CONSTANTS, 576, 16.0, quant.bits_per_weight, 1)
    return layout, step


def _gpu_shares(layout, step, phase="decode"):
    shares = work_shares(layout, step, phase)
    return [shares.get(slot.label, 0.0) for slot in layout.slots if slot.kind == "gpu"]


def _limited(gpu, watts):
    return dataclasses.replace(gpu, power_limit_w=watts)


def test_a_power_limited_gpu_is_never_predicted_above_its_limit():
    # nvidia-smi -pl 150 is the RTX 4090's lowest limit; streaming an 8B model keeps
    # the stock card well above it.
    stock = Machine(gpus=((RTX_4090, 1),), cpu=RYZEN_DESKTOP)
    capped = Machine(gpus=((_limited(RTX_4090, 150), 1),), cpu=RYZEN_DESKTOP)
    layout, step = _decode(stock, LLAMA_3_8B)
    capped_layout, capped_step = _decode(capped, LLAMA_3_8B)
    assert gpu_power_w(layout, step, "decode", CONSTANTS) > 150
    assert gpu_power_w(capped_layout, capped_step, "decode", CONSTANTS) == pytest.approx(150)
    for phase in ("decode", "prefill"):
        assert gpu_power_w(capped_layout, capped_step, phase, CONSTANTS) <= 150
    saved = wall_power_w(stock, layout, step, "decode", CONSTANTS) - wall_power_w(
        capped, capped_layout, capped_step, "decode", CONSTANTS
    )
    assert saved > 0


def test_a_limit_above_the_cards_draw_changes_nothing():
    stock = Machine(gpus=((RTX_4090, 1),), cpu=RYZEN_DESKTOP)
    loose = Machine(gpus=((_limited(RTX_4090, 600), 1),), cpu=RYZEN_DESKTOP)
    layout, step = _decode(stock, LLAMA_3_8B)
    loose_layout, loose_step = _decode(loose, LLAMA_3_8B)
    assert gpu_power_w(loose_layout, loose_step, "decode", CONSTANTS) == pytest.approx(
        gpu_power_w(layout, step, "decode", CONSTANTS)
    )


def test_the_wall_sees_more_than_the_gpus_alone():
    for machine in (
        Machine(gpus=((RTX_4090, 1),), cpu=RYZEN_DESKTOP),
        Machine(gpus=((RTX_3090, 2),), cpu=RYZEN_DESKTOP),
    ):
        layout, step = _decode(machine, LLAMA_3_70B if machine.gpu_count > 1 else LLAMA_3_8B)
        gpus = gpu_power_w(layout, step, "decode", CONSTANTS)
        wall = wall_power_w(machine, layout, step, "decode", CONSTANTS)
        # Host CPU, board and DRAM, then the power supply's losses on top.
        assert wall > gpus / CONSTANTS["psu_efficiency"] + CONSTANTS["platform_power_w"]


def test_decode_draw_rises_with_the_bandwidth_the_step_pulls():
    # A 1B model spends a large part of each step on per-layer launch overheads and pulls
    # a smaller share of the card's bandwidth than an 8B model, so the card draws less.
    machine = Machine(gpus=((RTX_4090, 1),), cpu=RYZEN_DESKTOP)
    small_layout, small_step = _decode(machine, ModelArch.from_size("1b"))
    large_layout, large_step = _decode(machine, LLAMA_3_8B)
    (small,) = _gpu_shares(small_layout, small_step)
    (large,) = _gpu_shares(large_layout, large_step)
    assert 0 < small < large <= 1
    assert gpu_power_w(small_layout, small_step, "decode", CONSTANTS) < gpu_power_w(
        large_layout, large_step, "decode", CONSTANTS
    )


def test_gpus_holding_layers_in_turn_share_the_decode_draw():
    # Layer split: each of two GPUs reads half the weights while the other waits, so
    # together they draw less than twice one GPU streaming a whole model of that size.
    machine = Machine(gpus=((RTX_3090, 2),), cpu=RYZEN_DESKTOP)
    layout, step = _decode(machine, LLAMA_3_70B, split="layer")
    shares = _gpu_shares(layout, step)
    assert len(shares) == 2 and all(0 < s < 0.6 for s in shares)
    idle = CONSTANTS["power_fraction.gpu.idle"] * RTX_3090.tdp_w
    assert 2 * idle < gpu_power_w(layout, step, "decode", CONSTANTS) < 2 * RTX_3090.tdp_w


def test_prefill_draws_more_than_decode_on_the_same_card():
    machine = Machine(gpus=((RTX_4090, 1),), cpu=RYZEN_DESKTOP)
    layout, step = _decode(machine, LLAMA_3_8B)
    parts = model_parts(LLAMA_3_8B, Q4_K_M)
    fill = prefill(layout, parts, LLAMA_CPP, CONSTANTS, 4096, Q4_K_M.bits_per_weight)
    assert gpu_power_w(layout, fill, "prefill", CONSTANTS) > 0.5 * RTX_4090.tdp_w
    assert gpu_power_w(layout, fill, "prefill", CONSTANTS) <= RTX_4090.tdp_w


@pytest.fixture(scope="module")
def power_rows():
    rows, _ = load_measurements()
    return {row.id: row for row in rows if row.metric == "power"}


def test_power_rows_carry_the_owners_limit_and_stay_under_it(power_rows):
    # RTX 5060 Ti swept from its 180 W stock limit to 162 W and 150 W (InventiveHQ).
    for row_id, limit in (
        ("inventivehq-gpu-power-limit-2p", 162),
        ("inventivehq-gpu-power-limit-3p", 150),
    ):
        row = power_rows[row_id]
        assert row.machine.gpus[0].gpu.power_limit_w == limit
        assert predict(row, CONSTANTS) <= limit
    assert power_rows["inventivehq-gpu-power-limit-1p"].machine.gpus[0].gpu.power_limit_w == 0


def test_a_wall_reading_predicts_more_than_the_same_run_read_at_the_gpu(power_rows):
    row = power_rows["club-3090-issue-697-3p"]
    assert row.power_scope == "gpu"
    wall = dataclasses.replace(row, power_scope="wall")
    assert predict(wall, CONSTANTS) > predict(row, CONSTANTS)
