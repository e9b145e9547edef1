"""Benchmark: a full ``recommend`` (form → request → catalogue snapshot → ranked builds)
for 10 representative workloads, on the seed catalogue and on a synthetic catalogue 10×
larger, each loaded into its own temporary SQLite database (migrate, load_seed,
load_seed_prices), so ``make bench`` needs nothing but the repository.

The 10× catalogue has ten variants of every seed part: prices moved by −25 % to +35 %,
GPU bandwidth and compute by ±5 %, power and CPU compute by up to ±10 %, sizes by a few
millimetres, so variants are different parts rather than exact duplicates.

Printed: how long reading the catalogue snapshot (parts and current prices) from the
database takes; p50/p95 wall time of the first call per workload (cold: pruned part
lists are built on the first one, host choices, completions and estimates are not
memoised yet) and of 5 warm calls per workload (the snapshot and those memoised choices,
which depend only on the catalogue and the model's size, are reused, and so are the
estimates of machines already estimated for the same model, format, workload and run
options, as when a user changes only the budget, targets or ranking); one more call per
workload with the estimate memo emptied (the search re-estimating every build); CPU time;
and the work done (candidates, completed builds, estimator runs). Targets on a 2-core
machine: warm p95 ≤ 60 ms on the seed catalogue and ≤ 200 ms at 10×, first call per
workload ≤ 400 ms at 10×. Wall time on a machine shared with other work is longer than
CPU time; both are printed.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import tempfile
import time
from io import StringIO
from pathlib import Path
from typing import Any

REPEATS = 5
ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "catalog" / "seed"

WORKLOADS: list[tuple[str, dict[str, str]]] = [
    ("Llama 3.1 70B Q4_K_M ≥10 tok/s", {"model": "llama-3-1-70b-instruct", "min_tps": "10"}),
    (
        "Llama 3.1 405B Q6_K ≥1 tok/s",
        {"model": "llama-3-1-405b-instruct", "quant": "Q6_K", "min_tps": "1"},
    ),
    (
        "Llama 3.1 8B Q8_0 ≥30 tok/s",
        {"model": "llama-3-1-8b-instruct", "quant": "Q8_0", "min_tps": "30"},
    ),
    ("DeepSeek R1 671B Q4_K_M ≥5 tok/s", {"model": "deepseek-r1", "min_tps": "5"}),
    (
        "Qwen3 30B-A3B small form ≥20 tok/s",
        {"model": "qwen3-30b-a3b", "min_tps": "20", "form": "small"},
    ),
    (
        "Mixtral 8x7B Q5_K_M value, $3,000",
        {
            "model": "mixtral-8x7b-instruct-v0-1",
            "quant": "Q5_K_M",
            "min_tps": "15",
            "budget": "3000",
            "objective": "value",
        },
    ),
    (
        "Llama 3.1 70B fastest within $6,000",
        {"model": "llama-3-1-70b-instruct", "objective": "fastest", "budget": "6000"},
    ),
    (
        "70B Q8_0, 8 users, 8k context",
        {"model": "llama-3-1-70b-instruct", "quant": "Q8_0", "batch": "8", "context": "8192"},
    ),
    (
        "Falcon 40B QLoRA fine-tuning",
        {
            "model": "falcon-40b",
            "quant": "BF16",
            "mode": "qlora",
            "context": "2048",
            "min_tps": "0",
        },
    ),
    (
        "gpt-oss-120b MXFP4 new parts, Pareto",
        {"model": "gpt-oss-120b", "quant": "MXFP4", "allow_used": "false", "objective": "pareto"},
    ),
]


def scaled_seed(target: Path, factor: int, seed: int = 2026) -> None:
    """Write a seed directory with ``factor`` variants of every seed part."""
    rng = random.Random(seed)
    (target / "parts").mkdir(parents=True)
    for name in ("llm_models.json", "quant_formats.json"):
        shutil.copy(SEED / name, target / name)
    for path in sorted((SEED / "parts").glob("*.json")):
        rows = json.loads(path.read_text(encoding="utf-8"))
        out = list(rows)
        for row in rows:
            for index in range(1, factor):
                out.append(_variant(row, index, rng))
        (target / "parts" / path.name).write_text(json.dumps(out), encoding="utf-8")


def _variant(row: dict[str, Any], index: int, rng: random.Random) -> dict[str, Any]:
    copy = json.loads(json.dumps(row))
    copy["slug"] = f"{row['slug']}-v{index}"
    copy["name"] = f"{row['name']} v{index}"
    price = copy.get("reference_price")
    if price:
        amount = float(price["amount"]) * rng.uniform(0.75, 1.35)
        price["amount"] = f"{amount:.2f}"
    specs = copy["specs"]
    kind = row["kind"]

    def jitter(key: str, spread: float, whole: bool = False) -> None:
        if specs.get(key):
            value = specs[key] * rng.uniform(1 - spread, 1 + spread)
            specs[key] = round(value) if whole else round(value, 2)

    if kind == "gpu":
        jitter("bandwidth_gbs", 0.05)
        if specs.get("bus_width_bits") and specs.get("memory_data_rate_gbps"):
            specs["memory_data_rate_gbps"] = round(
                specs["bandwidth_gbs"] / (specs["bus_width_bits"] / 8), 4
            )
        jitter("fp16_tflops", 0.05)
        jitter("tdp_w", 0.1, whole=True)
        if specs.get("length_mm"):
            specs["length_mm"] = specs["length_mm"] + rng.randint(-15, 25)
    elif kind == "cpu":
        jitter("fp32_gflops", 0.05)
        jitter("tdp_w", 0.1, whole=True)
    elif kind == "system":
        jitter("bandwidth_gbs", 0.03)
    elif kind == "case" and specs.get("max_gpu_length_mm"):
        specs["max_gpu_length_mm"] = specs["max_gpu_length_mm"] + rng.randint(-30, 30)
    elif kind == "cooler" and specs.get("height_mm"):
        specs["height_mm"] = specs["height_mm"] + rng.randint(-10, 10)
    return copy


class TemporaryDatabase:
    """Point Django's default database at a fresh SQLite file for the ``with`` block."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "bench.sqlite3"

    def __enter__(self) -> TemporaryDatabase:
        from django.db import connections

        self.saved = dict(connections.settings["default"])
        connections["default"].close()
        connections.settings["default"].update(
            {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(self.path),
                "OPTIONS": {},
                "CONN_MAX_AGE": 0,
                "CONN_HEALTH_CHECKS": False,
                "HOST": "",
                "PORT": "",
                "USER": "",
                "PASSWORD": "",
            }
        )
        del connections["default"]
        return self

    def __exit__(self, *exc: object) -> None:
        from django.db import connections

        connections["default"].close()
        connections.settings["default"].clear()
        connections.settings["default"].update(self.saved)
        del connections["default"]


def load(seed_dir: Path) -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    quiet = {"stdout": StringIO(), "stderr": StringIO()}
    call_command("migrate", verbosity=0, interactive=False, **quiet)
    call_command("load_seed", seed_dir=seed_dir, **quiet)
    call_command("load_seed_prices", parts_dir=seed_dir / "parts", **quiet)
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def measure(label: str) -> dict[str, Any]:
    from configurator import adapters
    from configurator.engine.builds.assembly import forget_estimates
    from configurator.forms import RecommendForm
    from configurator.recommend import recommend

    # The snapshot's cache key names this database's catalogue and price versions, so
    # nothing cached before is reused; the shared cache is left alone (it may be Redis).
    adapters.clear_local()
    forget_estimates()
    started = time.perf_counter()
    adapters.catalogue()
    snapshot_ms = (time.perf_counter() - started) * 1000
    warm, cold, cpu, cold_cpu, unmemoised = [], [], [], [], []
    rows = []
    for name, params in WORKLOADS:
        times = []
        first_cpu = 0.0
        for attempt in range(REPEATS + 1):
            wall0, cpu0 = time.perf_counter(), time.process_time()
            form = RecommendForm(params)
            if not form.is_valid():
                raise SystemExit(f"bench workload {name!r}: {dict(form.errors)}")
            rec = recommend(form.build_request())
            wall, used = time.perf_counter() - wall0, time.process_time() - cpu0
            (cold if attempt == 0 else warm).append(wall)
            (cpu if attempt else cold_cpu).append(used)
            first_cpu = first_cpu or used
            if attempt:
                times.append(wall)
        forget_estimates()
        wall0 = time.perf_counter()
        form = RecommendForm(params)
        form.is_valid()
        recommend(form.build_request())
        unmemoised.append(time.perf_counter() - wall0)
        top = rec.builds[0] if rec.builds else None
        rows.append(
            (
                name,
                statistics.median(times) * 1000,
                first_cpu * 1000,
                rec.stats["candidates"],
                rec.stats["completed"],
                rec.stats["estimates"],
                f"{top.architecture} {top.total} {top.currency}, {top.tokens_per_s:.1f} tok/s"
                if top
                else "no build (relax: " + ", ".join(r.field for r in rec.relax) + ")",
            )
        )
    parts = len(adapters.catalogue())
    print(
        f"-- {label}: {parts} parts; snapshot of parts and current prices read from the "
        f"database in {snapshot_ms:.0f} ms (then cached until a part or price changes)"
    )
    for name, median_ms, first_ms, cands, completed, estimates, top in rows:
        print(
            f"   {name:<38} {median_ms:7.1f} ms (first call {first_ms:4.0f} ms CPU) "
            f"{cands:5d} candidates {completed:4d} completed {estimates:4d} estimates  #1 {top}"
        )
    result = {
        "warm_p50": percentile(warm, 0.5) * 1000,
        "warm_p95": percentile(warm, 0.95) * 1000,
        "cold_p50": percentile(cold, 0.5) * 1000,
        "cold_p95": percentile(cold, 0.95) * 1000,
        "cpu_p50": percentile(cpu, 0.5) * 1000,
        "cpu_p95": percentile(cpu, 0.95) * 1000,
        "cold_cpu_p95": percentile(cold_cpu, 0.95) * 1000,
        "unmemoised_p50": percentile(unmemoised, 0.5) * 1000,
        "unmemoised_p95": percentile(unmemoised, 0.95) * 1000,
        "estimates": statistics.mean(r[5] for r in rows),
        "parts": parts,
    }
    print(
        f"   full recommend, {len(WORKLOADS)} workloads x {REPEATS}: "
        f"p50 {result['warm_p50']:.0f} ms, p95 {result['warm_p95']:.0f} ms "
        f"(CPU time p50 {result['cpu_p50']:.0f} ms, p95 {result['cpu_p95']:.0f} ms); "
        f"first call per workload p50 {result['cold_p50']:.0f} ms, "
        f"p95 {result['cold_p95']:.0f} ms (CPU time p95 {result['cold_cpu_p95']:.0f} ms); "
        f"warm with the estimate memo emptied p50 {result['unmemoised_p50']:.0f} ms, "
        f"p95 {result['unmemoised_p95']:.0f} ms"
    )
    return result


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="rigrank-bench-"))
    try:
        results = {}
        for label, factor in (("seed catalogue", 1), ("synthetic catalogue, 10x", 10)):
            directory = work / f"x{factor}"
            directory.mkdir()
            if factor == 1:
                seed_dir = SEED
            else:
                seed_dir = directory / "seed"
                scaled_seed(seed_dir, factor)
            with TemporaryDatabase(directory):
                seconds = load(seed_dir)
                print(f"-- {label}: database loaded in {seconds:.1f} s")
                results[factor] = measure(label)
        seed, big = results[1], results[10]
        scale = big["parts"] / seed["parts"]
        print(
            f"recommend p95: {seed['warm_p95']:.0f} ms wall / {seed['cpu_p95']:.0f} ms CPU on "
            f"the seed catalogue (target 60 ms), {big['warm_p95']:.0f} ms wall / "
            f"{big['cpu_p95']:.0f} ms CPU at 10x (target 200 ms); first call per workload at "
            f"10x p95 {big['cold_p95']:.0f} ms wall / {big['cold_cpu_p95']:.0f} ms CPU "
            f"(target 400 ms); estimator runs per request {seed['estimates']:.0f} vs "
            f"{big['estimates']:.0f} for {scale:.0f}x the parts"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    import os
    import sys

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rigrank.settings")
    import django

    django.setup()
    main()
