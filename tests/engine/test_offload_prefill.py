"""Prefill with layers or experts held in system RAM beside a GPU (llama.cpp op offload):
each ubatch copies the host's weights over PCIe before the GPU multiplies them, so the
prompt rate grows with the ubatch and the link, and pageable (memory-mapped or plain CPU
buffer) weights cross at about half the pinned rate."""

from dataclasses import replace

import pytest

from configurator.engine import Machine, Workload, estimate, load_constants
from configurator.engine.engines import engine_profile
from configurator.engine.hardware import PCIE_LANE_GBS
from configurator.engine.memory import model_parts
from configurator.engine.throughput import copied_expert_bytes

from .models import LLAMA_3_70B, Q4_K_M, QWEN3_30B_A3B, RTX_4090, RYZEN_DESKTOP

PROMPT = 4096
HOST_LAYERS = 40  # of 80: half of a 70B Q4 in system RAM


def _prefill(ubatch: int = 512, host_gen: int = 4, pinned: bool = False) -> float:
    engine = replace(
        engine_profile("llama.cpp"), activation_tokens=ubatch, host_weights_pinned=pinned
    )
    machine = Machine(gpus=((RTX_4090, 1),), cpu=replace(RYZEN_DESKTOP, pcie_gen=host_gen))
    result = estimate(
        machine,
        LLAMA_3_70B,
        Q4_K_M,
        Workload(prompt_tokens=PROMPT, context_tokens=8192),
        engine=engine,
        gpu_layers=80 - HOST_LAYERS,
    )
    return result.prefill_tokens_per_s


def _link_bound(ubatch: int, host_gen: int, share: float) -> float:
    """Tokens/s if nothing but copying the host's layers once per ubatch took time."""
    host_bytes = HOST_LAYERS * model_parts(LLAMA_3_70B, Q4_K_M).dense_layer_bytes
    link = PCIE_LANE_GBS[host_gen] * 16 * share * 1e9
    return PROMPT / (PROMPT / ubatch * host_bytes / link)


def test_half_a_70b_in_ram_prefills_faster_with_a_bigger_ubatch():
    rates = {ub: _prefill(ubatch=ub) for ub in (256, 512, 2048)}
    share = load_constants()["pcie_pageable_efficiency"]
    for ub, rate in rates.items():
        # Never faster than the copies alone allow; the GPU's own work adds to them.
        assert rate <= _link_bound(ub, 4, share) * 1.0001
    # Small ubatches are link-bound: the copies dominate, so twice the tokens per copy
    # gives close to twice the rate.
    assert rates[256] > 0.8 * _link_bound(256, 4, share)
    assert 1.7 * rates[256] < rates[512] < 2.0 * rates[256]
    # At 2048 the GPU's 2 × 70 G FLOPs per token weigh in as well.
    assert 1.5 * rates[512] < rates[2048] < 4.0 * rates[512]


def test_half_a_70b_in_ram_prefills_faster_on_a_newer_pcie_link():
    gen3, gen4 = _prefill(host_gen=3), _prefill(host_gen=4)
    # PCIe 4.0 moves twice the bytes per lane of 3.0; the GPU's own work is shared.
    assert 1.6 * gen3 < gen4 < 2.0 * gen3


def test_pinned_host_weights_cross_the_link_faster_than_pageable_ones():
    constants = load_constants()
    ratio = constants["pcie_efficiency"] / constants["pcie_pageable_efficiency"]
    pageable, pinned = _prefill(), _prefill(pinned=True)
    assert 1.3 < pinned / pageable <= ratio * 1.0001


@pytest.fixture(scope="module")
def rows():
    from configurator.engine.calibration.loader import load_measurements

    loaded, _ = load_measurements()
    return {row.id: row for row in loaded}


@pytest.mark.parametrize(
    ("row_id", "published"),
    [
        # llama.cpp, RTX 4080 (PCIe 4.0 x16), FFN of 14 of 48 Qwen3-30B-A3B layers in RAM
        # (-ot ...=CPU), pp512 at depth 512: ik_llama.cpp discussion 357.
        ("ik-llama-discussion-357-21", 1025.61),
        # ik_llama.cpp, RTX 4060 Ti (PCIe 4.0 x8 in a 3.0 host), every expert of
        # Qwen3-30B-A3B Q8_0 in RAM (-ot exps=CPU), pp512: ik_llama.cpp discussion 548.
        ("ik-llama-discussion-548-17", 53.74),
    ],
)
def test_published_op_offload_prefill_is_within_its_band(rows, row_id, published):
    from configurator.engine.calibration.fit import predict

    row = rows[row_id]
    assert row.tokens_per_s == pytest.approx(published)
    assert predict(row, load_constants()) == pytest.approx(published, rel=0.25)


def test_the_loader_reads_no_mmap_as_pinned_host_weights(rows):
    assert rows["llamacpp-pr-21024-1"].engine.host_weights_pinned  # -mmp 0
    assert not rows["ik-llama-discussion-357-21"].engine.host_weights_pinned  # mmap
    # --no-mmap, but -ot exps=CPU put the experts in the plain CPU buffer (before
    # llama.cpp PR 14990 let overrides use the GPU's host buffer).
    assert not rows["ik-llama-discussion-548-17"].engine.host_weights_pinned


def test_the_loader_dates_llama_cpp_copying_only_the_experts_in_use(rows):
    assert not rows["ik-llama-discussion-357-21"].engine.copies_routed_experts_only  # 2025-04
    assert rows["hardwarecorner-gptoss120b-moe-offload-3"].engine.copies_routed_experts_only


def test_copying_only_routed_experts_moves_what_the_pass_uses():
    constants = load_constants()
    share = constants["expert_copy_routed_share"]
    parts = model_parts(QWEN3_30B_A3B, Q4_K_M)
    llama = engine_profile("llama.cpp")
    whole = replace(llama, copies_routed_experts_only=False)
    assert copied_expert_bytes(parts, whole, constants, 32) == parts.expert_layer_bytes
    # One token picks 8 of 128 experts.
    one = copied_expert_bytes(parts, llama, constants, 1)
    assert one == pytest.approx(parts.expert_layer_bytes * 8 / 128)
    # A long pass saturates at the share real routing uses, not at every expert.
    big = copied_expert_bytes(parts, llama, constants, 4096)
    assert big == pytest.approx(parts.expert_layer_bytes * share, rel=1e-3)
    assert one < copied_expert_bytes(parts, llama, constants, 64) < big
