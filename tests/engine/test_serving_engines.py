"""GPU-server engines (vLLM, SGLang): fixed cost per decode step, tensor-parallel
all-reduces over NVLink and PCIe, and decode without CUDA graphs."""

from configurator.engine import Gpu, Machine, Quant, estimate
from configurator.engine.engines import engine_profile

from .models import LLAMA_3_70B, QWEN3_30B_A3B, RTX_4090

AWQ = Quant.from_name("AWQ-4bit")

# NVIDIA H100 datasheet (SXM5): 3.35 TB/s HBM3, 989 TFLOPS dense FP16, 67 TFLOPS FP32,
# NVLink 900 GB/s bidirectional (450 GB/s each way).
H100_SXM = Gpu(
    "H100 SXM 80GB",
    vram_gb=80,
    bandwidth_gbs=3350,
    fp16_tflops=989.4,
    fp32_tflops=66.9,
    memory_type="HBM3",
    interconnect_bandwidth_gbs=450,
)


def _part_ms(result, name: str) -> float:
    return sum(ms for label, ms in result.decode_time_ms if label == name)


def test_tensor_parallel_4_over_nvlink_is_faster_than_one_gpu_but_not_4x():
    one = estimate(Machine(gpus=((H100_SXM, 1),)), LLAMA_3_70B, AWQ, engine="vllm")
    four = estimate(Machine(gpus=((H100_SXM, 4),)), LLAMA_3_70B, AWQ, engine="vllm")
    assert one.fits and four.fits and four.split == "tensor"
    # Each GPU reads a quarter of the weights, but the step's fixed cost and 160
    # all-reduces per token do not shrink (vLLM issue 16300: QwQ-32B on A100s goes
    # 36 -> 50 -> 63 tokens/s from TP 2 to 4 to 8).
    assert 1.3 * one.decode_tokens_per_s < four.decode_tokens_per_s
    assert four.decode_tokens_per_s < 4 * one.decode_tokens_per_s
    assert _part_ms(four, "GPU synchronisation") > 0


def test_all_reduce_latency_grows_by_one_hop_per_extra_gpu():
    two = estimate(Machine(gpus=((H100_SXM, 2),)), LLAMA_3_70B, AWQ, engine="vllm")
    eight = estimate(Machine(gpus=((H100_SXM, 8),)), LLAMA_3_70B, AWQ, engine="vllm")
    # vLLM's one-shot all-reduce reads each peer's buffer directly over NVSwitch: one
    # hop per extra GPU, not log2(GPUs) tree steps (SGLang PR 2904: 8.7 / 9.2 / 11.8 µs
    # for 32 KB at 2 / 4 / 8 H100s).
    sync_two = _part_ms(two, "GPU synchronisation")
    sync_eight = _part_ms(eight, "GPU synchronisation")
    assert sync_two < sync_eight < 1.2 * sync_two


def test_batch_1_decode_of_a_small_active_model_is_bound_by_the_step_cost():
    result = estimate(Machine(gpus=((RTX_4090, 1),)), QWEN3_30B_A3B, AWQ, engine="vllm")
    read_ms = sum(ms for label, ms in result.decode_time_ms if label.startswith("GPU 0"))
    # 3.3 B active parameters at 4 bits are ~2 GB a token, ~2 ms at 1 TB/s; vLLM's
    # scheduler, sampling and graph launch cost more than that (RTX 5090, Qwen3-VL-30B-A3B
    # AWQ: 241-259 tokens/s, about 4 ms a token, where reading the weights takes ~1 ms).
    assert _part_ms(result, "Fixed per-token overhead") > read_ms


def test_eager_mode_costs_vllm_time_per_layer_and_leaves_llama_cpp_alone():
    machine = Machine(gpus=((RTX_4090, 1),))
    vllm = engine_profile("vllm")
    eager = vllm.with_flags("--max-model-len 8192 --enforce-eager")
    assert eager.eager and not vllm.with_flags("--max-model-len 8192").eager
    graphs = estimate(machine, QWEN3_30B_A3B, AWQ, engine=vllm)
    no_graphs = estimate(machine, QWEN3_30B_A3B, AWQ, engine=eager)
    assert no_graphs.decode_tokens_per_s < graphs.decode_tokens_per_s
    llama = engine_profile("llama.cpp")
    assert llama.with_flags("--enforce-eager") is llama
    assert engine_profile("sglang").with_flags("--disable-cuda-graph").eager
