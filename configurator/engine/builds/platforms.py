"""The parts a request may use, pruned and indexed, and the cheapest adequate way to
finish a build around its GPUs or memory.

A :class:`Shop` holds the priced parts that pass the request's filters (new/used, form
factor, must-include), with dominated GPUs, CPUs, boards and memory modules removed
(another part is no dearer and no worse in anything that matters), and the compatible
CPU + board pairs (:class:`Host`). Shops are memoised on the catalogue, so pruning runs
once per catalogue version and filter combination.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np

from .memo import BoundedMemo
from .parts import (
    BoardPart,
    CasePart,
    Catalogue,
    CoolerPart,
    CpuPart,
    GpuPart,
    MemoryPart,
    Part,
    PsuPart,
    StoragePart,
    SystemPart,
)
from .rules import (
    CHIPSET_CPU_LINES,
    DIMM_PEAK_W,
    DRIVE_PEAK_W,
    PLATFORM_PEAK_W,
    PSU_HEADROOM,
    Assembly,
    SlotPlan,
    adapter_leads,
    chipset_runs,
    effective_memory_mts,
    gpu_connector_demand,
    plan_slots,
    psu_shortfall,
)

GIB_TO_GB = 2**30 / 1e9
MAX_PSUS = 2
# Entries a shop's memo keeps (it lives as long as the catalogue; a few hundred bytes
# each): a search adds about 80 on the seed catalogue and up to a few thousand on one
# ten times larger, so this holds tens to hundreds of searches' worth, some tens of MB;
# the oldest go first.
MEMO_LIMIT = 50_000
# Candidate templates a shop keeps, one per model, format, workload, engine and run
# options (each a few hundred kB on the seed catalogue, several MB on a large one).
STUB_TEMPLATES_KEPT = 16
# Parts lists a shop keeps assembled and estimated for a request's model, format,
# workload and run options (a search assembles tens to a few hundred; each holds its
# estimate, some kB): a few requests' worth, a few tens of MB at most.
ASSEMBLED_KEPT = 4096
# Memory sizes a host keeps its memory options for (one per model size and context).
HOST_MEMORY_SIZES_KEPT = 64
# Shops a catalogue keeps (one per new/used, form and must-include combination).
SHOPS_KEPT = 32
MAX_DRIVES = 4
T = TypeVar("T", bound=Part)

# Case form factors a request's ``form`` allows (complete systems are matched on their
# own form factor).
CASE_FORMS = {
    "any": ("tower", "rack", "small"),
    "tower": ("tower",),
    "rack": ("rack",),
    "small": ("small",),
    "laptop": (),
}
SYSTEM_FORMS = {
    "any": ("small", "tower", "laptop"),
    "tower": ("tower",),
    "rack": (),
    "small": ("small",),
    "laptop": ("laptop",),
}


@dataclass(frozen=True)
class MemoryOption:
    """``count`` × ``module`` on a host, running at ``mts``."""

    module: MemoryPart
    count: int
    mts: int
    cost: Decimal

    @property
    def capacity_gb(self) -> int:
        """Binary GB as sold."""
        return self.module.capacity_gb * self.count


@dataclass(frozen=True)
class GpuFacts:
    """What completing a build needs to know of its GPUs, worked out once per GPU set:
    the cards, their count, the widest card's slots, the longest card, whether any is
    passive (a rack case) and their cost."""

    items: tuple[tuple[GpuPart, int], ...]
    count: int
    width: int
    length_mm: int
    rack: bool
    cost: Decimal

    @classmethod
    def of(cls, gpus: Sequence[tuple[GpuPart, int]]) -> GpuFacts:
        return cls(
            tuple(gpus),
            sum(q for _, q in gpus),
            max((g.slots for g, _ in gpus), default=0),
            max((g.length_mm or 0 for g, _ in gpus), default=0),
            any(g.passive for g, _ in gpus),
            sum((g.cost * q for g, q in gpus), Decimal(0)),
        )


def case_takes(
    case: CasePart, board: BoardPart, gpu_length_mm: int, case_slots: int, rack: bool
) -> bool:
    """The case takes the board, GPUs this long and the expansion slots they cover (a
    rack chassis when ``rack``); an unlisted limit does not rule it out."""
    if rack and case.form_factor != "rack":
        return False
    if case.board_support and board.form_factor and board.form_factor not in case.board_support:
        return False
    if case.max_gpu_length_mm is not None and gpu_length_mm > case.max_gpu_length_mm:
        return False
    return not (
        case_slots and case.expansion_slots is not None and case_slots > case.expansion_slots
    )


def cooler_fits(cooler: CoolerPart, case: CasePart) -> bool:
    """The cooler is no taller than the case takes (unlisted heights do not rule it out)."""
    return (
        cooler.height_mm is None
        or case.max_cooler_height_mm is None
        or cooler.height_mm <= case.max_cooler_height_mm
    )


@dataclass(frozen=True)
class Host:
    """A CPU (one per socket) on a compatible motherboard, and the ways to fill its
    memory channels (cheapest first)."""

    cpu: CpuPart
    board: BoardPart
    sockets: int
    channels: int
    base_cost: Decimal
    memory: tuple[MemoryOption, ...]

    def bandwidth_gbs(self, mts: int) -> float:
        """Peak memory bandwidth over all sockets at ``mts``, GB/s."""
        return self.channels * mts * 8 / 1000

    def memory_for(self, ram_gb: float) -> list[MemoryOption]:
        """Options holding at least ``ram_gb`` (binary GB), each faster than every
        cheaper one (the cost/speed Pareto front), cheapest first (memoised)."""
        memo = self.__dict__.get("_memory_memo")
        if memo is None:
            memo = self.__dict__["_memory_memo"] = BoundedMemo(HOST_MEMORY_SIZES_KEPT)
        if ram_gb not in memo:
            memo[ram_gb] = self._memory_for(ram_gb)
        return memo[ram_gb]

    def _memory_for(self, ram_gb: float) -> list[MemoryOption]:
        result: list[MemoryOption] = []
        best_mts = 0
        for option in self.memory:
            if option.capacity_gb + 1e-9 < ram_gb:
                continue
            if option.mts > best_mts:
                result.append(option)
                best_mts = option.mts
        return result

    def cheapest_memory(self, ram_gb: float) -> MemoryOption | None:
        for option in self.memory:
            if option.capacity_gb + 1e-9 >= ram_gb:
                return option
        return None


def skyline(parts: Sequence[T], key: Callable[[T], tuple[float, ...]]) -> list[T]:
    """Parts not dominated by another part: ``key`` gives values where lower is better
    (price first); a part is dropped when another is no worse in every value (ties go
    to the earlier one in price, then slug, order)."""
    keyed = sorted(((key(p), p.slug, p) for p in parts), key=lambda r: (r[0], r[1]))
    if len(keyed) > SKYLINE_VECTOR_FROM:
        return _skyline_vector(keyed)
    kept: list[T] = []
    kept_keys: list[tuple[float, ...]] = []
    for values, _, part in keyed:
        dominated = False
        for other in kept_keys:
            if all(o <= v for o, v in zip(other, values, strict=True)):
                dominated = True
                break
        if not dominated:
            kept.append(part)
            kept_keys.append(values)
    return kept


# From this many parts the dominance test runs over an array of the kept parts' values
# (the same comparisons; quadratic in Python for a large catalogue).
SKYLINE_VECTOR_FROM = 48


def _skyline_vector(keyed: list[tuple[tuple[float, ...], str, T]]) -> list[T]:

    values = np.array([row[0] for row in keyed], dtype=float)
    kept_rows = np.empty_like(values)
    kept: list[T] = []
    for index, (_, _, part) in enumerate(keyed):
        row = values[index]
        count = len(kept)
        if count and (kept_rows[:count] <= row).all(axis=1).any():
            continue
        kept_rows[count] = row
        kept.append(part)
    return kept


def gpu_key(gpu: GpuPart) -> tuple[float, ...]:
    pcie, v12, eps, _ = gpu_connector_demand([(gpu, 1)])
    leads = pcie + 2 * eps + v12 * adapter_leads(gpu.board_power_w)
    return (
        float(gpu.cost),
        -gpu.vram_gb,
        -gpu.bandwidth_gbs,
        -gpu.fp16_tflops,
        gpu.board_power_w,
        gpu.slots,
        float(gpu.length_mm or 0),
        float(leads),
        -float(gpu.interconnect_bandwidth_gbs or 0),
        -float(gpu.pcie_gen or 4),
    )


def hybrid_gpu_key(gpu: GpuPart) -> tuple[float, ...]:
    return (float(gpu.cost), -gpu.vram_gb, -gpu.bandwidth_gbs, -gpu.fp16_tflops, float(gpu.passive))


def cpu_key(cpu: CpuPart) -> tuple[float, ...]:
    return (
        float(cpu.cost),
        -cpu.cores,
        -cpu.gflops,
        -cpu.memory_channels,
        -float(cpu.max_memory_mts or 0),
        cpu.power_w,
        -float(cpu.max_sockets or 1),
        -float(cpu.pcie_lanes or 0),
    )


def system_key(system: SystemPart) -> tuple[float, ...]:
    return (
        float(system.cost),
        -system.memory_gb * (system.usable_memory_fraction or 0.75),
        -system.bandwidth_gbs,
        -system.gpu_fp16_tflops,
        system.power_w,
        -float(system.storage_gb),
    )


class Shop:
    """Priced parts allowed by ``allow_used``, ``form`` and ``must_include``, pruned
    and indexed (see the module docstring)."""

    def __init__(
        self,
        catalogue: Catalogue,
        allow_used: bool,
        form: str,
        must_include: tuple[str, ...] = (),
    ) -> None:
        self.catalogue = catalogue
        self.form = form
        self.must = {slug: catalogue.get(slug) for slug in must_include}
        self.required: dict[str, list[Part]] = {}
        for part in self.must.values():
            if part is not None:
                self.required.setdefault(part.kind, []).append(part)

        def allowed(part: Part) -> bool:
            if part.slug in self.must:
                return part.priced
            return part.priced and (allow_used or not part.used)

        def pick(kind: str) -> list[Any]:
            if kind in self.required:
                return [p for p in self.required[kind] if p.priced]
            return sorted(
                (p for p in catalogue.of(kind) if allowed(p)), key=lambda p: (p.cost, p.slug)
            )

        self.gpus: list[GpuPart] = pick("gpu")
        cpus: list[CpuPart] = pick("cpu")
        boards: list[BoardPart] = pick("motherboard")
        modules: list[MemoryPart] = pick("memory")
        self.psus: list[PsuPart] = pick("psu")
        self.cases: list[CasePart] = [
            c for c in pick("case") if c.form_factor in CASE_FORMS.get(form, ())
        ]
        self.coolers: list[CoolerPart] = pick("cooler")
        self.drives: list[StoragePart] = pick("storage")
        self.systems: list[SystemPart] = [
            s for s in pick("system") if s.form_factor in SYSTEM_FORMS.get(form, ())
        ]
        self.cpus = cpus if "cpu" in self.required else skyline(cpus, cpu_key)
        self.boards = boards if "motherboard" in self.required else self._board_skyline(boards)
        self.modules = modules if "memory" in self.required else _module_skyline(modules)
        self.hosts: list[Host] = self._hosts()
        # A case ships with its own supply (the cheapest build may need no ATX one).
        self._powered_case = any(c.has_integrated_psu for c in self.cases)
        self._gpu_skylines: dict[str, list[GpuPart]] = {}
        self._psu_watts: list[int] | None = None
        self._psu_suffix: list[Decimal] = []
        self._memo: dict[tuple, Any] = BoundedMemo(MEMO_LIMIT)
        self.stub_templates: dict[tuple, Any] = BoundedMemo(STUB_TEMPLATES_KEPT)
        self.assembled: dict[tuple, Any] = BoundedMemo(ASSEMBLED_KEPT)

    # Pruning -------------------------------------------------------------------------

    def _board_skyline(self, boards: list[BoardPart]) -> list[BoardPart]:
        """Boards not dominated by a board of the same socket, socket count and memory
        kind that fits in every case the other fits."""
        cases_for = {
            ff: frozenset(
                c.slug for c in self.cases if not c.board_support or ff in c.board_support
            )
            for ff in {b.form_factor for b in boards}
        }
        groups: dict[tuple, list[BoardPart]] = {}
        for board in boards:
            group = (board.socket, board.socket_count, board.memory_type, board.registered)
            groups.setdefault(group, []).append(board)
        kept: list[BoardPart] = []
        for group in groups.values():
            group.sort(key=lambda b: (b.cost, b.slug))
            survivors: list[BoardPart] = []
            for board in group:
                if not any(_board_dominates(o, board, cases_for) for o in survivors):
                    survivors.append(board)
            kept.extend(survivors)
        return sorted(kept, key=lambda b: (b.cost, b.slug))

    def gpu_skyline(self, stacks: frozenset[str] | None, hybrid: bool = False) -> list[GpuPart]:
        """GPUs of the allowed software stacks (None: all) that no other GPU of the same
        stack dominates; must-include GPUs are kept as they are. With ``hybrid``, only
        price, VRAM, bandwidth and compute count (an offload box is bought for memory)."""
        key = (",".join(sorted(stacks)) if stacks is not None else "*") + ("/h" if hybrid else "")
        if key in self._gpu_skylines:
            return self._gpu_skylines[key]
        pool = [g for g in self.gpus if stacks is None or g.stack in stacks]
        if "gpu" in self.required:
            result = pool
        else:
            result = []
            sky_key = hybrid_gpu_key if hybrid else gpu_key
            for stack in sorted({g.stack for g in pool}):
                result.extend(skyline([g for g in pool if g.stack == stack], sky_key))
            result.sort(key=lambda g: (g.cost, g.slug))
        self._gpu_skylines[key] = result
        return result

    def system_skyline(self, stacks: frozenset[str] | None) -> list[SystemPart]:
        pool = [s for s in self.systems if stacks is None or s.stack in stacks]
        if "system" in self.required:
            return pool
        result: list[SystemPart] = []
        for group in sorted({(s.stack, s.form_factor) for s in pool}):
            result.extend(
                skyline([s for s in pool if (s.stack, s.form_factor) == group], system_key)
            )
        return sorted(result, key=lambda s: (s.cost, s.slug))

    def _hosts(self) -> list[Host]:
        hosts: list[Host] = []
        housed = {b.form_factor for b in self.boards if self._has_case(b)}
        for board in self.boards:
            if board.form_factor not in housed:
                continue  # no allowed case takes it
            sockets = board.socket_count or 1
            for cpu in self.cpus:
                if cpu.socket != board.socket or cpu.memory_type != board.memory_type:
                    continue
                if not chipset_runs(board, cpu):
                    continue
                if sockets > (cpu.max_sockets or 1):
                    continue
                channels = min(board.memory_channels, cpu.memory_channels * sockets)
                options = []
                for module in self.modules:
                    if (
                        module.memory_type != board.memory_type
                        or module.registered != board.registered
                    ):
                        continue
                    for count in (channels, 2 * channels):
                        if count > board.dimm_slots:
                            continue
                        if board.max_memory_gb and module.capacity_gb * count > board.max_memory_gb:
                            continue
                        mts = effective_memory_mts(cpu, board, module, count)
                        options.append(MemoryOption(module, count, mts, module.cost * count))
                if not options:
                    continue
                options.sort(key=lambda o: (o.cost, -o.mts, -o.capacity_gb, o.module.slug))
                hosts.append(
                    Host(
                        cpu,
                        board,
                        sockets,
                        channels,
                        cpu.cost * sockets + board.cost,
                        tuple(options),
                    )
                )
        hosts.sort(key=lambda h: (h.base_cost, h.board.slug, h.cpu.slug))
        return hosts

    def _has_case(self, board: BoardPart) -> bool:
        return any(
            not c.board_support or not board.form_factor or board.form_factor in c.board_support
            for c in self.cases
        )

    def hosts_seating(self, width: int, count: int) -> list[Host]:
        """The hosts whose board seats ``count`` GPUs ``width`` slots wide (memoised)."""
        key = ("hosts-seating", width, count)
        hosts = self._memo.get(key)
        if hosts is None:
            hosts = self._memo[key] = [
                h for h in self.hosts if self.slot_plan(h.board, width, count).fits
            ]
        return hosts

    def slot_plan(self, board: BoardPart, width: int, count: int) -> SlotPlan:
        """Where ``count`` cards ``width`` slots wide sit on ``board`` (memoised)."""
        key = ("slots", board.slug, width, count)
        plan = self._memo.get(key)
        if plan is None:
            plan = self._memo[key] = plan_slots(board, width, count)
        return plan

    # Cheapest adequate rest of a build --------------------------------------------------

    def coolers_for(self, cpu: CpuPart) -> list[CoolerPart]:
        """Coolers made for the CPU's socket and rated for its power, cheapest first."""
        key = ("coolers", cpu.socket, cpu.power_w)
        if key not in self._memo:
            self._memo[key] = [
                c
                for c in self.coolers
                if cpu.socket in c.sockets
                and (c.tdp_rating_w is None or c.tdp_rating_w >= cpu.power_w)
            ]
        return self._memo[key]

    def cooler_and_case(
        self, host: Host, gpu_length_mm: int, case_slots: int, rack: bool = False
    ) -> tuple[CoolerPart, CasePart, Decimal] | None:
        """The cheapest case (and coolers, one per socket) that takes the board, the
        GPUs' length and the expansion slots they cover; ``rack`` for passive GPUs."""
        cpu, board = host.cpu, host.board
        # GPU lengths between two cases' limits rule out the same cases: memoise on the
        # number of case limits shorter than the GPUs, not on the length itself.
        key = (
            "cc",
            board.form_factor,
            cpu.socket,
            cpu.power_w,
            host.sockets,
            bisect.bisect_left(self._case_gpu_limits(), gpu_length_mm),
            case_slots,
            rack,
        )
        if key in self._memo:
            return self._memo[key]
        coolers = self.coolers_for(cpu)
        best: tuple[CoolerPart, CasePart, Decimal] | None = None
        if coolers:
            cheapest_cooler = coolers[0].cost * host.sockets
            for case in self.cases:
                if best is not None and case.cost + cheapest_cooler >= best[2]:
                    break
                if not case_takes(case, board, gpu_length_mm, case_slots, rack):
                    continue
                cooler = next((c for c in coolers if cooler_fits(c, case)), None)
                if cooler is None:
                    continue
                cost = case.cost + cooler.cost * host.sockets
                if best is None or cost < best[2]:
                    best = (cooler, case, cost)
        self._memo[key] = best
        return best

    def _case_gpu_limits(self) -> list[int]:
        """The distinct longest-GPU limits of the shop's cases, shortest first."""
        limits = self.__dict__.get("_gpu_limits")
        if limits is None:
            found = {c.max_gpu_length_mm for c in self.cases}
            limits = self.__dict__["_gpu_limits"] = sorted(x for x in found if x is not None)
        return limits

    def storage_for(self, need_gb: float) -> tuple[tuple[StoragePart, int], Decimal] | None:
        """The cheapest drives (one model, up to four) holding ``need_gb`` decimal GB."""
        need = math.ceil(need_gb)
        key = ("st", need)
        if key in self._memo:
            return self._memo[key]
        best: tuple[tuple[StoragePart, int], Decimal] | None = None
        for drive in self.drives:
            qty = max(1, math.ceil(need / drive.capacity_gb)) if drive.capacity_gb else 0
            if not qty or qty > MAX_DRIVES:
                continue
            cost = drive.cost * qty
            if best is None or cost < best[1]:
                best = ((drive, qty), cost)
        self._memo[key] = best
        return best

    def psu_for(
        self, items: Sequence[tuple[Part, int]], board: BoardPart | None, peak_w: float
    ) -> tuple[PsuPart, int] | None:
        """The cheapest one or two identical supplies with no violation for ``items``
        (a build without its supply) drawing ``peak_w`` at most."""
        gpus = [(p, q) for p, q in items if isinstance(p, GpuPart)]
        pcie, v12, eps, _ = gpu_connector_demand(gpus)
        leads = max(
            (
                adapter_leads(g.board_power_w)
                for g, _ in gpus
                if g.power_connector in ("12V-2x6", "12VHPWR")
            ),
            default=0,
        )
        key = (
            "psu",
            math.ceil(peak_w),
            pcie,
            v12,
            eps,
            leads,
            board.eps_connectors if board else None,
        )
        if key in self._memo:
            return self._memo[key]
        assembly = Assembly(items)
        need_w = PSU_HEADROOM * peak_w
        best: tuple[PsuPart, int, Decimal] | None = None
        for qty in range(1, MAX_PSUS + 1):
            for psu in self.psus:
                if best is not None and psu.cost * qty >= best[2]:
                    break
                if psu.watts * qty < need_w:
                    continue
                if any(f.ok is False for f in psu_shortfall(assembly, psu, qty, board)):
                    continue
                best = (psu, qty, psu.cost * qty)
                break
            if best is not None:
                break
        result = (best[0], best[1]) if best else None
        self._memo[key] = result
        return result

    def complete(
        self,
        host: Host,
        memory: MemoryOption,
        gpus: Sequence[tuple[GpuPart, int]],
        files_gb: float,
    ) -> tuple[tuple[tuple[Part, int], ...], Decimal] | None:
        """The whole build around ``host`` with ``memory`` and ``gpus``: cheapest
        adequate cooler, case, power supply and drives; None when nothing fits."""
        key = (
            "complete",
            id(host),
            memory.module.slug,
            memory.count,
            tuple((g.slug, q) for g, q in gpus),
            math.ceil(files_gb),
        )
        if key not in self._memo:
            self._memo[key] = self._complete(host, memory, gpus, files_gb)
        return self._memo[key]

    def _complete(
        self,
        host: Host,
        memory: MemoryOption,
        gpus: Sequence[tuple[GpuPart, int]],
        files_gb: float,
    ) -> tuple[tuple[tuple[Part, int], ...], Decimal] | None:
        count = sum(q for _, q in gpus)
        slots = 0
        length = 0
        rack = any(g.passive for g, _ in gpus)
        if count:
            width = max(g.slots for g, _ in gpus)
            plan = self.slot_plan(host.board, width, count)
            if not plan.fits:
                return None
            slots = plan.case_slots
            length = max(g.length_mm or 0 for g, _ in gpus)
        cooler_case = self.cooler_and_case(host, length, slots, rack)
        if cooler_case is None:
            return None
        cooler, case, cc_cost = cooler_case
        storage = self.storage_for(2 * files_gb)
        if storage is None:
            return None
        (drive, drives), drive_cost = storage
        items: list[tuple[Part, int]] = [*gpus]
        items += [
            (host.cpu, host.sockets),
            (host.board, 1),
            (memory.module, memory.count),
            (cooler, host.sockets),
            (case, 1),
            (drive, drives),
        ]
        peak = peak_draw(gpus, host.cpu, host.sockets, memory.count, drives)
        psu_cost = Decimal(0)
        if case.has_integrated_psu:
            if PSU_HEADROOM * peak > (case.integrated_psu_w or 0):
                return None  # the chassis's own supply is too small (and is the only one)
        else:
            psu = self.psu_for(items, host.board, peak)
            if psu is None:
                return None
            items.append(psu)
            psu_cost = psu[0].cost * psu[1]
        gpu_cost = sum((g.cost * q for g, q in gpus), Decimal(0))
        total = gpu_cost + host.base_cost + memory.cost + cc_cost + drive_cost + psu_cost
        return tuple(items), total

    def complete_system(
        self, system: SystemPart, files_gb: float
    ) -> tuple[tuple[tuple[Part, int], ...], Decimal] | None:
        """A complete system, plus external drives when its own storage is short."""
        items: list[tuple[Part, int]] = [(system, 1)]
        total = system.cost
        short = 2 * files_gb - system.storage_gb
        if short > 0:
            storage = self.storage_for(short)
            if storage is None:
                return None
            (drive, qty), cost = storage
            items.append((drive, qty))
            total += cost
        return tuple(items), total

    def host_floor(
        self,
        host: Host,
        memory: MemoryOption,
        gpus: GpuFacts,
        case_slots: int,
        files_gb: float,
    ) -> Decimal | None:
        """A lower bound on :meth:`complete`'s total for this host around GPUs that its
        board seats in ``case_slots`` (None: no case takes them): the exact platform,
        GPUs, cooler, case and drives, and the cheapest supplies rated for the build's
        peak draw, whatever their leads. Memoised look-ups and a bisection, so a host
        that cannot beat the best build so far is passed over without pricing its
        supply."""
        cooler_case = self.cooler_and_case(host, gpus.length_mm, case_slots, gpus.rack)
        storage = self.storage_for(2 * files_gb)
        if cooler_case is None or storage is None:
            return None
        (_, drives), drive_cost = storage
        total = gpus.cost + host.base_cost + memory.cost + cooler_case[2] + drive_cost
        if cooler_case[1].has_integrated_psu:
            return total
        peak = peak_draw(gpus.items, host.cpu, host.sockets, memory.count, drives)
        return total + self._psu_floor(PSU_HEADROOM * peak)

    def _floor_parts(self, rack: bool, files_gb: float) -> Decimal:
        key = ("floor-parts", rack, math.ceil(files_gb))
        if key not in self._memo:
            case = min(
                (c.cost for c in self.cases if not rack or c.form_factor == "rack"),
                default=Decimal(0),
            )
            cooler = min((c.cost for c in self.coolers), default=Decimal(0))
            storage = self.storage_for(2 * files_gb)
            drive = storage[1] if storage else Decimal(0)
            self._memo[key] = case + cooler + drive
        return self._memo[key]

    def _psu_floor(self, need_w: float) -> Decimal:
        """The cheapest one or two supplies rated for ``need_w`` together."""
        if self._psu_watts is None:
            by_watts = sorted(self.psus, key=lambda p: p.watts)
            self._psu_watts = [p.watts for p in by_watts]
            suffix: list[Decimal] = []
            best: Decimal | None = None
            for psu in reversed(by_watts):
                best = psu.cost if best is None else min(best, psu.cost)
                suffix.append(best)
            self._psu_suffix = suffix[::-1]
        costs = []
        for qty in range(1, MAX_PSUS + 1):
            index = bisect.bisect_left(self._psu_watts, need_w / qty)
            if index < len(self._psu_watts):
                costs.append(self._psu_suffix[index] * qty)
        return min(costs, default=Decimal(0))

    def rest_floor(self, gpus: Sequence[tuple[GpuPart, int]], files_gb: float) -> Decimal:
        """A lower bound on everything but the host in a build around ``gpus``: the
        GPUs, the drives, the cheapest supply rated for the GPUs alone, the cheapest case
        taking their length (a rack one for passive cards), the cheapest cooler (for early
        stopping when scanning hosts by price)."""
        rack = any(g.passive for g, _ in gpus)
        gpu_w = sum(g.board_power_w * q for g, q in gpus)
        key = ("floor", rack, math.ceil(gpu_w), math.ceil(files_gb))
        if key not in self._memo:
            fixed = self._floor_parts(rack, files_gb)
            powered = any(c.has_integrated_psu for c in self.cases)
            psu = (
                Decimal(0) if powered else self._psu_floor(PSU_HEADROOM * (gpu_w + PLATFORM_PEAK_W))
            )
            self._memo[key] = fixed + psu
        return self._memo[key] + sum((g.cost * q for g, q in gpus), Decimal(0))


def _board_dominates(a: BoardPart, b: BoardPart, cases_for: dict[str, frozenset[str]]) -> bool:
    """True when board ``a`` is no dearer and no worse than ``b`` for any build."""
    if a.cost > b.cost:
        return False
    if a.form_factor != b.form_factor and not cases_for[a.form_factor] >= cases_for[b.form_factor]:
        return False

    def ge(x: float | None, y: float | None) -> bool:
        if y is None:
            return x is None
        return x is not None and x >= y

    if not (
        a.memory_channels >= b.memory_channels
        and a.dimm_slots >= b.dimm_slots
        and ge(a.max_memory_gb, b.max_memory_gb)
        and ge(a.max_memory_mts, b.max_memory_mts)
        and ge(a.x16_slots, b.x16_slots)
        and ge(a.slot_spacing, b.slot_spacing)
        and ge(a.pcie_gen, b.pcie_gen)
    ):
        return False
    if (a.eps_connectors is None) != (b.eps_connectors is None):
        return False
    if a.eps_connectors is not None and b.eps_connectors is not None:
        if a.eps_connectors > b.eps_connectors:
            return False
    lanes_a, lanes_b = a.x16_electrical, b.x16_electrical
    if bool(lanes_a) != bool(lanes_b):
        return False
    if lanes_a and (
        len(lanes_a) < len(lanes_b) or any(x < y for x, y in zip(lanes_a, lanes_b, strict=False))
    ):
        return False
    if a.chipset != b.chipset and {a.chipset, b.chipset} & set(CHIPSET_CPU_LINES):
        return False  # the CPUs a board runs follow its chipset
    return True


def _module_skyline(modules: list[MemoryPart]) -> list[MemoryPart]:
    """Per memory type, registration and capacity: modules faster than every cheaper
    one."""
    groups: dict[tuple, list[MemoryPart]] = {}
    for module in modules:
        groups.setdefault((module.memory_type, module.registered, module.capacity_gb), []).append(
            module
        )
    kept: list[MemoryPart] = []
    for group in groups.values():
        group.sort(key=lambda m: (m.cost, -m.speed_mts, m.slug))
        best = 0
        for module in group:
            if module.speed_mts > best:
                kept.append(module)
                best = module.speed_mts
    return sorted(kept, key=lambda m: (m.cost, m.slug))


def peak_draw(
    gpus: Sequence[tuple[GpuPart, int]], cpu: CpuPart | None, sockets: int, dimms: int, drives: int
) -> float:
    """Peak draw of a build's parts, W (as :meth:`Assembly.peak_draw_w`)."""
    watts = PLATFORM_PEAK_W + sum(g.board_power_w * q for g, q in gpus)
    if cpu is not None:
        watts += cpu.power_w * sockets
    return watts + DIMM_PEAK_W * dimms + DRIVE_PEAK_W * drives


def shop_for(
    catalogue: Catalogue, allow_used: bool, form: str, must_include: tuple[str, ...]
) -> Shop:
    """The :class:`Shop` for these filters, memoised on the catalogue."""
    shops = catalogue.memo.get("shops")
    if shops is None:
        shops = catalogue.memo["shops"] = BoundedMemo(SHOPS_KEPT)
    key = (allow_used, form, tuple(sorted(must_include)))
    shop = shops.get(key)
    if shop is None:
        shop = shops[key] = Shop(catalogue, allow_used, form, key[2])
    return shop
