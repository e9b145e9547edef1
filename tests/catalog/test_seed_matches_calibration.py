"""A catalogue GPU and the calibration rows of the same card carry the same figures.

The estimator's efficiencies are fitted on the rows' bandwidth and compute figures; a
catalogue card listed with another convention (a matrix rate where the rows carry the
vector rate, as RDNA 4 and Intel Arc cards once were, or a sparse rate) is estimated with
constants fitted for a different number: up to 4x off in prefill.
"""

import re
from collections import defaultdict

import pytest

from configurator.engine.calibration.loader import (
    UNKNOWN_BANDWIDTH_GBS,
    UNKNOWN_COMPUTE_TFLOPS,
    load_measurements,
)

from .test_seed_consistency import GPUS

TOLERANCE = 0.06  # rounding and boost-clock differences between spec sheets


def _key(name: str) -> str:
    name = name.lower().replace("(used)", "")
    name = re.sub(r"\b(nvidia|geforce|tesla|intel|amd)\b", "", name)
    return re.sub(r"\s+", " ", name).strip()


def _row_gpus() -> dict[str, set[tuple[float, float, float]]]:
    """Card name -> the (FP16, FP32, bandwidth) figures the estimator is given for it."""
    measurements, _ = load_measurements()
    figures: dict[str, set[tuple[float, float, float]]] = defaultdict(set)
    for m in measurements:
        for group in m.machine.gpus:
            gpu = group.gpu
            figures[_key(gpu.name)].add((gpu.fp16_tflops, gpu.fp32_tflops, gpu.bandwidth_gbs))
    return figures


ROW_GPUS = _row_gpus()


def _rows_for(part: dict) -> set[tuple[float, float, float]]:
    """The rows' figures for a catalogue card: the same name, or the name without the
    catalogue's memory size ("Arc B580 12GB" is the rows' "Arc B580")."""
    key = _key(part["name"])
    return ROW_GPUS.get(key) or ROW_GPUS.get(re.sub(r" \d+ ?gb$", "", key)) or set()


MATCHED = [part for part in GPUS if _rows_for(part)]


def test_catalogue_cards_are_matched_to_calibration_rows():
    # The check below must look at a real share of the catalogue, not pass on none.
    assert len(MATCHED) >= 30


@pytest.mark.parametrize("part", MATCHED, ids=[p["slug"] for p in MATCHED])
def test_catalogue_card_carries_the_figures_its_calibration_rows_carry(part):
    specs = part["specs"]
    catalogue = {
        "fp16_tflops": specs.get("fp16_tflops"),
        "fp32_tflops": specs.get("fp32_tflops"),
        "bandwidth_gbs": specs.get("bandwidth_gbs"),
    }
    mismatches = []
    for fp16, fp32, bandwidth in _rows_for(part):
        for field, row_value in zip(catalogue, (fp16, fp32, bandwidth), strict=True):
            listed = catalogue[field]
            # A row without the figure is given a placeholder; nothing to compare.
            if not listed or row_value in (UNKNOWN_COMPUTE_TFLOPS, UNKNOWN_BANDWIDTH_GBS):
                continue
            if abs(row_value / listed - 1) > TOLERANCE:
                mismatches.append(f"{field}: catalogue {listed}, rows {row_value:g}")
    assert not mismatches, f"{part['name']}: {'; '.join(sorted(set(mismatches)))}"
