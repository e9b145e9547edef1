"""Turn the calibration rows into engine inputs.

Rows live in ``measurements.json`` (the first 178, schema v1 with v2 fields added) and in
every ``measurements/*.json`` file (schema v2, one list of rows per file; see
``measurements/README.md``). Metrics: ``decode`` and ``prefill`` (single stream, tokens/s),
``batched_decode`` (aggregate tokens/s of ``concurrency`` streams), ``power`` (W at the wall
or the GPU), ``train_tokens_per_s`` and ``train_peak_memory`` (GB) of fine-tuning runs, and
``spec_decode`` (tokens/s with speculative decoding; its baseline alongside).

Each row becomes a :class:`Measurement`: the machine, model, quant and workload it was
measured with, the layout it ran with (``-ngl``, ``--n-cpu-moe``, split) and the measured
tokens/s. Rows the engine cannot be given honestly (no bits per weight and no file
size, no memory bandwidth, no compute figure for a prefill or training-speed row) are
returned separately with the reason, never silently dropped. A fine-tuning peak-memory
row may name its GPU by VRAM alone: memory does not depend on bandwidth or compute.

Conversions, applied to every row alike:

- GeForce RTX cards are listed in the file with FP16 tensor throughput at FP32
  accumulate; the catalogue (what the engine sees in use) lists the FP16-accumulate rate,
  twice that, so those figures are doubled. Other cards run both at the same rate.
- A CPU's ``cores`` and ``fp32_gflops`` are totals over its sockets; the engine takes
  them per socket.
- Memory bandwidth: the stated figure, else channels × MT/s × 8, else the platform's
  ceiling, else the source's measured figure (which understates the peak).
- A device with no stated compute figure is treated as never compute-limited in decode;
  a prefill row on it is skipped.
- Unknown prompt or generation lengths are taken as 128 tokens; an unknown ``-ngl`` with
  a GPU present as 0 (llama.cpp's old default).
- Rows that ran are known to fit, so system RAM and unified memory are taken as ample
  (the nominal bits per weight of some rows would otherwise overstate their size),
  unless the row states the host's RAM (``hardware.cpu.ram_gb``): then what does not fit
  beside the OS is streamed from the drive, as llama.cpp's mmap does.
- A GPU's PCIe link (``pcie_gen``, ``pcie_lanes``) from the row, else 4.0 x16; it bounds
  prefill of host-held layers that llama.cpp multiplies on the GPU.
- A row with ``"exclude": "<reason>"`` is not used and is listed as skipped with that
  reason (setups that cannot be reconstructed from their source; SOURCES notes each).
- A GPU's vendor and memory type come from the row, else from its name
  (:data:`..devices.GPU_NAME_FACTS`); a CPU's CCDs from the row, else
  :data:`..devices.CPU_CCDS`.
- ``threads`` below the core count limit the cores that pull memory and compute.
- ``-rtr`` (ik_llama.cpp run-time repacking) and ``--no-op-offload`` keep the matmuls of
  host-held layers on the CPU during prefill.
- llama.cpp rows dated before its PR 15346 (2025-08-16) copy whole expert tensors of
  host-held layers during prefill, later ones only the experts in use.
- ``--no-mmap`` (``-mmp 0``) puts layers held in RAM in the GPU's pinned host buffer, so
  prefill copies them at the full PCIe rate; otherwise (memory-mapped, or, before
  llama.cpp PR 14990 of 2025-07-31, tensors overridden to the CPU by ``-ot`` or
  ``--n-cpu-moe``) the copies are pageable.
- ik_llama.cpp's ``-ser K,1`` (smart expert reduction) runs K routed experts per generated
  token.
- Two or more sockets count as interleaved (weights spread over every node) only when the
  row says so (``numactl --interleave``, ``--numa distribute``, or
  ``hardware.cpu.numa_interleave``); otherwise one node's channels serve all threads.
- A host's PCIe generation (``hardware.cpu.pcie_gen``) when the row states it.
- A CPU's integer-matrix instructions (``hardware.cpu.isa``: amx, avx512_vnni, avx512,
  avx2) from the row, else from its name (:data:`..devices.CPU_ISA_FACTS`).
- The drive a short-of-RAM host streams weights from (``hardware.storage``: ``name``,
  ``seq_read_mbs``), else an assumed NVMe drive.
- Power rows: ``value`` in W and ``power_scope`` ``wall`` (a meter at the socket: every
  device, the platform and the power supply's losses) or ``gpu`` (what ``nvidia-smi`` or
  ``amd-smi`` report, summed over the GPUs used). A GPU's ``tdp_w`` is its stock board
  power (defaults: GPU 300 W, CPU 200 W, unified system 150 W, so power rows state it);
  ``power_limit_w`` on a GPU is the lower limit its owner set (``nvidia-smi -pl``), which
  caps its draw. The phase is prefill when the test names prefill or starts with ``pp``,
  else decode.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import devices
from ..engines import EngineProfile, engine_profile, training_framework
from ..hardware import (
    CpuSystem,
    Gpu,
    GpuGroup,
    Machine,
    Storage,
    UnifiedMemorySystem,
    with_threads,
)
from ..memory import ModelParts, model_parts
from ..model import ModelArch
from ..placement import Placement, place
from ..quant import Quant
from ..workload import Workload
from . import Constants, default_constants

MEASUREMENTS_PATH = Path(__file__).with_name("measurements.json")
MEASUREMENTS_DIR = Path(__file__).with_name("measurements")
METRIC_UNITS = {
    "decode": "tokens/s",
    "prefill": "tokens/s",
    "batched_decode": "tokens/s",
    "power": "W",
    "train_tokens_per_s": "tokens/s",
    "train_peak_memory": "GB",
    "spec_decode": "tokens/s",
}
TRAINING_ENGINES = ("unsloth", "peft", "torchtune", "axolotl", "litgpt")
UNKNOWN_LENGTH_TOKENS = 128
# A device whose compute the source does not state is taken as never compute-limited in
# decode (prefill rows on such devices are skipped).
UNKNOWN_COMPUTE_TFLOPS = 10_000.0
# Bandwidth of a GPU known only by its VRAM size (fine-tuning peak-memory rows).
UNKNOWN_BANDWIDTH_GBS = 1_000.0
_GEFORCE = re.compile(r"^(NVIDIA )?(GeForce )?RTX \d{4}( ?(Ti|SUPER|D))*( \d+ ?GB)?$", re.I)
_MEMORY_TYPES = {"DDR3", "DDR4", "DDR5", "LPDDR4X", "LPDDR5", "LPDDR5X", "MRDIMM"}


@dataclass(frozen=True)
class Measurement:
    """One published measurement with the engine inputs that describe it."""

    id: str
    source_key: str
    category: str
    engine: EngineProfile
    metric: str
    tokens_per_s: float
    machine: Machine
    model: ModelArch
    quant: Quant
    workload: Workload
    gpu_layers: int | None
    cpu_moe_layers: int | None
    split: str | None
    placement: Placement
    parts: ModelParts
    date: str = ""
    source: str = ""
    backend: str = ""
    depth: int = 0
    test: str = ""
    framework: str = ""
    power_scope: str = ""
    spec: dict | None = None
    baseline_tokens_per_s: float | None = None

    @property
    def value(self) -> float:
        """The measured figure in its metric's unit (tokens/s, W or GB)."""
        return self.tokens_per_s

    @property
    def unit(self) -> str:
        """Unit of :attr:`value`."""
        return METRIC_UNITS[self.metric]

    @property
    def year(self) -> int:
        """Year the measurement was published."""
        return int(self.date[:4]) if self.date[:4].isdigit() else 0

    def describe(self) -> str:
        """Short text naming model, quant and hardware."""
        hardware = []
        for group in self.machine.gpus:
            hardware.append(f"{group.count}×{group.gpu.name}")
        if self.machine.cpu is not None:
            cpu = self.machine.cpu
            hardware.append(cpu.name if cpu.sockets == 1 else f"{cpu.sockets}×{cpu.name}")
        if self.machine.unified is not None:
            hardware.append(self.machine.unified.name)
        return f"{self.model.name} {self.quant.name} on {' + '.join(hardware)} ({self.engine.name})"


class SkipRow(Exception):
    """A row that cannot be turned into engine inputs; the message says why."""


def measurement_files() -> list[Path]:
    """``measurements.json`` and every ``measurements/*.json``, in a stable order."""
    files = [MEASUREMENTS_PATH]
    if MEASUREMENTS_DIR.is_dir():
        files += sorted(MEASUREMENTS_DIR.glob("*.json"))
    return files


def load_raw_rows(paths: list[Path] | None = None) -> list[dict[str, Any]]:
    """Every row of every measurement file, as stored."""
    rows: list[dict[str, Any]] = []
    for path in paths or measurement_files():
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
        if isinstance(data, dict):
            data = data.get("rows", [])
        rows.extend(data)
    return rows


def load_measurements(
    path: Path | list[Path] | None = None, constants: Constants | None = None
) -> tuple[list[Measurement], list[tuple[str, str]]]:
    """All usable rows, and (id, reason) for the rows that are not."""
    paths = [path] if isinstance(path, Path) else path
    raw = load_raw_rows(paths)
    constants = constants or default_constants()
    rows: list[Measurement] = []
    skipped: list[tuple[str, str]] = []
    for item in raw:
        if item.get("exclude"):
            # An explicit, reported exclusion: a row whose setup cannot be reconstructed
            # from its source (the reason is written in the row and listed as skipped).
            skipped.append((str(item.get("id")), f"excluded: {item['exclude']}"))
            continue
        try:
            rows.append(_measurement(item, constants))
        except SkipRow as reason:
            skipped.append((str(item.get("id")), str(reason)))
        except (ValueError, TypeError, KeyError) as error:
            skipped.append((str(item.get("id")), f"invalid row: {error}"))
    return rows, skipped


def _measurement(item: dict[str, Any], constants: Constants) -> Measurement:
    metric = item["metric"]
    if metric not in METRIC_UNITS:
        raise SkipRow(f"metric {metric!r} is not one of {', '.join(METRIC_UNITS)}")
    model = _model(item["model"])
    if metric != "prefill":
        # A prompt pass reads every expert anyway, and ik_llama.cpp's offload decision
        # uses the model's own expert count, so only token generation sees ``-ser``.
        model = _with_expert_reduction(model, (item.get("placement") or {}).get("flags"))
    quant = _quant(item["quant"], model)
    needs_compute = metric in ("prefill", "train_tokens_per_s")
    machine = _machine(
        item["hardware"],
        needs_compute,
        item.get("threads"),
        _interleaved(item),
        needs_bandwidth=metric != "train_peak_memory",
    )
    workload = _workload(item, metric)
    engine, framework = _row_engine(item, metric)
    layout = item.get("placement") or {}
    gpu_layers, cpu_moe, split = _layout(layout, machine, model)
    backend = item.get("backend")
    accelerator_backend = backend if backend in engine.backends and backend != "CPU" else None
    parts = model_parts(model, quant)
    placement = place(
        machine, model, quant, workload, engine, constants, split, gpu_layers, cpu_moe, parts,
        backend=accelerator_backend if (machine.gpus or machine.unified) else None,
    )  # fmt: skip
    value = _measured_value(item, metric)
    spec = item.get("spec") if metric == "spec_decode" else None
    return Measurement(
        id=str(item["id"]),
        source_key=str(item["source_key"]),
        category=str(item.get("category") or metric),
        engine=engine,
        metric=metric,
        tokens_per_s=float(value),
        machine=machine,
        model=model,
        quant=quant,
        workload=workload,
        gpu_layers=gpu_layers,
        cpu_moe_layers=cpu_moe,
        split=split,
        placement=placement,
        parts=parts,
        date=str(item.get("date") or ""),
        source=str(item.get("source") or ""),
        backend=str(backend or ""),
        depth=int(item.get("depth") or 0),
        test=str(item.get("test") or ""),
        framework=framework,
        power_scope=str(item.get("power_scope") or ""),
        spec=spec,
        baseline_tokens_per_s=(
            float(item["baseline_tokens_per_s"]) if item.get("baseline_tokens_per_s") else None
        ),
    )


def _row_engine(item: dict[str, Any], metric: str) -> tuple[EngineProfile, str]:
    """The engine as the row ran it (its flags, its date) and, for a fine-tuning row,
    the framework (the Transformers profile computes for every framework)."""
    name = str(item["engine"])
    flags = (item.get("placement") or {}).get("flags")
    framework = ""
    if metric.startswith("train_") or name.strip().lower() in TRAINING_ENGINES:
        framework = training_framework((item.get("training") or {}).get("framework") or name)
        engine = engine_profile("transformers")
    else:
        engine = _as_run(engine_profile(name), flags)
    date = str(item.get("date") or "")
    engine = _as_dated(engine, flags, date)
    return _with_quantized_gemm(engine, item.get("placement") or {}, date), framework


def _measured_value(item: dict[str, Any], metric: str) -> float:
    """The row's number: ``value`` for power and peak memory, else ``tokens_per_s``."""
    value = item.get("value") if metric in ("power", "train_peak_memory") else None
    value = value if value is not None else item.get("tokens_per_s")
    if not value:
        raise SkipRow("no measured value")
    return value


def _workload(item: dict[str, Any], metric: str) -> Workload:
    """The workload a row was measured with (unknown lengths 128 tokens)."""
    prompt = item.get("prompt_tokens")
    gen = item.get("gen_tokens")
    depth = int(item.get("depth") or 0)
    concurrency = int(item.get("concurrency") or item.get("batch") or 1)
    if metric.startswith("train_"):
        training = item.get("training") or {}
        method = str(training.get("method") or "lora").lower()
        seq_len = int(training.get("seq_len") or 2048)
        return Workload(
            context_tokens=seq_len,
            prompt_tokens=seq_len,
            gen_tokens=1,
            concurrent_sequences=int(training.get("micro_batch") or 1),
            mode=method if method in ("lora", "qlora", "full") else "lora",
            lora_rank=int(training.get("lora_rank") or 16),
            gradient_checkpointing=training.get("gradient_checkpointing"),
            activation_offloading=training.get("activation_offloading"),
        )
    if metric == "prefill":
        prompt_tokens = int(prompt) if prompt else UNKNOWN_LENGTH_TOKENS
        return Workload(
            context_tokens=depth + prompt_tokens + 1,
            prompt_tokens=prompt_tokens,
            gen_tokens=1,
        )
    prompt_tokens = max(int(prompt or 0) + depth, 1)
    gen_tokens = int(gen) if gen else UNKNOWN_LENGTH_TOKENS
    return Workload(
        context_tokens=prompt_tokens + gen_tokens,
        prompt_tokens=prompt_tokens,
        gen_tokens=gen_tokens,
        concurrent_sequences=concurrency if metric in ("batched_decode", "power") else 1,
    )


def _layout(
    layout: dict[str, Any], machine: Machine, model: ModelArch
) -> tuple[int | None, int | None, str | None]:
    """(-ngl, --n-cpu-moe, split) as run: all experts in RAM for ``expert_offload: all``."""
    gpu_layers = layout.get("gpu_layers")
    cpu_moe = layout.get("cpu_moe_layers")
    offload = layout.get("expert_offload")
    if offload == "all":
        cpu_moe = model.layers
    elif isinstance(offload, int) and cpu_moe is None:
        cpu_moe = offload
    split = layout.get("split") if machine.gpu_count > 1 else None
    if (layout.get("tensor_parallel") or 1) > 1 and machine.gpu_count > 1:
        split = "tensor"
    elif (layout.get("pipeline_parallel") or 1) > 1 and machine.gpu_count > 1:
        split = "layer"
    if split == "row":
        split = "tensor"
    if split not in (None, "layer", "tensor"):
        split = None
    if machine.gpus:
        gpu_layers = int(gpu_layers) if gpu_layers is not None else 0
    else:
        gpu_layers = None
    cpu_moe = min(int(cpu_moe), model.layers) if cpu_moe is not None else None
    return gpu_layers, cpu_moe, split


def _model(data: dict[str, Any]) -> ModelArch:
    fields = dict(data)
    if "experts" in fields and "experts_total" not in fields:
        fields["experts_total"] = fields.pop("experts")
    attention = str(fields.pop("attention", "") or "")
    rank = re.search(r"kv_lora_rank (\d+)", attention)
    rope = re.search(r"qk_rope_head_dim (\d+)", attention)
    if rank:
        fields["kv_lora_rank"] = int(rank.group(1))
        fields["qk_rope_head_dim"] = int(rope.group(1)) if rope else 0
    return ModelArch.from_dict(fields)


_NO_OP_OFFLOAD = re.compile(r"(?:^|\s)(?:--no-op-offload|-nopo)\b")


def _as_run(engine: EngineProfile, flags: object) -> EngineProfile:
    """``engine`` as the row ran it. ik_llama.cpp's ``-rtr`` repacks host-held tensors
    into CPU-only interleaved layouts, which the GPU cannot take (ik_llama.cpp PR 147;
    llama.cpp PR 12498 turns repacking off when a GPU is present for that reason), and
    llama.cpp's ``--no-op-offload`` forbids the copy: either way the CPU multiplies the
    layers it holds during prefill. A GPU server run with its eager flag
    (``--enforce-eager``) launches its kernels without CUDA graphs."""
    engine = engine.with_flags(flags)
    stays = engine.cpu_weights_repacked or _NO_OP_OFFLOAD.search(str(flags or ""))
    if engine.prefill_on_gpu_for_host_layers and stays:
        return replace(engine, prefill_on_gpu_for_host_layers=False)
    return engine


_NO_MMAP = re.compile(r"(?:^|\s)(?:--no-mmap|-nmm|(?:-mmp|--mmap)[ =]0)\b")
_CPU_OVERRIDE = re.compile(
    r"(?:^|\s)(?:-ot|--override-tensor|-ncmoe|--n-cpu-moe|-cmoe|--cpu-moe)\b"
)
# llama.cpp PR 15346 (merged 2025-08-16): prefill copies only the routed experts in use.
_ROUTED_COPIES_SINCE = "2025-08-16"
# llama.cpp PR 14990 (merged 2025-07-31): tensors overridden to the CPU may use the GPU's
# host buffer type too; before it they went to the plain CPU buffer.
_OVERRIDES_PINNED_SINCE = "2025-07-31"


def _as_dated(engine: EngineProfile, flags: object, date: str) -> EngineProfile:
    """``engine`` as it was on the row's ``date`` (unknown: as now) and run with
    ``flags``: before llama.cpp PR 15346 prefill copied whole expert tensors of host-held
    layers to the GPU; ``--no-mmap`` pins host-held weights."""
    if engine.copies_routed_experts_only and date and date < _ROUTED_COPIES_SINCE:
        engine = replace(engine, copies_routed_experts_only=False)
    return _with_pinned_host_weights(engine, flags, date)


# llama.cpp PR 8075 (described 2024-06-23; PR 8115 of 2024-06-25 documents it as merged):
# quantized prompt matrices use MMQ instead of FP16 cuBLAS by default on GPUs with int8
# tensor cores. Before it, and with GGML_CUDA_FORCE_CUBLAS, weights were dequantized and
# multiplied with cuBLAS.
_MMQ_DEFAULT_SINCE = "2024-06-24"
_FORCE_CUBLAS = re.compile(r"(?:GGML|LLAMA)_CUDA_FORCE_CUBLAS")
_FORCE_MMQ = re.compile(r"(?:GGML|LLAMA)_CUDA_FORCE_MMQ")


def _with_quantized_gemm(
    engine: EngineProfile, placement: dict[str, Any], date: str
) -> EngineProfile:
    """``engine`` with the quantized prefill kernels the row ran: the row's
    ``placement.quantized_gemm`` when it states one (A/B tables of kernel PRs name the
    build), else FP16 cuBLAS with ``*_CUDA_FORCE_CUBLAS`` or in builds dated before PR
    8075 without ``*_CUDA_FORCE_MMQ``, else the engine's own."""
    stated = placement.get("quantized_gemm")
    if stated:
        return replace(engine, quantized_gemm=str(stated))
    flags = str(placement.get("flags") or "")
    if _FORCE_CUBLAS.search(flags):
        return replace(engine, quantized_gemm="cublas")
    if date and date < _MMQ_DEFAULT_SINCE and not _FORCE_MMQ.search(flags):
        return replace(engine, quantized_gemm="cublas")
    return engine


def _with_pinned_host_weights(engine: EngineProfile, flags: object, date: str) -> EngineProfile:
    """``engine`` with its RAM-held weights in pinned memory when the run disabled mmap:
    llama.cpp's ``make_cpu_buft_list`` then puts them in the GPU's host buffer type, and
    since PR 14990 also those overridden to the CPU (``-ot``, ``--n-cpu-moe``)."""
    text = str(flags or "")
    if not engine.prefill_on_gpu_for_host_layers or not _NO_MMAP.search(text):
        return engine
    if _CPU_OVERRIDE.search(text) and date < _OVERRIDES_PINNED_SINCE:
        return engine
    return replace(engine, host_weights_pinned=True)


_SER = re.compile(r"(?:-ser|--smart-expert-reduction)[ =](\d+)")


def _with_expert_reduction(model: ModelArch, flags: object) -> ModelArch:
    """``model`` as run with ik_llama.cpp's smart expert reduction (``-ser K,1``): each
    token uses at most K routed experts, so K replaces experts_per_token and the active
    parameters drop by the dropped experts' share, (total − active) ÷ (E − k) per expert
    (billions)."""
    found = _SER.search(str(flags or ""))
    if not found or not model.is_moe:
        return model
    keep = int(found.group(1))
    k, total_experts = model.experts_per_token, model.experts_total
    if not 1 <= keep < k or total_experts <= k:
        return model
    per_expert = (model.total_params_b - model.active_params_b) / (total_experts - k)
    active = model.active_params_b - (k - keep) * per_expert
    return replace(model, experts_per_token=keep, active_params_b=active)


def _quant(data: dict[str, Any], model: ModelArch) -> Quant:
    bits = data.get("bits_per_weight")
    size_gib = data.get("model_size_gib")
    if size_gib:
        bits = float(size_gib) * 2**30 * 8 / (model.total_params_b * 1e9)
    if not bits:
        raise SkipRow("neither bits per weight nor file size is known")
    return Quant(name=str(data.get("name") or "unknown"), bits_per_weight=float(bits))


def _gpu(data: dict[str, Any], needs_compute: bool, needs_bandwidth: bool = True) -> Gpu:
    name = str(data["name"])
    bandwidth = data.get("bandwidth_gbs")
    if not bandwidth:
        if needs_bandwidth:
            raise SkipRow(f"GPU {name} has no memory bandwidth")
        # A peak-memory row never reads it (a card named only by its VRAM size).
        bandwidth = UNKNOWN_BANDWIDTH_GBS
    fp16 = data.get("fp16_tflops")
    fp32 = data.get("fp32_tflops") or 0.0
    if fp16 and _GEFORCE.match(name) and not data.get("fp16_tflops_fp16_accumulate"):
        fp16 = 2 * fp16
    if not fp16:
        if needs_compute:
            raise SkipRow(f"GPU {name} has no FP16 throughput")
        fp16 = fp32 or UNKNOWN_COMPUTE_TFLOPS
    if not fp32 and not data.get("fp16_tflops"):
        fp32 = UNKNOWN_COMPUTE_TFLOPS
    vendor, memory_type = devices.gpu_facts_from_name(name)
    return Gpu(
        name=name,
        vram_gb=float(data.get("vram_gb") or 24),
        bandwidth_gbs=float(bandwidth),
        fp16_tflops=float(fp16),
        fp32_tflops=float(fp32),
        tdp_w=float(data.get("tdp_w") or 300),
        vendor=str(data.get("vendor") or vendor).lower(),
        memory_type=str(data.get("memory_type") or memory_type),
        interconnect_bandwidth_gbs=float(data.get("interconnect_bandwidth_gbs") or 0),
        pcie_gen=int(data.get("pcie_gen") or 4),
        pcie_lanes=int(data.get("pcie_lanes") or 16),
        power_limit_w=float(data.get("power_limit_w") or 0),
        interconnect_group_size=int(data.get("interconnect_group_size") or 0),
        pcie_p2p=data.get("pcie_p2p"),
    )


def _cpu(data: dict[str, Any], needs_compute: bool) -> CpuSystem:
    name = str(data["name"])
    sockets = int(data.get("sockets") or 1)
    cores = int(data["cores"])
    channels = data.get("memory_channels")
    mts = data.get("memory_mts")
    rated = data.get("bandwidth_gbs")
    if not rated and channels and mts:
        rated = channels * mts * 8 / 1000
    rated = rated or data.get("platform_max_bandwidth_gbs") or data.get("measured_bandwidth_gbs")
    if not rated:
        raise SkipRow(f"CPU {name} has no memory bandwidth")
    gflops = data.get("fp32_gflops")
    if not gflops:
        if needs_compute:
            raise SkipRow(f"CPU {name} has no FP32 throughput")
        gflops = UNKNOWN_COMPUTE_TFLOPS * 50
    memory_type = str(data.get("memory_type") or "DDR5").upper()
    return CpuSystem(
        name=name,
        sockets=sockets,
        cores_per_socket=max(cores // sockets, 1),
        memory_channels=int(channels or 2),
        memory_mts=float(mts or 4800),
        ram_gb=float(data.get("ram_gb") or 4096.0),
        fp32_gflops_per_socket=float(gflops) / sockets,
        memory_type=memory_type if memory_type in _MEMORY_TYPES else "DDR5",
        rated_bandwidth_gbs=float(rated),
        ccds_per_socket=data.get("ccds") or devices.ccds_for_cpu_name(name),
        tdp_w_per_socket=float(data.get("tdp_w") or 200) / sockets,
        pcie_gen=int(data["pcie_gen"]) if data.get("pcie_gen") else None,
        isa=str(data["isa"]) if data.get("isa") else None,
    )


def _system(data: dict[str, Any], needs_compute: bool) -> UnifiedMemorySystem:
    name = str(data["name"])
    vendor = str(data.get("vendor") or devices.unified_vendor_from_name(name)).lower()
    fp16 = data.get("gpu_fp16_tflops") or data.get("fp16_tflops")
    if not fp16:
        if needs_compute:
            raise SkipRow(f"system {name} has no GPU FP16 throughput")
        fp16 = UNKNOWN_COMPUTE_TFLOPS
    if not data.get("bandwidth_gbs"):
        raise SkipRow(f"system {name} has no memory bandwidth")
    return UnifiedMemorySystem(
        name=name,
        memory_gb=4096.0,
        bandwidth_gbs=float(data["bandwidth_gbs"]),
        gpu_fp16_tflops=float(fp16),
        usable_memory_fraction=1.0,
        vendor=vendor,
        tdp_w=float(data.get("tdp_w") or 150),
    )


_INTERLEAVE = re.compile(r"interleave|--numa[ =]distribute", re.IGNORECASE)


def _interleaved(item: dict[str, Any]) -> bool:
    """Whether a multi-socket run spread its weights over every node: the row's
    ``hardware.cpu.numa_interleave`` if given, else whether its flags, test or notes
    name ``numactl --interleave`` or ``--numa distribute`` (without either, llama.cpp
    leaves the pages where they were first touched, on one node)."""
    cpu = (item.get("hardware") or {}).get("cpu") or {}
    if cpu.get("numa_interleave") is not None:
        return bool(cpu["numa_interleave"])
    layout = item.get("placement") or {}
    text = " ".join(
        str(x or "") for x in (layout.get("flags"), item.get("test"), item.get("notes"))
    )
    return bool(_INTERLEAVE.search(text))


def _machine(
    data: dict[str, Any],
    needs_compute: bool,
    threads: int | None = None,
    interleaved: bool = True,
    needs_bandwidth: bool = True,
) -> Machine:
    groups = tuple(
        GpuGroup(_gpu(g, needs_compute, needs_bandwidth), int(g.get("count") or 1))
        for g in data.get("gpus") or ()
    )
    cpu = _cpu(data["cpu"], needs_compute and not groups) if data.get("cpu") else None
    if cpu is not None and cpu.sockets > 1 and not interleaved:
        cpu = replace(cpu, numa_interleave=False)
    if cpu is not None and threads:
        cpu = with_threads(cpu, int(threads))
    system = _system(data["system"], needs_compute) if data.get("system") else None
    storage = _storage(data.get("storage"))
    if system is not None:
        return Machine(unified=system, storage=storage)
    return Machine(gpus=groups, cpu=cpu, storage=storage)


def _storage(data: dict[str, Any] | None) -> Storage | None:
    """The drive weights stream from when RAM is short (``hardware.storage``: name and
    rated sequential read in MB/s), None when the row does not state it."""
    if not data or not data.get("seq_read_mbs"):
        return None
    return Storage(str(data.get("name") or "drive"), float(data["seq_read_mbs"]))
