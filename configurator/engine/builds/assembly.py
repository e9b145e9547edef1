"""Stage 5 of the search: a parts list becomes a priced, checked, estimated build.

:func:`build_from` prices the parts, decides how the GPUs share the model (tensor or
layer split, NVLink only with bridges, the lanes of each slot), runs the estimator and
names every target the build misses. :func:`machine_for` is the engine's view of a
parts list. Used by the search for each candidate it estimates, and by ``evaluate``
for a parts list a user gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from ..calibration import load_constants
from ..estimate import estimate
from ..hardware import CpuSystem, Machine, Storage
from ..results import Estimate
from .bounds import cpu_system
from .links import narrowest, seat
from .memo import BoundedMemo
from .parts import Part, StoragePart
from .request import CPU_SERVER, GPU_SERVER, GPU_TOWER, HYBRID, STACK_NAMES, UNIFIED
from .result import Build, Line, Shortfall
from .rules import Assembly, Finding, Parallel, check, check_parallel

if TYPE_CHECKING:
    from .request import BuildRequest
    from .search import Search

# Estimates a process keeps, keyed on everything an estimate depends on (machine,
# model, format, workload, engine, split, run options and the constants in use): the
# searches for one model and workload (another budget, target or ranking) estimate
# many of the same machines. A few kB each.
ESTIMATES_KEPT = 2048
_estimates: dict[tuple, tuple[object, Estimate]] = BoundedMemo(ESTIMATES_KEPT)
# Bumped by forget_estimates: assembled parts lists memoised before it are not reused.
_generation = [0]


def fmt_money(amount: Decimal | float, currency: str) -> str:
    value = f"{float(amount):,.0f}"
    return f"${value}" if currency == "USD" else f"{value} {currency}"


# The engine's machine ----------------------------------------------------------------


def machine_for(
    items: Sequence[tuple[Part, int]],
    with_host: bool = True,
    link: bool = False,
    full_lanes: bool = False,
) -> Machine:
    """The engine's machine for a parts list (``with_host=False`` drops the CPU, to
    ask whether the GPUs alone hold the model). Each GPU gets the link it trains to
    with its slots: the lower of the card's and the slot's lanes and PCIe generation
    (its narrowest slot, as the engine takes one figure per GPU kind; ``full_lanes``
    gives it its own lanes), and its NVLink only with ``link`` (bridges in the build)."""
    assembly = items if isinstance(items, Assembly) else Assembly(items)
    system = assembly.system
    drive = next((p for p, _ in assembly.of("storage")), None)
    storage = None
    if isinstance(drive, StoragePart) and drive.seq_read_mbs:
        storage = Storage(drive.label, float(drive.seq_read_mbs))
    if system is not None:
        return Machine(unified=system.engine_system, name=system.label)
    plan = assembly.slot_plan()
    links = seat(assembly.gpus, plan.lanes, plan.gens) if plan else ()
    gpus = []
    for gpu, qty in assembly.gpus:
        lanes, gen = narrowest(links, gpu)
        gpus.append((gpu.to_engine(None if full_lanes else lanes, gen, link), qty))
    cpu = cpu_system_for(assembly) if with_host else None
    if not gpus and cpu is None:
        raise ValueError("parts: a build needs GPUs, a CPU with memory, or a complete system")
    return Machine(gpus=tuple(gpus), cpu=cpu, storage=storage)


def cpu_system_for(assembly: Assembly) -> CpuSystem | None:
    """The engine's CPU system for the build's CPUs, board and memory."""
    cpu, module = assembly.cpu, assembly.memory
    if cpu is None or module is None:
        return None
    board = assembly.board
    sockets = max(assembly.count("cpu"), 1)
    dimms = assembly.count("memory")
    channels = cpu.memory_channels * sockets
    if board is not None:
        channels = min(channels, board.memory_channels)
    populated = max(1, min(channels, dimms))
    mts = assembly.memory_mts() or module.speed_mts
    kind = cpu.memory_type if cpu.memory_type in ("DDR4", "DDR5") else "DDR5"
    ram_gb = float(module.capacity_gb * dimms)
    return cpu_system(
        cpu.name, sockets, cpu.cores, populated, float(mts), ram_gb, cpu.gflops, cpu.power_w,
        kind,
    )  # fmt: skip


def host_layers(est: Estimate) -> float:
    return sum(d.layers for d in est.memory if d.kind == "cpu")


def classify(assembly: Assembly, est: Estimate | None) -> str:
    """The architecture label of a build."""
    if assembly.system is not None:
        return UNIFIED
    if not assembly.gpus:
        return CPU_SERVER
    if est is not None and not est.training and host_layers(est) > 0:
        return HYBRID
    return GPU_SERVER if assembly.is_server() else GPU_TOWER


def has_rack(items: Iterable[tuple[Part, int]]) -> bool:
    return any(p.kind == "case" and getattr(p, "form_factor", "") == "rack" for p, _ in items)


# A build -----------------------------------------------------------------------------


def build_from(
    search: Search,
    items: Sequence[tuple[Part, int]],
    arch: str | None,
    engine: str | None,
    gpu_only: bool = False,
    run_estimate: bool = True,
    check_rules: bool = True,
) -> Build:
    """Price, check and estimate ``items`` for the search's request (``check_rules``
    False defers the rules to ``Search.verify``, for builds made compatible by
    construction)."""
    req = search.request
    base = assembled(search, items, arch, engine, run_estimate)
    assembly, lines, total, engine, parallel, est, label = base[:7]
    shortfalls = list(base[7])
    if est is not None:
        shortfalls += shortfalls_of(search, assembly, est, gpu_only, total)
    elif req.budget is not None and total is not None and total > req.budget:
        shortfalls.append(over_budget(req.budget, total, search.currency))
    build = Build(
        checked=check_rules,
        architecture=label,
        lines=list(lines),
        total=total,
        currency=search.currency,
        findings=[],
        estimate=est,
        engine=engine or "",
        request=req,
        tokens_per_s=tokens_per_s(est),
        peak_power_w=base[8],
        shortfalls=shortfalls,
        parallel=list(parallel.findings),
        title=base[9],
        summary=base[10],
    )
    if check_rules:
        build.parallel = lane_cost(search, assembly, build)
        build.findings = [*check(assembly, search.needs), *build.parallel]
    return build


def assembled(
    search: Search,
    items: Sequence[tuple[Part, int]],
    arch: str | None,
    engine: str | None,
    run_estimate: bool,
) -> tuple:
    """What a parts list is for the request's model, format, workload, engine choice and
    run options, whatever its targets: (assembly, lines, total, engine, parallel
    split, estimate, architecture, what stopped the estimate, peak power, title,
    summary). Memoised on the shop (whose parts and prices it reads; ``ASSEMBLED_KEPT``
    of them) for the calibrated constants in use, so a request that changes only its
    targets, budget or ranking re-assembles nothing."""
    req = search.request
    constants = load_constants()
    key = (
        "assembled", tuple((part.slug, qty) for part, qty in items), arch, engine,
        run_estimate, req.model, req.quant, req.workload, req.engine, req.run_options,
        id(constants), _generation[0],
    )  # fmt: skip
    memo = search.shop.assembled
    hit = memo.get(key)
    if hit is not None and hit[0] is constants:
        return hit[1]
    assembly = Assembly(items)
    lines = tuple(Line.of(part, qty, search.currency) for part, qty in assembly.items)
    engine = engine or engine_for_assembly(search, assembly)
    parallel = check_parallel(assembly, engine, req.model) if engine else Parallel(None, False, ())
    est, stopped = run_engine(search, assembly, engine, parallel, run_estimate)
    label = arch or classify(assembly, est)
    value = (
        assembly, lines, price_of(lines), engine, parallel, est, label, tuple(stopped),
        assembly.peak_draw_w(), title(assembly, label), summary(assembly),
    )  # fmt: skip
    memo[key] = (constants, value)
    return value


def price_of(lines: Sequence[Line]) -> Decimal | None:
    """The total of the lines; None when a part has no price."""
    total = Decimal(0)
    for line in lines:
        if line.line_total is None:
            return None
        total += line.line_total
    return total


def tokens_per_s(est: Estimate | None) -> float:
    """Decode tokens/s each sequence sees (training tokens/s for fine-tuning; with
    speculative decoding, the speculative speed)."""
    if est is None:
        return 0.0
    if est.training is not None:
        return est.training.tokens_per_s
    if est.spec_decode and est.concurrent_sequences == 1:
        return float(est.spec_decode["decode_tokens_per_s"])
    return est.aggregate_tokens_per_s / max(est.concurrent_sequences, 1)


def run_engine(
    search: Search,
    assembly: Assembly,
    engine: str | None,
    parallel: Parallel,
    run_estimate: bool,
) -> tuple[Estimate | None, list[Shortfall]]:
    """The estimate (None when it cannot run) and what stopped it."""
    req = search.request
    try:
        machine = machine_for(assembly, link=parallel.link)
    except ValueError as exc:
        return None, [Shortfall("parts", str(exc))]
    if not run_estimate:
        return None, [Shortfall("estimate", "not estimated: the search reached its limit")]
    if engine is None:
        text = f"No inference engine runs {req.quant.name} on this hardware."
        return None, [Shortfall("engine", text)]
    try:
        est = estimate_for(req, machine, engine, parallel.split)
    except ValueError as exc:
        return None, [Shortfall("engine", str(exc))]
    return est, []


def estimate_for(
    request: BuildRequest, machine: Machine, engine: str, split: str | None
) -> Estimate:
    """The request's estimate on ``machine`` (memoised per process: an estimate is a
    pure function of its inputs and is never changed once made)."""
    options = request.estimate_options(machine)
    constants = load_constants()
    key = (
        machine, request.model, request.quant, request.workload, engine, split,
        tuple(sorted(options.items())), id(constants),
    )  # fmt: skip
    hit = _estimates.get(key)
    if hit is not None and hit[0] is constants:
        return hit[1]
    est = estimate(
        machine,
        request.model,
        request.quant,
        request.workload,
        engine=engine,
        split=split,
        **options,  # type: ignore[arg-type]
    )
    _estimates[key] = (constants, est)
    return est


def forget_estimates() -> None:
    """Empty the per-process estimate memo and retire every shop's assembled parts lists
    (benchmarks measuring a search that estimates every build again)."""
    _estimates.clear()
    _generation[0] += 1


def lane_cost(search: Search, assembly: Assembly, build: Build) -> list[Finding]:
    """The build's parallel findings, with what an x8/x8 (or narrower) split costs a
    tensor-parallel build: the estimate again with every GPU at x16."""
    findings = list(build.parallel)
    narrow = [f for f in findings if f.rule == "pcie_lanes" and f.status == "warn"]
    if not narrow or build.estimate is None or not build.tokens_per_s:
        return findings
    req = search.request
    parallel = check_parallel(assembly, build.engine, req.model)
    machine = machine_for(assembly, link=parallel.link, full_lanes=True)
    wide = estimate_for(req, machine, build.engine, parallel.split)
    x16 = tokens_per_s(wide)
    if x16 <= build.tokens_per_s:
        return findings
    gain = x16 / build.tokens_per_s - 1
    cost = f" At x16 each the build would decode {x16:.1f} tokens/s ({gain:.0%} faster)."
    return [
        Finding(f.rule, f.ok, f.message + cost, f.status) if f in narrow else f for f in findings
    ]


def engine_for_assembly(search: Search, assembly: Assembly) -> str | None:
    if assembly.system is not None:
        return search.engine_for("unified", assembly.system.vendor)
    if assembly.gpus:
        vendor = assembly.gpus[0][0].vendor
        if assembly.cpu is not None and assembly.memory is not None:
            return search.engine_for("hybrid", vendor) or search.engine_for("gpu", vendor)
        return search.engine_for("gpu", vendor)
    return search.engine_for("cpu")


# What a build misses -------------------------------------------------------------------


def over_budget(budget: Decimal, total: Decimal, currency: str) -> Shortfall:
    over = total - budget
    return Shortfall("budget", f"{fmt_money(over, currency)} over budget", float(over))


def shortfalls_of(
    search: Search,
    assembly: Assembly,
    est: Estimate,
    gpu_only: bool,
    total: Decimal | None,
) -> list[Shortfall]:
    """Every target and constraint of the request the estimated build misses."""
    req = search.request
    out = memory_shortfalls(search, assembly, est, gpu_only)
    if not out:
        out = target_shortfalls(search, est)
    if req.budget is not None and total is not None and total > req.budget:
        out.append(over_budget(req.budget, total, search.currency))
    return out + constraint_shortfalls(search, assembly)


def memory_shortfalls(
    search: Search, assembly: Assembly, est: Estimate, gpu_only: bool
) -> list[Shortfall]:
    """The model does not fit (or, for a GPU-only build, spills to system RAM)."""
    req = search.request
    what = "memory"
    if assembly.system is not None:
        what = "unified memory"
    elif assembly.gpus and (gpu_only or not assembly.of("memory")):
        what = "VRAM"
    if not est.fits:
        return [Shortfall("memory", f"needs {est.missing_gb:.1f} GB more {what}", est.missing_gb)]
    # With expert offload asked for, the host holds experts by the user's choice.
    offload = req.expert_offload is not None
    if gpu_only and not offload and est.training is None and host_layers(est) > 0:
        vendor = assembly.gpus[0][0].vendor
        gpus_alone = machine_for(assembly, with_host=False)
        engine = search.engine_for("gpu", vendor) or "llama.cpp"
        gpu_est = estimate_for(req, gpus_alone, engine, None)
        missing = max(gpu_est.missing_gb, 0.1)
        return [Shortfall("memory", f"needs {missing:.1f} GB more VRAM", missing)]
    return []


def target_shortfalls(search: Search, est: Estimate) -> list[Shortfall]:
    """Speed, prompt-processing and power targets the estimate misses."""
    req = search.request
    out: list[Shortfall] = []
    tps = tokens_per_s(est)
    unit = "training tokens/s" if est.training is not None else "tokens/s"
    if req.min_tps and tps < req.min_tps:
        gap = req.min_tps - tps
        text = f"{fmt_tps(tps)} {unit}, {fmt_tps(gap)} short of the {req.min_tps:g} {unit} target"
        out.append(Shortfall("min_tps", text, gap))
    prefill = est.prefill_tokens_per_s
    if req.min_prefill_tps and est.training is None and prefill < req.min_prefill_tps:
        gap = req.min_prefill_tps - prefill
        text = (
            f"prompt processing {prefill:.0f} tokens/s, {gap:.0f} short of the "
            f"{req.min_prefill_tps:g} tokens/s target"
        )
        out.append(Shortfall("min_prefill_tps", text, gap))
    if req.max_watts is not None and est.power_w > req.max_watts:
        over = est.power_w - req.max_watts
        text = f"{over:.0f} W over the {req.max_watts:g} W limit"
        out.append(Shortfall("max_watts", text, over))
    return out


def constraint_shortfalls(search: Search, assembly: Assembly) -> list[Shortfall]:
    """Hard constraints (stack, form, new/used, must-include) the parts break."""
    req = search.request
    out: list[Shortfall] = []
    if req.stack != "any":
        want = STACK_NAMES[req.stack]
        stacks = {g.stack for g, _ in assembly.gpus}
        if assembly.system:
            stacks.add(assembly.system.stack)
        if want not in stacks:
            out.append(Shortfall("stack", f"has no {want} GPU"))
    if req.form != "any":
        kinds = ("case", "system")
        forms = {getattr(p, "form_factor", "") for p, _ in assembly.items if p.kind in kinds}
        if req.form not in forms:
            out.append(Shortfall("form", f"is not a {req.form} build"))
    used = [p.label for p, _ in assembly.items if p.used]
    if not req.allow_used and used:
        out.append(Shortfall("allow_used", "has used parts: " + ", ".join(used)))
    must = set(req.must_include) - {p.slug for p, _ in assembly.items}
    if must:
        out.append(Shortfall("must_include", "lacks " + ", ".join(sorted(must))))
    return out


def fmt_tps(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 0.1:
        return f"{value:.1f}"
    return f"{value:.2g}"


# Words ---------------------------------------------------------------------------------


def title(assembly: Assembly, arch: str) -> str:
    """E.g. ``2 × NVIDIA GeForce RTX 3090 (used) on AMD Ryzen 5 5600 (GPU tower)``."""
    if assembly.system is not None:
        return assembly.system.label
    parts = [f"{qty} × {gpu.label}" for gpu, qty in assembly.gpus]
    cpu = assembly.cpu
    if cpu is not None:
        sockets = assembly.count("cpu")
        cpu_text = f"{sockets} × {cpu.label}" if sockets > 1 else cpu.label
        parts.append(("on " if assembly.gpus else "") + cpu_text)
    return " ".join(parts) + f" ({arch})"


def summary(assembly: Assembly) -> str:
    """E.g. ``48 GB VRAM; 64 GB DDR4-3200 in 2 channels``."""
    bits = []
    if assembly.system is not None:
        s = assembly.system
        bits.append(f"{s.memory_gb:g} GB unified memory at {s.bandwidth_gbs:g} GB/s")
    if assembly.gpus:
        vram = sum(g.vram_gb * q for g, q in assembly.gpus)
        bits.append(f"{vram:g} GB VRAM")
    module = assembly.memory
    if module is not None:
        dimms = assembly.count("memory")
        board = assembly.board
        channels = min(dimms, board.memory_channels) if board is not None else dimms
        size = module.capacity_gb * dimms
        kind = f"{module.memory_type}-{assembly.memory_mts()}"
        bits.append(f"{size:g} GB {kind} in {channels} channels")
    return "; ".join(bits)
