"""Published config.json files (the keys the parser reads, values as published), turned
into engine architectures through the same parser ``import_model`` uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from catalog.hf_config import fields_from_hf_config
from configurator.engine import ModelArch

CONFIGS = Path(__file__).resolve().parents[1] / "catalog" / "fixtures" / "configs"

# https://huggingface.co/Qwen/Qwen3-Next-80B-A3B-Instruct/blob/main/config.json
QWEN3_NEXT_80B_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen3NextForCausalLM"],
    "model_type": "qwen3_next",
    "hidden_size": 2048,
    "intermediate_size": 5120,
    "num_hidden_layers": 48,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "head_dim": 256,
    "vocab_size": 151936,
    "max_position_embeddings": 262144,
    "tie_word_embeddings": False,
    "num_experts": 512,
    "num_experts_per_tok": 10,
    "moe_intermediate_size": 512,
    "shared_expert_intermediate_size": 512,
    "full_attention_interval": 4,
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 32,
    "linear_value_head_dim": 128,
}

# https://huggingface.co/nvidia/NVIDIA-Nemotron-Nano-9B-v2/blob/main/config.json
NEMOTRON_NANO_9B_V2_CONFIG: dict[str, Any] = {
    "architectures": ["NemotronHForCausalLM"],
    "model_type": "nemotron_h",
    "hidden_size": 4480,
    "intermediate_size": 15680,
    "num_hidden_layers": 56,
    "num_attention_heads": 40,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 131072,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": False,
    "hybrid_override_pattern": "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-",
    "mamba_num_heads": 128,
    "mamba_head_dim": 80,
    "ssm_state_size": 128,
    "n_groups": 8,
    "conv_kernel": 4,
}

# https://huggingface.co/LiquidAI/LFM2-1.2B/blob/main/config.json
LFM2_1_2B_CONFIG: dict[str, Any] = {
    "architectures": ["Lfm2ForCausalLM"],
    "model_type": "lfm2",
    "hidden_size": 2048,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 65536,
    "max_position_embeddings": 128000,
    "conv_L_cache": 3,
    "full_attn_idxs": [2, 5, 8, 10, 12, 14],
}

# https://huggingface.co/openai/gpt-oss-120b/blob/main/config.json
GPT_OSS_120B_CONFIG: dict[str, Any] = {
    "architectures": ["GptOssForCausalLM"],
    "model_type": "gpt_oss",
    "hidden_size": 2880,
    "intermediate_size": 2880,
    "num_hidden_layers": 36,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "vocab_size": 201088,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": False,
    "num_local_experts": 128,
    "num_experts_per_tok": 4,
    "experts_per_token": 4,
    "sliding_window": 128,
    "layer_types": ["sliding_attention", "full_attention"] * 18,
}

# https://huggingface.co/moonshotai/Kimi-K2-Instruct/blob/main/config.json
KIMI_K2_CONFIG: dict[str, Any] = {
    "architectures": ["DeepseekV3ForCausalLM"],
    "model_type": "kimi_k2",
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "num_hidden_layers": 61,
    "num_attention_heads": 64,
    "num_key_value_heads": 64,
    "kv_lora_rank": 512,
    "q_lora_rank": 1536,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "n_routed_experts": 384,
    "n_shared_experts": 1,
    "num_experts_per_tok": 8,
    "moe_intermediate_size": 2048,
    "first_k_dense_replace": 1,
    "vocab_size": 163840,
    "max_position_embeddings": 131072,
    "num_nextn_predict_layers": 0,
    "tie_word_embeddings": False,
}


def read_config(name: str) -> dict[str, Any]:
    """A whole config.json kept under tests/catalog/fixtures/configs/."""
    return json.loads((CONFIGS / name).read_text(encoding="utf-8"))


# deepseek-ai/DeepSeek-V3 with the sparse-attention indexer of
# https://huggingface.co/deepseek-ai/DeepSeek-V3.2-Exp/blob/main/config.json
# (index_head_dim 128, index_n_heads 64, index_topk 2048; the rest as V3).
DEEPSEEK_V3_2_CONFIG: dict[str, Any] = {
    **read_config("deepseek-v3.json"),
    "architectures": ["DeepseekV32ForCausalLM"],
    "model_type": "deepseek_v32",
    "index_head_dim": 128,
    "index_n_heads": 64,
    "index_topk": 2048,
}


def arch(
    config: dict[str, Any], name: str, total_b: float, active_b: float | None = None, **extra: Any
) -> ModelArch:
    """The engine's architecture of ``config`` (parsed as import_model parses it) with
    the published parameter counts."""
    fields = fields_from_hf_config(config)
    fields.update(extra)
    return ModelArch.from_dict(
        {**fields, "name": name, "total_params_b": total_b, "active_params_b": active_b or total_b}
    )


# Parameter counts from each model card (DeepSeek V3: 671 B main model + 14 B MTP module).
QWEN3_NEXT_80B = arch(QWEN3_NEXT_80B_CONFIG, "Qwen3-Next-80B-A3B", 80.0, 3.0)
NEMOTRON_NANO_9B_V2 = arch(NEMOTRON_NANO_9B_V2_CONFIG, "Nemotron Nano 9B v2", 9.0)
LFM2_1_2B = arch(LFM2_1_2B_CONFIG, "LFM2-1.2B", 1.17)
GPT_OSS_120B = arch(GPT_OSS_120B_CONFIG, "gpt-oss-120b", 116.83, 5.13)
GEMMA_3_27B = arch(read_config("gemma-3-27b-it.json"), "Gemma 3 27B", 27.4, vision_params_b=0.417)
DEEPSEEK_V3 = arch(read_config("deepseek-v3.json"), "DeepSeek V3", 684.5, 37.0)
DEEPSEEK_V3_2 = arch(DEEPSEEK_V3_2_CONFIG, "DeepSeek V3.2-Exp", 684.5, 37.0)
KIMI_K2 = arch(KIMI_K2_CONFIG, "Kimi K2", 1026.0, 32.0)
