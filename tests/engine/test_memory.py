"""Memory arithmetic: weights, KV cache, buffers, fine-tuning state."""

from dataclasses import replace

import pytest

from configurator.engine import Machine, Quant, Workload, estimate, memory

from .models import (
    BF16,
    DEEPSEEK_V3,
    FALCON_40B,
    LLAMA_3_8B,
    LLAMA_3_70B,
    Q4_K_M,
    RTX_6000_ADA,
)


def test_it_sizes_weights_from_parameters_and_effective_bits():
    assert memory.weights_bytes(LLAMA_3_70B, BF16) == pytest.approx(141.1e9)
    # Q4_K_M follows llama.cpp's per-tensor recipe: the published 70B file is 42.52 GB
    # (https://huggingface.co/bartowski/Meta-Llama-3.1-70B-Instruct-GGUF).
    assert memory.weights_bytes(LLAMA_3_70B, Q4_K_M) == pytest.approx(42.52e9, rel=0.005)


def test_it_counts_two_tensors_per_kv_head_per_layer_per_token():
    # Llama 3 8B: 2 × 8 KV heads × 128 × 2 bytes × 32 layers = 128 KiB per token.
    assert memory.kv_cache_bytes(LLAMA_3_8B, 8192, 16) == 8192 * 131072


def test_it_makes_grouped_query_attention_matter():
    full_heads = replace(LLAMA_3_8B, kv_heads=32)
    ratio = memory.kv_cache_bytes(full_heads, 4096, 16) / memory.kv_cache_bytes(
        LLAMA_3_8B, 4096, 16
    )
    assert ratio == pytest.approx(4)


def test_it_shrinks_the_cache_with_its_data_type_and_grows_it_per_sequence():
    f16 = memory.kv_cache_bytes(LLAMA_3_8B, 4096, 16)
    assert memory.kv_cache_bytes(LLAMA_3_8B, 4096, 8.5) == pytest.approx(f16 * 8.5 / 16)
    assert memory.kv_cache_bytes(LLAMA_3_8B, 4096, 16, sequences=8) == pytest.approx(8 * f16)


def test_it_stores_compressed_latents_for_multi_head_latent_attention():
    # DeepSeek V3: (512 + 64) values × 2 bytes × 61 layers per token.
    assert memory.kv_cache_bytes(DEEPSEEK_V3, 1, 16) == (512 + 64) * 2 * 61


def test_it_caps_sliding_window_layers_at_their_window():
    gemma_like = replace(LLAMA_3_8B, sliding_window=1024, sliding_window_layers_fraction=5 / 6)
    long = memory.kv_cache_bytes(gemma_like, 32768, 16)
    full = memory.kv_cache_bytes(LLAMA_3_8B, 32768, 16)
    assert long == pytest.approx(full * (1 / 6 + 5 / 6 * 1024 / 32768))
    assert memory.kv_cache_bytes(gemma_like, 512, 16) == memory.kv_cache_bytes(LLAMA_3_8B, 512, 16)


def test_it_splits_moe_layers_into_dense_and_expert_parts_that_add_up():
    parts = memory.model_parts(DEEPSEEK_V3, Q4_K_M)
    blocks = parts.layers * parts.layer_bytes
    assert blocks + parts.embedding_bytes + parts.head_bytes == pytest.approx(
        memory.weights_bytes(DEEPSEEK_V3, Q4_K_M)
    )
    active = parts.layers * parts.active_layer_params() + 2 * parts.head_params
    assert active == pytest.approx(37e9, rel=0.01)


def test_it_orders_fine_tuning_memory_full_over_lora_over_qlora():
    needs = {
        mode: memory.training_memory(FALCON_40B, BF16, Workload(mode=mode), 1, 1.5).per_gpu_bytes
        for mode in ("full", "lora", "qlora")
    }
    assert needs["full"] > needs["lora"] > needs["qlora"]
    assert needs["full"] > 16 * 41.84e9


def test_it_saves_activation_memory_with_gradient_checkpointing():
    plain = memory.training_memory(FALCON_40B, BF16, Workload(mode="lora"), 1, 1.5)
    recompute = memory.training_memory(
        FALCON_40B, BF16, Workload(mode="lora", gradient_checkpointing=True), 1, 1.5
    )
    assert recompute.activations_bytes < plain.activations_bytes / 5
    assert not plain.gradient_checkpointing and recompute.gradient_checkpointing


def test_it_shards_frozen_weights_but_not_activations_over_gpus():
    one = memory.training_memory(FALCON_40B, BF16, Workload(mode="lora"), 1, 1.5)
    four = memory.training_memory(FALCON_40B, BF16, Workload(mode="lora"), 4, 1.5)
    assert four.per_gpu_bytes == pytest.approx(
        one.per_gpu_bytes - 0.75 * (one.frozen_weights_bytes + one.trainable_state_bytes)
    )


def test_it_fits_lora_of_falcon_40b_on_four_gpus_with_checkpointing_and_short_sequences():
    workload = Workload(
        mode="lora", context_tokens=1024, prompt_tokens=512, gradient_checkpointing=True
    )
    result = estimate(Machine(gpus=((RTX_6000_ADA, 4),)), FALCON_40B, BF16, workload)
    assert result.fits, result.reason


def test_it_reports_memory_per_device_that_adds_up():
    result = estimate(Machine(gpus=((RTX_6000_ADA, 2),)), LLAMA_3_70B, Quant.from_name("Q8_0"))
    for device in result.memory:
        assert device.total_gb == pytest.approx(
            device.weights_gb + device.kv_cache_gb + device.overhead_gb
        )
        assert device.headroom_gb == pytest.approx(device.capacity_gb - device.total_gb)
    assert sum(d.weights_gb for d in result.memory) == pytest.approx(result.weights_gb, rel=0.01)
    assert sum(d.kv_cache_gb for d in result.memory) == pytest.approx(result.kv_cache_gb)
