"""A rig the user owns: catalogue parts with counts, custom specs, or pasted tool output,
as the engine's :class:`~configurator.engine.Machine`.

:class:`RigForm` takes the hardware parameters of ``manage.py estimate`` (the same
fields, the same ``NAME:COUNT`` parsing) plus ``paste`` and ``custom_cpu``; pasted
output fills in whatever the parameters leave empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from django import forms

from configurator import adapters
from configurator import estimate_options as options
from configurator.engine import CpuSystem, Machine
from configurator.engine import Gpu as EngineGpu
from configurator.engine.builds.parts import CpuPart, GpuPart, SystemPart
from configurator.engine.cpu_kernels import fma_width_bits_for_name, fp32_flops_per_cycle
from configurator.forms import (
    EstimateForm,
    _custom_gpu,
    _name_count,
    join_repeated,
    resolve_parts,
)
from configurator.rig import paste as pasted

MAX_PASTE_CHARS = 200_000
# Peak FP32 FLOPs per core per cycle for a CPU that is not in the catalogue: two 256-bit
# FMA units (8 lanes x 2 FLOPs x 2 units) with AVX2+FMA, half that without. An AVX-512
# part counts 64 only where the engine knows its FMA units are 512 bits wide (its name
# matches one of the engine's FMA-width facts: Xeon Scalable Gold 6000/Platinum, Zen 5);
# others (Zen 4 runs 512-bit ops as two 256-bit halves) count 32, so the figure is a
# floor, stated as an assumption on every answer.
FLOPS_PER_CYCLE_AVX2 = fp32_flops_per_cycle(256)
FLOPS_PER_CYCLE_SSE = FLOPS_PER_CYCLE_AVX2 // 2
_VENDOR_WORDS = {
    "nvidia",
    "geforce",
    "amd",
    "radeon",
    "intel",
    "ati",
    "graphics",
    "processor",
    "cpu",
    "r",
    "tm",
    "used",
    "apple",
    "with",
    "w",
}


@dataclass
class Rig:
    """The machine and how it was described: ``hardware`` rows (kind, slug, name, count;
    slug empty for custom specs), ``owned`` catalogue ``(slug, count)`` pairs, ``notes``
    (assumptions and what the paste said), ``tools`` recognised in a paste."""

    machine: Machine
    hardware: list[dict[str, Any]] = field(default_factory=list)
    owned: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return ", ".join(
            f"{h['count']} × {h['name']}" if h["kind"] == "gpu" else h["name"]
            for h in self.hardware
        )

    @property
    def params(self) -> list[tuple[str, str]]:
        """The same machine as :class:`RigForm` parameters (catalogue slugs, custom specs,
        RAM): a short link that says what a paste said."""
        machine = self.machine
        if any(h["kind"] not in ("gpu", "cpu", "system", "memory") for h in self.hardware):
            return [("parts", ",".join(f"{s}:{n}" for s, n in self.owned))]
        out: list[tuple[str, str]] = []
        gpu_rows = [h for h in self.hardware if h["kind"] == "gpu"]
        gpus, customs = [], []
        for row, group in zip(gpu_rows, machine.gpus, strict=False):
            if row["slug"]:
                gpus.append(f"{row['slug']}:{group.count}")
            else:
                g = group.gpu
                customs.append(
                    f"vram_gb={g.vram_gb:g},bandwidth_gbs={g.bandwidth_gbs:g},"
                    f"fp16_tflops={g.fp16_tflops:g},tdp_w={g.tdp_w:g}:{group.count}"
                )
        if gpus:
            out.append(("gpu", ",".join(gpus)))
        if customs:
            out.append(("custom_gpu", ";".join(customs)))
        system = next((h for h in self.hardware if h["kind"] == "system"), None)
        if system is not None and system["slug"]:
            out.append(("system", system["slug"]))
        elif system is not None and machine.unified is not None:
            u = machine.unified
            out.append(
                (
                    "custom_system",
                    f"vendor={u.vendor},memory_gb={u.memory_gb:g},"
                    f"bandwidth_gbs={u.bandwidth_gbs:g},fp16_tflops={u.gpu_fp16_tflops:g},"
                    f"usable={u.usable_memory_fraction:g},tdp_w={u.tdp_w:g}",
                )
            )
        cpu_row = next((h for h in self.hardware if h["kind"] == "cpu"), None)
        cpu = machine.cpu
        if cpu_row is not None and cpu is not None:
            if cpu_row["slug"]:
                out.append(("cpu", f"{cpu_row['slug']}:{cpu.sockets}"))
            else:
                out.append(
                    (
                        "custom_cpu",
                        f"cores={cpu.cores_per_socket},channels={cpu.memory_channels},"
                        f"mts={cpu.memory_mts:g},gflops={cpu.fp32_gflops_per_socket:g},"
                        f"sockets={cpu.sockets},memory={cpu.memory_type},"
                        f"tdp_w={cpu.tdp_w_per_socket:g}",
                    )
                )
            out += [
                ("ram_gb", f"{cpu.ram_gb:g}"),
                ("ram_channels", str(cpu.memory_channels)),
                ("ram_mts", f"{cpu.memory_mts:g}"),
            ]
        return out


def _tokens(text: str) -> list[str]:
    text = re.sub(r"\d+-core\b", " ", text, flags=re.I)
    text = re.sub(r"@.*$", " ", text)
    text = text.replace("+", "plus ")
    return [t for t in re.split(r"[^a-z0-9]+", text.lower()) if t and t not in _VENDOR_WORDS]


def _model_tokens(tokens: list[str]) -> list[str]:
    """Tokens that name the model (carry a digit), without memory sizes."""
    return [t for t in tokens if re.search(r"\d", t) and not re.fullmatch(r"\d+gb", t)]


def _best(name: str, parts: list[Any], fits: Any = None) -> Any:
    """The part whose name holds every model token of ``name`` with the fewest other
    words; new before used; None when nothing holds them all."""
    wanted = _tokens(name)
    needed = set(_model_tokens(wanted))
    if not needed:
        return None  # "AMD EPYC" (a VM's name) names no model: it matches nothing
    scored = []
    for part in parts:
        have = set(_tokens(f"{part.brand} {part.name}"))
        if not needed <= have or (fits is not None and not fits(part)):
            continue
        extra = len(set(_model_tokens(list(have))) - set(wanted)) * 10 + len(have - set(wanted))
        scored.append((extra, part.used, part.slug, part))
    return min(scored)[3] if scored else None


def match_gpu(seen: pasted.SeenGpu, parts: list[GpuPart]) -> GpuPart | None:
    """The catalogue GPU a tool's name (and memory, when printed) describes."""

    def same_memory(part: GpuPart) -> bool:
        if seen.memory_mib is None:
            return True
        return abs(part.vram_gb * 1024 - seen.memory_mib) <= 0.08 * part.vram_gb * 1024

    return _best(seen.name, parts, same_memory)


def match_cpu(name: str, parts: list[CpuPart]) -> CpuPart | None:
    return _best(name, parts)


def match_system(seen: pasted.SeenMac, parts: list[SystemPart]) -> tuple[SystemPart | None, str]:
    """A complete system with this chip and memory; else None and what the catalogue has."""
    chip = [t for t in _tokens(seen.chip)]
    same_chip = [p for p in parts if set(chip) <= set(_tokens(p.name))]
    exact = [p for p in same_chip if seen.memory_gb is None or p.memory_gb == seen.memory_gb]
    if exact:
        return sorted(exact, key=lambda p: (p.used, p.slug))[0], ""
    if same_chip:
        sizes = ", ".join(sorted({f"{p.memory_gb:g} GB" for p in same_chip}))
        return None, (
            f"{seen.chip} with {seen.memory_gb:g} GB is not in the catalogue (it has the "
            f"{seen.chip} with {sizes}); pick the nearest system or give custom_system "
            "vendor=apple,memory_gb=…,bandwidth_gbs=…,fp16_tflops=…."
        )
    return None, (
        f"{seen.chip} is not in the catalogue's complete systems; pick the nearest "
        "system (see the list) or give custom_system vendor=apple,memory_gb=…,"
        "bandwidth_gbs=…,fp16_tflops=…."
    )


class RigForm(forms.Form):
    """The hardware parameters of ``manage.py estimate`` plus ``paste`` and
    ``custom_cpu``. ``rig`` holds the resolved :class:`Rig` once valid."""

    HELP = {
        "paste": "Output of nvidia-smi, rocm-smi --showproductname, lscpu, free -g, "
        "dmidecode -t memory or system_profiler SPHardwareDataType (several together), "
        "or what scripts/describe_rig.py prints.",
        "custom_cpu": "A CPU not in the catalogue, as manage.py estimate takes it: "
        "cores=N,channels=C,mts=M,gflops=G[,sockets=S][,memory=DDR4|DDR5][,ram_gb=R]"
        "[,ccds=N][,tdp_w=W] (gflops: peak FP32 per socket); RAM from ram_gb= or the ram_gb "
        "field.",
    }

    gpu = EstimateForm.base_fields["gpu"]
    cpu = EstimateForm.base_fields["cpu"]
    ram_gb = EstimateForm.base_fields["ram_gb"]
    ram_mts = EstimateForm.base_fields["ram_mts"]
    ram_channels = EstimateForm.base_fields["ram_channels"]
    system = EstimateForm.base_fields["system"]
    custom_gpu = EstimateForm.base_fields["custom_gpu"]
    custom_cpu = forms.CharField(required=False, max_length=300, help_text=HELP["custom_cpu"])
    custom_system = EstimateForm.base_fields["custom_system"]
    parts = forms.CharField(
        required=False,
        max_length=2000,
        help_text="A whole build by catalogue slugs, SLUG:QTY,... (as build pages link it).",
    )
    paste = forms.CharField(
        required=False,
        max_length=MAX_PASTE_CHARS,
        help_text=HELP["paste"],
        error_messages={
            "max_length": f"paste must be at most {MAX_PASTE_CHARS:,} characters "
            "(got %(show_value)s)."
        },
    )

    HARDWARE = (
        "parts",
        "gpu",
        "cpu",
        "ram_gb",
        "ram_mts",
        "ram_channels",
        "system",
        "custom_gpu",
        "custom_cpu",
        "custom_system",
        "paste",
    )
    REPEATABLE = EstimateForm.REPEATABLE

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(join_repeated(data, self.REPEATABLE), *args, **kwargs)
        self.rig: Rig | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.rig = build_rig(data)
        except RigError as exc:
            for name, message in exc.errors:
                self.add_error(name if name in self.fields else None, message)
        return data


class RigError(ValueError):
    """Problems as ``(field, message)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(m for _, m in errors))
        self.errors = errors


def build_rig(data: dict[str, Any]) -> Rig:
    """A :class:`Rig` from cleaned :class:`RigForm` data; :class:`RigError` otherwise."""
    if data.get("parts"):
        return _rig_of_parts(data["parts"])
    errors: list[tuple[str, str]] = []
    rig_notes: list[str] = []
    hardware: list[dict[str, Any]] = []
    owned: list[tuple[str, int]] = []
    try:
        seen = pasted.parse(data.get("paste") or "")
    except (ValueError, OverflowError):  # e.g. a 5,000-digit "size" past int()'s limit
        seen = pasted.Pasted()
        errors.append(("paste", "paste: holds a number no such tool prints (far too long)."))
    if data.get("paste") and seen.empty and not errors:
        errors.append(
            (
                "paste",
                "paste: no nvidia-smi, rocm-smi, lscpu, free, dmidecode or system_profiler "
                "output recognised.",
            )
        )
    rig_notes.extend(seen.notes)
    snapshot = adapters.catalogue()
    gpu_parts = [p for p in snapshot.of("gpu") if isinstance(p, GpuPart)]
    gpus: list[tuple[EngineGpu, int]] = []

    for chunk in [c for c in (data.get("gpu") or "").split(",") if c.strip()]:
        name, count = _name_count("gpu", chunk, 64)
        if count is None:
            errors.append(("gpu", f"gpu {chunk!r}: the count after ':' must be 1–64."))
            continue
        part = _catalogue_part("gpu", name, snapshot, errors)
        if isinstance(part, GpuPart):
            gpus.append((part.engine_gpu, count))
            hardware.append({"kind": "gpu", "slug": part.slug, "name": part.label, "count": count})
            owned.append((part.slug, count))
    for chunk in [c for c in (data.get("custom_gpu") or "").split(";") if c.strip()]:
        try:
            gpu, count = _custom_gpu(chunk)
        except ValueError as exc:
            errors.append(("custom_gpu", str(exc)))
            continue
        gpus.append((gpu, count))
        hardware.append({"kind": "gpu", "slug": "", "name": gpu.name, "count": count})
    if not data.get("gpu") and not data.get("custom_gpu") and seen.gpus:
        _pasted_gpus(seen, gpu_parts, gpus, hardware, owned, errors)

    unified = None
    custom_unified = None
    system_text = data.get("system") or ""
    if data.get("custom_system"):
        try:
            custom_unified = options.custom_system(data["custom_system"])
        except ValueError as exc:
            errors.append(("custom_system", str(exc)))
        if system_text:
            errors.append(
                ("custom_system", "custom_system: give system or custom_system, not both.")
            )
    if system_text:
        part = _catalogue_part("system", system_text, snapshot, errors)
        if isinstance(part, SystemPart):
            unified = part
    elif seen.mac is not None and not gpus:
        systems = [p for p in snapshot.of("system") if isinstance(p, SystemPart)]
        unified, message = match_system(seen.mac, systems)
        if unified is None:
            errors.append(("paste", f"paste: {message}"))
        else:
            rig_notes.append(f"system_profiler: {seen.mac.chip}, {seen.mac.memory_gb:g} GB.")
    if unified is not None:
        hardware.append({"kind": "system", "slug": unified.slug, "name": unified.label, "count": 1})
        owned.append((unified.slug, 1))
    elif custom_unified is not None:
        hardware.append({"kind": "system", "slug": "", "name": custom_unified.name, "count": 1})

    cpu_system = _cpu(data, seen, snapshot, hardware, owned, errors, rig_notes)
    has_system = unified is not None or custom_unified is not None
    if has_system and (gpus or cpu_system is not None):
        errors.append(
            (
                "system",
                "system: a complete system already has its CPU and GPU; leave gpu and cpu empty.",
            )
        )
    if not errors and not gpus and cpu_system is None and not has_system:
        errors.append(
            (
                "gpu",
                "gpu, cpu, system, custom_gpu, custom_cpu, custom_system or paste: describe at "
                "least one GPU, a CPU with its RAM, or a complete system.",
            )
        )
    if errors:
        raise RigError(errors)
    if gpus and cpu_system is None:
        rig_notes.append(
            "No CPU and RAM given: a model must fit in the GPUs' memory (nothing is "
            "offloaded to system RAM)."
        )
    try:
        if unified is not None:
            machine = Machine(unified=unified.engine_system, name=unified.label)
        elif custom_unified is not None:
            machine = Machine(unified=custom_unified, name=custom_unified.name)
        else:
            machine = Machine(gpus=tuple(gpus), cpu=cpu_system)
    except ValueError as exc:
        raise RigError([("gpu", str(exc))]) from None
    return Rig(machine, hardware, owned, rig_notes, seen.tools)


def _catalogue_part(kind: str, text: str, snapshot: Any, errors: list) -> Any:
    try:
        row = resolve_parts(text, kind)
    except forms.ValidationError as exc:
        errors.append((kind, " ".join(exc.messages)))
        return None
    part = snapshot.get(row.slug)
    if part is None:
        errors.append((kind, f"{kind} {row.slug} lacks the specs an estimate needs."))
    return part


def _pasted_gpus(seen, gpu_parts, gpus, hardware, owned, errors) -> None:
    counts: dict[str, int] = {}
    found: dict[str, GpuPart] = {}
    for gpu in seen.gpus:
        if gpu.truncated:
            errors.append(
                (
                    "paste",
                    f"paste: {gpu.source} printed {gpu.name!r}, not the full name; run "
                    "nvidia-smi --query-gpu=name,memory.total --format=csv (or "
                    "rocm-smi --showproductname --csv) and paste that, or pick the GPU by name.",
                )
            )
            continue
        part = match_gpu(gpu, gpu_parts)
        if part is None:
            memory = f" with {gpu.memory_mib / 1024:.0f} GB" if gpu.memory_mib else ""
            errors.append(
                (
                    "paste",
                    f"paste: {gpu.name}{memory} is not in the catalogue; give its specs as "
                    "custom_gpu vram_gb=V,bandwidth_gbs=B,fp16_tflops=F.",
                )
            )
            continue
        counts[part.slug] = counts.get(part.slug, 0) + 1
        found[part.slug] = part
    for slug, count in counts.items():
        part = found[slug]
        gpus.append((part.engine_gpu, count))
        hardware.append({"kind": "gpu", "slug": slug, "name": part.label, "count": count})
        owned.append((slug, count))


def _cpu(data, seen, snapshot, hardware, owned, errors, rig_notes) -> CpuSystem | None:
    cpu_text = data.get("cpu") or ""
    custom = data.get("custom_cpu") or ""
    ram = seen.ram
    ram_gb = data.get("ram_gb") or (ram.total_gb if ram else None)
    if not cpu_text and not custom and seen.cpu is None:
        if data.get("ram_gb") and not seen.mac:
            errors.append(("cpu", "cpu: ram_gb needs a cpu (or custom_cpu) to attach to."))
        return None
    if custom:
        if cpu_text:
            errors.append(("custom_cpu", "custom_cpu: give cpu or custom_cpu, not both."))
            return None
        try:
            spec = options.custom_cpu(_estimate_cpu_keys(custom))
        except ValueError as exc:
            errors.append(("custom_cpu", str(exc)))
            return None
        return _custom_cpu_system(spec, custom, data, ram_gb, hardware, errors)
    else:
        sockets = 1
        part = None
        if cpu_text:
            name_text, sockets_given = _name_count("cpu", cpu_text, 8)
            if sockets_given is None:
                errors.append(("cpu", "cpu: the socket count after ':' must be 1–8."))
                return None
            sockets = sockets_given
            part = _catalogue_part("cpu", name_text, snapshot, errors)
        else:
            cpus = [p for p in snapshot.of("cpu") if isinstance(p, CpuPart)]
            part = match_cpu(seen.cpu.name, cpus)
            sockets = seen.cpu.sockets
            if part is None:
                return _lscpu_cpu(seen, ram_gb, data, hardware, errors, rig_notes)
        if not isinstance(part, CpuPart):
            return None
        if sockets > part.max_sockets:
            errors.append(("cpu", f"cpu {part.slug} runs in at most {part.max_sockets} socket(s)."))
            return None
        name, cores, gflops, tdp = part.name, part.cores, part.gflops, part.power_w
        memory_type = part.memory_type
        all_channels = part.memory_channels * sockets
        channels = data.get("ram_channels") or (ram.channels if ram and ram.channels else None)
        if channels is None:
            channels = all_channels
            rig_notes.append(
                f"Memory channels not given: all {all_channels} of the {part.name}'s channels "
                "taken as populated (paste dmidecode -t memory to read them)."
            )
        channels = min(channels, all_channels)
        mts = data.get("ram_mts") or (ram.speed_mts if ram and ram.speed_mts else None)
        if mts is None:
            mts = part.max_memory_mts or 4800
            rig_notes.append(f"RAM speed not given: the CPU's rated {mts} MT/s taken.")
        hardware.append({"kind": "cpu", "slug": part.slug, "name": part.label, "count": sockets})
        owned.append((part.slug, sockets))
    if ram_gb is None:
        errors.append(
            ("ram_gb", "ram_gb: give the installed RAM in GB (1–65536), or paste free -g.")
        )
        return None
    hardware.append(
        {
            "kind": "memory",
            "slug": "",
            "name": f"{ram_gb:g} GB RAM, {channels} channel(s) at {mts} MT/s",
            "count": 1,
        }
    )
    try:
        return CpuSystem(
            name=name,
            sockets=sockets,
            cores_per_socket=cores,
            memory_channels=int(channels),
            memory_mts=float(mts),
            ram_gb=float(ram_gb),
            fp32_gflops_per_socket=float(gflops),
            tdp_w_per_socket=float(tdp),
            memory_type=memory_type if memory_type in ("DDR4", "DDR5") else "DDR5",
        )
    except ValueError as exc:
        errors.append(("cpu", f"cpu: {exc}"))
        return None


def _lscpu_cpu(seen, ram_gb, data, hardware, errors, rig_notes) -> CpuSystem | None:
    """A CPU lscpu describes but the catalogue lacks: cores and clock from lscpu, memory
    from dmidecode (or the parameters); otherwise say what is missing."""
    cpu, ram = seen.cpu, seen.ram
    channels = data.get("ram_channels") or (ram.channels if ram else None)
    mts = data.get("ram_mts") or (ram.speed_mts if ram else None)
    missing = []
    if not cpu.cores_per_socket:
        missing.append("cores")
    if not cpu.max_mhz:
        missing.append("clock (CPU max MHz)")
    if not channels:
        missing.append("memory channels (ram_channels or dmidecode -t memory)")
    if not mts:
        missing.append("memory speed (ram_mts or dmidecode -t memory)")
    if ram_gb is None:
        missing.append("installed RAM (ram_gb or free -g)")
    if missing:
        errors.append(
            (
                "paste",
                f"paste: {cpu.name} is not in the catalogue and the paste lacks its "
                + ", ".join(missing)
                + "; add them or give custom_cpu.",
            )
        )
        return None
    per_cycle = FLOPS_PER_CYCLE_AVX2 if {"avx2", "fma"} <= set(cpu.flags) else FLOPS_PER_CYCLE_SSE
    if "avx512f" in cpu.flags:
        per_cycle = max(per_cycle, fp32_flops_per_cycle(fma_width_bits_for_name(cpu.name)))
    gflops = cpu.cores_per_socket * cpu.max_mhz / 1000 * per_cycle
    rig_notes.append(
        f"{cpu.name} is not in the catalogue: peak FP32 taken as {cpu.cores_per_socket} cores × "
        f"{cpu.max_mhz / 1000:.2f} GHz × {per_cycle} FLOPs/cycle = {gflops:,.0f} GFLOP/s per "
        "socket."
    )
    memory_type = ram.memory_type if ram and ram.memory_type in ("DDR4", "DDR5") else "DDR5"
    hardware.append({"kind": "cpu", "slug": "", "name": cpu.name, "count": cpu.sockets})
    hardware.append(
        {
            "kind": "memory",
            "slug": "",
            "name": f"{ram_gb:g} GB RAM, {channels} channel(s) at {mts} MT/s",
            "count": 1,
        }
    )
    return CpuSystem(
        name=cpu.name,
        sockets=cpu.sockets,
        cores_per_socket=cpu.cores_per_socket,
        memory_channels=int(channels),
        memory_mts=float(mts),
        ram_gb=float(ram_gb),
        fp32_gflops_per_socket=gflops,
        memory_type=memory_type,
    )


def _custom_cpu_system(spec, text, data, ram_gb, hardware, errors) -> CpuSystem | None:
    """The estimate's custom CPU with the rig's RAM: the ram_gb field, else ram_gb= in
    the spec, else free -g from a paste."""
    if not data.get("ram_gb") and re.search(r"(^|,)\s*ram_gb\s*=", text):
        ram_gb = spec.ram_gb
    if ram_gb is None:
        errors.append(
            (
                "ram_gb",
                "ram_gb: give the installed RAM in GB (1–65536), as ram_gb or ram_gb= in "
                "custom_cpu, or paste free -g.",
            )
        )
        return None
    hardware.append({"kind": "cpu", "slug": "", "name": spec.name, "count": spec.sockets})
    hardware.append(
        {
            "kind": "memory",
            "slug": "",
            "name": f"{ram_gb:g} GB RAM, {spec.memory_channels} channel(s) at "
            f"{spec.memory_mts:g} MT/s",
            "count": 1,
        }
    )
    try:
        return replace(spec, ram_gb=float(ram_gb))
    except ValueError as exc:
        errors.append(("custom_cpu", f"custom_cpu: {exc}"))
        return None


# Keys the rig's custom_cpu took before it shared the estimate's syntax (links keep them).
_OLD_CPU_KEYS = {"fp32_gflops": "gflops", "memory_type": "memory"}


def _estimate_cpu_keys(text: str) -> str:
    """``text`` with the older rig keys renamed to the estimate's."""
    pairs = []
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        key = _OLD_CPU_KEYS.get(key.strip().lower(), key.strip())
        pairs.append(f"{key}{sep}{value}")
    return ",".join(pairs)


def _rig_of_parts(text: str) -> Rig:
    """A whole catalogue build (``SLUG:QTY,...``) as the build generator sees it."""
    from configurator.engine.builds import parse_parts_param
    from configurator.engine.builds.assembly import machine_for

    snapshot = adapters.catalogue()
    try:
        pairs = parse_parts_param(text)
    except ValueError as exc:
        raise RigError([("parts", str(exc))]) from None
    unknown = [slug for slug, _ in pairs if snapshot.get(slug) is None]
    if unknown:
        raise RigError([("parts", "parts: unknown part slug(s): " + ", ".join(unknown))])
    items = [(snapshot.get(slug), qty) for slug, qty in pairs]
    try:
        machine = machine_for(items)
    except ValueError as exc:
        raise RigError([("parts", str(exc))]) from None
    hardware = [
        {"kind": part.kind, "slug": part.slug, "name": part.label, "count": qty}
        for part, qty in items
        if part.kind in ("gpu", "cpu", "system", "memory")
    ]
    return Rig(machine, hardware, list(pairs), [], [])
