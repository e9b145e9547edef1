"""CPU prompt processing with quantized weights, as llama.cpp and ik_llama.cpp run it.

A quantized matrix multiply on a CPU quantizes the activations to 8 bits and multiplies
them against the weights' 8-bit (or unpacked 4-bit) values with integer dot products.
How fast that runs on a core is set by three things, all data here:

* the *kernel* the engine picks for the weight type (:data:`KERNELS`,
  :data:`ENGINE_KERNELS`): llama.cpp multiplies Q4_0/Q5_0/Q8_0/IQ4_NL with tiled
  GEMMs whose dot product is one ``vpdpbusd`` where the CPU has AVX-512 VNNI
  (llamafile ``sgemm.cpp`` ``tinyBLAS_Q0_AVX::updot``, 256-bit; llama.cpp PR 6280
  "Support AVX512VNNI": Q4_0, Q8_0 faster on Zen 4), but K-quants and IQ4_XS with
  one-row ``vec_dot`` routines that apply 16/32-weight sub-block scales to 16-bit
  partial sums (``ggml-cpu/arch/x86/quants.c``: ``_mm256_maddubs_epi16`` then
  ``_mm256_madd_epi16`` with the scales), so no VNNI; the IQ1-IQ3 types also look up
  every 8 weights in a codebook grid. ik_llama.cpp multiplies every type with its
  ``iqk_mul_mat`` GEMMs, 512-bit VNNI where the CPU has it (``HAVE_FANCY_SIMD``), else
  256-bit AVX2. llama.cpp's AMX kernels (``ggml-cpu/amx``, PR 8998) take Q4_0/Q4_1;
* the 8-bit multiply-accumulates per cycle of that kernel's instructions relative to
  the core's FP32 FMAs (:func:`int8_macs_per_fma`): with two vector pipes, a VNNI
  ``vpdpbusd`` does ``width/8`` MACs per instruction, the AVX2 pair ``vpmaddubsw`` +
  ``vpmaddwd`` half that, an FMA ``width/32``; a 256-bit kernel on cores whose FMA
  units are 512 bits wide (Intel Xeon Scalable, Zen 5) uses half their width; an AMX
  ``tdpbusd`` multiplies a 16×64 by a 64×16 int8 tile (16,384 MACs) every 16 cycles,
  1,024 MACs per cycle against 32 FP32 FMAs (Intel 64 and IA-32 Optimization Reference
  Manual, AMX chapter);
* the kernel's share of that peak (``cpu_kernel_efficiency.<kernel>``, calibrated):
  unpacking, scales, activation quantization and loads.

Prefill FLOP/s = FP32 peak × :func:`int8_macs_per_fma` × efficiency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import devices
from .calibration import Constants
from .engines import EngineProfile
from .hardware import CpuSystem


@dataclass(frozen=True)
class CpuKernel:
    """A family of CPU matrix-multiply kernels.

    ``vnni_bits``: vector width of its ``vpdpbusd`` dot products on CPUs with AVX-512
    VNNI (0: it has none and runs ``vpmaddubsw`` + ``vpmaddwd`` there too);
    ``avx2_bits``: width of its ``vpmaddubsw`` + ``vpmaddwd`` path; ``amx``: AMX tiles.
    """

    name: str
    vnni_bits: int
    avx2_bits: int = 256
    amx: bool = False


KERNELS: dict[str, CpuKernel] = {
    # llamafile tinyBLAS_Q0_AVX (Q8_0, Q4_0, Q5_0, IQ4_NL): 256-bit updot, vpdpbusd with
    # AVX512VNNI+VL or AVX-VNNI.
    "q0_gemm": CpuKernel("q0_gemm", vnni_bits=256),
    # ggml vec_dot_q*_K_q8_K / iq4_xs: vpmaddubsw, scales applied with vpmaddwd.
    "k_vec_dot": CpuKernel("k_vec_dot", vnni_bits=0),
    # ggml vec_dot_iq1/iq2/iq3: codebook grid lookups per 8 weights, then vpmaddubsw.
    "iq_grid": CpuKernel("iq_grid", vnni_bits=0),
    # ik_llama.cpp iqk_mul_mat: 512-bit VNNI with HAVE_FANCY_SIMD (AVX512F/VNNI/VL/BW/DQ).
    "iqk": CpuKernel("iqk", vnni_bits=512),
    # llama.cpp ggml-cpu/amx (PR 7707/8998): AMX-INT8 tiles, scales applied in FP32.
    "amx": CpuKernel("amx", vnni_bits=256, amx=True),
}

# GGUF weight types by the llama.cpp kernel family that multiplies them on x86 (first
# match wins). Types not listed (Q4_1, Q5_1, MXFP4, ternary) take DEFAULT_KERNEL: one-row
# vec_dot routines like the K-quants'.
WEIGHT_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"^IQ4_NL", "q0_gemm"),
    (r"^IQ4_XS", "k_vec_dot"),
    (r"^IQ[123]_", "iq_grid"),
    (r"^Q(4_0|5_0|8_0)", "q0_gemm"),
    (r"^Q\d_K", "k_vec_dot"),
)
DEFAULT_KERNEL = "k_vec_dot"  # the K-quants, most published GGUF files
# llama.cpp PR 8998 (merged): qtype_has_amx_kernels() returns Q4_0 and Q4_1; Q8_0, the
# K-quants and IQ4_XS are listed but commented out ("TODO: fix padding for vnni format").
AMX_WEIGHT_TYPES = re.compile(r"^Q4_[01]\b")

# Engines whose CPU kernels replace llama.cpp's for every weight type (cost_key -> kernel).
ENGINE_KERNELS: dict[str, str] = {"ik_llama.cpp": "iqk"}
# Kernels with variants for row-interleaved weights, where 4-8 rows share each activation
# load and block scale (ik_llama.cpp PR 147 and its _R4/_R8 types): a weight type stored
# that way (IQ4_XS_R8, Q8_0_R8, ...) or weights repacked at load
# (``EngineProfile.cpu_weights_repacked``) run ``cpu_repacked_speedup`` times faster.
REPACKING_KERNELS = frozenset({"iqk"})
REPACKED_TYPE = re.compile(r"_R(4|8|16)\b")

# Vector registers per FMA unit, bits, of cores whose two FMA units are 512 bits wide
# (their FP32 peak counts 64 FLOPs per cycle). First match wins; others 256. Sources:
# Intel ARK ("# of AVX-512 FMA Units": 2 on Xeon Scalable Gold 6xxx/Platinum, Xeon 6
# P-cores, Xeon W-3200, Core i9 X-series of Skylake-X and Cascade Lake-X; Intel's
# forum on Skylake-SP peaks: "all of the Gold 6000 processors have two AVX512 units");
# Xeon W-2400/W-3400 (and the W-2500/W-3500 refresh) have Sapphire Rapids' server cores
# (heise, "Sapphire Rapids für Workstations", 2023); AMD: Zen 5 server, desktop and
# Threadripper 9000 cores run AVX-512 on a full 512-bit data path, Zen 4 splits each
# 512-bit operation over 256-bit units (AMD, "Zen 5" Hot Chips 2024; chipsandcheese.com,
# "AMD's Zen 4 Part 1").
CPU_FMA_WIDTH_FACTS: tuple[tuple[str, int], ...] = (
    (r"xeon 6\d{3}e\b|xeon.*\b6\d{3}e\b", 256),
    (r"xeon 6\d{3}p\b|xeon.*\b6\d{3}p\b", 512),
    (r"xeon.*\b(platinum \d|gold 6)\d{3}", 512),
    (r"xeon w-3[2-4]\d{2}|xeon w\d-[23][45]\d{2}", 512),
    (r"core i9-(7|9|10)\d{3}x", 512),
    (r"epyc [49]\d{2}5|ryzen \d+ 9\d{2}0|threadripper.* 9\d{3}", 512),
)


def weight_kernel(engine: EngineProfile, weight_type: str, isa: str) -> CpuKernel:
    """The kernel ``engine`` multiplies ``weight_type`` weights with on a CPU whose
    integer-matrix class (for this engine) is ``isa``."""
    if engine.cost_key in ENGINE_KERNELS:
        return KERNELS[ENGINE_KERNELS[engine.cost_key]]
    name = weight_type.strip().upper()
    if isa == "amx" and AMX_WEIGHT_TYPES.match(name):
        return KERNELS["amx"]
    for pattern, family in WEIGHT_FAMILIES:
        if re.match(pattern, name):
            return KERNELS[family]
    return KERNELS[DEFAULT_KERNEL]


def fma_width_bits_for_name(name: str) -> int:
    """Width of the FP32 FMA units of a CPU named ``name``, bits
    (:data:`CPU_FMA_WIDTH_FACTS`; 256 when no fact matches)."""
    lowered = name.lower()
    for pattern, bits in CPU_FMA_WIDTH_FACTS:
        if re.search(pattern, lowered):
            return bits
    return 256


def cpu_fma_width_bits(cpu: CpuSystem) -> int:
    """Width of the CPU's FP32 FMA units, bits (:data:`CPU_FMA_WIDTH_FACTS`)."""
    return fma_width_bits_for_name(cpu.name)


def fp32_flops_per_cycle(fma_bits: int) -> int:
    """Peak FP32 FLOPs per core per cycle of two FMA units ``fma_bits`` wide: lanes × 2
    FLOPs (multiply and add) × 2 units (32 for AVX2, 64 for full-width AVX-512). The
    ``fp32_gflops`` of every CPU spec counts this, so :func:`int8_macs_per_fma` can
    relate an integer kernel's rate to it."""
    return fma_bits // 32 * 2 * 2


def int8_macs_per_fma(kernel: CpuKernel, isa: str, fma_bits: int) -> float:
    """8-bit multiply-accumulates per cycle of ``kernel``'s instructions on a core of
    class ``isa`` with ``fma_bits``-wide FMA units, per FP32 FMA per cycle of that core.
    Two vector pipes either way: ``vpdpbusd`` does width/8 MACs, ``vpmaddubsw`` +
    ``vpmaddwd`` width/16 per pipe-cycle, an FMA width/32; AMX 1,024 MACs per cycle."""
    fmas = fp32_flops_per_cycle(fma_bits) / 2
    if kernel.amx and isa == "amx":
        return 1024 / fmas
    has_vnni = isa in ("amx", "avx512_vnni")
    if has_vnni and kernel.vnni_bits:
        return 2 * min(kernel.vnni_bits, fma_bits) / 8 / fmas
    return 2 * min(kernel.avx2_bits, fma_bits) / 16 / fmas


def quantized_prefill_flops(
    cpu: CpuSystem, engine: EngineProfile, weight_type: str, constants: Constants
) -> float:
    """FLOP/s (2 per MAC) of ``engine``'s prompt processing with ``weight_type``
    weights on ``cpu``."""
    isa = devices.cpu_matrix_isa(cpu, engine.cpu_isas)
    kernel = weight_kernel(engine, weight_type, isa)
    ratio = int8_macs_per_fma(kernel, isa, cpu_fma_width_bits(cpu))
    rate = cpu.fp32_gflops * 1e9 * ratio * constants[f"cpu_kernel_efficiency.{kernel.name}"]
    if repacked(engine, weight_type, kernel):
        rate *= constants["cpu_repacked_speedup"]
    return rate


def repacked(engine: EngineProfile, weight_type: str, kernel: CpuKernel) -> bool:
    """Whether ``kernel`` multiplies row-interleaved weights: a kernel with such variants
    (:data:`REPACKING_KERNELS`) on a type stored that way or on weights the run repacked
    at load."""
    if kernel.name not in REPACKING_KERNELS:
        return False
    return engine.cpu_weights_repacked or bool(REPACKED_TYPE.search(weight_type.upper()))


def prefill_peak_factor_bound(constants: Constants) -> float:
    """The most any CPU's prompt processing reaches relative to its FP32 peak, over every
    kernel, instruction class and FMA width, 16-bit weights included (at least 1): an
    optimistic bound for the build search."""
    best = 1.0
    for kernel in KERNELS.values():
        efficiency = constants[f"cpu_kernel_efficiency.{kernel.name}"]
        if kernel.name in REPACKING_KERNELS:
            efficiency *= constants["cpu_repacked_speedup"]
        for isa in ("amx", "avx512_vnni", "avx2"):
            for bits in (256, 512):
                best = max(best, int8_macs_per_fma(kernel, isa, bits) * efficiency)
    speedups = [v for k, v in constants.values.items() if k.startswith("prefill_engine_speedup")]
    return max(best, constants["prefill_efficiency.cpu"] * max(speedups, default=1.0))
