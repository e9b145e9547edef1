"""Hardware and model descriptions used across the engine tests, from vendor spec pages
and the models' own config.json files."""

from configurator.engine import CpuSystem, Gpu, ModelArch, Quant, Storage, UnifiedMemorySystem

# tiiuae/falcon-40b config.json: 60 layers, hidden 8192, 128 heads, 8 KV heads (new
# decoder architecture), head_dim 64, vocab 65024, plain GELU MLP of 4 × hidden; the hub
# lists 41.8 B parameters (input embedding and LM head stored separately).
FALCON_40B = ModelArch(
    name="Falcon-40B",
    total_params_b=41.84,
    active_params_b=41.84,
    layers=60,
    hidden_size=8192,
    attention_heads=128,
    kv_heads=8,
    head_dim=64,
    vocab_size=65024,
    intermediate_size=32768,
    mlp_gated=False,
)

# meta-llama/Meta-Llama-3-70B config.json.
LLAMA_3_70B = ModelArch(
    name="Llama 3 70B",
    total_params_b=70.55,
    active_params_b=70.55,
    layers=80,
    hidden_size=8192,
    attention_heads=64,
    kv_heads=8,
    head_dim=128,
    vocab_size=128256,
    intermediate_size=28672,
    max_context=8192,
)

# meta-llama/Meta-Llama-3-8B config.json.
LLAMA_3_8B = ModelArch(
    name="Llama 3 8B",
    total_params_b=8.03,
    active_params_b=8.03,
    layers=32,
    hidden_size=4096,
    attention_heads=32,
    kv_heads=8,
    head_dim=128,
    vocab_size=128256,
    intermediate_size=14336,
)

# Qwen/Qwen3-30B-A3B config.json: 128 experts, 8 per token.
QWEN3_30B_A3B = ModelArch(
    name="Qwen3-30B-A3B",
    total_params_b=30.5,
    active_params_b=3.3,
    layers=48,
    hidden_size=2048,
    attention_heads=32,
    kv_heads=4,
    head_dim=128,
    vocab_size=151936,
    experts_total=128,
    experts_per_token=8,
    moe_intermediate_size=768,
)

# deepseek-ai/DeepSeek-V3 config.json: multi-head latent attention.
DEEPSEEK_V3 = ModelArch(
    name="DeepSeek-V3",
    total_params_b=671.0,
    active_params_b=37.0,
    layers=61,
    hidden_size=7168,
    attention_heads=128,
    kv_heads=128,
    head_dim=192,
    vocab_size=129280,
    experts_total=256,
    experts_per_token=8,
    shared_experts=1,
    moe_intermediate_size=2048,
    dense_layers=3,
    kv_lora_rank=512,
    qk_rope_head_dim=64,
)

BF16 = Quant.from_name("BF16")
Q4_K_M = Quant.from_name("Q4_K_M")
SIX_BPW = Quant("6 bits/weight", 6.0)

A100_80GB = Gpu(
    "A100 80GB PCIe",
    vram_gb=80,
    bandwidth_gbs=1935,
    fp16_tflops=312,
    fp32_tflops=19.5,
    tdp_w=300,
    memory_type="HBM2e",
    interconnect_bandwidth_gbs=600,
)
RTX_6000_ADA = Gpu(
    "RTX 6000 Ada",
    vram_gb=48,
    bandwidth_gbs=960,
    fp16_tflops=364.2,
    fp32_tflops=91.1,
    tdp_w=300,
    memory_type="GDDR6",
)
RTX_4090 = Gpu(
    "GeForce RTX 4090",
    vram_gb=24,
    bandwidth_gbs=1008,
    fp16_tflops=330.3,
    fp32_tflops=82.6,
    tdp_w=450,
    memory_type="GDDR6X",
)
RTX_3090 = Gpu(
    "GeForce RTX 3090",
    vram_gb=24,
    bandwidth_gbs=936,
    fp16_tflops=142.3,
    fp32_tflops=35.6,
    tdp_w=350,
    memory_type="GDDR6X",
    interconnect_bandwidth_gbs=112.5,
)

# AMD EPYC 9354: 32 cores, 12 DDR5-4800 channels per socket, 280 W.
EPYC_9354_2S = CpuSystem(
    "AMD EPYC 9354",
    sockets=2,
    cores_per_socket=32,
    memory_channels=24,
    memory_mts=4800,
    ram_gb=384,
    fp32_gflops_per_socket=3328,
    tdp_w_per_socket=280,
)
EPYC_9354_1S = CpuSystem(
    "AMD EPYC 9354",
    sockets=1,
    cores_per_socket=32,
    memory_channels=12,
    memory_mts=4800,
    ram_gb=384,
    fp32_gflops_per_socket=3328,
    tdp_w_per_socket=280,
)
# The thread's own build: 2 × EPYC 9124 (16 cores each).
EPYC_9124_2S = CpuSystem(
    "AMD EPYC 9124",
    sockets=2,
    cores_per_socket=16,
    memory_channels=24,
    memory_mts=4800,
    ram_gb=384,
    fp32_gflops_per_socket=1536,
    tdp_w_per_socket=200,
    # AMD lists 64 MB of L3: two 8-core CCDs of 32 MB (the two links cap its bandwidth).
    ccds_per_socket=2,
)
RYZEN_DESKTOP = CpuSystem(
    "Ryzen 9 7950X",
    sockets=1,
    cores_per_socket=16,
    memory_channels=2,
    memory_mts=5000,
    ram_gb=64,
    fp32_gflops_per_socket=2304,
    tdp_w_per_socket=170,
)
M2_ULTRA = UnifiedMemorySystem(
    "Mac Studio M2 Ultra 192 GB",
    memory_gb=192,
    bandwidth_gbs=800,
    gpu_fp16_tflops=27.2,
    usable_memory_fraction=0.75,
    tdp_w=295,
)
NVME_GEN4 = Storage("NVMe PCIe 4.0 (7,000 MB/s)", 7000)
