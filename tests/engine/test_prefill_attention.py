"""Prompt-processing attention follows each layer's attention pattern (real configs):
full layers score every earlier key, sliding-window layers at most their window, the
linear layers of a hybrid model none, DeepSeek sparse attention at most its top-k."""

from dataclasses import replace

import pytest

from configurator.engine import Gpu, Machine, ModelArch, Quant, Workload, estimate
from configurator.engine.engines import engine_profile

from .real_configs import DEEPSEEK_V3_2, GEMMA_3_27B, GPT_OSS_120B, QWEN3_NEXT_80B


def exact_mean(depth: int, prompt: int, window: int | None) -> float:
    """Keys scored per prompt token, summed token by token (continuous positions as the
    engine's full-attention mean depth + prompt / 2 uses: position depth + i + 1/2)."""
    keys = [depth + i + 0.5 for i in range(prompt)]
    if window is not None:
        keys = [min(window, k) for k in keys]
    return sum(keys) / prompt


def test_full_attention_scores_depth_plus_half_the_prompt():
    dense = replace(GPT_OSS_120B, sliding_window=None, sliding_window_layers_fraction=None)

    assert dense.prefill_attended_tokens(4096, 512) == pytest.approx(4096 + 256)
    assert dense.prefill_attended_tokens(0, 512) == pytest.approx(exact_mean(0, 512, None))


@pytest.mark.parametrize(("depth", "prompt"), [(0, 512), (0, 64), (100, 512), (4096, 512)])
def test_gpt_oss_alternates_128_token_windows_with_full_attention(depth, prompt):
    # gpt-oss config.json: sliding_window 128 on every other layer ("layer_types").
    assert GPT_OSS_120B.sliding_window == 128
    assert GPT_OSS_120B.sliding_window_layers_fraction == pytest.approx(0.5)
    expected = 0.5 * exact_mean(depth, prompt, 128) + 0.5 * exact_mean(depth, prompt, None)

    assert GPT_OSS_120B.prefill_attended_tokens(depth, prompt) == pytest.approx(expected, rel=0.01)


def test_gemma_3_local_layers_cap_at_their_window_deep_in_a_context():
    window = GEMMA_3_27B.sliding_window
    share = GEMMA_3_27B.sliding_window_layers_fraction
    assert window and share and share > 0.8  # 5 of every 6 layers are local

    deep = GEMMA_3_27B.prefill_attended_tokens(32768, 512)

    assert deep == pytest.approx(share * window + (1 - share) * (32768 + 256))


def test_qwen3_next_attends_on_its_12_full_attention_layers_only():
    assert QWEN3_NEXT_80B.attention_layers == 12 and QWEN3_NEXT_80B.layers == 48

    assert QWEN3_NEXT_80B.prefill_attended_tokens(8192, 512) == pytest.approx(
        (8192 + 256) * 12 / 48
    )


def test_deepseek_sparse_attention_scores_at_most_its_top_k():
    assert DEEPSEEK_V3_2.prefill_attended_tokens(65536, 512) == pytest.approx(2048)
    assert DEEPSEEK_V3_2.prefill_attended_tokens(0, 512) == pytest.approx(256)


def test_windowed_layers_shorten_a_long_prompt_of_gpt_oss():
    """Over a 32k prompt gpt-oss-120b's attention FLOPs are about its weights' (16k keys
    x 64 heads x 64 x 4 x 36 layers = 9.7 GFLOP against 2 x 5.1 B per token); windowing
    half the layers removes about half of that: the prompt takes clearly less time than
    with full attention on every layer, and more than half of it (the weights and the
    routed experts' less efficient matmuls cost the same)."""
    gpu = Gpu("RTX PRO 6000 Blackwell", 96, 1792, 503.8, 125.0, memory_type="GDDR7")
    machine = Machine(gpus=((gpu, 1),))
    full = replace(GPT_OSS_120B, sliding_window=None, sliding_window_layers_fraction=None)
    workload = Workload(prompt_tokens=32768, context_tokens=33000)

    def ttft(model):
        result = estimate(machine, model, Quant.from_name("MXFP4"), workload, evidence=False)
        return 32768 / result.prefill_tokens_per_s

    windowed = ttft(GPT_OSS_120B)

    assert 0.5 * ttft(full) < windowed < 0.92 * ttft(full)


def test_attention_runs_at_the_fp16_rate_whatever_the_weight_format():
    """Attention multiplies the FP16 KV cache, so a long prompt's attention costs the
    same with 4-bit and 16-bit weights: the gap between the two formats' prompt times,
    which comes from the weight matmuls, narrows as attention grows with the prompt. A
    build that dequantizes to FP16 for cuBLAS (llama.cpp before PR 8075) keeps the two
    formats' weight rates apart; current MMQ on int8 tensor cores lands near the FP16 rate."""
    gpu = Gpu("GeForce RTX 4090", 48, 1008, 330.3, 82.6, memory_type="GDDR6X")
    machine = Machine(gpus=((gpu, 1),))
    model = ModelArch.from_size("8b")
    engine = replace(engine_profile("llama.cpp"), quantized_gemm="cublas")

    def prompt_seconds(quant: str, prompt: int) -> float:
        workload = Workload(prompt_tokens=prompt, context_tokens=prompt + 256)
        result = estimate(
            machine, model, Quant.from_name(quant), workload, engine=engine, evidence=False
        )
        return prompt / result.prefill_tokens_per_s

    short = prompt_seconds("Q4_K_M", 512) / prompt_seconds("F16", 512)
    long = prompt_seconds("Q4_K_M", 32768) / prompt_seconds("F16", 32768)

    assert short != pytest.approx(1.0, abs=0.05)  # the weight formats differ in rate
    assert abs(long - 1) < 0.75 * abs(short - 1)
