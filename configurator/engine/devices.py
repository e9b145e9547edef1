"""Vendors and memory technologies, as data: which calibrated constants describe a
device.

Decode reads memory, so its efficiency follows the memory technology (GDDR6, GDDR6X,
GDDR7, HBM, LPDDR in unified-memory machines, DDR on CPUs) times a vendor factor (the
vendor's kernels and memory controller); prefill computes, so its efficiency follows
the vendor and its class of part (datacenter HBM parts run llama.cpp's kernels at a
smaller share of their much larger peak). Every lookup of a device's constants goes
through this module; nothing else tests a vendor or a memory type.
"""

from __future__ import annotations

from dataclasses import dataclass

from .hardware import CPU_ISAS, CpuSystem, Gpu, UnifiedMemorySystem


@dataclass(frozen=True)
class Vendor:
    """A hardware vendor: the calibration classes its devices use.

    ``bandwidth_factor_key``: constant scaling its GPUs' memory efficiency (None: 1, the
    reference vendor). ``prefill_class`` / ``prefill_class_hbm``: prefill-efficiency class
    of its discrete GPUs without / with HBM. ``unified_class``: class of its
    unified-memory machines (bandwidth and prefill).
    """

    name: str
    bandwidth_factor_key: str | None
    prefill_class: str
    prefill_class_hbm: str
    unified_class: str


VENDORS: dict[str, Vendor] = {
    "nvidia": Vendor("nvidia", None, "gpu_nvidia", "gpu_nvidia_hbm", "unified_nvidia"),
    "amd": Vendor("amd", "vendor_bandwidth_factor.amd", "gpu_amd", "gpu_amd_hbm", "unified_amd"),
    "intel": Vendor(
        "intel", "vendor_bandwidth_factor.intel", "gpu_intel", "gpu_intel", "unified_other"
    ),
    "apple": Vendor("apple", None, "gpu_nvidia", "gpu_nvidia", "unified_apple"),
    "qualcomm": Vendor("qualcomm", None, "gpu_intel", "gpu_intel", "unified_other"),
}

# Memory technology -> bandwidth-efficiency class. GDDR5/5X boards behave like GDDR6.
MEMORY_CLASSES: dict[str, str] = {
    "GDDR5": "gddr6",
    "GDDR5X": "gddr6",
    "GDDR6": "gddr6",
    "GDDR6X": "gddr6x",
    "GDDR7": "gddr7",
    "HBM": "hbm",
    "HBM2": "hbm",
    "HBM2E": "hbm",
    "HBM3": "hbm",
    "HBM3E": "hbm",
}
GPU_MEMORY_CLASSES = ("gddr6", "gddr6x", "gddr7", "hbm")
DEFAULT_GPU_MEMORY_CLASS = "gddr6"

# Backends whose kernels differ enough from the vendor's own to carry their own factor.
BACKEND_FACTOR_KEYS = {"Vulkan": "vulkan"}


def gpu_memory_class(gpu: Gpu) -> str:
    """Bandwidth-efficiency class of a GPU's memory (GDDR6 when unknown)."""
    return MEMORY_CLASSES.get(gpu.memory_type.upper(), DEFAULT_GPU_MEMORY_CLASS)


def gpu_prefill_class(gpu: Gpu) -> str:
    """Prefill-efficiency class of a GPU: its vendor, and whether it has HBM."""
    vendor = VENDORS[gpu.vendor]
    return vendor.prefill_class_hbm if gpu.has_hbm else vendor.prefill_class


def unified_class(system: UnifiedMemorySystem) -> str:
    """Calibration class of a unified-memory system (bandwidth and prefill)."""
    return VENDORS[system.vendor].unified_class


def gpu_bandwidth_efficiency(gpu: Gpu, constants, backend: str = "") -> float:
    """Share of a GPU's peak bandwidth single-stream decode reaches."""
    value = constants[f"bandwidth_efficiency.{gpu_memory_class(gpu)}"]
    key = VENDORS[gpu.vendor].bandwidth_factor_key
    if key is not None:
        value *= constants[key]
    return min(value * backend_factor("bandwidth", backend, constants), 1.0)


def unified_bandwidth_efficiency(
    system: UnifiedMemorySystem, constants, backend: str = ""
) -> float:
    """Share of a unified-memory system's peak bandwidth decode reaches."""
    value = constants[f"bandwidth_efficiency.{unified_class(system)}"]
    return min(value * backend_factor("bandwidth", backend, constants), 1.0)


def backend_factor(kind: str, backend: str, constants) -> float:
    """``kind`` (bandwidth or prefill) factor of a backend relative to the vendor's own."""
    key = BACKEND_FACTOR_KEYS.get(backend)
    return constants[f"backend_{kind}_factor.{key}"] if key else 1.0


# Apple GPU generations whose shader cores issue integer and floating-point instructions
# side by side (Apple GPU family 9 onward: M3, M4, M5; Apple, "Explore GPU advancements
# in M3 and A17 Pro", WWDC 2023: FP32, FP16 and integer pipelines run in parallel).
# Unpacking a quantized weight is half integer work (shifts, masks) and half floating
# point (scale, multiply-add), so these chips unpack up to twice as fast per FLOP of
# rated FP32 throughput; M1 and M2 issue one instruction type at a time. Measured: an M2
# Max (30-core GPU) decodes a 32B Q4_K_M at 45 % of its 400 GB/s, an M3 Max (40-core)
# a 70B Q4_K_M at 82 % of the same bandwidth (calibration rows m094, m055).
APPLE_DUAL_ISSUE_GENERATIONS: frozenset[int] = frozenset({3, 4, 5})
APPLE_DUAL_ISSUE_FACTOR = 2.0


def apple_generation(name: str) -> int | None:
    """M-series generation (1 for M1, 4 for M4 Max) named in a system's name, if any."""
    import re

    match = re.search(r"\bm([1-9])\b", name.lower())
    return int(match.group(1)) if match else None


def unified_unpack_issue_factor(system: UnifiedMemorySystem) -> float:
    """How many times its rated FP32 rate a unified-memory GPU unpacks quantized weights
    at: :data:`APPLE_DUAL_ISSUE_FACTOR` on Apple generations that issue integer and
    floating-point work in parallel, else 1."""
    if system.vendor != "apple":
        return 1.0
    generation = apple_generation(system.name)
    return APPLE_DUAL_ISSUE_FACTOR if generation in APPLE_DUAL_ISSUE_GENERATIONS else 1.0


def cpu_ccds(cpu: CpuSystem) -> int | None:
    """Core complexes (CCDs) per socket, if the CPU states them."""
    return cpu.ccds_per_socket


# Core complexes per socket of chiplet CPUs the calibration rows and catalogue name.
# Derived from the L3 cache on AMD's product pages (each Zen 3/4/5 CCD carries 32 MB of
# L3: CCDs = L3 ÷ 32 MB), e.g. EPYC 9175F 512 MB -> 16 CCDs of one core each (so it
# pulls memory through 16 links, as llama.cpp issue 11744's dual-9175F run shows);
# EPYC 9355P: 8 CCDs over GMI-Wide links (chipsandcheese.com, "AMD's EPYC 9355P").
CPU_CCDS: dict[str, int] = {
    "EPYC 9124": 2,
    "EPYC 9175F": 16,
    "EPYC 9355P": 8,
    "EPYC 9355": 8,
    "EPYC 9354": 8,
    "EPYC 9374F": 8,
    "EPYC 9554": 8,
    "EPYC 9654": 12,
    "Threadripper PRO 5995WX": 8,
    "Ryzen 9 5900X": 2,
    "Ryzen 9 5950X": 2,
    "Ryzen 9 7950X": 2,
    "Ryzen 9 9950X": 2,
}


def ccds_for_cpu_name(name: str) -> int | None:
    """CCDs per socket of a CPU named ``name`` if :data:`CPU_CCDS` knows it."""
    for model, ccds in CPU_CCDS.items():
        if model.lower() in name.lower():
            return ccds
    return None


# What a GPU's name says about its vendor and memory when a row or a custom card does
# not state them (TechPowerUp GPU database; vendors' spec pages).
GPU_NAME_FACTS: tuple[tuple[str, str, str], ...] = (
    (r"\b(radeon|instinct|amd)\b|\bmi\d{2,3}", "amd", ""),
    (r"\barc\b|\bintel\b", "intel", ""),
    (r"\b(a100|a800|h100|h800|h200|gh200|b100|b200|gb200|v100|p100)\b", "nvidia", "HBM"),
    (r"\bmi\d{2,3}x?\b", "amd", "HBM"),
    (r"rtx 50\d0|rtx pro \d+ blackwell|rtx pro 6000", "nvidia", "GDDR7"),
    (r"rtx (3090|3080|3070 ti|4090d?|4080|4070)", "nvidia", "GDDR6X"),
    (
        r"rtx (3070|3060|2080|2070|2060|4060)|rtx a\d000|rtx \d000 ada"
        r"|l40|l4\b|a40|a10\b|t4\b|p40|rx \d{4}",
        "",
        "GDDR6",
    ),
)


def gpu_facts_from_name(name: str) -> tuple[str, str]:
    """(vendor, memory type) a GPU's name implies; '' where it says nothing."""
    import re

    lowered = name.lower()
    vendor = memory = ""
    for pattern, v, m in GPU_NAME_FACTS:
        if re.search(pattern, lowered):
            vendor = vendor or v
            memory = memory or m
    return vendor or "nvidia", memory


def unified_vendor_from_name(name: str) -> str:
    """Vendor of a unified-memory system from its name (Apple M-series, AMD Ryzen AI /
    Strix Halo, NVIDIA GB10 / DGX Spark, Intel, Qualcomm Snapdragon)."""
    lowered = name.lower()
    for words, vendor in (
        (("apple", "mac", " m1", " m2", " m3", " m4", " m5"), "apple"),
        (("nvidia", "gb10", "dgx spark", "jetson", "thor"), "nvidia"),
        (("amd", "ryzen", "strix", "radeon"), "amd"),
        (("snapdragon", "qualcomm"), "qualcomm"),
        (("intel", "lunar lake", "core ultra"), "intel"),
    ):
        if any(word in f" {lowered}" for word in words):
            return vendor
    return "apple"


# Integer matrix instructions of CPUs, best first. What llama.cpp's CPU backend uses for
# the 8-bit dot products of quantized prompt processing: Intel AMX tiles (AMX-INT8, its
# ``ggml-cpu/amx`` kernels for Q4_0/Q4_1/Q8_0 and K-quants, llama.cpp PR 7707/8998),
# AVX-512 VNNI (``vpdpbusd``: 64 int8 multiply-adds per instruction), AVX-512 without
# VNNI, and 256-bit AVX2 (``vpmaddubsw`` + ``vpmaddwd``), which is also the class of
# every CPU not listed (ARM NEON parts included).
CPU_ISA_CLASSES: tuple[str, ...] = CPU_ISAS
DEFAULT_CPU_ISA = "avx2"

# (regular expression on the CPU's name, its best class). First match wins. Sources:
# Intel ARK "Instruction Set Extensions" and "Intel Advanced Matrix Extensions" rows
# (4th/5th gen Xeon Scalable "Sapphire/Emerald Rapids" and Xeon W-2400/3400: AMX-INT8/
# BF16, AVX-512 VNNI; Xeon 6 P-core "Granite Rapids" 6xxxP: AMX-INT8/BF16/FP16; Xeon 6
# E-core "Sierra Forest" 6xxxE: AVX2 and AVX-VNNI only; 2nd/3rd gen Xeon Scalable
# "Cascade/Ice Lake", Xeon W-3200 and Core i9-10000 X-series "Cascade Lake-X": AVX-512
# with VNNI (Deep Learning Boost); 1st gen Xeon Scalable "Skylake-SP" x1xx and Core i9
# 7000/9000 X-series "Skylake-X": AVX-512 without VNNI; 11th gen Core "Tiger Lake":
# AVX-512 VNNI) and AMD product pages (EPYC 9004/9005/8004/4004 "Zen 4/Zen 5", Ryzen
# 7000/9000 and Threadripper 7000/9000 desktop parts: AVX-512 incl. VNNI and BF16; EPYC
# 7002/7003, Ryzen 5000 and Threadripper 3000/5000: AVX2).
CPU_ISA_FACTS: tuple[tuple[str, str], ...] = (
    (r"xeon 6\d{3}e\b|xeon.*\b6\d{3}e\b", "avx2"),
    (r"xeon 6\d{3}p\b|xeon.*\b6\d{3}p\b|xeon 6\b", "amx"),
    (r"xeon.*\b(platinum|gold|silver|bronze) \d[45]\d{2}", "amx"),
    (r"xeon w\d-[23]4\d{2}", "amx"),
    (r"xeon.*\b(platinum|gold|silver|bronze) \d[23]\d{2}", "avx512_vnni"),
    (r"xeon w-3[23]\d{2}|xeon w-2[23]\d{2}", "avx512_vnni"),
    (r"xeon.*\b(platinum|gold|silver|bronze) \d1\d{2}", "avx512"),
    (r"core i9-10\d{3}x", "avx512_vnni"),
    (r"core i9-[79]\d{3}x", "avx512"),
    (r"epyc [489]\d{3}", "avx512_vnni"),
    (r"epyc 7\d{3}", "avx2"),
    (r"threadripper.* [79]\d{3}", "avx512_vnni"),
    (r"threadripper", "avx2"),
    (r"ryzen \d+ (7\d{2}0|9\d{2}0)(x3d|x)?\b", "avx512_vnni"),
    (r"i\d-11\d{2}g\d", "avx512_vnni"),
)


def cpu_isa_for_name(name: str) -> str:
    """Best integer-matrix class (:data:`CPU_ISA_CLASSES`) of a CPU named ``name``."""
    import re

    lowered = name.lower()
    for pattern, isa in CPU_ISA_FACTS:
        if re.search(pattern, lowered):
            return isa
    return DEFAULT_CPU_ISA


def cpu_matrix_isa(cpu: CpuSystem, engine_isas: tuple[str, ...]) -> str:
    """The integer-matrix class an engine's CPU kernels use on ``cpu``: the CPU's own
    class (stated, else from its name) if the engine has kernels for it, else the next
    class down that it has (every AMX or AVX-512 CPU also runs the classes below)."""
    own = cpu.isa or cpu_isa_for_name(cpu.name)
    for isa in CPU_ISA_CLASSES[CPU_ISA_CLASSES.index(own) :]:
        if isa in engine_isas:
            return isa
    return DEFAULT_CPU_ISA


# Dense FP16/BF16 tensor-core rate with FP32 accumulation as a share of the rate with
# FP16 accumulation, which is what ``Gpu.fp16_tflops`` holds (the catalogue's GeForce
# figures and the loader's doubled GeForce rows). Mixed-precision training (PyTorch bf16
# autocast: cuBLAS accumulates in FP32) runs at the FP32-accumulate rate, which GeForce
# parts (Turing TU10x, Ampere GA10x, Ada AD10x, Blackwell GB20x consumer) run at half
# speed; datacenter and workstation parts (A100, H100, RTX A6000, RTX 6000 Ada, RTX PRO,
# Titan RTX) at full speed. NVIDIA's whitepapers, "Peak FP16 Tensor TFLOPS with FP16 /
# with FP32 Accumulate": Turing (RTX 2080 Ti 107.6 / 53.8, Titan RTX 130.5 / 130.5),
# https://images.nvidia.com/aem-dam/en-zz/Solutions/design-visualization/technologies/turing-architecture/NVIDIA-Turing-Architecture-Whitepaper.pdf;
# Ampere GA102 v2 (RTX 3090 142 / 71; RTX A6000 BF16 with FP32 accumulate 154.8, the
# same as with FP16), https://www.nvidia.com/content/PDF/nvidia-ampere-ga-102-gpu-architecture-whitepaper-v2.pdf;
# Ada v2.1 Appendix A (RTX 4090 330.3 / 165.2),
# https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf;
# RTX Blackwell (RTX 5090 419 / 209.5, as quoted in https://main-horse.github.io/posts/5090-mm-perf,
# whose torch.matmul bf16 reached 224 TFLOPS: the Blackwell GeForce cap is less certain).
# (regular expression on the lower-cased name, share); first match wins, else 1.
FP32_ACCUMULATE_SHARES: tuple[tuple[str, float], ...] = (
    (r"rtx pro|titan", 1.0),
    (r"\brtx ?(20|30|40|50)[5-9]0\b", 0.5),
)


def fp32_accumulate_share(name: str) -> float:
    """Share of a GPU's FP16-accumulate tensor rate it reaches with FP32 accumulation
    (:data:`FP32_ACCUMULATE_SHARES`): 0.5 for GeForce RTX cards, else 1."""
    import re

    lowered = name.lower()
    for pattern, share in FP32_ACCUMULATE_SHARES:
        if re.search(pattern, lowered):
            return share
    return 1.0
