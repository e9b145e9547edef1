"""Measured next to estimated: a pasted benchmark compared with the estimator on the same
rig, stored as a pending :class:`UserMeasurement`, and — once an admin approves it —
evidence on the rig page and calibration rows in the v2 schema."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from catalog.models import LlmModel
from configurator import adapters
from configurator.engine import Machine, Quant, Workload, estimate
from configurator.rig.bench import BenchRow
from configurator.rig.describe import Rig
from configurator.rig.models import UserMeasurement

ENGINE_OF_TOOL = {"llama-bench": "llama.cpp", "vllm bench": "vllm"}
V2_ENGINE = {"llama.cpp": "llama.cpp", "vllm": "vLLM"}
SOURCE_KEY = "rigrank-user"


def _estimate_for(machine: Machine, arch, quant: Quant, row: BenchRow, engine: str):
    context = max(4096, row.depth + row.prompt_tokens + row.gen_tokens + 1)
    context = min(context, arch.max_context or context)
    prompt = max(1, min(row.depth or row.prompt_tokens or 1, context))
    workload = Workload(
        context_tokens=context,
        prompt_tokens=prompt
        if row.metric != "prefill"
        else max(1, min(row.prompt_tokens, context)),
        gen_tokens=max(1, row.gen_tokens or 1),
        concurrent_sequences=max(1, row.concurrency),
    )
    return estimate(machine, arch, quant, workload, engine=engine)


def compare(rig: Rig, model: LlmModel, quant: Quant, rows: list[BenchRow]) -> list[dict[str, Any]]:
    """Each row with the estimate for the same test on this rig: ``estimated`` tokens/s
    and ``ratio`` measured / estimated (None when the engine cannot run it)."""
    arch = adapters.model_arch(model)
    out = []
    for row in rows:
        engine = ENGINE_OF_TOOL.get(row.tool, "llama.cpp")
        data = row.to_dict()
        data["estimated"] = None
        data["ratio"] = None
        data["estimate_note"] = ""
        try:
            est = _estimate_for(rig.machine, arch, quant, row, engine)
        except ValueError as exc:
            data["estimate_note"] = str(exc)
        else:
            value = {
                "decode": est.decode_tokens_per_s,
                "prefill": est.prefill_tokens_per_s,
                "batched_decode": est.aggregate_tokens_per_s,
            }[row.metric]
            data["estimated"] = value
            data["ratio"] = row.tokens_per_s / value if value else None
            data["placement"] = est.placement
            if not est.fits:
                data["estimate_note"] = est.reason
        out.append(data)
    return out


def submit(
    rig: Rig,
    hardware_query: str,
    model: LlmModel,
    quant: Quant,
    compared: list[dict[str, Any]],
    raw: str,
) -> tuple[UserMeasurement, bool]:
    """A pending measurement (created False when the same paste was already sent)."""
    fingerprint = UserMeasurement.fingerprint_of(hardware_query, model.slug, quant.name, raw)
    existing = UserMeasurement.objects.filter(fingerprint=fingerprint).first()
    if existing is not None:
        return existing, False
    machine = machine_dict(rig.machine)
    arch = model_dict(model)
    rows = [
        {**row, "machine": machine, "arch": arch, "bits_per_weight": quant.bits_per_weight}
        for row in compared
    ]
    try:
        with transaction.atomic():
            created = UserMeasurement.objects.create(
                model_slug=model.slug,
                model_name=model.name,
                quant=quant.name,
                tool=compared[0]["tool"] if compared else "",
                hardware=rig.hardware,
                hardware_query=hardware_query,
                rows=rows,
                raw=raw,
                fingerprint=fingerprint,
            )
    except IntegrityError:
        return UserMeasurement.objects.get(fingerprint=fingerprint), False
    return created, True


def evidence_for(rig: Rig, limit: int = 20) -> list[UserMeasurement]:
    """Approved measurements on hardware sharing a catalogue part with ``rig``'s GPUs
    (or its system, or its CPU when it has no GPU)."""
    kinds = {h["kind"] for h in rig.hardware}
    wanted = [
        h["slug"]
        for h in rig.hardware
        if h.get("slug")
        and (h["kind"] in ("gpu", "system") or (h["kind"] == "cpu" and "gpu" not in kinds))
    ]
    if not wanted:
        return []
    query = Q()
    for slug in wanted:
        query |= Q(hardware_query__icontains=slug) | Q(hardware__icontains=f'"{slug}"')
    approved = UserMeasurement.objects.filter(status=UserMeasurement.Status.APPROVED)
    return list(approved.filter(query)[:limit])


# Calibration rows (schema v2) -------------------------------------------------------------


def machine_dict(machine: Machine) -> dict[str, Any]:
    gpus = [
        {
            "name": g.gpu.name,
            "count": g.count,
            "vram_gb": g.gpu.vram_gb,
            "bandwidth_gbs": g.gpu.bandwidth_gbs,
            "fp16_tflops": g.gpu.fp16_tflops,
            "fp32_tflops": g.gpu.fp32_tflops or None,
            "vendor": {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel"}[g.gpu.vendor],
            "memory_type": g.gpu.memory_type or None,
        }
        for g in machine.gpus
    ]
    cpu = None
    if machine.cpu is not None:
        c = machine.cpu
        cpu = {
            "name": c.name,
            "cores": c.cores,
            "sockets": c.sockets,
            "memory_type": c.memory_type,
            "memory_channels": c.memory_channels,
            "memory_mts": c.memory_mts,
            "bandwidth_gbs": c.bandwidth_gbs,
            "fp32_gflops": c.fp32_gflops,
            "ram_gb": c.ram_gb,
        }
    system = None
    if machine.unified is not None:
        u = machine.unified
        system = {
            "name": u.name,
            "vendor": u.vendor.capitalize() if u.vendor != "amd" else "AMD",
            "memory_gb": u.memory_gb,
            "bandwidth_gbs": u.bandwidth_gbs,
            "fp16_tflops": u.gpu_fp16_tflops,
            "memory_type": None,
        }
    return {"gpus": gpus, "cpu": cpu, "system": system}


def model_dict(model: LlmModel) -> dict[str, Any]:
    arch = adapters.model_arch(model)
    data = {
        "name": model.name,
        "total_params_b": arch.total_params_b,
        "active_params_b": arch.active_params_b,
        "layers": arch.layers,
        "hidden_size": arch.hidden_size,
        "attention_heads": arch.attention_heads,
        "kv_heads": arch.kv_heads,
        "head_dim": arch.head_dim,
        "vocab_size": arch.vocab_size,
    }
    if model.experts_total:
        data["experts_total"] = model.experts_total
        data["experts_per_token"] = model.experts_per_token
    return data


def _backend(row: dict[str, Any], machine: dict[str, Any]) -> str | None:
    printed = (row.get("backend") or "").split(",")[0].strip()
    if printed in ("CUDA", "ROCm", "Vulkan", "Metal", "SYCL", "CPU", "MLX"):
        return printed
    if printed == "BLAS":
        return "CPU"
    return None


def v2_rows(measurement: UserMeasurement) -> list[dict[str, Any]]:
    """One calibration row per measured number, in the v2 schema."""
    out = []
    date = (measurement.reviewed_at or measurement.created_at).date().isoformat()
    for i, row in enumerate(measurement.rows, 1):
        machine = row.get("machine") or {}
        engine = ENGINE_OF_TOOL.get(row.get("tool", ""), "llama.cpp")
        placement: dict[str, Any] = {
            "gpu_layers": row.get("gpu_layers"),
            "split": "layer",
            "tensor_parallel": None,
            "pipeline_parallel": None,
            "expert_offload": None,
            "flags": row.get("flags") or None,
        }
        out.append(
            {
                "id": f"{SOURCE_KEY}-{measurement.pk}-{i}",
                "source": f"rigrank user measurement #{measurement.pk} (approved {date})",
                "source_key": f"{SOURCE_KEY}-{measurement.pk}",
                "category": "user",
                "date": measurement.created_at.date().isoformat(),
                "engine": V2_ENGINE[engine],
                "engine_version": row.get("engine_version") or None,
                "backend": _backend(row, machine),
                "test": row["test"],
                "depth": row.get("depth") or 0,
                "metric": row["metric"],
                "concurrency": row.get("concurrency") or 1,
                "tokens_per_s": row["tokens_per_s"],
                "prompt_tokens": row.get("prompt_tokens") or 0,
                "gen_tokens": row.get("gen_tokens") or 0,
                "batch": row.get("concurrency") or 1,
                "threads": row.get("threads"),
                "model": row.get("arch") or {"name": measurement.model_name},
                "quant": {
                    "name": measurement.quant,
                    "bits_per_weight": row.get("bits_per_weight"),
                    "model_size_gib": row.get("size_gib"),
                },
                "hardware": {
                    "gpus": machine.get("gpus") or [],
                    "cpu": machine.get("cpu"),
                    "system": machine.get("system"),
                },
                "placement": placement,
                "tags": ["user-submitted"],
                "notes": f"Pasted {row.get('tool')} output ({row.get('model_label') or 'model'}"
                f"); hardware as described on the rig page: {measurement.hardware_label}; specs "
                "from the catalogue's cited sources. Estimated at submission: "
                f"{row.get('estimated')}.",
            }
        )
    return out


def approved_calibration_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for m in UserMeasurement.objects.filter(status=UserMeasurement.Status.APPROVED).order_by("pk"):
        rows.extend(v2_rows(m))
    return rows


__all__ = ["compare", "evidence_for", "submit", "v2_rows"]
