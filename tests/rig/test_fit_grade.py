"""The rig list's fit grade from real estimates: comfortable, tight (under 5 % of the
memory free) or does not fit, with the headroom in GB."""

from dataclasses import replace

import pytest

from configurator.engine import Machine, Workload, estimate
from configurator.engine.hardware import GIB_BYTES
from configurator.rig.canrun import TIGHT_HEADROOM, fit_grade
from tests.engine.models import BF16, LLAMA_3_8B, RTX_4090

WORKLOAD = Workload(context_tokens=4096, prompt_tokens=512)


def _on_a_card_holding(share_of_need: float):
    """An estimate of Llama 3 8B in BF16 on one card whose memory is ``share_of_need``
    times what the model needs there (plus nothing else)."""
    probe = estimate(Machine(gpus=((RTX_4090, 1),)), LLAMA_3_8B, BF16, WORKLOAD, evidence=False)
    need_gb = sum(d.total_gb for d in probe.memory if d.kind == "gpu")
    vram_gib = need_gb * share_of_need * 1e9 / GIB_BYTES
    card = replace(RTX_4090, vram_gb=vram_gib)
    return estimate(Machine(gpus=((card, 1),)), LLAMA_3_8B, BF16, WORKLOAD, evidence=False)


def test_plenty_of_memory_is_comfortable():
    grade, headroom = fit_grade(_on_a_card_holding(1.5))
    assert grade == "comfortable" and headroom > 0.25 * 16


def test_under_five_percent_free_is_tight_with_its_headroom():
    est = _on_a_card_holding(1.02)
    grade, headroom = fit_grade(est)
    gpu = next(d for d in est.memory if d.kind == "gpu")
    assert grade == "tight"
    assert headroom == pytest.approx(gpu.capacity_gb - gpu.total_gb)
    assert 0 < headroom < TIGHT_HEADROOM * gpu.capacity_gb


def test_too_little_memory_does_not_fit_and_says_how_much_is_missing():
    est = _on_a_card_holding(0.8)
    grade, headroom = fit_grade(est)
    assert grade == "does not fit" and not est.fits
    assert headroom == pytest.approx(-est.missing_gb) and headroom < 0
