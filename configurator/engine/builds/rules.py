"""Compatibility rules: does a set of parts make a machine that boots and runs the model?

:func:`check` returns one :class:`Finding` per rule that has something to say: a
violation (``ok=False``) names the rule and what is wrong; an unverifiable rule (a spec
the catalogue does not list) is a note (``ok=None``); facts worth knowing (PCIe lanes
per GPU, two DIMMs per channel) are notes with ``ok=True``. The generator only returns
builds without violations, and tests run :func:`check` on every build it returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..engines import engine_profile, tensor_parallel_sizes
from .links import describe, seat
from .parts import (
    KINDS,
    AdapterPart,
    BoardPart,
    CasePart,
    CoolerPart,
    CpuPart,
    GpuPart,
    MemoryPart,
    Part,
    PsuPart,
    SystemPart,
)

GIB_TO_GB = 2**30 / 1e9

# Rule names and what each one checks (shown in the API description and on build pages).
RULES: dict[str, str] = {
    "parts": "A build has a CPU, motherboard, memory, CPU cooler, power supply, case and "
    "storage, or is a complete system.",
    "cpu_socket": "The CPU fits the motherboard's socket.",
    "cpu_chipset": "The board's chipset supports the CPU's product line (LGA4677 is shared by "
    "Xeon W on W790 and Xeon Scalable on C741).",
    "socket_count": "As many identical CPUs as the board has sockets, each rated for that "
    "many sockets.",
    "memory_type": "Memory modules are the type (DDR4/DDR5) the CPU and board take.",
    "memory_registered": "Registered (RDIMM) or unbuffered (UDIMM) modules, as the board takes.",
    "memory_channels": "Identical modules populate every memory channel evenly (full bandwidth).",
    "dimm_slots": "No more modules than the board has DIMM slots.",
    "max_memory": "Installed memory within the board's maximum.",
    "gpu_slots": "Enough x16 slots for the GPUs at their width, from the board's slot "
    "positions (never an assumed spacing); riser cables seat the cards that do not fit.",
    "case_slots": "The case has the expansion slots the GPUs cover.",
    "gpu_length": "The GPUs fit the case's maximum card length.",
    "gpu_cooling": "Passively cooled (datacenter) GPUs sit in a rack chassis with forced airflow.",
    "board_form_factor": "The case takes the motherboard's form factor.",
    "cooler": "One cooler per socket, made for the socket, rated for the CPU's TDP, and "
    "low enough for the case.",
    "psu_watts": "Power supply rating at least 1.25 × the peak draw of all parts; a chassis "
    "that ships with its own supply uses it (no extra ATX supplies).",
    "psu_gpu_connectors": "Enough GPU power connectors (12V-2x6 natively or through "
    "adapters from 8-pin PCIe leads).",
    "psu_cpu_connectors": "Enough 8-pin EPS leads for the motherboard's CPU power inputs.",
    "gpu_mix": "All GPUs use the same software stack (one engine drives them all).",
    "system_ram": "System RAM holds the model while it loads (and the host's share of it).",
    "storage": "Storage at least twice the size of the model files.",
    "system_extras": "A complete system takes nothing but an extra drive.",
    "tensor_parallel": "Tensor parallel only over GPU counts the engine accepts (dividing the "
    "attention and KV heads); otherwise a pipeline (layer) split, said so.",
    "gpu_interconnect": "NVLink / Infinity Fabric only with the bridges in the build, in the "
    "group sizes the cards support; otherwise PCIe.",
    "pcie_lanes": "The PCIe link each GPU trains to in its slot (the lower of the card's and "
    "the slot's generation and lanes), and what an x8/x8 split costs a tensor-parallel build.",
    "risers": "Riser cables, bifurcation cards and bridges fit the GPUs in the build (a "
    "bifurcation card seats a GPU on each link only where the board splits the slot).",
}
# Rules that concern GPUs (listed only for builds with GPUs).
GPU_RULES = frozenset(
    {
        "gpu_slots",
        "case_slots",
        "gpu_length",
        "gpu_cooling",
        "gpu_mix",
        "psu_gpu_connectors",
        "tensor_parallel",
        "gpu_interconnect",
        "pcie_lanes",
    }
)
SYSTEM_RULES = ("parts", "system_extras", "storage")
STATUSES = ("fail", "unknown", "warn", "pass")

PSU_HEADROOM = 1.25
PLATFORM_PEAK_W = 50.0
DIMM_PEAK_W = 5.0
DRIVE_PEAK_W = 8.0
# Expansion-slot positions of a board form factor (ATX 2.2 and SSI EEB/CEB: seven;
# microATX: four; Mini-ITX: one):
# https://web.archive.org/web/20120725150314/http://www.formfactors.org/developer/specs/atx2_2.pdf
# https://web.archive.org/web/20120104132834/http://www.formfactors.org/developer/specs/microATX_2_2.pdf
FORM_FACTOR_SLOT_POSITIONS = {
    "Mini-ITX": 1,
    "mATX": 4,
    "ATX": 7,
    "E-ATX": 7,
    "CEB": 7,
    "EEB": 7,
    "SSI-EEB": 7,
}
# Memory speed with two DIMMs per channel (platform vendors' rated 2DPC speeds:
# AMD AM5 and Intel desktop ~3600 MT/s with four DDR5 UDIMMs, EPYC 9004 4400 MT/s).
TWO_DPC_MTS = {("DDR5", False): 3600, ("DDR5", True): 4400, ("DDR4", True): 2933}
OS_RESERVED_GB = 3.0


@dataclass(frozen=True)
class Finding:
    """What one rule found: ``ok`` False (violation), None (could not be verified) or
    True (worth knowing). ``status`` is fail, unknown, warn or pass (derived from ``ok``
    unless given: a ``warn`` is a working build with a cost worth knowing)."""

    rule: str
    ok: bool | None
    message: str
    status: str = ""

    def __post_init__(self) -> None:
        if not self.status:
            status = {False: "fail", None: "unknown", True: "pass"}[self.ok]
            object.__setattr__(self, "status", status)

    def to_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "ok": self.ok, "status": self.status, "message": self.message}


def warn(rule: str, message: str) -> Finding:
    return Finding(rule, True, message, "warn")


def rule_records(findings: Iterable[Finding], has_gpus: bool, system: bool) -> list[dict]:
    """One ``{name, status, detail}`` per rule that applies to the build: the worst
    status its findings give (fail, unknown, warn, pass) and their messages; a rule with
    nothing to say passes with its description."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    if system:
        names = [n for n in SYSTEM_RULES if n in RULES]
    else:
        names = [
            n
            for n in RULES
            if n != "system_extras" and (has_gpus or n not in GPU_RULES) and n != "risers"
        ]
    names += [n for n in by_rule if n not in names]
    records = []
    for name in names:
        found = by_rule.get(name, [])
        if not found:
            records.append({"name": name, "status": "pass", "detail": RULES.get(name, "")})
            continue
        status = min((f.status for f in found), key=STATUSES.index)
        detail = " ".join(dict.fromkeys(f.message for f in found))
        records.append({"name": name, "status": status, "detail": detail})
    return records


@dataclass(frozen=True)
class ModelNeeds:
    """Sizes the rules need from the workload, decimal GB: the model's weights (what
    RAM must stage while loading) and its files on disk."""

    weights_gb: float
    files_gb: float


def two_dpc_speed(memory_type: str, registered: bool) -> int | None:
    return TWO_DPC_MTS.get((memory_type, registered))


@dataclass(frozen=True)
class SlotPlan:
    """Where ``count`` cards ``width`` slots wide sit on a board.

    ``status``: pass (they fit, positions known), warn (some on riser cables), fail, or
    unknown (the board's slot positions are not listed). ``slots``: indexes of the x16
    slots used (empty when unknown); ``lanes`` and ``gens`` their electrical lanes and
    PCIe generation (None where unknown); ``case_slots``: expansion-slot positions the
    cards cover, exact when the positions are known and a lower bound otherwise."""

    status: str
    detail: str
    slots: tuple[int, ...] = ()
    lanes: tuple[int | None, ...] = ()
    gens: tuple[int | None, ...] = ()
    case_slots: int = 0
    risers: int = 0
    split: int = 0

    @property
    def fits(self) -> bool:
        return self.status != "fail"

    @property
    def exact(self) -> bool:
        return self.status in ("pass", "warn")


def board_positions(board: BoardPart) -> tuple[int, ...] | None:
    """Slot position of each x16 slot (1 = nearest the CPU): listed, or from a listed
    spacing; None when neither is known."""
    if board.x16_positions:
        return tuple(board.x16_positions)
    if board.slot_spacing and board.x16_slots:
        return tuple(1 + i * board.slot_spacing for i in range(board.x16_slots))
    return None


def _slot_info(board: BoardPart, used: Sequence[int]) -> tuple[tuple, tuple]:
    lanes = tuple(board.x16_electrical[i] if i < len(board.x16_electrical) else None for i in used)
    gens = tuple(board.x16_gens[i] if i < len(board.x16_gens) else board.pcie_gen for i in used)
    return lanes, gens


@dataclass(frozen=True)
class OffBoard:
    """What seats GPUs off the board: ``risers`` riser cables (one per card) with their
    narrowest listed ``cable`` link (lanes, generation; None where not listed), and
    the ``splits`` of bifurcation cards, each (links, lanes per link, generation), one
    per card: in a free x16 slot it seats a card on each link."""

    risers: int = 0
    cable: tuple[int | None, int | None] = (None, None)
    splits: tuple[tuple[int, int | None, int | None], ...] = ()

    @property
    def extra_seats(self) -> int:
        """Seats the bifurcation cards add over the slots they take."""
        return sum(max(links - 1, 0) for links, _, _ in self.splits)


def plan_slots(
    board: BoardPart, width: int, count: int, risers: int = 0, off: OffBoard | None = None
) -> SlotPlan:
    """Seat ``count`` cards ``width`` slots wide from the top x16 slot down, each in the
    first x16 slot below the previous card; cards that do not fit go on riser cables
    (``risers`` of them, or ``off``) into the x16 slots left over, or onto the links of
    bifurcation cards in them."""
    off = off or OffBoard(risers=risers)
    if count <= 0:
        return SlotPlan("pass", "No GPUs.")
    x16 = board.x16_slots
    if x16 is None:
        return SlotPlan(
            "unknown", f"{board.label}'s x16 slots are not listed.", case_slots=count * width
        )
    if count > x16 + off.extra_seats:
        split = f" and {off.extra_seats} more on bifurcation links" if off.extra_seats else ""
        return SlotPlan(
            "fail",
            f"{count} GPU(s) need {count} x16 slots; {board.label} has {x16}{split}.",
            case_slots=count * width,
        )
    positions = board_positions(board)
    if positions is None:
        return _plan_unknown(board, width, count, off.risers)
    chosen = _side_by_side(positions, width, count)
    where = ", ".join(str(p) for p in positions)
    last = positions[chosen[-1]] + width - 1
    on_risers = count - len(chosen)
    free = [i for i in range(len(positions)) if i not in chosen]
    seats = _off_board_seats(board, free, on_risers, off)
    if on_risers > off.risers or len(seats) < on_risers:
        short = max(on_risers - off.risers, 0)
        cables = f"{short} more riser cable(s)" if short else "more x16 slots or bifurcation links"
        return SlotPlan(
            "fail",
            f"{count} GPU(s) {width} slots wide: {board.label}'s x16 slots (positions {where}) "
            f"seat {len(chosen)} side by side; {cables} would be needed.",
            case_slots=last,
        )
    direct = [Seat(*slot) for slot in zip(chosen, *_slot_info(board, chosen), strict=True)]
    every = sorted((*direct, *seats), key=lambda seat: seat.slot)
    used = tuple(seat.slot for seat in every)
    lanes = tuple(seat.lanes for seat in every)
    gens = tuple(seat.gen for seat in every)
    text = f"{len(chosen)} GPU(s) {width} slots wide in x16 slots at positions " + ", ".join(
        str(positions[i]) for i in chosen
    )
    if not on_risers:
        return SlotPlan("pass", text + ".", used, lanes, gens, last)
    text += f"; {on_risers} on riser cables (mounted off the board, in a case or frame with room)"
    split = sum(seat.split for seat in seats)
    if split:
        text += f", {split} of them on the links of bifurcation cards"
    return SlotPlan("warn", text + ".", used, lanes, gens, last, on_risers, split)


@dataclass(frozen=True)
class Seat:
    """Where a card on a riser cable plugs in: an x16 slot (its index), or one link of a
    bifurcation card in that slot (``split``), at the lanes and generation it gets."""

    slot: int
    lanes: int | None
    gen: int | None
    split: bool = False


def _side_by_side(positions: Sequence[int], width: int, count: int) -> list[int]:
    """Indexes of the x16 slots up to ``count`` cards ``width`` slots wide take, each
    in the first slot below the previous card."""
    chosen: list[int] = []
    next_free = 0
    for index, position in enumerate(positions):
        if len(chosen) < count and position >= next_free:
            chosen.append(index)
            next_free = position + width
    return chosen


def _off_board_seats(
    board: BoardPart, free: Sequence[int], count: int, off: OffBoard
) -> list[Seat]:
    """Up to ``count`` seats for cards on riser cables: a free x16 slot seats one; a
    bifurcation card takes a free slot (the widest first) only when the slots alone are
    too few, and seats one card per link, as many links as the slot's lanes carry.
    Each seat runs at the lowest of slot, link and cable."""
    if count <= 0:
        return []
    lanes, gens = _slot_info(board, free)
    slots = sorted(
        (Seat(*slot) for slot in zip(free, lanes, gens, strict=True)), key=lambda s: -(s.lanes or 0)
    )
    seats: list[Seat] = []
    for links, link_lanes, link_gen in sorted(off.splits, key=lambda s: -s[0]):
        if not slots or len(seats) + len(slots) >= count:
            break
        slot = slots.pop(0)
        if slot.lanes and link_lanes:
            links = max(1, min(links, slot.lanes // link_lanes))
        seat = Seat(slot.slot, _lowest(slot.lanes, link_lanes), _lowest(slot.gen, link_gen), True)
        seats += [seat] * links
    cable_lanes, cable_gen = off.cable
    seats = [
        Seat(s.slot, _lowest(s.lanes, cable_lanes), _lowest(s.gen, cable_gen), s.split)
        for s in (*seats, *slots)
    ]
    return sorted(seats, key=lambda s: -(s.lanes or 0))[:count]


def _lowest(a: int | None, b: int | None) -> int | None:
    """The lower of two link figures; the listed one when the other is not listed."""
    return a if b is None else b if a is None else min(a, b)


def _plan_unknown(board: BoardPart, width: int, count: int, risers: int) -> SlotPlan:
    """Slot positions not listed: fail only what no layout could seat (the form
    factor's slot positions), else unknown; never an assumed spacing."""
    direct = max(count - risers, 1)
    lowest = 1 + (direct - 1) * width
    cap = FORM_FACTOR_SLOT_POSITIONS.get(board.form_factor)
    if cap is not None and lowest > cap:
        return SlotPlan(
            "fail",
            f"{direct} GPU(s) {width} slots wide side by side need a slot at position "
            f"{lowest}; an {board.form_factor} board such as {board.label} has {cap} slot "
            "positions (its slot layout is not listed).",
            case_slots=direct * width,
        )
    if count == 1:
        lanes, gens = _slot_info(board, [0])
        return SlotPlan(
            "pass", f"One GPU in {board.label}'s first x16 slot.", (0,), lanes, gens, width
        )
    return SlotPlan(
        "unknown",
        f"{board.label}'s slot positions are not listed: whether {count} GPU(s) {width} "
        "slots wide fit side by side is not verified.",
        lanes=(None,) * count,
        gens=(None,) * count,
        case_slots=direct * width,
        risers=min(risers, count - 1),
    )


def effective_memory_mts(cpu: CpuPart, board: BoardPart, module: MemoryPart, count: int) -> int:
    """Memory speed: the lowest of module, CPU and board ratings, lowered for two DIMMs
    per channel."""
    speeds = [module.speed_mts]
    speeds += [s for s in (cpu.max_memory_mts, board.max_memory_mts) if s]
    channels = max(board.memory_channels, 1)
    if count > channels:
        capped = two_dpc_speed(module.memory_type, module.registered)
        if capped:
            speeds.append(capped)
    return min(speeds)


def gpu_connector_demand(gpus: Iterable[tuple[GpuPart, int]]) -> tuple[int, int, int, bool]:
    """(8-pin PCIe, 12V-2x6, 8-pin EPS) leads the GPUs need, and whether any card's
    connectors are unknown."""
    pcie = v12 = eps = 0
    unknown = False
    for gpu, qty in gpus:
        count = gpu.power_connector_count
        kind = gpu.power_connector
        if not kind or count is None:
            unknown = True
            continue
        if kind in ("12V-2x6", "12VHPWR"):
            v12 += count * qty
        elif kind == "8-pin EPS":
            eps += count * qty
        else:
            pcie += count * qty
    return pcie, v12, eps, unknown


def adapter_leads(gpu_power_w: float) -> int:
    """8-pin PCIe leads a 12V-2x6 adapter needs for a card of this power (150 W each)."""
    return min(4, max(2, math.ceil(gpu_power_w / 150)))


class Assembly:
    """Parts with quantities, grouped by kind, with the derived numbers rules need."""

    def __init__(self, items: Sequence[tuple[Part, int]]) -> None:
        merged: dict[str, list] = {}
        for part, qty in items:
            if qty <= 0:
                continue
            if part.slug in merged:
                merged[part.slug][1] += qty
            else:
                merged[part.slug] = [part, qty]
        order = {kind: i for i, kind in enumerate(KINDS)}
        self.items: tuple[tuple[Part, int], ...] = tuple(
            sorted(
                ((p, q) for p, q in merged.values()),
                key=lambda pq: (order.get(pq[0].kind, 99), pq[0].slug),
            )
        )
        self._kinds: dict[str, list[tuple[Part, int]]] = {}
        for part, qty in self.items:
            self._kinds.setdefault(part.kind, []).append((part, qty))

    def of(self, kind: str) -> list[tuple[Part, int]]:
        return self._kinds.get(kind, [])

    def count(self, kind: str) -> int:
        return sum(q for _, q in self._kinds.get(kind, ()))

    def one(self, kind: str) -> Part | None:
        """The part of ``kind`` when there is exactly one distinct one."""
        found = self.of(kind)
        return found[0][0] if len(found) == 1 else None

    @property
    def gpus(self) -> list[tuple[GpuPart, int]]:
        return self.of("gpu")  # type: ignore[return-value]

    @property
    def gpu_count(self) -> int:
        return self.count("gpu")

    @property
    def system(self) -> SystemPart | None:
        return self.one("system")  # type: ignore[return-value]

    @property
    def cpu(self) -> CpuPart | None:
        return self.one("cpu")  # type: ignore[return-value]

    @property
    def board(self) -> BoardPart | None:
        return self.one("motherboard")  # type: ignore[return-value]

    @property
    def memory(self) -> MemoryPart | None:
        return self.one("memory")  # type: ignore[return-value]

    @property
    def case(self) -> CasePart | None:
        return self.one("case")  # type: ignore[return-value]

    @property
    def psu(self) -> PsuPart | None:
        return self.one("psu")  # type: ignore[return-value]

    @property
    def cooler(self) -> CoolerPart | None:
        return self.one("cooler")  # type: ignore[return-value]

    @property
    def ram_gb(self) -> float:
        """Installed RAM, binary GB as sold."""
        return float(sum(m.capacity_gb * q for m, q in self.of("memory")))  # type: ignore[attr-defined]

    @property
    def storage_gb(self) -> float:
        """Drives plus a complete system's built-in storage, decimal GB."""
        drives = sum(s.capacity_gb * q for s, q in self.of("storage"))  # type: ignore[attr-defined]
        built_in = sum(s.storage_gb * q for s, q in self.of("system"))  # type: ignore[attr-defined]
        return float(drives + built_in)

    def memory_mts(self) -> int | None:
        cpu, board, module = self.cpu, self.board, self.memory
        if cpu is None or board is None or module is None:
            return module.speed_mts if module else None
        return effective_memory_mts(cpu, board, module, self.count("memory"))

    def peak_draw_w(self) -> float:
        """Peak power of all parts, W (what the power supply must deliver)."""
        if self.system is not None:
            return self.system.power_w
        watts = PLATFORM_PEAK_W
        watts += sum(g.board_power_w * q for g, q in self.gpus)
        watts += sum(c.power_w * q for c, q in self.of("cpu"))  # type: ignore[attr-defined]
        watts += DIMM_PEAK_W * self.count("memory")
        watts += DRIVE_PEAK_W * self.count("storage")
        return watts

    @property
    def adapters(self) -> list[tuple[AdapterPart, int]]:
        return self.of("adapter")  # type: ignore[return-value]

    @property
    def riser_count(self) -> int:
        return sum(q for a, q in self.adapters if a.adapter_type == "riser_cable")

    def off_board(self) -> OffBoard:
        """The riser cables (and the narrowest link any of them lists) and the
        bifurcation cards of the build."""
        cables = [a for a, _ in self.adapters if a.adapter_type == "riser_cable"]
        lanes = [a.pcie_lanes for a in cables if a.pcie_lanes]
        gens = [a.pcie_gen for a in cables if a.pcie_gen]
        splits = tuple(
            (a.gpus_joined or 1, a.pcie_lanes, a.pcie_gen)
            for a, q in self.adapters
            if a.adapter_type == "bifurcation_card"
            for _ in range(q)
        )
        cable = (min(lanes) if lanes else None, min(gens) if gens else None)
        return OffBoard(self.riser_count, cable, splits)

    def slot_plan(self) -> SlotPlan | None:
        """Where the GPUs sit on the board (None without a board or GPUs); memoised."""
        if "_plan" not in self.__dict__:
            board, gpus = self.board, self.gpus
            plan = None
            if board is not None and gpus:
                width = max(g.slots for g, _ in gpus)
                plan = plan_slots(board, width, self.gpu_count, off=self.off_board())
            self.__dict__["_plan"] = plan
        return self.__dict__["_plan"]

    def is_server(self) -> bool:
        """Built in a rack chassis (a GPU server) rather than a tower or small case."""
        case = self.case
        return case is not None and case.form_factor == "rack"


def check(assembly: Assembly, needs: ModelNeeds | None = None) -> list[Finding]:
    """Run every rule on ``assembly``; ``needs`` enables the model-size rules."""
    findings: list[Finding] = []
    add = findings.append
    if assembly.system is not None or assembly.of("system"):
        _check_system(assembly, needs, add)
        return findings
    _check_parts(assembly, add)
    cpu, board, module, case = assembly.cpu, assembly.board, assembly.memory, assembly.case
    if cpu and board:
        _check_cpu_board(assembly, cpu, board, add)
    if module and board:
        _check_memory(assembly, cpu, board, module, add)
    _check_gpus(assembly, board, case, add)
    if board and case:
        _check_form_factor(board, case, add)
    _check_cooler(assembly, cpu, case, add)
    _check_psu(assembly, board, add)
    if needs is not None:
        _check_model_size(assembly, needs, add)
    return findings


# The rule a build breaks when it mixes two different parts of a kind.
MIXED_KIND_RULES = {
    "cpu": "socket_count",
    "memory": "memory_channels",
    "cooler": "cooler",
    "psu": "psu_watts",
}


def _check_parts(assembly: Assembly, add) -> None:
    """Every kind of part present (a chassis's own supply counts as the supply), one
    kind of each, one motherboard and one case."""
    integrated = assembly.case is not None and assembly.case.has_integrated_psu
    missing = [
        kind
        for kind in ("cpu", "motherboard", "memory", "cooler", "psu", "case", "storage")
        if not assembly.of(kind) and not (kind == "psu" and integrated)
    ]
    if missing:
        add(Finding("parts", False, "Missing: " + ", ".join(missing) + "."))
    for kind in ("cpu", "motherboard", "memory", "cooler", "psu", "case"):
        if len(assembly.of(kind)) > 1:
            rule = MIXED_KIND_RULES.get(kind, "parts")
            add(Finding(rule, False, f"Mixes different {kind} parts; use one kind."))
    if assembly.count("motherboard") > 1 or assembly.count("case") > 1:
        add(Finding("parts", False, "One motherboard and one case per build."))


def _check_form_factor(board: BoardPart, case: CasePart, add) -> None:
    if not board.form_factor or not case.board_support:
        add(Finding("board_form_factor", None, "Board or case form factor not listed."))
    elif board.form_factor not in case.board_support:
        text = (
            f"{case.label} does not take {board.form_factor} boards "
            f"(takes {', '.join(case.board_support)})."
        )
        add(Finding("board_form_factor", False, text))


def violations(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.ok is False]


def _check_system(assembly: Assembly, needs: ModelNeeds | None, add) -> None:
    extras = [p.label for p, _ in assembly.items if p.kind not in ("system", "storage")]
    if len(assembly.of("system")) > 1 or assembly.count("system") > 1:
        add(Finding("system_extras", False, "One complete system per build."))
    if extras:
        add(
            Finding(
                "system_extras",
                False,
                "A complete system takes no other parts than a drive "
                f"(remove {', '.join(extras)}).",
            )
        )
    if assembly.of("storage"):
        add(Finding("storage", True, "Extra drive connected externally (USB4/Thunderbolt)."))
    if needs is not None:
        _check_storage(assembly, needs, add)


# Chipsets whose socket other CPU lines share, and the product lines they run (lower
# case, matched against the CPU's name). Intel W790 runs Xeon W-2400/W-3400 only and
# C741 runs 4th/5th-generation Xeon Scalable only, both on LGA4677:
# https://www.intel.com/content/www/us/en/products/sku/233425/intel-w790-chipset/specifications.html
# https://www.intel.com/content/www/us/en/products/sku/229708/intel-c741-chipset/specifications.html
CHIPSET_CPU_LINES: dict[str, tuple[str, ...]] = {
    "W790": ("xeon w",),
    "C741": ("xeon platinum", "xeon gold", "xeon silver", "xeon bronze"),
}


def chipset_runs(board: BoardPart, cpu: CpuPart) -> bool:
    """Whether the board's chipset supports the CPU's product line."""
    lines = CHIPSET_CPU_LINES.get(board.chipset.upper())
    return lines is None or any(line in cpu.label.lower() for line in lines)


def _check_cpu_board(assembly: Assembly, cpu: CpuPart, board: BoardPart, add) -> None:
    if cpu.socket != board.socket:
        add(
            Finding(
                "cpu_socket",
                False,
                f"{cpu.label} is {cpu.socket}; {board.label} is {board.socket}.",
            )
        )
    elif not chipset_runs(board, cpu):
        add(
            Finding(
                "cpu_chipset",
                False,
                f"{board.label} ({board.chipset}) does not run {cpu.label}.",
            )
        )
    sockets = board.socket_count or 1
    cpus = assembly.count("cpu")
    if cpus != sockets:
        add(
            Finding(
                "socket_count",
                False,
                f"{board.label} has {sockets} socket(s); the build has {cpus} CPU(s).",
            )
        )
    if sockets > (cpu.max_sockets or 1):
        add(
            Finding(
                "socket_count",
                False,
                f"{cpu.label} runs in at most {cpu.max_sockets or 1} socket(s); "
                f"the board has {sockets}.",
            )
        )
    if cpu.memory_type != board.memory_type:
        add(
            Finding(
                "memory_type",
                False,
                f"{cpu.label} takes {cpu.memory_type}; {board.label} takes {board.memory_type}.",
            )
        )


def _check_memory(
    assembly: Assembly, cpu: CpuPart | None, board: BoardPart, module: MemoryPart, add
) -> None:
    count = assembly.count("memory")
    if module.memory_type != board.memory_type:
        add(
            Finding(
                "memory_type",
                False,
                f"{module.label} is {module.memory_type}; the board takes {board.memory_type}.",
            )
        )
    if module.registered != board.registered:
        want = "registered (RDIMM)" if board.registered else "unbuffered (UDIMM)"
        add(Finding("memory_registered", False, f"{board.label} takes {want} modules."))
    channels = board.memory_channels
    if cpu is not None:
        channels = min(channels, cpu.memory_channels * max(board.socket_count, 1))
    if count < channels or count % channels:
        add(
            Finding(
                "memory_channels",
                False,
                f"{count} module(s) cannot populate {channels} channels evenly; use "
                f"{channels} or {2 * channels}.",
            )
        )
    if count > board.dimm_slots:
        add(
            Finding(
                "dimm_slots",
                False,
                f"{count} modules but {board.label} has {board.dimm_slots} DIMM slots.",
            )
        )
    total = module.capacity_gb * count
    if board.max_memory_gb:
        if total > board.max_memory_gb:
            add(
                Finding(
                    "max_memory",
                    False,
                    f"{total} GB installed; {board.label} takes at most {board.max_memory_gb} GB.",
                )
            )
    else:
        add(Finding("max_memory", None, f"{board.label}'s maximum memory is not listed."))
    if cpu is not None:
        _note_memory_speed(cpu, board, module, count, channels, add)


def _note_memory_speed(
    cpu: CpuPart, board: BoardPart, module: MemoryPart, count: int, channels: int, add
) -> None:
    mts = effective_memory_mts(cpu, board, module, count)
    if count > channels:
        text = f"Two DIMMs per channel: memory runs at about {mts} MT/s."
        add(Finding("memory_channels", True, text))
    elif mts < module.speed_mts:
        text = f"Memory runs at {mts} MT/s, the most the CPU and board support."
        add(Finding("memory_channels", True, text))


def _check_gpus(assembly: Assembly, board: BoardPart | None, case: CasePart | None, add) -> None:
    gpus = assembly.gpus
    if not gpus:
        return
    stacks = {g.stack for g, _ in gpus}
    if len(stacks) > 1:
        text = (
            f"GPUs with different software stacks ({', '.join(sorted(stacks))}) cannot share "
            "one inference engine."
        )
        add(Finding("gpu_mix", False, text))
    if any(g.slot_width is None for g, _ in gpus):
        add(Finding("gpu_slots", None, "A GPU's slot width is not listed (2 slots assumed)."))
    plan = assembly.slot_plan()
    if plan is not None:
        _check_slot_plan(plan, gpus, add)
        _check_bifurcation(assembly, plan, add)
        if case is not None:
            _check_case_slots(plan, case, assembly.gpu_count, add)
    if case is not None:
        _check_gpu_case(gpus, case, add)


def _check_slot_plan(plan: SlotPlan, gpus: Sequence[tuple[GpuPart, int]], add) -> None:
    """Where the GPUs sit, and the PCIe link each trains to with its slot (the lower
    of the card's and the slot's generation and lanes)."""
    ok = plan.fits if plan.status != "unknown" else None
    add(Finding("gpu_slots", ok, plan.detail, plan.status))
    if plan.risers:
        add(warn("risers", f"{plan.risers} GPU(s) on riser cables."))
    if not plan.fits:
        return
    known = [lane for lane in plan.lanes if lane]
    if not known or len(known) != len(plan.lanes):
        add(Finding("pcie_lanes", None, "Electrical lanes of the GPUs' slots not known."))
        return
    links = seat(gpus, plan.lanes, plan.gens)
    text = "GPUs run at " + describe([(link.gen, link.lanes) for link in links])
    if any(link.card_limited for link in links):
        slots = describe([(link.slot_gen, link.slot_lanes) for link in links])
        text += f", the lower of each card's and its slot's link (slots: {slots})"
    add(Finding("pcie_lanes", True, text + "."))


def _check_bifurcation(assembly: Assembly, plan: SlotPlan, add) -> None:
    """Bifurcation cards: the board must split the slot (no board lists it, so whether
    it does is unknown), and a card the slot plan does not need is said to be spare."""
    cards = assembly.off_board().splits
    if not cards or not plan.fits:
        return
    board = assembly.board
    if plan.split and board is not None:
        text = (
            f"{plan.split} GPU(s) on bifurcation links: whether {board.label} splits an x16 "
            "slot into several links (PCIe bifurcation in its firmware) is not listed."
        )
        add(Finding("risers", None, text))
    elif plan.exact:
        text = "The bifurcation card(s) are not needed: every GPU has an x16 slot of its own."
        add(warn("risers", text))
    else:
        text = (
            "Where the bifurcation card(s) go, and whether the board splits a slot, is not "
            "verified: the board's slot layout is not listed."
        )
        add(Finding("risers", None, text))


def _check_case_slots(plan: SlotPlan, case: CasePart, count: int, add) -> None:
    if case.expansion_slots is None:
        add(Finding("case_slots", None, f"{case.label}'s expansion slots are not listed."))
    elif plan.case_slots > case.expansion_slots:
        more = "" if plan.exact else " or more"
        text = (
            f"The GPUs cover {plan.case_slots}{more} expansion slots; {case.label} has "
            f"{case.expansion_slots}."
        )
        add(Finding("case_slots", False, text))
    elif not plan.exact and count > 1:
        text = (
            f"The GPUs cover at least {plan.case_slots} expansion slots; {case.label} has "
            f"{case.expansion_slots} (the board's slot positions are not listed)."
        )
        add(Finding("case_slots", None, text))


def _check_gpu_case(gpus: list[tuple[GpuPart, int]], case: CasePart, add) -> None:
    """Card length against the case, and passive cards outside a rack chassis."""
    for gpu, _ in gpus:
        if gpu.length_mm is None or case.max_gpu_length_mm is None:
            add(Finding("gpu_length", None, f"Length of {gpu.label} or the case limit not listed."))
        elif gpu.length_mm > case.max_gpu_length_mm:
            text = (
                f"{gpu.label} is {gpu.length_mm} mm; {case.label} takes "
                f"{case.max_gpu_length_mm} mm."
            )
            add(Finding("gpu_length", False, text))
    passive = sorted({g.label for g, _ in gpus if g.passive})
    if passive and case.form_factor != "rack":
        verb = "is" if len(passive) == 1 else "are"
        text = (
            f"{', '.join(passive)} {verb} passively cooled and need the forced airflow of a "
            "rack chassis (or a fan shroud per card, which the catalogue does not list)."
        )
        add(Finding("gpu_cooling", False, text))


def _check_cooler(assembly: Assembly, cpu: CpuPart | None, case: CasePart | None, add) -> None:
    coolers = assembly.of("cooler")
    if not coolers or cpu is None:
        return
    sockets = assembly.count("cpu")
    if assembly.count("cooler") != sockets:
        add(
            Finding(
                "cooler",
                False,
                f"{assembly.count('cooler')} cooler(s) for {sockets} CPU socket(s).",
            )
        )
    cooler = assembly.cooler
    if cooler is None:
        return
    if cpu.socket not in cooler.sockets:
        add(
            Finding(
                "cooler",
                False,
                f"{cooler.label} mounts on {', '.join(cooler.sockets)}, not {cpu.socket}.",
            )
        )
    if cooler.tdp_rating_w is None:
        add(Finding("cooler", None, f"{cooler.label}'s TDP rating is not listed."))
    elif cooler.tdp_rating_w < cpu.power_w:
        add(
            Finding(
                "cooler",
                False,
                f"{cooler.label} is rated {cooler.tdp_rating_w} W; {cpu.label} is "
                f"{cpu.power_w:.0f} W.",
            )
        )
    if case is not None:
        if cooler.height_mm is None or case.max_cooler_height_mm is None:
            add(Finding("cooler", None, "Cooler height or the case's limit not listed."))
        elif cooler.height_mm > case.max_cooler_height_mm:
            add(
                Finding(
                    "cooler",
                    False,
                    f"{cooler.label} is {cooler.height_mm} mm tall; {case.label} takes "
                    f"{case.max_cooler_height_mm} mm.",
                )
            )


def psu_shortfall(
    assembly: Assembly, psu: PsuPart, psu_count: int, board: BoardPart | None
) -> list[Finding]:
    """Power-supply findings for ``psu_count`` × ``psu`` (used by the generator to pick
    the cheapest adequate supply, and by :func:`check`)."""
    findings: list[Finding] = []
    peak = assembly.peak_draw_w()
    need = PSU_HEADROOM * peak
    total = psu.watts * psu_count
    if total < need:
        text = (
            f"Peak draw is about {peak:.0f} W; the supply should be at least {need:.0f} W "
            f"(has {total} W)."
        )
        findings.append(Finding("psu_watts", False, text))
    demand = gpu_connector_demand(assembly.gpus)
    if demand[3]:
        findings.append(
            Finding("psu_gpu_connectors", None, "A GPU's power connectors are not listed.")
        )
    board_eps = (board.eps_connectors if board is not None else None) or 0
    findings += _cpu_leads(psu, psu_count, board, board_eps, demand[2])
    findings += _gpu_leads(assembly, psu, psu_count, board_eps, demand)
    return findings


def _cpu_leads(
    psu: PsuPart, psu_count: int, board: BoardPart | None, board_eps: int, gpu_eps: int
) -> list[Finding]:
    """The board's CPU power inputs against the supply's EPS leads."""
    out: list[Finding] = []
    if board is not None and board.eps_connectors is None:
        text = f"{board.label}'s CPU power inputs are not listed."
        out.append(Finding("psu_cpu_connectors", None, text))
    if psu.eps is None:
        if board_eps or gpu_eps:
            text = f"{psu.label}'s EPS leads are not listed."
            out.append(Finding("psu_cpu_connectors", None, text))
    elif psu.eps * psu_count < board_eps:
        text = (
            f"The board has {board_eps} CPU power inputs; the supply has "
            f"{psu.eps * psu_count} EPS leads."
        )
        out.append(Finding("psu_cpu_connectors", False, text))
    return out


def _gpu_leads(
    assembly: Assembly,
    psu: PsuPart,
    psu_count: int,
    board_eps: int,
    demand: tuple[int, int, int, bool],
) -> list[Finding]:
    """The GPUs' power connectors against the supply's leads (12V-2x6 natively or
    through adapters from 8-pin PCIe leads; EPS from leads the board leaves spare)."""
    pcie, v12, eps, _ = demand
    if not (pcie or v12 or eps):
        return []
    if psu.pcie_8pin is None or psu.connectors_12v_2x6 is None:
        wanted = [
            f"{n} × {what}"
            for n, what in ((pcie, "8-pin PCIe"), (v12, "12V-2x6"), (eps, "8-pin EPS"))
            if n
        ]
        text = f"{psu.label}'s GPU leads are not listed; the GPUs need " + ", ".join(wanted) + "."
        return [Finding("psu_gpu_connectors", None, text)]
    have_pcie = psu.pcie_8pin * psu_count
    spare_eps = max((psu.eps or 0) * psu_count - board_eps, 0)
    short_v12 = max(v12 - psu.connectors_12v_2x6 * psu_count, 0)
    per_card = max(
        (
            adapter_leads(g.board_power_w)
            for g, _ in assembly.gpus
            if g.power_connector in ("12V-2x6", "12VHPWR")
        ),
        default=3,
    )
    need_pcie = pcie + short_v12 * per_card + 2 * max(eps - spare_eps, 0)
    if need_pcie <= have_pcie:
        return []
    text = (
        f"The GPUs need {need_pcie} × 8-pin PCIe leads (adapters included); the supply has "
        f"{have_pcie}."
    )
    return [Finding("psu_gpu_connectors", False, text)]


def _check_psu(assembly: Assembly, board: BoardPart | None, add) -> None:
    case = assembly.case
    if case is not None and case.has_integrated_psu:
        _check_integrated_psu(assembly, case, add)
        return
    if case is not None and case.form_factor == "rack" and case.integrated_psu_w is None:
        add(
            Finding(
                "psu_watts", None, f"Whether {case.label} ships with a power supply is not listed."
            )
        )
    psus = assembly.of("psu")
    if not psus:
        return
    psu = assembly.psu
    if psu is None:
        return
    count = assembly.count("psu")
    if count > 2:
        add(Finding("psu_watts", False, "At most two power supplies per build."))
    for finding in psu_shortfall(assembly, psu, count, board):
        add(finding)
    if count == 2:
        add(
            warn(
                "psu_watts",
                "Two power supplies: needs a case with room for both and a dual-PSU adapter.",
            )
        )


def _check_integrated_psu(assembly: Assembly, case: CasePart, add) -> None:
    """A chassis with its own supplies: they are the build's supply."""
    watts = case.integrated_psu_w or 0
    fitted = case.integrated_psu_count or 1
    what = f"{fitted} × {watts} W" + (" (redundant)" if fitted > 1 else "")
    extra = assembly.count("psu")
    if extra:
        add(
            Finding(
                "psu_watts",
                False,
                f"{case.label} ships with its own {what} supplies; the build adds {extra} ATX "
                "supply(ies) it has no room for. Remove them.",
            )
        )
    peak = assembly.peak_draw_w()
    need = PSU_HEADROOM * peak
    if need > watts:
        add(
            Finding(
                "psu_watts",
                False,
                f"Peak draw is about {peak:.0f} W; {case.label}'s {what} supply gives {watts} W "
                f"(needs {need:.0f} W).",
            )
        )
    else:
        add(Finding("psu_watts", True, f"Powered by {case.label}'s own {what} supply."))
    if assembly.gpus:
        add(
            Finding(
                "psu_gpu_connectors",
                None,
                f"The GPU power leads of {case.label}'s supply are not listed.",
            )
        )


def _check_storage(assembly: Assembly, needs: ModelNeeds, add) -> None:
    have = assembly.storage_gb
    want = 2 * needs.files_gb
    if have < want:
        add(
            Finding(
                "storage",
                False,
                f"{have:.0f} GB of storage; the model files need at least {want:.0f} GB "
                "(twice their size).",
            )
        )


def ram_needed_gb(assembly: Assembly, needs: ModelNeeds) -> float:
    """System RAM (decimal GB) the rules ask for: the whole model when GPUs hold it
    (it is staged through RAM while loading), model plus the OS otherwise."""
    if assembly.gpus:
        return needs.weights_gb
    return needs.weights_gb + OS_RESERVED_GB


def _check_model_size(assembly: Assembly, needs: ModelNeeds, add) -> None:
    if assembly.of("memory"):
        have = assembly.ram_gb * GIB_TO_GB
        want = ram_needed_gb(assembly, needs)
        if have < want:
            add(
                Finding(
                    "system_ram",
                    False,
                    f"{assembly.ram_gb:.0f} GB of RAM ({have:.0f} GB decimal); loading the model "
                    f"needs {want:.0f} GB.",
                )
            )
    _check_storage(assembly, needs, add)


@dataclass(frozen=True)
class Parallel:
    """How the build's GPUs share the model: ``split`` for the estimator (None: the
    engine's default), ``link`` True when bridges give them NVLink / Infinity Fabric,
    and the findings that say so."""

    split: str | None
    link: bool
    findings: tuple[Finding, ...]


def check_parallel(assembly: Assembly, engine: str, model: object) -> Parallel:
    """The tensor-parallel, interconnect and lane rules for ``engine`` running
    ``model`` (a ModelArch) on the build's GPUs."""
    n = assembly.gpu_count
    if n <= 1:
        return Parallel(None, False, ())
    findings: list[Finding] = []
    split = _split_for(assembly, engine, model, findings)
    link = _link_for(assembly, split, findings)
    plan = assembly.slot_plan()
    links = seat(assembly.gpus, plan.lanes, plan.gens) if plan else ()
    lanes = [x.lanes for x in links if x.lanes]
    if split == "tensor" and lanes and min(lanes) < 16:
        text = "/".join(f"x{x.lanes or '?'}" for x in links)
        findings.append(
            warn(
                "pcie_lanes",
                f"The GPUs' PCIe links are {text}: tensor-parallel all-reduce "
                f"{'runs over NVLink' if link else 'gets the bandwidth of x' + str(min(lanes))}.",
            )
        )
    return Parallel(split, link, tuple(findings))


def _split_for(assembly: Assembly, engine: str, model: object, findings: list) -> str | None:
    n = assembly.gpu_count
    profile = engine_profile(engine)
    if profile.default_split != "tensor":
        findings.append(
            Finding(
                "tensor_parallel",
                True,
                f"{profile.name} splits the layers over the {n} GPUs (each holds whole layers "
                "and they take turns).",
            )
        )
        return None
    sizes = tensor_parallel_sizes(profile, model)
    heads = getattr(model, "attention_heads", "?")
    kv = getattr(model, "kv_heads", "?")
    if n in sizes:
        findings.append(
            Finding(
                "tensor_parallel",
                True,
                f"Tensor parallel over {n} GPUs ({n} divides the {heads} attention heads and "
                f"suits the {kv} KV heads).",
            )
        )
        return "tensor"
    allowed = ", ".join(str(s) for s in sizes)
    if "layer" not in profile.splits:
        findings.append(
            Finding(
                "tensor_parallel",
                False,
                f"{profile.name} shards a layer over {allowed} GPU(s) only ({heads} attention "
                f"heads, {kv} KV heads) and has no layer split for {n}.",
            )
        )
        return None
    findings.append(
        warn(
            "tensor_parallel",
            f"{profile.name} shards a layer only over {allowed} GPU(s) ({heads} attention "
            f"heads, {kv} KV heads), so the {n} GPUs run as a pipeline (layer split): they "
            "take turns, and their bandwidth does not add up.",
        )
    )
    return "layer"


def _link_for(assembly: Assembly, split: str | None, findings: list) -> bool:
    """True when bridges join every GPU into one NVLink / Infinity Fabric group that
    the split can use."""
    found, joined = _link_findings(assembly)
    findings.extend(found)
    return joined and split in ("tensor", None)


def _bridges(assembly: Assembly) -> tuple[AdapterPart | None, int]:
    """The build's bridge for its GPUs, and how many of them it has."""
    slugs = {g.slug for g, _ in assembly.gpus}
    bridges = [
        (a, q)
        for a, q in assembly.adapters
        if a.is_bridge and (not a.compatible_gpus or slugs <= set(a.compatible_gpus))
    ]
    return (bridges[0][0] if bridges else None), sum(q for _, q in bridges)


def _link_findings(assembly: Assembly) -> tuple[list[Finding], bool]:
    """What the interconnect rule says, and whether one link joins every GPU."""
    gpus, n = assembly.gpus, assembly.gpu_count
    if not all(g.has_link for g, _ in gpus):
        return [Finding("gpu_interconnect", True, "The GPUs exchange data over PCIe.")], False
    gpu = gpus[0][0]
    name = gpu.interconnect or "NVLink"
    bridge, have = _bridges(assembly)
    if bridge is None:
        text = (
            f"The cards take {name} bridges, but the build has none: the GPUs exchange data "
            "over PCIe."
        )
        return [Finding("gpu_interconnect", True, text)], False
    group = gpu.interconnect_group_size
    if group is None:
        text = f"{gpu.label}'s {name} group size is not listed; PCIe assumed."
        return [Finding("gpu_interconnect", None, text)], False
    problem = _bridge_problem(assembly, bridge, have, group)
    if problem is not None:
        return [problem], False
    out = []
    if _bridge_spacing(assembly, group) is None:
        text = "Slot positions unknown: whether the bridges reach is not verified."
        out.append(Finding("risers", None, text))
    if n > group:
        text = (
            f"{name} bridges join the cards in groups of {group}; traffic between groups, and "
            f"a tensor split over all {n}, goes over PCIe."
        )
        return [*out, warn("gpu_interconnect", text)], False
    speed = f"{gpu.interconnect_bandwidth_gbs:g} GB/s"
    text = f"{have} {name} bridge(s) join the {n} GPUs ({speed})."
    return [*out, Finding("gpu_interconnect", True, text)], True


def _bridge_problem(
    assembly: Assembly, bridge: AdapterPart, have: int, group: int
) -> Finding | None:
    """Too few bridges for the groups, or bridges that do not span the cards' spacing."""
    n = assembly.gpu_count
    gpu = assembly.gpus[0][0]
    name = gpu.interconnect or "NVLink"
    per_group = bridge.bridges_per_group or 1
    need = (n // group) * per_group
    if n % group or have < need:
        text = (
            f"{name} joins {gpu.label} cards in groups of {group} ({per_group} bridge(s) "
            f"each); {n} GPUs with {have} bridge(s) cannot all be joined "
            f"(need {max(need, per_group)})."
        )
        return Finding("gpu_interconnect", False, text)
    spacing = _bridge_spacing(assembly, group)
    if bridge.slot_spacing and spacing is not None and spacing != bridge.slot_spacing:
        text = (
            f"{bridge.label} spans {bridge.slot_spacing} slot positions; the cards sit "
            f"{spacing} apart on this board."
        )
        return Finding("gpu_interconnect", False, text)
    return None


def _bridge_spacing(assembly: Assembly, group: int) -> int | None:
    """Slot positions between neighbouring cards of a group (None when unknown)."""
    plan, board = assembly.slot_plan(), assembly.board
    if plan is None or board is None or not plan.exact or plan.risers:
        return None
    positions = board_positions(board)
    if positions is None or len(plan.slots) < 2:
        return None
    used = [positions[i] for i in plan.slots]
    return used[1] - used[0]
