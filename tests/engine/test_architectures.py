"""Memory of the 2025-26 architectures, from their published configs: hybrid linear
attention, sliding-window layer patterns, latent and sparse attention, MTP, vision."""

import pytest

from configurator.engine import Gpu, Machine, Quant, Workload, estimate, memory

from .real_configs import (
    DEEPSEEK_V3,
    DEEPSEEK_V3_2,
    GEMMA_3_27B,
    GPT_OSS_120B,
    KIMI_K2,
    LFM2_1_2B,
    NEMOTRON_NANO_9B_V2,
    QWEN3_NEXT_80B,
)

F16 = 16.0
CONTEXT_256K = 262_144


def test_it_reads_the_layer_mix_of_each_hybrid_config():
    assert (QWEN3_NEXT_80B.attention_layers, QWEN3_NEXT_80B.state_layers) == (12, 36)
    assert QWEN3_NEXT_80B.linear_attention_kind == "gated_deltanet"
    # Nemotron-H: 4 attention (*), 27 Mamba-2 (M) and 25 MLP-only (-) layers.
    assert (NEMOTRON_NANO_9B_V2.attention_layers, NEMOTRON_NANO_9B_V2.state_layers) == (4, 27)
    assert (LFM2_1_2B.attention_layers, LFM2_1_2B.state_layers) == (6, 10)
    assert LFM2_1_2B.head_dim == 2048 // 32


def test_qwen3_next_caches_kv_only_on_its_twelve_attention_layers():
    # 12 layers × 2 (K, V) × 2 KV heads × 256 × 2 bytes = 24 KiB per token.
    kv = memory.kv_cache_bytes(QWEN3_NEXT_80B, CONTEXT_256K, F16)
    state = memory.recurrent_state_bytes(QWEN3_NEXT_80B)
    assert kv - state == 12 * 2 * 2 * 256 * 2 * CONTEXT_256K  # 6.44 GB
    # Counting all 48 layers as attention would need four times as much (25.8 GB).
    naive = 48 * 2 * 2 * 256 * 2 * CONTEXT_256K
    assert naive / (kv - state) == pytest.approx(4.0)


def test_a_gated_deltanet_state_is_f32_and_fixed_per_sequence():
    # 36 layers × (32 heads × 128 × 128 + conv 8192 channels × 3) × 4 bytes = 79.0 MB.
    per_sequence = 36 * (32 * 128 * 128 + 8192 * 3) * 4
    assert memory.recurrent_state_bytes(QWEN3_NEXT_80B) == per_sequence
    short = memory.kv_cache_bytes(QWEN3_NEXT_80B, 1, F16)
    assert short == pytest.approx(per_sequence + 12 * 2 * 2 * 256 * 2)
    # Quantizing the KV cache leaves the state alone; more sequences multiply it.
    q8 = memory.kv_cache_bytes(QWEN3_NEXT_80B, CONTEXT_256K, 8.5) - per_sequence
    assert q8 == pytest.approx(12 * 2 * 2 * 256 * 8.5 / 8 * CONTEXT_256K)
    four = memory.kv_cache_bytes(QWEN3_NEXT_80B, 4096, F16, sequences=4)
    assert four == pytest.approx(4 * memory.kv_cache_bytes(QWEN3_NEXT_80B, 4096, F16))


def test_nemotron_h_keeps_mamba2_state_only_on_its_mamba_layers():
    # llama.cpp: n_embd_s = d_state × d_inner, n_embd_r = (d_conv - 1) × (d_inner + 2 ×
    # n_groups × d_state), with d_inner = 128 heads × 80.
    d_inner = 128 * 80
    per_layer = 128 * d_inner + 3 * (d_inner + 2 * 8 * 128)
    assert memory.recurrent_state_bytes(NEMOTRON_NANO_9B_V2) == 27 * per_layer * 4
    per_token = memory.kv_cache_bytes(NEMOTRON_NANO_9B_V2, 2, F16) - memory.kv_cache_bytes(
        NEMOTRON_NANO_9B_V2, 1, F16
    )
    assert per_token == pytest.approx(4 * 2 * 8 * 128 * 2)


def test_lfm2_short_convolutions_keep_two_columns_of_hidden_size():
    assert memory.recurrent_state_bytes(LFM2_1_2B) == 10 * 2048 * 2 * 4
    per_token = memory.kv_cache_bytes(LFM2_1_2B, 1001, F16) - memory.kv_cache_bytes(
        LFM2_1_2B, 1000, F16
    )
    assert per_token == pytest.approx(6 * 2 * 8 * 64 * 2)


def test_gemma_3_caps_its_52_local_layers_at_the_1024_token_window():
    per_token_layer = 2 * 16 * 128 * 2
    expected = (10 * 131_072 + 52 * 1024) * per_token_layer  # 11.2 GB, not 66.6 GB
    assert memory.kv_cache_bytes(GEMMA_3_27B, 131_072, F16) == pytest.approx(expected, rel=1e-3)


def test_gpt_oss_alternates_128_token_window_and_full_layers():
    per_token_layer = 2 * 8 * 64 * 2
    expected = (18 * 131_072 + 18 * 128) * per_token_layer
    assert memory.kv_cache_bytes(GPT_OSS_120B, 131_072, F16) == pytest.approx(expected)


@pytest.mark.parametrize("model", [DEEPSEEK_V3, KIMI_K2], ids=["deepseek-v3", "kimi-k2"])
def test_latent_attention_caches_the_latent_and_rotary_key_per_token(model):
    # kv_lora_rank 512 + qk_rope_head_dim 64, 61 layers, 2 bytes: 70,272 bytes per token.
    assert memory.kv_cache_bytes(model, 131_072, F16) == 61 * 576 * 2 * 131_072
    # Without MLA each layer would cache K (heads × 192) and V (heads × 128).
    naive = 61 * model.attention_heads * (192 + 128) * 2
    assert naive / (61 * 576 * 2) > 14


def test_deepseek_sparse_attention_caches_indexer_keys_but_reads_only_topk_latents():
    per_token = 61 * (576 + 128) * 2
    assert memory.kv_cache_bytes(DEEPSEEK_V3_2, 131_072, F16) == per_token * 131_072
    read = memory.kv_read_bytes_per_layer(DEEPSEEK_V3_2, 131_072, F16)
    assert read == pytest.approx((131_072 * 128 + 2048 * 576) * 2)
    assert DEEPSEEK_V3_2.attended_tokens(131_072) == 2048
    assert DEEPSEEK_V3.attended_tokens(131_072) == 131_072


def test_mtp_layers_take_memory_only_when_the_engine_loads_them():
    assert DEEPSEEK_V3.mtp_layers == 1
    # DeepSeek V3's MTP module: 11.5 B parameters of its own (embedding and head shared).
    assert DEEPSEEK_V3.mtp_params_b == pytest.approx(11.5, rel=0.1)
    bf16 = Quant("BF16", 16.0, "native")
    plain = memory.weights_bytes(DEEPSEEK_V3, bf16)
    loaded = memory.weights_bytes(DEEPSEEK_V3, bf16, with_mtp=True)
    assert loaded - plain == pytest.approx(DEEPSEEK_V3.mtp_params_b * 2e9)
    assert plain == pytest.approx((684.5 - DEEPSEEK_V3.mtp_params_b) * 2e9)
    parts = memory.model_parts(DEEPSEEK_V3, bf16, with_mtp=True)
    total = parts.layers * parts.layer_bytes + parts.embedding_bytes + parts.head_bytes
    assert total == pytest.approx(loaded)
    # Decoding reads the 37 B active parameters of the main model, not the MTP layer.
    active = parts.layers * parts.active_layer_params() + 2 * parts.head_params
    assert active == pytest.approx(37e9, rel=0.01)


def test_a_vision_tower_takes_memory_but_is_not_read_to_decode_text():
    bf16 = Quant("BF16", 16.0, "native")
    assert memory.weights_bytes(GEMMA_3_27B, bf16) == pytest.approx(27.4 * 2e9)
    parts = memory.model_parts(GEMMA_3_27B, bf16)
    assert parts.held_extra_bytes == pytest.approx(0.417 * 2e9)
    # Tied embeddings: the blocks plus the one table (read as the output head).
    read_params = parts.layers * parts.active_layer_params() + parts.head_params
    assert read_params == pytest.approx((27.4 - 0.417) * 1e9)


def test_an_estimate_of_a_hybrid_model_at_256k_context_counts_the_smaller_cache():
    h100 = Gpu("H100 80GB", vram_gb=80, bandwidth_gbs=3350, fp16_tflops=989)
    result = estimate(
        Machine(gpus=((h100, 1),)),
        QWEN3_NEXT_80B,
        Quant("Q4_K_M", 4.85, "GGUF"),
        Workload(context_tokens=CONTEXT_256K),
    )
    assert result.kv_cache_gb == pytest.approx((6.442 + 0.079), rel=0.01)
    assert result.fits
