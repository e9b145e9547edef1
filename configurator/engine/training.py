"""Fine-tuning: memory per device and training tokens/s.

Memory follows :func:`.memory.training_memory` (frozen weights and trainable state sharded
over the devices, activations per device for its micro-batch), with the activation part
scaled by ``train_activation_scale``, fitted to measured peak memory of real runs (the
per-layer activation model leaves out allocator fragmentation and temporary buffers).
Throughput is compute bound: 6 FLOPs per parameter per token for full fine-tuning, 4 with
frozen base weights (no weight gradients), 2 more when activations are recomputed, at the
framework's measured share of peak FP16 throughput (``train_mfu.<framework>``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import memory
from .calibration import Constants
from .engines import ENGINES, TRAINING_FRAMEWORKS, training_framework
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


def _devices(machine: Machine, constants: Constants) -> tuple[list[_Device], float]:
    """The devices a fine-tuning job shards over, and the runtime overhead of each, GB."""
    if machine.gpus:
        gpus = machine.gpu_list()
        found = [
            _Device(f"GPU {i}: {g.name}", "gpu", g.capacity_bytes, g.fp16_tflops)
            for i, g in enumerate(gpus)
        ]
        return found, ENGINES["transformers"].gpu_runtime_overhead_gb
    if machine.unified is not None:
        u = machine.unified
        return [_Device(u.name, "unified", u.capacity_bytes, u.gpu_fp16_tflops)], 0.5
    cpu = machine.cpu
    assert cpu is not None
    capacity = max(cpu.capacity_bytes - constants["os_reserved_ram_gb"] * _GB, 0.0)
    return [_Device(cpu.name, "cpu", capacity, cpu.fp32_gflops / 1000)], 0.5


def training_memory(
    machine: Machine, model: ModelArch, quant: Quant, workload: Workload, constants: Constants
) -> tuple[memory.TrainingMemory, list[_Device]]:
    """Calibrated fine-tuning memory of one device, and the devices."""
    found, overhead_gb = _devices(machine, constants)
    need = memory.training_memory(model, quant, workload, len(found), overhead_gb)
    scaled = need.activations_bytes * constants["train_activation_scale"]
    return replace(need, activations_bytes=scaled), found


def training_tokens_per_s(
    model: ModelArch,
    workload: Workload,
    peak_tflops: float,
    checkpointing: bool,
    constants: Constants,
    framework: str | None = None,
) -> float:
    """Training tokens processed per second on devices of ``peak_tflops`` FP16 in total."""
    key = training_framework(framework)
    params = model.active_params_b * 1e9
    flops_per_token = (6.0 if workload.mode == "full" else 4.0) * params
    if checkpointing:
        flops_per_token += 2.0 * params
    return peak_tflops * 1e12 * constants[f"train_mfu.{key}"] / flops_per_token


def training(
    machine: Machine,
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    constants: Constants,
    framework: str | None = None,
) -> tuple[tuple[DeviceMemory, ...], bool, float, str, TrainingReport, int]:
    """(memory per device, fits, GB missing, reason, report, longest sequence)."""
    need, found = training_memory(machine, model, quant, workload, constants)
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
            activations_gb=need.activations_bytes / _GB,
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
    peak = sum(d.peak_tflops for d in found)
    tokens_per_s = training_tokens_per_s(
        model, workload, peak, need.gradient_checkpointing, constants, framework
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
    fixed = per_device - need.activations_bytes
    tokens = max(workload.context_tokens * workload.concurrent_sequences, 1)
    per_token = need.activations_bytes / tokens
    longest = (
        int(max(smallest - fixed, 0.0) / per_token / workload.concurrent_sequences)
        if per_token > 0
        else 0
    )
    return report, short <= 0, max(short, 0.0) / _GB, reason, result, longest


__all__ = ["TRAINING_FRAMEWORKS", "training", "training_memory", "training_tokens_per_s"]
