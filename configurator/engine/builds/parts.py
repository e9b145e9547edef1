"""Buyable parts as the build generator sees them: plain frozen dataclasses with the
specs that decide compatibility and speed, and the part's current price.

Unknown specs are ``None``; the rules treat an unknown spec as "not verified" (a note on
the build), never as a silent pass or a silent failure. Capacities keep the vendor's
units: ``vram_gb``, ``capacity_gb`` of a DIMM and ``memory_gb`` of a system are binary
GB as sold; ``capacity_gb`` of a drive is decimal GB as sold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import ClassVar

from ..hardware import Gpu, UnifiedMemorySystem

# Order of kinds in a build's key and parts table.
KINDS: tuple[str, ...] = (
    "system",
    "gpu",
    "cpu",
    "motherboard",
    "memory",
    "cooler",
    "psu",
    "case",
    "storage",
    "adapter",
)
KIND_LABELS = {
    "system": "Complete system",
    "gpu": "GPU",
    "cpu": "CPU",
    "motherboard": "Motherboard",
    "memory": "Memory",
    "cooler": "CPU cooler",
    "psu": "Power supply",
    "case": "Case",
    "storage": "Storage",
    "adapter": "Bridge / riser",
}

# Software stack of a GPU or system → the engine's vendor name.
GPU_VENDOR_BY_STACK = {"CUDA": "nvidia", "ROCm": "amd", "SYCL": "intel"}
SYSTEM_VENDOR_BY_STACK = {"Metal": "apple", "ROCm": "amd", "CUDA": "nvidia"}


@dataclass(frozen=True)
class Price:
    """A part's current price in the display currency, with where it came from.

    ``origin``: scrape, manual or reference; ``age_days``: days since it was observed;
    ``stale``: older than the pricing app's freshness limit (shown, never hidden).
    """

    amount: Decimal
    currency: str = "USD"
    origin: str = ""
    age_days: int | None = None
    retailer: str = ""
    url: str = ""
    stale: bool = False
    observed_at: str = ""


@dataclass(frozen=True, kw_only=True)
class Part:
    """Fields every part has. ``kind`` is set by each subclass."""

    kind: ClassVar[str] = ""

    slug: str
    name: str
    brand: str = ""
    condition: str = "new"
    price: Price | None = None

    @property
    def label(self) -> str:
        """Brand and name, without repeating the brand."""
        if not self.brand or self.name.lower().startswith(self.brand.lower()):
            return self.name
        return f"{self.brand} {self.name}"

    @property
    def priced(self) -> bool:
        return self.price is not None

    @property
    def cost(self) -> Decimal:
        """The price amount; parts without a price are never put in generated builds."""
        if self.price is None:
            raise ValueError(f"{self.slug} has no current price")
        return self.price.amount

    @property
    def used(self) -> bool:
        return self.condition != "new"


@dataclass(frozen=True, kw_only=True)
class GpuPart(Part):
    kind: ClassVar[str] = "gpu"

    vram_gb: float
    bandwidth_gbs: float
    fp16_tflops: float
    fp32_tflops: float = 0.0
    tdp_w: float | None = None
    stack: str = "CUDA"
    slot_width: float | None = None
    length_mm: int | None = None
    power_connector: str = ""
    power_connector_count: int | None = None
    pcie_gen: int | None = None
    pcie_lanes: int | None = None
    interconnect_bandwidth_gbs: float = 0.0
    interconnect: str = ""
    interconnect_group_size: int | None = None
    passive: bool = False
    memory_type: str = ""

    @property
    def vendor(self) -> str:
        return GPU_VENDOR_BY_STACK.get(self.stack, "nvidia")

    @property
    def board_power_w(self) -> float:
        """Rated board power, W (300 W assumed when unknown)."""
        return float(self.tdp_w or 300)

    @property
    def slots(self) -> int:
        """Expansion-slot positions the card covers (2 assumed when unknown)."""
        width = self.slot_width or 2
        return int(-(-width // 1))

    @cached_property
    def engine_gpu(self) -> Gpu:
        return self.to_engine()

    @property
    def has_link(self) -> bool:
        """The card has an NVLink / Infinity Fabric connector (used only when bridged)."""
        return bool(self.interconnect_bandwidth_gbs) and self.interconnect not in ("", "none")

    def to_engine(self, lanes: int | None = None, gen: int | None = None, link: bool = True) -> Gpu:
        """The engine's view of this card; ``lanes`` and ``gen`` cap the PCIe lanes and
        generation (the slot's electrical width and generation); ``link`` False drops
        the NVLink / Infinity Fabric link (no bridge in the build). Memoised."""
        memo = self.__dict__.setdefault("_engine_by_lanes", {})
        key = (lanes, gen, link)
        if key not in memo:
            memo[key] = self._make_engine(lanes, gen, link)
        return memo[key]

    def _make_engine(self, lanes: int | None, gen: int | None, link: bool) -> Gpu:
        card_lanes = self.pcie_lanes or 16
        card_gen = self.pcie_gen or 4
        return Gpu(
            name=self.name,
            vram_gb=self.vram_gb,
            bandwidth_gbs=self.bandwidth_gbs,
            fp16_tflops=self.fp16_tflops,
            fp32_tflops=self.fp32_tflops or 0.0,
            tdp_w=self.board_power_w,
            vendor=self.vendor,
            interconnect_bandwidth_gbs=(self.interconnect_bandwidth_gbs or 0.0) if link else 0.0,
            pcie_gen=min(card_gen, gen) if gen else card_gen,
            pcie_lanes=min(card_lanes, lanes) if lanes else card_lanes,
            **({"memory_type": self.memory_type} if self.memory_type else {}),
        )


@dataclass(frozen=True, kw_only=True)
class CpuPart(Part):
    kind: ClassVar[str] = "cpu"

    socket: str
    cores: int
    memory_type: str
    memory_channels: int
    max_memory_mts: int | None = None
    threads: int | None = None
    pcie_lanes: int | None = None
    tdp_w: float | None = None
    max_sockets: int = 1
    fp32_gflops: float | None = None

    @property
    def power_w(self) -> float:
        """Rated power, W (a core-count guess when unknown)."""
        return float(self.tdp_w or max(65, 6 * self.cores))

    @property
    def gflops(self) -> float:
        """Peak FP32 GFLOP/s of one socket (cores × 3 GHz × 32 when unknown)."""
        return float(self.fp32_gflops or self.cores * 3.0 * 32)


BOARD_FORM_FACTORS = ("Mini-ITX", "mATX", "ATX", "E-ATX", "CEB", "EEB", "SSI-EEB")


@dataclass(frozen=True, kw_only=True)
class BoardPart(Part):
    kind: ClassVar[str] = "motherboard"

    socket: str
    memory_type: str
    registered: bool
    dimm_slots: int
    memory_channels: int
    socket_count: int = 1
    form_factor: str = ""
    chipset: str = ""
    max_memory_gb: int | None = None
    max_memory_mts: int | None = None
    x16_slots: int | None = None
    x16_electrical: tuple[int, ...] = ()
    pcie_gen: int | None = None
    slot_spacing: int | None = None
    eps_connectors: int | None = None
    x16_positions: tuple[int, ...] = ()
    x16_gens: tuple[int, ...] = ()

    @property
    def dimms_per_channel(self) -> int:
        return max(1, self.dimm_slots // max(self.memory_channels, 1))


@dataclass(frozen=True, kw_only=True)
class MemoryPart(Part):
    kind: ClassVar[str] = "memory"

    memory_type: str
    registered: bool
    capacity_gb: int
    speed_mts: int


@dataclass(frozen=True, kw_only=True)
class PsuPart(Part):
    kind: ClassVar[str] = "psu"

    watts: int
    efficiency: str = ""
    pcie_8pin: int | None = None
    connectors_12v_2x6: int | None = None
    eps: int | None = None
    form_factor: str = "ATX"


@dataclass(frozen=True, kw_only=True)
class CasePart(Part):
    kind: ClassVar[str] = "case"

    form_factor: str
    board_support: tuple[str, ...] = ()
    max_gpu_length_mm: int | None = None
    expansion_slots: int | None = None
    max_cooler_height_mm: int | None = None
    rack_units: int = 0
    integrated_psu_w: int | None = None
    integrated_psu_count: int | None = None

    @property
    def has_integrated_psu(self) -> bool:
        """The chassis ships with its own power supply (which is then the build's)."""
        return bool(self.integrated_psu_w)


@dataclass(frozen=True, kw_only=True)
class StoragePart(Part):
    kind: ClassVar[str] = "storage"

    capacity_gb: int
    seq_read_mbs: int | None = None
    interface: str = ""


@dataclass(frozen=True, kw_only=True)
class CoolerPart(Part):
    kind: ClassVar[str] = "cooler"

    sockets: tuple[str, ...] = ()
    tdp_rating_w: int | None = None
    height_mm: int | None = None


@dataclass(frozen=True, kw_only=True)
class SystemPart(Part):
    kind: ClassVar[str] = "system"

    memory_gb: float
    bandwidth_gbs: float
    gpu_fp16_tflops: float
    usable_memory_fraction: float | None = None
    cpu_cores: int | None = None
    tdp_w: float | None = None
    form_factor: str = "small"
    stack: str = "Metal"
    storage_gb: int = 0

    @property
    def vendor(self) -> str:
        return SYSTEM_VENDOR_BY_STACK.get(self.stack, "apple")

    @property
    def power_w(self) -> float:
        return float(self.tdp_w or 150)

    @cached_property
    def engine_system(self) -> UnifiedMemorySystem:
        return UnifiedMemorySystem(
            name=self.name,
            memory_gb=self.memory_gb,
            bandwidth_gbs=self.bandwidth_gbs,
            gpu_fp16_tflops=self.gpu_fp16_tflops,
            usable_memory_fraction=self.usable_memory_fraction or 0.75,
            tdp_w=self.power_w,
            vendor=self.vendor,
        )


ADAPTER_TYPES = ("nvlink_bridge", "infinity_fabric_bridge", "riser_cable", "bifurcation_card")


@dataclass(frozen=True, kw_only=True)
class AdapterPart(Part):
    """A GPU bridge (NVLink, Infinity Fabric) or a PCIe riser / bifurcation card.

    Bridges: ``compatible_gpus`` (GPU slugs it joins), ``gpus_joined`` (cards per
    bridge), ``bridges_per_group`` (bridges one group needs for the full link),
    ``slot_spacing`` (slot positions between the cards it joins). Risers: ``pcie_lanes``
    and ``pcie_gen`` of the cable; a bifurcation card splits one x16 slot into
    ``gpus_joined`` links of ``pcie_lanes`` each."""

    kind: ClassVar[str] = "adapter"

    adapter_type: str
    compatible_gpus: tuple[str, ...] = ()
    gpus_joined: int | None = None
    bridges_per_group: int | None = None
    slot_spacing: int | None = None
    pcie_lanes: int | None = None
    pcie_gen: int | None = None

    @property
    def is_bridge(self) -> bool:
        return self.adapter_type.endswith("_bridge")


PART_TYPES: dict[str, type[Part]] = {
    cls.kind: cls
    for cls in (
        GpuPart,
        CpuPart,
        BoardPart,
        MemoryPart,
        PsuPart,
        CasePart,
        StoragePart,
        CoolerPart,
        SystemPart,
        AdapterPart,
    )
}


@dataclass
class Catalogue:
    """Every part the generator may use, looked up by slug or listed by kind.

    ``version`` names the catalogue and price state it was built from (caches key on
    it); ``prices_as_of`` is when the prices were read (ISO 8601). Derived indexes that
    depend only on the catalogue are memoised on the instance (``memo``).
    """

    parts: tuple[Part, ...]
    version: str = ""
    prices_as_of: str = ""
    currency: str = "USD"
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.parts = tuple(self.parts)
        self.by_slug: dict[str, Part] = {}
        self._by_kind: dict[str, list[Part]] = {kind: [] for kind in KINDS}
        for part in self.parts:
            if part.slug in self.by_slug:
                raise ValueError(f"catalogue: slug {part.slug!r} appears twice")
            self.by_slug[part.slug] = part
            self._by_kind.setdefault(part.kind, []).append(part)

    def of(self, kind: str) -> list[Part]:
        """Parts of ``kind`` (gpu, cpu, motherboard, memory, psu, case, storage,
        cooler, system)."""
        return self._by_kind.get(kind, [])

    def get(self, slug: str) -> Part | None:
        return self.by_slug.get(slug)

    def __len__(self) -> int:
        return len(self.parts)

    @classmethod
    def of_parts(cls, parts: Iterable[Part], **kwargs: str) -> Catalogue:
        return cls(tuple(parts), **kwargs)


def _clean(value: object) -> object:
    return None if value == "" else value


# GPU form factors that are not cards: modules soldered to a vendor baseboard.
SERVER_ONLY_GPU_FORMS = frozenset({"sxm", "oam"})


def part_from_specs(
    kind: str,
    *,
    slug: str,
    name: str,
    brand: str = "",
    condition: str = "new",
    specs: dict,
    price: Price | None = None,
) -> Part | None:
    """A part from catalogue field names (the seed/export format's ``specs``); None when
    a spec the engine cannot do without is missing (e.g. a GPU without bandwidth), and for
    SXM/OAM GPU modules, which only come inside their own 8-GPU baseboard servers and fit
    no PCIe slot."""
    s = {k: _clean(v) for k, v in specs.items()}
    if kind == "gpu" and s.get("form_factor") in SERVER_ONLY_GPU_FORMS:
        return None
    common = {"slug": slug, "name": name, "brand": brand, "condition": condition, "price": price}
    make = _MAKERS.get(kind)
    if make is None:
        return None
    try:
        return make(s, common)
    except (KeyError, TypeError, ValueError):
        return None


def _gpu(s: dict, common: dict) -> Part | None:
    fp16 = s.get("fp16_tflops") or (2 * s["fp32_tflops"] if s.get("fp32_tflops") else None)
    if not s.get("vram_gb") or not s.get("bandwidth_gbs") or not fp16:
        return None
    return GpuPart(
        **common,
        vram_gb=float(s["vram_gb"]),
        bandwidth_gbs=float(s["bandwidth_gbs"]),
        fp16_tflops=float(fp16),
        fp32_tflops=float(s.get("fp32_tflops") or 0.0),
        tdp_w=s.get("tdp_w"),
        stack=s.get("software_stack") or "CUDA",
        slot_width=s.get("slot_width"),
        length_mm=s.get("length_mm"),
        power_connector=s.get("power_connector") or "",
        power_connector_count=s.get("power_connector_count"),
        pcie_gen=s.get("pcie_gen"),
        pcie_lanes=s.get("pcie_lanes"),
        interconnect_bandwidth_gbs=float(s.get("interconnect_bandwidth_gbs") or 0.0),
        interconnect=s.get("interconnect") or "",
        interconnect_group_size=s.get("interconnect_group_size"),
        passive=s.get("cooling") == "passive",
        memory_type=s.get("memory_type") or "",
    )


def _cpu(s: dict, common: dict) -> Part | None:
    return CpuPart(
        **common,
        socket=s["socket"],
        cores=int(s["cores"]),
        memory_type=s["memory_type"],
        memory_channels=int(s["memory_channels"]),
        max_memory_mts=s.get("max_memory_mts"),
        threads=s.get("threads"),
        pcie_lanes=s.get("pcie_lanes"),
        tdp_w=s.get("tdp_w"),
        max_sockets=int(s.get("max_sockets") or 1),
        fp32_gflops=s.get("fp32_gflops"),
    )


def _motherboard(s: dict, common: dict) -> Part | None:
    return BoardPart(
        **common,
        socket=s["socket"],
        memory_type=s["memory_type"],
        registered=bool(s.get("memory_registered")),
        dimm_slots=int(s["dimm_slots"]),
        memory_channels=int(s["memory_channels"]),
        socket_count=int(s.get("socket_count") or 1),
        form_factor=s.get("form_factor") or "",
        chipset=s.get("chipset") or "",
        max_memory_gb=s.get("max_memory_gb"),
        max_memory_mts=s.get("max_memory_mts"),
        x16_slots=s.get("pcie_x16_slots"),
        x16_electrical=tuple(s.get("pcie_x16_electrical") or ()),
        pcie_gen=s.get("pcie_gen"),
        slot_spacing=s.get("x16_slot_spacing"),
        eps_connectors=s.get("eps_connectors"),
        x16_positions=tuple(s.get("x16_slot_positions") or ()),
        x16_gens=tuple(s.get("pcie_x16_gen") or ()),
    )


def _memory(s: dict, common: dict) -> Part | None:
    return MemoryPart(
        **common,
        memory_type=s["memory_type"],
        registered=bool(s.get("registered")),
        capacity_gb=int(s["capacity_gb"]),
        speed_mts=int(s["speed_mts"]),
    )


def _psu(s: dict, common: dict) -> Part | None:
    return PsuPart(
        **common,
        watts=int(s["watts"]),
        efficiency=s.get("efficiency_rating") or "",
        pcie_8pin=s.get("pcie_8pin_connectors"),
        connectors_12v_2x6=s.get("connectors_12v_2x6"),
        eps=s.get("eps_connectors"),
        form_factor=s.get("form_factor") or "ATX",
    )


def _case(s: dict, common: dict) -> Part | None:
    return CasePart(
        **common,
        form_factor=s["form_factor"],
        board_support=tuple(s.get("motherboard_support") or ()),
        max_gpu_length_mm=s.get("max_gpu_length_mm"),
        expansion_slots=s.get("expansion_slots"),
        max_cooler_height_mm=s.get("max_cooler_height_mm"),
        rack_units=int(s.get("rack_units") or 0),
        integrated_psu_w=s.get("integrated_psu_w"),
        integrated_psu_count=s.get("integrated_psu_count"),
    )


def _storage(s: dict, common: dict) -> Part | None:
    return StoragePart(
        **common,
        capacity_gb=int(s["capacity_gb"]),
        seq_read_mbs=s.get("seq_read_mbs"),
        interface=s.get("interface") or "",
    )


def _cooler(s: dict, common: dict) -> Part | None:
    return CoolerPart(
        **common,
        sockets=tuple(s.get("sockets") or ()),
        tdp_rating_w=s.get("tdp_rating_w"),
        height_mm=s.get("height_mm"),
    )


def _adapter(s: dict, common: dict) -> Part | None:
    return AdapterPart(
        **common,
        adapter_type=s["adapter_type"],
        compatible_gpus=tuple(s.get("compatible_gpus") or ()),
        gpus_joined=s.get("gpus_joined"),
        bridges_per_group=s.get("bridges_per_group"),
        slot_spacing=s.get("slot_spacing"),
        pcie_lanes=s.get("pcie_lanes"),
        pcie_gen=s.get("pcie_gen"),
    )


def _system(s: dict, common: dict) -> Part | None:
    if not s.get("unified_memory_gb") or not s.get("bandwidth_gbs"):
        return None
    if not s.get("gpu_fp16_tflops"):
        return None
    return SystemPart(
        **common,
        memory_gb=float(s["unified_memory_gb"]),
        bandwidth_gbs=float(s["bandwidth_gbs"]),
        gpu_fp16_tflops=float(s["gpu_fp16_tflops"]),
        usable_memory_fraction=s.get("usable_memory_fraction"),
        cpu_cores=s.get("cpu_cores"),
        tdp_w=s.get("tdp_w"),
        form_factor=s.get("form_factor") or "small",
        stack=s.get("software_stack") or "Metal",
        storage_gb=int(s.get("storage_gb") or 0),
    )


_MAKERS: dict[str, Callable[[dict, dict], Part | None]] = {
    "gpu": _gpu,
    "cpu": _cpu,
    "motherboard": _motherboard,
    "memory": _memory,
    "psu": _psu,
    "case": _case,
    "storage": _storage,
    "cooler": _cooler,
    "adapter": _adapter,
    "system": _system,
}
