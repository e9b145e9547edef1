"""Parameter counts recomputed from real configs (read by the import parser) agree with
the published checkpoints, for the 2025-26 architectures."""

import pytest

from catalog.architecture import Architecture, linear_layer_params, parameter_count
from catalog.hf_config import fields_from_hf_config
from tests.engine.real_configs import (
    DEEPSEEK_V3_2_CONFIG,
    GPT_OSS_120B_CONFIG,
    KIMI_K2_CONFIG,
    NEMOTRON_NANO_9B_V2_CONFIG,
    QWEN3_NEXT_80B_CONFIG,
    read_config,
)


def count(config: dict) -> tuple[float, float]:
    return parameter_count(Architecture.from_mapping(fields_from_hf_config(config)))


@pytest.mark.parametrize(
    ("config", "published_b"),
    [
        # Each hub page's safetensors parameter count.
        (KIMI_K2_CONFIG, 1026.4),  # moonshotai/Kimi-K2-Instruct (no MTP layer)
        (NEMOTRON_NANO_9B_V2_CONFIG, 8.89),  # nvidia/NVIDIA-Nemotron-Nano-9B-v2
        (GPT_OSS_120B_CONFIG, 116.83),  # openai/gpt-oss-120b model card
        (QWEN3_NEXT_80B_CONFIG, 80.0),  # Qwen/Qwen3-Next-80B-A3B-Instruct model card
    ],
    ids=["kimi-k2", "nemotron-nano-9b-v2", "gpt-oss-120b", "qwen3-next-80b"],
)
def test_counts_of_new_architectures_match_their_checkpoints(config, published_b):
    assert count(config).total_b == pytest.approx(published_b, rel=0.01)


def test_mla_uses_the_configs_q_lora_rank():
    fields = fields_from_hf_config(KIMI_K2_CONFIG)
    assert fields["q_lora_rank"] == 1536
    without = Architecture.from_mapping({**fields, "q_lora_rank": 0})
    # No query compression: a direct hidden x heads x 192 projection instead of
    # hidden x 1536 + 1536 (norm) + 1536 x heads x 192, in each of the 61 layers.
    difference = (
        parameter_count(without).total_b
        - parameter_count(Architecture.from_mapping(fields)).total_b
    )
    per_layer = 7168 * 64 * 192 - (7168 * 1536 + 1536 + 1536 * 64 * 192)
    assert difference == pytest.approx(61 * per_layer / 1e9)


def test_the_mtp_module_and_the_sparse_attention_indexer_are_counted():
    v3 = count(read_config("deepseek-v3.json"))
    # DeepSeek V3: 671 B main model + the MTP module (its embedding and head shared).
    assert v3.total_b == pytest.approx(685 - 2 * 0.927, rel=0.01)
    assert v3.active_b == pytest.approx(37, rel=0.03)
    v32 = count(DEEPSEEK_V3_2_CONFIG)
    indexer = 61 * (1536 * 64 * 128 + 7168 * 128 + 7168 * 64) / 1e9
    assert v32.total_b - v3.total_b == pytest.approx(indexer, rel=0.02)


def test_nemotron_h_blocks_are_one_of_attention_mamba_or_ffn():
    fields = fields_from_hf_config(NEMOTRON_NANO_9B_V2_CONFIG)
    assert (fields["full_attention_layers"], fields["recurrent_layers"]) == (4, 27)
    a = Architecture.from_mapping(fields)
    mamba = linear_layer_params(a)
    d_inner, conv = 128 * 80, 128 * 80 + 2 * 8 * 128
    assert mamba == 4480 * (d_inner + conv + 128) + conv * 4 + 3 * 128 + d_inner + d_inner * 4480


def test_an_mla_config_with_null_q_lora_rank_has_uncompressed_queries():
    # DeepSeek-V2-Lite's config.json says "q_lora_rank": null.
    fields = fields_from_hf_config({**read_config("deepseek-v3.json"), "q_lora_rank": None})
    assert fields["q_lora_rank"] == 0
