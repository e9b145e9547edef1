"""The engine's efficiency constants: their meaning, bounds, and the fitted values.

``constants.json`` beside this file holds the values fitted on published measurements
(``python -m configurator.engine.validate --fit`` rewrites it). It is read once, at first
use. Parameters without data to fit them keep their documented default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

CONSTANTS_PATH = Path(__file__).with_name("constants.json")

GPU_CLASSES = ("gpu_nvidia", "gpu_nvidia_hbm", "gpu_amd", "gpu_amd_hbm", "gpu_intel")
UNIFIED_CLASSES = ("unified_apple", "unified_amd", "unified_nvidia", "unified_other")
DEVICE_CLASSES = (*GPU_CLASSES, *UNIFIED_CLASSES, "cpu")
MEMORY_CLASSES = ("gddr6", "gddr6x", "gddr7", "hbm")
# Engines' cost keys (EngineProfile.cost_key) and fine-tuning frameworks.
ENGINE_NAMES = ("llama.cpp", "ik_llama.cpp", "vllm", "sglang", "exllamav2", "mlx", "transformers")
TRAINING_NAMES = ("transformers", "peft", "unsloth", "torchtune", "axolotl", "litgpt")
METRICS = (
    "decode",
    "prefill",
    "batched_decode",
    "power",
    "train_tokens_per_s",
    "train_peak_memory",
    "spec_decode",
)


@dataclass(frozen=True)
class Parameter:
    """A fitted constant: its default (used when no data constrains it), its physically
    plausible bounds, and what it means."""

    name: str
    default: float
    low: float
    high: float
    meaning: str


def _bandwidth(cls: str, default: float) -> Parameter:
    return Parameter(
        f"bandwidth_efficiency.{cls}",
        default,
        0.2,
        1.0,
        f"share of peak memory bandwidth reached by decode on {cls.replace('_', ' ')}",
    )


def _prefill(cls: str, default: float) -> Parameter:
    return Parameter(
        f"prefill_efficiency.{cls}",
        default,
        0.01,
        1.0,
        f"share of peak FP16 (CPU: FP32) throughput reached by prefill on {cls.replace('_', ' ')}",
    )


def _per_engine(
    prefix: str, defaults: dict[str, float], low: float, high: float, meaning: str
) -> tuple[Parameter, ...]:
    return tuple(
        Parameter(f"{prefix}.{engine}", value, low, high, meaning.format(engine=engine))
        for engine, value in defaults.items()
    )


# Bytes per token per vocabulary entry each framework's loss holds, from how it computes it:
# the Hugging Face Trainer's models upcast the whole bf16 logits to fp32 before the cross
# entropy (``logits = logits.float()`` in transformers' modeling_llama.py up to v4.44), so
# bf16 logits (2) + fp32 copy (4) + fp32 log-softmax (4) + fp32 gradient (4) = 14 (PEFT and
# Axolotl train through it); torchtune's CEWithChunkedOutputLoss keeps the bf16 logits and
# upcasts one of 8 chunks at a time (https://github.com/pytorch/torchtune/pull/1390): 2 + 0.5;
# LitGPT computes the head in 128-token chunks and ``chunked_cross_entropy`` upcasts each
# (litgpt/finetune/lora.py), about the same; Unsloth's Cut Cross Entropy never stores the
# logits (https://unsloth.ai/blog/llama3-3; Wijmans et al. 2024, arXiv:2411.09009): the floor.
TRAIN_LOGIT_BYTES_DEFAULTS: dict[str, float] = {
    "transformers": 14.0,
    "peft": 14.0,
    "unsloth": 0.5,
    "torchtune": 2.5,
    "axolotl": 14.0,
    "litgpt": 2.5,
}
assert set(TRAIN_LOGIT_BYTES_DEFAULTS) == set(TRAINING_NAMES)

PARAMETERS: tuple[Parameter, ...] = (
    _bandwidth("gddr6", 0.8),
    _bandwidth("gddr6x", 0.85),
    _bandwidth("gddr7", 0.85),
    _bandwidth("hbm", 0.6),
    _bandwidth("unified_apple", 0.8),
    _bandwidth("unified_amd", 0.75),
    _bandwidth("unified_nvidia", 0.75),
    _bandwidth("unified_other", 0.7),
    _bandwidth("cpu", 0.65),
    Parameter(
        "vendor_bandwidth_factor.amd",
        0.9,
        0.4,
        1.3,
        "AMD GPUs' decode bandwidth efficiency relative to NVIDIA's on the same memory",
    ),
    Parameter(
        "vendor_bandwidth_factor.intel",
        0.8,
        0.4,
        1.3,
        "Intel GPUs' decode bandwidth efficiency relative to NVIDIA's on the same memory",
    ),
    Parameter(
        "backend_bandwidth_factor.vulkan",
        1.0,
        0.5,
        1.5,
        "decode bandwidth efficiency with llama.cpp's Vulkan backend relative to the "
        "vendor's own backend (CUDA, ROCm, SYCL)",
    ),
    Parameter(
        "backend_prefill_factor.vulkan",
        0.7,
        0.2,
        1.5,
        "prefill throughput with llama.cpp's Vulkan backend relative to the vendor's own",
    ),
    Parameter(
        "cpu_core_bandwidth_gbs",
        20.0,
        2.0,
        100.0,
        "memory bandwidth one CPU core can pull, GB/s (caps CPUs with few cores)",
    ),
    Parameter(
        "cpu_ccd_bandwidth_gbs",
        60.0,
        10.0,
        200.0,
        "read bandwidth one core complex (AMD CCD) reaches through its link to the I/O die, "
        "GB/s (caps EPYC/Ryzen parts whose cores sit on few CCDs)",
    ),
    Parameter(
        "numa_efficiency",
        0.8,
        0.5,
        1.0,
        "share of two sockets' bandwidth reached with weights interleaved over both",
    ),
    *_per_engine(
        "layer_overhead_us.gpu",
        {
            "llama.cpp": 40.0,
            "ik_llama.cpp": 40.0,
            "exllamav2": 15.0,
            "vllm": 10.0,
            "sglang": 10.0,
            "transformers": 60.0,
        },
        0.0,
        300.0,
        "fixed time per layer per decoded token on a GPU with {engine} (kernel launches, "
        "synchronisation), µs",
    ),
    *_per_engine(
        "layer_overhead_us.unified",
        {"llama.cpp": 60.0, "mlx": 40.0, "vllm": 30.0, "sglang": 30.0},
        0.0,
        300.0,
        "fixed time per layer per decoded token on a unified-memory GPU with {engine}, µs",
    ),
    *_per_engine(
        "moe_layer_overhead_us",
        {"llama.cpp": 40.0, "ik_llama.cpp": 40.0, "vllm": 20.0, "sglang": 20.0, "mlx": 40.0},
        0.0,
        300.0,
        "extra fixed time per mixture-of-experts block per decoded token on a GPU or "
        "unified-memory pool with {engine} (router matmul, top-k and softmax of the expert "
        "weights, expert-indexed matmuls, weighted sum of the experts: more and smaller "
        "kernels than a dense FFN), µs. Default from llama.cpp discussion 17621 "
        "(https://github.com/ggml-org/llama.cpp/discussions/17621): gpt-oss-20b tg128 on an "
        "RTX 5090 at 329 tokens/s without kernel fusion vs ~520 tokens/s speed of light, "
        "~1.1 ms per token over 24 MoE blocks, part of it the engine's per-layer cost",
    ),
    *_per_engine(
        "moe_prefill_overhead_us",
        {"llama.cpp": 500.0, "ik_llama.cpp": 500.0, "vllm": 50.0, "sglang": 50.0, "mlx": 200.0},
        0.0,
        5000.0,
        "fixed time per mixture-of-experts block per prompt forward pass (ubatch) on a GPU or "
        "unified-memory pool with {engine}: grouping the pass's tokens by expert, the "
        "expert-indexed multiplies and the scatter back, µs. ggml's CUDA mul_mat_id gathered "
        "each expert's rows with a copy kernel launched once per expert, three matrices per "
        "block (ik_llama.cpp PR 283, https://github.com/ikawrakow/ik_llama.cpp/pull/283: "
        "'invoked n_as times, where n_as is the total number of experts'); vLLM's and "
        "SGLang's fused MoE kernels sort the tokens on the GPU in a few launches",
    ),
    Parameter(
        "ungraphed_layer_overhead_us",
        40.0,
        0.0,
        300.0,
        "extra fixed time per layer per decoded token when the engine launches every "
        "kernel from the host on a backend without GPU-graph replay (llama.cpp on ROCm "
        "before PR 22254, https://github.com/ggml-org/llama.cpp/pull/22254), µs. Default "
        "from llama.cpp PR 6766 (https://github.com/ggml-org/llama.cpp/pull/6766): CUDA "
        "graphs took an RTX 4090's Llama 3 8B Q4_0 tg128 from 137.5 to 146.0 tokens/s, "
        "0.42 ms per token over 32 layers on a fast host; AMD's launches cost more",
    ),
    Parameter(
        "layer_overhead_us.cpu",
        30.0,
        0.0,
        1000.0,
        "fixed time per layer per decoded token on the CPU besides its thread barriers, µs",
    ),
    Parameter(
        "layer_overhead_us.cpu_per_thread",
        2.0,
        0.0,
        50.0,
        "time per layer per decoded token for each CPU thread that joins the layer's "
        "barriers (ggml's threads meet at a shared atomic counter after every operation, "
        "so a barrier costs more with every thread), µs",
    ),
    Parameter(
        "layer_overhead_us.cpu_per_extra_socket",
        100.0,
        0.0,
        3000.0,
        "time per layer per decoded token for each CPU socket beyond the first (barrier "
        "and activations cross the inter-socket link), µs",
    ),
    Parameter(
        "cpu_expert_block_overhead_share",
        0.2,
        0.05,
        1.0,
        "share of a CPU's per-layer decode cost (layer_overhead_us.cpu*) paid by a block of "
        "which the CPU computes only the routed experts (experts in RAM, the rest on a GPU): "
        "ggml's threads meet at a barrier after every graph node they compute, and such a "
        "block gives the CPU the expert up/gate/down products and their element-wise ops, "
        "about 5 of a block's ~25 nodes (llama.cpp build_moe_ffn)",
    ),
    Parameter(
        "cpu_bandwidth_factor.ddr4",
        1.0,
        0.5,
        1.5,
        "decode bandwidth efficiency of DDR4 hosts relative to DDR5 hosts",
    ),
    *_per_engine(
        "step_overhead_ms",
        {
            "llama.cpp": 0.3,
            "ik_llama.cpp": 0.3,
            "exllamav2": 0.5,
            "vllm": 2.0,
            "sglang": 2.0,
            "mlx": 0.5,
            "transformers": 5.0,
        },
        0.0,
        50.0,
        "fixed time per decode step outside the layers with {engine} (sampling, scheduling, "
        "host-side work), ms",
    ),
    *_per_engine(
        "eager_layer_overhead_us",
        {"vllm": 50.0, "sglang": 50.0},
        0.0,
        2000.0,
        "extra time per layer per decode step when {engine} runs without CUDA graphs "
        "(--enforce-eager: every kernel launched from Python), µs; default from vLLM PR 1440 "
        "(Llama 2 7B, 5-token prompt, 100 tokens: 1.2 s eager vs 1.05 s with graphs, "
        "1.5 ms per step over 32 layers)",
    ),
    *_per_engine(
        "engine_bandwidth_factor",
        {"llama.cpp": 1.0, "vllm": 1.3, "sglang": 1.3},
        0.5,
        2.0,
        "share of peak memory bandwidth {engine}'s decode kernels reach relative to "
        "llama.cpp's on the same memory (capped at the peak); the per-memory-class "
        "efficiencies are fitted mostly on llama.cpp rows",
    ),
    Parameter(
        "allreduce_base_us.oneshot",
        8.5,
        1.0,
        100.0,
        "fixed time of one one-shot custom all-reduce (vLLM/SGLang custom_all_reduce: one "
        "kernel, each GPU reads its peers' buffers) before the per-peer hops, µs (SGLang PR "
        "2904, vLLM's kernel on 8 × H100 without CUDA graphs: 8.5–9.3 µs for 4 KB at 2–8 "
        "GPUs)",
    ),
    Parameter(
        "allreduce_base_us.ring",
        13.0,
        1.0,
        100.0,
        "fixed time of one NCCL ring all-reduce before its 2 × (GPUs − 1) hops, µs: small "
        "messages take ~19.5 µs on 8 × H100 NVLink (ByteDance-Seed/Triton-distributed issue "
        "57: 19.2–20.7 µs for 128 B–16 KB) and 19.4 µs for 4 KB on 4 × V100 over a PCIe "
        "switch (haohervchb/sglang-V100 PR 2), both ≈ 13 µs + the hops",
    ),
    Parameter(
        "allreduce_wait_us",
        0.0,
        0.0,
        200.0,
        "time each all-reduce costs in a running model beyond the collective itself, µs: "
        "every all-reduce is a barrier that waits for the slowest GPU's kernels; "
        "microbenchmarks of the collective alone see none of it (default 0)",
    ),
    *(
        Parameter(
            f"allreduce_hop_us.{link}",
            default,
            0.1,
            50.0,
            f"latency of one all-reduce hop between GPUs over {name}, µs (NCCL "
            "src/graph/tuning.cc hwLat, ring, LL protocol: NVLink 0.47, PCI 1.0); a hop "
            "through host memory (no peer-to-peer access) crosses PCIe twice",
        )
        for link, name, default in (
            ("nvlink", "NVLink or Infinity Fabric", 0.47),
            ("pcie", "PCIe with peer-to-peer access", 1.0),
        )
    ),
    *_per_engine(
        "sequence_overhead_us",
        {"llama.cpp": 30.0, "ik_llama.cpp": 30.0, "vllm": 30.0, "sglang": 30.0},
        0.0,
        3000.0,
        "extra time per decode step for each additional sequence batched with {engine} "
        "(per-sequence attention launches, sampling, scheduling), µs",
    ),
    Parameter(
        "decode_compute_efficiency",
        0.5,
        0.05,
        1.0,
        "share of the prefill matrix rate that batched decode's small matrix multiplies reach",
    ),
    Parameter(
        "kv_read_efficiency",
        1.0,
        0.2,
        1.0,
        "share of the decode bandwidth reached when attention reads the KV cache",
    ),
    *(
        Parameter(
            f"dequant_ops_per_weight.{kind}",
            default,
            0.0,
            100.0,
            f"FP32-equivalent operations to unpack and multiply one quantized weight in "
            f"decode on a {kind}; decode is never faster than this ALU work",
        )
        for kind, default in (("gpu", 10.0), ("unified", 30.0))
    ),
    Parameter(
        "unpack_overlap_loss",
        0.3,
        0.0,
        1.0,
        "share of the shorter of a GPU pool's weight read and its unpacking of quantized "
        "weights that does not overlap the longer in decode (0: fully hidden); it slows "
        "cards with little FP32 throughput per byte of bandwidth",
    ),
    Parameter(
        "row_split_sync_us_per_layer",
        300.0,
        0.0,
        5000.0,
        "llama.cpp row (tensor) split: synchronisation per layer per extra GPU, µs",
    ),
    Parameter(
        "prefill_quantized_factor",
        0.8,
        0.3,
        1.0,
        "GPU prefill throughput with quantized weights relative to 16-bit weights where they "
        "are dequantized to FP16 first (cuBLAS builds, Volta, P100) or the GPU's 8-bit matrix "
        "rate is not documented (gpu_arch.py)",
    ),
    Parameter(
        "prefill_int8_matrix_efficiency",
        0.5,
        0.1,
        1.0,
        "share of the 8-bit integer matrix peak (gpu_arch int8_matrix_rate × FP16) that "
        "llama.cpp's MMQ reaches on integer tensor cores, relative to the class's share of "
        "matrix peak (NVIDIA Turing and newer; default build since PR 8075): the weights "
        "are unpacked and their scales applied around the int8 products",
    ),
    Parameter(
        "prefill_int8_dot_efficiency",
        0.5,
        0.1,
        1.0,
        "share of the 8-bit dot-product peak (4 × FP32: dp4a, v_dot4) that llama.cpp's MMQ "
        "reaches, relative to the class's share of matrix peak, on GPUs without matrix "
        "units it uses (Pascal GP10x, gfx906, RDNA2; gpu_arch.py); about half, as the "
        "unpacking of the weights takes the same vector units",
    ),
    *(
        Parameter(
            f"cpu_kernel_efficiency.{kernel}",
            default,
            low,
            high,
            f"share of its int8 multiply-accumulate peak (FP32 peak × the MACs per FMA of "
            f"its instructions, cpu_kernels.int8_macs_per_fma) that {what} reaches in CPU "
            f"prompt processing (unpacking, block scales, activation quantization, loads)",
        )
        for kernel, default, low, high, what in (
            # Defaults: a register-blocked int8 GEMM spends about half its instructions
            # on the multiply-adds (llamafile tinyBLAS_Q0_AVX: sign, updot, FP32 scale
            # FMA per 32-weight block), the vec_dot routines as much again on 4-bit
            # unpacking and sub-block scales, the IQ1-IQ3 types on grid lookups.
            ("q0_gemm", 0.3, 0.05, 1.0, "llama.cpp's tiled Q4_0/Q5_0/Q8_0/IQ4_NL GEMM"),
            ("k_vec_dot", 0.3, 0.05, 1.0, "llama.cpp's K-quant and IQ4_XS vec_dot"),
            ("iq_grid", 0.1, 0.02, 1.0, "llama.cpp's IQ1-IQ3 (codebook grid) vec_dot"),
            ("iqk", 0.4, 0.05, 1.0, "ik_llama.cpp's iqk_mul_mat GEMMs (every type)"),
            ("amx", 0.04, 0.01, 1.0, "llama.cpp's AMX-INT8 tile kernels"),
        )
    ),
    *_per_engine(
        "expert_matmul_half_tokens",
        {"llama.cpp": 16.0, "ik_llama.cpp": 16.0, "vllm": 8.0, "sglang": 8.0, "mlx": 16.0},
        1.0,
        64.0,
        "tokens per expert at which a routed expert's matrix multiply with {engine} reaches "
        "half the efficiency of a dense one (each expert sees only its share of a batch); "
        "at most half the tallest tile the kernels use (128 rows: llama.cpp's CUDA MMQ, "
        "vLLM's fused-MoE blocks), since a tile that is half full runs at half speed",
    ),
    *_per_engine(
        "prefill_engine_speedup",
        {
            "ik_llama.cpp": 1.0,
            "vllm": 1.5,
            "sglang": 1.5,
            "exllamav2": 1.0,
            "mlx": 1.0,
            "transformers": 1.0,
        },
        0.2,
        5.0,
        "prefill throughput of {engine}'s kernels relative to llama.cpp's on the same device",
    ),
    *_per_engine(
        "prefill_engine_speedup_cpu",
        {"ik_llama.cpp": 2.0},
        0.3,
        6.0,
        "CPU prefill throughput of {engine}'s kernels relative to llama.cpp's on the same "
        "CPU with 16-bit weights (ik_llama.cpp: a fork 'with better CPU performance', README; "
        "its CPU flash attention and tiled fp16/bf16 GEMMs; quantized weights go through "
        "cpu_kernel_efficiency.iqk; on GPUs its CUDA kernels are mainline's, "
        "prefill_engine_speedup)",
    ),
    _prefill("gpu_nvidia", 0.45),
    _prefill("gpu_nvidia_hbm", 0.3),
    _prefill("gpu_amd", 0.3),
    _prefill("gpu_amd_hbm", 0.2),
    _prefill("gpu_intel", 0.2),
    _prefill("unified_apple", 0.5),
    _prefill("unified_amd", 0.3),
    _prefill("unified_nvidia", 0.4),
    _prefill("unified_other", 0.3),
    _prefill("cpu", 0.45),
    # Share of a device's rated power drawn at full work in each phase. A GPU's (and a
    # unified GPU's) decode draw rises with the share of its peak memory bandwidth it
    # pulls, so its decode share is the draw when streaming at full bandwidth. GPU
    # decode 0.9: the GPU-reported sweeps in measurements/power-wall-gpu.json put an
    # RTX 5060 Ti at 96 % of its 180 W pulling ~85 % of its bandwidth (llama.cpp, 7B
    # Q4_K_M), an RTX PRO 6000 at 91 % of 600 W in batched decode (vLLM) and an RTX 4090
    # at 55 % of 450 W pulling 55 % (vLLM, 4B FP8): 0.8 to 1.1 of rated power at full
    # bandwidth. Prefill and CPU shares: compute-bound prefill close to rated power; CPU
    # threads spin while they wait on memory.
    *(
        Parameter(
            f"power_fraction.{kind}.{phase}",
            default,
            0.1,
            1.0,
            f"share of a {kind}'s rated power drawn while busy with {phase}"
            + (" at its full memory bandwidth" if phase == "decode" and kind != "cpu" else ""),
        )
        for kind, phase, default in (
            ("gpu", "decode", 0.9),
            ("gpu", "prefill", 0.9),
            ("cpu", "decode", 0.75),
            ("cpu", "prefill", 0.95),
            ("unified", "decode", 0.6),
            ("unified", "prefill", 0.9),
        )
    ),
    Parameter(
        "train_mfu",
        0.35,
        0.02,
        0.9,
        "share of peak FP16 throughput a fine-tuning step reaches (model FLOPs utilisation: "
        "6 FLOPs per weight per token, 4 with frozen base weights, 2 more recomputing, plus "
        "causal attention)",
    ),
    *_per_engine(
        "train_mfu_factor",
        {name: 1.0 for name in TRAINING_NAMES},
        0.3,
        3.0,
        "{engine}'s fine-tuning compute efficiency relative to the shared train_mfu",
    ),
    *_per_engine(
        "train_logit_bytes",
        TRAIN_LOGIT_BYTES_DEFAULTS,
        0.25,
        32.0,
        "bytes per token per vocabulary entry that {engine}'s loss keeps at the peak of a "
        "fine-tuning step (bf16 logits, their fp32 copy and gradient; less when chunked)",
    ),
    Parameter(
        "train_dequant_bytes",
        16.0,
        1.0,
        64.0,
        "memory traffic per 4-bit base weight per pass (forward, backward, recompute) that "
        "expanding it to bf16 costs in QLoRA, bytes, at the device's bandwidth",
    ),
    Parameter(
        "train_layer_overhead_ms",
        2.0,
        0.05,
        30.0,
        "fixed time per transformer block per micro-batch of a fine-tuning step (kernel "
        "launches, adapter hooks), ms",
    ),
    Parameter(
        "attention_rate_share",
        0.6,
        0.1,
        2.0,
        "prompt attention's FLOP rate on a GPU or unified-memory GPU relative to the same "
        "pool's FP16 matrix rate in prefill: attention multiplies the FP16 KV cache whatever "
        "the weights' format, and fused attention kernels reach less of the peak than plain "
        "matrix products (FlashAttention-2: 50-73 % of A100's peak in the forward pass, "
        "Dao 2023, https://arxiv.org/abs/2307.08691)",
    ),
    Parameter(
        "pcie_pageable_efficiency",
        0.4,
        0.15,
        0.8,
        "share of the PCIe link's rate reached when prefill copies memory-mapped or "
        "plain-CPU-buffer (pageable) host weights to the GPU through the driver's staging "
        "buffer; half the pinned pcie_efficiency (llama.cpp PR 28223: 2x once pinned)",
    ),
    Parameter(
        "expert_copy_routed_share",
        0.65,
        0.3,
        1.0,
        "share of a layer's routed experts that a large prefill pass actually routes to "
        "(llama.cpp PR 15346's log: 72-95 of 128 experts of Qwen3-30B-A3B for 512 tokens), "
        "so the share of host-held experts an engine copying only used experts moves",
    ),
    Parameter(
        "cpu_repacked_speedup",
        1.4,
        1.0,
        2.0,
        "CPU prompt processing with row-interleaved weights (ik_llama.cpp's _R4/_R8 types, "
        "or any type repacked at load with -rtr) relative to the same kernels on the plain "
        "layout (cpu_kernels.REPACKED_TYPE, EngineProfile.cpu_weights_repacked)",
    ),
    Parameter(
        "train_activation_scale",
        1.0,
        0.3,
        4.0,
        "measured fine-tuning activation memory relative to the per-layer activation model",
    ),
)
PARAMETER_BY_NAME = {p.name: p for p in PARAMETERS}

# Parameters the data cannot pin down, kept at their documented default rather than fitted.
_COLLECTIVE_MICROBENCHMARK = (
    "a microbenchmark figure of the collective alone (see its meaning); fitting it to whole-"
    "model rows would fold their other costs into it: allreduce_wait_us carries those"
)
NOT_FITTED: dict[str, str] = {
    "allreduce_base_us.oneshot": _COLLECTIVE_MICROBENCHMARK,
    "allreduce_base_us.ring": _COLLECTIVE_MICROBENCHMARK,
    "allreduce_hop_us.nvlink": _COLLECTIVE_MICROBENCHMARK,
    "allreduce_hop_us.pcie": _COLLECTIVE_MICROBENCHMARK,
    "engine_bandwidth_factor.llama.cpp": (
        "the reference: the per-memory-class bandwidth efficiencies are llama.cpp's, other "
        "engines' factors are relative to it"
    ),
    "cpu_kernel_efficiency.amx": (
        "no row measures llama.cpp prompt processing on an AMX CPU without a GPU (the AMX "
        "Xeon rows ran ik_llama.cpp, which has no AMX kernels, its issue 437). Default: AMX "
        "prompt processing about twice the AVX-512 VNNI path's (llama.cpp PR 8998, "
        "gemma-2b Q4_0 on a Xeon with AMX: 'prompt eval time became 2x faster'), i.e. "
        "2 × 2 MACs per FMA × 0.3 ÷ 32; the tiles idle while the FP32 block scales are "
        "applied between tile multiplies (PR 7707)"
    ),
    "cpu_repacked_speedup": (
        "one like-for-like comparison, not fitted (the rows that use -rtr differ from the "
        "others in build and machine too, and a fit folds those into it): ikawrakow's "
        "DeepSeek-Lite Q8_0 on a Ryzen 7950X, the same build and day (ik_llama.cpp "
        "discussion 201), pp512 433-452 tokens/s with -rtr 0 and 607-653 with -rtr 1, "
        "1.40-1.44x; IQ4_XS_R4 gained 1.13x in its own PR 128 (254 against 224 tokens/s)"
    ),
    "numa_efficiency": (
        "no measured two-socket row states that its weights were interleaved over the "
        "nodes (the others read one node's channels); default from llama.cpp issue 11744 "
        "(dual EPYC 9175F, 16 × DDR5-6400: 70B F16 at 4.31 tokens/s with pages spread over "
        "both sockets, 74 % of the two sockets' peak)"
    ),
}

# Constants taken from public measurements rather than fitted (too little data to fit):
FIXED: dict[str, float] = {
    # Share of a drive's rated sequential read reached when memory-mapped weights are
    # faulted back in, and of PCIe bandwidth reached when copying weights to a GPU. Rows
    # with a stated drive: llama.cpp PR 711 read a whole 20 GB model per token in ~20 s
    # from a 1 GB/s NVMe (~1.0); GLM-5.1 IQ1_M on 12 GB of RAM (Hugging Face forum,
    # 2026-05-19) ~0.7 of its 650 MB/s; a 300 GB model from a <10 GB/s NVMe takes "tens
    # of seconds per token" (DESIGN). Not fitted: the only other short-of-RAM rows
    # (ik_llama.cpp discussion 399) do not name their drive.
    "storage_efficiency": 0.85,
    "pcie_efficiency": 0.8,
    # Share of a device's rated power drawn when idle with a model loaded (the busy
    # shares are fitted to measured draw: see PARAMETERS).
    "power_fraction.gpu.idle": 0.12,
    "power_fraction.cpu.idle": 0.3,
    "power_fraction.unified.idle": 0.1,
    # Motherboard, fans, drives, plus DRAM per binary GB installed; PSU efficiency.
    "platform_power_w": 40.0,
    "dram_power_w_per_gb": 0.2,
    "psu_efficiency": 0.9,
    # RAM the operating system and other programs keep, GB.
    "os_reserved_ram_gb": 3.0,
}


# 80 % bands (measured ÷ predicted) used until validation has measured its own.
DEFAULT_BANDS: dict[str, tuple[float, float]] = {
    "decode": (0.75, 1.3),
    "prefill": (0.6, 1.6),
    "batched_decode": (0.7, 1.3),
    "power": (0.75, 1.3),
    "train_tokens_per_s": (0.6, 1.6),
    "train_peak_memory": (0.75, 1.3),
    "spec_decode": (0.75, 1.3),
}


@dataclass(frozen=True)
class Constants:
    """Efficiency constants in use, plus the error bands validation measured.

    ``values`` maps each :data:`PARAMETERS` name to its value; ``fixed`` holds the
    non-fitted constants of :data:`FIXED`; ``error_bands`` maps ``decode`` and
    ``prefill`` to (low, high) multipliers of a prediction that bracket 80 % of
    leave-one-source-out outcomes.
    """

    values: dict[str, float]
    fixed: dict[str, float] = field(default_factory=lambda: dict(FIXED))
    error_bands: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_BANDS))
    fitted: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> float:
        if name in self.values:
            return self.values[name]
        if name in self.fixed:
            return self.fixed[name]
        raise KeyError(name)

    def replace(self, **values: float) -> Constants:
        """A copy with some values changed (names use dots, so pass a dict via **)."""
        merged = dict(self.values)
        merged.update(values)
        return Constants(merged, dict(self.fixed), dict(self.error_bands), self.fitted)

    def to_json(self) -> dict:
        """The JSON form written to ``constants.json``."""
        return {
            "values": {k: round(v, 6) for k, v in sorted(self.values.items())},
            "fitted": sorted(self.fitted),
            "error_bands": {
                k: [round(a, 4), round(b, 4)] for k, (a, b) in self.error_bands.items()
            },
        }


def default_constants() -> Constants:
    """Constants at their documented defaults (before any fit)."""
    return Constants({p.name: p.default for p in PARAMETERS})


def constants_from_json(data: dict) -> Constants:
    """Parse the JSON form; unknown names are ignored, missing ones take defaults, and
    every value is clipped into its bounds."""
    values = {p.name: p.default for p in PARAMETERS}
    for name, value in (data.get("values") or {}).items():
        if name in PARAMETER_BY_NAME:
            p = PARAMETER_BY_NAME[name]
            values[name] = min(max(float(value), p.low), p.high)
    bands = dict(DEFAULT_BANDS)
    for key, pair in (data.get("error_bands") or {}).items():
        bands[key] = (float(pair[0]), float(pair[1]))
    fitted = tuple(n for n in data.get("fitted", ()) if n in PARAMETER_BY_NAME)
    return Constants(values, dict(FIXED), bands, fitted)


@lru_cache(maxsize=1)
def load_constants() -> Constants:
    """The constants in ``constants.json`` (defaults if the file is missing), read once."""
    if not CONSTANTS_PATH.exists():
        return default_constants()
    with CONSTANTS_PATH.open(encoding="utf-8") as handle:
        return constants_from_json(json.load(handle))
