"""GGUF sizes per architecture from llama.cpp's per-tensor recipes, against published
file sizes."""

import pytest

from configurator.engine import ModelArch, Quant, memory
from configurator.engine.gguf import gguf_size, tensor_types

from .real_configs import GPT_OSS_120B, QWEN3_NEXT_80B

# meta-llama/Llama-3.1-70B-Instruct and Llama-3.1-8B-Instruct config.json.
LLAMA_31_70B = ModelArch(
    name="Llama 3.1 70B",
    total_params_b=70.554,
    active_params_b=70.554,
    layers=80,
    hidden_size=8192,
    attention_heads=64,
    kv_heads=8,
    head_dim=128,
    vocab_size=128256,
    intermediate_size=28672,
)
LLAMA_31_8B = ModelArch(
    name="Llama 3.1 8B",
    total_params_b=8.0306,
    active_params_b=8.0306,
    layers=32,
    hidden_size=4096,
    attention_heads=32,
    kv_heads=8,
    head_dim=128,
    vocab_size=128256,
    intermediate_size=14336,
)

# File sizes in GB listed by https://huggingface.co/bartowski/Meta-Llama-3.1-70B-Instruct-GGUF
LLAMA_70B_FILES_GB = {
    "Q8_0": 74.98,
    "Q6_K": 57.89,
    "Q5_K_M": 49.95,
    "Q5_K_S": 48.66,
    "Q4_K_M": 42.52,
    "Q4_K_S": 40.35,
    "Q4_0": 40.12,
    "IQ4_XS": 37.90,
    "Q3_K_L": 37.14,
    "Q3_K_M": 34.27,
    "IQ3_M": 31.94,
    "Q3_K_S": 30.91,
}

# Model sizes in GiB of llama.cpp's LLaMA 3 8B scoreboard
# (https://github.com/ggml-org/llama.cpp/blob/master/tools/perplexity/README.md).
LLAMA_8B_FILES_GIB = {
    "F16": 14.97,
    "Q8_0": 7.96,
    "Q6_K": 6.14,
    "Q5_K_M": 5.33,
    "Q5_K_S": 5.21,
    "Q4_K_M": 4.58,
    "Q4_K_S": 4.37,
    "IQ4_NL": 4.35,
    "IQ4_XS": 4.14,
    "Q3_K_L": 4.03,
    "Q3_K_M": 3.74,
    "IQ3_M": 3.53,
    "IQ3_S": 3.42,
    "IQ3_XS": 3.28,
    "IQ3_XXS": 3.05,
    "Q3_K_S": 3.41,
    "Q2_K": 2.96,
    "IQ2_M": 2.74,
    "IQ2_S": 2.56,
    "IQ2_XS": 2.43,
    "IQ2_XXS": 2.24,
    "IQ1_M": 2.01,
    "IQ1_S": 1.88,
}


@pytest.mark.parametrize(("ftype", "published_gb"), LLAMA_70B_FILES_GB.items())
def test_llama_70b_files_come_out_at_their_published_size(ftype, published_gb):
    assert gguf_size(LLAMA_31_70B, ftype).bytes_total / 1e9 == pytest.approx(
        published_gb, rel=0.005
    )


@pytest.mark.parametrize(("ftype", "published_gib"), LLAMA_8B_FILES_GIB.items())
def test_llama_8b_files_come_out_at_the_scoreboard_size(ftype, published_gib):
    size = gguf_size(LLAMA_31_8B, ftype).bytes_total / 2**30
    assert size == pytest.approx(published_gib, rel=0.01)


def test_the_same_format_costs_different_bits_on_different_architectures():
    big = gguf_size(LLAMA_31_70B, "Q4_K_M").bits_per_weight
    small = gguf_size(LLAMA_31_8B, "Q4_K_M").bits_per_weight
    # The Q6_K output head and embedding weigh more in a small model.
    assert 4.80 < big < 4.84 and 4.87 < small < 4.92
    assert memory.effective_bits_per_weight(LLAMA_31_70B, Quant.from_name("Q4_K_M")) == (
        pytest.approx(big, rel=0.002)
    )


def test_q4_k_m_gives_the_head_q6_k_and_half_of_attn_v_and_ffn_down_q6_k():
    types = {t.name: ggml for t, ggml in tensor_types(LLAMA_31_8B, "Q4_K_M")}
    assert types["output.weight"] == "Q6_K"
    assert types["token_embd.weight"] == "Q4_K"
    assert types["blk.10.attn_q.weight"] == "Q4_K"
    assert types["blk.0.attn_norm.weight"] == "F32"
    v = [types[f"blk.{i}.attn_v.weight"] for i in range(32)]
    down = [types[f"blk.{i}.ffn_down.weight"] for i in range(32)]
    assert v.count("Q6_K") == down.count("Q6_K") == 16


def test_gpt_oss_in_llama_cpp_keeps_mxfp4_experts_in_a_q8_0_file():
    types = tensor_types(GPT_OSS_120B, "MXFP4_MOE")
    experts = {ggml for t, ggml in types if t.experts}
    others = {ggml for t, ggml in types if t.quantize and not t.experts}
    assert experts == {"MXFP4"} and others == {"Q8_0"}
    size = gguf_size(GPT_OSS_120B, "MXFP4_MOE")
    assert 4.25 < size.bits_per_weight < 4.6
    assert size.group_bits("experts") == pytest.approx(4.25)


def test_rows_that_do_not_fill_256_wide_blocks_fall_back_to_32_wide_types():
    # Qwen2.5-72B: intermediate 29568 is not a multiple of 256, so its ffn_down rows
    # cannot be Q4_K and llama-quantize writes Q5_0 (Q6_K ones become Q8_0).
    qwen = ModelArch(
        name="Qwen2.5 72B",
        total_params_b=72.7,
        active_params_b=72.7,
        layers=80,
        hidden_size=8192,
        attention_heads=64,
        kv_heads=8,
        head_dim=128,
        vocab_size=152064,
        intermediate_size=29568,
    )
    down = {ggml for t, ggml in tensor_types(qwen, "Q4_K_M") if t.category == "ffn_down"}
    assert down == {"Q5_0", "Q8_0"}


def test_tied_embeddings_take_the_output_heads_type():
    tied = ModelArch(
        name="Llama 3.2 1B",
        total_params_b=1.236,
        active_params_b=1.236,
        layers=16,
        hidden_size=2048,
        attention_heads=32,
        kv_heads=8,
        head_dim=64,
        vocab_size=128256,
        intermediate_size=8192,
        tie_word_embeddings=True,
    )
    types = dict((t.name, ggml) for t, ggml in tensor_types(tied, "Q4_K_M"))
    assert types["token_embd.weight"] == "Q6_K" and "output.weight" not in types


def test_a_hybrid_model_is_sized_from_all_its_parameters():
    size = gguf_size(QWEN3_NEXT_80B, "Q4_K_M")
    assert size.params == pytest.approx(80e9, rel=0.01)
    assert 4.5 < size.bits_per_weight < 5.0


def test_other_formats_keep_embeddings_in_16_bits_and_mxfp4_quantizes_only_experts():
    awq = memory.weight_bits(LLAMA_31_8B, Quant.from_name("AWQ-4bit-g128"))
    assert (awq.embedding, awq.head, awq.dense) == (16.0, 16.0, pytest.approx(4.156, abs=0.001))
    mxfp4 = memory.weight_bits(GPT_OSS_120B, Quant.from_name("MXFP4"))
    assert (mxfp4.dense, mxfp4.experts) == (16.0, 4.25)
    assert Quant.from_name("NVFP4").bits_per_weight == 4.5
    assert Quant.from_name("EXL3-3.5").family == "EXL3"
