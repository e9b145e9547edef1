"""Prefill of mixture-of-experts models: each routed expert multiplies only its share of a
pass's tokens (tokens × experts per token ÷ experts), so its matrix multiply runs a
partly empty tile."""

import pytest

from configurator.engine import Machine, Workload, estimate, load_constants
from configurator.engine.calibration import PARAMETERS
from configurator.engine.calibration.fit import predict
from configurator.engine.calibration.loader import load_measurements
from configurator.engine.engines import engine_profile
from configurator.engine.throughput import expert_matmul_efficiency

from .models import LLAMA_3_8B, Q4_K_M, QWEN3_30B_A3B, RTX_3090, RTX_4090, RYZEN_DESKTOP

HALF_TOKENS = [p for p in PARAMETERS if p.name.startswith("expert_matmul_half_tokens.")]


@pytest.fixture(scope="module")
def rows():
    return {row.id: row for row in load_measurements()[0]}


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


def _prefill_seconds(machine, model, tokens, constants, engine="llama.cpp"):
    workload = Workload(prompt_tokens=tokens)
    result = estimate(
        machine, model, Q4_K_M, workload, engine=engine_profile(engine), constants=constants
    )
    return tokens / result.prefill_tokens_per_s


def test_each_moe_block_pays_a_fixed_cost_per_forward_pass_on_a_gpu():
    # 2,048 tokens in 512-token passes: 4 passes × 48 MoE blocks of Qwen3-30B-A3B.
    machine = Machine(gpus=((RTX_4090, 1),))
    constants = load_constants()
    without = constants.replace(**{"moe_prefill_overhead_us.llama.cpp": 0.0})
    with_ms = constants.replace(**{"moe_prefill_overhead_us.llama.cpp": 1000.0})
    added = _prefill_seconds(machine, QWEN3_30B_A3B, 2048, with_ms) - _prefill_seconds(
        machine, QWEN3_30B_A3B, 2048, without
    )
    assert added == pytest.approx(4 * QWEN3_30B_A3B.layers * 1e-3, rel=1e-6)
    # A dense model has no such blocks.
    dense = _prefill_seconds(machine, LLAMA_3_8B, 2048, with_ms)
    assert dense == pytest.approx(_prefill_seconds(machine, LLAMA_3_8B, 2048, without))


def test_a_cpu_indexes_its_experts_without_the_gpus_fixed_cost():
    machine = Machine(cpu=RYZEN_DESKTOP)
    constants = load_constants()
    without = constants.replace(**{"moe_prefill_overhead_us.llama.cpp": 0.0})
    with_ms = constants.replace(**{"moe_prefill_overhead_us.llama.cpp": 1000.0})
    assert _prefill_seconds(machine, QWEN3_30B_A3B, 512, with_ms) == pytest.approx(
        _prefill_seconds(machine, QWEN3_30B_A3B, 512, without)
    )


def test_a_faster_gpu_gains_less_on_moe_prefill_than_on_dense(rows):
    # Published gpt-oss-20b MXFP4 pp2048 (llama.cpp discussion 15396's guide): RTX 4090
    # 8,022 t/s and RTX 3090 5,171, a ratio of 1.55 where the tensor peaks differ 2.3x.
    # The fixed per-pass cost of the MoE blocks does not shrink with the faster card.
    constants = load_constants()
    fast, slow = rows["llamacpp-disc-15396-guide-3"], rows["llamacpp-disc-15396-guide-1"]
    moe_ratio = predict(fast, constants) / predict(slow, constants)
    machine_fast = Machine(gpus=((RTX_4090, 1),))
    machine_slow = Machine(gpus=((RTX_3090, 1),))
    dense_ratio = _prefill_seconds(machine_slow, LLAMA_3_8B, 2048, constants) / (
        _prefill_seconds(machine_fast, LLAMA_3_8B, 2048, constants)
    )
    assert fast.tokens_per_s / slow.tokens_per_s < dense_ratio
    # Without the per-pass cost both ratios are the tensor-rate ratio (2.32).
    assert moe_ratio < 0.92 * dense_ratio
