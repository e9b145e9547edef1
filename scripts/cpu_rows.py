"""List the calibration rows of CPU hosts worst predicted first, with the step breakdown.

    python scripts/cpu_rows.py                 # cpu-server and cpu-desktop rows
    python scripts/cpu_rows.py --short-ram     # rows whose weights do not fit in RAM
    python scripts/cpu_rows.py --category cpu-server --limit 20

For each row: measured and predicted tokens/s (stored constants), the held-out prediction
of the last validation report, and where the time of one step (decode) or one prompt
(prefill) goes: reading memory, computing, fixed per-layer/per-step costs, and reading
weights back from the drive.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from configurator.engine import throughput  # noqa: E402
from configurator.engine.calibration import load_constants  # noqa: E402
from configurator.engine.calibration.fit import predict  # noqa: E402
from configurator.engine.calibration.loader import Measurement, load_measurements  # noqa: E402
from configurator.engine.evidence import VALIDATION_PATH  # noqa: E402


def _step(row: Measurement, constants) -> throughput.StepTime:
    workload, bits = row.workload, row.quant.bits_per_weight
    if row.metric == "prefill":
        return throughput.prefill(
            row.placement, row.parts, row.engine, constants, workload.prompt_tokens, bits, row.depth
        )
    depth = min(workload.prompt_tokens + workload.gen_tokens / 2, workload.context_tokens)
    return throughput.decode_step(
        row.placement, row.parts, row.engine, constants, depth, workload.kv_cache_bits, bits
    )


def _breakdown(step: throughput.StepTime) -> str:
    parts = [
        f"{s.label[:18]}: {s.seconds * 1e3:.1f} ms{' compute' if s.compute_bound else ' memory'}"
        + (f" ({s.streamed_s * 1e3:.0f} ms from drive)" if s.streamed_s else "")
        for s in step.slots
    ]
    parts.append(f"fixed {step.overhead_s * 1e3:.1f} ms")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--category", action="append", help="row category (repeatable)")
    parser.add_argument("--short-ram", action="store_true", help="only rows short of RAM")
    parser.add_argument("--limit", type=int, default=40)
    options = parser.parse_args(argv)
    held = {}
    if VALIDATION_PATH.exists():
        report = json.loads(VALIDATION_PATH.read_text(encoding="utf-8"))
        held = {r["id"]: r.get("held_out") for r in report["rows"]}
    cats = options.category or ["cpu-server", "cpu-desktop"]
    constants = load_constants()
    rows, _ = load_measurements()
    chosen = []
    for row in rows:
        if row.metric not in ("decode", "prefill"):
            continue
        short = row.placement.spilled_bytes > 0
        if (options.short_ram and short) or (not options.short_ram and row.category in cats):
            ratio = predict(row, constants) / row.tokens_per_s
            chosen.append((abs(math.log(ratio)), ratio, row))
    chosen.sort(key=lambda item: item[0], reverse=True)
    for _, ratio, row in chosen[: options.limit]:
        h = held.get(row.id)
        held_text = f"{h / row.tokens_per_s:5.2f}" if h else "  -  "
        print(
            f"{row.id[:30]:30} {row.metric[:7]:7} measured {row.tokens_per_s:8.2f} "
            f"predicted x{ratio:5.2f} held-out x{held_text}  {row.describe()[:70]}"
        )
        print(f"{'':32}{_breakdown(_step(row, constants))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
