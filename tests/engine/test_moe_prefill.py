"""Prefill of mixture-of-experts models: each routed expert multiplies only its share of a
pass's tokens (tokens × experts per token ÷ experts), so its matrix multiply runs a
partly empty tile."""

import pytest

from configurator.engine import Machine, Workload, estimate, load_constants
from configurator.engine.calibration import PARAMETERS
from configurator.engine.engines import engine_profile
from configurator.engine.throughput import expert_matmul_efficiency

from .models import LLAMA_3_8B, Q4_K_M, QWEN3_30B_A3B, RTX_4090

HALF_TOKENS = [p for p in PARAMETERS if p.name.startswith("expert_matmul_half_tokens.")]


def test_an_expert_runs_at_half_a_dense_matmuls_efficiency_at_its_half_point():
    constants = load_constants()
    engine = engine_profile("llama.cpp")
    half = constants["expert_matmul_half_tokens.llama.cpp"]
    assert expert_matmul_efficiency(half, engine, constants) == pytest.approx(0.5)
    # Qwen3-30B-A3B in 512-token passes: 512 × 8 ÷ 128 = 32 tokens per expert; 32-token
    # passes give each expert 2.
    low = expert_matmul_efficiency(2, engine, constants)
    high = expert_matmul_efficiency(32, engine, constants)
    assert low < high < 1


def test_no_engine_needs_more_than_half_a_128_row_tile_per_expert():
    # A tile of 128 rows (llama.cpp's CUDA MMQ, vLLM's fused-MoE blocks) half full runs at
    # half speed; so Mixtral's 512 × 2 ÷ 8 = 128 tokens per expert reach at least 2/3 of
    # a dense multiply's efficiency whatever the fit chose.
    assert HALF_TOKENS
    constants = load_constants()
    for parameter in HALF_TOKENS:
        assert parameter.high <= 64
        engine = engine_profile(parameter.name.split(".", 1)[1])
        worst = constants.replace(**{parameter.name: parameter.high})
        assert expert_matmul_efficiency(128, engine, worst) >= 2 / 3


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
