"""Inference engine profiles: what each engine can run, where, and how it splits a model."""

from __future__ import annotations

from dataclasses import dataclass

from . import checks


@dataclass(frozen=True)
class EngineProfile:
    """How an inference engine places and runs a model.

    ``formats``: quant families it loads (``native`` weights and a format-less
    :class:`~configurator.engine.quant.Quant` are always accepted). ``gpu_vendors``: GPU
    makers it supports; ``runs_on_cpu``: can compute on the host CPU (CPU-only and
    offload); ``unified_vendors``: unified-memory systems it supports.
    ``splits``: multi-GPU modes, ``layer`` (pipeline: each GPU holds whole layers) and/or
    ``tensor`` (every layer sharded over all GPUs). ``streams_from_storage``: weights
    are memory-mapped, so what does not fit in RAM is read from disk each token.
    ``gpu_memory_utilization``: share of each GPU's VRAM the engine lets itself use.
    ``gpu_runtime_overhead_gb``: per-GPU memory the runtime takes besides weights, KV
    and compute buffers (CUDA context, library workspaces, graphs), decimal GB.
    ``activation_tokens``: tokens processed per forward pass during prefill (the
    ``ubatch``), which sizes the compute buffers. ``input_embedding_on_host``: the token
    embedding table stays in system RAM (llama.cpp does this).
    """

    name: str
    formats: frozenset[str]
    gpu_vendors: frozenset[str]
    runs_on_cpu: bool
    unified_vendors: frozenset[str]
    splits: tuple[str, ...]
    continuous_batching: bool
    streams_from_storage: bool
    gpu_memory_utilization: float
    gpu_runtime_overhead_gb: float
    activation_tokens: int
    input_embedding_on_host: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        checks.text("engine.name", self.name)
        checks.number("engine.gpu_memory_utilization", self.gpu_memory_utilization, 0.1, 1.0)
        checks.number("engine.gpu_runtime_overhead_gb", self.gpu_runtime_overhead_gb, 0, 64)
        checks.integer("engine.activation_tokens", self.activation_tokens, 1, 1_000_000)
        for split in self.splits:
            checks.choice("engine.splits", split, ("layer", "tensor"))
        if not self.splits:
            raise ValueError("engine.splits must list at least one of layer, tensor")

    @property
    def default_split(self) -> str:
        """The split used when the caller does not choose one."""
        return self.splits[0]

    def accepts(self, family: str) -> bool:
        """True if this engine loads weights of quant family ``family``."""
        return family in ("", "native") or family in self.formats


ENGINES: dict[str, EngineProfile] = {
    "llama.cpp": EngineProfile(
        name="llama.cpp",
        formats=frozenset({"GGUF", "MXFP4"}),
        gpu_vendors=frozenset({"nvidia", "amd", "intel"}),
        runs_on_cpu=True,
        unified_vendors=frozenset({"apple", "amd", "nvidia", "intel", "qualcomm"}),
        splits=("layer", "tensor"),
        continuous_batching=True,
        streams_from_storage=True,
        gpu_memory_utilization=1.0,
        gpu_runtime_overhead_gb=0.35,
        activation_tokens=512,
        input_embedding_on_host=True,
        description="GGUF; splits layers over GPUs and offloads the rest to the CPU",
    ),
    "vllm": EngineProfile(
        name="vllm",
        formats=frozenset({"GPTQ", "AWQ", "FP8", "MXFP4", "NF4", "INT8"}),
        gpu_vendors=frozenset({"nvidia", "amd"}),
        runs_on_cpu=False,
        unified_vendors=frozenset(),
        splits=("tensor", "layer"),
        continuous_batching=True,
        streams_from_storage=False,
        gpu_memory_utilization=0.9,
        gpu_runtime_overhead_gb=1.0,
        activation_tokens=2048,
        description="GPU only; tensor parallel; paged KV cache and continuous batching",
    ),
    "exllamav2": EngineProfile(
        name="exllamav2",
        formats=frozenset({"EXL2", "GPTQ"}),
        gpu_vendors=frozenset({"nvidia", "amd"}),
        runs_on_cpu=False,
        unified_vendors=frozenset(),
        splits=("layer", "tensor"),
        continuous_batching=True,
        streams_from_storage=False,
        gpu_memory_utilization=1.0,
        gpu_runtime_overhead_gb=0.5,
        activation_tokens=2048,
        description="GPU only; EXL2 at any bits per weight; layer split",
    ),
    "mlx": EngineProfile(
        name="mlx",
        formats=frozenset({"MLX"}),
        gpu_vendors=frozenset(),
        runs_on_cpu=False,
        unified_vendors=frozenset({"apple"}),
        splits=("layer",),
        continuous_batching=False,
        streams_from_storage=False,
        gpu_memory_utilization=1.0,
        gpu_runtime_overhead_gb=0.0,
        activation_tokens=2048,
        description="Apple silicon only; MLX weights in unified memory",
    ),
    "transformers": EngineProfile(
        name="transformers",
        formats=frozenset({"GPTQ", "AWQ", "NF4", "INT8", "FP8"}),
        gpu_vendors=frozenset({"nvidia", "amd"}),
        runs_on_cpu=False,
        unified_vendors=frozenset(),
        splits=("layer",),
        continuous_batching=False,
        streams_from_storage=False,
        gpu_memory_utilization=1.0,
        gpu_runtime_overhead_gb=1.5,
        activation_tokens=4096,
        description=(
            "Hugging Face Transformers / TGI with device_map='auto' (layers spread over "
            "GPUs); also what fine-tuning runs on"
        ),
    ),
}

DEFAULT_ENGINE = "llama.cpp"


def engine_profile(name: str | EngineProfile) -> EngineProfile:
    """The profile called ``name`` (case-insensitive), or ``name`` itself if a profile."""
    if isinstance(name, EngineProfile):
        return name
    key = str(name).strip().lower().replace("_", "").replace("-", "")
    key = _ALIASES.get(key, key)
    if key not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {name!r})")
    return ENGINES[key]


_ALIASES = {
    "llamacpp": "llama.cpp",
    "exl2": "exllamav2",
    "hf": "transformers",
    "tgi": "transformers",
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
