"""What an estimate returns."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class DeviceMemory:
    """Memory use of one device, decimal GB.

    ``weights_gb``: model weights held; ``kv_cache_gb``: KV cache; ``activations_gb``:
    saved activations (fine-tuning only); ``optimizer_gb``: trainable weights, gradients
    and optimizer state (fine-tuning only); ``overhead_gb``: runtime and compute buffers;
    ``total_gb`` their sum; ``capacity_gb``: what the engine may use; ``headroom_gb``:
    capacity minus total (negative when over). ``layers``: transformer blocks held.
    """

    device: str
    kind: str
    layers: float
    weights_gb: float
    kv_cache_gb: float
    overhead_gb: float
    total_gb: float
    capacity_gb: float
    headroom_gb: float
    activations_gb: float = 0.0
    optimizer_gb: float = 0.0

    @property
    def fits(self) -> bool:
        """True when the total is within capacity."""
        return self.headroom_gb >= -1e-9


@dataclass(frozen=True)
class TrainingReport:
    """Fine-tuning figures: ``trainable_params_b`` (billions), memory per GPU (decimal GB),
    whether activations are recomputed, and an uncalibrated compute-bound
    ``tokens_per_s`` (training tokens processed per second)."""

    mode: str
    trainable_params_b: float
    per_gpu_gb: float
    gpus: int
    gradient_checkpointing: bool
    tokens_per_s: float


@dataclass(frozen=True)
class Estimate:
    """The engine's answer for one machine, model, quant, workload and engine.

    Speeds are tokens per second: ``decode_tokens_per_s`` for one sequence at the
    prompt's depth, ``decode_tokens_per_s_full_context`` with the whole context filled,
    ``aggregate_tokens_per_s`` over ``concurrent_sequences`` sequences decoded together,
    ``prefill_tokens_per_s`` for the prompt. ``*_range`` are (low, high) bands from the
    validation error. ``time_to_first_token_s``: prefill plus one decode step, seconds.
    ``power_w``: average wall power while decoding, W. ``kwh_per_million_tokens``: energy
    for a million generated tokens at the aggregate rate. ``max_context_tokens``: the
    longest context (per sequence) that fits in memory with this layout (0 if the weights
    do not fit). ``missing_gb``: memory short of a fit (0 when it fits).
    ``required_gb``: what the job needs wherever it lives (weights once, KV cache for
    every sequence at full context, runtime and compute buffers; for fine-tuning the
    per-GPU need times the GPUs). ``decode_time_ms``: one single-stream decode step split
    into (label, milliseconds) for each device, GPU synchronisation and the fixed
    per-token overhead (with a layer split they add up to ``seconds_per_token``; with a
    tensor split the GPUs work side by side). ``backend``: the backend(s) computing.
    ``spec_decode``: speculative-decoding figures when asked for (method, drafted tokens,
    acceptance rate, tokens per cycle, ``decode_tokens_per_s``, ``speedup``).
    ``evidence``: up to five nearest published measurements (hardware, model, quant,
    engine, measured and predicted values, source link).
    """

    fits: bool
    reason: str
    missing_gb: float
    decode_tokens_per_s: float
    decode_range: tuple[float, float]
    decode_tokens_per_s_full_context: float
    aggregate_tokens_per_s: float
    concurrent_sequences: int
    prefill_tokens_per_s: float
    prefill_range: tuple[float, float]
    time_to_first_token_s: float
    memory: tuple[DeviceMemory, ...]
    placement: str
    split: str
    engine: str
    mode: str
    bottleneck: str
    power_w: float
    kwh_per_million_tokens: float
    max_context_tokens: int
    weights_gb: float
    kv_cache_gb: float
    required_gb: float
    assumptions: tuple[str, ...]
    training: TrainingReport | None = None
    decode_time_ms: tuple[tuple[str, float], ...] = ()
    backend: str = ""
    spec_decode: dict[str, Any] | None = None
    # What the evidence lookup needs; internal, not part of the JSON (``to_dict`` sends
    # ``evidence`` instead).
    evidence_query: tuple = field(default=(), repr=False, compare=False, metadata={"json": False})

    @property
    def evidence(self) -> tuple[dict[str, Any], ...]:
        """Up to five published measurements nearest this setup (looked up when asked
        for, so the build search does not pay for it)."""
        from .evidence import nearest_for

        return nearest_for(self.evidence_query) if self.evidence_query else ()

    @property
    def seconds_per_token(self) -> float:
        """Inverse of the single-stream decode rate, seconds."""
        return 1.0 / self.decode_tokens_per_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the command line's ``--json`` object)."""
        # Field by field (dataclasses.asdict deep-copies every value, the evidence query
        # included, only for most of them to be replaced below).
        data = {f.name: getattr(self, f.name) for f in _FIELDS if f.name != "evidence_query"}
        data["assumptions"] = list(self.assumptions)
        data["memory"] = [
            {f.name: _float(getattr(device, f.name)) for f in _DEVICE_FIELDS}
            for device in self.memory
        ]
        data["decode_range"] = [_number(v) for v in self.decode_range]
        data["prefill_range"] = [_number(v) for v in self.prefill_range]
        data["decode_time_ms"] = [
            {"part": label, "ms": _number(ms)} for label, ms in self.decode_time_ms
        ]
        if self.training is not None:
            data["training"] = {k: _float(v) for k, v in asdict(self.training).items()}
        if self.spec_decode is not None:
            data["spec_decode"] = {
                k: _number(v) if isinstance(v, float) else v for k, v in self.spec_decode.items()
            }
        data["evidence"] = [dict(item) for item in self.evidence]
        for key, value in list(data.items()):
            if isinstance(value, float):
                data[key] = _number(value)
        return data


_FIELDS = fields(Estimate)
_DEVICE_FIELDS = fields(DeviceMemory)


def _float(value: Any) -> Any:
    """A float as :func:`_number` gives it; anything else as it is."""
    return _number(value) if isinstance(value, float) else value


def _number(value: float) -> float | None:
    """Six significant digits for JSON; None for a non-finite value."""
    return float(f"{value:.6g}") if math.isfinite(value) else None
