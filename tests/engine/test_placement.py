"""Where the model goes: GPUs, system RAM, unified memory, the drive."""

from dataclasses import replace

import pytest

from configurator.engine import Machine, Quant, Storage, Workload, estimate

from .models import (
    DEEPSEEK_V3,
    EPYC_9354_1S,
    LLAMA_3_8B,
    LLAMA_3_70B,
    M2_ULTRA,
    Q4_K_M,
    QWEN3_30B_A3B,
    RTX_3090,
    RTX_4090,
    RTX_6000_ADA,
    RYZEN_DESKTOP,
)

AWQ = Quant.from_name("AWQ-4bit")


def layers_by_kind(result, kind):
    return sum(d.layers for d in result.memory if d.kind == kind)


def test_it_splits_layers_in_proportion_to_vram():
    machine = Machine(gpus=((RTX_4090, 1), (RTX_6000_ADA, 1)))
    result = estimate(machine, LLAMA_3_70B, Q4_K_M)
    small, big = (d.layers for d in result.memory if d.kind == "gpu")
    assert small + big == 80
    assert big / small == pytest.approx(2, rel=0.1)
    assert result.split == "layer"


def test_it_offloads_whole_layers_of_a_dense_model_to_system_ram():
    result = estimate(Machine(gpus=((RTX_4090, 1),), cpu=RYZEN_DESKTOP), LLAMA_3_70B, Q4_K_M)
    assert result.fits
    assert 40 <= layers_by_kind(result, "gpu") <= 50
    assert layers_by_kind(result, "gpu") + layers_by_kind(result, "cpu") == 80
    assert "system RAM" in result.bottleneck
    two_gpus = estimate(Machine(gpus=((RTX_4090, 2),)), LLAMA_3_70B, Q4_K_M)
    assert result.decode_tokens_per_s < two_gpus.decode_tokens_per_s / 2


def test_it_keeps_attention_on_the_gpu_and_moves_experts_to_ram_for_moe():
    small_gpu = replace(RTX_4090, name="8 GB GPU", vram_gb=8)
    result = estimate(Machine(gpus=((small_gpu, 1),), cpu=RYZEN_DESKTOP), QWEN3_30B_A3B, Q4_K_M)
    assert result.fits
    assert "routed experts" in result.placement
    gpu = next(d for d in result.memory if d.kind == "gpu")
    assert gpu.layers == 48 and gpu.kv_cache_gb > 0
    whole_layers = estimate(
        Machine(gpus=((small_gpu, 1),), cpu=RYZEN_DESKTOP), QWEN3_30B_A3B, Q4_K_M, gpu_layers=20
    )
    assert result.decode_tokens_per_s > whole_layers.decode_tokens_per_s


def test_it_honours_forced_gpu_layers_and_cpu_moe_layers():
    machine = Machine(gpus=((RTX_4090, 1),), cpu=RYZEN_DESKTOP)
    forced = estimate(machine, LLAMA_3_8B, Q4_K_M, gpu_layers=16)
    assert layers_by_kind(forced, "gpu") == 16 and layers_by_kind(forced, "cpu") == 16
    experts = estimate(machine, QWEN3_30B_A3B, Q4_K_M, cpu_moe_layers=30)
    assert "routed experts of 30 layers" in experts.placement


def test_it_runs_cpu_only_when_there_is_no_gpu():
    result = estimate(Machine(cpu=EPYC_9354_1S), LLAMA_3_70B, Q4_K_M)
    assert [d.kind for d in result.memory] == ["cpu"]
    assert result.memory[0].layers == 80


def test_it_respects_the_usable_share_of_unified_memory():
    assert M2_ULTRA.capacity_bytes == pytest.approx(192 * 2**30 * 0.75)
    fits = estimate(Machine(unified=M2_ULTRA), LLAMA_3_70B, Quant("6 bits", 6.0))
    assert fits.fits and fits.memory[0].capacity_gb == pytest.approx(154.6, rel=0.01)
    # 160 GB of weights would fit the 206 GB installed, but not the GPU's usable share.
    over = estimate(Machine(unified=M2_ULTRA), LLAMA_3_70B, Quant("18 bits", 18.0))
    assert not over.fits


def test_it_streams_what_does_not_fit_from_the_drive_with_llama_cpp_only():
    too_big = Quant("8 bits", 8.5)
    drive = Storage("SATA SSD", 550)
    spilled = estimate(Machine(unified=M2_ULTRA, storage=drive), DEEPSEEK_V3, too_big)
    assert not spilled.fits and "SATA SSD" in spilled.reason
    assert spilled.decode_tokens_per_s < 0.1
    stuck = estimate(
        Machine(unified=M2_ULTRA), DEEPSEEK_V3, Quant.from_name("MLX-8bit"), engine="mlx"
    )
    assert not stuck.fits and "cannot offload" in stuck.reason


def test_it_assumes_a_drive_when_none_is_given_and_says_so():
    result = estimate(Machine(cpu=RYZEN_DESKTOP), LLAMA_3_70B, Quant.from_name("BF16"))
    assert not result.fits
    assert any("assumed" in note for note in result.assumptions)


def test_it_adds_bandwidth_with_tensor_parallel_and_pays_for_synchronisation():
    machine = Machine(gpus=((RTX_4090, 2),))
    tensor = estimate(machine, LLAMA_3_70B, AWQ, engine="vllm")
    layer = estimate(machine, LLAMA_3_70B, AWQ, engine="vllm", split="layer")
    assert tensor.split == "tensor" and layer.split == "layer"
    # Two GPUs read half the weights each, but over PCIe the 160 all-reduces per token
    # (2 per layer) cost tens of µs each (vLLM issue 7567: 2 × A100 PCIe, 70B BF16).
    assert tensor.decode_tokens_per_s > 1.3 * layer.decode_tokens_per_s
    assert tensor.decode_tokens_per_s < 2 * layer.decode_tokens_per_s
    assert any("all-reduces" in note for note in tensor.assumptions)


def test_it_synchronises_faster_over_nvlink_than_over_pcie():
    pcie = estimate(
        Machine(gpus=((replace(RTX_3090, interconnect_bandwidth_gbs=0), 2),)),
        LLAMA_3_70B,
        AWQ,
        engine="vllm",
    )
    nvlink = estimate(Machine(gpus=((RTX_3090, 2),)), LLAMA_3_70B, AWQ, engine="vllm")
    assert nvlink.decode_tokens_per_s > pcie.decode_tokens_per_s
    assert "NVLink" in nvlink.placement and "PCIe" in pcie.placement


def test_it_says_a_gpu_only_engine_cannot_place_what_does_not_fit():
    result = estimate(
        Machine(gpus=((RTX_4090, 1),), cpu=RYZEN_DESKTOP), LLAMA_3_70B, AWQ, engine="vllm"
    )
    assert not result.fits
    assert "nowhere to go" in result.placement
    assert any("as if the model fitted" in note for note in result.assumptions)


def test_it_finds_the_longest_context_that_fits():
    machine = Machine(gpus=((RTX_4090, 2),))
    result = estimate(machine, replace(LLAMA_3_70B, max_context=None), Q4_K_M)
    longest = result.max_context_tokens
    assert 8_000 < longest < 40_000
    at_limit = estimate(
        machine, LLAMA_3_70B, Q4_K_M, Workload(context_tokens=longest - 1024, prompt_tokens=512)
    )
    beyond = estimate(
        machine, LLAMA_3_70B, Q4_K_M, Workload(context_tokens=longest + 4096, prompt_tokens=512)
    )
    assert at_limit.fits and not beyond.fits
    capped = estimate(machine, LLAMA_3_70B, Q4_K_M)
    assert capped.max_context_tokens == 8192
