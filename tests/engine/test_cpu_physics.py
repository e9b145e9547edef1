"""CPU servers: integer-matrix instructions in prompt processing, thread barriers per
layer, and hosts short of RAM streaming memory-mapped weights from the drive."""

from dataclasses import replace

import pytest

from configurator.engine import Machine, Quant, Workload, estimate, load_constants
from configurator.engine.calibration.loader import load_raw_rows
from configurator.engine.cpu_kernels import (
    KERNELS,
    cpu_fma_width_bits,
    fma_width_bits_for_name,
    fp32_flops_per_cycle,
    int8_macs_per_fma,
    weight_kernel,
)
from configurator.engine.devices import cpu_isa_for_name, cpu_matrix_isa
from configurator.engine.engines import engine_profile
from configurator.engine.hardware import CpuSystem, Storage
from configurator.engine.memory import weights_bytes
from configurator.engine.throughput import cpu_layer_overhead_s

from .models import LLAMA_3_8B, LLAMA_3_70B, Q4_K_M, QWEN3_30B_A3B

# One 56-core socket, 8 × DDR5-4800; identical but for the cores' integer-matrix units.
SERVER = CpuSystem(
    "server CPU",
    sockets=1,
    cores_per_socket=56,
    memory_channels=8,
    memory_mts=4800,
    ram_gb=512,
    fp32_gflops_per_socket=56 * 2.0 * 64,
)
PROMPT = Workload(prompt_tokens=512, context_tokens=1024, gen_tokens=64)
Q4_0 = Quant.from_name("Q4_0")


# FP32 FLOPs per cycle per core: two 512-bit FMA units (Xeon Scalable) or two 256-bit
# ones (Zen 3 and Zen 4, which splits AVX-512 over 256-bit units).
AVX512_FLOPS, AVX2_FLOPS = 64, 32
CLOCK_GHZ = 2.0


def _prefill(cpu: CpuSystem, engine: str = "llama.cpp", quant: Quant = Q4_K_M) -> float:
    return estimate(Machine(cpu=cpu), LLAMA_3_8B, quant, PROMPT, engine).prefill_tokens_per_s


def _at_clock(name: str, flops_per_cycle: int) -> CpuSystem:
    """SERVER under another name, 56 cores at CLOCK_GHZ with ``flops_per_cycle``."""
    gflops = 56 * CLOCK_GHZ * flops_per_cycle
    return replace(SERVER, name=name, fp32_gflops_per_socket=gflops)


def test_vnni_does_at_least_avx2s_int8_work_per_core_per_clock():
    # vpdpbusd: width/8 multiply-accumulates per instruction; vpmaddubsw + vpmaddwd: half.
    for kernel in KERNELS.values():
        for bits in (256, 512):
            vnni = int8_macs_per_fma(kernel, "avx512_vnni", bits)
            assert vnni >= int8_macs_per_fma(kernel, "avx2", bits)
            assert int8_macs_per_fma(kernel, "amx", bits) >= vnni
    q0 = KERNELS["q0_gemm"]
    assert int8_macs_per_fma(q0, "avx512_vnni", 256) == 2 * int8_macs_per_fma(q0, "avx2", 256)
    # AMX: a 16x64 by 64x16 int8 tile product every 16 cycles against 2 x 16 FP32 FMAs.
    assert int8_macs_per_fma(KERNELS["amx"], "amx", 512) == pytest.approx(1024 / 32)


def test_vnni_speeds_up_q4_0_but_not_k_quants_at_equal_cores_and_clock():
    zen4 = _at_clock("AMD EPYC 9654", AVX2_FLOPS)  # AVX-512 VNNI on 256-bit units
    zen3 = _at_clock("AMD EPYC 7763", AVX2_FLOPS)  # AVX2
    assert _prefill(zen4, quant=Q4_0) == pytest.approx(2 * _prefill(zen3, quant=Q4_0), rel=0.02)
    # llama.cpp's K-quant vec_dot applies sub-block scales to 16-bit sums: no VNNI.
    assert _prefill(zen4) == pytest.approx(_prefill(zen3), rel=0.02)
    # AMX tiles (llama.cpp's Q4_0 kernels) outrun the same Xeon's VNNI dot products.
    xeon = _at_clock("Intel Xeon Platinum 8480+", AVX512_FLOPS)
    assert _prefill(xeon, quant=Q4_0) > _prefill(replace(xeon, isa="avx512_vnni"), quant=Q4_0)
    # Decode reads the same bytes from the same channels whatever the ISA.
    decode = {
        isa: estimate(
            Machine(cpu=replace(SERVER, isa=isa)), LLAMA_3_8B, Q4_K_M, PROMPT
        ).decode_tokens_per_s
        for isa in ("amx", "avx2")
    }
    assert decode["amx"] == pytest.approx(decode["avx2"], rel=1e-6)


def test_q4_0_prefills_faster_than_q4_k_m_on_a_vnni_cpu():
    assert _prefill(RYZEN_7950X, quant=Q4_0) > 1.3 * _prefill(RYZEN_7950X)


# llama.cpp b4384 on a Ryzen 9 7950X (16 cores x 4.5 GHz x 32 FLOP/cycle), Llama 3.1 8B,
# pp512 (ik_llama.cpp discussion 164, https://github.com/ikawrakow/ik_llama.cpp/discussions/164;
# IQ3_S: llama.cpp 5635 in ik_llama.cpp PR 518, https://github.com/ikawrakow/ik_llama.cpp/pull/518).
RYZEN_7950X = CpuSystem(
    "AMD Ryzen 9 7950X",
    sockets=1,
    cores_per_socket=16,
    memory_channels=2,
    memory_mts=5200,
    ram_gb=64,
    fp32_gflops_per_socket=2304,
)


@pytest.mark.parametrize(
    ("quant", "measured"),
    [("Q4_0", 153.52), ("Q8_0", 147.92), ("Q4_K_S", 108.40), ("Q6_K", 82.56), ("IQ3_S", 28.04)],
)
def test_published_7950x_prefill_by_weight_type(quant, measured):
    predicted = _prefill(RYZEN_7950X, quant=Quant.from_name(quant))
    # One rate per ISA missed these by x0.58 (Q4_0) to x3.2 (IQ3_S).
    assert 0.7 * measured < predicted < 1.4 * measured


def _ik_prefill(quant: str, flags: str = "", stored_as: str = "") -> float:
    engine = engine_profile("ik_llama.cpp").with_flags(flags)
    weights = Quant.from_name(quant)
    weights = replace(weights, name=stored_as) if stored_as else weights
    result = estimate(Machine(cpu=RYZEN_7950X), LLAMA_3_8B, weights, PROMPT, engine)
    return result.prefill_tokens_per_s


def test_repacked_weights_prefill_faster_on_the_cpu_as_published():
    # ikawrakow, ik_llama.cpp discussion 201 (Ryzen 7950X, DeepSeek-Lite Q8_0, one build):
    # pp512 433-452 tokens/s with -rtr 0, 607-653 with -rtr 1.
    plain, repacked = _ik_prefill("Q8_0", "-t 16 -rtr 0"), _ik_prefill("Q8_0", "-t 16 -rtr 1")
    assert 607 / 452 <= repacked / plain <= 653 / 433
    assert _ik_prefill("Q8_0", "-rtr") == pytest.approx(repacked)
    assert _ik_prefill("Q8_0") == pytest.approx(plain)
    # A type stored interleaved (IQ4_XS_R4, ik_llama.cpp PR 128) is repacked already.
    assert _ik_prefill("IQ4_XS", stored_as="IQ4_XS_R4") > 1.3 * _ik_prefill("IQ4_XS")
    # llama.cpp has no such flag: its kernels and speed stay as they are.
    llama = engine_profile("llama.cpp")
    assert llama.with_flags("-rtr") == llama


def test_an_engine_without_amx_kernels_uses_the_cpus_vnni_dot_products():
    amx_cpu = replace(SERVER, isa="amx")
    assert cpu_matrix_isa(amx_cpu, engine_profile("llama.cpp").cpu_isas) == "amx"
    assert cpu_matrix_isa(amx_cpu, engine_profile("ik_llama.cpp").cpu_isas) == "avx512_vnni"
    ik_amx = _prefill(amx_cpu, "ik_llama.cpp")
    ik_vnni = _prefill(replace(SERVER, isa="avx512_vnni"), "ik_llama.cpp")
    assert ik_amx == pytest.approx(ik_vnni, rel=1e-6)


@pytest.mark.parametrize(
    ("name", "isa"),
    [
        ("Intel Xeon Platinum 8480+", "amx"),  # Sapphire Rapids
        ("Intel Xeon Platinum 8592+", "amx"),  # Emerald Rapids
        ("Intel Xeon 6980P", "amx"),  # Granite Rapids
        ("Intel Xeon 6780E", "avx2"),  # Sierra Forest: E-cores, no AVX-512
        ("Intel Xeon Gold 6226R", "avx512_vnni"),  # Cascade Lake
        ("Intel Core i9-10900X", "avx512_vnni"),  # Cascade Lake-X: DL Boost
        ("Intel Core i9-7900X", "avx512"),  # Skylake-X
        ("Intel Xeon Gold 6138", "avx512"),  # Skylake-SP
        ("AMD EPYC 9654", "avx512_vnni"),  # Genoa
        ("AMD EPYC 9965", "avx512_vnni"),  # Turin
        ("AMD EPYC 7763", "avx2"),  # Milan
        ("AMD Ryzen 9 5950X", "avx2"),
        ("AMD Ryzen 9 9950X", "avx512_vnni"),
    ],
)
def test_cpu_isa_follows_the_vendors_product_pages(name, isa):
    assert cpu_isa_for_name(name) == isa


def test_per_layer_cpu_cost_grows_with_threads_and_sockets():
    constants = load_constants()
    few = cpu_layer_overhead_s(replace(SERVER, cores_per_socket=8), constants)
    many = cpu_layer_overhead_s(SERVER, constants)
    two = cpu_layer_overhead_s(replace(SERVER, sockets=2, memory_channels=16), constants)
    assert few <= many <= two
    assert few < two


def _short_of_ram(model, ram_gb: float, drive_mbs: float = 3000.0) -> tuple[float, float]:
    """(decode tokens/s, weight bytes) of ``model`` at Q4_K_M on SERVER with ``ram_gb``."""
    cpu = replace(SERVER, ram_gb=ram_gb)
    machine = Machine(cpu=cpu, storage=Storage("NVMe", drive_mbs))
    result = estimate(machine, model, Q4_K_M, Workload(prompt_tokens=64, context_tokens=256))
    return result.decode_tokens_per_s, weights_bytes(model, Q4_K_M)


def test_a_dense_model_twice_the_ram_decodes_at_drive_speed():
    size = weights_bytes(LLAMA_3_70B, Q4_K_M)
    ram_gb = size / 2 / 2**30
    tokens_per_s, _ = _short_of_ram(LLAMA_3_70B, ram_gb)
    drive = 3000e6 * load_constants()["storage_efficiency"]
    # Reading every weight in order evicts the pages needed next: the whole model comes
    # from the drive for every token (llama.cpp PR 711), not only the half that is missing.
    assert tokens_per_s == pytest.approx(drive / size, rel=0.25)
    fits, _ = _short_of_ram(LLAMA_3_70B, 512)
    assert tokens_per_s < fits / 10


def test_a_moe_model_short_of_ram_misses_only_on_the_experts_it_routes_to():
    # Same shortfall share: the MoE model's token touches few experts, most of them cached.
    size = weights_bytes(QWEN3_30B_A3B, Q4_K_M)
    moe, _ = _short_of_ram(QWEN3_30B_A3B, size * 0.75 / 2**30 + 3.0)
    drive_bound = 3000e6 * load_constants()["storage_efficiency"] / size
    assert moe > 3 * drive_bound


@pytest.mark.parametrize(
    ("engine", "weight_type", "isa", "kernel"),
    [
        ("llama.cpp", "Q4_0", "avx512_vnni", "q0_gemm"),
        ("llama.cpp", "Q8_0 (unsloth)", "avx2", "q0_gemm"),
        ("llama.cpp", "IQ4_NL", "avx2", "q0_gemm"),
        ("llama.cpp", "Q4_K_M", "avx512_vnni", "k_vec_dot"),
        ("llama.cpp", "IQ4_XS", "avx2", "k_vec_dot"),
        ("llama.cpp", "IQ3_S", "avx2", "iq_grid"),
        ("llama.cpp", "IQ1_M", "amx", "iq_grid"),
        ("llama.cpp", "Q4_0", "amx", "amx"),
        ("llama.cpp", "Q4_K_M", "amx", "k_vec_dot"),  # PR 8998: AMX for Q4_0/Q4_1 only
        ("ik_llama.cpp", "Q6_K", "avx512_vnni", "iqk"),
    ],
)
def test_each_weight_type_goes_through_its_engines_kernel(engine, weight_type, isa, kernel):
    assert weight_kernel(engine_profile(engine), weight_type, isa).name == kernel


@pytest.mark.parametrize(
    ("name", "bits"),
    [
        ("Intel Xeon Gold 6138", 512),  # Skylake-SP, two AVX-512 FMA units
        ("Intel Xeon 6980P", 512),
        ("AMD EPYC 9654", 256),  # Zen 4 splits AVX-512 over 256-bit units
        ("AMD EPYC 9175F", 512),  # Zen 5
        ("AMD Ryzen 9 7950X", 256),
        ("AMD Ryzen 9 9950X", 512),
        ("Intel Core i9-9900", 256),
        ("Intel Core i9-10900X", 512),  # Cascade Lake-X, two AVX-512 FMA units
        ("Intel Xeon w5-2455X", 512),  # Sapphire Rapids cores
        ("AMD Ryzen Threadripper 9970X", 512),  # Zen 5
        ("AMD Ryzen Threadripper PRO 7985WX", 256),  # Zen 4
    ],
)
def test_fma_width_follows_the_core_design(name, bits):
    assert cpu_fma_width_bits(replace(SERVER, name=name)) == bits


# CPUs of calibration rows older than AVX2 (fewer FP32 FLOPs per cycle than two FMA units).
PRE_AVX2 = {"Intel Core 2 Quad Q8400 (Dell OptiPlex 780)": 8}


def _row_cpus() -> dict[str, tuple[float, int]]:
    cpus = {}
    for row in load_raw_rows():
        cpu = (row.get("hardware") or {}).get("cpu") or {}
        if cpu.get("fp32_gflops") and cpu.get("cores"):
            cpus[cpu["name"]] = (float(cpu["fp32_gflops"]), int(cpu["cores"]))
    return cpus


ROW_CPUS = _row_cpus()


@pytest.mark.parametrize("name", sorted(ROW_CPUS))
def test_a_calibration_rows_fp32_peak_implies_a_real_clock(name):
    # fp32_gflops ÷ cores ÷ the FLOPs per cycle the engine assumes for the core (its FMA
    # width) is a clock: a Xeon Gold 6138 listed at 32 FLOPs per cycle (its FP64 rate)
    # gave 1.0 GHz and halved every kernel rate the fit saw for it.
    gflops, cores = ROW_CPUS[name]
    per_cycle = PRE_AVX2.get(name) or fp32_flops_per_cycle(fma_width_bits_for_name(name))
    assert 1.5 <= gflops / cores / per_cycle <= 5.8


def test_every_fp32_peak_of_the_rows_is_checked():
    assert len(ROW_CPUS) >= 20
