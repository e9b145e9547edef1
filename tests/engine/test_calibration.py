"""The efficiency constants: within physical bounds, and reproducing the measurements."""

import json
from collections import Counter

import pytest

from configurator.engine import load_constants
from configurator.engine.calibration import (
    CONSTANTS_PATH,
    NOT_FITTED,
    PARAMETER_BY_NAME,
    PARAMETERS,
    default_constants,
)
from configurator.engine.calibration.fit import Outcome, _loss, fit, predict
from configurator.engine.calibration.loader import load_measurements
from configurator.engine.validate import main, summarise


@pytest.fixture(scope="module")
def measured():
    return load_measurements()


def test_an_unknown_constant_is_an_error_naming_it():
    """No name is answered by a guess: the old per-vendor bandwidth names (replaced by
    memory classes) once fell back to the best class's value."""
    constants = load_constants()
    assert constants["bandwidth_efficiency.gddr6"] > 0
    for name in ("bandwidth_efficiency.gpu_nvidia", "bandwidth_efficiency.gpu_amd_hbm", "x"):
        with pytest.raises(KeyError, match=name):
            constants[name]


def test_the_stored_constants_are_within_their_bounds():
    data = json.loads(CONSTANTS_PATH.read_text(encoding="utf-8"))
    for name, value in data["values"].items():
        parameter = PARAMETER_BY_NAME[name]
        assert parameter.low <= value <= parameter.high, name
    for name in data["fitted"]:
        assert name in PARAMETER_BY_NAME and name not in NOT_FITTED
    efficiencies = [
        p.name for p in PARAMETERS if "efficiency" in p.name or p.name.endswith("factor")
    ]
    assert efficiencies
    assert all(0 < load_constants()[name] <= 1 for name in efficiencies)


def test_every_parameter_documents_a_plausible_range():
    for parameter in PARAMETERS:
        assert parameter.low <= parameter.default <= parameter.high
        assert parameter.meaning


def test_the_error_bands_bracket_the_prediction():
    for low, high in load_constants().error_bands.values():
        assert 0 < low <= 1 <= high and low < high


def test_it_loads_at_least_sixty_measurements_and_explains_every_skip(measured):
    rows, skipped = measured
    assert len(rows) >= 60
    assert all(reason for _, reason in skipped)
    categories = Counter(row.category for row in rows)
    assert {"nvidia-consumer", "apple", "multi-gpu", "offload", "moe"} <= categories.keys()
    assert {"decode", "prefill"} <= Counter(row.metric for row in rows).keys()
    assert all(row.date[:4].isdigit() for row in rows), "every row carries its date"


def test_in_sample_errors_stay_within_what_the_readme_reports(measured):
    # Community rows include setups the engine cannot see (GPUs driven from a Raspberry
    # Pi, hosts short of RAM), so the 90th percentile is far wider than the median; the
    # README states both.
    rows, _ = measured
    constants = load_constants()
    outcomes = [Outcome(row, predict(row, constants), None) for row in rows]
    summary = summarise(outcomes, held_out=False)
    assert summary["decode"]["overall"]["median"] <= 15
    assert summary["decode"]["overall"]["p90"] <= 100
    assert summary["prefill"]["overall"]["median"] <= 30
    assert summary["batched_decode"]["overall"]["median"] <= 20
    # Power rows: wall meters (often peak readings) and GPU-reported draw, a third of
    # them under an owner's power limit.
    assert summary["power"]["overall"]["rows"] >= 25
    assert summary["power"]["overall"]["median"] <= 20


def test_the_fit_improves_on_the_defaults_for_a_class(measured):
    rows, _ = measured
    amd = [row for row in rows if row.category == "amd" and row.metric == "decode"]
    start = default_constants()
    fitted = fit(amd, start, ["vendor_bandwidth_factor.amd"])

    def loss(constants):
        return _loss(amd, [1.0] * len(amd), constants)

    assert loss(fitted) <= loss(start)
    assert fitted.fitted == ("vendor_bandwidth_factor.amd",)


def test_the_validation_command_prints_rows_and_figures(capsys):
    assert main(["--in-sample"]) == 0
    out = capsys.readouterr().out
    assert "In sample" in out and "decode" in out and "prefill" in out
    assert "median" in out and "p90" in out


def test_a_prediction_reads_every_constant_it_depends_on(measured):
    """The fit recomputes only the rows that read the constant it moves; that is exact
    only if moving any constant a row did not read leaves the row's prediction as it
    was. Checked on every measurement row and every fitted constant, moved to both ends
    of its range."""
    from configurator.engine.calibration.fit import predict_reading

    rows, _ = measured
    constants = load_constants()
    reads = [predict_reading(row, constants) for row in rows]
    assert all(read is not None for _, read in reads), "no row needs bulk access"
    for name in constants.fitted:
        parameter = PARAMETER_BY_NAME[name]
        for value in (parameter.low, parameter.high):
            moved = constants.replace(**{name: value})
            for row, (before, read) in zip(rows, reads, strict=True):
                if name not in read:
                    assert predict(row, moved) == before, (row.id, name)
    assert sum(len(read) for _, read in reads) < 0.5 * len(rows) * len(constants.fitted)


def test_a_held_out_source_is_refitted_from_the_defaults_not_the_all_rows_fit(measured):
    """Leave-one-source-out must not start from constants fitted with the held-out rows
    in them: with the all-rows fit as a start, a refit that finds no first step keeps it
    and reports in-sample figures."""
    from configurator.engine import validate

    rows, _ = measured
    source = "kyuz0-mi50-gfx906-toolboxes"
    assert any(row.source_key == source for row in rows)
    names = ["vendor_bandwidth_factor.amd", "bandwidth_efficiency.gddr6"]
    held = validate._fit_without(("source", source, names))
    trained = [row for row in rows if row.source_key != source]
    expected = fit(trained, default_constants(), names, sweeps=0)
    for row in rows:
        if row.source_key == source:
            assert held[row.id] == pytest.approx(predict(row, expected), rel=1e-9)
