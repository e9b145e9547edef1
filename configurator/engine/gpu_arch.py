"""GPU architectures as data: which units llama.cpp's CUDA/HIP kernels multiply quantized
weights on, and at what rate relative to the card's listed figures.

Prefill of quantized weights in ggml's CUDA backend (also built for AMD through HIP)
takes one of three paths, chosen per architecture in ``ggml_cuda_should_use_mmq``
(``ggml/src/ggml-cuda/mmq.cu``, https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml-cuda/mmq.cu):

- ``int8_matrix``: MMQ on integer (or WMMA/MFMA) matrix units: NVIDIA from Turing
  (``turing_mma_available``, compute capability ≥ 7.5), AMD CDNA (MFMA) and RDNA3/RDNA4
  (WMMA). Where the vendor documents the 8-bit matrix rate (``int8_matrix_rate``: twice
  the FP16 rate on every NVIDIA architecture from Turing) it runs at that rate ×
  ``prefill_int8_matrix_efficiency``; elsewhere at the FP16 rate ×
  ``prefill_quantized_factor``. MMQ became llama.cpp's default on these GPUs with PR 8075
  (2024-06-24, https://github.com/ggml-org/llama.cpp/pull/8075); before it, builds
  dequantized to FP16 and used cuBLAS (``EngineProfile.quantized_gemm`` = ``cublas``,
  the ``fp16_matrix`` path), and MMQ forced on before its tensor-core kernels (PRs
  7676, 7860, 7921, June 2024) used dp4a (``mmq_dp4a``, the ``int8_dot`` path).
- ``int8_dot``: MMQ on 4-way 8-bit dot-product instructions of the vector units
  (NVIDIA ``__dp4a`` from compute capability 6.1, ``GGML_CUDA_CC_DP4A``; AMD
  ``v_dot4_i32_i8``/``__builtin_amdgcn_sdot4`` on gfx906 and RDNA2, llama.cpp PR 8629,
  https://github.com/ggml-org/llama.cpp/pull/8629) where there are no matrix units to
  use: four multiply-adds per lane per clock, :data:`INT8_DOT_PER_FP32` times the FP32
  rate, shared with the unpacking of the weights on the same units.
- ``fp16_matrix``: dequantize to FP16 and multiply with cuBLAS/hipBLAS, where there is
  no dp4a (GP100, compute capability 6.0) or where FP16 tensor cores beat dp4a but no
  integer MMA exists (Volta: MMQ only below ``MMQ_DP4A_MAX_BATCH_SIZE`` = 64 tokens).

An architecture is inferred from the card's name (:func:`gpu_architecture`); a card no
pattern matches stays unknown and keeps the vendor-class behaviour.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .hardware import Gpu

QUANTIZED_PATHS = ("int8_matrix", "int8_dot", "fp16_matrix")

# 8-bit multiply-adds of one dp4a / v_dot4_i32_i8 per lane per clock (4 MACs = 8 ops)
# over one FP32 fused multiply-add (2 FLOPs): NVIDIA Pascal Tuning Guide 1.4.1 (GP104:
# "new 8-bit integer 4-element vector dot product (DP4A)"),
# https://docs.nvidia.com/cuda/pascal-tuning-guide/index.html; AMD's sdot4
# (``v_dot4_i32_i8``) is ggml's dp4a on gfx906/RDNA2, llama.cpp PR 8629, one instruction
# per 32-bit lane like ``__dp4a``.
INT8_DOT_PER_FP32 = 4.0

# Backends whose kernels this table describes (ggml-cuda, built for AMD through HIP),
# and the engines that run them (ik_llama.cpp forks the same CUDA kernels).
GGML_CUDA_BACKENDS = frozenset({"CUDA", "ROCm"})
GGML_ENGINES = frozenset({"llama.cpp", "ik_llama.cpp"})


@dataclass(frozen=True)
class GpuArchitecture:
    """One GPU architecture. ``int8_dot``: has a 4-way 8-bit dot-product instruction.
    ``quantized_path``: llama.cpp's path for quantized-weight prefill
    (:data:`QUANTIZED_PATHS`; None: unknown). ``mma_share``: share of the matrix peak
    the instructions llama.cpp emits can reach (Hopper: ``mma.sync`` without ``wgmma``).
    ``int8_matrix_rate``: dense 8-bit integer matrix rate over the listed FP16 figure
    (FP16 accumulate), where the vendor documents it for the units MMQ uses; None: MMQ on
    the matrix units is taken at the FP16 rate × ``prefill_quantized_factor``.
    ``source``: where the figures come from."""

    name: str
    vendor: str
    int8_dot: bool
    quantized_path: str | None
    mma_share: float = 1.0
    int8_matrix_rate: float | None = None
    source: str = ""


_MMQ = "https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml-cuda/mmq.cu"
_COMMON = "https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml-cuda/common.cuh"

# Dense INT8 tensor TOPS = 2 × dense FP16 tensor TFLOPS (FP16 accumulate) on every
# NVIDIA architecture from Turing: the vendors' whitepapers and datasheets.
_TURING_INT8 = (
    "RTX 2080 Ti FP16 (FP16 acc.) 107.6 TFLOPS, INT8 215.2 TOPS (NVIDIA Turing "
    "architecture whitepaper, appendix)"
)
_A100 = f"{_MMQ}; A100 dense FP16 312 TFLOPS, INT8 624 TOPS (NVIDIA A100 datasheet)"
_GA102 = (
    f"{_MMQ}; RTX 3090 dense FP16 (FP16 acc.) 142 TFLOPS, INT8 284 TOPS (NVIDIA Ampere "
    "GA102 whitepaper v2)"
)
_ADA = (
    f"{_MMQ}; RTX 4090 dense FP16 (FP16 acc.) 330.3 TFLOPS, INT8 660.6 TOPS (NVIDIA Ada "
    "GPU architecture whitepaper, appendix A); L40S FP16 362, INT8 733 (L40S datasheet)"
)
_GB20X = (
    f"{_MMQ}; RTX 5090 dense FP16 (FP16 acc.) 419 TFLOPS, INT8 838 TOPS (NVIDIA RTX "
    "Blackwell GPU architecture whitepaper, appendix)"
)

ARCHITECTURES: dict[str, GpuArchitecture] = {
    a.name: a
    for a in (
        GpuArchitecture(
            "pascal_gp100",
            "nvidia",
            False,
            "fp16_matrix",
            source=f"cc 6.0 < GGML_CUDA_CC_DP4A (610), no MMQ: {_COMMON}; FP16 at 2× FP32",
        ),
        GpuArchitecture(
            "pascal_gp10x",
            "nvidia",
            True,
            "int8_dot",
            source=f"cc 6.1 dp4a, FP16 at 1/64 rate, no FP16 MMA so MMQ at every batch: {_MMQ}; "
            "P40 7B Q8_0 pp512 894 t/s with MMQ, 334 with FP16 cuBLAS "
            "(https://github.com/ggml-org/llama.cpp/pull/4682)",
        ),
        GpuArchitecture(
            "volta",
            "nvidia",
            True,
            "fp16_matrix",
            source=f"cc 7.0: FP16 tensor cores, no integer MMA; MMQ only below 64 tokens: {_MMQ}",
        ),
        GpuArchitecture(
            "turing",
            "nvidia",
            True,
            "int8_matrix",
            int8_matrix_rate=2.0,
            source=f"cc 7.5 turing_mma_available: {_MMQ}; {_TURING_INT8}",
        ),
        GpuArchitecture(
            "ampere_ga100", "nvidia", True, "int8_matrix", int8_matrix_rate=2.0, source=_A100
        ),
        GpuArchitecture(
            "ampere_ga10x", "nvidia", True, "int8_matrix", int8_matrix_rate=2.0, source=_GA102
        ),
        GpuArchitecture("ada", "nvidia", True, "int8_matrix", int8_matrix_rate=2.0, source=_ADA),
        GpuArchitecture(
            "hopper",
            "nvidia",
            True,
            "int8_matrix",
            mma_share=2 / 3,
            int8_matrix_rate=2.0,
            source="stock MMQ issues Ampere-style mma.sync (a wgmma path is only an opt-in "
            "experiment, https://github.com/ggml-org/llama.cpp/pull/24777), which reaches "
            "about 2/3 of H100's tensor peak; wgmma is needed for the rest (FlashAttention-3, "
            "Shah et al. 2024, https://arxiv.org/abs/2407.08608); H100 SXM dense FP16 989.4 "
            "TFLOPS, INT8 1,978.9 TOPS (NVIDIA H100 datasheet)",
        ),
        GpuArchitecture(
            "blackwell_gb100",
            "nvidia",
            True,
            "int8_matrix",
            int8_matrix_rate=2.0,
            source=f"{_MMQ}; B200 dense FP16 2.25 PFLOPS, INT8 4.5 POPS (NVIDIA DGX B200 "
            "datasheet)",
        ),
        GpuArchitecture(
            "blackwell_gb20x", "nvidia", True, "int8_matrix", int8_matrix_rate=2.0, source=_GB20X
        ),
        GpuArchitecture("blackwell_gb10", "nvidia", True, "int8_matrix", source=_MMQ),
        GpuArchitecture(
            "vega20",
            "amd",
            True,
            "int8_dot",
            source="gfx906 sdot4 (llama.cpp PR 8629); not CDNA, so MMQ at every batch: " + _MMQ,
        ),
        GpuArchitecture("cdna1", "amd", True, "int8_matrix", source=f"MFMA MMQ: {_MMQ}"),
        GpuArchitecture("cdna2", "amd", True, "int8_matrix", source=f"MFMA MMQ: {_MMQ}"),
        GpuArchitecture("cdna3", "amd", True, "int8_matrix", source=f"MFMA MMQ: {_MMQ}"),
        GpuArchitecture(
            "rdna2",
            "amd",
            True,
            "int8_dot",
            source="gfx103x sdot4 (llama.cpp PR 8629); no WMMA, MMQ at every batch: " + _MMQ,
        ),
        GpuArchitecture(
            "rdna3",
            "amd",
            True,
            "int8_matrix",
            source="WMMA at 2× the dual-issue FP32 rate (RX 7900 XTX 122.8 FP16 / 61.4 FP32 "
            "TFLOPS, AMD); hipBLAS or WMMA MMQ: " + _MMQ,
        ),
        GpuArchitecture(
            "rdna4",
            "amd",
            True,
            "int8_matrix",
            source="WMMA (RX 9070 XT: 48.7 FP32, 97.3 vector FP16, 195 dense FP16 matrix "
            "TFLOPS, 779 INT8 TOPS sparse, https://www.purepc.pl/amd-radeon-rx-9070-xt-oraz-"
            "radeon-rx-9070-specyfikacja-cena-i-wydajnosc-kart-graficznych-rdna-4); the "
            "catalogue and the rows list the vector FP16 rate, which measured prefill "
            "follows, so no extra matrix rate is assumed: " + _MMQ,
        ),
        GpuArchitecture(
            "xe_hpg",
            "intel",
            True,
            None,
            source="Arc A-series: DP4a and XMX; SYCL's path not modelled",
        ),
        GpuArchitecture(
            "xe2", "intel", True, None, source="Arc B-series: DP4a and XMX; SYCL not modelled"
        ),
    )
}

# (regular expression on the lower-cased name, architecture). First match wins. Chips
# from vendors' product pages and TechPowerUp's GPU database.
ARCHITECTURE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bgb10\b|dgx spark", "blackwell_gb10"),
    (r"\b(b100|b200|b300|gb200|gb300)\b", "blackwell_gb100"),
    (r"rtx 50\d0|blackwell", "blackwell_gb20x"),
    (r"\b(h100|h200|h800|h20|gh200)\b", "hopper"),
    (r"rtx 40\d0|\bada\b|\bl40s?\b|\bl4\b", "ada"),
    (r"\b(a100|a800|a30)\b", "ampere_ga100"),
    (r"rtx 30\d0|rtx a\d{4}|\ba40\b|\ba10g?\b|\ba16\b|\ba2\b", "ampere_ga10x"),
    (r"rtx 20\d0|gtx 16\d0|titan rtx|quadro rtx|\bt4\b", "turing"),
    (r"\bv100|titan v\b", "volta"),
    (r"\bp100\b", "pascal_gp100"),
    (r"gtx 10[5-8]0|\bp40\b|\bp4\b|\bp6000\b|titan xp?\b", "pascal_gp10x"),
    (r"\bmi3\d{2}[a-z]?\b", "cdna3"),
    (r"\bmi2\d{2}x?\b", "cdna2"),
    (r"\bmi100\b", "cdna1"),
    (r"\bmi50\b|\bmi60\b|radeon (pro )?vii\b", "vega20"),
    (r"rx 90\d0|\br9700\b", "rdna4"),
    (r"rx 7\d00|pro w7\d00", "rdna3"),
    (r"rx 6\d00|pro w6\d00", "rdna2"),
    (r"arc (pro )?a\d{2,3}", "xe_hpg"),
    (r"arc (pro )?b\d{2,3}", "xe2"),
)


@functools.lru_cache(maxsize=1024)
def architecture_for_name(name: str, vendor: str = "") -> GpuArchitecture | None:
    """The architecture a GPU's name implies (of ``vendor`` when given), or None.

    Memoised: every estimate asks it for each GPU, and the answer depends on the two
    strings only (the table is constant)."""
    lowered = name.lower()
    for pattern, key in ARCHITECTURE_PATTERNS:
        if re.search(pattern, lowered):
            arch = ARCHITECTURES[key]
            return arch if not vendor or arch.vendor == vendor else None
    return None


def gpu_architecture(gpu: Gpu) -> GpuArchitecture | None:
    """The architecture of ``gpu``, or None when its name says nothing known."""
    return architecture_for_name(gpu.name, gpu.vendor)


def runs_ggml_cuda(engine_key: str, backend: str) -> bool:
    """Whether an engine (by cost key) computes on a GPU with ggml's CUDA/HIP kernels."""
    return engine_key in GGML_ENGINES and (not backend or backend in GGML_CUDA_BACKENDS)


def quantized_path(arch: GpuArchitecture, gemm: str = "mmq") -> str | None:
    """The path (:data:`QUANTIZED_PATHS`) quantized prefill takes on ``arch`` with an
    engine whose ``quantized_gemm`` is ``gemm``: FP16 cuBLAS (``cublas``) replaces the
    integer matrix units, MMQ without matrix-unit kernels (``mmq_dp4a``) falls back to the
    dot products; where the architecture already takes another path it keeps it (PR 8075:
    Volta keeps FP16 tensor cores, GP100 has no dp4a)."""
    path = arch.quantized_path
    if path == "int8_matrix" and gemm == "cublas":
        return "fp16_matrix"
    if path == "int8_matrix" and gemm == "mmq_dp4a" and arch.int8_dot:
        return "int8_dot"
    return path


def quantized_prefill_scale(
    gpu: Gpu,
    engine_key: str,
    backend: str,
    quantized_factor: float,
    dot_efficiency: float,
    int8_efficiency: float,
    gemm: str = "mmq",
) -> float:
    """Quantized-weight prefill rate of ``gpu`` relative to its listed peak
    (max of FP16 and FP32) times the class efficiency, on the path :func:`quantized_path`
    picks: ``int8_dot``, :data:`INT8_DOT_PER_FP32` × FP32 × ``dot_efficiency``;
    ``int8_matrix`` on an architecture whose ``int8_matrix_rate`` is documented, that
    rate × ``mma_share`` × ``int8_efficiency``; other matrix paths, ``mma_share`` ×
    ``quantized_factor`` (dequantizing costs a share of the FP16 rate);
    ``quantized_factor`` alone when the architecture or the kernels are unknown."""
    arch = gpu_architecture(gpu)
    if arch is None or arch.quantized_path is None or not runs_ggml_cuda(engine_key, backend):
        return quantized_factor
    listed = max(gpu.fp16_tflops, gpu.fp32_tflops)
    path = quantized_path(arch, gemm)
    if path == "int8_dot" and gpu.fp32_tflops > 0:
        return INT8_DOT_PER_FP32 * gpu.fp32_tflops * dot_efficiency / listed
    if path == "int8_matrix" and arch.int8_matrix_rate:
        return arch.int8_matrix_rate * arch.mma_share * int8_efficiency
    return arch.mma_share * quantized_factor
