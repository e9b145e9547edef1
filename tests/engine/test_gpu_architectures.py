"""GPU architectures: which units llama.cpp's CUDA/HIP kernels multiply quantized weights
on (int8 matrix units, 4-way int8 dot products, or FP16 after dequantizing), checked
against published prompt-processing figures."""

import json
from dataclasses import replace

import pytest

from configurator.engine import Gpu, Machine, Quant, Workload, estimate, load_constants
from configurator.engine.calibration.fit import predict
from configurator.engine.calibration.loader import UNKNOWN_COMPUTE_TFLOPS, load_measurements
from configurator.engine.engines import engine_profile
from configurator.engine.gpu_arch import (
    ARCHITECTURE_PATTERNS,
    ARCHITECTURES,
    INT8_DOT_PER_FP32,
    QUANTIZED_PATHS,
    architecture_for_name,
    quantized_path,
    quantized_prefill_scale,
)

from .models import LLAMA_3_8B, Q4_K_M

# Catalogue figures (catalog/seed/parts/gpu.json, TechPowerUp GPU database).
TESLA_P100 = Gpu("Tesla P100 16GB PCIe", 16, 732.2, 19.05, 9.526, 250, memory_type="HBM2")
TESLA_T4 = Gpu("Tesla T4 16GB", 16, 320, 65.13, 8.141, 70, memory_type="GDDR6")
TESLA_P40 = Gpu("Tesla P40 24GB", 24, 347.1, 0.1837, 11.76, 250, memory_type="GDDR5")
RX_6800 = Gpu("Radeon RX 6800 16GB", 16, 512, 32.3, 16.17, 250, vendor="amd", memory_type="GDDR6")
PROMPT = Workload(prompt_tokens=512, context_tokens=1024, gen_tokens=64)


@pytest.fixture(scope="module")
def rows():
    return {row.id: row for row in load_measurements()[0]}


@pytest.mark.parametrize(
    ("name", "vendor", "arch"),
    [
        ("Tesla P100 16GB PCIe", "nvidia", "pascal_gp100"),
        ("Tesla P40 24GB", "nvidia", "pascal_gp10x"),
        ("GTX 1060 6GB", "nvidia", "pascal_gp10x"),
        ("Tesla V100 PCIe 32GB", "nvidia", "volta"),
        ("Tesla T4 16GB", "nvidia", "turing"),
        ("RTX A4000", "nvidia", "ampere_ga10x"),
        ("A100 SXM4 80GB", "nvidia", "ampere_ga100"),
        ("RTX 4000 Ada Generation", "nvidia", "ada"),
        ("L40S 48GB", "nvidia", "ada"),
        ("H100 NVL 94GB", "nvidia", "hopper"),
        ("RTX PRO 6000 Blackwell Workstation Edition 96GB", "nvidia", "blackwell_gb20x"),
        ("B200", "nvidia", "blackwell_gb100"),
        ("Radeon Instinct MI50 32GB", "amd", "vega20"),
        ("Instinct MI210 64GB", "amd", "cdna2"),
        ("Instinct MI300X 192GB (OAM)", "amd", "cdna3"),
        ("Radeon RX 6800 XT 16GB", "amd", "rdna2"),
        ("Radeon PRO W7800 32GB", "amd", "rdna3"),
        ("Radeon AI PRO R9700 32GB", "amd", "rdna4"),
        ("Arc A770 16GB", "intel", "xe_hpg"),
        ("Arc B580 12GB", "intel", "xe2"),
    ],
)
def test_the_architecture_comes_from_the_cards_name(name, vendor, arch):
    assert architecture_for_name(name, vendor).name == arch


def test_an_unknown_card_or_other_kernels_keep_the_vendor_class_behaviour():
    factor = load_constants()["prefill_quantized_factor"]
    polaris = Gpu("Radeon RX 580 8GB", 8, 256, 6.2, 6.2, vendor="amd")
    assert architecture_for_name(polaris.name, "amd") is None
    assert quantized_prefill_scale(polaris, "llama.cpp", "ROCm", factor, 0.5, 0.45) == factor
    # A GTX 10xx under Vulkan, or under another engine, runs other kernels.
    gtx = Gpu("GTX 1060 6GB", 6, 192, 0.0684, 4.375)
    assert quantized_prefill_scale(gtx, "llama.cpp", "Vulkan", factor, 0.5, 0.45) == factor
    assert quantized_prefill_scale(gtx, "vllm", "CUDA", factor, 0.5, 0.45) == factor
    # A name that contradicts the stated vendor says nothing.
    assert architecture_for_name("Radeon RX 7900 XTX", "nvidia") is None


def test_gp10x_cards_multiply_quantized_weights_with_dp4a_at_four_times_fp32():
    dot = load_constants()["prefill_int8_dot_efficiency"]
    scale = quantized_prefill_scale(TESLA_P40, "llama.cpp", "CUDA", 0.8, dot, 0.45)
    assert scale == pytest.approx(INT8_DOT_PER_FP32 * dot)
    # GP100 has no dp4a: it dequantizes and multiplies in FP16 (2 × its FP32 rate).
    assert quantized_prefill_scale(TESLA_P100, "llama.cpp", "CUDA", 0.8, dot, 0.45) == 0.8


def test_a_p100_prefills_below_a_turing_card_with_less_than_half_its_bandwidth():
    # Published: gpt-oss-20b MXFP4 pp2048, P100 1033 tokens/s, T4 1130 tokens/s
    # (llama.cpp discussion rows llamacpp-disc-*; calibration set). Decode follows
    # bandwidth, where the P100 has 2.3 times the T4's.
    p100 = estimate(Machine(gpus=((TESLA_P100, 1),)), LLAMA_3_8B, Q4_K_M, PROMPT)
    t4 = estimate(Machine(gpus=((TESLA_T4, 1),)), LLAMA_3_8B, Q4_K_M, PROMPT)
    assert p100.prefill_tokens_per_s < t4.prefill_tokens_per_s
    assert p100.decode_tokens_per_s > t4.decode_tokens_per_s


def _within_band(row, constants) -> bool:
    low, high = constants.error_bands["prefill"]
    predicted = predict(row, constants)
    return predicted * low <= row.tokens_per_s <= predicted * high


def test_a_gtx_1060s_published_pp512_is_within_the_prefill_band(rows):
    # Qwen2.5-7B Q4_K_M pp512: 436 tokens/s on a 4.4-TFLOPS GTX 1060 (kickstart-berlin
    # issue 58); at its FP32 rate alone the engine would predict about 115 tokens/s.
    row = rows["kickstart-berlin-issue-58-1"]
    assert row.machine.gpus[0].gpu.name == "GTX 1060 6GB"
    assert _within_band(row, load_constants())


def test_an_mi50s_published_pp512_is_within_the_prefill_band(rows):
    # Llama 2 7B Q4_0 pp512: 1229 tokens/s (kyuz0/mi50-gfx906-toolboxes, ROCm 6.4.4).
    row = rows["kyuz0-mi50-gfx906-toolboxes-17"]
    assert row.tokens_per_s == pytest.approx(1228.8)
    assert _within_band(row, load_constants())


def test_hopper_quantized_prefill_reaches_two_thirds_of_the_tensor_peak(rows):
    h100 = Gpu("H100 PCIe 80GB", 80, 2000, 756, 51.2, 350, memory_type="HBM2E")
    # FP16 cuBLAS (builds before PR 8075) and int8 MMQ both issue mma.sync.
    scale = quantized_prefill_scale(h100, "llama.cpp", "CUDA", 0.8, 0.5, 0.45, "cublas")
    assert scale == pytest.approx(0.8 * 2 / 3)
    scale = quantized_prefill_scale(h100, "llama.cpp", "CUDA", 0.8, 0.5, 0.45, "mmq")
    assert scale == pytest.approx(2.0 * 2 / 3 * 0.45)
    # Llama 3 8B Q4_K_M pp512: 8125 tokens/s measured (row m063).
    row = rows["m063"]
    predicted = predict(row, load_constants())
    assert 0.8 < predicted / row.tokens_per_s < 1.5


@pytest.mark.parametrize(
    ("gpu", "measured"),
    [(TESLA_P40, 894), (RX_6800, 1276)],
)
def test_published_mmq_pp512_on_dp4a_cards_is_within_the_prefill_band(rows, gpu, measured):
    # llama.cpp PR 4682 (https://github.com/ggml-org/llama.cpp/pull/4682), 7B Q8_0 pp512
    # with MMQ: P40 894 tokens/s (334 with FP16 cuBLAS, its 1/64-rate FP16), RX 6800
    # 1276 tokens/s. Not calibration rows: at the FP32 (P40) or packed-FP16 (RX 6800)
    # rate alone the engine predicts 310 and 1073 tokens/s.
    constants = load_constants()
    low, high = constants.error_bands["prefill"]
    llama_2_7b = rows["kyuz0-mi50-gfx906-toolboxes-17"].model
    workload = Workload(prompt_tokens=512, context_tokens=1024, gen_tokens=128)
    result = estimate(Machine(gpus=((gpu, 1),)), llama_2_7b, Quant.from_name("Q8_0"), workload)
    predicted = result.prefill_tokens_per_s
    assert predicted * low <= measured <= predicted * high
    assert 0.7 < predicted / measured < 1.3


def test_every_architecture_has_a_source_and_a_consistent_path():
    for arch in ARCHITECTURES.values():
        assert arch.source
        assert arch.quantized_path in (*QUANTIZED_PATHS, None)
        if arch.quantized_path == "int8_dot":
            assert arch.int8_dot
        assert 0 < arch.mma_share <= 1
    for _, key in ARCHITECTURE_PATTERNS:
        assert key in ARCHITECTURES


# NVIDIA architectures with FP16 tensor cores (Volta on): a card's matrix rate is at least
# twice its FP32 rate (GeForce with FP16 accumulate 4x, datacenter 8-16x; the GTX 16
# series, without tensor cores, runs FP16 at twice FP32 on its vector units).
TENSOR_CORE_ARCHITECTURES = {
    "volta",
    "turing",
    "ampere_ga100",
    "ampere_ga10x",
    "ada",
    "hopper",
    "blackwell_gb100",
    "blackwell_gb20x",
    "blackwell_gb10",
}


def test_tensor_core_cards_in_the_rows_carry_their_matrix_rate(rows):
    # A row that leaves FP16 null is given its FP32 rate for the matrix work: an RTX PRO
    # 6000 Blackwell prefilled at a quarter of its tensor rate in the fit, while the
    # catalogue card (503.8 TFLOPS) was estimated at the full one.
    checked = 0
    for row in rows.values():
        for group in row.machine.gpus:
            gpu = group.gpu
            arch = architecture_for_name(gpu.name, gpu.vendor)
            if arch is None or arch.name not in TENSOR_CORE_ARCHITECTURES:
                continue
            if gpu.fp32_tflops >= UNKNOWN_COMPUTE_TFLOPS:
                continue  # no compute figure at all: a decode-only row
            checked += 1
            assert gpu.fp16_tflops >= 1.9 * gpu.fp32_tflops, (row.id, gpu.name)
    assert checked >= 100


# Build history: which kernels multiplied quantized weights in prefill.


def test_the_engines_quantized_gemm_picks_the_path():
    turing = ARCHITECTURES["turing"]
    assert quantized_path(turing, "mmq") == "int8_matrix"
    assert quantized_path(turing, "cublas") == "fp16_matrix"
    assert quantized_path(turing, "mmq_dp4a") == "int8_dot"
    # Architectures that take another path keep it (PR 8075: V100 keeps FP16 cuBLAS, GP100
    # has no dp4a, GP10x has no matrix units).
    assert quantized_path(ARCHITECTURES["volta"], "mmq") == "fp16_matrix"
    assert quantized_path(ARCHITECTURES["pascal_gp100"], "mmq_dp4a") == "fp16_matrix"
    assert quantized_path(ARCHITECTURES["pascal_gp10x"], "cublas") == "int8_dot"


def test_nvidia_integer_tensor_cores_run_at_twice_the_fp16_rate():
    # Dense INT8 TOPS = 2 x dense FP16 TFLOPS (FP16 accumulate) from Turing on, each
    # architecture citing its whitepaper or datasheet.
    for name in ("turing", "ampere_ga100", "ampere_ga10x", "ada", "hopper", "blackwell_gb20x"):
        arch = ARCHITECTURES[name]
        assert arch.int8_matrix_rate == 2.0
        assert "INT8" in arch.source
    rtx_4090 = Gpu("RTX 4090 24GB", 24, 1008, 330.3, 82.58, 450, memory_type="GDDR6X")
    mmq = quantized_prefill_scale(rtx_4090, "llama.cpp", "CUDA", 0.85, 0.5, 0.45, "mmq")
    cublas = quantized_prefill_scale(rtx_4090, "llama.cpp", "CUDA", 0.85, 0.5, 0.45, "cublas")
    assert mmq == pytest.approx(2.0 * 0.45)
    assert cublas == pytest.approx(0.85)
    # Without a documented int8 rate (AMD's matrix units) MMQ keeps the FP16 factor.
    mi300x = Gpu("Instinct MI300X 192GB", 192, 5300, 1307, 163.4, 750, vendor="amd")
    assert quantized_prefill_scale(mi300x, "llama.cpp", "ROCm", 0.85, 0.5, 0.45) == 0.85


def test_one_builds_three_kernels_keep_their_published_order(rows):
    # llama.cpp PR 7676 (2024-06-08), RTX 4090, Llama 3 8B Q4_0 pp512: 6,280 t/s with MMQ
    # on dp4a, 7,776 with FP16 cuBLAS (then the default), 10,359 with int8 tensor cores.
    constants = load_constants()
    dp4a, cublas, mma = (rows[f"llamacpp-pr-7676-{n}"] for n in (4, 5, 3))
    assert [r.engine.quantized_gemm for r in (dp4a, cublas, mma)] == ["mmq_dp4a", "cublas", "mmq"]
    assert dp4a.tokens_per_s < cublas.tokens_per_s < mma.tokens_per_s
    predicted = [predict(r, constants) for r in (dp4a, cublas, mma)]
    assert predicted[0] < predicted[1] < predicted[2]
    for row, value in zip((dp4a, cublas, mma), predicted, strict=True):
        assert 0.7 < value / row.tokens_per_s < 1.3, row.id


def _row(date: str, flags: str | None = None, stated: str | None = None) -> dict:
    placement = {"gpu_layers": 99, "flags": flags}
    if stated:
        placement["quantized_gemm"] = stated
    return {
        "id": "t-1",
        "source_key": "t",
        "date": date,
        "engine": "llama.cpp",
        "backend": "CUDA",
        "metric": "prefill",
        "test": "pp512",
        "prompt_tokens": 512,
        "tokens_per_s": 1000.0,
        "model": {"name": "Llama 3 8B", "total_params_b": 8.03, "layers": 32,
                  "hidden_size": 4096, "attention_heads": 32, "kv_heads": 8,
                  "head_dim": 128, "vocab_size": 128256},
        "quant": {"name": "Q4_0", "model_size_gib": 4.33},
        "hardware": {"gpus": [{"name": "RTX 4090", "count": 1, "vram_gb": 24,
                               "bandwidth_gbs": 1008, "fp16_tflops": 165.2,
                               "fp32_tflops": 82.6}]},
        "placement": placement,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("date", "flags", "stated", "gemm"),
    [
        ("2024-05-01", None, None, "cublas"),  # before PR 8075: FP16 cuBLAS by default
        ("2024-05-01", "LLAMA_CUDA_FORCE_MMQ", None, "mmq"),
        ("2024-07-01", None, None, "mmq"),
        ("2025-03-01", "GGML_CUDA_FORCE_CUBLAS=1", None, "cublas"),
        ("2024-06-03", "LLAMA_CUDA_FORCE_MMQ", "mmq_dp4a", "mmq_dp4a"),  # the row says so
    ],
)
def test_a_rows_build_sets_its_quantized_kernels(tmp_path, date, flags, stated, gemm):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([_row(date, flags, stated)]))
    measured, skipped = load_measurements(path)
    assert not skipped
    assert measured[0].engine.quantized_gemm == gemm


def test_an_unknown_quantized_gemm_is_refused_by_name():
    with pytest.raises(ValueError, match="quantized_gemm"):
        replace(engine_profile("llama.cpp"), quantized_gemm="tensorrt")
