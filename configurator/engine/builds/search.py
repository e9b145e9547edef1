"""Build generation and ranking.

1. **Candidates.** For each architecture the search lists complete, compatible, priced
   builds without running the estimator: GPU towers/servers with 1–8 identical GPUs
   (the fewest that can hold the model, one more, and for tensor-parallel engines the
   powers of two above), mixed pairs of GPUs, CPU-only servers with every channel
   populated, hybrid GPU + CPU offload boxes on the platforms that trade cost for
   memory bandwidth, and complete unified-memory systems. Everything around the
   deciding parts is the cheapest adequate choice (:mod:`.platforms`).
2. **Pruning before estimating.** Dominated parts never become candidates; a count of
   GPUs that cannot hold the weights is never built; each candidate carries optimistic
   bounds (decode and prefill tokens/s from peak bandwidth and compute, a floor on
   power), so a candidate that cannot meet a target is never estimated.
3. **Best-first evaluation.** Per architecture, candidates are estimated in the order
   of the objective's bound (price for *cheapest*, speed bound for *fastest*, ...) and
   the scan stops as soon as no remaining candidate can enter the top ``limit``. The
   Pareto front of price against speed comes from one price-ordered scan that skips any
   candidate whose speed bound does not beat the fastest cheaper build.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from .. import memory
from ..calibration import load_constants
from ..engines import ENGINES, engine_profile, tensor_parallel_sizes
from ..estimate import estimate
from ..hardware import CpuSystem, Machine, Storage
from ..results import Estimate
from .parts import Catalogue, CpuPart, GpuPart, Part, StoragePart, SystemPart
from .platforms import GIB_TO_GB, Host, MemoryOption, Shop, shop_for
from .request import (
    CPU_SERVER,
    GPU_SERVER,
    GPU_TOWER,
    HYBRID,
    STACK_NAMES,
    UNIFIED,
    BuildRequest,
)
from .result import Build, Line, NearMiss, Recommendation, Relaxation, Shortfall, parts_param
from .rules import (
    OS_RESERVED_GB,
    Assembly,
    Finding,
    ModelNeeds,
    Parallel,
    board_positions,
    check,
    check_parallel,
    plan_slots,
)
from .tradeoffs import trade_offs

MAX_GPUS = 8
BOUND_SLACK = 1.1
# Hard cap on estimates per search (a safety net; normal searches use far fewer).
MAX_ESTIMATES = 1500
# New estimates spent looking for the best build of an architecture missing from the
# top ``limit`` (shown side by side for comparison).
DIVERSITY_ESTIMATES = 6
# Relative margin by which a dearer build must be faster to join the front (float noise).
FASTER = 1e-6
# New estimates the price/speed front may add after the ranking (×5 when it is the
# objective).
PARETO_EXTRA_ESTIMATES = 20
GPU_ONLY = (GPU_TOWER, GPU_SERVER)


def fmt_money(amount: Decimal | float, currency: str) -> str:
    value = f"{float(amount):,.0f}"
    return f"${value}" if currency == "USD" else f"{value} {currency}"


@dataclass(eq=False)
class Candidate:
    """A possible build. A *stub* knows its deciding parts (GPUs, or a CPU platform and
    memory, or a complete system) and optimistic bounds: ``cost_lb`` on its price,
    ``tps_ub`` and ``prefill_ub`` on its speeds, ``power_lb`` on its power. Completing it
    (:meth:`Search.complete`) picks the cheapest adequate rest and fixes ``items`` and
    ``cost``; evaluating it runs the estimator."""

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
    state: int = 0  # 0 stub, 1 complete, -1 cannot be completed
    build: Build | None = None
    serial: int = 0
    _key: str = ""
    _cost_f: float | None = None
    _cost_lb_f: float | None = None

    @property
    def complete(self) -> bool:
        return self.state == 1

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
        return sum(q for _, q in self.gpus)


@dataclass
class _State:
    estimates: int = 0
    completed: int = 0
    truncated: bool = False
    cache: dict[str, Build] = field(default_factory=dict)


class Search:
    """One recommendation run over a catalogue (see the module docstring)."""

    def __init__(self, catalogue: Catalogue, request: BuildRequest) -> None:
        self.catalogue = catalogue
        self.request = request
        self.currency = catalogue.currency
        self.shop: Shop = shop_for(
            catalogue, request.allow_used, request.form, request.must_include
        )
        self.state = _State()
        self.notes: list[str] = []
        model, quant, wl = request.model, request.quant, request.workload
        self.weights_bytes = memory.weights_bytes(model, quant)
        self.kv_bytes = memory.kv_cache_bytes(
            model, wl.context_tokens, wl.kv_cache_bits, wl.concurrent_sequences
        )
        self.embedding_bytes = memory.embedding_bytes(model, quant)
        self.needs = ModelNeeds(self.weights_bytes / 1e9, self.weights_bytes / 1e9)
        self.params_per_token = _bytes_per_token(model, quant) / quant.bytes_per_weight
        # What one decode step (a token for each of the batch's sequences) reads: the
        # weights read in full, the routed experts the batch touches, each sequence's KV
        # cache at the depth the estimator quotes speed at.
        batch = wl.concurrent_sequences
        dense, experts, _ = _read_profile(model, quant, _bytes_per_token(model, quant))
        touched = experts * model.expert_fraction_touched(batch) if experts else 0.0
        depth = min(wl.prompt_tokens + wl.gen_tokens / 2, wl.context_tokens)
        kv = memory.kv_cache_bytes(model, depth, wl.kv_cache_bits, batch)
        self.read_profile = (dense, experts, touched)
        self.bytes_per_token = max(dense + touched + kv, 1.0)
        self.batch = batch
        self.constants = load_constants()
        self._constants: dict[tuple[str, float], float] = {}
        self.stacks: frozenset[str] | None = (
            None if request.stack == "any" else frozenset({STACK_NAMES[request.stack]})
        )
        # RAM (binary GB) a GPU build needs to stage the model, and a CPU build to run it.
        self.ram_gpu_gb = self.needs.weights_gb / GIB_TO_GB
        cpu_need = self.weights_bytes + self.kv_bytes + OS_RESERVED_GB * 1e9
        self.ram_cpu_gb = cpu_need / 1e9 / GIB_TO_GB
        self._serial = 0
        self._stubs: list[Candidate] | None = None
        self._memo: dict[tuple, float] = {}
        self._ratios: dict[str, list[float]] = {}

    def money(self, amount: Decimal | float) -> str:
        """``amount`` in the catalogue's currency, e.g. ``$1,234``."""
        return fmt_money(amount, self.currency)

    # Engines ---------------------------------------------------------------------------

    def engine_for(self, kind: str, vendor: str = "") -> str | None:
        """The engine that runs the request's quant on ``kind`` (gpu, cpu, hybrid,
        unified) hardware from ``vendor``; None if none does."""
        family = self.request.quant.family
        names = [self.request.engine] if self.request.engine != "auto" else _AUTO_ORDER
        for name in names:
            profile = ENGINES[name]
            if not profile.accepts(family):
                continue
            if kind == "cpu" and profile.runs_on_cpu:
                return name
            if kind in ("gpu", "hybrid") and vendor in profile.gpu_vendors:
                if kind == "hybrid" and not profile.runs_on_cpu:
                    continue
                return name
            if kind == "unified" and vendor in profile.unified_vendors:
                return name
        return None

    # Bounds ------------------------------------------------------------------------------
    # Optimistic: bytes read per token at the engine's own efficiency constants (times a
    # slack), peak FLOPs at full efficiency, power at every device's idle draw.

    def _constant(self, name: str, default: float = 1.0) -> float:
        key = (name, default)
        if key not in self._constants:
            try:
                self._constants[key] = float(self.constants[name])
            except KeyError:
                self._constants[key] = default
        return self._constants[key]

    def gpu_bandwidth(self, gpu: GpuPart) -> float:
        """Decode bandwidth of one GPU at the engine's efficiency, GB/s."""
        return gpu.bandwidth_gbs * self._constant(f"bandwidth_efficiency.gpu_{gpu.vendor}")

    def host_bandwidth(self, host: Host, mts: int) -> float:
        """Decode bandwidth of a host's RAM at the engine's efficiency, GB/s."""
        bandwidth = host.bandwidth_gbs(mts) * self._constant("bandwidth_efficiency.cpu")
        if host.sockets > 1:
            bandwidth *= self._constant("numa_efficiency")
        cap = host.cpu.cores * host.sockets * self._constant("cpu_core_bandwidth_gbs", math.inf)
        return min(bandwidth, cap)

    def system_bandwidth(self, system: SystemPart) -> float:
        cls = "unified_apple" if system.vendor == "apple" else "unified_other"
        return system.bandwidth_gbs * self._constant(f"bandwidth_efficiency.{cls}")

    def host_split(self, gpu_bytes: float) -> tuple[float, float]:
        """A lower bound on what each decode step reads from system RAM when the GPUs
        hold ``gpu_bytes``: (weights read in full every step, routed-expert bytes the
        step touches). The GPUs are assumed to keep what is read most often (attention
        and its KV cache, dense and shared layers, the output head) and to fill the
        rest with routed experts, as llama.cpp's expert offload does."""
        dense, experts, touched = self.read_profile
        host_dense = max(0.0, dense - gpu_bytes)
        host_experts = 0.0
        if experts > 0:
            on_gpu = max(0.0, gpu_bytes - dense)
            host_experts = touched * max(0.0, experts - on_gpu) / experts
        return host_dense, host_experts

    def host_rates(self, host: Host, mts: int) -> tuple[float, float]:
        """Seconds per byte read, and per byte of weights multiplied, on this host."""
        key = ("host-rates", id(host), mts)
        value = self._memo.get(key)
        if value is None:
            read = 1.0 / (self.host_bandwidth(host, mts) * 1e9)
            rate = host.cpu.gflops * host.sockets * 1e9 * self._constant("prefill_efficiency.cpu")
            per_weight = 2.0 / self.request.quant.bytes_per_weight
            value = self._memo[key] = (read, per_weight / rate if rate > 0 else 0.0)
        return value

    def host_seconds(
        self, host: Host, mts: int, dense: float, experts: float, kv: float = 0.0
    ) -> float:
        """A lower bound on the host's time per decode step for ``dense`` bytes read by
        every sequence, ``experts`` bytes of routed experts and ``kv`` bytes of KV
        cache: reading them, or multiplying by them (dense weights once per sequence,
        each touched expert at least once), whichever is longer."""
        read, compute = self.host_rates(host, mts)
        return max((dense + experts + kv) * read, (self.batch * dense + experts) * compute)

    def _cpu_step_seconds(self, host: Host, mts: int) -> float:
        dense, _, touched = self.read_profile
        kv = self.bytes_per_token - dense - touched
        return self.host_seconds(host, mts, dense, touched, kv)

    def _decode_ub(self, seconds_per_token: float) -> float:
        return BOUND_SLACK / seconds_per_token if seconds_per_token > 0 else math.inf

    def _training_ub(self, peak_tflops: float) -> float:
        flops = 4.0 * self.request.model.active_params_b * 1e9
        return BOUND_SLACK * peak_tflops * 1e12 / flops

    def _prefill_ub(self, peak_tflops: float) -> float:
        flops = 2.0 * self.request.model.active_params_b * 1e9
        return BOUND_SLACK * peak_tflops * 1e12 / flops

    def _power_lb(
        self,
        gpus: Iterable[tuple[GpuPart, int]],
        cpu: CpuPart | None,
        sockets: int,
        ram_gb: float,
    ) -> float:
        c = self.constants
        try:
            watts = sum(g.board_power_w * q for g, q in gpus) * c["power_fraction.gpu.idle"]
            if cpu is not None:
                watts += cpu.power_w * sockets * c["power_fraction.cpu.idle"]
                watts += ram_gb * c["dram_power_w_per_gb"]
            watts += c["platform_power_w"]
            return watts / c["psu_efficiency"] * 0.999
        except KeyError:
            return 0.0

    def _bounds_gpu(self, cand: Candidate) -> None:
        gpus = cand.gpus
        n = cand.gpu_count
        memo = self._memo
        fastest = max(self._gpu_bw(g) for g, _ in gpus)
        peak = sum(g.fp16_tflops * q for g, q in gpus)
        tensor = n > 1 and self._tensor_engine(cand.engine) and n in self._tensor_sizes(cand.engine)
        host = cand.host
        if host is not None:
            host_peak = host.cpu.gflops * host.sockets / 1000
        else:
            host_peak = self._max_host_peak()
        if self.request.training:
            cand.tps_ub = self._training_ub(peak)
        elif cand.arch == HYBRID and host is not None and cand.memory is not None:
            vram = sum(g.vram_gb * q for g, q in gpus) * 2**30
            key = ("split", vram)
            if key not in memo:
                memo[key] = self.host_split(vram)
            host_dense, host_experts = memo[key]
            gpu_bw = fastest * (n if tensor else 1)
            on_gpu = max(self.bytes_per_token - host_dense - host_experts, 0.0)
            seconds = on_gpu / (gpu_bw * 1e9)
            seconds += self.host_seconds(host, cand.memory.mts, host_dense, host_experts)
            cand.tps_ub = self._decode_ub(seconds)
        else:
            bandwidth = (fastest * n) if tensor else fastest
            cand.tps_ub = self._decode_ub(self.bytes_per_token / (bandwidth * 1e9))
        cand.prefill_ub = self._prefill_ub(peak + host_peak)
        ram = cand.memory.capacity_gb if cand.memory else 0.0
        cpu = host.cpu if host else None
        cand.power_lb = self._power_lb(gpus, cpu, host.sockets if host else 0, ram)

    def _gpu_bw(self, gpu: GpuPart) -> float:
        key = ("gpu-bw", gpu.slug)
        value = self._memo.get(key)
        if value is None:
            value = self._memo[key] = self.gpu_bandwidth(gpu)
        return value

    def _tensor_engine(self, engine: str) -> bool:
        key = ("tensor", engine)
        value = self._memo.get(key)
        if value is None:
            value = self._memo[key] = engine_profile(engine).default_split == "tensor"
        return bool(value)

    def _max_host_peak(self) -> float:
        """The most FP32 TFLOP/s any host offers (bounds prefill before a host is
        chosen)."""
        key = ("max-host-peak",)
        memo = self.shop._memo
        if key not in memo:
            memo[key] = max((h.cpu.gflops * h.sockets / 1000 for h in self.shop.hosts), default=0.0)
        return memo[key]

    # Stubs ---------------------------------------------------------------------------

    def _stub(self, **kwargs: object) -> Candidate:
        self._serial += 1
        return Candidate(serial=self._serial, **kwargs)  # type: ignore[arg-type]

    def _gpu_need_bytes(self) -> float:
        """A lower bound on what the GPUs must hold for inference (the input embedding
        may stay in system RAM)."""
        return max(self.weights_bytes - self.embedding_bytes, 0.0) + self.kv_bytes

    def min_gpus(self, gpu: GpuPart, engine: str) -> int:
        """Fewest GPUs of this kind that might hold the model (a lower bound)."""
        profile = ENGINES[engine]
        if self.request.training:
            overhead = ENGINES["transformers"].gpu_runtime_overhead_gb
            for n in range(1, MAX_GPUS + 1):
                need = memory.training_memory(
                    self.request.model, self.request.quant, self.request.workload, n, overhead
                )
                if need.per_gpu_bytes <= gpu.vram_gb * 2**30:
                    return n
            return MAX_GPUS + 1
        usable = gpu.vram_gb * 2**30 * profile.gpu_memory_utilization
        usable -= profile.gpu_runtime_overhead_gb * 1e9
        if usable <= 0:
            return MAX_GPUS + 1
        return max(1, math.ceil(self._gpu_need_bytes() / usable))

    def gpu_counts(self, n_min: int, engine: str) -> list[int]:
        if n_min > MAX_GPUS:
            return []
        counts = {n_min}
        if n_min + 1 <= MAX_GPUS:
            counts.add(n_min + 1)
        if ENGINES[engine].default_split == "tensor" and not self.request.training:
            sizes = self._tensor_sizes(engine)
            counts.update(p for p in (2, 4, 8) if p >= n_min and p in sizes)
        return sorted(counts)

    def _tensor_sizes(self, engine: str) -> tuple[int, ...]:
        key = ("tp-sizes", engine)
        value = self._memo.get(key)
        if value is None:
            value = self._memo[key] = tensor_parallel_sizes(engine, self.request.model, MAX_GPUS)
        return value  # type: ignore[return-value]

    def _hosts_by_cost(self, ram_gb: float) -> list[tuple[Decimal, Host, MemoryOption]]:
        """Hosts with their cheapest memory holding ``ram_gb``, cheapest first."""
        key = ("hosts-by-cost", round(ram_gb, 3))
        memo = self.shop._memo
        if key not in memo:
            rows = []
            for host in self.shop.hosts:
                mem = host.cheapest_memory(ram_gb)
                if mem is not None:
                    rows.append((host.base_cost + mem.cost, host, mem))
            # At equal cost, a board whose slot layout is listed comes first (a build
            # with an unverified rule ranks below an equal one whose rules all pass).
            rows.sort(
                key=lambda r: (
                    r[0],
                    board_positions(r[1].board) is None,
                    r[1].board.slug,
                    r[1].cpu.slug,
                )
            )
            memo[key] = rows
        return memo[key]

    def gpu_stub(self, gpus: tuple[tuple[GpuPart, int], ...], engine: str) -> Candidate | None:
        """A GPU tower/server stub around ``gpus`` (all weights in VRAM)."""
        hosts = self._hosts_by_cost(self.ram_gpu_gb)
        if not hosts:
            return None
        arch = (
            GPU_SERVER
            if self.request.form == "rack" or any(g.passive for g, _ in gpus)
            else GPU_TOWER
        )
        floor = hosts[0][0] + self.shop.rest_floor(gpus, self.needs.files_gb)
        cand = self._stub(arch=arch, engine=engine, cost_lb=floor, gpus=gpus, gpu_only=True)
        self._bounds_gpu(cand)
        return cand

    def gpu_stubs(self) -> list[Candidate]:
        """GPU towers/servers holding the whole model in VRAM."""
        result = []
        required = self.shop.required.get("gpu", [])
        if len(required) > 1:
            return []  # several must-include GPUs: only mixed builds can hold them
        for gpu in self.shop.gpu_skyline(self.stacks):
            engine = self.engine_for("gpu", gpu.vendor)
            if engine is None:
                continue
            n_min = self.min_gpus(gpu, engine)
            for n in self.gpu_counts(n_min, engine):
                cand = self.gpu_stub(((gpu, n),), engine)
                if cand is not None:
                    result.append(cand)
        return result

    def mixed_stubs(self) -> list[Candidate]:
        """Pairs of different GPUs of one stack that hold the model together when
        neither holds it alone and two of the cheaper one do not either (from the best
        VRAM per dollar)."""
        if self.request.training:
            return []
        pool = self.shop.gpu_skyline(self.stacks)
        required = self.shop.required.get("gpu", [])
        need = self._gpu_need_bytes()
        singles = [g for g in pool if g.vram_gb * 2**30 < need]
        singles.sort(key=lambda g: (float(g.cost) / g.vram_gb, g.slug))
        if required:
            if len(required) == 2:
                pairs = [(required[0], required[1])]
            else:
                pairs = [(r, o) for r in required for o in singles[:8] if o is not r]
        else:
            top = singles[:8]
            pairs = [(a, b) for i, a in enumerate(top) for b in top[i + 1 :]]
        result = []
        for a, b in pairs:
            if a.stack != b.stack:
                continue
            engine = self.engine_for("gpu", a.vendor)
            if engine is None:
                continue
            usable = (a.vram_gb + b.vram_gb) * 2**30 * ENGINES[engine].gpu_memory_utilization
            if usable < need:
                continue
            cheaper = a if (a.cost, a.slug) <= (b.cost, b.slug) else b
            if not required and 2 * cheaper.vram_gb * 2**30 * 0.9 >= need:
                continue  # two of the cheaper card hold it: a mixed pair adds nothing
            cand = self.gpu_stub(((a, 1), (b, 1)), engine)
            if cand is not None:
                result.append(cand)
        return result

    def cpu_stubs(self) -> list[Candidate]:
        if self.stacks is not None or self.shop.required.keys() & {"gpu", "system"}:
            return []
        if self.request.training:
            return []
        engine = self.engine_for("cpu")
        if engine is None:
            return []
        result = []
        floor = self.shop.rest_floor((), self.needs.files_gb)
        for host in self.shop.hosts:
            peak = host.cpu.gflops * host.sockets / 1000
            for mem in host.memory_for(self.ram_cpu_gb):
                cand = self._stub(
                    arch=CPU_SERVER,
                    engine=engine,
                    cost_lb=host.base_cost + mem.cost + floor,
                    host=host,
                    memory=mem,
                )
                cand.tps_ub = self._decode_ub(self._cpu_step_seconds(host, mem.mts))
                cand.prefill_ub = self._prefill_ub(peak)
                cand.power_lb = self._power_lb((), host.cpu, host.sockets, mem.capacity_gb)
                result.append(cand)
        return result

    def hybrid_stubs(self) -> list[Candidate]:
        """One or two GPUs holding part of the model, the rest in system RAM, on the
        hosts where more money buys more memory bandwidth."""
        if self.request.training or "system" in self.shop.required:
            return []
        result = []
        need = self._gpu_need_bytes()
        for gpu in self.shop.gpu_skyline(self.stacks, hybrid=True):
            engine = self.engine_for("hybrid", gpu.vendor)
            if engine is None:
                continue
            for n in (1, 2):
                if gpu.vram_gb * n * 2**30 >= need:
                    break  # the GPUs alone hold it: that is a GPU tower
                gpus = ((gpu, n),)
                floor = self.shop.rest_floor(gpus, self.needs.files_gb)
                for host, mem in self._bandwidth_hosts(gpu, n):
                    cand = self._stub(
                        arch=HYBRID,
                        engine=engine,
                        cost_lb=host.base_cost + mem.cost + floor,
                        gpus=gpus,
                        host=host,
                        memory=mem,
                    )
                    self._bounds_gpu(cand)
                    result.append(cand)
        return result

    def _bandwidth_hosts(self, gpu: GpuPart, n: int) -> list[tuple[Host, MemoryOption]]:
        """Hosts with room for ``n`` such GPUs and RAM for the model, each faster with
        the part of the model these GPUs leave it than every cheaper one."""
        vram = gpu.vram_gb * n * 2**30
        key = ("fast-hosts", gpu.slots, n, vram, round(self.ram_gpu_gb, 3), self.batch)
        memo = self.shop._memo
        if key in memo:
            return memo[key]
        host_dense, host_experts = self.host_split(vram)
        options = []
        for host in self.shop.hosts:
            if not plan_slots(host.board, gpu.slots, n).fits:
                continue
            for mem in host.memory_for(self.ram_gpu_gb):
                seconds = self.host_seconds(host, mem.mts, host_dense, host_experts)
                options.append((host.base_cost + mem.cost, seconds, host, mem))
        options.sort(key=lambda o: (o[0], o[1], o[2].board.slug, o[2].cpu.slug))
        result, best = [], math.inf
        for _, seconds, host, mem in options:
            if seconds < best:
                result.append((host, mem))
                best = seconds
        memo[key] = result
        return result

    def unified_stubs(self, near_miss: bool = False) -> list[Candidate]:
        if self.shop.required.keys() - {"system", "storage"}:
            return []
        result = []
        need = self.weights_bytes + self.kv_bytes
        for system in self.shop.system_skyline(self.stacks):
            engine = self.engine_for("unified", system.vendor)
            if engine is None:
                continue
            holds = system.engine_system.capacity_bytes >= need or self.request.training
            if holds == near_miss:
                continue
            cand = self._stub(arch=UNIFIED, engine=engine, cost_lb=system.cost, system=system)
            if self.request.training:
                cand.tps_ub = self._training_ub(system.gpu_fp16_tflops)
            else:
                bandwidth = self.system_bandwidth(system)
                cand.tps_ub = self._decode_ub(self.bytes_per_token / (bandwidth * 1e9))
            cand.prefill_ub = self._prefill_ub(system.gpu_fp16_tflops)
            cand.power_lb = system.power_w * self._constant("power_fraction.unified.idle", 0.0)
            cand.power_lb *= 0.999
            result.append(cand)
        return result

    def stubs(self) -> list[Candidate]:
        """Every candidate of every architecture, not yet completed."""
        if self._stubs is None:
            self._stubs = (
                self.gpu_stubs()
                + self.mixed_stubs()
                + self.cpu_stubs()
                + self.hybrid_stubs()
                + self.unified_stubs()
            )
        return self._stubs

    # Completion and evaluation ---------------------------------------------------------

    def complete(self, cand: Candidate) -> bool:
        """Choose the cheapest adequate rest of ``cand``; False if nothing fits."""
        if cand.state:
            return cand.state == 1
        self.state.completed += 1
        done = None
        if cand.system is not None:
            done = self.shop.complete_system(cand.system, self.needs.files_gb)
        elif cand.gpu_only:
            found = self._host_for_gpus(cand.gpus, self.ram_gpu_gb)
            if found is not None:
                cand.host, cand.memory = found[0], found[1]
                done = found[2], found[3]
        elif cand.host is not None and cand.memory is not None:
            done = self.shop.complete(cand.host, cand.memory, cand.gpus, self.needs.files_gb)
        if done is None:
            cand.state = -1
            return False
        cand.items, cand.cost = done
        must = set(self.request.must_include)
        if must and not must <= {p.slug for p, _ in cand.items}:
            cand.state = -1
            return False
        if cand.gpu_only:
            cand.arch = GPU_SERVER if _has_rack(cand.items) else GPU_TOWER
            self._bounds_gpu(cand)
        cand.state = 1
        return True

    def _host_for_gpus(
        self, gpus: Sequence[tuple[GpuPart, int]], ram_gb: float
    ) -> tuple[Host, MemoryOption, tuple, Decimal] | None:
        """The host giving the cheapest complete build around ``gpus`` (memoised on the
        shop: it depends only on the catalogue, the GPUs and the model's size)."""
        key = (
            "host-for",
            tuple((g.slug, q) for g, q in gpus),
            round(ram_gb, 3),
            round(self.needs.files_gb, 3),
        )
        memo = self.shop._memo
        if key not in memo:
            memo[key] = self._scan_hosts(gpus, ram_gb)
        return memo[key]

    def _scan_hosts(
        self, gpus: Sequence[tuple[GpuPart, int]], ram_gb: float
    ) -> tuple[Host, MemoryOption, tuple, Decimal] | None:
        best = None
        floor = self.shop.rest_floor(gpus, self.needs.files_gb)
        for platform_cost, host, mem in self._hosts_by_cost(ram_gb):
            if best is not None and platform_cost + floor >= best[3]:
                break
            done = self.shop.complete(host, mem, gpus, self.needs.files_gb)
            if done is None:
                continue
            items, cost = done
            if best is None or cost < best[3]:
                best = (host, mem, items, cost)
        return best

    def evaluate(self, cand: Candidate) -> Build:
        if cand.build is not None:
            return cand.build
        if not self.complete(cand):
            raise ValueError("evaluate: the candidate cannot be completed")
        cached = self.state.cache.get(cand.key)
        if cached is not None:
            cand.build = cached
            return cached
        run = self.state.estimates < MAX_ESTIMATES
        if run:
            self.state.estimates += 1
        else:
            self.state.truncated = True
        build = build_from(
            self,
            cand.items,
            cand.arch,
            cand.engine,
            gpu_only=cand.gpu_only,
            run_estimate=run,
            check_rules=False,
        )
        cand.build = build
        self.state.cache[cand.key] = build
        if build.estimate is not None and math.isfinite(cand.tps_ub) and cand.tps_ub > 0:
            self._ratios.setdefault(cand.arch, []).append(build.tokens_per_s / cand.tps_ub)
        return build

    def bound_ratio(self, arch: str) -> float:
        """The most an estimate of ``arch`` has reached of its speed bound (with a 5 %
        margin; 1 until three estimates are in)."""
        seen = self._ratios.get(arch, [])
        if len(seen) < 3:
            return 1.0
        return min(1.0, max(seen) * 1.05)

    def likely_too_slow(self, cand: Candidate) -> bool:
        """True when ``cand`` will very likely miss the speed target: its bound times the
        best speed-to-bound ratio seen so far on its architecture (with a margin) falls
        short. Used only to look for an architecture's representative build."""
        seen = self._ratios.get(cand.arch, [])
        if len(seen) < 3 or not self.request.min_tps:
            return False
        return cand.tps_ub * min(1.0, max(seen) * 1.05) < self.request.min_tps

    def could_pass(self, cand: Candidate, budget: bool = True, targets: bool = True) -> bool:
        """False when a bound shows ``cand`` cannot meet a target (``targets`` False:
        any candidate may pass, for the trade-offs outside the targets)."""
        req = self.request
        if not targets:
            return True
        if budget and req.budget is not None and cand.price > req.budget:
            return False
        if cand.tps_ub < req.min_tps:
            return False
        if not req.training and cand.prefill_ub < req.min_prefill_tps:
            return False
        if req.max_watts is not None and cand.power_lb > req.max_watts:
            return False
        return True

    # Ordering ----------------------------------------------------------------------------

    @staticmethod
    def _order_key(objective: str) -> Callable[[Candidate], tuple]:
        """Sort key of a candidate for ``objective`` (lower first), from its bounds and
        its price (exact once complete, a lower bound before: never too late)."""
        if objective == "fastest":
            return lambda c: (-c.tps_ub, c.price_f, c.serial)
        if objective == "value":
            return lambda c: (-c.tps_ub / max(c.price_f, 1e-9), c.price_f, c.serial)
        if objective == "power":
            return lambda c: (c.power_lb, c.price_f, c.serial)
        return lambda c: (c.price_f, -c.tps_ub, c.serial)

    def stream(
        self,
        cands: Iterable[Candidate],
        objective: str,
        budget: bool = True,
        skip: Callable[[Candidate], bool] | None = None,
        targets: bool = True,
    ) -> Iterator[Candidate]:
        """Complete candidates in ``objective`` order, completing each stub only when it
        reaches the front (a stub's key never sorts after its completed self).
        ``skip`` drops candidates as they reach the front, before completion."""
        order = self._order_key(objective)
        heap = [
            (order(c), c.serial, c)
            for c in cands
            if c.state != -1 and self.could_pass(c, budget, targets)
        ]
        heapq.heapify(heap)
        seen: set[str] = set()
        while heap:
            _, _, cand = heapq.heappop(heap)
            if not self.could_pass(cand, budget, targets):
                continue
            if skip is not None and skip(cand):
                continue
            if not cand.complete:
                if self.complete(cand) and self.could_pass(cand, budget, targets):
                    heapq.heappush(heap, (order(cand), cand.serial, cand))
                continue
            if cand.key in seen:
                continue
            seen.add(cand.key)
            yield cand

    def _scan(
        self,
        stream: Iterable[Candidate],
        k: int,
        objective: str,
        max_estimates: int | None = None,
    ) -> list[Build]:
        """The best ``k`` qualifying builds (one per family) from an ordered ``stream``,
        stopping when no later candidate's bound can beat the k-th build found."""
        found: list[Build] = []
        families: set[tuple] = set()
        # Per objective: bound of a candidate and score of a build, lower is better.
        bound: Callable[[Candidate], float]
        score: Callable[[Build], float]
        if objective == "fastest":
            bound = lambda c: -c.tps_ub  # noqa: E731
            score = lambda b: -b.tokens_per_s  # noqa: E731
        elif objective == "value":
            bound = lambda c: -c.tps_ub / float(c.price)  # noqa: E731
            score = lambda b: -b.tokens_per_s / float(b.total or 1)  # noqa: E731
        elif objective == "power":
            bound = lambda c: c.power_lb  # noqa: E731
            score = lambda b: b.power_w  # noqa: E731
        else:
            bound = lambda c: float(c.price)  # noqa: E731
            score = lambda b: float(b.total or 0)  # noqa: E731
        # In price order the first qualifying member of a family is its best. In speed
        # order, more GPUs of a kind in a layer split are no faster, so a GPU build's
        # family is done once one member qualifies; other members are looked at.
        skip_family = objective in ("cheapest", "pareto")
        scores: list[float] = []
        start = self.state.estimates
        for cand in stream:
            if len(scores) >= k and bound(cand) >= sorted(scores)[k - 1]:
                break
            if max_estimates is not None and self.state.estimates - start >= max_estimates:
                break
            if cand.family in families and (
                skip_family or (objective == "fastest" and cand.gpu_only and not self._tensor(cand))
            ):
                continue
            build = self.evaluate(cand)
            if build.meets_targets:
                found.append(build)
                if cand.family not in families:
                    families.add(cand.family)
                    scores.append(score(build))
        return _best_per_family(found, lambda b: (score(b), b.total or 0), k)

    def rank(self, objective: str) -> dict[str, list[Build]]:
        """The best builds overall, plus the best of every architecture that has one,
        grouped by architecture."""
        cands = self.stubs()
        best = self._scan(self.stream(cands, objective), self.request.limit, objective)
        groups: dict[str, list[Build]] = {}
        for build in best:
            groups.setdefault(build.architecture, []).append(build)
        for arch in sorted({c.arch for c in cands}):
            if arch in groups:
                continue
            pool = [c for c in cands if c.arch == arch or (c.gpu_only and arch in GPU_ONLY)]
            ordered = self.stream(pool, objective, skip=self.likely_too_slow)
            stream = (c for c in ordered if c.arch == arch)
            found = self._scan(stream, 1, objective, max_estimates=DIVERSITY_ESTIMATES)
            if found:
                groups[arch] = found
        return groups

    def pareto(self, extra: int) -> tuple[list[Build], bool]:
        """Qualifying builds that no cheaper build matches in speed, and whether the
        front is exact.

        One price-ordered scan estimates only candidates whose speed bound beats the
        fastest cheaper build; it stops after ``extra`` new estimates, and the front is
        then taken over every build estimated so far (marked inexact)."""
        best = [0.0]
        passed: set[tuple] = set()
        start = self.state.estimates
        exact = True

        def hopeless(cand: Candidate) -> bool:
            if cand.tps_ub <= best[0]:
                return True
            # More of the same GPUs in a layer split is dearer, not faster.
            return (
                cand.gpu_only and cand.complete and cand.family in passed and not self._tensor(cand)
            )

        for cand in self.stream(self.stubs(), "cheapest", skip=hopeless):
            if cand.build is None and self.state.estimates - start >= extra:
                exact = False
                break
            build = self.evaluate(cand)
            if build.meets_targets:
                passed.add(cand.family)
                best[0] = max(best[0], build.tokens_per_s * (1 + FASTER))
        qualifying = sorted(
            {
                c.key: c.build
                for c in self.stubs()
                if c.build is not None and c.build.meets_targets
            }.values(),
            key=lambda b: (b.total or 0, -b.tokens_per_s, b.key),
        )
        front: list[Build] = []
        fastest = 0.0
        for build in qualifying:
            if build.tokens_per_s > fastest * (1 + FASTER):
                front.append(build)
                fastest = build.tokens_per_s
        for build in front:
            build.pareto = True
        return front, exact

    def _tensor(self, cand: Candidate) -> bool:
        n = cand.gpu_count
        return n > 1 and self._tensor_engine(cand.engine) and n in self._tensor_sizes(cand.engine)

    def run(self, relax: bool = True) -> Recommendation:
        started = time.perf_counter()
        req = self.request
        objective = req.objective
        per_arch = self.rank(objective) if objective != "pareto" else {}
        extra = PARETO_EXTRA_ESTIMATES * (3 if objective == "pareto" else 1)
        front, exact = self.pareto(extra)
        if not exact and objective == "pareto":
            self.notes.append(
                "The price/speed front is taken over the builds estimated; more candidates "
                "could lie on it (the search stopped early)."
            )
        per_arch = {arch: self.verify(builds) for arch, builds in per_arch.items()}
        per_arch = {arch: builds for arch, builds in per_arch.items() if builds}
        if objective == "pareto":
            ranked = _spread(front, req.limit)
        else:
            ranked = _merge(per_arch, req.limit, objective)
        ranked = self.verify(ranked)
        front = self.verify(front)
        _rank(ranked, objective, per_arch, self.currency)
        near = self.near_misses(ranked)
        relaxations = self.relaxations() if relax and not ranked else []
        trades = trade_offs(self, ranked) if relax else []
        self._notes()
        stats = {
            "candidates": len(self.stubs()),
            "completed": self.state.completed,
            "estimates": self.state.estimates,
            "truncated": self.state.truncated,
            "pareto_exact": exact,
            "catalogue_parts": len(self.catalogue),
            "seconds": round(time.perf_counter() - started, 4),
        }
        return Recommendation(
            request=req,
            builds=ranked,
            near_misses=near,
            relax=relaxations,
            pareto=front,
            trade_offs=trades,
            prices_as_of=self.catalogue.prices_as_of,
            currency=self.currency,
            notes=self.notes,
            stats=stats,
        )

    # Near misses and relaxations ---------------------------------------------------------

    def near_misses(self, ranked: Sequence[Build]) -> list[NearMiss]:
        req = self.request
        shown = {b.key for b in ranked}
        misses: dict[str, Build] = {}
        cands = self.stubs()

        def add(build: Build) -> None:
            if build.key not in shown and build.shortfalls and build.compatible:
                misses.setdefault(build.key, build)

        # One GPU fewer than the cheapest GPU builds that hold the model.
        configs: list[tuple[GpuPart, int]] = []
        held = [
            c
            for c in cands
            if c.gpu_only and len(c.gpus) == 1 and c.build is not None and c.build.meets_targets
        ]
        held.sort(key=lambda c: c.price)
        for cand in held[:4]:
            gpu, n = cand.gpus[0]
            if n > 1 and (gpu, n - 1) not in configs:
                configs.append((gpu, n - 1))
        for gpu, n in configs:
            engine = self.engine_for("gpu", gpu.vendor)
            fewer = self.gpu_stub(((gpu, n),), engine) if engine else None
            if fewer is not None and self.complete(fewer):
                add(self.evaluate(fewer))
        # Unified systems just too small.
        small = sorted(self.unified_stubs(near_miss=True), key=lambda c: -c.system.memory_gb)
        for cand in small[:2]:
            if self.complete(cand):
                add(self.evaluate(cand))
        # Per architecture: the best build that misses only a target.
        by_arch: dict[str, list[Candidate]] = {}
        for cand in cands:
            by_arch.setdefault(cand.arch, []).append(cand)
        for group in by_arch.values():
            evaluated = [
                c.build for c in group if c.build is not None and not c.build.meets_targets
            ]
            short = [
                b
                for b in evaluated
                if b.compatible
                and b.shortfalls
                and b.shortfalls[0].constraint == "memory"
                and all(s.constraint in ("memory", "budget") for s in b.shortfalls)
            ]
            if short:
                add(min(short, key=lambda b: (b.shortfalls[0].amount, b.total or 0)))
            slow = [
                b
                for b in evaluated
                if b.fits
                and all(s.constraint in ("min_tps", "min_prefill_tps") for s in b.shortfalls)
            ]
            if slow:
                add(max(slow, key=lambda b: (b.tokens_per_s, -(b.total or 0))))
            hungry = [
                b
                for b in evaluated
                if b.fits and all(s.constraint == "max_watts" for s in b.shortfalls)
            ]
            if hungry:
                add(min(hungry, key=lambda b: b.power_w))
            if req.budget is not None:
                budget = req.budget
                over = [
                    c
                    for c in group
                    if (c.complete and c.price > budget) or (c.state == 0 and c.cost_lb > budget)
                ]
                stream = self.stream(over, "cheapest", budget=False)
                for tries, cand in enumerate(stream, start=1):
                    build = self.evaluate(cand)
                    if all(s.constraint == "budget" for s in build.shortfalls):
                        add(build)
                        break
                    if tries >= 3:
                        break
        ordered = sorted(misses.values(), key=lambda b: (b.total or 0, b.key))
        kept = self.verify(ordered[: max(req.limit, 3)])
        return [NearMiss(b) for b in kept]

    def verify(self, builds: Sequence[Build]) -> list[Build]:
        """Run every compatibility rule on builds about to be returned; a build that
        breaks one (none should: they are made compatible) is left out, with a note."""
        kept = []
        for build in builds:
            if not build.checked:
                items = [(self.catalogue.get(line.slug), line.qty) for line in build.lines]
                assembly = Assembly(items)
                build.parallel = lane_cost(self, assembly, build)
                build.findings = [*check(assembly, self.needs), *build.parallel]
                build.checked = True
            if build.violations:
                rules = ", ".join(sorted({f.rule for f in build.violations}))
                self.notes.append(f"Left out {build.title}: it breaks {rules}.")
                continue
            kept.append(build)
        return kept

    def relaxations(self) -> list[Relaxation]:
        req = self.request
        out: list[Relaxation] = []
        cur = self.currency

        def retry(**changes: object) -> Build | None:
            sub = Search(self.catalogue, req.relaxed(**changes))
            found = sub.run(relax=False).builds
            self.state.estimates += sub.state.estimates
            return found[0] if found else None

        if req.budget is not None:
            best = retry(budget=None, objective="cheapest", limit=1)
            if best is not None and best.total is not None:
                out.append(
                    Relaxation(
                        "budget",
                        str(req.budget),
                        str(best.total),
                        f"Raise the budget to {fmt_money(best.total, cur)} "
                        f"({fmt_money(best.total - req.budget, cur)} more): that buys the cheapest "
                        "build meeting the other targets.",
                        best.key,
                    )
                )
        if req.min_tps > 0:
            best = retry(min_tps=0.0, objective="fastest", limit=1)
            if best is not None:
                out.append(
                    Relaxation(
                        "min_tps",
                        f"{req.min_tps:g}",
                        f"{math.floor(best.tokens_per_s * 10) / 10:g}",
                        f"Lower the speed target to {best.tokens_per_s:.1f} tokens/s: the fastest "
                        "build within the other constraints reaches that.",
                        best.key,
                    )
                )
        if req.min_prefill_tps > 0:
            best = retry(min_prefill_tps=0.0, objective="fastest", limit=1)
            if best is not None and best.estimate is not None:
                out.append(
                    Relaxation(
                        "min_prefill_tps",
                        f"{req.min_prefill_tps:g}",
                        f"{math.floor(best.estimate.prefill_tokens_per_s):g}",
                        "Lower the prompt-processing target to "
                        f"{best.estimate.prefill_tokens_per_s:.0f} tokens/s.",
                        best.key,
                    )
                )
        if req.max_watts is not None:
            best = retry(max_watts=None, objective="power", limit=1)
            if best is not None:
                out.append(
                    Relaxation(
                        "max_watts",
                        f"{req.max_watts:g}",
                        f"{math.ceil(best.power_w)}",
                        f"Raise the power limit to {math.ceil(best.power_w)} W.",
                        best.key,
                    )
                )
        for name, value, default, label in (
            ("allow_used", req.allow_used, True, "Allow used parts"),
            ("form", req.form, "any", "Allow any form factor"),
            ("stack", req.stack, "any", "Allow any GPU software stack"),
            ("must_include", req.must_include, (), "Drop the must-include parts"),
        ):
            if value == default:
                continue
            best = retry(**{name: default, "objective": "cheapest", "limit": 1})
            if best is not None and best.total is not None:
                out.append(
                    Relaxation(
                        name,
                        _text(value),
                        _text(default),
                        f"{label}: the cheapest qualifying build is then "
                        f"{fmt_money(best.total, cur)}.",
                        best.key,
                    )
                )
        if not out:
            out.append(
                Relaxation(
                    "quant",
                    req.quant.name,
                    "",
                    "Nothing in the catalogue holds this model at this quantization and "
                    "context; choose a smaller quantization or a shorter context.",
                )
            )
        return out

    def _notes(self) -> None:
        req = self.request
        if req.engine != "auto":
            if self.engine_for("cpu") is None:
                self.notes.append(
                    f"{req.engine} cannot run on the CPU: no CPU-only or offload builds."
                )
        if req.training:
            self.notes.append("Fine-tuning: CPU-only and offload builds are not proposed.")
        missing = [slug for slug, part in self.shop.must.items() if part is None or not part.priced]
        for slug in missing:
            self.notes.append(f"must_include: {slug} is unknown or has no current price.")
        if self.state.truncated:
            self.notes.append(
                f"Search stopped after {MAX_ESTIMATES} estimates; results may be partial."
            )
        unpriced = sum(1 for p in self.catalogue.parts if not p.priced)
        if unpriced:
            self.notes.append(
                f"{unpriced} catalogue part(s) have no current price and were left out."
            )


_AUTO_ORDER = ["llama.cpp", "mlx", "exllamav2", "vllm", "transformers"]


def _bytes_per_token(model, quant) -> float:
    """Weight bytes one decoded token reads (active blocks and the output head)."""
    try:
        parts = memory.model_parts(model, quant)
        per_layer = (
            parts.dense_layer_bytes + parts.expert_layer_bytes * parts.expert_fraction_per_token
        )
        value = parts.layers * per_layer + parts.head_bytes
    except AttributeError:
        value = model.params_read_per_token_b * 1e9 * quant.bytes_per_weight
    return max(value, 1.0)


def _read_profile(model, quant, bytes_per_token: float) -> tuple[float, float, float]:
    """(bytes read in full every token, bytes of all routed experts, expert bytes one
    token reads) of the model's weights."""
    try:
        parts = memory.model_parts(model, quant)
    except AttributeError:
        return bytes_per_token, 0.0, 0.0
    dense = parts.layers * parts.dense_layer_bytes + parts.head_bytes
    experts = parts.layers * parts.expert_layer_bytes
    return dense, experts, experts * parts.expert_fraction_per_token


def _spread(builds: list[Build], limit: int) -> list[Build]:
    """At most ``limit`` builds evenly spread over ``builds`` (both ends kept)."""
    if len(builds) <= limit:
        return list(builds)
    if limit == 1:
        return [builds[0]]
    last = len(builds) - 1
    picks = sorted({round(i * last / (limit - 1)) for i in range(limit)})
    return [builds[i] for i in picks]


def _family_of(build: Build) -> tuple:
    gpus = tuple(sorted({line.slug for line in build.lines if line.kind in ("gpu", "system")}))
    cpus = tuple(sorted({line.slug for line in build.lines if line.kind == "cpu"}))
    return (build.architecture, gpus, cpus if build.architecture not in GPU_ONLY else ())


def _best_per_family(builds: list[Build], key: Callable[[Build], tuple], k: int) -> list[Build]:
    seen: set[tuple] = set()
    out = []
    for build in sorted(builds, key=key):
        family = _family_of(build)
        if family in seen:
            continue
        seen.add(family)
        out.append(build)
    return out[:k]


def _text(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _has_rack(items: Iterable[tuple[Part, int]]) -> bool:
    return any(p.kind == "case" and getattr(p, "form_factor", "") == "rack" for p, _ in items)


def _objective_key(objective: str) -> Callable[[Build], tuple]:
    """Sort key of a build for ``objective``; among equals, a build with unverified
    rules ranks below one whose rules all pass."""
    if objective == "fastest":
        return lambda b: (-b.tokens_per_s, b.unknown_rules, b.total or 0, b.key)
    if objective == "value":
        return lambda b: (-b.tokens_per_s_per_kusd, b.unknown_rules, b.total or 0, b.key)
    if objective == "power":
        return lambda b: (b.power_w, b.unknown_rules, b.total or 0, b.key)
    return lambda b: (b.total or 0, b.unknown_rules, -b.tokens_per_s, b.key)


def _merge(per_arch: dict[str, list[Build]], limit: int, objective: str) -> list[Build]:
    """The top ``limit`` builds by ``objective``, keeping each architecture's best so
    different designs appear side by side."""
    key = _objective_key(objective)
    everything = sorted((b for builds in per_arch.values() for b in builds), key=key)
    chosen = everything[:limit]
    bests = [builds[0] for builds in per_arch.values() if builds]
    for best in sorted(bests, key=key):
        if best in chosen:
            continue
        # Replace the worst build of an architecture that appears more than once.
        counts: dict[str, int] = {}
        for b in chosen:
            counts[b.architecture] = counts.get(b.architecture, 0) + 1
        for i in range(len(chosen) - 1, -1, -1):
            if counts[chosen[i].architecture] > 1:
                chosen[i] = best
                break
    return sorted(chosen, key=key)


def _rank(
    ranked: list[Build], objective: str, per_arch: dict[str, list[Build]], currency: str
) -> None:
    first = ranked[0] if ranked else None
    arch_best = {builds[0].key for builds in per_arch.values() if builds}
    for i, build in enumerate(ranked, start=1):
        build.rank = i
        reason = ""
        if objective == "cheapest":
            if i == 1:
                reason = "Cheapest build that meets every target."
            elif first is not None and first.total is not None and build.total is not None:
                extra = build.total - first.total
                reason = f"#{i} by price: {fmt_money(extra, currency)} more than #1"
                if first.tokens_per_s > 0 and build.tokens_per_s > first.tokens_per_s * 1.05:
                    reason += f", {build.tokens_per_s / first.tokens_per_s:.1f}× its speed"
                if first.estimate and build.estimate and first.estimate.training is None:
                    ratio = build.estimate.prefill_tokens_per_s / max(
                        first.estimate.prefill_tokens_per_s, 1e-9
                    )
                    if ratio >= 1.5:
                        reason += f", {ratio:.0f}× its prompt processing"
                reason += "."
        elif objective == "fastest":
            reason = "Fastest build within the constraints." if i == 1 else f"#{i} by speed."
        elif objective == "value":
            per = fmt_money(1000, currency)
            reason = f"{build.tokens_per_s_per_kusd:.2f} tokens/s per {per} (#{i} by value)."
        elif objective == "power":
            reason = f"{build.power_w:.0f} W while generating (#{i} by power)."
        elif objective == "pareto":
            reason = "On the price/speed front: no cheaper build is as fast."
        if build.key in arch_best and len(per_arch) > 1:
            reason += f" Best {build.architecture} option."
        build.rank_reason = reason.strip()


def machine_for(
    items: Sequence[tuple[Part, int]],
    with_host: bool = True,
    link: bool = False,
    full_lanes: bool = False,
) -> Machine:
    """The engine's machine for a parts list (``with_host=False`` drops the CPU, to
    ask whether the GPUs alone hold the model). Each GPU gets the lanes and PCIe
    generation of the slots the GPUs sit in (the narrowest, as the engine takes one
    figure per GPU kind), and its NVLink only with ``link`` (bridges in the build)."""
    assembly = items if isinstance(items, Assembly) else Assembly(items)
    system = assembly.system
    drive = next((p for p, _ in assembly.of("storage")), None)
    storage = None
    if isinstance(drive, StoragePart) and drive.seq_read_mbs:
        storage = Storage(drive.label, float(drive.seq_read_mbs))
    if system is not None:
        return Machine(unified=system.engine_system, name=system.label)
    plan = assembly.slot_plan()
    lanes = [lane for lane in (plan.lanes if plan else ()) if lane]
    gens = [gen for gen in (plan.gens if plan else ()) if gen]
    min_lanes = min(lanes) if lanes and not full_lanes else None
    min_gen = min(gens) if gens else None
    gpus = [(gpu.to_engine(min_lanes, min_gen, link), qty) for gpu, qty in assembly.gpus]
    cpu_system = cpu_system_for(assembly) if with_host else None
    if not gpus and cpu_system is None:
        raise ValueError("parts: a build needs GPUs, a CPU with memory, or a complete system")
    return Machine(gpus=tuple(gpus), cpu=cpu_system, storage=storage)


def cpu_system_for(assembly: Assembly) -> CpuSystem | None:
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
    return _cpu_system(
        cpu.name,
        sockets,
        cpu.cores,
        populated,
        float(mts),
        float(module.capacity_gb * dimms),
        cpu.gflops,
        cpu.power_w,
        cpu.memory_type if cpu.memory_type in ("DDR4", "DDR5") else "DDR5",
    )


@lru_cache(maxsize=4096)
def _cpu_system(
    name: str,
    sockets: int,
    cores: int,
    channels: int,
    mts: float,
    ram_gb: float,
    gflops: float,
    tdp_w: float,
    memory_type: str,
) -> CpuSystem:
    return CpuSystem(
        name=name,
        sockets=sockets,
        cores_per_socket=cores,
        memory_channels=channels,
        memory_mts=mts,
        ram_gb=ram_gb,
        fp32_gflops_per_socket=gflops,
        tdp_w_per_socket=tdp_w,
        memory_type=memory_type,
    )


def _host_layers(est: Estimate) -> float:
    return sum(d.layers for d in est.memory if d.kind == "cpu")


def classify(assembly: Assembly, est: Estimate | None) -> str:
    """The architecture label of a build."""
    if assembly.system is not None:
        return UNIFIED
    if not assembly.gpus:
        return CPU_SERVER
    if est is not None and not est.training and _host_layers(est) > 0:
        return HYBRID
    return GPU_SERVER if assembly.is_server() else GPU_TOWER


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
    False defers the rules to :func:`verify`, for builds made compatible by
    construction)."""
    req = search.request
    assembly = Assembly(items)
    lines = [Line.of(part, qty, search.currency) for part, qty in assembly.items]
    total: Decimal | None = Decimal(0)
    for line in lines:
        if line.line_total is None:
            total = None
            break
        total += line.line_total
    est: Estimate | None = None
    shortfalls: list[Shortfall] = []
    if engine is None:
        engine = _engine_for_assembly(search, assembly)
    parallel = check_parallel(assembly, engine, req.model) if engine else Parallel(None, False, ())
    findings: list = []
    machine = None
    try:
        machine = machine_for(assembly, link=parallel.link)
    except ValueError as exc:
        shortfalls.append(Shortfall("parts", str(exc)))
    if not run_estimate:
        shortfalls.append(Shortfall("estimate", "not estimated: the search reached its limit"))
    elif machine is not None and engine is not None:
        try:
            est = estimate(
                machine, req.model, req.quant, req.workload, engine=engine, split=parallel.split
            )
        except ValueError as exc:
            shortfalls.append(Shortfall("engine", str(exc)))
    elif machine is not None:
        shortfalls.append(
            Shortfall("engine", f"No inference engine runs {req.quant.name} on this hardware.")
        )
    label = arch or classify(assembly, est)
    tokens = 0.0
    if est is not None:
        if est.training is not None:
            tokens = est.training.tokens_per_s
        else:
            tokens = est.aggregate_tokens_per_s / max(est.concurrent_sequences, 1)
        shortfalls.extend(_shortfalls(search, assembly, est, label, gpu_only, total))
    elif req.budget is not None and total is not None and total > req.budget:
        shortfalls.append(_over_budget(req.budget, total, search.currency))
    build = Build(
        checked=check_rules,
        architecture=label,
        lines=lines,
        total=total,
        currency=search.currency,
        findings=findings,
        estimate=est,
        engine=engine or "",
        request=req,
        tokens_per_s=tokens,
        peak_power_w=assembly.peak_draw_w(),
        shortfalls=shortfalls,
        parallel=list(parallel.findings),
    )
    if check_rules:
        build.parallel = lane_cost(search, assembly, build)
        build.findings = [*check(assembly, search.needs), *build.parallel]
    build.title = _title(assembly, label)
    build.summary = _summary(assembly)
    return build


def lane_cost(search: Search, assembly: Assembly, build: Build) -> list:
    """The build's parallel findings, with what an x8/x8 (or narrower) split costs a
    tensor-parallel build: the estimate again with every GPU at x16."""
    findings = list(build.parallel)
    narrow = [f for f in findings if f.rule == "pcie_lanes" and f.status == "warn"]
    if not narrow or build.estimate is None or not build.tokens_per_s:
        return findings
    req = search.request
    parallel = check_parallel(assembly, build.engine, req.model)
    machine = machine_for(assembly, link=parallel.link, full_lanes=True)
    wide = estimate(
        machine, req.model, req.quant, req.workload, engine=build.engine, split=parallel.split
    )
    x16 = wide.aggregate_tokens_per_s / max(wide.concurrent_sequences, 1)
    if x16 <= build.tokens_per_s:
        return findings
    gain = x16 / build.tokens_per_s - 1
    cost = f" At x16 each the build would decode {x16:.1f} tokens/s ({gain:.0%} faster)."
    return [
        Finding(f.rule, f.ok, f.message + cost, f.status) if f in narrow else f for f in findings
    ]


def _engine_for_assembly(search: Search, assembly: Assembly) -> str | None:
    if assembly.system is not None:
        return search.engine_for("unified", assembly.system.vendor)
    if assembly.gpus:
        vendor = assembly.gpus[0][0].vendor
        if assembly.cpu is not None and assembly.memory is not None:
            return search.engine_for("hybrid", vendor) or search.engine_for("gpu", vendor)
        return search.engine_for("gpu", vendor)
    return search.engine_for("cpu")


def _over_budget(budget: Decimal, total: Decimal, currency: str) -> Shortfall:
    over = total - budget
    return Shortfall("budget", f"{fmt_money(over, currency)} over budget", float(over))


def _shortfalls(
    search: Search,
    assembly: Assembly,
    est: Estimate,
    arch: str,
    gpu_only: bool,
    total: Decimal | None,
) -> list[Shortfall]:
    req = search.request
    out: list[Shortfall] = []
    what = "memory"
    if assembly.system is not None:
        what = "unified memory"
    elif assembly.gpus and (gpu_only or not assembly.of("memory")):
        what = "VRAM"
    if not est.fits:
        out.append(
            Shortfall("memory", f"needs {est.missing_gb:.1f} GB more {what}", est.missing_gb)
        )
    elif gpu_only and est.training is None and _host_layers(est) > 0:
        gpu_est = estimate(
            machine_for(assembly, with_host=False),
            req.model,
            req.quant,
            req.workload,
            engine=_gpu_engine(search, assembly),
        )
        missing = max(gpu_est.missing_gb, 0.1)
        out.append(Shortfall("memory", f"needs {missing:.1f} GB more VRAM", missing))
    if not out:
        if est.training is not None:
            tps = est.training.tokens_per_s
            unit = "training tokens/s"
        else:
            tps = est.aggregate_tokens_per_s / max(est.concurrent_sequences, 1)
            unit = "tokens/s"
        if req.min_tps and tps < req.min_tps:
            gap = req.min_tps - tps
            out.append(
                Shortfall(
                    "min_tps",
                    f"{_fmt_tps(tps)} {unit}, {_fmt_tps(gap)} short of the {req.min_tps:g} "
                    f"{unit} target",
                    gap,
                )
            )
        if (
            req.min_prefill_tps
            and est.training is None
            and est.prefill_tokens_per_s < req.min_prefill_tps
        ):
            gap = req.min_prefill_tps - est.prefill_tokens_per_s
            out.append(
                Shortfall(
                    "min_prefill_tps",
                    f"prompt processing {est.prefill_tokens_per_s:.0f} tokens/s, {gap:.0f} short "
                    f"of the {req.min_prefill_tps:g} tokens/s target",
                    gap,
                )
            )
        if req.max_watts is not None and est.power_w > req.max_watts:
            over = est.power_w - req.max_watts
            out.append(
                Shortfall("max_watts", f"{over:.0f} W over the {req.max_watts:g} W limit", over)
            )
    if req.budget is not None and total is not None and total > req.budget:
        out.append(_over_budget(req.budget, total, search.currency))
    if req.stack != "any":
        want = STACK_NAMES[req.stack]
        stacks = {g.stack for g, _ in assembly.gpus} | (
            {assembly.system.stack} if assembly.system else set()
        )
        if want not in stacks:
            out.append(Shortfall("stack", f"has no {want} GPU"))
    if req.form != "any":
        forms = {
            getattr(p, "form_factor", "") for p, _ in assembly.items if p.kind in ("case", "system")
        }
        if req.form not in forms:
            out.append(Shortfall("form", f"is not a {req.form} build"))
    if not req.allow_used:
        used = [p.label for p, _ in assembly.items if p.used]
        if used:
            out.append(Shortfall("allow_used", "has used parts: " + ", ".join(used)))
    must = set(req.must_include) - {p.slug for p, _ in assembly.items}
    if must:
        out.append(Shortfall("must_include", "lacks " + ", ".join(sorted(must))))
    return out


def _fmt_tps(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 0.1:
        return f"{value:.1f}"
    return f"{value:.2g}"


def _gpu_engine(search: Search, assembly: Assembly) -> str:
    vendor = assembly.gpus[0][0].vendor
    return search.engine_for("gpu", vendor) or "llama.cpp"


def _title(assembly: Assembly, arch: str) -> str:
    if assembly.system is not None:
        return assembly.system.label
    parts = []
    for gpu, qty in assembly.gpus:
        parts.append(f"{qty} × {gpu.label}")
    cpu = assembly.cpu
    if cpu is not None:
        sockets = assembly.count("cpu")
        cpu_text = f"{sockets} × {cpu.label}" if sockets > 1 else cpu.label
        parts.append(("on " if assembly.gpus else "") + cpu_text)
    return " ".join(parts) + f" ({arch})"


def _summary(assembly: Assembly) -> str:
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
        mts = assembly.memory_mts()
        channels = dimms
        board = assembly.board
        if board is not None:
            channels = min(dimms, board.memory_channels)
        bits.append(
            f"{module.capacity_gb * dimms:g} GB {module.memory_type}-{mts} in {channels} channels"
        )
    return "; ".join(bits)


def recommend(catalogue: Catalogue, request: BuildRequest) -> Recommendation:
    """Ranked builds for ``request`` from ``catalogue`` (see the module docstring)."""
    return Search(catalogue, request).run()


def evaluate(
    catalogue: Catalogue, request: BuildRequest, parts: Sequence[tuple[str, int]]
) -> Build:
    """Price, check and estimate a given parts list; raises ``ValueError`` naming
    ``parts`` for unknown slugs."""
    items = []
    unknown = []
    for slug, qty in parts:
        part = catalogue.get(slug)
        if part is None:
            unknown.append(slug)
        else:
            items.append((part, qty))
    if unknown:
        raise ValueError("parts: unknown part slug(s): " + ", ".join(unknown))
    if not items:
        raise ValueError("parts: the build has no parts")
    search = Search(catalogue, request)
    build = build_from(search, items, None, None)
    return build
