"""Engines, backends and vendors as data: what each engine runs on, how it splits, and the
physics of CCD-limited CPUs, expert offload, threads, speculative decoding and evidence."""

import json
from dataclasses import replace

import pytest

from configurator.engine import (
    CpuSystem,
    Machine,
    UnifiedMemorySystem,
    Workload,
    estimate,
    load_constants,
)
from configurator.engine.calibration.fit import predict
from configurator.engine.calibration.loader import MEASUREMENTS_PATH, load_measurements
from configurator.engine.engines import ENGINES, engine_profile
from configurator.engine.rates import cpu_bandwidth_gbs
from configurator.engine.spec import SpecDecode, tokens_per_cycle

from .models import DEEPSEEK_V3, LLAMA_3_8B, LLAMA_3_70B, Q4_K_M, QWEN3_30B_A3B, RTX_4090

# NVIDIA DGX Spark (GB10): 128 GB LPDDR5x at 273 GB/s (nvidia.com DGX Spark spec page).
DGX_SPARK = UnifiedMemorySystem(
    "NVIDIA DGX Spark", 128, 273, 62.5, usable_memory_fraction=0.9, tdp_w=240, vendor="nvidia"
)
AWQ = __import__("configurator.engine", fromlist=["Quant"]).Quant.from_name("AWQ-4bit")


def test_it_runs_vllm_and_sglang_on_a_dgx_spark_but_not_mlx():
    for engine in ("vllm", "sglang"):
        result = estimate(Machine(unified=DGX_SPARK), LLAMA_3_8B, AWQ, engine=engine)
        assert result.fits and result.backend == "CUDA"
    mlx_4bit = AWQ.__class__("MLX 4-bit", 4.5, "MLX")
    with pytest.raises(ValueError, match="^engine"):
        estimate(Machine(unified=DGX_SPARK), LLAMA_3_8B, mlx_4bit, engine="mlx")


def test_it_falls_back_to_pipeline_when_tensor_parallel_cannot_divide_the_heads():
    # Llama 3 70B has 64 attention heads and 8 KV heads: 3 GPUs cannot shard them.
    result = estimate(Machine(gpus=((RTX_4090, 3),)), LLAMA_3_70B, AWQ, engine="vllm")
    assert result.split == "layer"
    assert any("pipeline (layer) split used instead" in a for a in result.assumptions)
    two = estimate(Machine(gpus=((RTX_4090, 4),)), LLAMA_3_70B, AWQ, engine="vllm")
    assert two.split == "tensor"


def test_the_backend_is_chosen_per_vendor_and_checked():
    result = estimate(Machine(gpus=((RTX_4090, 1),)), LLAMA_3_8B, Q4_K_M)
    assert result.backend == "CUDA"
    vulkan = estimate(Machine(gpus=((RTX_4090, 1),)), LLAMA_3_8B, Q4_K_M, backend="vulkan")
    assert vulkan.backend == "Vulkan"
    with pytest.raises(ValueError, match="^backend"):
        estimate(Machine(gpus=((RTX_4090, 1),)), LLAMA_3_8B, Q4_K_M, backend="SYCL")
    with pytest.raises(ValueError, match="^backend"):
        estimate(Machine(gpus=((RTX_4090, 1),)), LLAMA_3_8B, AWQ, engine="vllm", backend="Metal")


def test_every_engine_names_its_backends_and_cost_key():
    for profile in ENGINES.values():
        assert profile.backends and profile.cost_key
        assert engine_profile(profile.name) is profile
    assert engine_profile("ik-llama.cpp").name == "ik_llama.cpp"


def test_a_cpu_with_one_core_per_ccd_pulls_more_than_one_with_few_ccds():
    # EPYC 9175F: 16 cores on 16 CCDs; the same cores on 2 CCDs share two links.
    wide = CpuSystem("16 cores on 16 CCDs", 1, 16, 12, 6000, 384, 2000, ccds_per_socket=16)
    narrow = replace(wide, name="16 cores on 2 CCDs", ccds_per_socket=2)
    constants = load_constants()
    assert cpu_bandwidth_gbs(wide, constants) > cpu_bandwidth_gbs(narrow, constants)


def test_fewer_threads_never_decode_faster_on_a_cpu():
    cpu = CpuSystem("EPYC 9554", 1, 64, 12, 4800, 384, 5000, ccds_per_socket=8)
    all_cores = estimate(Machine(cpu=cpu), LLAMA_3_70B, Q4_K_M)
    eight = estimate(Machine(cpu=cpu), LLAMA_3_70B, Q4_K_M, threads=8)
    assert eight.decode_tokens_per_s < all_cores.decode_tokens_per_s


def test_all_experts_in_ram_keep_attention_on_the_gpu():
    host = CpuSystem("Ryzen 9 7950X", 1, 16, 2, 5600, 192, 2300, ccds_per_socket=2)
    machine = Machine(gpus=((RTX_4090, 1),), cpu=host)
    result = estimate(machine, QWEN3_30B_A3B, Q4_K_M, expert_offload="all")
    assert "routed experts of 48 layers in system RAM" in result.placement
    some = estimate(machine, QWEN3_30B_A3B, Q4_K_M, expert_offload=12)
    assert some.decode_tokens_per_s > result.decode_tokens_per_s
    with pytest.raises(ValueError, match="^expert_offload"):
        estimate(machine, LLAMA_3_8B, Q4_K_M, expert_offload="all")


def test_speculation_speeds_up_memory_bound_decode_but_never_beyond_its_tokens_per_cycle():
    # DeepSeek-V3's report: 85-90 % acceptance of the MTP token, 1.8x tokens/s.
    spec = SpecDecode("mtp")
    on_gpu = estimate(Machine(gpus=((RTX_4090, 1),)), QWEN3_30B_A3B, Q4_K_M, spec_decode=spec)
    speedup = on_gpu.spec_decode["speedup"]
    assert 1.3 < speedup < tokens_per_cycle(0.85, 1)
    # Mostly in system RAM, verification's extra compute eats into the gain.
    host = CpuSystem("host", 1, 32, 8, 4800, 1024, 3000)
    offloaded = estimate(
        Machine(gpus=((RTX_4090, 1),), cpu=host), DEEPSEEK_V3, Q4_K_M, spec_decode=spec
    )
    assert offloaded.spec_decode["speedup"] < speedup
    with pytest.raises(ValueError, match="^spec_decode"):
        SpecDecode.parse("medusa")
    with pytest.raises(ValueError, match="^spec_decode"):
        estimate(
            Machine(gpus=((RTX_4090, 1),)), LLAMA_3_8B, Q4_K_M, spec_decode=SpecDecode("eagle")
        )


def test_a_draft_model_costs_its_own_decode_step():
    machine = Machine(gpus=((RTX_4090, 2),))
    draft = (LLAMA_3_8B, Q4_K_M)
    cheap = estimate(
        machine, LLAMA_3_70B, Q4_K_M, spec_decode=SpecDecode("draft", 4, 0.7, "8b"), draft=draft
    )
    assert cheap.spec_decode["draft_step_ms"] > 0
    assert cheap.spec_decode["speedup"] > 1


def test_an_estimate_carries_its_nearest_published_measurements():
    result = estimate(Machine(gpus=((RTX_4090, 1),)), LLAMA_3_8B, Q4_K_M)
    assert 1 <= len(result.evidence) <= 5
    first = result.evidence[0]
    assert first["source"].startswith("http") and first["measured"] > 0 and first["predicted"] > 0
    assert "4090" in first["setup"]
    assert json.dumps(result.to_dict()["evidence"])


def test_rows_in_the_measurements_folder_are_loaded_and_predicted(tmp_path):
    row = {
        "id": "test-batched-1",
        "source": "https://example.org/bench",
        "source_key": "test",
        "date": "2025-06-01",
        "category": "batched",
        "engine": "vLLM",
        "backend": "CUDA",
        "metric": "batched_decode",
        "concurrency": 16,
        "tokens_per_s": 900.0,
        "prompt_tokens": 512,
        "gen_tokens": 256,
        "model": {
            "name": "Llama 3 8B",
            "total_params_b": 8.03,
            "active_params_b": 8.03,
            "layers": 32,
            "hidden_size": 4096,
            "attention_heads": 32,
            "kv_heads": 8,
            "head_dim": 128,
            "vocab_size": 128256,
        },
        "quant": {"name": "BF16", "bits_per_weight": 16},
        "hardware": {
            "gpus": [{"name": "RTX 4090", "count": 1, "bandwidth_gbs": 1008, "fp16_tflops": 165}]
        },
    }
    extra = tmp_path / "est-test.json"
    extra.write_text(json.dumps([row]), encoding="utf-8")
    rows, skipped = load_measurements([MEASUREMENTS_PATH, extra])
    loaded = [r for r in rows if r.id == "test-batched-1"]
    assert loaded and not [s for s in skipped if s[0] == "test-batched-1"]
    batched = predict(loaded[0], load_constants())
    single = 1 / (1 / batched) / 16
    # Sixteen sequences share each weight read: aggregate far above one stream.
    assert batched > 4 * single
    assert Workload().concurrent_sequences == 1
