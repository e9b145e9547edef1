"""Check the engine against published measurements.

    python -m configurator.engine.validate          # all three views (make validate)
    python -m configurator.engine.validate --fit    # refit constants.json, then report
    python -m configurator.engine.validate --in-sample   # quick: stored constants only
    python -m configurator.engine.validate --bands  # report, store error bands (no refit)

Three views of the absolute percentage error, per metric and per category:

- in sample: the stored constants, fitted on every row;
- leave one source out: refit from the documented defaults without each source (page,
  thread or PR), predict its rows;
- time split: fit from the defaults only on rows published up to 2024, predict the rows of
  2025-2026.

No held-out refit starts from the all-rows fit: one that did, and found no first step on
this rough loss surface, would keep the all-rows constants and report in-sample figures.

Writes ``calibration/validation.json`` (every row's measured, predicted and held-out
values and the summary tables), which the estimate's ``evidence`` and the ``/accuracy/``
page read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .calibration import (
    CONSTANTS_PATH,
    METRICS,
    NOT_FITTED,
    Constants,
    default_constants,
    load_constants,
)
from .calibration.fit import (
    MAX_SWEEPS,
    Outcome,
    error_bands,
    fit,
    fit_from_starts,
    influential,
    predict,
    quantile,
)
from .calibration.loader import Measurement, load_measurements
from .evidence import VALIDATION_PATH, hardware_key

# (median, p90) targets of issue 10, as fractions; None where no target is set.
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "decode": (0.10, 0.25),
    "prefill": (0.20, None),
    "batched_decode": (0.20, None),
    "power": (0.20, None),
    "train_tokens_per_s": (0.30, None),
    "train_peak_memory": (0.20, None),
    "spec_decode": (0.20, None),
}
SPLIT_YEAR = 2024


def _time_split_rows(rows: Sequence[Measurement]) -> tuple[list, list]:
    """(rows published up to SPLIT_YEAR, rows published after it); undated rows in neither."""
    train = [row for row in rows if 0 < row.year <= SPLIT_YEAR]
    test = [row for row in rows if row.year > SPLIT_YEAR]
    return train, test


def _fit_without(args: tuple[str, str, list[str]]) -> dict[str, float]:
    """Refit on a subset and predict the rest (run in a worker process): ``kind`` is
    ``source`` (hold out one source) or ``time`` (fit on rows up to SPLIT_YEAR). Every
    refit starts from the documented defaults, so nothing of the held-out rows reaches it
    through its starting point. A source's refit runs Levenberg–Marquardt only (the
    all-rows fit adds coordinate sweeps; ~160 folds must finish in minutes), so its
    figures can only be pessimistic; the time split gets the full fit."""
    kind, key, names = args
    rows, _ = load_measurements()
    start = default_constants()
    if kind == "source":
        train = [row for row in rows if row.source_key != key]
        test = [row for row in rows if row.source_key == key]
    else:
        train, test = _time_split_rows(rows)
    usable = set(influential(train, start))
    chosen = [n for n in names if n in usable]
    sweeps = 0 if kind == "source" else MAX_SWEEPS
    constants = fit(train, start, chosen, sweeps=sweeps)
    return {row.id: predict(row, constants) for row in test}


def held_out_predictions(
    rows: Sequence[Measurement], names: list[str], workers: int = 2
) -> tuple[dict[str, float], dict[str, float]]:
    """Leave-one-source-out and time-split predictions, folds spread over processes."""
    sources = sorted({row.source_key for row in rows})
    jobs = [("source", source, names) for source in sources]
    jobs.insert(0, ("time", "", names))  # the longest job first
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_fit_without, jobs))
    loso: dict[str, float] = {}
    for part in results[1:]:
        loso.update(part)
    return loso, results[0]


def summarise(
    outcomes: Sequence[Outcome], held_out: bool
) -> dict[str, dict[str, dict[str, float]]]:
    """{metric: {category or 'overall': {'rows', 'median', 'p90'}}} of absolute % errors
    (held-out predictions where ``held_out`` and one exists)."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for metric in METRICS:
        chosen = [o for o in outcomes if o.row.metric == metric]
        if held_out:
            chosen = [o for o in chosen if o.held_out is not None]
        if not chosen:
            continue
        groups: dict[str, list[float]] = {}
        for o in chosen:
            groups.setdefault(o.row.category, []).append(o.error(held_out))
        groups["overall"] = [o.error(held_out) for o in chosen]
        summary[metric] = {
            name: {
                "rows": len(errors),
                "median": round(100 * quantile(errors, 0.5), 1),
                "p90": round(100 * quantile(errors, 0.9), 1),
            }
            for name, errors in sorted(groups.items(), key=lambda kv: (kv[0] == "overall", kv[0]))
        }
    return summary


def unmoved_sources(outcomes: Sequence[Outcome]) -> tuple[set[str], list[Outcome]]:
    """Held-out predictions equal to the in-sample one (within 1e-6): a refit without the
    row's source that left the constants its rows read where the all-rows fit put them
    (possible for a row that reads no fitted constant, or one at a bound). Many of them
    would mean leave-one-source-out reports in-sample figures, so the count is printed."""
    unmoved = [
        o
        for o in outcomes
        if o.held_out is not None and abs(o.held_out - o.in_sample) <= 1e-6 * abs(o.in_sample)
    ]
    counts: dict[str, int] = {}
    for o in outcomes:
        if o.held_out is not None:
            counts[o.row.source_key] = counts.get(o.row.source_key, 0) + 1
    for o in unmoved:
        counts[o.row.source_key] -= 1
    return {key for key, left in counts.items() if left == 0}, unmoved


def _print_rows(outcomes: Sequence[Outcome]) -> None:
    header = f"{'id':22} {'category':18} {'metric':15} {'measured':>9} {'in-sample':>9}"
    print(f"{header} {'held-out':>9} {'err':>6}  setup")
    for o in outcomes:
        held = o.held_out if o.held_out is not None else float("nan")
        error = (held / o.row.tokens_per_s - 1) * 100 if o.held_out else float("nan")
        print(
            f"{o.row.id[:22]:22} {o.row.category[:18]:18} {o.row.metric[:15]:15} "
            f"{o.row.tokens_per_s:9.2f} {o.in_sample:9.2f} {held:9.2f} {error:+5.0f}%  "
            f"{o.row.describe()}"
        )


def _print_summary(title: str, summary: dict[str, dict[str, dict[str, float]]]) -> None:
    print(f"\n{title}")
    for metric, groups in summary.items():
        median_target, p90_target = TARGETS.get(metric, (None, None))
        target = f"target median ≤ {median_target:.0%}" if median_target else "no target"
        if p90_target:
            target += f", p90 ≤ {p90_target:.0%}"
        print(f"  {metric} ({target})")
        for name, figures in groups.items():
            rows, median, p90 = figures["rows"], figures["median"], figures["p90"]
            print(f"    {name:20} rows {rows:4}   median {median:5.1f} %   p90 {p90:5.1f} %")


def _row_record(o: Outcome, time_split: dict[str, float]) -> dict:
    row = o.row
    return {
        "id": row.id,
        "metric": row.metric,
        "category": row.category,
        "setup": row.describe(),
        "measured": round(row.tokens_per_s, 4),
        "predicted": round(o.in_sample, 4),
        "held_out": round(o.held_out, 4) if o.held_out is not None else None,
        "time_split": round(time_split[row.id], 4) if row.id in time_split else None,
        "unit": row.unit,
        "source": row.source,
        "source_key": row.source_key,
        "date": row.date,
        "engine": row.engine.name,
        "engine_key": row.engine.name,
        "backend": row.backend,
        "test": row.test,
        "model": row.model.name,
        "active_params_b": row.model.active_params_b,
        "total_params_b": row.model.total_params_b,
        "bits_per_weight": round(row.quant.bits_per_weight, 3),
        "hardware_key": hardware_key(row.machine),
    }


def write_report(
    outcomes: Sequence[Outcome],
    time_split: dict[str, float],
    views: dict[str, dict],
    skipped: list[tuple[str, str]],
    path: Path = VALIDATION_PATH,
) -> None:
    """Write the per-row outcomes and the summary tables as JSON."""
    data = {
        "split_year": SPLIT_YEAR,
        "targets": {k: list(v) for k, v in TARGETS.items()},
        "rows": [_row_record(o, time_split) for o in outcomes],
        "skipped": [{"id": i, "reason": r} for i, r in skipped],
        "summary": views,
        "sources": len({o.row.source_key for o in outcomes}),
        "unmoved_held_out_rows": len(unmoved_sources(outcomes)[1]),
    }
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, ensure_ascii=False)
        handle.write("\n")


def _constants(rows: list[Measurement], refit: bool) -> Constants:
    """The constants to report on: refitted from two starts (the documented defaults and
    the stored constants, those not fitted put back to their defaults), the better fit
    kept; or the stored ones."""
    start = default_constants()
    if refit:
        stored = load_constants()
        warm = start.replace(
            **{n: v for n, v in stored.values.items() if n in start.values and n not in NOT_FITTED}
        )
        return fit_from_starts(rows, [start, warm])
    constants = load_constants()
    if not constants.fitted:
        names = tuple(influential(rows, start))
        constants = Constants(constants.values, constants.fixed, constants.error_bands, names)
    return constants


def _time_outcomes(outcomes: Sequence[Outcome], time_split: dict[str, float]) -> list[Outcome]:
    return [
        Outcome(o.row, o.in_sample, time_split[o.row.id])
        for o in outcomes
        if o.row.id in time_split
    ]


def _views(
    outcomes: Sequence[Outcome], time_split: dict[str, float], rows: int, skipped: int
) -> dict[str, dict]:
    """The summary views (in sample; with held-out predictions, leave one source out and
    the time split), printed as they are made."""
    views: dict[str, dict] = {"in_sample": summarise(outcomes, held_out=False)}
    _print_summary(f"In sample ({rows} rows, {skipped} skipped)", views["in_sample"])
    if not any(o.held_out is not None for o in outcomes):
        return views
    views["leave_one_source_out"] = summarise(outcomes, held_out=True)
    _print_summary(
        "Leave one source out (each refit from the defaults)", views["leave_one_source_out"]
    )
    sources, unmoved = unmoved_sources(outcomes)
    print(
        f"  ({len(unmoved)} held-out rows equal their in-sample prediction; "
        f"{len(sources)} sources whose refit left every one of their rows unchanged)"
    )
    views["time_split"] = summarise(_time_outcomes(outcomes, time_split), held_out=True)
    _print_summary(
        f"Time split (refit from the defaults on rows up to {SPLIT_YEAR}, predict later rows)",
        views["time_split"],
    )
    return views


def _print_constants(constants: Constants, refitted: bool) -> None:
    print("\nConstants" + (" (refitted)" if refitted else ""))
    for name, value in sorted(constants.values.items()):
        state = (
            "fitted"
            if name in constants.fitted
            else ("fixed: " + NOT_FITTED[name] if name in NOT_FITTED else "default")
        )
        print(f"  {name:42} {value:10.4g}   {state}")


def _store_constants(
    constants: Constants,
    bands: dict[str, tuple[float, float]],
    rows: Sequence[Measurement],
    skipped: list[tuple[str, str]],
    views: dict[str, dict],
) -> None:
    """Write constants.json: the values, the error bands (this run's where it has them)
    and the validation summary."""
    result = Constants(
        constants.values, constants.fixed, {**constants.error_bands, **bands}, constants.fitted
    )
    data = result.to_json()
    data["validation"] = {
        "rows": len(rows),
        "skipped": len(skipped),
        "sources": len({row.source_key for row in rows}),
        **views,
    }
    with CONSTANTS_PATH.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    print(f"\nWrote {CONSTANTS_PATH}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fit", action="store_true", help="refit and rewrite constants.json")
    parser.add_argument(
        "--in-sample", action="store_true", help="skip the held-out refits (no report written)"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes for the refits")
    parser.add_argument("--quiet", action="store_true", help="summaries only, no row table")
    parser.add_argument(
        "--bands",
        action="store_true",
        help="store this run's error bands and summary in constants.json without refitting",
    )
    options = parser.parse_args(argv)

    rows, skipped = load_measurements()
    constants = _constants(rows, options.fit)
    held: dict[str, float] = {}
    time_split: dict[str, float] = {}
    if not options.in_sample:
        held, time_split = held_out_predictions(rows, list(constants.fitted), options.workers)
    outcomes = [Outcome(row, predict(row, constants), held.get(row.id)) for row in rows]

    if not options.quiet:
        _print_rows(outcomes)
        for row_id, reason in skipped:
            print(f"{row_id:22} skipped: {reason}")
    views = _views(outcomes, time_split, len(rows), len(skipped))
    _print_constants(constants, options.fit)
    if held:
        write_report(outcomes, time_split, views, skipped)
        print(f"\nWrote {VALIDATION_PATH}")
    if options.fit or (options.bands and held):
        bands = error_bands(outcomes) if held else {}
        _store_constants(constants, bands, rows, skipped, views)
    return 0


if __name__ == "__main__":
    sys.exit(main())
