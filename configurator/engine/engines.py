"""Inference engines and their backends, as data.

An :class:`EngineProfile` says everything the estimator needs to know about an engine:
the weight formats it loads, the hardware it runs on (through its :class:`Backend`\\ s),
how it splits a model over GPUs and the limits of each split, which calibrated constants
hold its fixed costs per step and per layer, how its prefill and mixture-of-experts
kernels behave, whether it batches continuously, offloads experts to system RAM and
speculates. The rest of the engine reads these fields; nothing else names an engine or
a vendor. Adding an engine is adding a record here (and measurements for its constants).

Sources for the capabilities recorded below: the engines' own documentation —
llama.cpp build docs (CUDA, HIP/ROCm, Vulkan, Metal, SYCL, CPU backends;
``--split-mode layer|row``; ``-ot exps=CPU`` / ``--n-cpu-moe``; ``--model-draft``),
ik_llama.cpp README (fork of llama.cpp with its own CPU and CUDA kernels), vLLM docs
(supported hardware: CUDA incl. DGX Spark / GB10, ROCm; ``--tensor-parallel-size`` must
divide the attention heads; speculative decoding with draft models, EAGLE, MTP, n-gram),
SGLang docs (CUDA incl. DGX Spark, ROCm; EAGLE/MTP speculative decoding), ExLlamaV2/V3
READMEs (CUDA and ROCm; EXL2/EXL3; tensor parallel in V3), MLX-LM (Apple silicon only),
Hugging Face Transformers/PEFT (``device_map="auto"`` layer split). Hybrid prefill:
ggml's CUDA backend offloads a matrix multiply on host-resident weights from a batch of
32 (``ggml_backend_cuda_device_offload_op``, ``min_batch_size = 32``; llama.cpp PR 13386
adds ``--no-op-offload``); ik_llama.cpp PR 520 (https://github.com/ikawrakow/ik_llama.cpp/pull/520)
offloads MoE matrix multiplies only from ``experts_total ÷ experts_per_token × 32`` tokens.
GPU graphs: llama.cpp's CUDA backend captures each decode step as a CUDA graph and
replays it (PR 6766, https://github.com/ggml-org/llama.cpp/pull/6766, on by default since
April 2024); its HIP build gained hipGraph support off by default (PR 11362,
https://github.com/ggml-org/llama.cpp/pull/11362: "no decrease in overhead" at the time)
and turned it on only in April 2026 (PR 22254,
https://github.com/ggml-org/llama.cpp/pull/22254: 1-11 % faster token generation), so the
ROCm measurements here were taken launching every kernel from the host.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import checks


@dataclass(frozen=True)
class Backend:
    """A compute backend: the GPU and unified-memory vendors it drives, and whether it
    computes on the host CPU."""

    name: str
    gpu_vendors: frozenset[str]
    unified_vendors: frozenset[str]
    cpu: bool = False
    description: str = ""


BACKENDS: dict[str, Backend] = {
    "CUDA": Backend("CUDA", frozenset({"nvidia"}), frozenset({"nvidia"}), False, "NVIDIA"),
    "ROCm": Backend("ROCm", frozenset({"amd"}), frozenset({"amd"}), False, "AMD HIP"),
    "Vulkan": Backend(
        "Vulkan",
        frozenset({"nvidia", "amd", "intel"}),
        frozenset({"amd", "intel", "nvidia", "qualcomm"}),
        False,
        "any vendor's GPU through Vulkan compute",
    ),
    "Metal": Backend("Metal", frozenset(), frozenset({"apple"}), False, "Apple GPUs"),
    "SYCL": Backend("SYCL", frozenset({"intel"}), frozenset({"intel"}), False, "Intel oneAPI"),
    "MLX": Backend("MLX", frozenset(), frozenset({"apple"}), False, "Apple MLX"),
    "CPU": Backend("CPU", frozenset(), frozenset(), True, "host CPU"),
}


# Ways a GPU engine multiplies quantized weights during prefill (EngineProfile.quantized_gemm).
QUANTIZED_GEMMS = ("mmq", "cublas", "mmq_dp4a")


@dataclass(frozen=True)
class EngineProfile:
    """How an inference engine places and runs a model.

    ``formats``: quant families it loads (``native`` weights and a format-less quant are
    always accepted). ``backends``: the backends it can use, in order of preference for a
    vendor both support; the GPU and unified vendors it runs on follow from them.
    ``splits``: multi-GPU modes, ``layer`` (pipeline: each GPU holds whole layers) and/or
    ``tensor`` (every layer sharded over all GPUs). ``tensor_sync``: how a tensor split
    synchronises, ``allreduce`` (two all-reduces per layer) or ``gather`` (llama.cpp's
    row split gathers each matrix result through the main GPU).
    ``allreduce_algorithms``: the all-reduces it can run, first choice first: ``oneshot``
    (a custom kernel in which every GPU reads its peers' buffers directly and sums them,
    vLLM's and SGLang's ``custom_all_reduce``) is used only for tensor-parallel sizes in
    ``oneshot_sizes``, messages up to ``oneshot_max_bytes``, and GPUs that reach each other
    peer-to-peer and all-to-all (or just two with peer-to-peer access); otherwise ``ring``
    (NCCL). ``oneshot_off_flags``: flags that turn the custom kernel off.
    ``tp_must_divide_heads``: a tensor-parallel size must divide the attention heads and
    divide or be a multiple of the KV heads (else the engine refuses; pipeline instead).
    ``cost_key``: the name under which its calibrated fixed costs (per layer, per step),
    prefill kernel factor and expert-kernel constant are stored.
    ``prefill_on_gpu_for_host_layers``: during prefill, weights held in system RAM are
    copied to the GPU and computed there when a forward pass has at least
    ``host_offload_min_tokens`` tokens (ggml's CUDA backend: 32). With
    ``host_expert_offload_per_expert`` the routed-expert matmuls of host layers are copied
    only when each expert gets that many tokens on average, i.e. from
    ``host_offload_min_tokens × experts_total ÷ experts_per_token`` tokens per pass
    (ik_llama.cpp PR 520); below it the CPU computes them.
    ``expert_offload``: can keep routed experts in system RAM (``-ot exps=CPU``,
    ``--n-cpu-moe``). ``spec_methods``: speculative decoding it supports.
    ``streams_from_storage``: weights are memory-mapped, so what does not fit in RAM is
    read from disk each token. ``gpu_memory_utilization``: share of each GPU's VRAM it
    uses. ``gpu_runtime_overhead_gb``: per-GPU memory besides weights, KV and buffers.
    ``activation_tokens``: tokens per forward pass during prefill (the ``ubatch``).
    ``copies_routed_experts_only``: a prefill pass copies only the routed experts its
    tokens use to the GPU, not whole expert tensors (llama.cpp PR 15346, 2025-08-16).
    ``host_weights_pinned``: weights held in system RAM sit in the GPU's pinned host
    buffer, so prefill copies them to the GPU by DMA at the full link rate (llama.cpp
    with ``--no-mmap``: ``make_cpu_buft_list`` puts them in the first GPU's host buffer
    type); otherwise they are memory-mapped and every copy goes through the driver's
    pageable staging path (calibration's ``pcie_pageable_efficiency``).
    ``input_embedding_on_host``: the token embedding stays in system RAM.
    ``eager_flags``: command-line flags that make the engine launch every decode kernel
    from Python instead of replaying captured CUDA/HIP graphs (vLLM ``--enforce-eager``,
    SGLang ``--disable-cuda-graph``); ``eager``: the run used one, so each layer pays the
    calibrated ``eager_layer_overhead_us`` on top of its graph-replay cost.
    ``cpu_isas``: integer-matrix instruction classes its CPU kernels use (llama.cpp has
    AMX tile kernels, ``ggml-cpu/amx``; ik_llama.cpp has none, its issue 437 asks for
    them, and uses AVX-512 VNNI / AVX2 dot products).
    ``ungraphed_backends``: backends on which the engine launches each decode kernel from
    the host rather than replaying a captured GPU graph, so every layer costs more fixed
    time (calibration's ``ungraphed_layer_overhead_us``).
    ``quantized_gemm``: how its GPU kernels multiply quantized weights by a prompt's
    activations (:data:`QUANTIZED_GEMMS`): ``mmq``, ggml's quantized matrix-multiply
    kernels, on 8-bit integer matrix units where the GPU has them (llama.cpp's default
    since PR 8075, 2024-06-24); ``cublas``, dequantizing to FP16 and multiplying with
    cuBLAS/hipBLAS (its default before, and ``GGML_CUDA_FORCE_CUBLAS``); ``mmq_dp4a``,
    MMQ before it had integer matrix-unit kernels (``GGML_CUDA_FORCE_MMQ`` builds of
    early June 2024 and older), 8-bit dot products on the vector units only.
    ``repack_flags``: flags that repack the weights held in system RAM into row-interleaved
    CPU layouts at load (ik_llama.cpp ``-rtr``; ``-rtr 0`` leaves them off);
    ``cpu_weights_repacked``: the run used one, so its CPU multiplies them faster
    (:func:`.cpu_kernels.repacked`) and a GPU beside it cannot take them for prompt
    processing.
    """

    name: str
    formats: frozenset[str]
    backends: tuple[str, ...]
    splits: tuple[str, ...]
    continuous_batching: bool
    streams_from_storage: bool
    gpu_memory_utilization: float
    gpu_runtime_overhead_gb: float
    activation_tokens: int
    cost_key: str = ""
    tensor_sync: str = "allreduce"
    allreduce_algorithms: tuple[str, ...] = ("ring",)
    oneshot_sizes: tuple[int, ...] = ()
    oneshot_max_bytes: float = 0.0
    oneshot_off_flags: frozenset[str] = frozenset()
    tp_must_divide_heads: bool = False
    prefill_on_gpu_for_host_layers: bool = False
    host_offload_min_tokens: int = 32
    host_expert_offload_per_expert: bool = False
    host_weights_pinned: bool = False
    copies_routed_experts_only: bool = False
    expert_offload: bool = False
    spec_methods: frozenset[str] = frozenset()
    input_embedding_on_host: bool = False
    eager_flags: frozenset[str] = frozenset()
    eager: bool = False
    cpu_isas: tuple[str, ...] = ("avx512_vnni", "avx512", "avx2")
    ungraphed_backends: frozenset[str] = frozenset()
    repack_flags: frozenset[str] = frozenset()
    cpu_weights_repacked: bool = False
    quantized_gemm: str = "mmq"
    description: str = ""

    def __post_init__(self) -> None:
        checks.text("engine.name", self.name)
        checks.number("engine.gpu_memory_utilization", self.gpu_memory_utilization, 0.1, 1.0)
        checks.number("engine.gpu_runtime_overhead_gb", self.gpu_runtime_overhead_gb, 0, 64)
        checks.integer("engine.activation_tokens", self.activation_tokens, 1, 1_000_000)
        checks.integer("engine.host_offload_min_tokens", self.host_offload_min_tokens, 1, 1_000_000)
        checks.choice("engine.tensor_sync", self.tensor_sync, ("allreduce", "gather"))
        checks.choice("engine.quantized_gemm", self.quantized_gemm, QUANTIZED_GEMMS)
        for algorithm in self.allreduce_algorithms:
            checks.choice("engine.allreduce_algorithms", algorithm, ("oneshot", "ring"))
        for split in self.splits:
            checks.choice("engine.splits", split, ("layer", "tensor"))
        if not self.splits:
            raise ValueError("engine.splits must list at least one of layer, tensor")
        for backend in self.backends:
            checks.choice("engine.backends", backend, tuple(BACKENDS))
        if not self.cost_key:
            object.__setattr__(self, "cost_key", self.name)

    @property
    def default_split(self) -> str:
        """The split used when the caller does not choose one."""
        return self.splits[0]

    @property
    def gpu_vendors(self) -> frozenset[str]:
        """Discrete-GPU vendors some backend of this engine drives."""
        return frozenset().union(*(BACKENDS[b].gpu_vendors for b in self.backends))

    @property
    def unified_vendors(self) -> frozenset[str]:
        """Unified-memory vendors some backend of this engine drives."""
        return frozenset().union(*(BACKENDS[b].unified_vendors for b in self.backends))

    @property
    def runs_on_cpu(self) -> bool:
        """True if the engine computes on the host CPU (CPU-only runs and offload)."""
        return any(BACKENDS[b].cpu for b in self.backends)

    def accepts(self, family: str) -> bool:
        """True if this engine loads weights of quant family ``family``."""
        return family in ("", "native") or family in self.formats

    def backend_for(self, vendor: str | None, unified: bool = False) -> str:
        """The backend this engine uses for a ``vendor``'s GPU (or unified-memory system
        when ``unified``); the CPU backend for ``None``. Raises ``ValueError`` naming
        ``backend`` when none fits."""
        for name in self.backends:
            backend = BACKENDS[name]
            if vendor is None and backend.cpu:
                return name
            vendors = backend.unified_vendors if unified else backend.gpu_vendors
            if vendor is not None and vendor in vendors:
                return name
        what = f"{vendor} {'unified-memory systems' if unified else 'GPUs'}" if vendor else "CPUs"
        raise ValueError(f"backend: {self.name} has no backend for {what}")

    def check_backend(self, backend: str, vendor: str | None, unified: bool = False) -> str:
        """``backend`` if this engine has it and it drives ``vendor``'s hardware, else a
        ``ValueError`` naming ``backend`` and the allowed values."""
        names = {b.lower(): b for b in self.backends}
        chosen = names.get(str(backend).strip().lower())
        if chosen is None:
            raise ValueError(
                f"backend must be one of {', '.join(self.backends)} for {self.name} "
                f"(got {backend!r})"
            )
        spec = BACKENDS[chosen]
        if vendor is None:
            ok = spec.cpu
        else:
            ok = vendor in (spec.unified_vendors if unified else spec.gpu_vendors)
        if not ok:
            what = vendor or "the CPU"
            raise ValueError(f"backend: {chosen} does not run on {what} hardware")
        return chosen

    def with_flags(self, flags: object) -> EngineProfile:
        """This engine as run with the command-line ``flags``: eager when one of its
        ``eager_flags`` is among them, ring all-reduce only with a ``oneshot_off_flags``
        flag, CPU weights repacked with a ``repack_flags`` flag not set to 0."""
        tokens = str(flags or "").replace("=", " ").split()
        words = set(tokens)
        profile = self
        if self.eager_flags & words:
            profile = replace(profile, eager=True)
        if self.oneshot_off_flags & words:
            ring_only = tuple(a for a in self.allreduce_algorithms if a != "oneshot")
            profile = replace(profile, allreduce_algorithms=ring_only or ("ring",))
        if _switched_on(tokens, self.repack_flags):
            profile = replace(profile, cpu_weights_repacked=True)
        return profile

    def tensor_parallel_problem(self, size: int, attention_heads: int, kv_heads: int) -> str:
        """Why a tensor-parallel ``size`` is not allowed ('' when it is)."""
        if size <= 1 or not self.tp_must_divide_heads:
            return ""
        if attention_heads % size:
            return f"{size} does not divide the {attention_heads} attention heads"
        if kv_heads % size and size % kv_heads:
            return f"{size} neither divides nor is a multiple of the {kv_heads} KV heads"
        return ""


def _switched_on(tokens: list[str], flags: frozenset[str]) -> bool:
    """Whether one of ``flags`` is among the command-line ``tokens`` and not followed by
    ``0`` (llama-bench takes ``-rtr 0``/``-rtr 1``; the servers take the bare flag)."""
    for i, token in enumerate(tokens):
        if token in flags:
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if following not in ("0", "0,0"):
                return True
    return False


_LLAMA_FORMATS = frozenset({"GGUF", "MXFP4"})
# vLLM's custom all-reduce (vllm/distributed/device_communicators/custom_all_reduce.py:
# ``_SUPPORTED_WORLD_SIZES = [2, 4, 6, 8]``, ``max_size=8192 * 1024``; disabled for more
# than two GPUs that are not fully connected, and without peer-to-peer access), used by
# SGLang too (sgl-project/sglang PR 2904); NCCL otherwise.
_CUSTOM_ALLREDUCE = ("oneshot", "ring")
_CUSTOM_ALLREDUCE_SIZES = (2, 4, 6, 8)
_CUSTOM_ALLREDUCE_MAX_BYTES = 8192 * 1024
_GPU_SERVER_FORMATS = frozenset({"GPTQ", "AWQ", "FP8", "MXFP4", "NF4", "INT8", "NVFP4"})

ENGINES: dict[str, EngineProfile] = {
    "llama.cpp": EngineProfile(
        name="llama.cpp",
        formats=_LLAMA_FORMATS,
        backends=("CUDA", "ROCm", "Metal", "SYCL", "Vulkan", "CPU"),
        splits=("layer", "tensor"),
        continuous_batching=True,
        streams_from_storage=True,
        gpu_memory_utilization=1.0,
        gpu_runtime_overhead_gb=0.35,
        activation_tokens=512,
        tensor_sync="gather",
        prefill_on_gpu_for_host_layers=True,
        copies_routed_experts_only=True,
        expert_offload=True,
        spec_methods=frozenset({"draft", "ngram", "mtp"}),
        input_embedding_on_host=True,
        cpu_isas=("amx", "avx512_vnni", "avx512", "avx2"),
        ungraphed_backends=frozenset({"ROCm"}),
        description="GGUF; splits layers over GPUs and offloads the rest to the CPU",
    ),
    "ik_llama.cpp": EngineProfile(
        name="ik_llama.cpp",
        formats=_LLAMA_FORMATS,
        backends=("CUDA", "CPU"),
        splits=("layer", "tensor"),
        continuous_batching=True,
        streams_from_storage=True,
        gpu_memory_utilization=1.0,
        gpu_runtime_overhead_gb=0.35,
        activation_tokens=512,
        tensor_sync="gather",
        prefill_on_gpu_for_host_layers=True,
        host_expert_offload_per_expert=True,
        expert_offload=True,
        spec_methods=frozenset({"draft"}),
        input_embedding_on_host=True,
        repack_flags=frozenset({"-rtr", "--run-time-repack"}),
        description="llama.cpp fork with its own CPU and hybrid CPU+GPU MoE kernels",
    ),
    "vllm": EngineProfile(
        name="vllm",
        formats=_GPU_SERVER_FORMATS,
        backends=("CUDA", "ROCm"),
        splits=("tensor", "layer"),
        continuous_batching=True,
        streams_from_storage=False,
        gpu_memory_utilization=0.9,
        gpu_runtime_overhead_gb=1.0,
        activation_tokens=2048,
        tp_must_divide_heads=True,
        allreduce_algorithms=_CUSTOM_ALLREDUCE,
        oneshot_sizes=_CUSTOM_ALLREDUCE_SIZES,
        oneshot_max_bytes=_CUSTOM_ALLREDUCE_MAX_BYTES,
        oneshot_off_flags=frozenset({"--disable-custom-all-reduce"}),
        spec_methods=frozenset({"draft", "eagle", "mtp", "ngram"}),
        eager_flags=frozenset({"--enforce-eager"}),
        description="GPU only (incl. DGX Spark); tensor parallel; paged KV cache and "
        "continuous batching",
    ),
    "sglang": EngineProfile(
        name="sglang",
        formats=_GPU_SERVER_FORMATS,
        backends=("CUDA", "ROCm"),
        splits=("tensor", "layer"),
        continuous_batching=True,
        streams_from_storage=False,
        gpu_memory_utilization=0.88,
        gpu_runtime_overhead_gb=1.0,
        activation_tokens=2048,
        tp_must_divide_heads=True,
        allreduce_algorithms=_CUSTOM_ALLREDUCE,
        oneshot_sizes=_CUSTOM_ALLREDUCE_SIZES,
        oneshot_max_bytes=_CUSTOM_ALLREDUCE_MAX_BYTES,
        oneshot_off_flags=frozenset({"--disable-custom-all-reduce"}),
        spec_methods=frozenset({"eagle", "mtp", "ngram"}),
        eager_flags=frozenset({"--disable-cuda-graph"}),
        description="GPU only (incl. DGX Spark); tensor parallel; radix KV cache and "
        "continuous batching",
    ),
    "exllamav2": EngineProfile(
        name="exllamav2",
        formats=frozenset({"EXL2", "GPTQ"}),
        backends=("CUDA", "ROCm"),
        splits=("layer", "tensor"),
        continuous_batching=True,
        streams_from_storage=False,
        gpu_memory_utilization=1.0,
        gpu_runtime_overhead_gb=0.5,
        activation_tokens=2048,
        spec_methods=frozenset({"draft", "ngram"}),
        description="GPU only; EXL2 at any bits per weight; layer split",
    ),
    "exllamav3": EngineProfile(
        name="exllamav3",
        formats=frozenset({"EXL3"}),
        backends=("CUDA",),
        splits=("layer", "tensor"),
        continuous_batching=True,
        streams_from_storage=False,
        gpu_memory_utilization=1.0,
        gpu_runtime_overhead_gb=0.5,
        activation_tokens=2048,
        cost_key="exllamav2",
        spec_methods=frozenset({"draft"}),
        description="GPU only; EXL3 (trellis) weights; layer or tensor split",
    ),
    "mlx": EngineProfile(
        name="mlx",
        formats=frozenset({"MLX"}),
        backends=("MLX",),
        splits=("layer",),
        continuous_batching=False,
        streams_from_storage=False,
        gpu_memory_utilization=1.0,
        gpu_runtime_overhead_gb=0.0,
        activation_tokens=2048,
        spec_methods=frozenset({"draft"}),
        description="Apple silicon only; MLX weights in unified memory",
    ),
    "transformers": EngineProfile(
        name="transformers",
        formats=frozenset({"GPTQ", "AWQ", "NF4", "INT8", "FP8"}),
        backends=("CUDA", "ROCm"),
        splits=("layer",),
        continuous_batching=False,
        streams_from_storage=False,
        gpu_memory_utilization=1.0,
        gpu_runtime_overhead_gb=1.5,
        activation_tokens=4096,
        spec_methods=frozenset({"draft"}),
        description=(
            "Hugging Face Transformers / TGI with device_map='auto' (layers spread over "
            "GPUs); also what fine-tuning runs on"
        ),
    ),
}

DEFAULT_ENGINE = "llama.cpp"

# Fine-tuning frameworks: each has its own calibrated share of peak compute
# (``train_mfu`` × ``train_mfu_factor.<key>``) and loss memory
# (``train_logit_bytes.<key>``); how each holds its state is its ``TRAINING_PROFILES``
# entry below.
TRAINING_FRAMEWORKS: dict[str, str] = {
    "transformers": "Hugging Face Transformers Trainer",
    "peft": "Hugging Face PEFT (LoRA/QLoRA adapters on the Trainer)",
    "unsloth": "Unsloth (fused Triton kernels, own gradient checkpointing)",
    "torchtune": "torchtune recipes",
    "axolotl": "Axolotl (Trainer/PEFT configuration)",
    "litgpt": "LitGPT (Lightning Fabric scripts, pure bf16 weights)",
}
DEFAULT_TRAINING_FRAMEWORK = "peft"


@dataclass(frozen=True)
class TrainingProfile:
    """How a fine-tuning framework holds its state (speed is ``train_mfu`` ×
    ``train_mfu_factor.<key>``, the
    bytes kept for the loss ``train_logit_bytes.<key>``).

    ``full_state_bytes``: bytes per parameter of full fine-tuning's weights, gradients and
    AdamW moments: 16 with the Trainer's mixed precision (bf16 weights and gradients,
    fp32 master copy and moments), 8 when everything stays bf16 (torchtune's ``dtype:
    bf16`` recipes, LitGPT's ``--precision bf16-true``).
    ``offloads_checkpoints``: with gradient checkpointing, each block's saved input goes
    to host RAM (Unsloth's ``use_gradient_checkpointing="unsloth"``), so the GPU keeps
    only the block being recomputed.
    """

    full_state_bytes: float = 16.0
    offloads_checkpoints: bool = False


TRAINING_PROFILES: dict[str, TrainingProfile] = {
    "transformers": TrainingProfile(),
    "peft": TrainingProfile(),
    "unsloth": TrainingProfile(offloads_checkpoints=True),
    "torchtune": TrainingProfile(full_state_bytes=8.0),
    "axolotl": TrainingProfile(),
    "litgpt": TrainingProfile(full_state_bytes=8.0),
}


def engine_profile(name: str | EngineProfile) -> EngineProfile:
    """The profile called ``name`` (case-insensitive), or ``name`` itself if a profile."""
    if isinstance(name, EngineProfile):
        return name
    key = _key(name)
    key = _ALIASES.get(key, key)
    for registered in ENGINES:
        if _key(registered) == key:
            return ENGINES[registered]
    raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {name!r})")


def training_framework(name: str | None) -> str:
    """The registry key of a fine-tuning framework (case-insensitive; None gives PEFT)."""
    if name is None or name == "":
        return DEFAULT_TRAINING_FRAMEWORK
    key = _key(name)
    for registered in TRAINING_FRAMEWORKS:
        if _key(registered) == key:
            return registered
    raise ValueError(
        f"training framework must be one of {', '.join(TRAINING_FRAMEWORKS)} (got {name!r})"
    )


def _key(name: object) -> str:
    return str(name).strip().lower().replace("_", "").replace("-", "").replace(".", "")


_ALIASES = {
    "exl2": "exllamav2",
    "exl3": "exllamav3",
    "hf": "transformers",
    "tgi": "transformers",
    "ollama": "llamacpp",
    "lmstudio": "llamacpp",
    "ikllama": "ikllamacpp",
}


def tensor_parallel_sizes(
    engine: str | EngineProfile, model: object, limit: int = 8
) -> tuple[int, ...]:
    """GPU counts (1..``limit``) over which ``engine`` can shard every layer of ``model``
    (a :class:`~configurator.engine.model.ModelArch`): the count must divide the
    attention heads, and divide the KV heads or be a multiple of them (the KV heads are
    then replicated), as vLLM checks. An engine without a tensor split gets ``(1,)``.
    https://docs.vllm.ai/en/latest/serving/distributed_serving.html"""
    profile = engine_profile(engine)
    if "tensor" not in profile.splits:
        return (1,)
    heads = int(getattr(model, "attention_heads", 0) or 0)
    kv = int(getattr(model, "kv_heads", 0) or heads)
    sizes = [
        n for n in range(1, limit + 1) if heads and heads % n == 0 and (kv % n == 0 or n % kv == 0)
    ]
    return tuple(sizes) or (1,)
