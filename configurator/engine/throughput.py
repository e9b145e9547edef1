"""Decode and prefill timing from bytes moved and FLOPs done.

Decode (one step gives one token to each of ``batch`` sequences): every pool reads the
weights it holds (for MoE only the experts the step's tokens route to) and each
sequence's KV cache for its layers, at the pool's effective bandwidth; quantized weights
also cost ALU work to unpack; a pool's time is the larger of that and its matrix compute
time. A layer split runs the pools one after another (times add); a tensor split runs
the GPUs side by side and pays a synchronisation per layer. Fixed costs per layer and
per token come from calibration.

Prefill (one prompt): ≈ 2 × active parameters FLOPs per token plus attention
(2 × prompt² × heads × head_dim per layer), at a device-class share of peak, and never
faster than reading the weights once per forward pass. With llama.cpp, weights held in
system RAM are computed on the GPU during prefill, so they cross PCIe once per pass
(ubatch), before the GPU multiplies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import collectives, devices, memory, rates
from .calibration import Constants
from .cpu_kernels import quantized_prefill_flops
from .engines import EngineProfile
from .hardware import PCIE_LANE_GBS, CpuSystem
from .memory import ModelParts
from .placement import UNPLACED, Placement, Slot


@dataclass(frozen=True)
class SlotTime:
    """Time one pool spends on a step (seconds), the bytes it reads, and whether
    compute rather than memory set its time."""

    label: str
    kind: str
    seconds: float
    bytes_read: float
    compute_bound: bool
    streamed_s: float = 0.0


@dataclass(frozen=True)
class StepTime:
    """A decode step or a prefill: total ``seconds`` and its parts (``sync_s``:
    tensor-parallel synchronisation; ``overhead_s``: fixed per-layer and per-token costs).
    ``parallel``: the GPU pools work side by side (tensor split)."""

    seconds: float
    slots: tuple[SlotTime, ...]
    sync_s: float
    overhead_s: float
    parallel: bool

    def slowest(self) -> SlotTime | None:
        """The pool that takes the most time."""
        return max(self.slots, key=lambda s: s.seconds, default=None)


def _pools(placement: Placement) -> list[Slot]:
    """The placement's pools, plus its stand-in for layers with nowhere to go."""
    if placement.stand_in is None:
        return list(placement.slots)
    return [*placement.slots, placement.stand_in]


effective_bandwidth_gbs = rates.slot_bandwidth_gbs
effective_flops = rates.slot_flops


def _kind(kind: str) -> str:
    return kind if kind in ("gpu", "cpu") else "unified"


def _engine_constant(prefix: str, engine: EngineProfile, constants: Constants) -> float:
    """``prefix.<engine cost key>``, or llama.cpp's value when the engine has none."""
    key = f"{prefix}.{engine.cost_key}"
    if key not in constants.values:
        key = f"{prefix}.llama.cpp"
    return constants[key]


def layer_overhead_s(kind: str, engine: EngineProfile, constants: Constants) -> float:
    """Fixed time per layer per decode step on a pool of ``kind`` with ``engine``, s
    (for a CPU pool without its threads: the base part of :func:`cpu_layer_overhead_s`)."""
    if kind == "cpu":
        return constants["layer_overhead_us.cpu"] * 1e-6
    prefix = f"layer_overhead_us.{'unified' if kind == 'unified' else 'gpu'}"
    seconds = _engine_constant(prefix, engine, constants) * 1e-6
    if engine.eager:
        # Without CUDA graphs every kernel of the layer is launched from Python.
        seconds += constants[f"eager_layer_overhead_us.{engine.cost_key}"] * 1e-6
    return seconds


def cpu_layer_overhead_s(cpu: CpuSystem, constants: Constants) -> float:
    """Fixed time per layer per decode step on ``cpu`` (its ``cores``: the threads that
    run), s. ggml's CPU threads meet at a barrier after every operation of a layer (a
    shared atomic counter each thread increments and then spins on), so the cost grows
    with the threads that take part, and more when the counter's cache line crosses the
    link between sockets: base + per thread × threads + per socket × (sockets − 1)."""
    us = (
        constants["layer_overhead_us.cpu"]
        + constants["layer_overhead_us.cpu_per_thread"] * cpu.cores
        + constants["layer_overhead_us.cpu_per_extra_socket"] * (cpu.sockets - 1)
    )
    return us * 1e-6


def _pool_layer_overhead_s(slot: Slot, engine: EngineProfile, constants: Constants) -> float:
    """Fixed time per layer per decode step on pool ``slot``, s."""
    if slot.kind == "cpu" and slot.cpu is not None:
        return cpu_layer_overhead_s(slot.cpu, constants)
    return layer_overhead_s(slot.kind, engine, constants)


def step_overhead_s(engine: EngineProfile, constants: Constants, batch: int = 1) -> float:
    """Fixed time per decode step outside the layers, plus the extra work of each
    additional sequence in a batch, s."""
    step = _engine_constant("step_overhead_ms", engine, constants) * 1e-3
    if batch > 1:
        per_sequence = _engine_constant("sequence_overhead_us", engine, constants) * 1e-6
        step += (batch - 1) * per_sequence
    return step


def moe_layer_overhead_s(kind: str, engine: EngineProfile, constants: Constants) -> float:
    """Fixed time per mixture-of-experts block per decode step on a GPU or unified pool,
    beyond a dense block's: the router's matrix multiply, top-k selection and softmax of
    the expert weights, the expert-indexed matrix multiplies (``mul_mat_id``), weighting
    and summing the chosen experts' outputs; more kernels per block, each too small to
    use fast memory fully. Zero on CPU pools (their per-layer cost covers it), s."""
    if kind == "cpu":
        return 0.0
    return _engine_constant("moe_layer_overhead_us", engine, constants) * 1e-6


def moe_prefill_overhead_s(kind: str, engine: EngineProfile, constants: Constants) -> float:
    """Fixed time per mixture-of-experts block per prompt forward pass on a GPU or unified
    pool (``moe_prefill_overhead_us``): the pass's tokens are grouped by expert, the
    expert-indexed multiplies launched and the results scattered back, work that does not
    shrink with a faster GPU. Zero on CPU pools, whose kernels index the experts in place, s."""
    if kind == "cpu":
        return 0.0
    return _engine_constant("moe_prefill_overhead_us", engine, constants) * 1e-6


def ungraphed_layer_overhead_s(backend: str, engine: EngineProfile, constants: Constants) -> float:
    """Extra fixed time per layer per decode step when ``engine`` launches every kernel
    from the host on ``backend`` (no captured GPU graph replayed per token), s."""
    if backend not in engine.ungraphed_backends:
        return 0.0
    return constants["ungraphed_layer_overhead_us"] * 1e-6


def pool_overhead_s(
    slot: Slot, parts: ModelParts, engine: EngineProfile, constants: Constants
) -> float:
    """Fixed decode-step time of the layers a pool computes: the engine's per-layer cost,
    the extra of an ungraphed backend, and, for a model with routed experts, the routing
    cost of the blocks whose experts the pool holds; a CPU holding only a block's routed
    experts pays ``cpu_expert_block_overhead_share`` of its per-layer cost for it, s."""
    per_layer = _pool_layer_overhead_s(slot, engine, constants)
    layers = slot.layers
    if slot.kind != "cpu":
        per_layer += ungraphed_layer_overhead_s(slot.backend, engine, constants)
    elif slot.expert_layers > slot.dense_layers:
        # Blocks whose routed experts alone are in RAM give the CPU a few graph nodes.
        experts_only = slot.expert_layers - slot.dense_layers
        layers = slot.dense_layers + experts_only * constants["cpu_expert_block_overhead_share"]
    moe = 0.0
    if parts.expert_layer_bytes > 0:
        moe = slot.expert_layers * moe_layer_overhead_s(slot.kind, engine, constants)
    return layers * per_layer + moe


def unpack_overlap_seconds(t_read: float, t_unpack: float, constants: Constants) -> float:
    """Time a pool's read and its unpacking of quantized weights leave exposed beyond the
    slower of the two: ``unpack_overlap_loss`` × the faster one (0: the ALU work hides
    fully behind the memory stream). It matters on GPUs whose FP32 rate is small beside
    their bandwidth (Pascal/Volta/Turing datacenter cards), s."""
    return constants["unpack_overlap_loss"] * min(t_read, t_unpack)


def expert_matmul_efficiency(rows: float, engine: EngineProfile, constants: Constants) -> float:
    """Efficiency of a routed expert's matrix multiply over ``rows`` tokens relative to a
    dense one: rows / (rows + half), ``half`` (``expert_matmul_half_tokens``) a property of
    the engine's MoE kernels, at most half a 128-row tile (each expert sees only its share
    of a pass: tokens × experts per token ÷ experts)."""
    half = _engine_constant("expert_matmul_half_tokens", engine, constants)
    rows = max(rows, 1e-3)
    return rows / (rows + half)


def unpack_seconds(
    slot: Slot, weight_bytes: float, bits_per_weight: float, constants: Constants
) -> float:
    """ALU time to unpack ``weight_bytes`` of quantized weights in a decode step: weights ×
    ``dequant_ops_per_weight`` ÷ the pool's FP32 rate (on unified-memory GPUs that issue
    integer and floating-point work side by side,
    :func:`..devices.unified_unpack_issue_factor` times it). 0 on CPUs, where the per-core
    cap of ``effective_bandwidth_gbs`` plays this part."""
    if slot.kind == "cpu":
        return 0.0
    ops = constants[f"dequant_ops_per_weight.{_kind(slot.kind)}"]
    rate = slot.alu_tflops * 1e12
    if slot.kind == "unified" and slot.unified is not None:
        rate *= devices.unified_unpack_issue_factor(slot.unified)
    return weight_bytes / (bits_per_weight / 8) * ops / rate


def engine_bandwidth_gbs(slot: Slot, engine: EngineProfile | None, constants: Constants) -> float:
    """Bandwidth a pool delivers to ``engine``'s decode kernels: the pool's effective
    bandwidth (llama.cpp's) times the engine's ``engine_bandwidth_factor``, at most the
    pool's peak. CPU pools are the same for every engine."""
    bandwidth = effective_bandwidth_gbs(slot, constants)
    if engine is None or slot.kind == "cpu":
        return bandwidth
    factor = _engine_constant("engine_bandwidth_factor", engine, constants)
    return min(bandwidth * factor, slot.bandwidth_gbs)


def page_cache_miss(slot: Slot, touched_bytes: float) -> float:
    """Share of the weights a pass over ``touched_bytes`` of pool ``slot``'s weights
    must fault in from the drive when the pool is short of RAM (memory-mapped weights,
    the page cache holding what fits). The kernel evicts the least recently used pages:
    a pass that reads the whole pool in order (a dense model, or a prompt pass touching
    every expert) finds none of the pages it needs next still cached, so it misses on
    all of them; a pass touching a small random part (the routed experts of one token)
    misses on the share that is not cached. Between the two: spill + (1 − spill) ×
    touched share. (llama.cpp PR 711: a 20 GB model on a 16 GB laptop took 20 s per
    token from a 1 GB/s NVMe drive, i.e. read the whole file for every token.)"""
    spill = slot.spill_fraction
    if spill <= 0:
        return 0.0
    pool = slot.weights_bytes / (1 - spill) if spill < 1 else touched_bytes
    touched = min(touched_bytes / pool, 1.0) if pool > 0 else 1.0
    return spill + (1 - spill) * touched


def drive_fault_gbs(slot: Slot, constants: Constants) -> float:
    """Rate at which faulted-in weights arrive from the pool's drive, GB/s."""
    return slot.spill_bandwidth_gbs * constants["storage_efficiency"]


def _drive_split(
    slot: Slot, weights: float, constants: Constants, passes: int = 1
) -> tuple[float, float]:
    """(bytes read from memory, seconds reading from the drive) of ``passes`` passes
    over ``weights`` bytes in all on pool ``slot``."""
    miss = page_cache_miss(slot, weights / max(passes, 1))
    if miss <= 0:
        return weights, 0.0
    return weights * (1 - miss), weights * miss / (drive_fault_gbs(slot, constants) * 1e9)


def _read_seconds(
    slot: Slot,
    weights: float,
    kv: float,
    constants: Constants,
    engine: EngineProfile | None = None,
    passes: int = 1,
) -> tuple[float, float]:
    """Time to read ``weights`` over ``passes`` passes with ``engine``'s kernels (part of
    them from the drive if the pool is short of RAM, :func:`page_cache_miss`) and ``kv``
    bytes; returns (total, part spent streaming from the drive)."""
    bandwidth = engine_bandwidth_gbs(slot, engine, constants) * 1e9
    in_memory, streamed = _drive_split(slot, weights, constants, passes)
    resident = in_memory + kv / constants["kv_read_efficiency"]
    return resident / bandwidth + streamed, streamed


def _synced_layers(placement: Placement) -> float:
    """Layers that synchronise under a tensor split: those on the GPUs and, for a layout
    that does not fit, those with nowhere to go (they would run split the same way)."""
    return placement.gpu_layers + placement.unplaced_layers


def _sync_per_layer_s(
    placement: Placement, engine: EngineProfile, message_bytes: float, constants: Constants
) -> float:
    """Synchronisation cost of one layer under a tensor split."""
    if engine.tensor_sync == "gather":
        # llama.cpp's row split gathers every matrix result through the main GPU.
        return constants["row_split_sync_us_per_layer"] * 1e-6 * (placement.tensor_parallel - 1)
    # Two all-reduces per layer: after the attention output and the MLP down projection.
    return 2 * collectives.allreduce_seconds(placement, engine, message_bytes, constants)


@dataclass(frozen=True)
class _DecodeWork:
    """What one decode step asks of each layer: bytes of routed experts read, KV bytes
    per sequence, and FLOPs of the dense part, the routed experts and the output head."""

    batch: int
    kv_layer: float
    expert_read: float
    dense_flops: float
    expert_flops: float
    head_flops: float
    bits_per_weight: float

    @property
    def quantized(self) -> bool:
        return self.bits_per_weight < 15.5


def decode_step(
    placement: Placement,
    parts: ModelParts,
    engine: EngineProfile,
    constants: Constants,
    depth_tokens: float,
    kv_cache_bits: float,
    bits_per_weight: float,
    batch: int = 1,
    tokens_per_sequence: int = 1,
) -> StepTime:
    """Time of one decode step for ``batch`` sequences whose KV caches hold
    ``depth_tokens`` tokens, each processing ``tokens_per_sequence`` tokens (more than one
    when verifying speculated tokens: weights and KV are read once, the matrix work grows)."""
    tokens = batch * tokens_per_sequence
    work = _DecodeWork(
        batch=batch,
        kv_layer=memory.kv_bytes_per_layer(parts.model, depth_tokens, kv_cache_bits),
        expert_read=parts.expert_layer_bytes * parts.expert_read_fraction(tokens),
        dense_flops=2.0 * tokens * parts.dense_layer_params,
        expert_flops=2.0 * tokens * parts.expert_layer_params * parts.expert_fraction_per_token,
        head_flops=2.0 * tokens * parts.head_params,
        bits_per_weight=bits_per_weight,
    )
    pools = _pools(placement)
    times = [_pool_decode(slot, work, parts, engine, constants) for slot in pools]
    return _decode_total(placement, pools, times, work, parts, engine, constants)


def _pool_decode(
    slot: Slot, work: _DecodeWork, parts: ModelParts, engine: EngineProfile, constants: Constants
) -> SlotTime:
    """One pool's share of a decode step: reading its weights and KV cache, against its
    matrix work (and the unpacking of quantized weights, partly hidden under the reads)."""
    weights = (
        slot.dense_layers * parts.dense_layer_bytes
        + slot.expert_layers * work.expert_read
        + slot.head_share * parts.head_bytes
    )
    kv = work.batch * slot.kv_layers * work.kv_layer
    t_read, streamed = _read_seconds(slot, weights, kv, constants, engine)
    t_unpack = (
        unpack_seconds(slot, weights, work.bits_per_weight, constants) if work.quantized else 0.0
    )
    flops = (
        slot.dense_layers * work.dense_flops
        + slot.expert_layers * work.expert_flops
        + slot.head_share * work.head_flops
    )
    rate = effective_flops(slot, constants)
    if slot.kind != "cpu":
        # Tensor cores waste most of a tile on the few rows of a decode batch.
        rate *= constants["decode_compute_efficiency"]
    t_compute = max(t_unpack, flops / rate)
    exposed = unpack_overlap_seconds(t_read, t_unpack, constants)
    return SlotTime(
        slot.label,
        slot.kind,
        max(t_read, t_compute) + exposed,
        weights + kv,
        t_compute > t_read,
        streamed,
    )


def _decode_total(
    placement: Placement,
    pools: list[Slot],
    times: list[SlotTime],
    work: _DecodeWork,
    parts: ModelParts,
    engine: EngineProfile,
    constants: Constants,
) -> StepTime:
    """The step's time from its pools', plus the engine's fixed costs per step and per
    layer, and under tensor parallelism the per-layer synchronisation."""
    overhead = step_overhead_s(engine, constants, work.batch)
    if placement.tensor_parallel <= 1:
        overhead += sum(pool_overhead_s(s, parts, engine, constants) for s in pools)
        total = sum(t.seconds for t in times)
        return StepTime(total + overhead, tuple(times), 0.0, overhead, False)
    gpu_times = [t.seconds for t in times if t.kind == "gpu" and t.label != UNPLACED]
    rest = [t.seconds for t in times if t.kind != "gpu" or t.label == UNPLACED]
    # Each GPU holds a 1/n share of every sharded layer but runs all its kernels: the
    # layers' fixed costs are paid once, side by side.
    sharded = [s for s in pools if s.kind == "gpu" and s.label != UNPLACED]
    overhead += placement.tensor_parallel * max(
        (pool_overhead_s(s, parts, engine, constants) for s in sharded), default=0.0
    )
    overhead += sum(
        pool_overhead_s(s, parts, engine, constants)
        for s in pools
        if s.kind != "gpu" or s.label == UNPLACED
    )
    message = work.batch * parts.model.hidden_size * 2.0
    sync = _synced_layers(placement) * _sync_per_layer_s(placement, engine, message, constants)
    total = max(gpu_times, default=0.0) + sum(rest)
    return StepTime(total + sync + overhead, tuple(times), sync, overhead, True)


def engine_prefill_speedup(slot: Slot, engine: EngineProfile, constants: Constants) -> float:
    """Prefill speed of ``engine``'s kernels relative to llama.cpp's on this pool: on a
    CPU its ``prefill_engine_speedup_cpu`` where it has one (forks such as ik_llama.cpp
    rewrote the CPU kernels, not the GPU ones), else ``prefill_engine_speedup``."""
    if slot.kind == "cpu":
        key = f"prefill_engine_speedup_cpu.{engine.cost_key}"
        if key in constants.values:
            return constants[key]
    return constants.values.get(f"prefill_engine_speedup.{engine.cost_key}", 1.0)


def _prefill_rate(
    slot: Slot, engine: EngineProfile, constants: Constants, quantized: bool, weight_type: str = ""
) -> float:
    """FLOP/s a pool's processor reaches in prefill with ``engine``: its class's share of
    peak, the engine's kernels relative to llama.cpp's, and quantized weights (on GPUs
    the path the architecture and the engine's ``quantized_gemm`` give,
    :func:`.rates.gpu_quantized_prefill_scale`; on CPUs the 8-bit integer kernel the engine
    picks for ``weight_type``, :func:`.cpu_kernels.quantized_prefill_flops`)."""
    if quantized and slot.kind == "cpu" and slot.cpu is not None:
        return quantized_prefill_flops(slot.cpu, engine, weight_type, constants)
    rate = effective_flops(slot, constants) * engine_prefill_speedup(slot, engine, constants)
    if quantized:
        rate *= rates.gpu_quantized_prefill_scale(slot, engine, constants)
    return rate


def _attention_rate(slot: Slot, engine: EngineProfile, constants: Constants) -> float:
    """FLOP/s of prompt attention on a pool: the pool's FP16 prefill rate (attention
    multiplies the FP16 KV cache whatever format the weights are in), on GPUs times
    ``attention_rate_share`` (fused attention kernels reach less of the peak than plain
    matrix products); a CPU runs it in its plain FP32/FP16 kernels."""
    rate = _prefill_rate(slot, engine, constants, quantized=False)
    if slot.kind == "cpu":
        return rate
    return rate * constants["attention_rate_share"]


def host_offload(
    gpu_slots: list[Slot], engine: EngineProfile, parts: ModelParts, pass_tokens: int
) -> tuple[bool, bool]:
    """Whether a prefill pass of ``pass_tokens`` tokens copies host-held dense weights
    and host-held routed experts to the GPU to multiply them there (ggml's scheduler:
    from ``engine.host_offload_min_tokens`` tokens, 32 with CUDA; an engine with
    ``host_expert_offload_per_expert`` copies experts only when each expert gets that
    many tokens on average, i.e. pass tokens × experts_per_token ÷ experts_total ≥ 32)."""
    if not gpu_slots or not engine.prefill_on_gpu_for_host_layers:
        return False, False
    dense = pass_tokens >= engine.host_offload_min_tokens
    experts = dense
    if engine.host_expert_offload_per_expert and parts.expert_fraction_per_token < 1:
        experts = pass_tokens * parts.expert_fraction_per_token >= engine.host_offload_min_tokens
    return dense, experts


def host_copy_efficiency(engine: EngineProfile, constants: Constants) -> float:
    """Share of the PCIe link's rate that copies of host-held weights to the GPU reach.
    From pinned memory (``engine.host_weights_pinned``: llama.cpp ``--no-mmap``, which
    puts them in the GPU's host buffer type) the GPU's DMA engine reads them directly
    (``pcie_efficiency``). Memory-mapped weights (the default) are pageable: the driver
    first copies them into a pinned staging buffer, which about halves the rate
    (``pcie_pageable_efficiency``; llama.cpp PR 28223: 166 → 330 tokens/s of prefill
    once the host's experts were pinned, 2 × RTX 3090)."""
    if engine.host_weights_pinned:
        return constants["pcie_efficiency"]
    return constants["pcie_pageable_efficiency"]


def copied_expert_bytes(
    parts: ModelParts, engine: EngineProfile, constants: Constants, pass_tokens: int
) -> float:
    """Bytes of one host-held block's routed experts copied to the GPU for a prefill pass
    of ``pass_tokens`` tokens. An engine that copies whole expert tensors moves them all;
    one with ``engine.copies_routed_experts_only`` (llama.cpp since PR 15346) moves only
    the experts the pass routes to. Real routing is concentrated: the PR's log of a
    512-token batch of code on Qwen3-30B-A3B used 72-95 of 128 experts per layer where
    independent picks would touch all 128. So tokens are taken to pick among a pool of
    ``expert_copy_routed_share`` × experts: share × (1 − (1 − k ÷ (share × E))^tokens)."""
    if not engine.copies_routed_experts_only or parts.expert_fraction_per_token >= 1:
        return parts.expert_layer_bytes
    share = constants["expert_copy_routed_share"]
    pick = min(parts.expert_fraction_per_token / share, 1.0)
    return parts.expert_layer_bytes * share * (1.0 - (1.0 - pick) ** max(pass_tokens, 1))


def host_link_gbs(host: Slot, gpu: Slot) -> float:
    """Rated rate of ``gpu``'s PCIe link to the host, GB/s: lanes × GB/s per lane at the
    lower of the card's and the host's PCIe generation (the link trains at the lower)."""
    assert gpu.gpu is not None
    if host.cpu is not None and host.cpu.pcie_gen is not None:
        return PCIE_LANE_GBS[min(gpu.gpu.pcie_gen, host.cpu.pcie_gen)] * gpu.gpu.pcie_lanes
    return gpu.gpu.pcie_bandwidth_gbs


def offload_seconds(
    host: Slot,
    gpu: Slot,
    weight_bytes: float,
    flops: float,
    engine: EngineProfile,
    constants: Constants,
    quantized: bool,
    passes: int = 1,
    efficiency: float | None = None,
) -> tuple[float, float]:
    """(PCIe seconds, GPU seconds) to multiply ``weight_bytes`` of host-held weights
    (``flops`` FLOPs over the pass) on ``gpu``: the bytes cross the GPU's PCIe link
    (:func:`host_link_gbs` × ``efficiency``, by default ``pcie_efficiency``; a
    drive-spilled share is read from the drive first) and the GPU multiplies at its
    prefill rate. Per-token prefill of such layers is thus bounded by link bandwidth ×
    pass tokens ÷ weight bytes, not by the CPU's FLOP/s."""
    share = constants["pcie_efficiency"] if efficiency is None else efficiency
    link = host_link_gbs(host, gpu) * share * 1e9
    _, streamed = _drive_split(host, weight_bytes, constants, passes)
    return weight_bytes / link + streamed, flops / _prefill_rate(gpu, engine, constants, quantized)


def _host_part(
    slot: Slot,
    weight_bytes: float,
    flops: float,
    engine: EngineProfile,
    constants: Constants,
    quantized: bool,
    passes: int = 1,
    weight_type: str = "",
) -> tuple[float, float]:
    """(seconds, of which streamed from a drive) for the CPU to multiply ``weight_bytes``
    of its own weights (``flops`` FLOPs): the slower of reading them and its prefill rate."""
    if weight_bytes <= 0 and flops <= 0:
        return 0.0, 0.0
    t_memory, streamed = _read_seconds(slot, weight_bytes, 0.0, constants, passes=passes)
    rate = _prefill_rate(slot, engine, constants, quantized, weight_type)
    return max(t_memory, flops / rate), streamed


@dataclass(frozen=True)
class _PromptWork:
    """What one prompt asks of each layer, before any pool is chosen: forward passes
    (``engine.activation_tokens`` tokens each), attention and dense FLOPs per layer (the
    dense ones include attention), routed-expert FLOPs per layer (divided by the small
    matmuls' efficiency) and the expert bytes one pass reads per layer."""

    passes: int
    pass_tokens: int
    attention: float
    dense_flops: float
    expert_flops: float
    expert_read: float
    quantized: bool


def _prompt_work(
    parts: ModelParts,
    engine: EngineProfile,
    constants: Constants,
    prompt_tokens: int,
    bits_per_weight: float,
    depth_tokens: int,
) -> _PromptWork:
    model = parts.model
    pass_tokens = min(prompt_tokens, engine.activation_tokens)
    attention = (
        4.0
        * prompt_tokens
        * model.prefill_attended_tokens(depth_tokens, prompt_tokens)
        * model.attention_heads
        * model.head_dim
    )
    expert_rows = pass_tokens * parts.expert_fraction_per_token
    expert_eff = expert_matmul_efficiency(expert_rows, engine, constants)
    expert_flops = (
        2.0 * prompt_tokens * parts.expert_layer_params * parts.expert_fraction_per_token
    ) / expert_eff
    return _PromptWork(
        passes=math.ceil(prompt_tokens / engine.activation_tokens),
        pass_tokens=pass_tokens,
        attention=attention,
        dense_flops=2.0 * prompt_tokens * parts.dense_layer_params + attention,
        expert_flops=expert_flops,
        expert_read=parts.expert_layer_bytes * parts.expert_read_fraction(pass_tokens),
        quantized=bits_per_weight < 15.5,
    )


def prefill(
    placement: Placement,
    parts: ModelParts,
    engine: EngineProfile,
    constants: Constants,
    prompt_tokens: int,
    bits_per_weight: float,
    depth_tokens: int = 0,
) -> StepTime:
    """Time to process one prompt of ``prompt_tokens`` tokens after ``depth_tokens``
    already in the context.

    Dense matrix work runs at the pool's prefill rate (:func:`_prefill_rate`); routed
    experts see only their share of each forward pass's tokens, so they run less
    efficiently (:func:`expert_matmul_efficiency`, a property of the engine's kernels);
    attention costs 4 × prompt × attended keys × heads × head_dim per layer, the keys
    averaged over the layers (:meth:`ModelArch.prefill_attended_tokens`: depth + prompt /
    2 for full attention, at most the window for sliding layers, none for linear ones),
    at the pool's FP16 rate (:func:`_attention_rate`; in a host pool whose layers the
    GPU multiplies, at the weights' rate).
    Layers held in system RAM beside a GPU are multiplied on the GPU when the engine
    offloads them (:func:`host_offload`; PCIe-bound, :func:`offload_seconds`), else by
    the CPU; the two parts of a host pool add. Seconds.
    """
    work = _prompt_work(parts, engine, constants, prompt_tokens, bits_per_weight, depth_tokens)
    gpu_slots = [s for s in placement.slots if s.kind == "gpu"]
    offload = host_offload(gpu_slots, engine, parts, work.pass_tokens)
    times = []
    for slot in _pools(placement):
        if slot.kind == "cpu" and any(offload):
            times.append(
                _host_pool_prefill(slot, gpu_slots[0], work, offload, parts, engine, constants)
            )
        else:
            times.append(_pool_prefill(slot, work, parts, engine, constants))
    return _prefill_total(placement, times, work, engine, constants, parts.model.hidden_size)


def _pool_prefill(
    slot: Slot, work: _PromptWork, parts: ModelParts, engine: EngineProfile, constants: Constants
) -> SlotTime:
    """A pool that multiplies its own layers: the slower of reading its weights once per
    pass and its compute (weights at the pool's prefill rate, attention at its FP16 rate)."""
    weights = work.passes * (
        slot.dense_layers * parts.dense_layer_bytes + slot.expert_layers * work.expert_read
    )
    t_memory, streamed = _read_seconds(slot, weights, 0.0, constants, passes=work.passes)
    rate = _prefill_rate(slot, engine, constants, work.quantized, parts.weight_type)
    attention_f = slot.dense_layers * work.attention
    weight_f = slot.dense_layers * work.dense_flops - attention_f
    weight_f += slot.expert_layers * work.expert_flops
    t_compute = weight_f / rate + attention_f / _attention_rate(slot, engine, constants)
    t_experts = _expert_pass_overhead_s(slot, slot.expert_layers, work, parts, engine, constants)
    return SlotTime(
        slot.label,
        slot.kind,
        max(t_memory, t_compute) + t_experts,
        weights,
        t_compute >= t_memory,
        streamed,
    )


def _expert_pass_overhead_s(
    slot: Slot,
    layers: int,
    work: _PromptWork,
    parts: ModelParts,
    engine: EngineProfile,
    constants: Constants,
) -> float:
    """The fixed cost of ``layers`` mixture-of-experts blocks over every forward pass of a
    prompt on pool ``slot`` (:func:`moe_prefill_overhead_s`), s."""
    if parts.expert_layer_bytes <= 0 or layers <= 0:
        return 0.0
    return work.passes * layers * moe_prefill_overhead_s(slot.kind, engine, constants)


def _host_pool_prefill(
    slot: Slot,
    first: Slot,
    work: _PromptWork,
    offload: tuple[bool, bool],
    parts: ModelParts,
    engine: EngineProfile,
    constants: Constants,
) -> SlotTime:
    """A host pool beside GPUs: the weights the engine offloads (dense, routed experts)
    are copied to the first GPU for every forward pass and multiplied there, the rest
    computed by the CPU. The scheduler copies a split's weights, then computes it: the
    copies do not overlap the GPU's work (llama.cpp issue 25859, PR 28414)."""
    assert first.gpu is not None
    offload_dense, offload_experts = offload
    dense_w = work.passes * slot.dense_layers * parts.dense_layer_bytes
    expert_w = work.passes * slot.expert_layers * work.expert_read
    dense_f = slot.dense_layers * work.dense_flops
    expert_f = slot.expert_layers * work.expert_flops
    copied = copied_expert_bytes(parts, engine, constants, work.pass_tokens)
    copied_w = work.passes * slot.expert_layers * copied
    moved_w = (dense_w if offload_dense else 0.0) + (copied_w if offload_experts else 0.0)
    moved_f = (dense_f if offload_dense else 0.0) + (expert_f if offload_experts else 0.0)
    share = host_copy_efficiency(engine, constants)
    t_link, t_gpu = offload_seconds(
        slot, first, moved_w, moved_f, engine, constants, work.quantized, work.passes, share
    )
    host_w = (0.0 if offload_dense else dense_w) + (0.0 if offload_experts else expert_w)
    host_f = (0.0 if offload_dense else dense_f) + (0.0 if offload_experts else expert_f)
    t_host, streamed = _host_part(
        slot, host_w, host_f, engine, constants, work.quantized, work.passes, parts.weight_type
    )
    seconds = t_link + t_gpu + t_host
    if offload_experts:
        # The GPU runs the copied experts' expert-indexed multiplies, fixed costs included.
        layers = slot.expert_layers
        seconds += _expert_pass_overhead_s(first, layers, work, parts, engine, constants)
    return SlotTime(slot.label, slot.kind, seconds, dense_w + expert_w, t_gpu >= t_link, streamed)


def _prefill_total(
    placement: Placement,
    times: list[SlotTime],
    work: _PromptWork,
    engine: EngineProfile,
    constants: Constants,
    hidden_size: int,
) -> StepTime:
    """The prompt's time from its pools': tensor-parallel GPUs work side by side and
    synchronise per layer and pass; other pools (and unplaced layers) take turns."""
    if placement.tensor_parallel <= 1:
        return StepTime(sum(t.seconds for t in times), tuple(times), 0.0, 0.0, False)
    gpu_times = [t.seconds for t in times if t.kind == "gpu" and t.label != UNPLACED]
    rest = [t.seconds for t in times if t.kind != "gpu" or t.label == UNPLACED]
    message = work.pass_tokens * hidden_size * 2.0
    per_layer = _sync_per_layer_s(placement, engine, message, constants)
    sync = work.passes * _synced_layers(placement) * per_layer
    total = max(gpu_times, default=0.0) + sum(rest)
    return StepTime(total + sync, tuple(times), sync, 0.0, True)
