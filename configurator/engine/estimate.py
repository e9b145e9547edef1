"""The engine's entry point: :func:`estimate`."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from . import checks, memory, power
from . import spec as speculation
from . import training as train
from .calibration import Constants, load_constants
from .collectives import allreduce_algorithm, allreduce_latency_s
from .engines import (
    DEFAULT_ENGINE,
    TRAINING_FRAMEWORKS,
    EngineProfile,
    engine_profile,
    training_framework,
)
from .evidence import query_for
from .hardware import GIB_BYTES, Machine, with_threads
from .model import ModelArch
from .placement import LINK_NAMES, Placement, Slot, place
from .quant import Quant
from .rates import slot_bandwidth_efficiency
from .results import DeviceMemory, Estimate, TrainingReport
from .spec import SpecDecode
from .throughput import StepTime, decode_step, effective_bandwidth_gbs, prefill
from .workload import Workload

_GB = 1e9


def estimate(
    machine: Machine,
    model: ModelArch,
    quant: Quant,
    workload: Workload | None = None,
    engine: str | EngineProfile = DEFAULT_ENGINE,
    split: str | None = None,
    constants: Constants | None = None,
    gpu_layers: int | None = None,
    cpu_moe_layers: int | None = None,
    *,
    backend: str | None = None,
    expert_offload: int | str | None = None,
    threads: int | None = None,
    spec_decode: SpecDecode | None = None,
    draft: tuple[ModelArch, Quant] | None = None,
    framework: str | None = None,
    evidence: bool = True,
) -> Estimate:
    """Estimate memory fit, speed and power of running ``model`` at ``quant`` on
    ``machine`` with ``engine`` for ``workload``.

    ``split`` chooses ``layer`` or ``tensor`` for several GPUs (default: the engine's).
    ``constants`` overrides the calibrated efficiency constants (used by the fit).
    ``gpu_layers`` and ``cpu_moe_layers`` force llama.cpp's ``-ngl`` and
    ``--n-cpu-moe``; ``expert_offload`` keeps the routed experts of N layers (or
    ``"all"``) in system RAM with everything else on the GPUs (``-ot exps=CPU``).
    ``backend`` picks the engine's backend (CUDA, ROCm, Vulkan, Metal, SYCL, CPU);
    ``threads`` the CPU threads (``-t``). ``spec_decode`` adds a speculative-decoding
    estimate (``draft`` gives the draft model and its quant for ``draft:<model>``).
    ``framework``: the fine-tuning framework (peft, unsloth, torchtune, axolotl,
    transformers). ``evidence``: attach the nearest published measurements.
    Raises ``ValueError`` naming the field when an input is invalid or the engine cannot
    run this format on this hardware.
    """
    _check_types(machine, model, quant, workload)
    workload = workload or Workload()
    profile = engine_profile(engine)
    constants = constants or load_constants()
    machine, gpu_layers, cpu_moe_layers = _apply_options(
        machine, model, profile, threads, gpu_layers, cpu_moe_layers, expert_offload
    )
    backend = _check_backend(machine, profile, backend)
    parts = memory.model_parts(model, quant)
    layout = place(
        machine, model, quant, workload, profile, constants, split, gpu_layers,
        cpu_moe_layers, parts, backend=backend,
    )  # fmt: skip
    steps = _step_times(layout, parts, profile, constants, workload, quant.bits_per_weight)
    speculative = None if spec_decode is None else _speculate(
        spec_decode, machine, layout, parts, profile, constants, steps.depth,
        workload.kv_cache_bits, quant.bits_per_weight, steps.single, draft,
    )  # fmt: skip
    fit = _fit(layout, machine, model, quant, workload, constants, framework)
    sizes = _sizes(model, quant, workload, layout, fit.training)
    placement_text = layout.describe()
    notes = _notes(
        machine, model, quant, workload, profile, layout, constants, framework, fit,
        steps.depth, placement_text, sizes["weights_gb"],
    )  # fmt: skip
    return Estimate(
        fits=fit.fits,
        reason=fit.reason,
        missing_gb=fit.missing_gb if not fit.fits else 0.0,
        **_speeds(machine, layout, workload, constants, steps),
        memory=fit.devices,
        placement=placement_text,
        split=layout.split,
        engine=profile.name,
        mode=workload.mode,
        bottleneck=_bottleneck(layout, steps.single, constants),
        max_context_tokens=fit.max_context,
        **sizes,
        assumptions=notes,
        training=fit.training,
        decode_time_ms=_decode_time_ms(steps.single),
        backend=_backend_text(layout),
        spec_decode=speculative,
        evidence_query=query_for(machine, model, quant, profile, workload) if evidence else (),
    )


class _Steps(NamedTuple):
    """Step times of one estimate: decode at the quoted depth (one sequence and the
    workload's batch), decode at full context, and the prompt's prefill."""

    depth: float
    single: StepTime
    full: StepTime
    batched: StepTime
    fill: StepTime


class _Fit(NamedTuple):
    """Whether and where the model fits (for fine-tuning: the training memory)."""

    devices: tuple[DeviceMemory, ...]
    fits: bool
    missing_gb: float
    reason: str
    training: TrainingReport | None
    max_context: int


def _apply_options(
    machine: Machine,
    model: ModelArch,
    profile: EngineProfile,
    threads: int | None,
    gpu_layers: int | None,
    cpu_moe_layers: int | None,
    expert_offload: int | str | None,
) -> tuple[Machine, int | None, int | None]:
    """The machine with the threads asked for, and the checked -ngl / --n-cpu-moe
    (set by ``expert_offload`` when given)."""
    if threads is not None:
        machine = _with_threads(machine, threads)
    if gpu_layers is not None:
        checks.integer("gpu_layers", gpu_layers, 0, 100_000)
    if cpu_moe_layers is not None:
        checks.integer("cpu_moe_layers", cpu_moe_layers, 0, 100_000)
    if expert_offload is not None:
        gpu_layers, cpu_moe_layers = _expert_offload(
            machine, model, profile, expert_offload, gpu_layers
        )
    return machine, gpu_layers, cpu_moe_layers


def _step_times(
    layout: Placement,
    parts: memory.ModelParts,
    profile: EngineProfile,
    constants: Constants,
    workload: Workload,
    bits: float,
) -> _Steps:
    depth = min(workload.prompt_tokens + workload.gen_tokens / 2, workload.context_tokens)
    kv_bits = workload.kv_cache_bits
    single = decode_step(layout, parts, profile, constants, depth, kv_bits, bits, 1)
    full = decode_step(layout, parts, profile, constants, workload.context_tokens, kv_bits, bits, 1)
    batch = workload.concurrent_sequences
    batched = (
        single
        if batch == 1
        else decode_step(layout, parts, profile, constants, depth, kv_bits, bits, batch)
    )
    fill = prefill(layout, parts, profile, constants, workload.prompt_tokens, bits)
    return _Steps(depth, single, full, batched, fill)


def _speeds(
    machine: Machine, layout: Placement, workload: Workload, constants: Constants, steps: _Steps
) -> dict[str, object]:
    """Decode, batch and prefill rates with their error bands, and the power they take."""
    single = steps.single
    batch = workload.concurrent_sequences
    decode_tps = 1.0 / single.seconds
    aggregate_tps = batch / steps.batched.seconds
    prefill_tps = workload.prompt_tokens / steps.fill.seconds
    watts = power.wall_power_w(machine, layout, steps.batched, "decode", constants)
    decode_band = constants.error_bands["decode"]
    prefill_band = constants.error_bands["prefill"]
    return {
        "decode_tokens_per_s": decode_tps,
        "decode_range": (decode_tps * decode_band[0], decode_tps * decode_band[1]),
        "decode_tokens_per_s_full_context": 1.0 / steps.full.seconds,
        "aggregate_tokens_per_s": aggregate_tps,
        "concurrent_sequences": batch,
        "prefill_tokens_per_s": prefill_tps,
        "prefill_range": (prefill_tps * prefill_band[0], prefill_tps * prefill_band[1]),
        "time_to_first_token_s": steps.fill.seconds + single.seconds,
        "power_w": watts,
        "kwh_per_million_tokens": power.kwh_per_million_tokens(watts, aggregate_tps),
    }


def _fit(
    layout: Placement,
    machine: Machine,
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    constants: Constants,
    framework: str | None,
) -> _Fit:
    if workload.is_training:
        devices, fits, missing, reason, training, max_context = train.training(
            machine, model, quant, workload, constants, framework
        )
        return _Fit(devices, fits, missing, reason, training, max_context)
    missing = layout.missing_bytes / _GB
    reason = "" if layout.fits else _reason(layout, missing)
    max_context = _max_context(layout, model, workload)
    return _Fit(_memory_report(layout), layout.fits, missing, reason, None, max_context)


def _sizes(
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    layout: Placement,
    training: TrainingReport | None,
) -> dict[str, float]:
    """Weights, KV cache (all sequences) and the memory the whole run needs, GB."""
    weights_gb = memory.weights_bytes(model, quant) / _GB
    kv_gb = (
        memory.kv_cache_bytes(
            model, workload.context_tokens, workload.kv_cache_bits, workload.concurrent_sequences
        )
        / _GB
    )
    if training is not None:
        required_gb = training.per_gpu_gb * training.gpus
    else:
        required_gb = weights_gb + kv_gb + sum(s.overhead_bytes for s in layout.slots) / _GB
    return {"weights_gb": weights_gb, "kv_cache_gb": kv_gb, "required_gb": required_gb}


def _notes(
    machine, model, quant, workload, profile, layout, constants, framework, fit, depth,
    placement_text, weights_gb,
) -> tuple[str, ...]:  # fmt: skip
    """The estimate's assumptions: a fine-tuning run's, or an inference run's."""
    if fit.training is not None:
        return _training_notes(model, quant, workload, constants, framework, fit.training)
    return _assumptions(
        machine, model, quant, workload, profile, layout, constants, depth, placement_text,
        weights_gb,
    )  # fmt: skip


def _check_types(machine: object, model: object, quant: object, workload: object) -> None:
    for name, value, kind in (
        ("machine", machine, Machine),
        ("model", model, ModelArch),
        ("quant", quant, Quant),
    ):
        if not isinstance(value, kind):
            raise ValueError(f"{name} must be a {kind.__name__} (got {type(value).__name__})")
    if workload is not None and not isinstance(workload, Workload):
        raise ValueError(f"workload must be a Workload (got {type(workload).__name__})")


def _with_threads(machine: Machine, threads: int) -> Machine:
    """The machine with its CPU limited to ``threads`` threads."""
    checks.integer("threads", threads, 1, 4096)
    if machine.cpu is None:
        raise ValueError("threads: this machine has no host CPU to set threads for")
    return dataclasses.replace(machine, cpu=with_threads(machine.cpu, threads))


def _expert_offload(
    machine: Machine,
    model: ModelArch,
    engine: EngineProfile,
    offload: int | str,
    gpu_layers: int | None,
) -> tuple[int | None, int]:
    """(-ngl, --n-cpu-moe) for ``expert_offload`` N layers or ``"all"``."""
    if not model.is_moe:
        raise ValueError("expert_offload: this model has no routed experts to keep in RAM")
    if not engine.expert_offload:
        raise ValueError(f"expert_offload: {engine.name} cannot keep experts in system RAM")
    if not machine.gpus or machine.cpu is None:
        raise ValueError("expert_offload needs GPUs and a host CPU with system RAM")
    if isinstance(offload, str) and offload.strip().lower() == "all":
        layers = model.layers
    else:
        try:
            layers = int(offload)
        except (TypeError, ValueError):
            raise ValueError(
                f"expert_offload must be a number of layers or 'all' (got {offload!r})"
            ) from None
        checks.integer("expert_offload", layers, 0, model.layers)
    return (model.layers + 1 if gpu_layers is None else gpu_layers), layers


def _check_backend(machine: Machine, engine: EngineProfile, backend: str | None) -> str | None:
    """The backend asked for, checked against the engine and the machine (None: the
    engine's default for each device)."""
    if backend is None or str(backend).strip() == "":
        return None
    if machine.unified is None and not machine.gpus:
        return engine.check_backend(backend, None)
    if machine.unified is not None:
        return engine.check_backend(backend, machine.unified.vendor, unified=True)
    for group in machine.gpus:
        chosen = engine.check_backend(backend, group.gpu.vendor)
    return chosen


def _backend_text(layout: Placement) -> str:
    names = []
    for slot in layout.slots:
        if slot.backend and slot.backend not in names:
            names.append(slot.backend)
    return " + ".join(names)


def _speculate(
    spec: SpecDecode,
    machine: Machine,
    layout: Placement,
    parts: memory.ModelParts,
    engine: EngineProfile,
    constants: Constants,
    depth: float,
    kv_bits: float,
    bits: float,
    single: StepTime,
    draft: tuple[ModelArch, Quant] | None,
) -> dict:
    """Speculative-decoding figures: tokens/s, speed-up and what they assume."""
    if spec.method not in engine.spec_methods:
        allowed = ", ".join(sorted(engine.spec_methods)) or "none"
        raise ValueError(f"spec_decode: {engine.name} supports {allowed} (got {spec.method})")
    verify = decode_step(layout, parts, engine, constants, depth, kv_bits, bits, 1, spec.k + 1)
    draft_s = 0.0
    if spec.method == "draft":
        if draft is None:
            raise ValueError("spec_decode: draft:<model> needs a known draft model")
        draft_model, draft_quant = draft
        draft_est = estimate(
            machine, draft_model, draft_quant, engine=engine, constants=constants, evidence=False
        )
        draft_s = 1.0 / draft_est.decode_tokens_per_s
    total = sum(t.bytes_read for t in single.slots) or 1.0
    head_share = parts.head_bytes / total
    step_s = speculation.drafter_step_s(spec, single.seconds, parts.layers, head_share, draft_s)
    tps = speculation.speculative_tokens_per_s(spec, verify.seconds, step_s)
    return {
        "method": spec.method,
        "draft_model": spec.draft_model or None,
        "draft_tokens": spec.k,
        "acceptance_rate": spec.alpha,
        "tokens_per_cycle": speculation.tokens_per_cycle(spec.alpha, spec.k),
        "decode_tokens_per_s": tps,
        "speedup": tps * single.seconds,
        "draft_step_ms": step_s * 1000,
        "verify_step_ms": verify.seconds * 1000,
    }


def _decode_time_ms(step: StepTime) -> tuple[tuple[str, float], ...]:
    """One decode step split by where its time goes, milliseconds."""
    split = [(slot.label, slot.seconds * 1000) for slot in step.slots if slot.seconds > 0]
    if step.sync_s > 0:
        split.append(("GPU synchronisation", step.sync_s * 1000))
    if step.overhead_s > 0:
        split.append(("Fixed per-token overhead", step.overhead_s * 1000))
    return tuple(split)


def _memory_report(layout: Placement) -> tuple[DeviceMemory, ...]:
    report = [
        DeviceMemory(
            device=slot.label,
            kind=slot.kind,
            layers=slot.layers,
            weights_gb=slot.weights_bytes / _GB,
            kv_cache_gb=slot.kv_bytes / _GB,
            overhead_gb=slot.overhead_bytes / _GB,
            total_gb=slot.used_bytes / _GB,
            capacity_gb=slot.capacity_bytes / _GB,
            headroom_gb=(slot.capacity_bytes - slot.used_bytes) / _GB,
        )
        for slot in layout.slots
    ]
    if layout.spilled_bytes > 0 and layout.storage is not None:
        streamed = layout.spilled_bytes / _GB
        report.append(
            DeviceMemory(
                layout.storage.name, "storage", 0.0, streamed, 0.0, 0.0, streamed, streamed, 0.0
            )
        )
    return tuple(report)


def _reason(layout: Placement, missing_gb: float) -> str:
    if layout.spilled_bytes > 0 and layout.storage is not None:
        return (
            f"Does not fit in memory: {layout.spilled_bytes / _GB:.1f} GB of weights would "
            f"stream from {layout.storage.name} for every token."
        )
    if layout.unplaced_bytes > 0:
        return (
            f"Does not fit: {missing_gb:.1f} GB more memory is needed and this engine cannot "
            "offload to system RAM or stream from a drive."
        )
    over = [s.label for s in layout.slots if not s.fits]
    return f"Does not fit: {', '.join(over)} over capacity by {missing_gb:.1f} GB."


def _max_context(layout: Placement, model: ModelArch, workload: Workload) -> int:
    """Longest context per sequence whose KV cache fits beside the weights, with the
    layers where they are now (0 if the weights alone do not fit)."""
    if layout.spilled_bytes > 0 or layout.unplaced_bytes > 0:
        return 0
    best = float(model.max_context or 10_000_000)
    per_token = model.kv_values_per_token_per_layer() * workload.kv_cache_bits / 8
    for slot in layout.slots:
        if slot.kv_layers <= 0:
            continue
        room = slot.capacity_bytes - slot.weights_bytes - slot.overhead_bytes
        if room <= 0:
            return 0
        cached = room / (slot.kv_layers * workload.concurrent_sequences * per_token)
        best = min(best, model.context_for_cached_tokens(cached))
    return int(best)


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f} %" if whole > 0 else "0 %"


def _bottleneck(layout: Placement, step: StepTime, constants: Constants) -> str:
    """One sentence naming what limits single-stream decode."""
    total = step.seconds
    streamed = sum(t.streamed_s for t in step.slots)
    if streamed > 0.5 * total and layout.storage is not None:
        return (
            f"Decode is limited by streaming {layout.spilled_bytes / _GB:.0f} GB of weights per "
            f"token from {layout.storage.name}: the model does not fit in memory."
        )
    if step.sync_s > 0.3 * total:
        return (
            f"Decode is limited by tensor-parallel synchronisation over "
            f"{LINK_NAMES[layout.link]}, "
            f"{_share(step.sync_s, total)} of each token's time."
        )
    if step.overhead_s > 0.4 * total:
        return (
            "Decode is limited by fixed per-token costs (kernel launches and synchronisation), "
            f"{_share(step.overhead_s, total)} of each token's time: the model is small for "
            "this hardware."
        )
    slowest = step.slowest()
    slot = next((s for s in layout.slots if slowest and s.label == slowest.label), None)
    if slowest is None or slot is None:
        return "Decode is limited by layers that do not fit anywhere."
    share = _share(slowest.seconds, total)
    gb = slowest.bytes_read / _GB
    bandwidth = effective_bandwidth_gbs(slot, constants)
    if slowest.compute_bound:
        return f"Decode is compute bound on {slot.label} ({share} of each token's time)."
    if slot.kind == "cpu" and slot.cpu is not None:
        return _ram_bottleneck(layout, slot, constants, bandwidth, gb, share)
    return _memory_bottleneck(layout, step, slot, bandwidth, gb)


def _ram_bottleneck(
    layout: Placement, slot: Slot, constants: Constants, bandwidth: float, gb: float, share: str
) -> str:
    """What limits decode when the slowest pool is system RAM: its bandwidth, or the
    cores (and CCD links) that pull from it."""
    cpu = slot.cpu
    assert cpu is not None
    numa = 1.0
    if cpu.sockets > 1:
        numa = constants["numa_efficiency"] if cpu.numa_interleave else 1 / cpu.sockets
    core_bound = (
        bandwidth < slot.bandwidth_gbs * constants["bandwidth_efficiency.cpu"] * numa - 1e-9
    )
    pullers = (
        f"{cpu.cores} cores on {cpu.ccds_per_socket * cpu.sockets} CCDs"
        if cpu.ccds_per_socket
        else f"{cpu.cores} cores"
    )
    why = (
        f"its {pullers} cannot pull more than about {bandwidth:.0f} GB/s"
        if core_bound
        else f"about {bandwidth:.0f} GB/s effective of {slot.bandwidth_gbs:.0f} GB/s peak"
    )
    if any(s.kind == "gpu" for s in layout.slots):
        return (
            f"Decode is limited by system RAM: what sits in RAM ({gb:.1f} GB read per token) "
            f"takes {share} of each token's time ({why})."
        )
    return f"Decode is limited by RAM bandwidth: each token reads {gb:.1f} GB ({why})."


def _memory_bottleneck(
    layout: Placement, step: StepTime, slot: Slot, bandwidth: float, gb: float
) -> str:
    """What limits decode when the slowest pool is GPU or unified memory."""
    where = "unified memory" if slot.kind == "unified" else "GPU memory"
    gpu_count = sum(1 for s in layout.slots if s.kind == "gpu")
    if gpu_count > 1 and layout.tensor_parallel > 1:
        return (
            f"Decode is limited by {where} bandwidth: each of {gpu_count} GPUs reads {gb:.1f} GB "
            f"per token at about {bandwidth:.0f} GB/s."
        )
    if gpu_count > 1:
        total_gb = sum(t.bytes_read for t in step.slots) / _GB
        return (
            f"Decode is limited by {where} bandwidth: with a layer split the GPUs take turns, "
            f"reading {total_gb:.1f} GB per token at about {bandwidth:.0f} GB/s each."
        )
    return (
        f"Decode is limited by {where} bandwidth: each token reads {gb:.1f} GB at about "
        f"{bandwidth:.0f} GB/s."
    )


def _assumptions(
    machine: Machine,
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    engine: EngineProfile,
    layout: Placement,
    constants: Constants,
    depth: float,
    placement_text: str,
    weights_gb: float,
) -> tuple[str, ...]:
    """What the estimate assumes, in the order a reader needs it."""
    notes = _basis_notes(model, quant, workload, engine, depth, placement_text, weights_gb)
    if layout.spilled_bytes > 0 and layout.storage is not None:
        notes.append(
            f"Weights that do not fit in RAM are faulted in from {layout.storage.name} at "
            f"{constants['storage_efficiency']:.0%} of its sequential read; a pass that "
            "reads every weight in order finds none of them still cached, so a dense model "
            "short of RAM reads its whole host share from the drive every token."
        )
    notes += _device_notes(layout, constants)
    notes += _setup_notes(model, workload, engine, layout, constants)
    notes += _closing_notes(workload, constants)
    return tuple(notes)


def _basis_notes(
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    engine: EngineProfile,
    depth: float,
    placement_text: str,
    weights_gb: float,
) -> list[str]:
    """Engine, placement, weight and KV sizes, and the units."""
    return [
        f"Engine {engine.name}: {engine.description}.",
        f"Placement: {placement_text}.",
        f"Weights: {model.total_params_b:g} B parameters at {quant.bits_per_weight:g} bits/weight "
        f"({quant.name}) = {weights_gb:.1f} GB.",
        f"KV cache at {workload.kv_cache_bits:g} bits: "
        f"{memory.kv_cache_bytes(model, 1000, workload.kv_cache_bits) / _GB * 1000:.0f} MB per "
        "1,000 tokens per sequence.",
        f"Decode speed quoted at {depth:.0f} tokens of context (prompt plus half the reply).",
        "Sizes in decimal GB; vendors' VRAM and RAM capacities are binary, so a 24 GB card "
        f"holds {24 * GIB_BYTES / _GB:.1f} GB.",
    ]


def _device_notes(layout: Placement, constants: Constants) -> list[str]:
    """The fitted efficiency of each kind of device, and how several sockets read."""
    notes = []
    seen = set()
    for slot in layout.slots:
        if slot.device_class in seen:
            continue
        seen.add(slot.device_class)
        eff = slot_bandwidth_efficiency(slot, constants)
        pre = constants[f"prefill_efficiency.{slot.device_class}"]
        notes.append(
            f"{slot.device_class.replace('_', ' ')}: decode reaches {eff:.0%} of peak memory "
            f"bandwidth, prefill {pre:.0%} of peak {'FP32' if slot.kind == 'cpu' else 'FP16'} "
            "throughput (fitted to published measurements)."
        )
        if slot.kind == "cpu" and slot.cpu is not None and slot.cpu.sockets > 1:
            if slot.cpu.numa_interleave:
                notes.append(
                    f"Two or more sockets: weights interleaved over all sockets (numactl "
                    f"--interleave=all) reach {constants['numa_efficiency']:.0%} of the summed "
                    "bandwidth (NUMA)."
                )
            else:
                notes.append(
                    "Two or more sockets without interleaving: the weights sit on one node, "
                    "so decode reads one socket's memory channels (run under numactl "
                    "--interleave=all to use them all)."
                )
    return notes


def _setup_notes(
    model: ModelArch,
    workload: Workload,
    engine: EngineProfile,
    layout: Placement,
    constants: Constants,
) -> list[str]:
    """Batching, splits, drives, context and the model's shape."""
    notes = []
    if workload.concurrent_sequences > 1 and not engine.continuous_batching:
        notes.append(
            f"{engine.name} has no continuous batching: the aggregate rate assumes all "
            f"{workload.concurrent_sequences} sequences decode in lockstep."
        )
    if layout.split_note:
        notes.append(layout.split_note)
    if layout.tensor_parallel > 1 and model.attention_heads % layout.tensor_parallel:
        notes.append(
            f"Tensor parallel over {layout.tensor_parallel} GPUs needs the attention heads "
            f"({model.attention_heads}) to divide evenly; vLLM would refuse this split."
        )
    if layout.tensor_parallel > 1 and engine.tensor_sync == "allreduce":
        message = workload.concurrent_sequences * model.hidden_size * 2.0
        algorithm = allreduce_algorithm(layout, engine, message)
        latency_us = allreduce_latency_s(layout, algorithm, constants) * 1e6
        notes.append(
            f"Tensor parallel: two all-reduces per layer over {LINK_NAMES[layout.link]} "
            f"({_ALGORITHM_NAMES[algorithm]}), {latency_us:.0f} µs each plus transfer."
        )
    if layout.storage_assumed:
        notes.append("No drive given: a 5,000 MB/s NVMe SSD is assumed for streaming.")
    if layout.unplaced_bytes > 0:
        notes.append("Speeds are shown as if the model fitted; it does not.")
    if model.max_context and workload.context_tokens > model.max_context:
        notes.append(
            f"The context asked for ({workload.context_tokens:,} tokens) is longer than the "
            f"model was trained for ({model.max_context:,})."
        )
    if model.approximate:
        notes.append("Architecture approximated from the parameter count (Llama-style shapes).")
    if model.is_moe:
        notes.append(
            f"Mixture of experts: {model.active_params_b:g} B of {model.total_params_b:g} B "
            "parameters are read per token."
        )
    return notes


def _closing_notes(workload: Workload, constants: Constants) -> list[str]:
    """The error band and the power model."""
    low, high = constants.error_bands["decode"]
    return [
        f"Range: published measurements fell within ×{low:.2f}–×{high:.2f} of the prediction "
        "(80 % band, leave-one-source-out).",
        "Power: devices draw part of their rated power while decoding; platform, DRAM and "
        "power-supply losses included.",
    ]


def _training_notes(
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    constants: Constants,
    framework: str | None,
    training: TrainingReport,
) -> tuple[str, ...]:
    """What a fine-tuning estimate assumes: the framework and how it holds its state, the
    frozen or trained weights, the micro-batch, the model's shape and the training error
    band (inference figures stay in the JSON but are not this estimate's subject)."""
    name = TRAINING_FRAMEWORKS[training_framework(framework)]
    held = (
        "weights, gradients and optimizer state"
        if workload.mode == "full"
        else "frozen base weights, adapters and their optimizer state"
    )
    where = f"sharded over {training.gpus} GPUs (FSDP)" if training.gpus > 1 else "on one GPU"
    notes = [
        f"Fine-tuning ({workload.mode}) with {name}: {held} {where}.",
        f"Weights: {model.total_params_b:g} B parameters at {quant.bits_per_weight:g} "
        f"bits/weight ({quant.name}); {training.trainable_params_b:.3g} B of them trained.",
        f"Each GPU keeps activations for its micro-batch of {workload.concurrent_sequences} × "
        f"{workload.context_tokens:,} tokens; gradient checkpointing "
        f"{'on' if training.gradient_checkpointing else 'off'}.",
        "Training tokens/s is compute bound: the matrix FLOPs of each trained token over a "
        "calibrated share of the GPUs' peak.",
        "Sizes in decimal GB; vendors' VRAM and RAM capacities are binary, so a 24 GB card "
        f"holds {24 * GIB_BYTES / _GB:.1f} GB.",
    ]
    band = constants.error_bands.get("train_tokens_per_s")
    if band:
        notes.append(
            f"Range: published training measurements fell within ×{band[0]:.2f}–×{band[1]:.2f} "
            "of the prediction (80 % band, leave-one-source-out)."
        )
    if model.approximate:
        notes.append("Architecture approximated from the parameter count (Llama-style shapes).")
    if model.is_moe:
        notes.append(
            f"Mixture of experts: {model.active_params_b:g} B of {model.total_params_b:g} B "
            "parameters are active per token."
        )
    return tuple(notes)


# The all-reduce algorithms of :mod:`collectives`, as named to users.
_ALGORITHM_NAMES = {"oneshot": "the engine's one-shot custom all-reduce", "ring": "NCCL ring"}

__all__ = ["estimate"]
