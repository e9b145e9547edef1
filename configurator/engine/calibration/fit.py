"""Fit the efficiency constants to measurements, and validate leave-one-source-out.

The fit minimises a robust loss (pseudo-Huber, scale 0.15) of the log ratio between
predicted and measured tokens/s, every row counting the same. Each constant is moved in
its unit coordinate (log-spaced between its bounds where it is a ratio): projected
Levenberg–Marquardt first, then coordinate sweeps (a grid over the range and a
golden-section refinement) to step out of shallow minima. Constants that no row depends
on keep their defaults and are not reported as fitted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .. import power, training
from .. import spec as speculation
from ..spec import SpecDecode
from ..throughput import decode_step, prefill
from . import METRICS, NOT_FITTED, PARAMETER_BY_NAME, PARAMETERS, Constants, Parameter
from .loader import Measurement

HUBER_SCALE = 0.15
# Weight of the pull of each constant towards its documented default (in the constant's
# unit coordinate): a weak prior, so that a class carried by one or two sources does not
# run to a bound when they disagree, and a held-out source meets physics, not a fluke.
PRIOR_WEIGHT = 0.3
GRID_POINTS = 13
GOLDEN_STEPS = 14
MAX_SWEEPS = 3
LM_ITERATIONS = 40
BAND_QUANTILES = (0.1, 0.9)


def predict(row: Measurement, constants: Constants) -> float:
    """The engine's figure for a measurement's setup, in the row's unit (tokens/s, W,
    GB)."""
    return _PREDICTORS[row.metric](row, constants)


def _decode_step(row: Measurement, constants: Constants, batch: int, tokens: int = 1):
    workload = row.workload
    depth = min(workload.prompt_tokens + workload.gen_tokens / 2, workload.context_tokens)
    return decode_step(
        row.placement,
        row.parts,
        row.engine,
        constants,
        depth,
        workload.kv_cache_bits,
        row.quant.bits_per_weight,
        batch,
        tokens,
    )


def _predict_decode(row: Measurement, constants: Constants) -> float:
    return 1.0 / _decode_step(row, constants, 1).seconds


def _predict_batched(row: Measurement, constants: Constants) -> float:
    batch = row.workload.concurrent_sequences
    return batch / _decode_step(row, constants, batch).seconds


def _predict_prefill(row: Measurement, constants: Constants) -> float:
    time = prefill(
        row.placement,
        row.parts,
        row.engine,
        constants,
        row.workload.prompt_tokens,
        row.quant.bits_per_weight,
        row.depth,
    )
    return row.workload.prompt_tokens / time.seconds


def _predict_power(row: Measurement, constants: Constants) -> float:
    phase = "prefill" if "prefill" in row.test.lower() or row.test.startswith("pp") else "decode"
    if phase == "prefill":
        step = prefill(
            row.placement,
            row.parts,
            row.engine,
            constants,
            row.workload.prompt_tokens,
            row.quant.bits_per_weight,
        )
    else:
        step = _decode_step(row, constants, row.workload.concurrent_sequences)
    if row.power_scope == "gpu":
        return power.gpu_power_w(row.placement, step, phase, constants)
    return power.wall_power_w(row.machine, row.placement, step, phase, constants)


def _predict_train_speed(row: Measurement, constants: Constants) -> float:
    need, found = training.training_memory(
        row.machine, row.model, row.quant, row.workload, constants, row.framework
    )
    return training.training_tokens_per_s(
        row.model, row.workload, found, need.gradient_checkpointing, constants, row.framework
    )


def _predict_train_memory(row: Measurement, constants: Constants) -> float:
    need, _ = training.training_memory(
        row.machine, row.model, row.quant, row.workload, constants, row.framework
    )
    return need.per_gpu_bytes / 1e9


def _predict_spec(row: Measurement, constants: Constants) -> float:
    spec_data = row.spec or {}
    spec = SpecDecode(
        str(spec_data.get("method") or "draft"),
        spec_data.get("draft_tokens"),
        spec_data.get("acceptance_rate"),
        str(spec_data.get("draft_model") or ""),
    )
    single = _decode_step(row, constants, 1)
    verify = _decode_step(row, constants, 1, spec.k + 1)
    draft_s = 0.0
    draft_b = spec_data.get("draft_params_b")
    if spec.method == "draft" and draft_b:
        draft_s = single.seconds * min(float(draft_b) / row.model.active_params_b, 1.0)
    total = sum(t.bytes_read for t in single.slots) or 1.0
    step_s = speculation.drafter_step_s(
        spec, single.seconds, row.parts.layers, row.parts.head_bytes / total, draft_s
    )
    return speculation.speculative_tokens_per_s(spec, verify.seconds, step_s)


_PREDICTORS = {
    "decode": _predict_decode,
    "prefill": _predict_prefill,
    "batched_decode": _predict_batched,
    "power": _predict_power,
    "train_tokens_per_s": _predict_train_speed,
    "train_peak_memory": _predict_train_memory,
    "spec_decode": _predict_spec,
}


def _prior(constants: Constants) -> float:
    """Squared distance of the constants from their defaults, in unit coordinates."""
    total = 0.0
    for p in PARAMETERS:
        value = constants.values.get(p.name, p.default)
        if value != p.default:
            total += (_to_unit(p, value) - _to_unit(p, p.default)) ** 2
    return PRIOR_WEIGHT * total


def _huber(r: float) -> float:
    scale2 = HUBER_SCALE * HUBER_SCALE
    return scale2 * (math.sqrt(1.0 + r * r / scale2) - 1.0)


def _loss(rows: Sequence[Measurement], weights: Sequence[float], constants: Constants) -> float:
    total = _prior(constants)
    for row, weight in zip(rows, weights, strict=True):
        total += weight * _huber(math.log(predict(row, constants) / row.tokens_per_s))
    return total


def _weights(rows: Sequence[Measurement]) -> list[float]:
    """Every row counts the same (weighting rows by 1/√(rows from their source) was
    tried and generalised slightly worse under leave-one-source-out)."""
    return [1.0] * len(rows)


def _log_scale(p: Parameter) -> bool:
    return p.low > 0


def _to_unit(p: Parameter, value: float) -> float:
    if _log_scale(p):
        return math.log(value / p.low) / math.log(p.high / p.low)
    return (value - p.low) / (p.high - p.low)


def _from_unit(p: Parameter, u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    if _log_scale(p):
        return p.low * (p.high / p.low) ** u
    return p.low + u * (p.high - p.low)


class _ReadLog(dict):
    """The constants' values, remembering which names a prediction read. A prediction
    is a pure function of what it reads, so changing a constant it did not read cannot
    change it: the fit recomputes only the rows that read the constant it moves. Bulk
    access (iteration, ``items()``, a copy) counts as reading every name."""

    def __init__(self, values: dict[str, float]):
        super().__init__(values)
        self.read: set[str] = set()
        self.everything = False

    def __getitem__(self, name: str) -> float:
        self.read.add(name)
        return dict.__getitem__(self, name)

    def get(self, name: str, default=None):
        self.read.add(name)
        return dict.get(self, name, default)

    def __contains__(self, name: object) -> bool:
        self.read.add(name)  # type: ignore[arg-type]
        return dict.__contains__(self, name)

    def _bulk(self):
        self.everything = True

    def __iter__(self):
        self._bulk()
        return dict.__iter__(self)

    def keys(self):
        self._bulk()
        return dict.keys(self)

    def values(self):
        self._bulk()
        return dict.values(self)

    def items(self):
        self._bulk()
        return dict.items(self)


def predict_reading(row: Measurement, constants: Constants) -> tuple[float, set[str] | None]:
    """The row's prediction and the names of the constants it read (None: all of them)."""
    log = _ReadLog(constants.values)
    value = predict(row, Constants(log, constants.fixed, constants.error_bands, constants.fitted))
    return value, None if log.everything else log.read


class _Rows:
    """Rows being fitted, with their residuals at a point and, per constant being
    fitted, the rows whose prediction reads it (so moving one constant recomputes only
    those rows)."""

    def __init__(self, rows: Sequence[Measurement], weights: Sequence[float], names: list[str]):
        self.rows = list(rows)
        self.weights = list(weights)
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}

    def evaluate(self, constants: Constants) -> _Point:
        residuals, uses = [], []
        everything = list(range(len(self.names)))
        for row in self.rows:
            value, read = predict_reading(row, constants)
            residuals.append(math.log(value / row.tokens_per_s))
            if read is None:
                uses.append(everything)
            else:
                uses.append(sorted(self.index[n] for n in read if n in self.index))
        readers: list[list[int]] = [[] for _ in self.names]
        for i, used in enumerate(uses):
            for j in used:
                readers[j].append(i)
        return _Point(constants, residuals, uses, readers)

    def residuals_of(self, constants: Constants, which: Sequence[int]) -> list[float]:
        return [
            math.log(predict(self.rows[i], constants) / self.rows[i].tokens_per_s) for i in which
        ]

    def loss(self, point: _Point) -> float:
        return _prior(point.constants) + sum(
            w * _huber(r) for r, w in zip(point.residuals, self.weights, strict=True)
        )


@dataclass(frozen=True)
class _Point:
    constants: Constants
    residuals: list[float]
    uses: list[list[int]]  # per row: indices of the fitted constants it reads
    readers: list[list[int]]  # per constant: the rows that read it


def influential(rows: Sequence[Measurement], constants: Constants) -> list[str]:
    """Names of the constants that change at least one row's prediction somewhere in
    their range (those in ``NOT_FITTED`` excepted)."""
    candidates = [p.name for p in PARAMETERS if p.name not in NOT_FITTED]
    table = _Rows(rows, _weights(rows), candidates)
    point = table.evaluate(constants)
    names = []
    for j, name in enumerate(candidates):
        p = PARAMETER_BY_NAME[name]
        readers = point.readers[j]
        base = [point.residuals[i] for i in readers]
        for u in (0.05, 0.5, 0.95):
            moved = table.residuals_of(constants.replace(**{name: _from_unit(p, u)}), readers)
            if any(abs(math.exp(b - a) - 1) > 1e-6 for a, b in zip(base, moved, strict=True)):
                names.append(name)
                break
    return names


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Solve a small dense linear system by Gaussian elimination with pivoting."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-300:
            continue
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            if factor:
                for c in range(col, n + 1):
                    a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in reversed(range(n)):
        if abs(a[r][r]) < 1e-300:
            continue
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


class _Unit:
    """The fitted constants as a point in their unit coordinates."""

    def __init__(self, start: Constants, names: list[str]):
        self.start = start
        self.params = [PARAMETER_BY_NAME[n] for n in names]
        self.anchors = [_to_unit(p, p.default) for p in self.params]

    def of(self, constants: Constants) -> list[float]:
        return [_to_unit(p, constants.values[p.name]) for p in self.params]

    def constants(self, point: Sequence[float]) -> Constants:
        return self.start.replace(
            **{p.name: _from_unit(p, x) for p, x in zip(self.params, point, strict=True)}
        )


def _normal_equations(
    table: _Rows, at: _Point, u: list[float], unit: _Unit
) -> tuple[list[list[float]], list[float]]:
    """JᵀΩJ and JᵀΩr of the iteratively reweighted pseudo-Huber problem at ``u``, the
    Jacobian by forward differences over the rows that read each constant, plus the
    prior's diagonal."""
    n = len(u)
    scale2 = HUBER_SCALE * HUBER_SCALE
    jacobian: list[dict[int, float]] = [{} for _ in table.rows]
    for j in range(n):
        step = 1e-4 if u[j] < 1.0 - 1e-4 else -1e-4
        moved = u[:]
        moved[j] += step
        readers = at.readers[j]
        shifted = table.residuals_of(unit.constants(moved), readers)
        for i, value in zip(readers, shifted, strict=True):
            derivative = (value - at.residuals[i]) / step
            if derivative:
                jacobian[i][j] = derivative
    jtj = [[0.0] * n for _ in range(n)]
    jte = [0.0] * n
    for i, column in enumerate(jacobian):
        r = at.residuals[i]
        omega = table.weights[i] / math.sqrt(1.0 + r * r / scale2)
        items = list(column.items())
        for a, da in items:
            jte[a] += omega * da * r
            row = jtj[a]
            for b, db in items:
                row[b] += omega * da * db
    for j in range(n):  # the quadratic pull towards the default (see _prior)
        jtj[j][j] += 2 * PRIOR_WEIGHT
        jte[j] += 2 * PRIOR_WEIGHT * (u[j] - unit.anchors[j])
    return jtj, jte


def _levenberg_marquardt(
    rows: Sequence[Measurement],
    weights: Sequence[float],
    start: Constants,
    names: list[str],
    iterations: int = LM_ITERATIONS,
) -> Constants:
    """Projected Levenberg–Marquardt on the constants' unit coordinates, with
    iteratively reweighted pseudo-Huber weights."""
    table = _Rows(rows, weights, names)
    unit = _Unit(start, names)
    u = unit.of(start)
    at = table.evaluate(unit.constants(u))
    loss = table.loss(at)
    damping = 1e-2
    n = len(u)
    for _ in range(iterations):
        jtj, jte = _normal_equations(table, at, u, unit)
        improved = converged = False
        for _ in range(8):
            system = [
                [jtj[i][j] + (damping * (jtj[i][i] + 1e-9) if i == j else 0.0) for j in range(n)]
                for i in range(n)
            ]
            delta = _solve(system, [-g for g in jte])
            trial = [min(max(x + d, 0.0), 1.0) for x, d in zip(u, delta, strict=True)]
            trial_at = table.evaluate(unit.constants(trial))
            trial_loss = table.loss(trial_at)
            if trial_loss < loss:
                converged = loss - trial_loss < 1e-7 * max(loss, 1e-12)
                u, at, loss = trial, trial_at, trial_loss
                damping = max(damping / 3, 1e-7)
                improved = True
                break
            damping *= 4
        if not improved or converged:
            break
    return at.constants


def fit(
    rows: Sequence[Measurement],
    start: Constants,
    names: Iterable[str] | None = None,
    sweeps: int = MAX_SWEEPS,
    iterations: int = LM_ITERATIONS,
) -> Constants:
    """Constants minimising the robust log error over ``rows``, from ``start``, in two
    stages: the speed and memory constants on every row but the power rows, then the
    power shares on the power rows alone. A power prediction depends on the predicted
    step (how hard each device works), so a joint fit would bend speed constants to
    match wall meters."""
    names = list(names) if names is not None else influential(rows, start)
    power = [n for n in names if n.startswith("power_fraction.")]
    speed = [n for n in names if n not in power]
    speed_rows = [row for row in rows if row.metric != "power"]
    power_rows = [row for row in rows if row.metric == "power"]
    stage = _fit(speed_rows, start, speed, sweeps, iterations) if speed and speed_rows else start
    final = _fit(power_rows, stage, power, sweeps, iterations) if power and power_rows else stage
    return Constants(dict(final.values), dict(final.fixed), dict(final.error_bands), tuple(names))


def objective(rows: Sequence[Measurement], constants: Constants) -> float:
    """What :func:`fit` minimises, both stages together: the robust loss of the speed and
    memory rows and of the power rows, plus the pull towards the defaults once."""
    speed = [row for row in rows if row.metric != "power"]
    power = [row for row in rows if row.metric == "power"]
    return (
        _loss(speed, _weights(speed), constants)
        + _loss(power, _weights(power), constants)
        - _prior(constants)
    )


def fit_from_starts(rows: Sequence[Measurement], starts: Sequence[Constants]) -> Constants:
    """The best of several fits, one from each start (the loss has kinks where one
    bound of a max() takes over from another, so a fit can stop in a local minimum that
    another start avoids)."""
    fits = [fit(rows, start) for start in starts]
    return min(fits, key=lambda constants: objective(rows, constants))


def _golden(loss_at, u_best: float, score: float) -> tuple[float, float]:
    """Golden-section refinement of a grid minimum at ``u_best`` (one grid step either
    side): the best (loss, u) found."""
    step = 1.0 / (GRID_POINTS - 1)
    low, high = max(u_best - step, 0.0), min(u_best + step, 1.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss_at(a), loss_at(b)
    for _ in range(GOLDEN_STEPS):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss_at(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss_at(b)
    for value, u in ((fa, a), (fb, b)):
        if value < score:
            score, u_best = value, u
    return score, u_best


def _sweep(table: _Rows, at: _Point) -> _Point:
    """One coordinate sweep: each constant in turn over a grid of its range, refined by
    golden section; only the rows that read the constant are recomputed."""
    best = table.loss(at)
    for j, name in enumerate(table.names):
        p = PARAMETER_BY_NAME[name]
        readers = at.readers[j]
        fixed_part = (
            best
            - _prior(at.constants)
            - sum(table.weights[i] * _huber(at.residuals[i]) for i in readers)
        )

        def loss_at(
            u: float, name=name, p=p, readers=readers, fixed_part=fixed_part, at=at
        ) -> float:
            moved = at.constants.replace(**{name: _from_unit(p, u)})
            residuals = table.residuals_of(moved, readers)
            return (
                fixed_part
                + _prior(moved)
                + sum(table.weights[i] * _huber(r) for i, r in zip(readers, residuals, strict=True))
            )

        grid = [i / (GRID_POINTS - 1) for i in range(GRID_POINTS)]
        u_now = _to_unit(p, at.constants.values[name])
        score, u_best = min([(loss_at(u), u) for u in grid] + [(best, u_now)])
        score, u_best = _golden(loss_at, u_best, score)
        if score < best:
            at = table.evaluate(at.constants.replace(**{name: _from_unit(p, u_best)}))
            best = table.loss(at)
    return at


def _fit(
    rows: Sequence[Measurement],
    start: Constants,
    names: list[str],
    sweeps: int,
    iterations: int,
) -> Constants:
    """One stage of :func:`fit`: Levenberg–Marquardt, then coordinate sweeps (a grid
    over each constant's range and a golden-section refinement) to step out of shallow
    local minima."""
    weights = _weights(rows)
    current = _levenberg_marquardt(rows, weights, start, names, iterations) if names else start
    table = _Rows(rows, weights, names)
    at = table.evaluate(current)
    best = table.loss(at)
    for _ in range(sweeps):
        before = best
        at = _sweep(table, at)
        best = table.loss(at)
        if before - best < 1e-4 * max(before, 1e-12):
            break
        at = table.evaluate(_levenberg_marquardt(rows, weights, at.constants, names))
        best = table.loss(at)
    current = at.constants
    return Constants(
        dict(current.values), dict(current.fixed), dict(current.error_bands), tuple(names)
    )


@dataclass(frozen=True)
class Outcome:
    """Prediction for one row: in-sample (constants fitted on all rows) and
    leave-one-source-out (fitted without the row's source)."""

    row: Measurement
    in_sample: float
    held_out: float | None

    def error(self, held_out: bool = True) -> float:
        """Absolute percentage error (as a fraction) of the chosen prediction."""
        predicted = self.held_out if held_out and self.held_out is not None else self.in_sample
        return abs(predicted - self.row.tokens_per_s) / self.row.tokens_per_s


def leave_one_source_out(
    rows: Sequence[Measurement], fitted: Constants, start: Constants
) -> dict[str, float]:
    """Held-out prediction for every row: refit without its source, predict its rows."""
    predictions: dict[str, float] = {}
    for source in sorted({row.source_key for row in rows}):
        train = [row for row in rows if row.source_key != source]
        test = [row for row in rows if row.source_key == source]
        names = [n for n in fitted.fitted if n in influential(train, start)]
        constants = fit(train, start, names) if train else start
        for row in test:
            predictions[row.id] = predict(row, constants)
    return predictions


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def error_bands(outcomes: Sequence[Outcome]) -> dict[str, tuple[float, float]]:
    """Per metric, the 10th and 90th percentiles of measured ÷ held-out prediction,
    widened where needed to hold the prediction itself (a metric with few rows, all
    measured above their prediction, would otherwise give a range beside the estimate)."""
    bands = {}
    for metric in METRICS:
        ratios = [
            o.row.tokens_per_s / o.held_out
            for o in outcomes
            if o.row.metric == metric and o.held_out
        ]
        if ratios:
            bands[metric] = (
                min(quantile(ratios, BAND_QUANTILES[0]), 1.0),
                max(quantile(ratios, BAND_QUANTILES[1]), 1.0),
            )
    return bands
