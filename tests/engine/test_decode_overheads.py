"""Fixed costs of a decode step: mixture-of-experts routing, per-layer kernel launches
and the per-step floor that bounds small models on fast GPUs."""

from dataclasses import replace

from configurator.engine import Gpu, Machine, Workload, estimate, load_constants
from configurator.engine.engines import engine_profile
from configurator.engine.memory import model_parts
from configurator.engine.placement import place
from configurator.engine.throughput import decode_step

from .models import BF16, Q4_K_M, QWEN3_30B_A3B, RTX_4090

# NVIDIA Tesla T4 (TechPowerUp GPU database): 16 GB GDDR6 at 320 GB/s, 65.13 TFLOPS
# FP16 tensor, 8.141 TFLOPS FP32, 70 W.
TESLA_T4 = Gpu(
    "Tesla T4",
    vram_gb=16,
    bandwidth_gbs=320,
    fp16_tflops=65.13,
    fp32_tflops=8.141,
    tdp_w=70,
    memory_type="GDDR6",
)

# A dense model with Qwen3-30B-A3B's attention and its 3.3 B active parameters: it reads
# as many weight bytes per token as the MoE model.
DENSE_3B = replace(
    QWEN3_30B_A3B,
    name="dense twin of Qwen3-30B-A3B",
    total_params_b=QWEN3_30B_A3B.active_params_b,
    experts_total=0,
    experts_per_token=0,
    moe_intermediate_size=0,
)


def _step(gpu: Gpu, model, engine: str = "llama.cpp", backend: str | None = None):
    constants = load_constants()
    profile = engine_profile(engine)
    workload = Workload(context_tokens=4096, prompt_tokens=512)
    parts = model_parts(model, Q4_K_M)
    placement = place(
        Machine(gpus=((gpu, 1),)),
        model,
        Q4_K_M,
        workload,
        profile,
        constants,
        parts=parts,
        backend=backend,
    )
    return decode_step(placement, parts, profile, constants, 512, 16.0, Q4_K_M.bits_per_weight)


def test_an_moe_model_decodes_slower_than_a_dense_one_reading_the_same_bytes():
    fast_moe, fast_dense = _step(RTX_4090, QWEN3_30B_A3B), _step(RTX_4090, DENSE_3B)
    moe_bytes = sum(s.bytes_read for s in fast_moe.slots)
    dense_bytes = sum(s.bytes_read for s in fast_dense.slots)
    assert abs(moe_bytes / dense_bytes - 1) < 0.05
    assert fast_moe.seconds > fast_dense.seconds * 1.05
    # On slow memory the routing cost is a smaller share of the step: the gap shrinks.
    slow_moe, slow_dense = _step(TESLA_T4, QWEN3_30B_A3B), _step(TESLA_T4, DENSE_3B)
    assert slow_moe.seconds > slow_dense.seconds
    assert slow_moe.seconds / slow_dense.seconds < fast_moe.seconds / fast_dense.seconds


def test_fixed_step_costs_bound_a_tiny_models_decode_on_a_fast_gpu():
    tiny = replace(DENSE_3B, name="tiny", total_params_b=0.3, active_params_b=0.3, hidden_size=1024)
    machine = Machine(gpus=((RTX_4090, 1),))
    small = estimate(machine, tiny, Q4_K_M, evidence=False)
    step = _step(RTX_4090, tiny)
    # Over half the step is fixed cost, so its tokens/s stays far below bandwidth ÷ bytes.
    assert step.overhead_s > 0.5 * step.seconds
    bytes_read = sum(s.bytes_read for s in step.slots)
    assert small.decode_tokens_per_s < 0.5 * RTX_4090.bandwidth_gbs * 1e9 / bytes_read
    assert small.decode_tokens_per_s <= 1.0 / step.overhead_s


def test_a_backend_without_graph_replay_pays_more_per_layer():
    # llama.cpp launches each kernel from the host on ROCm (hipGraph off by default).
    radeon = Gpu(
        "Radeon RX 7900 XTX",
        vram_gb=24,
        bandwidth_gbs=960,
        fp16_tflops=122.8,
        fp32_tflops=61.4,
        tdp_w=355,
        vendor="amd",
        memory_type="GDDR6",
    )
    graphed = replace(engine_profile("llama.cpp"), ungraphed_backends=frozenset())
    rocm = _step(radeon, DENSE_3B, backend="ROCm")
    constants = load_constants()
    parts = model_parts(DENSE_3B, Q4_K_M)
    placement = place(
        Machine(gpus=((radeon, 1),)),
        DENSE_3B,
        Q4_K_M,
        Workload(),
        graphed,
        constants,
        parts=parts,
        backend="ROCm",
    )
    with_graphs = decode_step(placement, parts, graphed, constants, 512, 16.0, 4.8)
    assert rocm.overhead_s > with_graphs.overhead_s


def test_unpacking_quantized_weights_costs_more_on_a_card_with_little_fp32():
    # Same memory, a quarter of the ALU rate: unpacking Q4 weights no longer hides fully
    # behind the memory stream, while 16-bit weights need no unpacking.
    quick = replace(TESLA_T4, name="T4 with 4x FP32", fp32_tflops=4 * TESLA_T4.fp32_tflops)
    assert _step(TESLA_T4, DENSE_3B).seconds > _step(quick, DENSE_3B).seconds
    constants = load_constants()
    profile = engine_profile("llama.cpp")
    times = []
    for gpu in (TESLA_T4, quick):
        parts = model_parts(DENSE_3B, BF16)
        placement = place(
            Machine(gpus=((gpu, 1),)), DENSE_3B, BF16, Workload(), profile, constants, parts=parts
        )
        times.append(decode_step(placement, parts, profile, constants, 512, 16.0, 16.0).seconds)
    assert times[0] == times[1]
