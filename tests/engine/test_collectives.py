"""Tensor-parallel all-reduces: algorithm per engine and topology, latency against
published microbenchmarks, and decode scaling over NVSwitch, NVLink bridges and PCIe."""

from dataclasses import replace

import pytest

from configurator.engine import Machine, Quant, Workload, estimate, load_constants
from configurator.engine.calibration import Constants
from configurator.engine.calibration.fit import predict
from configurator.engine.calibration.loader import load_measurements
from configurator.engine.collectives import (
    allreduce_algorithm,
    allreduce_latency_s,
    allreduce_seconds,
)
from configurator.engine.engines import engine_profile
from configurator.engine.placement import place

from .models import LLAMA_3_8B, LLAMA_3_70B, RTX_3090, RTX_4090
from .test_serving_engines import H100_SXM

FP8 = Quant.from_name("FP8")
BF16 = Quant.from_name("BF16")
AWQ = Quant.from_name("AWQ-4bit")
VLLM = engine_profile("vllm")


def _sync_ms(result) -> float:
    return sum(ms for label, ms in result.decode_time_ms if label == "GPU synchronisation")


def _layout(machine: Machine, model=LLAMA_3_70B, quant=FP8):
    return place(machine, model, quant, Workload(), VLLM, load_constants())


def _kernel_only(constants: Constants) -> Constants:
    """The constants without the in-model barrier wait (what a microbenchmark sees)."""
    return replace(constants, values={**constants.values, "allreduce_wait_us": 0.0})


@pytest.mark.parametrize("quant", [AWQ, FP8, BF16])
@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_decode_of_a_70b_speeds_up_from_2_to_4_to_8_h100s_over_nvswitch(quant, engine):
    # Each GPU reads 1/n of the weights; vLLM's one-shot all-reduce over NVSwitch costs
    # about the same at 8 GPUs as at 2 (SGLang PR 2904: 8.7 / 9.2 / 11.8 µs for 32 KB),
    # so halving the reads wins (vLLM issue 16300, QwQ-32B on A100 SXM: 36 -> 50 -> 63
    # tokens/s from TP 2 to 4 to 8).
    speeds = [
        estimate(Machine(gpus=((H100_SXM, n),)), LLAMA_3_70B, quant, engine=engine)
        for n in (2, 4, 8)
    ]
    assert all(s.fits and s.split == "tensor" for s in speeds)
    rates = [s.decode_tokens_per_s for s in speeds]
    assert rates[0] < rates[1] < rates[2]
    # Published: 1.26x from TP 4 to 8 (QwQ-32B, A100); the engine gives about 1.15x for a
    # 70B on H100 (the fitted barrier wait per all-reduce takes the rest).
    assert rates[2] > 1.1 * rates[1]
    # The all-reduces barely grow with the GPUs: one hop per extra peer.
    assert _sync_ms(speeds[2]) < 1.2 * _sync_ms(speeds[0])


def test_one_shot_latency_matches_the_published_microbenchmark():
    # SGLang PR 2904, vLLM's custom all-reduce on H100 (NVSwitch), 32 KB, no CUDA
    # graphs: 8.7 / 9.2 / 11.8 µs at 2 / 4 / 8 GPUs.
    constants = _kernel_only(load_constants())
    for n, published_us in ((2, 8.7), (4, 9.2), (8, 11.8)):
        layout = _layout(Machine(gpus=((H100_SXM, n),)))
        assert allreduce_algorithm(layout, VLLM, 32768) == "oneshot"
        predicted_us = allreduce_seconds(layout, VLLM, 32768, constants) * 1e6
        assert predicted_us == pytest.approx(published_us, rel=0.15)


def test_nccl_ring_latency_grows_with_the_gpus_and_matches_nccl_on_8_h100s():
    # Triton-distributed issue 57: torch.distributed (NCCL) on 8 × H100, 19.2–20.7 µs for
    # 128 B–16 KB. NCCL's model: base + 2 (n − 1) hops.
    constants = _kernel_only(load_constants())
    no_custom = VLLM.with_flags("--disable-custom-all-reduce")
    layouts = {n: _layout(Machine(gpus=((H100_SXM, n),))) for n in (2, 8)}
    assert allreduce_algorithm(layouts[8], no_custom, 16384) == "ring"
    eight_us = allreduce_seconds(layouts[8], no_custom, 16384, constants) * 1e6
    assert eight_us == pytest.approx(20.0, rel=0.1)
    two = allreduce_latency_s(layouts[2], "ring", constants)
    eight = allreduce_latency_s(layouts[8], "ring", constants)
    hop = constants["allreduce_hop_us.nvlink"] * 1e-6
    assert eight - two == pytest.approx(12 * hop)
    # Without the custom kernel the same 8-GPU decode is slower.
    machine = Machine(gpus=((H100_SXM, 8),))
    custom = estimate(machine, LLAMA_3_70B, FP8, engine="vllm")
    nccl = estimate(machine, LLAMA_3_70B, FP8, engine=no_custom)
    assert _sync_ms(nccl) > _sync_ms(custom)


def test_pcie_without_peer_to_peer_pays_for_staging_through_host_memory():
    # GeForce drivers refuse peer-to-peer: NCCL stages each hop in system RAM (two PCIe
    # crossings) and vLLM's custom all-reduce, which reads the peers' memory, is off.
    with_p2p = Machine(gpus=((replace(RTX_4090, pcie_p2p=True), 2),))
    without = Machine(gpus=((replace(RTX_4090, pcie_p2p=False), 2),))
    fast = estimate(with_p2p, LLAMA_3_8B, BF16, engine="vllm")
    slow = estimate(without, LLAMA_3_8B, BF16, engine="vllm")
    layouts = {
        "p2p": _layout(with_p2p, LLAMA_3_8B, BF16),
        "host": _layout(without, LLAMA_3_8B, BF16),
    }
    assert layouts["p2p"].link == "pcie" and layouts["host"].link == "host"
    message = LLAMA_3_8B.hidden_size * 2.0
    assert allreduce_algorithm(layouts["p2p"], VLLM, message) == "oneshot"
    assert allreduce_algorithm(layouts["host"], VLLM, message) == "ring"
    constants = load_constants()
    per_reduce_us = {
        name: allreduce_seconds(layout, VLLM, message, constants) * 1e6
        for name, layout in layouts.items()
    }
    assert per_reduce_us["host"] > per_reduce_us["p2p"] + 5
    assert _sync_ms(slow) > _sync_ms(fast)
    assert slow.decode_tokens_per_s < fast.decode_tokens_per_s
    assert any("no peer-to-peer" in note for note in slow.assumptions)


def test_four_pcie_gpus_fall_back_to_nccl_and_bridged_pairs_are_not_a_switch():
    # vLLM turns its custom all-reduce off for more than two GPUs that are not fully
    # connected; NVLink bridges join pairs only, so four bridged 3090s talk over PCIe.
    message = LLAMA_3_70B.hidden_size * 2.0
    pcie = _layout(Machine(gpus=((RTX_4090, 4),)), quant=AWQ)
    assert pcie.link == "pcie" and allreduce_algorithm(pcie, VLLM, message) == "ring"
    bridged = replace(RTX_3090, interconnect_group_size=2)
    assert _layout(Machine(gpus=((bridged, 2),)), quant=AWQ).link == "nvlink"
    four = _layout(Machine(gpus=((bridged, 4),)), quant=AWQ)
    assert four.link == "pcie" and allreduce_algorithm(four, VLLM, message) == "ring"
    switch = _layout(Machine(gpus=((H100_SXM, 4),)))
    constants = load_constants()
    assert allreduce_seconds(four, VLLM, message, constants) > allreduce_seconds(
        switch, VLLM, message, constants
    )


def test_vllm_tensor_parallel_rows_of_issue_16300_fall_within_the_decode_band():
    # QwQ-32B BF16 on 2 / 4 / 8 × A100 SXM (NVSwitch), vLLM benchmark_latency, batch 1:
    # 36.2 / 50 / 63 tokens/s.
    rows, _ = load_measurements()
    picked = sorted(
        (r for r in rows if r.id in {f"vllm-issue-16300-{i}" for i in (1, 2, 3)}),
        key=lambda r: r.placement.tensor_parallel,
    )
    assert [r.placement.tensor_parallel for r in picked] == [2, 4, 8]
    constants = load_constants()
    low, high = constants.error_bands["decode"]
    predicted = [predict(r, constants) for r in picked]
    for row, value in zip(picked, predicted, strict=True):
        assert low <= row.value / value <= high, row.id
    assert predicted[0] < predicted[1] < predicted[2]
