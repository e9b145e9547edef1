"""Where each part of the model lives: GPUs first, then system RAM, then (for engines
that memory-map weights) the drive.

A :class:`Placement` lists one :class:`Slot` per memory pool with the share of the model
it holds. With a layer split each GPU holds whole layers, in proportion to its VRAM when
everything fits (llama.cpp's default split). When the GPUs are too small and the engine
can compute on the CPU, a mixture-of-experts model first moves routed experts to system
RAM, layer by layer, keeping attention and the KV cache on the GPUs (llama.cpp's
``--n-cpu-moe``); a dense model moves whole layers (``-ngl``). A tensor split gives every
GPU the same slice of every layer. What does not fit in RAM streams from the drive if the
engine memory-maps weights; otherwise it has nowhere to go and the estimate says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from . import devices, memory, rates
from .calibration import Constants
from .engines import EngineProfile
from .hardware import CpuSystem, Gpu, Machine, Storage, UnifiedMemorySystem
from .memory import ModelParts
from .model import ModelArch
from .quant import Quant
from .rates import gpu_class
from .workload import Workload

DEFAULT_STORAGE = Storage("an assumed NVMe SSD (5,000 MB/s)", 5000.0)
UNPLACED = "not placed"


@dataclass(frozen=True)
class Slot:
    """One memory pool and the share of the model it holds.

    ``kind``: gpu, cpu or unified; ``device_class``: its calibration class (gpu_nvidia,
    cpu, unified_apple, ...). ``dense_layers``: blocks whose attention and dense weights
    are here; ``expert_layers``: blocks whose routed experts are here; ``kv_layers``:
    blocks whose KV cache is here; ``head_share`` / ``embedding_share``: share of the
    output head / input embedding held. ``weights_bytes``, ``kv_bytes`` and
    ``overhead_bytes`` (runtime and compute buffers) are resident memory;
    ``spill_fraction`` of this pool's weights is instead read from a drive at
    ``spill_bandwidth_gbs``. ``matrix_tflops``: peak matrix throughput (the larger of FP16
    and FP32; FP32 for CPUs); ``alu_tflops``: plain FP32 rate used for dequantization.
    ``backend``: the engine's backend computing on this pool (CUDA, ROCm, Vulkan, ...).
    """

    label: str
    kind: str
    device_class: str
    capacity_bytes: float
    bandwidth_gbs: float
    matrix_tflops: float
    alu_tflops: float
    tdp_w: float
    dense_layers: float
    expert_layers: float
    kv_layers: float
    head_share: float
    embedding_share: float
    weights_bytes: float
    kv_bytes: float
    overhead_bytes: float
    spill_fraction: float = 0.0
    spill_bandwidth_gbs: float = 0.0
    gpu: Gpu | None = None
    cpu: CpuSystem | None = None
    unified: UnifiedMemorySystem | None = None
    backend: str = ""

    @property
    def used_bytes(self) -> float:
        """Resident weights, KV cache and overhead together."""
        return self.weights_bytes + self.kv_bytes + self.overhead_bytes

    @property
    def fits(self) -> bool:
        """True if what this pool holds fits its capacity."""
        return self.used_bytes <= self.capacity_bytes * (1 + 1e-9)

    @property
    def layers(self) -> float:
        """Blocks this pool computes any part of."""
        return max(self.dense_layers, self.expert_layers)


@dataclass(frozen=True)
class Placement:
    """The whole layout.

    ``split``: single, layer or tensor; ``tensor_parallel``: GPUs sharing each layer (1
    without a tensor split); ``link``: nvlink, pcie or host between them
    (:data:`LINK_NAMES`). ``spilled_bytes``: weights read from ``storage`` for every
    token; ``unplaced_bytes`` and ``unplaced_layers``: what has nowhere to go.
    ``gpu_layers`` / ``host_layers``: blocks computed on GPUs / in system RAM;
    ``host_expert_layers``: blocks whose experts sit in system RAM while the rest of the
    block is on a GPU.
    """

    slots: tuple[Slot, ...]
    split: str
    tensor_parallel: int
    link: str
    spilled_bytes: float
    unplaced_bytes: float
    unplaced_layers: float
    gpu_layers: float
    host_layers: float
    host_expert_layers: float
    total_layers: int
    storage: Storage | None
    storage_assumed: bool
    link_gbs: float = 0.0
    stand_in: Slot | None = None
    split_note: str = ""

    @property
    def fits(self) -> bool:
        """Everything in memory: nothing streamed, nothing unplaced, no pool over capacity."""
        return (
            self.spilled_bytes <= 0 and self.unplaced_bytes <= 0 and all(s.fits for s in self.slots)
        )

    @property
    def missing_bytes(self) -> float:
        """Memory short of a full fit."""
        excess = sum(max(s.used_bytes - s.capacity_bytes, 0.0) for s in self.slots)
        return self.spilled_bytes + self.unplaced_bytes + excess

    def describe(self) -> str:
        """One line, e.g. ``40 + 40 layers on 2 GPUs (layer split)``."""
        parts = []
        gpu_slots = [s for s in self.slots if s.kind == "gpu"]
        if gpu_slots and self.tensor_parallel > 1:
            parts.append(
                f"{_fmt(self.gpu_layers)} layers tensor-parallel over {self.tensor_parallel} "
                f"GPUs ({LINK_NAMES.get(self.link, self.link)})"
            )
        elif gpu_slots:
            shares = " + ".join(_fmt(s.dense_layers) for s in gpu_slots)
            where = f"{len(gpu_slots)} GPUs" if len(gpu_slots) > 1 else gpu_slots[0].label
            parts.append(f"{shares} layers on {where}")
        if self.host_expert_layers > 0:
            parts.append(f"routed experts of {_fmt(self.host_expert_layers)} layers in system RAM")
        for slot in self.slots:
            if slot.kind == "cpu" and slot.dense_layers > 0:
                parts.append(f"{_fmt(self.host_layers)} layers in system RAM")
            elif slot.kind == "unified":
                parts.append(f"all {self.total_layers} layers in unified memory")
        if self.spilled_bytes > 0 and self.storage is not None:
            parts.append(f"{self.spilled_bytes / 1e9:.1f} GB streamed from {self.storage.name}")
        if self.unplaced_layers > 0:
            parts.append(f"{_fmt(self.unplaced_layers)} layers with nowhere to go")
        text = "; ".join(parts)
        return f"{text} ({self.split} split)" if self.split != "single" else text


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-6 else f"{value:.1f}"


unified_class = devices.unified_class


def check_compatibility(
    machine: Machine, quant: Quant, engine: EngineProfile, split: str | None
) -> str:
    """Raise ``ValueError`` if ``engine`` cannot run ``quant`` on ``machine``; return the
    split to use (``single`` for one device)."""
    if not engine.accepts(quant.family):
        allowed = ", ".join(sorted(engine.formats | {"native"}))
        raise ValueError(
            f"quant: {quant.name} ({quant.family}) does not run on {engine.name}; "
            f"it loads {allowed}"
        )
    if machine.unified is not None:
        if machine.unified.vendor not in engine.unified_vendors:
            vendor = machine.unified.vendor
            raise ValueError(
                f"engine: {engine.name} does not run on {vendor} unified-memory systems"
            )
    elif machine.gpus:
        for group in machine.gpus:
            if group.gpu.vendor not in engine.gpu_vendors:
                allowed = ", ".join(sorted(engine.gpu_vendors)) or "no discrete GPUs"
                raise ValueError(
                    f"engine: {engine.name} does not run on {group.gpu.vendor} GPUs "
                    f"(supports {allowed})"
                )
    elif not engine.runs_on_cpu:
        raise ValueError(f"engine: {engine.name} needs a GPU; this machine has only a CPU")
    if split is not None and split not in engine.splits:
        raise ValueError(
            f"split must be one of {', '.join(engine.splits)} for {engine.name} (got {split!r})"
        )
    if machine.gpu_count <= 1 or machine.unified is not None:
        return "single"
    return split or engine.default_split


class _Sizes:
    """Byte sizes of the model's parts for one workload."""

    def __init__(
        self, parts: ModelParts, workload: Workload, engine: EngineProfile, bits: float
    ) -> None:
        model = parts.model
        self.bits = bits
        ctx = workload.context_tokens
        self.parts = parts
        self.layers = parts.layers
        self.dense = parts.dense_layer_bytes
        self.expert = parts.expert_layer_bytes
        self.kv = memory.kv_bytes_per_layer(model, ctx, workload.kv_cache_bits) * (
            workload.concurrent_sequences
        )
        self.full = self.dense + self.expert + self.kv
        self.embedding = parts.embedding_bytes
        self.head = parts.head_bytes
        self.tied = model.tie_word_embeddings
        self.runtime = engine.gpu_runtime_overhead_gb * 1e9
        self.buffer = memory.compute_buffer_bytes(model, engine, ctx, holds_output=False)
        self.buffer_out = memory.compute_buffer_bytes(model, engine, ctx, holds_output=True)


def place(
    machine: Machine,
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    engine: EngineProfile,
    constants: Constants,
    split: str | None = None,
    gpu_layers: int | None = None,
    cpu_moe_layers: int | None = None,
    parts: ModelParts | None = None,
    backend: str | None = None,
) -> Placement:
    """Lay the model out on ``machine`` for inference (see the module docstring).

    ``gpu_layers`` (llama.cpp's ``-ngl``: more than the model's layers also puts the
    output head on the GPU) and ``cpu_moe_layers`` (``--n-cpu-moe``: routed experts of
    that many of the GPU layers stay in system RAM) force a layout instead of the
    automatic one; forced layouts are not limited by capacity (the report shows any
    excess). ``backend`` chooses the engine's backend for the accelerators (default:
    the engine's own for the vendor). A tensor split the engine cannot make with this
    model's heads becomes a layer (pipeline) split, said in ``split_note``.
    """
    note = ""
    if split is None and machine.gpu_count > 1 and machine.unified is None:
        split = engine.default_split
    if split == "tensor" and machine.gpu_count > 1:
        problem = engine.tensor_parallel_problem(
            machine.gpu_count, model.attention_heads, model.kv_heads
        )
        if problem:
            if "layer" not in engine.splits:
                raise ValueError(f"split: tensor parallel over {machine.gpu_count} GPUs: {problem}")
            note = (
                f"{engine.name} cannot shard this model over {machine.gpu_count} GPUs "
                f"({problem}); pipeline (layer) split used instead."
            )
            split = "layer"
    layout = _place(
        machine, model, quant, workload, engine, constants, split, gpu_layers, cpu_moe_layers, parts
    )
    layout = _with_backends(layout, machine, engine, backend)
    return replace(_finish(layout, constants), split_note=note)


def _with_backends(
    layout: Placement, machine: Machine, engine: EngineProfile, backend: str | None
) -> Placement:
    """Name the backend computing on each pool (the chosen one for accelerators)."""
    slots = []
    for slot in layout.slots:
        if slot.kind == "cpu":
            name = "CPU"
        else:
            vendor = slot.unified.vendor if slot.unified is not None else slot.gpu.vendor
            unified = slot.kind == "unified"
            if backend:
                name = engine.check_backend(backend, vendor, unified)
            else:
                name = engine.backend_for(vendor, unified)
        slots.append(replace(slot, backend=name))
    return replace(layout, slots=tuple(slots))


def _finish(layout: Placement, constants: Constants) -> Placement:
    """Add the link bandwidth and the stand-in pool for unplaced layers."""
    gpus = [s.gpu for s in layout.slots if s.kind == "gpu" and s.gpu is not None]
    link = 0.0
    if gpus:
        if layout.link == "nvlink":
            link = min(g.interconnect_bandwidth_gbs for g in gpus)
        else:
            link = min(g.pcie_bandwidth_gbs for g in gpus)
    stand_in = None
    if layout.unplaced_layers > 0 and layout.slots:
        base = min(layout.slots, key=lambda s: rates.slot_bandwidth_gbs(s, constants))
        rate = min(rates.slot_flops(s, constants) for s in layout.slots)
        scale = constants[f"prefill_efficiency.{base.device_class}"]
        layers = layout.unplaced_layers
        stand_in = replace(
            base,
            label=UNPLACED,
            matrix_tflops=rate / 1e12 / scale,
            alu_tflops=min(s.alu_tflops for s in layout.slots),
            dense_layers=layers,
            expert_layers=layers,
            kv_layers=layers,
            head_share=0.0,
            embedding_share=0.0,
            spill_fraction=0.0,
        )
    return replace(layout, link_gbs=link, stand_in=stand_in)


def _place(
    machine: Machine,
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    engine: EngineProfile,
    constants: Constants,
    split: str | None,
    gpu_layers: int | None,
    cpu_moe_layers: int | None,
    parts: ModelParts | None,
) -> Placement:
    split_used = check_compatibility(machine, quant, engine, split)
    sizes = _Sizes(
        parts or memory.model_parts(model, quant), workload, engine, quant.bits_per_weight
    )
    if machine.unified is not None:
        return _place_unified(machine, machine.unified, sizes, engine)
    if not machine.gpus:
        return _place_host_only(machine, sizes, engine, constants)
    host_ok = engine.runs_on_cpu and machine.cpu is not None
    if split_used == "tensor":
        return _place_tensor(machine, sizes, engine, constants, host_ok, gpu_layers)
    return _place_layers(
        machine, sizes, engine, constants, host_ok, split_used, gpu_layers, cpu_moe_layers
    )


def _storage(machine: Machine) -> tuple[Storage, bool]:
    if machine.storage is not None:
        return machine.storage, False
    return DEFAULT_STORAGE, True


def _spill(
    slot: Slot, machine: Machine, engine: EngineProfile
) -> tuple[Slot, float, float, Storage | None, bool]:
    """Stream what does not fit from the drive (memory-mapping engines) or leave it
    unplaced. Returns (slot, spilled bytes, unplaced bytes, storage, storage assumed)."""
    excess = slot.used_bytes - slot.capacity_bytes
    if excess <= 0:
        return slot, 0.0, 0.0, None, False
    if not engine.streams_from_storage:
        return slot, 0.0, excess, None, False
    spilled = min(excess, slot.weights_bytes)
    storage, assumed = _storage(machine)
    fraction = spilled / slot.weights_bytes if slot.weights_bytes > 0 else 0.0
    kept = replace(
        slot,
        weights_bytes=slot.weights_bytes - spilled,
        spill_fraction=fraction,
        spill_bandwidth_gbs=storage.bandwidth_gbs,
    )
    return kept, spilled, excess - spilled, storage, assumed


def _host_capacity(cpu: CpuSystem, constants: Constants) -> float:
    return max(cpu.capacity_bytes - constants["os_reserved_ram_gb"] * 1e9, 0.0)


def _host_slot(
    cpu: CpuSystem,
    sizes: _Sizes,
    constants: Constants,
    layers: float,
    expert_only_layers: float,
    head_share: float,
    embedding_share: float,
) -> Slot:
    weights = layers * (sizes.dense + sizes.expert) + expert_only_layers * sizes.expert
    weights += head_share * sizes.head
    if not (sizes.tied and head_share > 0):
        weights += embedding_share * sizes.embedding
    computes = layers > 0 or head_share > 0
    return Slot(
        label=cpu.name if cpu.sockets == 1 else f"{cpu.sockets} × {cpu.name}",
        kind="cpu",
        device_class="cpu",
        capacity_bytes=_host_capacity(cpu, constants),
        bandwidth_gbs=cpu.bandwidth_gbs,
        matrix_tflops=cpu.fp32_gflops / 1000,
        alu_tflops=cpu.fp32_gflops / 1000,
        tdp_w=cpu.tdp_w,
        dense_layers=layers,
        expert_layers=layers + expert_only_layers,
        kv_layers=layers,
        head_share=head_share,
        embedding_share=embedding_share,
        weights_bytes=weights,
        kv_bytes=layers * sizes.kv,
        overhead_bytes=(sizes.buffer_out if head_share > 0 else sizes.buffer) if computes else 0.0,
        cpu=cpu,
    )


def _place_host_only(
    machine: Machine, sizes: _Sizes, engine: EngineProfile, constants: Constants
) -> Placement:
    cpu = machine.cpu
    assert cpu is not None
    host = _host_slot(cpu, sizes, constants, sizes.layers, 0.0, 1.0, 1.0)
    host, spilled, unplaced, storage, assumed = _spill(host, machine, engine)
    return Placement(
        (host,),
        "single",
        1,
        "",
        spilled,
        unplaced,
        0.0,
        0.0,
        float(sizes.layers),
        0.0,
        sizes.layers,
        storage,
        assumed,
    )


def _place_unified(
    machine: Machine, system: UnifiedMemorySystem, sizes: _Sizes, engine: EngineProfile
) -> Placement:
    weights = sizes.layers * (sizes.dense + sizes.expert) + sizes.head
    weights += 0.0 if sizes.tied else sizes.embedding
    slot = Slot(
        label=system.name,
        kind="unified",
        device_class=unified_class(system),
        capacity_bytes=system.capacity_bytes,
        bandwidth_gbs=system.bandwidth_gbs,
        matrix_tflops=system.gpu_fp16_tflops,
        alu_tflops=system.gpu_fp16_tflops,
        tdp_w=system.tdp_w,
        dense_layers=float(sizes.layers),
        expert_layers=float(sizes.layers),
        kv_layers=float(sizes.layers),
        head_share=1.0,
        embedding_share=1.0,
        weights_bytes=weights,
        kv_bytes=sizes.layers * sizes.kv,
        overhead_bytes=sizes.runtime + sizes.buffer_out,
        unified=system,
    )
    slot, spilled, unplaced, storage, assumed = _spill(slot, machine, engine)
    unplaced_layers = min(unplaced / sizes.full, sizes.layers) if unplaced > 0 else 0.0
    return Placement(
        (slot,),
        "single",
        1,
        "",
        spilled,
        unplaced,
        unplaced_layers,
        float(sizes.layers),
        0.0,
        0.0,
        sizes.layers,
        storage,
        assumed,
    )


def _gpu_slot(
    gpu: Gpu,
    index: int,
    engine: EngineProfile,
    sizes: _Sizes,
    dense_layers: float,
    expert_layers: float,
    head_share: float,
    embedding_share: float,
) -> Slot:
    weights = dense_layers * sizes.dense + expert_layers * sizes.expert + head_share * sizes.head
    if not (sizes.tied and head_share > 0):
        weights += embedding_share * sizes.embedding
    buffer = sizes.buffer_out if head_share > 0 else sizes.buffer
    alu = rates.gpu_alu_tflops(gpu)
    return Slot(
        label=f"GPU {index}: {gpu.name}",
        kind="gpu",
        device_class=gpu_class(gpu),
        capacity_bytes=gpu.capacity_bytes * engine.gpu_memory_utilization,
        bandwidth_gbs=gpu.bandwidth_gbs,
        matrix_tflops=max(gpu.fp16_tflops, gpu.fp32_tflops),
        alu_tflops=alu,
        tdp_w=gpu.tdp_w,
        dense_layers=dense_layers,
        expert_layers=expert_layers,
        kv_layers=dense_layers,
        head_share=head_share,
        embedding_share=embedding_share,
        weights_bytes=weights,
        kv_bytes=dense_layers * sizes.kv,
        overhead_bytes=sizes.runtime + buffer,
        gpu=gpu,
    )


def _assemble(
    machine: Machine,
    sizes: _Sizes,
    engine: EngineProfile,
    constants: Constants,
    gpu_slots: list[Slot],
    host_ok: bool,
    host_layers: float,
    host_expert_layers: float,
    head_on_host: bool,
    embedding_on_host: bool,
    split: str,
    tp: int,
    link: str,
) -> Placement:
    slots = list(gpu_slots)
    spilled = unplaced = unplaced_layers = 0.0
    storage: Storage | None = None
    assumed = False
    gpu_layers = float(sizes.layers) - host_layers
    if host_ok and machine.cpu is not None:
        host = _host_slot(
            machine.cpu,
            sizes,
            constants,
            host_layers,
            host_expert_layers,
            1.0 if head_on_host else 0.0,
            1.0 if embedding_on_host else 0.0,
        )
        host, spilled, unplaced, storage, assumed = _spill(host, machine, engine)
        slots.append(host)
        if unplaced > 0:
            unplaced_layers = min(unplaced / sizes.full, sizes.layers)
    elif host_layers > 0 or head_on_host:
        unplaced = host_layers * sizes.full + (sizes.head if head_on_host else 0.0)
        unplaced_layers = host_layers
        host_layers = 0.0
    return Placement(
        tuple(slots),
        split,
        tp,
        link,
        spilled,
        unplaced,
        unplaced_layers,
        gpu_layers,
        host_layers,
        host_expert_layers,
        sizes.layers,
        storage,
        assumed,
    )


def _place_layers(
    machine: Machine,
    sizes: _Sizes,
    engine: EngineProfile,
    constants: Constants,
    host_ok: bool,
    split: str,
    gpu_layers: int | None,
    cpu_moe_layers: int | None,
) -> Placement:
    gpus = machine.gpu_list()
    vram = [g.capacity_bytes for g in gpus]
    embedding_on_host = engine.input_embedding_on_host and host_ok
    is_moe = sizes.expert > 0
    if gpu_layers is not None or cpu_moe_layers is not None:
        counts, experts, head_on_gpu = _forced_counts(
            sizes, vram, gpu_layers, cpu_moe_layers, host_ok, is_moe
        )
    else:
        free = _free_bytes(gpus, sizes, engine, embedding_on_host)
        counts, experts, head_on_gpu = _fitted_counts(sizes, vram, free, host_ok, is_moe)
    last = len(gpus) - 1
    gpu_slots = [
        _gpu_slot(
            gpu,
            i,
            engine,
            sizes,
            float(counts[i]),
            float(experts[i]),
            1.0 if (head_on_gpu and i == last) else 0.0,
            1.0 if (i == 0 and not embedding_on_host) else 0.0,
        )
        for i, gpu in enumerate(gpus)
    ]
    host_layers = float(sizes.layers - sum(counts))
    host_expert_layers = float(sum(counts) - sum(experts))
    return _assemble(
        machine,
        sizes,
        engine,
        constants,
        gpu_slots,
        host_ok,
        host_layers,
        host_expert_layers,
        not head_on_gpu,
        embedding_on_host,
        split,
        1,
        _link(gpus),
    )


def _free_bytes(gpus: list, sizes: _Sizes, engine: EngineProfile, embedding_on_host: bool):
    """``free(i, head)``: bytes GPU ``i`` has for layers once the runtime, its compute
    buffer, the output head (when it holds it) and the input embedding (GPU 0, unless it
    stays on the host or is tied to a head held elsewhere) are in."""

    def free(i: int, head: bool) -> float:
        cap = gpus[i].capacity_bytes * engine.gpu_memory_utilization
        used = sizes.runtime + (sizes.buffer_out if head else sizes.buffer)
        used += sizes.head if head else 0.0
        if i == 0 and not embedding_on_host and not (sizes.tied and head):
            used += sizes.embedding
        return max(cap - used, 0.0)

    return free


def _forced_counts(
    sizes: _Sizes,
    vram: list[float],
    gpu_layers: int | None,
    cpu_moe_layers: int | None,
    host_ok: bool,
    is_moe: bool,
) -> tuple[list[int], list[int], bool]:
    """Layers and expert blocks per GPU, and whether the head is on a GPU, as ``-ngl``
    and ``--n-cpu-moe`` ask (layers spread by VRAM; the first layers' experts to RAM)."""
    wanted = sizes.layers + 1 if gpu_layers is None else gpu_layers
    n = min(max(wanted, 0), sizes.layers)
    head_on_gpu = wanted > sizes.layers or not host_ok
    counts = _proportional(n, vram, [n] * len(vram))
    moe_host = min(cpu_moe_layers or 0, n) if (is_moe and host_ok) else 0
    return counts, _take_from_front(counts, moe_host), head_on_gpu


def _fitted_counts(
    sizes: _Sizes, vram: list[float], free, host_ok: bool, is_moe: bool
) -> tuple[list[int], list[int], bool]:
    """Layers and expert blocks per GPU, and whether the head is on a GPU, as the engine
    fits them: every layer on the GPUs when they hold them; for a MoE model that does not
    fit, attention and KV of every layer on the GPUs with the experts where they fit;
    else as many whole layers as fit, the rest (and the head) on the host."""
    count, last = len(vram), len(vram) - 1
    limits = [math.floor(free(i, i == last) / sizes.full) for i in range(count)]
    if sum(limits) >= sizes.layers:
        counts = _proportional(sizes.layers, vram, limits)
        return counts, list(counts), True
    if is_moe and host_ok and _dense_fit(sizes, free, count, last) >= sizes.layers:
        dense = sizes.dense + sizes.kv
        dense_limits = [math.floor(free(i, i == last) / dense) for i in range(count)]
        counts = _proportional(sizes.layers, vram, dense_limits)
        experts = []
        for i, layers in enumerate(counts):
            spare = free(i, i == last) - layers * dense
            experts.append(min(layers, max(math.floor(spare / sizes.expert), 0)))
        return counts, experts, True
    head_on_gpu = not host_ok
    limits = [math.floor(free(i, head_on_gpu and i == last) / sizes.full) for i in range(count)]
    counts = [min(limit, sizes.layers) for limit in limits]
    excess = sum(counts) - sizes.layers
    for i in reversed(range(len(counts))):
        cut = min(counts[i], max(excess, 0))
        counts[i] -= cut
        excess -= cut
    return counts, list(counts), head_on_gpu


def _dense_fit(sizes: _Sizes, free, count: int, last: int) -> int:
    return sum(math.floor(free(i, i == last) / (sizes.dense + sizes.kv)) for i in range(count))


def _take_from_front(counts: list[int], moved: int) -> list[int]:
    """Experts kept on each GPU when the experts of the first ``moved`` GPU layers go to
    system RAM (llama.cpp counts ``--n-cpu-moe`` from the first layer)."""
    experts = []
    for count in counts:
        take = min(count, moved)
        experts.append(count - take)
        moved -= take
    return experts


def _place_tensor(
    machine: Machine,
    sizes: _Sizes,
    engine: EngineProfile,
    constants: Constants,
    host_ok: bool,
    gpu_layers: int | None,
) -> Placement:
    gpus = machine.gpu_list()
    n = len(gpus)
    embedding_on_host = engine.input_embedding_on_host and host_ok
    per_layer = sizes.full / n

    def free(head: bool) -> float:
        cap = min(g.capacity_bytes for g in gpus) * engine.gpu_memory_utilization
        used = sizes.runtime + (sizes.buffer_out if head else sizes.buffer)
        used += (sizes.head / n if head else 0.0) + (
            0.0 if embedding_on_host else sizes.embedding / n
        )
        return max(cap - used, 0.0)

    if gpu_layers is not None:
        on_gpus = min(max(gpu_layers, 0), sizes.layers)
        head_on_gpu = gpu_layers > sizes.layers or not host_ok
    else:
        head_on_gpu = True
        on_gpus = min(sizes.layers, math.floor(free(True) / per_layer))
        if on_gpus < sizes.layers and host_ok:
            head_on_gpu = False
            on_gpus = min(sizes.layers, math.floor(free(False) / per_layer))
    share = on_gpus / n
    gpu_slots = [
        _gpu_slot(
            gpu,
            i,
            engine,
            sizes,
            share,
            share,
            (1.0 / n) if head_on_gpu else 0.0,
            0.0 if embedding_on_host else 1.0 / n,
        )
        for i, gpu in enumerate(gpus)
    ]
    return _assemble(
        machine,
        sizes,
        engine,
        constants,
        gpu_slots,
        host_ok,
        float(sizes.layers - on_gpus),
        0.0,
        not head_on_gpu,
        embedding_on_host,
        "tensor",
        n,
        _link(gpus),
    )


# What the GPUs of a tensor split exchange their partial results over, as named to users.
LINK_NAMES = {
    "nvlink": "NVLink",
    "pcie": "PCIe",
    "host": "PCIe through host memory (no peer-to-peer)",
}


def _link(gpus: list[Gpu]) -> str:
    """``nvlink`` when every GPU's link reaches every other (all have one and the group
    it joins all-to-all, where known, holds them all); else ``pcie`` with peer-to-peer
    access, or ``host`` when a card refuses it (transfers are staged in system RAM)."""
    n = len(gpus)
    if n > 1 and all(
        g.interconnect_bandwidth_gbs > 0
        and (g.interconnect_group_size == 0 or n <= g.interconnect_group_size)
        for g in gpus
    ):
        return "nvlink"
    if any(g.pcie_p2p is False for g in gpus):
        return "host"
    return "pcie"


def _proportional(total: int, weights: list[float], limits: list[int]) -> list[int]:
    """Split ``total`` whole items in proportion to ``weights`` without exceeding
    ``limits`` (largest remainders first)."""
    counts = [0] * len(weights)
    remaining = total
    while remaining > 0:
        open_ = [i for i in range(len(weights)) if counts[i] < limits[i]]
        if not open_:
            break
        weight_sum = sum(weights[i] for i in open_)
        shares = {i: remaining * weights[i] / weight_sum for i in open_}
        given = 0
        for i in open_:
            take = min(math.floor(shares[i]), limits[i] - counts[i])
            counts[i] += take
            given += take
        if given == 0:
            for i in sorted(open_, key=lambda j: shares[j] - math.floor(shares[j]), reverse=True):
                if given >= remaining:
                    break
                counts[i] += 1
                given += 1
        remaining -= given
    return counts
