"""Read a hardware description out of pasted tool output: ``nvidia-smi`` (its table,
``-L`` or ``--query-gpu=name,memory.total --format=csv``), ``rocm-smi
--showproductname`` (table or ``--csv``), ``lscpu``, ``free`` (``-g``, ``-m`` or plain),
``dmidecode -t memory`` and ``system_profiler SPHardwareDataType``, in any order and
together in one paste. Also the lines ``scripts/describe_rig.py`` prints.

Pure Python: no Django, no catalogue. :func:`parse` says what the text states;
``configurator.rig.describe`` matches it to catalogue parts.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

MIB = 2**20
GIB = 2**30

# Installed RAM sizes ``free`` rounds down to (it reports what the kernel may use).
COMMON_RAM_GB = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)


@dataclass
class SeenGpu:
    """A GPU named by a tool: ``name`` as printed, ``memory_mib`` when the tool said."""

    name: str
    memory_mib: float | None = None
    source: str = ""
    truncated: bool = False


@dataclass
class SeenCpu:
    name: str
    sockets: int = 1
    cores_per_socket: int | None = None
    max_mhz: float | None = None
    flags: tuple[str, ...] = ()


@dataclass
class SeenRam:
    """``total_gb``: installed (binary) GB; ``dimms``: populated modules (dmidecode);
    ``channels``: distinct channels holding a module; ``speed_mts`` and ``memory_type``
    from dmidecode; ``from_free``: the total came from ``free`` (rounded up)."""

    total_gb: float | None = None
    dimms: int | None = None
    channels: int | None = None
    speed_mts: int | None = None
    memory_type: str = ""
    from_free: bool = False


@dataclass
class SeenMac:
    chip: str
    memory_gb: float | None = None
    model_name: str = ""


@dataclass
class Pasted:
    """What a paste states, plus ``tools`` (the outputs recognised) and ``notes``."""

    gpus: list[SeenGpu] = field(default_factory=list)
    cpu: SeenCpu | None = None
    ram: SeenRam | None = None
    mac: SeenMac | None = None
    tools: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.gpus or self.cpu or self.ram or self.mac)


def parse(text: str) -> Pasted:
    """Everything recognisable in ``text`` (an empty :class:`Pasted` if nothing is)."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    out = Pasted()
    _describe_lines(text, out)
    for reader in (_nvidia_table, _nvidia_list, _nvidia_csv, _rocm_csv, _rocm_table):
        found = reader(text)
        if found:
            out.gpus.extend(found)
            out.tools.append(found[0].source)
            break
    cpu = _lscpu(text)
    if cpu is not None and out.cpu is None:
        out.cpu = cpu
        out.tools.append("lscpu")
    ram = _dmidecode(text)
    if ram is not None:
        out.ram = ram
        out.tools.append("dmidecode")
    else:
        total = _free(text)
        if total is not None and out.ram is None:
            out.ram = SeenRam(total_gb=installed_gb(total), from_free=True)
            out.tools.append("free")
            if installed_gb(total) != total:
                out.notes.append(
                    f"free reports {total:g} GB the system may use; taken as "
                    f"{installed_gb(total):g} GB installed."
                )
    mac = _system_profiler(text)
    if mac is not None:
        out.mac = mac
        out.tools.append("system_profiler")
    return out


def installed_gb(usable_gb: float) -> float:
    """The common installed size just above what ``free`` reports (it leaves out memory
    the firmware and kernel keep)."""
    for size in COMMON_RAM_GB:
        if usable_gb <= size and usable_gb >= size * 0.9:
            return float(size)
    return float(round(usable_gb))


# nvidia-smi ---------------------------------------------------------------------------

# "|   0  NVIDIA GeForce RTX 3090        Off |   00000000:07:00.0  On |" then the next
# line holds "15005MiB /  24576MiB".
_NV_ROW = re.compile(r"^\|\s+(\d+)\s+(.+?)\s+(On|Off)\s*\|\s*[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:")
_NV_MEM = re.compile(r"(\d+)\s*MiB\s*/\s*(\d+)\s*MiB")


def _nvidia_table(text: str) -> list[SeenGpu]:
    if "NVIDIA-SMI" not in text and "Persistence-M" not in text:
        return []
    lines = text.split("\n")
    gpus = []
    for i, line in enumerate(lines):
        row = _NV_ROW.match(line.strip())
        if not row:
            continue
        name = row.group(2).strip()
        memory = None
        for following in lines[i + 1 : i + 3]:
            mem = _NV_MEM.search(following)
            if mem:
                memory = float(mem.group(2))
                break
        gpus.append(SeenGpu(name, memory, "nvidia-smi", truncated=name.endswith("...")))
    return gpus


_NV_LIST = re.compile(r"^GPU\s+\d+:\s+(.+?)\s+\(UUID:", re.M)


def _nvidia_list(text: str) -> list[SeenGpu]:
    return [SeenGpu(m.group(1).strip(), None, "nvidia-smi -L") for m in _NV_LIST.finditer(text)]


def _nvidia_csv(text: str) -> list[SeenGpu]:
    """``nvidia-smi --query-gpu=name,memory.total --format=csv[,noheader]``."""
    gpus = []
    for line in text.split("\n"):
        m = re.match(
            r"^\s*([^,]*(?:NVIDIA|GeForce|Tesla|Quadro|RTX)[^,]*),\s*(\d+)\s*MiB\s*$", line
        )
        if m:
            gpus.append(SeenGpu(m.group(1).strip(), float(m.group(2)), "nvidia-smi --query-gpu"))
    return gpus


# rocm-smi -----------------------------------------------------------------------------

_BRACKETED = re.compile(r"\[([^\]]+)\]\s*$")


def _amd_name(series: str, model: str) -> tuple[str, bool]:
    """The marketing name from rocm-smi's "Card series" ("Navi 31 [Radeon RX 7900 XTX]")
    or "Card model"; the flag is False when only hex device ids were printed."""
    for text in (series, model):
        text = text.strip()
        inner = _BRACKETED.search(text)
        if inner:
            return inner.group(1).strip(), True
        if text and not re.fullmatch(r"0x[0-9a-fA-F]+", text):
            return text, True
    return (series or model).strip(), False


def _rocm_csv(text: str) -> list[SeenGpu]:
    if "Card series" not in text or "device," not in text:
        return []
    start = text.index("device,")
    rows = list(csv.DictReader(io.StringIO(text[start:])))
    gpus = []
    for row in rows:
        if not (row.get("device") or "").startswith("card"):
            continue
        name, named = _amd_name(row.get("Card series") or "", row.get("Card model") or "")
        gpus.append(SeenGpu(name, None, "rocm-smi", truncated=not named))
    return gpus


_ROCM_LINE = re.compile(r"^GPU\[(\d+)\]\s*:\s*(Card series|Card model|Device Name):\s*(.+?)\s*$")
_ROCM_VRAM = re.compile(r"^GPU\[(\d+)\]\s*:\s*VRAM Total Memory \(B\):\s*(\d+)\s*$")


def _rocm_table(text: str) -> list[SeenGpu]:
    if "GPU[" not in text:
        return []
    fields: dict[int, dict[str, str]] = {}
    vram: dict[int, float] = {}
    for line in text.split("\n"):
        line = line.strip()
        m = _ROCM_LINE.match(line)
        if m:
            fields.setdefault(int(m.group(1)), {})[m.group(2)] = m.group(3)
        v = _ROCM_VRAM.match(line)
        if v:
            vram[int(v.group(1))] = int(v.group(2)) / MIB
    gpus = []
    for index in sorted(fields):
        f = fields[index]
        series = f.get("Card series") or f.get("Device Name") or ""
        name, named = _amd_name(series, f.get("Card model", ""))
        gpus.append(SeenGpu(name, vram.get(index), "rocm-smi", truncated=not named))
    return gpus


# lscpu, free, dmidecode -----------------------------------------------------------------


def _field(text: str, label: str) -> str | None:
    m = re.search(rf"^\s*{re.escape(label)}:\s*(.+?)\s*$", text, re.M)
    return m.group(1) if m else None


def _lscpu(text: str) -> SeenCpu | None:
    if _field(text, "Architecture") is None or _field(text, "Model name") is None:
        return None
    name = _field(text, "Model name") or ""
    sockets = _field(text, "Socket(s)")
    cores = _field(text, "Core(s) per socket")
    max_mhz = _field(text, "CPU max MHz")
    flags = (_field(text, "Flags") or "").split()
    return SeenCpu(
        name=name,
        sockets=int(sockets) if sockets and sockets.isdigit() else 1,
        cores_per_socket=int(cores) if cores and cores.isdigit() else None,
        max_mhz=float(max_mhz) if max_mhz else None,
        flags=tuple(flags),
    )


_FREE_MEM = re.compile(r"^Mem:\s+(\d+(?:\.\d+)?)([KMGT]i?)?\s", re.M)


def _free(text: str) -> float | None:
    """Total memory in GB (binary) from ``free`` in any unit, None if not there."""
    header = re.search(r"^\s+total\s+used\s+free", text, re.M)
    m = _FREE_MEM.search(text)
    if not header or not m:
        return None
    value = float(m.group(1))
    unit = (m.group(2) or "").rstrip("i")
    if unit == "G":
        return value
    if unit == "T":
        return value * 1024
    if unit == "M":
        return value / 1024
    if unit == "K":
        return value / 1024**2
    # No unit: -g, -m or plain KiB. Pick by size (nobody has 100 000 GB, or 100 MiB).
    if value < 10_000:
        return value
    if value < 100_000_000:
        return value / 1024
    return value / 1024**2


_CHANNEL = re.compile(r"channel\s*_?([A-Z0-9]+)|CHANNEL\s+([A-Z0-9]+)|DIMM_?([A-Z])\d", re.I)


def _dmidecode(text: str) -> SeenRam | None:
    if "Memory Device" not in text:
        return None
    blocks = text.split("Memory Device")[1:]
    sizes = []
    channels: set[str] = set()
    speeds = []
    types = []
    for block in blocks:
        block = re.split(r"\n\s*\n", block, maxsplit=1)[0]
        size = _field(block, "Size")
        if not size:
            continue
        m = re.match(r"(\d+)\s*(MB|GB|TB)", size)
        if not m:
            continue  # "No Module Installed"
        gb = int(m.group(1)) * {"MB": 1 / 1024, "GB": 1, "TB": 1024}[m.group(2)]
        sizes.append(gb)
        where = f"{_field(block, 'Bank Locator') or ''} {_field(block, 'Locator') or ''}"
        # Two sockets have channels of the same letter: keep the socket/node in the key.
        socket = re.search(r"\b(P\d|PROC\s*\d|CPU\d|Node\d)", where, re.I)
        ch = _CHANNEL.search(where)
        if ch:
            letter = next(g for g in ch.groups() if g)
            channels.add(f"{socket.group(1) if socket else ''}:{letter.upper()}")
        speed = _field(block, "Configured Memory Speed") or _field(block, "Speed") or ""
        s = re.match(r"(\d+)\s*MT/s", speed)
        if s:
            speeds.append(int(s.group(1)))
        kind = _field(block, "Type") or ""
        if kind and kind not in ("Unknown", "Other"):
            types.append(kind)
    if not sizes:
        return None
    return SeenRam(
        total_gb=float(sum(sizes)),
        dimms=len(sizes),
        channels=len(channels) or None,
        speed_mts=min(speeds) if speeds else None,
        memory_type=types[0] if types else "",
    )


# system_profiler ------------------------------------------------------------------------


def _system_profiler(text: str) -> SeenMac | None:
    chip = _field(text, "Chip")
    if chip is None:
        return None
    memory = _field(text, "Memory") or ""
    m = re.match(r"(\d+(?:\.\d+)?)\s*(GB|TB)", memory)
    gb = float(m.group(1)) * (1024 if m and m.group(2) == "TB" else 1) if m else None
    return SeenMac(chip=chip, memory_gb=gb, model_name=_field(text, "Model Name") or "")


# scripts/describe_rig.py ----------------------------------------------------------------

_DESCRIBE = re.compile(r"^rigrank-(gpu|cpu|ram|mac):\s*(.+?)\s*$", re.M)


def _describe_lines(text: str, out: Pasted) -> None:
    """``rigrank-gpu: NAME | MEMORY_MIB``, ``rigrank-cpu: NAME | SOCKETS | CORES |
    MAX_MHZ | FLAGS`` (FLAGS: avx2,fma,avx512f when present),
    ``rigrank-ram: TOTAL_GB | DIMMS | CHANNELS | MT/s | TYPE``, ``rigrank-mac: CHIP |
    MEMORY_GB | MODEL`` (empty fields allowed) — what the describe script prints."""
    found = False
    for kind, value in _DESCRIBE.findall(text):
        cells = [c.strip() for c in value.split("|")]
        cells += [""] * (5 - len(cells))
        found = True
        if kind == "gpu":
            out.gpus.append(SeenGpu(cells[0], _num(cells[1]), "describe_rig"))
        elif kind == "cpu":
            out.cpu = SeenCpu(
                cells[0],
                int(_num(cells[1]) or 1),
                int(_num(cells[2]) or 0) or None,
                _num(cells[3]),
                tuple(f for f in cells[4].split(",") if f),
            )
        elif kind == "ram":
            out.ram = SeenRam(
                total_gb=_num(cells[0]),
                dimms=int(_num(cells[1]) or 0) or None,
                channels=int(_num(cells[2]) or 0) or None,
                speed_mts=int(_num(cells[3]) or 0) or None,
                memory_type=cells[4],
            )
        elif kind == "mac":
            out.mac = SeenMac(cells[0], _num(cells[1]), cells[2])
    if found:
        out.tools.append("describe_rig")


def _num(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
