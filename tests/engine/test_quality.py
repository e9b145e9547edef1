"""The best quality that fits: formats ranked by measured KL divergence."""

import pytest

from configurator.engine import Quant
from configurator.engine.quality import ESTIMATED, MEASURED, best_quality_that_fits, rank_by_quality

from .test_gguf import LLAMA_31_70B

# Mean KLD vs FP16 on Llama 3 8B, llama.cpp's scoreboard
# (https://github.com/ggml-org/llama.cpp/blob/master/tools/perplexity/README.md).
SCOREBOARD = {
    "Q8_0": 0.001391,
    "Q6_K": 0.005669,
    "Q5_K_M": 0.011093,
    "Q4_K_M": 0.029126,
    "Q4_K_S": 0.032768,
    "IQ4_XS": 0.037087,
    "Q3_K_M": 0.085849,
    "Q2_K": 0.342129,
}


def formats():
    return [
        Quant(name, Quant.from_name(name).bits_per_weight, "GGUF", kld)
        for name, kld in SCOREBOARD.items()
    ]


def test_it_picks_the_least_lossy_format_that_fits_beside_the_cache():
    kv = 6e9
    # Q4_K_M is 42.5 GB: with 6 GB of cache it needs 48.5 GB.
    assert best_quality_that_fits(LLAMA_31_70B, formats(), 49e9, kv).quant.name == "Q4_K_M"
    # At 48 GB Q4_K_S (40.3 GB) beats the smaller IQ4_XS, whose KLD is higher.
    assert best_quality_that_fits(LLAMA_31_70B, formats(), 48e9, kv).quant.name == "Q4_K_S"
    assert best_quality_that_fits(LLAMA_31_70B, formats(), 200e9).quant.name == "Q8_0"
    assert best_quality_that_fits(LLAMA_31_70B, formats(), 20e9) is None


def test_unmeasured_formats_are_placed_by_their_bits_and_say_so():
    ranked = rank_by_quality(
        LLAMA_31_70B, [*formats(), Quant("FP8", 8.0, "FP8"), Quant("BF16", 16.0, "native")]
    )
    names = [c.quant.name for c in ranked]
    assert names[0] == "BF16" and names.index("FP8") < names.index("Q6_K")
    fp8 = next(c for c in ranked if c.quant.name == "FP8")
    assert fp8.basis == ESTIMATED and 0.001 < fp8.mean_kld < 0.003
    assert next(c for c in ranked if c.quant.name == "Q4_K_M").basis == MEASURED


def test_a_choice_carries_the_models_own_bits_per_weight():
    choice = best_quality_that_fits(LLAMA_31_70B, formats(), 49e9, 6e9)
    assert choice.bits_per_weight == pytest.approx(4.82, abs=0.01)
    assert choice.weights_bytes == pytest.approx(42.52e9, rel=0.005)
