"""Data for the catalogue pages: GPU and platform tables and model memory needs.

Rows are plain dataclasses the templates print; prices come only from
``pricing.current.current_prices``. Ratios are per US dollar of the current price (or
per unit of whatever currency the price is in, which the row names).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from catalog.models import Cpu, Gpu, LlmModel, MemoryModule, Motherboard, QuantFormat
from configurator import engine
from configurator.adapters import quant_of
from configurator.engine import devices, rates
from configurator.engine import memory as engine_memory
from configurator.engine.calibration import load_constants
from configurator.engine.hardware import CpuSystem
from pricing.current import current_prices

GPU_SORTS = {
    "per_vram": ("Price per GB of VRAM", False),
    "per_bandwidth": ("Price per GB/s of effective bandwidth", False),
    "price": ("Price", False),
    "vram": ("VRAM", True),
    "bandwidth": ("Effective bandwidth", True),
    "name": ("Name", False),
}
PLATFORM_SORTS = {
    "bandwidth_per_dollar": ("Effective memory bandwidth per dollar", True),
    "bandwidth": ("Effective memory bandwidth", True),
    "price": ("Platform price", False),
    "name": ("Name", False),
}
CONDITIONS = ("all", "new", "used")


@dataclass(frozen=True)
class PricesAsOf:
    """When the prices on a page were observed: the newest and oldest observation and
    how many of them are stale."""

    newest: datetime | None
    oldest: datetime | None
    stale: int
    count: int
    missing: int = 0


def prices_as_of(prices: Iterable[Any], missing: int = 0) -> PricesAsOf:
    seen = [p for p in prices if p is not None]
    times = [p.observed_at for p in seen if getattr(p, "observed_at", None)]
    return PricesAsOf(
        newest=max(times, default=None),
        oldest=min(times, default=None),
        stale=sum(1 for p in seen if getattr(p, "stale", False)),
        count=len(seen),
        missing=missing,
    )


def _ratio(price: Any, amount: float | None) -> Decimal | None:
    if price is None or not amount:
        return None
    return (Decimal(price.amount) / Decimal(str(amount))).quantize(Decimal("0.01"))


@dataclass
class GpuRow:
    """A GPU with its price per GB of VRAM and per GB/s of the bandwidth decode gets
    from it (the estimator's effective bandwidth; the peak is shown beside it)."""

    gpu: Gpu
    price: Any  # pricing's CurrentPrice, or None when the part has no price
    per_vram: Decimal | None = field(init=False)
    per_bandwidth: Decimal | None = field(init=False)
    effective_gbs: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.per_vram = _ratio(self.price, self.gpu.vram_gb)
        self.effective_gbs = effective_gpu_bandwidth_gbs(self.gpu)
        self.per_bandwidth = _ratio(self.price, self.effective_gbs)


def effective_gpu_bandwidth_gbs(gpu: Gpu) -> float | None:
    """Memory bandwidth decode reaches on this GPU, GB/s (the estimator's rate for its
    class of device); None when the catalogue row lacks a spec the engine needs."""
    from configurator.adapters import part_of

    part = part_of(gpu, None)
    if part is None:
        return None
    return rates.gpu_bandwidth_gbs(part.engine_gpu, load_constants())


def _sorted(rows: list, key: str, descending: bool, value) -> list:
    """Rows sorted on ``value(row)``; rows without a value go last, whatever the order."""
    known = [r for r in rows if value(r) is not None]
    unknown = [r for r in rows if value(r) is None]
    known.sort(key=value, reverse=descending)
    return known + unknown


def gpu_rows(sort: str = "per_vram", condition: str = "all") -> list[GpuRow]:
    gpus = Gpu.objects.all()
    if condition in ("new", "used"):
        gpus = gpus.filter(condition=condition)
    gpus = list(gpus)
    prices = current_prices(gpus)
    rows = [GpuRow(gpu, prices.get(gpu.pk)) for gpu in gpus]
    sort = sort if sort in GPU_SORTS else "per_vram"
    descending = GPU_SORTS[sort][1]
    getters = {
        "per_vram": lambda r: r.per_vram,
        "per_bandwidth": lambda r: r.per_bandwidth,
        "price": lambda r: r.price.amount if r.price else None,
        "vram": lambda r: r.gpu.vram_gb,
        "bandwidth": lambda r: r.effective_gbs,
        "name": lambda r: str(r.gpu).lower(),
    }
    return _sorted(rows, sort, descending, getters[sort])


@dataclass
class PlatformRow:
    """A CPU on a board with every memory channel populated by one module: the
    cheapest way to get that CPU's full memory bandwidth."""

    cpu: Cpu
    sockets: int
    board: Motherboard
    module: MemoryModule
    modules: int
    speed_mts: int
    bandwidth_gbs: float
    price_total: Decimal | None
    currency: str
    prices: list[Any]
    effective_gbs: float = 0.0

    @property
    def effective_per_kusd(self) -> Decimal | None:
        """Effective GB/s per 1,000 units of the platform price."""
        if not self.price_total:
            return None
        value = Decimal(str(self.effective_gbs)) * 1000 / self.price_total
        return value.quantize(Decimal("0.1"))

    @property
    def capacity_gb(self) -> int:
        return self.modules * self.module.capacity_gb

    @property
    def bandwidth_per_kusd(self) -> Decimal | None:
        """GB/s per 1,000 units of the platform price."""
        if not self.price_total:
            return None
        return (Decimal(str(self.bandwidth_gbs)) * 1000 / self.price_total).quantize(Decimal("0.1"))

    @property
    def stale(self) -> bool:
        return any(getattr(p, "stale", False) for p in self.prices)


def _compatible_boards(cpu: Cpu, boards: Sequence[Motherboard]) -> list[Motherboard]:
    return [
        b
        for b in boards
        if b.socket == cpu.socket
        and b.memory_type == cpu.memory_type
        and (b.socket_count or 1) <= (cpu.max_sockets or 1)
    ]


def _platform(cpu: Cpu, board: Motherboard, modules: Sequence[MemoryModule], prices) -> Any:
    sockets = board.socket_count or 1
    channels = board.memory_channels
    cap = (
        min(v for v in (cpu.max_memory_mts, board.max_memory_mts) if v)
        if (cpu.max_memory_mts or board.max_memory_mts)
        else None
    )
    fitting = [
        m
        for m in modules
        if m.memory_type == board.memory_type
        and m.registered == board.memory_registered
        and prices.get(m.pk) is not None
    ]
    if not fitting or cap is None:
        return None
    full_speed = [m for m in fitting if m.speed_mts >= cap]
    pool = full_speed or [max(fitting, key=lambda m: m.speed_mts)]
    module = min(pool, key=lambda m: prices[m.pk].amount)
    speed = min(cap, module.speed_mts)
    parts = [prices.get(cpu.pk), prices.get(board.pk), prices[module.pk]]
    total = None
    currencies = {p.currency for p in parts if p is not None}
    if all(p is not None for p in parts) and len(currencies) == 1:
        total = parts[0].amount * sockets + parts[1].amount + parts[2].amount * channels
    return PlatformRow(
        cpu=cpu,
        sockets=sockets,
        board=board,
        module=module,
        modules=channels,
        speed_mts=speed,
        bandwidth_gbs=channels * speed * 8 / 1000,
        price_total=total,
        currency=currencies.pop() if len(currencies) == 1 else "",
        prices=[p for p in parts if p is not None],
        effective_gbs=effective_bandwidth_gbs(cpu, sockets, channels, speed),
    )


def effective_bandwidth_gbs(cpu: Cpu, sockets: int, channels: int, mts: int) -> float:
    """Memory bandwidth decode reaches on this platform, GB/s: the estimator's own rate
    (a share of the peak, less across sockets, capped by what the cores can pull)."""
    system = CpuSystem(
        name=str(cpu),
        sockets=sockets,
        cores_per_socket=cpu.cores,
        memory_channels=channels,
        memory_mts=float(mts),
        ram_gb=1.0,
        fp32_gflops_per_socket=float(cpu.fp32_gflops or cpu.cores * 3.0 * 32),
        memory_type=cpu.memory_type if cpu.memory_type in ("DDR4", "DDR5") else "DDR5",
        ccds_per_socket=devices.ccds_for_cpu_name(cpu.name),
    )
    return rates.cpu_bandwidth_gbs(system, load_constants())


def platform_rows(sort: str = "bandwidth_per_dollar", condition: str = "all") -> list[PlatformRow]:
    cpus = Cpu.objects.all()
    if condition in ("new", "used"):
        cpus = cpus.filter(condition=condition)
    cpus, boards, modules = (
        list(cpus),
        list(Motherboard.objects.all()),
        list(MemoryModule.objects.all()),
    )
    prices = current_prices([*cpus, *boards, *modules])
    rows: list[PlatformRow] = []
    for cpu in cpus:
        best: dict[int, PlatformRow] = {}
        for board in _compatible_boards(cpu, boards):
            row = _platform(cpu, board, modules, prices)
            if row is None:
                continue
            current = best.get(row.sockets)
            if current is None or _better(row, current):
                best[row.sockets] = row
        rows.extend(best.values())
    sort = sort if sort in PLATFORM_SORTS else "bandwidth_per_dollar"
    getters = {
        "bandwidth_per_dollar": lambda r: r.effective_per_kusd,
        "bandwidth": lambda r: r.effective_gbs,
        "price": lambda r: r.price_total,
        "name": lambda r: str(r.cpu).lower(),
    }
    return _sorted(rows, sort, PLATFORM_SORTS[sort][1], getters[sort])


def _better(row: PlatformRow, other: PlatformRow) -> bool:
    if row.effective_per_kusd is None:
        return False
    if other.effective_per_kusd is None:
        return True
    return (row.effective_gbs, row.effective_per_kusd) > (
        other.effective_gbs,
        other.effective_per_kusd,
    )


MODEL_CONTEXTS = (4_096, 32_768, 131_072)


@dataclass(frozen=True)
class QuantNeed:
    quant: QuantFormat
    weights_gb: float
    totals_gb: tuple[float, ...]  # weights + F16 KV cache at each of the page's contexts
    bits_per_weight: float = 0.0  # effective for this model (GGUF: llama.cpp's recipe)


def model_arch(llm: LlmModel) -> engine.ModelArch:
    """The engine's view of a catalogue model."""
    return engine.ModelArch.from_dict(
        {f.name: getattr(llm, f.name) for f in llm._meta.concrete_fields}
    )


def model_contexts(llm: LlmModel) -> list[int]:
    contexts = [c for c in MODEL_CONTEXTS if c < llm.max_context]
    return [*contexts, llm.max_context]


def kv_gb(llm: LlmModel, context_tokens: int) -> float:
    """F16 KV cache of one sequence holding ``context_tokens`` tokens, GB."""
    return engine_memory.kv_cache_bytes(model_arch(llm), context_tokens, 16.0) / 1e9


def model_memory_needs(llm: LlmModel, contexts: Sequence[int]) -> list[QuantNeed]:
    """Weights at every weight format, plus an F16 KV cache for one sequence at each
    context, in GB."""
    arch = model_arch(llm)
    kv = [engine_memory.kv_cache_bytes(arch, c, 16.0) / 1e9 for c in contexts]
    needs = []
    for fmt in QuantFormat.objects.filter(applies_to=QuantFormat.AppliesTo.WEIGHTS):
        quant = quant_of(fmt)
        weights = engine_memory.weights_bytes(arch, quant) / 1e9
        bits = engine_memory.effective_bits_per_weight(arch, quant)
        needs.append(QuantNeed(fmt, weights, tuple(weights + k for k in kv), bits))
    return needs
