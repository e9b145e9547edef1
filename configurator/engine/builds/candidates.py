"""Stage 1 of the search: candidate builds, not yet completed or estimated.

A :class:`Candidate` starts as a *stub*: its deciding parts (GPUs, or a CPU platform
and memory, or a complete system), a lower bound on its price and optimistic bounds on
its speed and power (:mod:`.bounds`). Per architecture:

- GPU towers/servers: 1–8 identical GPUs holding all weights (the fewest that can hold
  them, one more, and for tensor-parallel engines the powers of two the model's heads
  allow), and mixed pairs when neither card alone nor two of the cheaper one do;
- CPU servers: every host with each memory option faster than every cheaper one;
- hybrid offload: one or two GPUs on the hosts where more money buys more bandwidth;
- unified memory: complete systems.

Dominated parts never become candidates (:mod:`.platforms` prunes them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING

from .. import memory
from ..engines import ENGINES
from .parts import GpuPart, Part, SystemPart
from .platforms import Host, MemoryOption
from .request import CPU_SERVER, GPU_SERVER, GPU_TOWER, HYBRID, UNIFIED
from .result import Build, parts_param

if TYPE_CHECKING:
    from .search import Search

MAX_GPUS = 8


class CandidateState(Enum):
    """Where a candidate is: a stub, completed (every part chosen), or impossible to
    complete (nothing adequate fits around its deciding parts)."""

    STUB = "stub"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(eq=False)
class Candidate:
    """A possible build. A *stub* knows its deciding parts and optimistic bounds:
    ``cost_lb`` on its price, ``tps_ub`` and ``prefill_ub`` on its speeds, ``power_lb``
    on its power. Completing it (``Search.complete``) picks the cheapest adequate rest
    and fixes ``items`` and ``cost``; evaluating it runs the estimator."""

    arch: str
    engine: str
    cost_lb: Decimal
    gpus: tuple[tuple[GpuPart, int], ...] = ()
    host: Host | None = None
    memory: MemoryOption | None = None
    system: SystemPart | None = None
    gpu_only: bool = False
    tps_ub: float = math.inf
    prefill_ub: float = math.inf
    power_lb: float = 0.0
    items: tuple[tuple[Part, int], ...] = ()
    cost: Decimal | None = None
    state: CandidateState = CandidateState.STUB
    build: Build | None = None
    serial: int = 0
    _key: str = ""
    _cost_f: float | None = None
    _cost_lb_f: float | None = None
    _gpu_count: int = -1

    @property
    def complete(self) -> bool:
        return self.state is CandidateState.COMPLETE

    @property
    def failed(self) -> bool:
        return self.state is CandidateState.FAILED

    @property
    def price(self) -> Decimal:
        """The exact price once complete, the lower bound before."""
        return self.cost if self.cost is not None else self.cost_lb

    @property
    def price_f(self) -> float:
        """The price as a float (for sorting)."""
        if self.cost is not None:
            if self._cost_f is None:
                self._cost_f = float(self.cost)
            return self._cost_f
        if self._cost_lb_f is None:
            self._cost_lb_f = float(self.cost_lb)
        return self._cost_lb_f

    @property
    def key(self) -> str:
        if not self._key:
            self._key = parts_param(self.items)
        return self._key

    @property
    def family(self) -> tuple:
        """Builds of one family differ only in quantities or memory modules; rankings
        show the best of each family."""
        if self.system is not None:
            return (self.arch, self.system.slug)
        gpus = tuple(sorted(g.slug for g, _ in self.gpus))
        if self.gpu_only:
            return (self.arch, gpus)
        host = self.host
        cpu = (host.cpu.slug, host.sockets) if host is not None else ()
        return (self.arch, gpus, cpu)

    @property
    def gpu_count(self) -> int:
        if self._gpu_count < 0:
            self._gpu_count = sum(q for _, q in self.gpus)
        return self._gpu_count


def stub_template(cand: Candidate) -> tuple:
    """What makes a fresh stub again: its deciding parts and its bounds (in the order
    of :class:`Candidate`'s first fields, then ``tps_ub``, ``prefill_ub``,
    ``power_lb``)."""
    return (
        cand.arch,
        cand.engine,
        cand.cost_lb,
        cand.gpus,
        cand.host,
        cand.memory,
        cand.system,
        cand.gpu_only,
        cand.tps_ub,
        cand.prefill_ub,
        cand.power_lb,
    )


def all_stubs(search: Search) -> list[Candidate]:
    """Every candidate of every architecture, not yet completed."""
    return (
        gpu_stubs(search)
        + mixed_stubs(search)
        + cpu_stubs(search)
        + hybrid_stubs(search)
        + unified_stubs(search)
    )


# GPU towers and servers ------------------------------------------------------------------


def gpu_need_bytes(search: Search) -> float:
    """A lower bound on what the GPUs must hold for inference (the input embedding may
    stay in system RAM)."""
    return max(search.weights_bytes - search.embedding_bytes, 0.0) + search.kv_bytes


def min_gpus(search: Search, gpu: GpuPart, engine: str) -> int:
    """Fewest GPUs of this kind that might hold the model (a lower bound)."""
    req = search.request
    if req.training:
        overhead = ENGINES["transformers"].gpu_runtime_overhead_gb
        for n in range(1, MAX_GPUS + 1):
            need = memory.training_memory(req.model, req.quant, req.workload, n, overhead)
            if need.per_gpu_bytes <= gpu.vram_gb * 2**30:
                return n
        return MAX_GPUS + 1
    profile = ENGINES[engine]
    usable = gpu.vram_gb * 2**30 * profile.gpu_memory_utilization
    usable -= profile.gpu_runtime_overhead_gb * 1e9
    if usable <= 0:
        return MAX_GPUS + 1
    return max(1, math.ceil(gpu_need_bytes(search) / usable))


def gpu_counts(search: Search, n_min: int, engine: str) -> list[int]:
    """GPU counts to try: the fewest, one more, and the powers of two a tensor split
    can use."""
    if n_min > MAX_GPUS:
        return []
    counts = {n_min}
    if n_min + 1 <= MAX_GPUS:
        counts.add(n_min + 1)
    if ENGINES[engine].default_split == "tensor" and not search.request.training:
        sizes = search.tensor_sizes(engine)
        counts.update(p for p in (2, 4, 8) if p >= n_min and p in sizes)
    return sorted(counts)


def gpu_stub(
    search: Search, gpus: tuple[tuple[GpuPart, int], ...], engine: str
) -> Candidate | None:
    """A GPU tower/server stub around ``gpus`` (all weights in VRAM)."""
    hosts = search.hosts_by_cost(search.ram_gpu_gb)
    if not hosts:
        return None
    rack = search.request.form == "rack" or any(g.passive for g, _ in gpus)
    floor = hosts[0][0] + search.shop.rest_floor(gpus, search.needs.files_gb)
    cand = search.stub(
        arch=GPU_SERVER if rack else GPU_TOWER,
        engine=engine,
        cost_lb=floor,
        gpus=gpus,
        gpu_only=True,
    )
    search.bound(cand)
    return cand


def gpu_stubs(search: Search) -> list[Candidate]:
    """GPU towers/servers holding the whole model in VRAM."""
    if len(search.shop.required.get("gpu", [])) > 1:
        return []  # several must-include GPUs: only mixed builds can hold them
    result = []
    for gpu in search.shop.gpu_skyline(search.stacks):
        engine = search.engine_for("gpu", gpu.vendor)
        if engine is None:
            continue
        for n in gpu_counts(search, min_gpus(search, gpu, engine), engine):
            cand = gpu_stub(search, ((gpu, n),), engine)
            if cand is not None:
                result.append(cand)
    return result


def mixed_pairs(search: Search) -> list[tuple[GpuPart, GpuPart]]:
    """Pairs of different GPUs to try, from the best VRAM per dollar (with the
    must-include GPUs when there are some)."""
    pool = search.shop.gpu_skyline(search.stacks)
    required = search.shop.required.get("gpu", [])
    need = gpu_need_bytes(search)
    singles = [g for g in pool if g.vram_gb * 2**30 < need]
    singles.sort(key=lambda g: (float(g.cost) / g.vram_gb, g.slug))
    if len(required) == 2:
        return [(required[0], required[1])]
    if required:
        return [(r, o) for r in required for o in singles[:8] if o is not r]
    top = singles[:8]
    return [(a, b) for i, a in enumerate(top) for b in top[i + 1 :]]


def mixed_stubs(search: Search) -> list[Candidate]:
    """Pairs of different GPUs of one stack that hold the model together when neither
    holds it alone and two of the cheaper one do not either."""
    if search.request.training:
        return []
    required = search.shop.required.get("gpu", [])
    need = gpu_need_bytes(search)
    result = []
    for a, b in mixed_pairs(search):
        engine = search.engine_for("gpu", a.vendor) if a.stack == b.stack else None
        if engine is None:
            continue
        usable = (a.vram_gb + b.vram_gb) * 2**30 * ENGINES[engine].gpu_memory_utilization
        if usable < need:
            continue
        cheaper = a if (a.cost, a.slug) <= (b.cost, b.slug) else b
        if not required and 2 * cheaper.vram_gb * 2**30 * 0.9 >= need:
            continue  # two of the cheaper card hold it: a mixed pair adds nothing
        cand = gpu_stub(search, ((a, 1), (b, 1)), engine)
        if cand is not None:
            result.append(cand)
    return result


# CPU servers -------------------------------------------------------------------------------


def cpu_stubs(search: Search) -> list[Candidate]:
    """Every host with each memory option that holds the model, faster than every
    cheaper one."""
    if search.stacks is not None or search.shop.required.keys() & {"gpu", "system"}:
        return []
    engine = search.engine_for("cpu")
    if search.request.training or engine is None:
        return []
    result = []
    floor = search.shop.rest_floor((), search.needs.files_gb)
    for host in search.shop.hosts:
        for mem in host.memory_for(search.ram_cpu_gb):
            cost = host.base_cost + mem.cost + floor
            cand = search.stub(arch=CPU_SERVER, engine=engine, cost_lb=cost, host=host, memory=mem)
            search.bound(cand)
            result.append(cand)
    return result


# Hybrid offload ------------------------------------------------------------------------------


def hybrid_stubs(search: Search) -> list[Candidate]:
    """One or two GPUs holding part of the model, the rest in system RAM, on the hosts
    where more money buys more memory bandwidth."""
    if search.request.training or "system" in search.shop.required:
        return []
    result = []
    need = gpu_need_bytes(search)
    for gpu in search.shop.gpu_skyline(search.stacks, hybrid=True):
        engine = search.engine_for("hybrid", gpu.vendor)
        if engine is None:
            continue
        for n in (1, 2):
            if gpu.vram_gb * n * 2**30 >= need:
                break  # the GPUs alone hold it: that is a GPU tower
            gpus = ((gpu, n),)
            floor = search.shop.rest_floor(gpus, search.needs.files_gb)
            for host, mem in bandwidth_hosts(search, gpu, n):
                cost = host.base_cost + mem.cost + floor
                cand = search.stub(
                    arch=HYBRID, engine=engine, cost_lb=cost, gpus=gpus, host=host, memory=mem
                )
                search.bound(cand)
                result.append(cand)
    return result


def bandwidth_hosts(search: Search, gpu: GpuPart, n: int) -> list[tuple[Host, MemoryOption]]:
    """Hosts with room for ``n`` such GPUs and RAM for the model, each faster with the
    part of the model these GPUs leave it than every cheaper one (memoised on the
    shop)."""
    vram = gpu.vram_gb * n * 2**30
    key = ("fast-hosts", gpu.slots, n, vram, round(search.ram_gpu_gb, 3), search.bounds.batch)
    memo = search.shop._memo
    if key in memo:
        return memo[key]
    host_dense, host_experts = search.bounds.host_split(vram)
    options = []
    for host in search.shop.hosts_seating(gpu.slots, n):
        for mem in host.memory_for(search.ram_gpu_gb):
            seconds = search.bounds.host_seconds(host, mem.mts, host_dense, host_experts)
            options.append((host.base_cost + mem.cost, seconds, host, mem))
    options.sort(key=lambda o: (o[0], o[1], o[2].board.slug, o[2].cpu.slug))
    result, best = [], math.inf
    for _, seconds, host, mem in options:
        if seconds < best:
            result.append((host, mem))
            best = seconds
    memo[key] = result
    return result


# Unified memory -------------------------------------------------------------------------------


def unified_stubs(search: Search, near_miss: bool = False) -> list[Candidate]:
    """Complete systems that hold the model (``near_miss``: those just too small)."""
    if search.shop.required.keys() - {"system", "storage"}:
        return []
    result = []
    need = search.weights_bytes + search.kv_bytes
    for system in search.shop.system_skyline(search.stacks):
        engine = search.engine_for("unified", system.vendor)
        if engine is None:
            continue
        holds = system.engine_system.capacity_bytes >= need or search.request.training
        if holds == near_miss:
            continue
        cand = search.stub(arch=UNIFIED, engine=engine, cost_lb=system.cost, system=system)
        search.bound(cand)
        result.append(cand)
    return result
