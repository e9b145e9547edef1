"""Prefill of mixture-of-experts models: each routed expert multiplies only its share of a
pass's tokens (tokens × experts per token ÷ experts), so below the device's roofline
ridge its weights cost more to read and unpack than to multiply."""

from dataclasses import replace

import pytest

from configurator.engine import Machine, Workload, estimate, load_constants
from configurator.engine.engines import engine_profile
from configurator.engine.placement import place
from configurator.engine.throughput import expert_half_rows, expert_matmul_efficiency

from .models import LLAMA_3_8B, Q4_K_M, QWEN3_30B_A3B, RTX_4090


def _slot(gpu):
    machine = Machine(gpus=((gpu, 1),))
    engine = engine_profile("llama.cpp")
    placement = place(machine, QWEN3_30B_A3B, Q4_K_M, Workload(), engine, load_constants())
    return placement.slots[0]


def test_an_expert_runs_at_half_a_dense_matmuls_efficiency_at_its_half_point():
    constants = load_constants()
    slot = _slot(RTX_4090)
    engine = engine_profile("llama.cpp")
    half = expert_half_rows(slot, engine, constants, Q4_K_M.bits_per_weight)
    assert half > 0
    assert expert_matmul_efficiency(half, slot, engine, constants, 4.85) == pytest.approx(0.5)
    # Qwen3-30B-A3B in 512-token passes: 512 × 8 ÷ 128 = 32 tokens per expert.
    low = expert_matmul_efficiency(4, slot, engine, constants, 4.85)
    high = expert_matmul_efficiency(32, slot, engine, constants, 4.85)
    assert low < high < 1


def test_more_bandwidth_lowers_the_tokens_an_expert_needs():
    # The ridge point is FLOP/s ÷ bandwidth: the same card with twice the bandwidth
    # reads an expert's weights in half the time, so fewer tokens amortise them.
    constants = load_constants()
    engine = engine_profile("llama.cpp")
    faster = replace(RTX_4090, bandwidth_gbs=2 * RTX_4090.bandwidth_gbs)
    base = expert_half_rows(_slot(RTX_4090), engine, constants, 4.85)
    wide = expert_half_rows(_slot(faster), engine, constants, 4.85)
    assert wide < base


def test_moe_prefill_gains_more_from_a_longer_pass_than_dense_prefill():
    machine = Machine(gpus=((RTX_4090, 1),))

    def speed(model, tokens):
        workload = Workload(prompt_tokens=tokens)
        return estimate(machine, model, Q4_K_M, workload).prefill_tokens_per_s

    # 64 → 512 tokens: 4 → 32 tokens per expert for Qwen3-30B-A3B (128 experts, 8 per
    # token); a dense model's matrices see every token either way.
    moe_gain = speed(QWEN3_30B_A3B, 512) / speed(QWEN3_30B_A3B, 64)
    dense_gain = speed(LLAMA_3_8B, 512) / speed(LLAMA_3_8B, 64)
    assert moe_gain > 1.5 * dense_gain
