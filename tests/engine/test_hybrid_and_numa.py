"""Hybrid CPU+GPU prefill (which matmuls cross PCIe), NUMA placement on two sockets, and
the loader's reading of run facts (stated RAM, PCIe link, ``-ser``, explicit exclusions)."""

from dataclasses import replace

import pytest

from configurator.engine import Machine, Quant, Workload, estimate, load_constants
from configurator.engine.engines import engine_profile
from configurator.engine.hardware import PCIE_LANE_GBS, CpuSystem
from configurator.engine.memory import model_parts
from configurator.engine.placement import place
from configurator.engine.rates import cpu_bandwidth_gbs
from configurator.engine.throughput import cpu_layer_overhead_s, host_offload, pool_overhead_s

from .models import EPYC_9354_1S, EPYC_9354_2S, QWEN3_30B_A3B, RTX_4090, RYZEN_DESKTOP

Q4 = Quant.from_name("Q4_K_M")


def test_llama_cpp_multiplies_host_weights_on_the_gpu_from_32_token_passes():
    parts = model_parts(QWEN3_30B_A3B, Q4)
    gpus = [object()]  # any GPU pool
    llama = engine_profile("llama.cpp")
    assert host_offload(gpus, llama, parts, 32) == (True, True)
    assert host_offload(gpus, llama, parts, 31) == (False, False)
    assert host_offload([], llama, parts, 512) == (False, False)


def test_ik_llama_copies_experts_only_when_each_expert_gets_32_tokens():
    # ik_llama.cpp PR 520: experts from 128 / 8 × 32 = 512 tokens per pass.
    parts = model_parts(QWEN3_30B_A3B, Q4)
    ik = engine_profile("ik_llama.cpp")
    assert host_offload([object()], ik, parts, 256) == (True, False)
    assert host_offload([object()], ik, parts, 512) == (True, True)


def test_offloaded_expert_prefill_is_bounded_by_the_link_not_the_cpu():
    workload = Workload(prompt_tokens=512, context_tokens=4096)
    results = {}
    for gen in (3, 4):
        host = replace(RYZEN_DESKTOP, pcie_gen=gen)
        results[gen] = estimate(
            Machine(gpus=((RTX_4090, 1),), cpu=host),
            QWEN3_30B_A3B,
            Q4,
            workload,
            expert_offload="all",
        )
    parts = model_parts(QWEN3_30B_A3B, Q4)
    host_bytes = parts.expert_layer_bytes * QWEN3_30B_A3B.layers
    link = PCIE_LANE_GBS[3] * 16 * load_constants()["pcie_efficiency"] * 1e9
    # One pass of 512 tokens cannot finish before the host's experts crossed a 3.0 x16 link.
    assert results[3].prefill_tokens_per_s <= 512 / (host_bytes / link) * 1.0001
    assert results[3].prefill_tokens_per_s < 0.75 * results[4].prefill_tokens_per_s


def test_a_cpu_holding_only_the_experts_pays_part_of_its_per_layer_cost():
    # ggml's CPU threads meet at a barrier after each graph node they compute: a block of
    # which the CPU multiplies only the routed experts gives it a few of the ~25 nodes.
    constants = load_constants()
    llama = engine_profile("llama.cpp")
    parts = model_parts(QWEN3_30B_A3B, Q4)
    machine = Machine(gpus=((RTX_4090, 1),), cpu=RYZEN_DESKTOP)
    workload = Workload(prompt_tokens=512, context_tokens=4096)

    def cpu_overhead(cpu_moe_layers: int, gpu_layers: int | None = None) -> float:
        layout = place(
            machine, QWEN3_30B_A3B, Q4, workload, llama, constants,
            gpu_layers=gpu_layers, cpu_moe_layers=cpu_moe_layers, parts=parts,
        )  # fmt: skip
        host = next(s for s in layout.slots if s.kind == "cpu")
        return pool_overhead_s(host, parts, llama, constants)

    per_layer = cpu_layer_overhead_s(RYZEN_DESKTOP, constants)
    share = constants["cpu_expert_block_overhead_share"]
    layers = QWEN3_30B_A3B.layers
    assert cpu_overhead(layers) == pytest.approx(layers * share * per_layer)
    assert share < 1
    # Whole blocks in RAM (no -ngl for them) pay the full per-layer cost.
    assert cpu_overhead(0, gpu_layers=layers - 8) == pytest.approx(8 * per_layer)


def test_two_sockets_without_interleave_read_one_sockets_channels():
    constants = load_constants()
    interleaved = cpu_bandwidth_gbs(EPYC_9354_2S, constants)
    first_touch = cpu_bandwidth_gbs(replace(EPYC_9354_2S, numa_interleave=False), constants)
    one_socket = cpu_bandwidth_gbs(EPYC_9354_1S, constants)
    assert first_touch == pytest.approx(one_socket, rel=0.01)
    assert interleaved > 1.4 * first_touch


def test_host_pcie_generation_is_validated():
    with pytest.raises(ValueError, match=r"^cpu\.pcie_gen"):
        CpuSystem("x", 1, 8, 2, 4800, 64, 500, pcie_gen=7)


@pytest.fixture(scope="module")
def loaded():
    from configurator.engine.calibration.loader import load_measurements

    rows, skipped = load_measurements()
    return {row.id: row for row in rows}, dict(skipped)


def test_the_loader_reports_explicit_exclusions_with_their_reason(loaded):
    _, skipped = loaded
    excluded = {k: v for k, v in skipped.items() if v.startswith("excluded: ")}
    assert excluded
    assert all(len(reason) > len("excluded: ") + 20 for reason in excluded.values())


def test_the_loader_applies_ser_to_generation_only_and_reads_stated_ram_and_links(loaded):
    rows, _ = loaded
    decode, prefill = rows["ik-llama-discussion-548-2"], rows["ik-llama-discussion-548-1"]
    assert decode.model.experts_per_token == 6  # -ser 6,1
    assert decode.model.active_params_b < prefill.model.active_params_b
    assert prefill.model.experts_per_token == 8
    assert prefill.machine.gpus[0].gpu.pcie_lanes == 8
    assert prefill.machine.cpu.pcie_gen == 3
    assert not prefill.machine.cpu.numa_interleave  # two sockets, no numactl stated
    assert rows["ik-llama-discussion-399-4"].machine.cpu.ram_gb == 16


def test_repacked_or_no_op_offload_runs_keep_host_matmuls_on_the_cpu(loaded):
    rows, _ = loaded
    assert not rows["ik-llama-discussion-548-1"].engine.prefill_on_gpu_for_host_layers  # -rtr
    assert rows["ik-llama-discussion-548-17"].engine.prefill_on_gpu_for_host_layers
    assert rows["ik-llama-discussion-548-1"].engine.cost_key == "ik_llama.cpp"
    assert rows["ik-llama-discussion-548-1"].engine.cpu_weights_repacked
    # llama-bench's "-rtr 0" is the flag turned off.
    assert not rows["ik-llama-discussion-201-13"].engine.cpu_weights_repacked
    assert rows["ik-llama-discussion-201-17"].engine.cpu_weights_repacked
