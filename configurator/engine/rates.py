"""Effective rates of each kind of device: the share of its peak bandwidth and compute
that inference reaches, from the calibrated constants and the device registry
(:mod:`.devices`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import devices, gpu_arch
from .calibration import Constants
from .hardware import CpuSystem, Gpu

if TYPE_CHECKING:
    from .engines import EngineProfile
    from .placement import Slot


def gpu_class(gpu: Gpu) -> str:
    """Prefill calibration class of a GPU: vendor, and whether it has HBM."""
    return devices.gpu_prefill_class(gpu)


def gpu_bandwidth_gbs(gpu: Gpu, constants: Constants, backend: str = "") -> float:
    """Bandwidth a GPU delivers to decode, GB/s."""
    return gpu.bandwidth_gbs * devices.gpu_bandwidth_efficiency(gpu, constants, backend)


def gpu_alu_tflops(gpu: Gpu) -> float:
    """Plain FP32 rate used to unpack quantized weights (half the FP16 matrix rate when
    the FP32 rate is unknown), TFLOP/s."""
    return gpu.fp32_tflops if gpu.fp32_tflops > 0 else gpu.fp16_tflops / 2


def cpu_pull_gbs(cpu: CpuSystem, constants: Constants) -> float:
    """The most bandwidth a CPU's cores can pull, GB/s: cores × per-core bandwidth, and on
    chiplet CPUs no more per core complex than its link to the I/O die carries (so a
    16-core EPYC with 16 CCDs pulls far more than a 16-core part with 2)."""
    per_core = constants["cpu_core_bandwidth_gbs"]
    ccds = devices.cpu_ccds(cpu)
    if not ccds:
        return cpu.cores * per_core
    cores_per_ccd = cpu.cores_per_socket / ccds
    per_ccd = min(cores_per_ccd * per_core, constants["cpu_ccd_bandwidth_gbs"])
    return per_ccd * ccds * cpu.sockets


def cpu_memory_factor(cpu: CpuSystem, constants: Constants) -> float:
    """Decode bandwidth efficiency of ``cpu``'s memory technology relative to DDR5
    (a ``cpu_bandwidth_factor.<type>`` constant where one exists, else 1)."""
    return constants.values.get(f"cpu_bandwidth_factor.{cpu.memory_type.lower()}", 1.0)


def cpu_bandwidth_gbs(cpu: CpuSystem, constants: Constants) -> float:
    """Bandwidth a CPU system delivers to decode, GB/s: a share of the channels' peak,
    and no more than its cores and CCDs can pull. Two or more sockets: with the weights
    interleaved over all nodes, the summed channels × ``numa_efficiency``; without
    (llama.cpp's default first-touch placement), the channels of one socket, which every
    socket's threads read (remote ones over the inter-socket link)."""
    bandwidth = cpu.bandwidth_gbs * constants["bandwidth_efficiency.cpu"]
    bandwidth *= cpu_memory_factor(cpu, constants)
    if cpu.sockets > 1:
        if cpu.numa_interleave:
            bandwidth *= constants["numa_efficiency"]
        else:
            bandwidth /= cpu.sockets
    return min(bandwidth, cpu_pull_gbs(cpu, constants))


def gpu_seconds_per_byte(gpu: Gpu, bits_per_weight: float, constants: Constants) -> float:
    """Single-stream decode time per byte of weights held on ``gpu``: the slowest of
    reading them, unpacking them, and the two FLOPs per weight of the matrix work."""
    bytes_per_weight = bits_per_weight / 8
    read = 1.0 / (gpu_bandwidth_gbs(gpu, constants) * 1e9)
    rate = max(gpu.fp16_tflops, gpu.fp32_tflops) * 1e12
    matrix = 2.0 / bytes_per_weight / (rate * constants[f"prefill_efficiency.{gpu_class(gpu)}"])
    if bits_per_weight >= 15.5:
        return max(read, matrix)
    ops = constants["dequant_ops_per_weight.gpu"]
    unpack = ops / bytes_per_weight / (gpu_alu_tflops(gpu) * 1e12)
    return max(read, unpack, matrix)


def cpu_seconds_per_byte(cpu: CpuSystem, bits_per_weight: float, constants: Constants) -> float:
    """Single-stream decode time per byte of weights held in system RAM: reading them or
    the matrix work, whichever is slower."""
    read = 1.0 / (cpu_bandwidth_gbs(cpu, constants) * 1e9)
    rate = cpu.fp32_gflops * 1e9 * constants["prefill_efficiency.cpu"]
    return max(read, 2.0 / (bits_per_weight / 8) / rate)


def slot_bandwidth_gbs(slot: Slot, constants: Constants) -> float:
    """Bandwidth a memory pool delivers to decode, GB/s."""
    if slot.kind == "cpu" and slot.cpu is not None:
        return cpu_bandwidth_gbs(slot.cpu, constants)
    if slot.kind == "unified" and slot.unified is not None:
        eff = devices.unified_bandwidth_efficiency(slot.unified, constants, slot.backend)
        return slot.bandwidth_gbs * eff
    if slot.gpu is not None:
        return slot.bandwidth_gbs * devices.gpu_bandwidth_efficiency(
            slot.gpu, constants, slot.backend
        )
    return slot.bandwidth_gbs * constants["bandwidth_efficiency.gddr6"]


def slot_bandwidth_efficiency(slot: Slot, constants: Constants) -> float:
    """Share of the pool's peak bandwidth that decode reaches."""
    return slot_bandwidth_gbs(slot, constants) / slot.bandwidth_gbs


def gpu_quantized_prefill_scale(slot: Slot, engine: EngineProfile, constants: Constants) -> float:
    """Prefill rate of quantized weights on a GPU pool relative to its 16-bit rate: set by
    the units its architecture lets llama.cpp's CUDA/HIP kernels use with the engine's
    ``quantized_gemm`` (:func:`.gpu_arch.quantized_prefill_scale`);
    ``prefill_quantized_factor`` on pools that are not discrete GPUs, with other
    kernels, or of unknown architecture."""
    factor = constants["prefill_quantized_factor"]
    if slot.gpu is None:
        return factor
    dot = constants["prefill_int8_dot_efficiency"]
    int8 = constants["prefill_int8_matrix_efficiency"]
    return gpu_arch.quantized_prefill_scale(
        slot.gpu, engine.cost_key, slot.backend, factor, dot, int8, engine.quantized_gemm
    )


def slot_flops(slot: Slot, constants: Constants) -> float:
    """Matrix FLOP/s a memory pool's processor delivers (prefill kernels of llama.cpp)."""
    scale = constants[f"prefill_efficiency.{slot.device_class}"]
    scale *= devices.backend_factor("prefill", slot.backend, constants)
    return slot.matrix_tflops * 1e12 * scale
