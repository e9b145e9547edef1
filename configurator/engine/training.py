"""Fine-tuning: memory per device and training tokens/s.

Memory follows :func:`.memory.training_memory` (frozen weights and trainable state sharded
over the devices, activations and loss logits per device for its micro-batch, as the
framework's :class:`~.engines.TrainingProfile` holds them), with the block activations
scaled by ``train_activation_scale`` and the logits at ``train_logit_bytes.<framework>``
bytes per token per vocabulary entry, both fitted to measured peak memory of real runs.

A step of one micro-batch on one device takes
- compute: tokens × FLOPs per token ÷ (peak FP16 at FP32 accumulation, half the
  FP16-accumulate peak on GeForce cards (:func:`.devices.fp32_accumulate_share`),
  × ``train_mfu`` × the
  framework's ``train_mfu_factor.<framework>``: one shared efficiency, so a framework
  without speed measurements takes the others'), with 6
  FLOPs per weight per token for full fine-tuning and 4 with frozen base weights (LoRA
  still back-propagates activation gradients through them, it skips only their weight
  gradients), 2 more when activations are recomputed, and causal attention's
  2 × context × attention width per layer for each forward pass (twice that backward);
  the input embedding is a lookup, not a matrix product;
- QLoRA dequantisation: every 4-bit base weight is expanded to bf16 in each pass
  (forward, backward, recompute), ``train_dequant_bytes`` of memory traffic per weight
  per pass at the device's bandwidth;
- fixed cost: ``train_layer_overhead_ms`` per block per micro-batch (kernel launches and
  the adapter layers' Python hooks), what makes short sequences and small batches slow.
Data-parallel devices each run their own micro-batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import devices, memory
from .calibration import Constants
from .engines import ENGINES, TRAINING_FRAMEWORKS, TRAINING_PROFILES, training_framework
from .hardware import Machine
from .model import ModelArch
from .quant import Quant
from .results import DeviceMemory, TrainingReport
from .workload import Workload

_GB = 1e9


@dataclass(frozen=True)
class _Device:
    label: str
    kind: str
    capacity_bytes: float
    peak_tflops: float
    bandwidth_gbs: float


def _devices(machine: Machine, constants: Constants) -> tuple[list[_Device], float]:
    """The devices a fine-tuning job shards over, and the runtime overhead of each, GB."""
    if machine.gpus:
        gpus = machine.gpu_list()
        found = [
            _Device(
                f"GPU {i}: {g.name}",
                "gpu",
                g.capacity_bytes,
                g.fp16_tflops * devices.fp32_accumulate_share(g.name),
                g.bandwidth_gbs,
            )
            for i, g in enumerate(gpus)
        ]
        return found, ENGINES["transformers"].gpu_runtime_overhead_gb
    if machine.unified is not None:
        u = machine.unified
        unified = _Device(u.name, "unified", u.capacity_bytes, u.gpu_fp16_tflops, u.bandwidth_gbs)
        return [unified], 0.5
    cpu = machine.cpu
    assert cpu is not None
    capacity = max(cpu.capacity_bytes - constants["os_reserved_ram_gb"] * _GB, 0.0)
    host = _Device(cpu.name, "cpu", capacity, cpu.fp32_gflops / 1000, cpu.bandwidth_gbs)
    return [host], 0.5


def training_memory(
    machine: Machine,
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    constants: Constants,
    framework: str | None = None,
) -> tuple[memory.TrainingMemory, list[_Device]]:
    """Calibrated fine-tuning memory of one device, and the devices."""
    key = training_framework(framework)
    found, overhead_gb = _devices(machine, constants)
    need = memory.training_memory(
        model,
        quant,
        workload,
        len(found),
        overhead_gb,
        TRAINING_PROFILES[key],
        constants[f"train_logit_bytes.{key}"],
    )
    scaled = need.activations_bytes * constants["train_activation_scale"]
    return replace(need, activations_bytes=scaled), found


def training_flops_per_token(model: ModelArch, workload: Workload, checkpointing: bool) -> float:
    """Matrix FLOPs of one trained token: weights (the output head included, the input
    embedding lookup not) and causal attention over the sequence (sliding-window and
    linear layers attend fewer keys: :meth:`ModelArch.prefill_attended_tokens`)."""
    passes = (6.0 if workload.mode == "full" else 4.0) + (2.0 if checkpointing else 0.0)
    lookup_b = 0.0 if model.tie_word_embeddings else model.embedding_params_b
    weights = passes * (model.active_params_b - lookup_b) * 1e9
    width = model.attention_heads * model.head_dim
    attention_passes = 3.0 + (1.0 if checkpointing else 0.0)
    attended = model.prefill_attended_tokens(0, workload.context_tokens)
    attention = attention_passes * 4.0 * attended * width * model.layers
    return weights + attention


def _dequant_s(
    model: ModelArch,
    workload: Workload,
    checkpointing: bool,
    bandwidth_gbs: float,
    constants: Constants,
) -> float:
    """Seconds one micro-batch spends expanding QLoRA's 4-bit base weights to bf16."""
    if workload.mode != "qlora" or bandwidth_gbs <= 0:
        return 0.0
    quantized = (model.total_params_b - model.embedding_params_b - model.output_params_b) * 1e9
    passes = 2.0 + (1.0 if checkpointing else 0.0)
    traffic = quantized * passes * constants["train_dequant_bytes"]
    return traffic / (bandwidth_gbs * 1e9)


def training_tokens_per_s(
    model: ModelArch,
    workload: Workload,
    devices: list[_Device],
    checkpointing: bool,
    constants: Constants,
    framework: str | None = None,
) -> float:
    """Training tokens per second of data-parallel ``devices``, each running its own
    micro-batch of ``concurrent_sequences`` × ``context_tokens`` tokens."""
    key = training_framework(framework)
    tokens = workload.context_tokens * workload.concurrent_sequences
    flops = tokens * training_flops_per_token(model, workload, checkpointing)
    overhead_s = model.layers * constants["train_layer_overhead_ms"] / 1000
    mfu = constants["train_mfu"] * constants[f"train_mfu_factor.{key}"]
    total = 0.0
    for d in devices:
        compute_s = flops / (d.peak_tflops * 1e12 * mfu)
        dequant_s = _dequant_s(model, workload, checkpointing, d.bandwidth_gbs, constants)
        total += tokens / (compute_s + dequant_s + overhead_s)
    return total


def training(
    machine: Machine,
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    constants: Constants,
    framework: str | None = None,
) -> tuple[tuple[DeviceMemory, ...], bool, float, str, TrainingReport, int]:
    """(memory per device, fits, GB missing, reason, report, longest sequence)."""
    need, found = training_memory(machine, model, quant, workload, constants, framework)
    n = len(found)
    per_device = need.per_gpu_bytes
    report = tuple(
        DeviceMemory(
            device=d.label,
            kind=d.kind,
            layers=model.layers / n,
            weights_gb=need.frozen_weights_bytes / n / _GB,
            kv_cache_gb=0.0,
            overhead_gb=need.overhead_bytes / _GB,
            total_gb=per_device / _GB,
            capacity_gb=d.capacity_bytes / _GB,
            headroom_gb=(d.capacity_bytes - per_device) / _GB,
            activations_gb=(need.activations_bytes + need.logits_bytes) / _GB,
            optimizer_gb=need.trainable_state_bytes / n / _GB,
        )
        for d in found
    )
    short = max(per_device - d.capacity_bytes for d in found)
    reason = ""
    if short > 0:
        reason = (
            f"Does not fit: {workload.mode} fine-tuning needs {per_device / _GB:.1f} GB on each "
            f"of {n} device(s), {short / _GB:.1f} GB more than the smallest holds."
        )
    tokens_per_s = training_tokens_per_s(
        model, workload, found, need.gradient_checkpointing, constants, framework
    )
    result = TrainingReport(
        mode=workload.mode,
        trainable_params_b=need.trainable_params_b,
        per_gpu_gb=per_device / _GB,
        gpus=n,
        gradient_checkpointing=need.gradient_checkpointing,
        tokens_per_s=tokens_per_s,
    )
    smallest = min(d.capacity_bytes for d in found)
    grows = need.activations_bytes + need.logits_bytes
    fixed = per_device - grows
    tokens = max(workload.context_tokens * workload.concurrent_sequences, 1)
    per_token = grows / tokens
    longest = (
        int(max(smallest - fixed, 0.0) / per_token / workload.concurrent_sequences)
        if per_token > 0
        else 0
    )
    return report, short <= 0, max(short, 0.0) / _GB, reason, result, longest


__all__ = ["TRAINING_FRAMEWORKS", "training", "training_memory", "training_tokens_per_s"]
