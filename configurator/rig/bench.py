"""Read benchmark results a user pastes: ``llama-bench`` (its markdown table, ``-o json``,
``-o jsonl`` or ``-o csv``) and ``vllm bench serve --save-result`` JSON.

Pure Python. Each published number becomes one :class:`BenchRow` (a llama-bench line
with pp512 and tg128 gives two rows), as the calibration schema counts them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Any

MAX_ROWS = 200

# llama-bench prints the GGUF file type ("Q4_K - Medium"); the catalogue's names.
_FILE_TYPES = {
    "Q4_K - Medium": "Q4_K_M",
    "Q4_K - Small": "Q4_K_S",
    "Q5_K - Medium": "Q5_K_M",
    "Q5_K - Small": "Q5_K_S",
    "Q3_K - Small": "Q3_K_S",
    "Q3_K - Medium": "Q3_K_M",
    "Q3_K - Large": "Q3_K_L",
    "Q2_K - Medium": "Q2_K",
    "Q6_K": "Q6_K",
    "Q8_0": "Q8_0",
    "Q4_0": "Q4_0",
    "Q4_1": "Q4_1",
    "Q5_0": "Q5_0",
    "F16": "F16",
    "BF16": "BF16",
    "F32": "F32",
    "MXFP4 MoE": "MXFP4",
}


@dataclass
class BenchRow:
    """One measured number. ``metric``: decode, prefill or batched_decode;
    ``tokens_per_s`` as printed; ``test`` the test as printed (``pp512``, ``tg128 @
    d4096``, ``vllm bench serve --max-concurrency 16``)."""

    tool: str
    test: str
    metric: str
    tokens_per_s: float
    prompt_tokens: int = 0
    gen_tokens: int = 0
    depth: int = 0
    concurrency: int = 1
    model_label: str = ""
    quant: str = ""
    size_gib: float | None = None
    params_b: float | None = None
    backend: str = ""
    gpu_layers: int | None = None
    threads: int | None = None
    engine_version: str = ""
    gpu_info: str = ""
    cpu_info: str = ""
    flags: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quant_of_type(model_type: str) -> str:
    """The catalogue quant name in a llama-bench model type ("qwen2 7B Q4_K - Medium")."""
    for printed, name in sorted(_FILE_TYPES.items(), key=lambda kv: -len(kv[0])):
        if model_type.endswith(printed):
            return name
    m = re.search(r"\b(I?Q\d_[A-Z0-9_]+)\b", model_type)
    return m.group(1) if m else ""


def parse_bench(text: str) -> list[BenchRow]:
    """Every result in ``text``; ``ValueError`` starting ``bench:`` when none is found or
    a number in it is not one a benchmark prints (NaN, infinite, zero or negative speed)."""
    text = (text or "").strip()
    rows: list[BenchRow] = []
    for reader in (_vllm_json, _llama_json, _llama_jsonl, _llama_csv, _llama_markdown):
        try:
            rows = reader(text)
        except RecursionError:
            raise ValueError("bench: nested too deeply to be benchmark output.") from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            message = str(exc) if str(exc).startswith("bench:") else f"bench: {exc}"
            raise ValueError(message) from None
        if rows:
            break
    if not rows:
        raise ValueError(
            "bench: no llama-bench table, JSON or CSV, and no vllm bench JSON, recognised."
        )
    return [_checked(row) for row in rows[:MAX_ROWS]]


def _checked(row: BenchRow) -> BenchRow:
    """The row, its speed a positive finite number; unknown sizes where they are not."""
    speed = row.tokens_per_s
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(
            f"bench: {row.test} gives {speed} tokens/s; a result must be a positive number."
        )
    for name in ("size_gib", "params_b"):
        value = getattr(row, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            setattr(row, name, None)
    return row


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"bench: {name} is not a number a benchmark prints.")


def _loads(text: str) -> Any:
    """JSON without NaN or Infinity (llama-bench and vllm never print them)."""
    return json.loads(text, parse_constant=_refuse_constant)


def _test_of(n_prompt: int, n_gen: int, depth: int) -> tuple[str, str, int, int]:
    """(test as llama-bench prints it, metric, prompt tokens, generated tokens)."""
    suffix = f" @ d{depth}" if depth else ""
    if n_prompt and n_gen:
        return f"pp{n_prompt}+tg{n_gen}{suffix}", "mixed", n_prompt, n_gen
    if n_gen:
        return f"tg{n_gen}{suffix}", "decode", 0, n_gen
    return f"pp{n_prompt}{suffix}", "prefill", n_prompt, 0


def _llama_object(obj: dict[str, Any]) -> BenchRow | None:
    if "avg_ts" not in obj or "model_type" not in obj:
        return None
    n_prompt, n_gen = _int(obj.get("n_prompt")) or 0, _int(obj.get("n_gen")) or 0
    depth = _int(obj.get("n_depth")) or 0
    try:
        speed = float(obj["avg_ts"])
    except (TypeError, ValueError):
        return None
    test, metric, prompt, gen = _test_of(n_prompt, n_gen, depth)
    if metric == "mixed":
        return None
    size = obj.get("model_size")
    params = obj.get("model_n_params")
    flags = []
    if obj.get("n_gpu_layers") not in (None, ""):
        flags.append(f"-ngl {obj['n_gpu_layers']}")
    if str(obj.get("n_cpu_moe") or "0") != "0":
        flags.append(f"--n-cpu-moe {obj['n_cpu_moe']}")
    if obj.get("tensor_buft_overrides") not in (None, "", "none"):
        flags.append(f"-ot {obj['tensor_buft_overrides']}")
    if str(obj.get("flash_attn")) in ("1", "true", "True"):
        flags.append("-fa 1")
    build = obj.get("build_number") or obj.get("build_commit") or ""
    return BenchRow(
        tool="llama-bench",
        test=test,
        metric=metric,
        tokens_per_s=speed,
        prompt_tokens=prompt,
        gen_tokens=gen,
        depth=depth,
        model_label=str(obj["model_type"]),
        quant=quant_of_type(str(obj["model_type"])),
        size_gib=_number(size, 2**30),
        params_b=_number(params, 1e9),
        backend=str(obj.get("backends") or obj.get("backend") or ""),
        gpu_layers=_int(obj.get("n_gpu_layers")),
        threads=_int(obj.get("n_threads")),
        engine_version=f"b{build}" if str(build).isdigit() else str(build),
        gpu_info=str(obj.get("gpu_info") or ""),
        cpu_info=str(obj.get("cpu_info") or ""),
        flags=" ".join(flags),
    )


def _number(value: Any, unit: float) -> float | None:
    try:
        return float(value) / unit
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _llama_json(text: str) -> list[BenchRow]:
    if not text.startswith("["):
        return []
    try:
        data = _loads(text)
    except json.JSONDecodeError:
        return []
    rows = [_llama_object(o) for o in data if isinstance(o, dict)]
    return [r for r in rows if r is not None]


def _llama_jsonl(text: str) -> list[BenchRow]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = _loads(line)
        except json.JSONDecodeError:
            return []
        row = _llama_object(obj) if isinstance(obj, dict) else None
        if row is not None:
            rows.append(row)
    return rows


def _llama_csv(text: str) -> list[BenchRow]:
    start = text.find("build_commit,")
    if start < 0:
        return []
    table = list(csv.reader(io.StringIO(text[start:])))
    header, rows = table[0], []
    for values in table[1:]:
        if not values:
            continue
        fields = dict(zip(header, values, strict=False))
        if len(values) != len(header):
            # A row one field short (seen in published examples): the leading fields
            # line up from the left, the test and timing fields from the right.
            width = min(len(header), len(values))
            right = dict(zip(header[-width:], values[-width:], strict=True))
            fields.update({k: right[k] for k in _TRAILING if k in right})
        row = _llama_object(fields)
        if row is not None:
            rows.append(row)
    return rows


_TRAILING = ("n_prompt", "n_gen", "n_depth", "test_time", "avg_ns", "stddev_ns", "avg_ts")
_SIZE = re.compile(r"([\d.]+)\s*(GiB|MiB)")
_TS = re.compile(r"([\d.]+)\s*(?:±\s*[\d.]+)?")
_TEST = re.compile(r"^(pp|tg)\s*(\d+)(?:\s*@\s*d(\d+))?$")


def _llama_markdown(text: str) -> list[BenchRow]:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("|")]
    header: list[str] | None = None
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if "model" in cells and "test" in cells and "t/s" in cells:
            header = cells
            continue
        if header is None or set("".join(cells)) <= set("-: "):
            continue
        if len(cells) != len(header):
            continue
        row = dict(zip(header, cells, strict=True))
        test = _TEST.match(row["test"])
        speed = _TS.match(row["t/s"])
        if not test or not speed:
            continue
        kind, n, depth = test.group(1), int(test.group(2)), int(test.group(3) or 0)
        size = _SIZE.match(row.get("size", ""))
        params = re.match(r"([\d.]+)\s*B", row.get("params", ""))
        flags = []
        for col, flag in (("ngl", "-ngl"), ("fa", "-fa"), ("n_cpu_moe", "--n-cpu-moe")):
            if row.get(col):
                flags.append(f"{flag} {row[col]}")
        if row.get("ot"):
            flags.append(f"-ot {row['ot']}")
        rows.append(
            BenchRow(
                tool="llama-bench",
                test=row["test"],
                metric="prefill" if kind == "pp" else "decode",
                tokens_per_s=float(speed.group(1)),
                prompt_tokens=n if kind == "pp" else 0,
                gen_tokens=n if kind == "tg" else 0,
                depth=depth,
                model_label=row["model"],
                quant=quant_of_type(row["model"]),
                size_gib=(float(size.group(1)) / (1024 if size.group(2) == "MiB" else 1))
                if size
                else None,
                params_b=float(params.group(1)) if params else None,
                backend=row.get("backend", ""),
                gpu_layers=_int(row.get("ngl")),
                threads=_int(row.get("threads")),
                flags=" ".join(flags),
            )
        )
    return rows


def _vllm_json(text: str) -> list[BenchRow]:
    if not text.startswith("{"):
        return []
    try:
        data = _loads(text)
    except json.JSONDecodeError:
        return []
    if not isinstance(data, dict) or "output_throughput" not in data:
        return []
    concurrency = _int(data.get("max_concurrency")) or 1
    completed = _int(data.get("completed")) or 0
    prompt = round((data.get("total_input_tokens") or 0) / completed) if completed else 0
    gen = round((data.get("total_output_tokens") or 0) / completed) if completed else 0
    test = f"vllm bench serve --max-concurrency {concurrency}"
    if data.get("dataset_name"):
        test += f" ({data['dataset_name']})"
    rows = []
    tpot = data.get("mean_tpot_ms")
    if concurrency == 1 and tpot:
        rows.append(
            BenchRow(
                tool="vllm bench",
                test=test,
                metric="decode",
                tokens_per_s=1000.0 / float(tpot),
                prompt_tokens=prompt,
                gen_tokens=gen,
                model_label=str(data.get("model_id") or ""),
                engine_version=str(data.get("vllm_version") or ""),
            )
        )
    else:
        rows.append(
            BenchRow(
                tool="vllm bench",
                test=test,
                metric="batched_decode",
                tokens_per_s=float(data["output_throughput"]),
                prompt_tokens=prompt,
                gen_tokens=gen,
                concurrency=concurrency,
                model_label=str(data.get("model_id") or ""),
                engine_version=str(data.get("vllm_version") or ""),
            )
        )
    return rows
