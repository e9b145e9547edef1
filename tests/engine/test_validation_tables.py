"""The README tables are read off the validation report, not retyped."""

from configurator.engine.calibration.tables import category_table, summary_table

REPORT = {
    "split_year": 2024,
    "targets": {"decode": [0.10, 0.25], "prefill": [0.20, None]},
    "rows": [],
    "skipped": [],
    "sources": 0,
    "summary": {
        "in_sample": {
            "decode": {
                "apple": {"rows": 3, "median": 7.25, "p90": 25.0},
                "overall": {"rows": 5, "median": 11.44, "p90": 56.7},
            }
        },
        "leave_one_source_out": {"decode": {"overall": {"rows": 5, "median": 13.3, "p90": 65.5}}},
    },
}


def test_summary_table_gives_each_view_median_p90_and_rows_with_the_target():
    table = summary_table(REPORT)
    decode = next(line for line in table.splitlines() if line.startswith("| decode"))
    assert decode == (
        "| decode tokens/s | 11.4 % / 56.7 % (5) | 13.3 % / 65.5 % (5) | ≤ 10 % / ≤ 25 % |"
    )
    prefill = next(line for line in table.splitlines() if line.startswith("| prefill"))
    assert prefill.endswith("| no rows | no rows | median ≤ 20 % |")
    assert "time split" not in table.splitlines()[0]  # a view the report lacks is left out


def test_category_table_lists_categories_then_overall():
    rows = category_table(REPORT, "decode").splitlines()
    assert rows[2] == "| apple | 7.2 % / 25.0 % (3) | no rows |"
    assert rows[-1].startswith("| overall | 11.4 % / 56.7 % (5) | 13.3 % / 65.5 % (5) |")


def test_unmoved_sources_flags_refits_that_left_a_whole_source_unchanged():
    from types import SimpleNamespace

    from configurator.engine.calibration.fit import Outcome
    from configurator.engine.validate import unmoved_sources

    def outcome(source, in_sample, held):
        row = SimpleNamespace(source_key=source, tokens_per_s=100.0)
        return Outcome(row, in_sample, held)

    outcomes = [
        outcome("a", 90.0, 90.0),
        outcome("a", 50.0, 50.00000001),
        outcome("b", 90.0, 90.0),
        outcome("b", 80.0, 70.0),
        outcome("c", 80.0, None),
    ]
    sources, rows = unmoved_sources(outcomes)
    assert sources == {"a"}
    assert len(rows) == 3


def test_constants_table_lists_every_constant_and_marks_the_unfitted():
    from configurator.engine.calibration import PARAMETERS, default_constants
    from configurator.engine.calibration.tables import constants_table

    fitted = default_constants()
    fitted = type(fitted)(fitted.values, fitted.fixed, fitted.error_bands, ("numa_efficiency",))
    table = constants_table(fitted)
    groups = {p.name.split(".", 1)[0] for p in PARAMETERS}
    assert all(f"| `{g}` |" in table for g in groups)
    numa = next(line for line in table.splitlines() if line.startswith("| `numa_efficiency`"))
    assert "| 0.8 |" in numa  # fitted: no mark
    step = next(line for line in table.splitlines() if line.startswith("| `step_overhead_ms`"))
    assert "llama.cpp " in step and "*" in step  # defaults, all marked
