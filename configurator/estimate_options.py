"""The estimate's "more options": expert offload, backend, threads, a custom CPU system,
a custom unified-memory system, speculative decoding and the fine-tuning framework.

Parsers here turn the text a user types (in the wizard, ``manage.py estimate`` or
``/api/estimate``) into engine inputs, and raise ``ValueError`` whose message starts
with the field's name and lists what is allowed.
"""

from __future__ import annotations

from typing import Any

from configurator.engine import CpuSystem, UnifiedMemorySystem
from configurator.engine.devices import ccds_for_cpu_name
from configurator.engine.engines import BACKENDS, TRAINING_FRAMEWORKS
from configurator.engine.hardware import GPU_VENDORS, MEMORY_TYPES, UNIFIED_VENDORS
from configurator.engine.spec import SpecDecode

BACKEND_CHOICES = tuple(BACKENDS)
FRAMEWORK_CHOICES = tuple(TRAINING_FRAMEWORKS)

CUSTOM_CPU_KEYS = {
    "cores": "cores per socket",
    "channels": "memory channels over all sockets",
    "mts": "memory transfer rate, MT/s",
    "gflops": "peak FP32 GFLOP/s per socket",
    "sockets": "sockets (default 1)",
    "ram_gb": "installed RAM, GB (default 256)",
    "ccds": "core complexes (CCDs) per socket, on chiplet CPUs",
    "memory": "memory type: " + ", ".join(MEMORY_TYPES),
    "tdp_w": "rated power per socket, W (default 200)",
}
CUSTOM_SYSTEM_KEYS = {
    "vendor": "vendor: " + ", ".join(UNIFIED_VENDORS) + " (required)",
    "memory_gb": "memory, GB",
    "bandwidth_gbs": "memory bandwidth, GB/s",
    "fp16_tflops": "GPU FP16 TFLOP/s",
    "usable": "share of memory a model may use (default 0.75)",
    "tdp_w": "system power under load, W (default 150)",
}
HELP = {
    "expert_offload": "MoE only: keep the routed experts of N layers, or 'all', in system "
    "RAM with everything else on the GPUs (llama.cpp -ot exps=CPU / --n-cpu-moe N).",
    "backend": "Engine backend: " + ", ".join(BACKEND_CHOICES) + ". Default: the engine's "
    "own for the hardware (CUDA on NVIDIA, ROCm on AMD, Metal on Apple, SYCL on Intel).",
    "threads": "CPU threads (-t), 1–4096. Default: every core.",
    "custom_cpu": "A CPU system not in the catalogue: "
    + ",".join(f"{k}=…" for k in CUSTOM_CPU_KEYS)
    + " (cores, channels, mts and gflops required).",
    "custom_system": "A unified-memory system not in the catalogue: "
    + ",".join(f"{k}=…" for k in CUSTOM_SYSTEM_KEYS)
    + " (vendor, memory_gb, bandwidth_gbs and fp16_tflops required).",
    "spec_decode": "Speculative decoding: draft:<model>, mtp, eagle or ngram (mtp/eagle/ngram "
    "take :N drafted tokens, e.g. eagle:5).",
    "acceptance_rate": "Per-token acceptance rate of speculative decoding, 0–0.99. Default: "
    "the method's published figure (mtp 0.85, eagle 0.75, draft 0.65, ngram 0.3).",
    "framework": "Fine-tuning framework: " + ", ".join(FRAMEWORK_CHOICES) + ". Default peft.",
}


def _pairs(field: str, text: str, allowed: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in [p for p in str(text).split(",") if p.strip()]:
        key, sep, value = pair.partition("=")
        key = key.strip().lower()
        if not sep or key not in allowed:
            raise ValueError(
                f"{field} takes {', '.join(f'{k}=' for k in allowed)} (got {pair.strip()!r})."
            )
        values[key] = value.strip()
    return values


def _number(field: str, key: str, values: dict[str, str], default: float | None = None) -> float:
    if key not in values:
        if default is None:
            raise ValueError(f"{field}: {key}= is required.")
        return default
    try:
        return float(values[key])
    except ValueError:
        raise ValueError(f"{field}: {key} must be a number (got {values[key]!r}).") from None


def custom_cpu(text: str) -> CpuSystem:
    """A :class:`CpuSystem` from ``cores=…,channels=…,mts=…,gflops=…[,…]``."""
    values = _pairs("custom_cpu", text, CUSTOM_CPU_KEYS)
    memory = values.get("memory", "DDR5").upper()
    if memory not in MEMORY_TYPES:
        raise ValueError(f"custom_cpu: memory must be one of {', '.join(MEMORY_TYPES)}.")
    n = {k: _number("custom_cpu", k, values) for k in ("cores", "channels", "mts", "gflops")}
    ccds = values.get("ccds")
    try:
        return CpuSystem(
            name="custom CPU",
            sockets=int(_number("custom_cpu", "sockets", values, 1)),
            cores_per_socket=int(n["cores"]),
            memory_channels=int(n["channels"]),
            memory_mts=n["mts"],
            ram_gb=_number("custom_cpu", "ram_gb", values, 256),
            fp32_gflops_per_socket=n["gflops"],
            tdp_w_per_socket=_number("custom_cpu", "tdp_w", values, 200),
            memory_type=memory,
            ccds_per_socket=int(_number("custom_cpu", "ccds", values)) if ccds else None,
        )
    except ValueError as exc:
        raise ValueError(f"custom_cpu: {exc}") from None


def custom_system(text: str) -> UnifiedMemorySystem:
    """A :class:`UnifiedMemorySystem` from ``vendor=…,memory_gb=…,bandwidth_gbs=…,
    fp16_tflops=…[,usable=…][,tdp_w=…]``; the vendor must be stated."""
    values = _pairs("custom_system", text, CUSTOM_SYSTEM_KEYS)
    vendor = values.get("vendor", "").lower()
    if vendor not in UNIFIED_VENDORS:
        raise ValueError(f"custom_system: vendor must be one of {', '.join(UNIFIED_VENDORS)}.")
    try:
        return UnifiedMemorySystem(
            name=f"custom {vendor} unified-memory system",
            memory_gb=_number("custom_system", "memory_gb", values),
            bandwidth_gbs=_number("custom_system", "bandwidth_gbs", values),
            gpu_fp16_tflops=_number("custom_system", "fp16_tflops", values),
            usable_memory_fraction=_number("custom_system", "usable", values, 0.75),
            tdp_w=_number("custom_system", "tdp_w", values, 150),
            vendor=vendor,
        )
    except ValueError as exc:
        raise ValueError(f"custom_system: {exc}") from None


def gpu_vendor(text: str) -> str:
    """A custom GPU's vendor, checked."""
    vendor = str(text).strip().lower()
    if vendor not in GPU_VENDORS:
        raise ValueError(f"custom_gpu: vendor must be one of {', '.join(GPU_VENDORS)}.")
    return vendor


def expert_offload(text: Any) -> int | str | None:
    """``all``, a whole number of layers, or None for nothing given."""
    if text is None or str(text).strip() == "":
        return None
    raw = str(text).strip().lower()
    if raw == "all":
        return "all"
    if not raw.isdigit():
        raise ValueError(f"expert_offload must be a number of layers or 'all' (got {text!r}).")
    return int(raw)


def spec_decode(text: Any, acceptance_rate: float | None) -> SpecDecode | None:
    """The speculative-decoding setup, or None."""
    if text is None or str(text).strip() == "":
        if acceptance_rate is not None:
            raise ValueError("acceptance_rate needs spec_decode.")
        return None
    return SpecDecode.parse(str(text), acceptance_rate)


def ccds(name: str) -> int | None:
    """CCDs per socket of a catalogue CPU, where known."""
    return ccds_for_cpu_name(name)
