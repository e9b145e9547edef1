"""The build search with the estimate's run options (backend, threads, expert offload,
speculative decoding): every estimate the search makes runs with them, and the bounds
the search prunes with stay upper bounds."""

from __future__ import annotations

import pytest

from configurator.engine import estimate
from configurator.engine.builds import Search, evaluate, recommend
from configurator.engine.builds.assembly import machine_for
from configurator.engine.builds.request import CPU_SERVER, GPU_SERVER, GPU_TOWER, HYBRID, UNIFIED
from configurator.engine.builds.rules import Assembly
from configurator.engine.spec import SpecDecode, tokens_per_cycle
from tests.configurator.seedcat import seed_model, seed_quant

GLM_AIR = "glm-4-5-air"  # MoE, 46 layers, one MTP layer (seed llm_models.json)
LLAMA_8B = "llama-3-1-8b-instruct"


def parts_of(build):
    return [(line.slug, line.qty) for line in build.lines]


def first(rec, *architectures):
    for build in rec.builds:
        if build.architecture in architectures:
            return build
    raise AssertionError(f"no {architectures} build in {[b.title for b in rec.builds]}")


def test_expert_offload_all_puts_every_routed_expert_in_ram_and_slows_decode(seed, ask):
    plain = ask(GLM_AIR, min_tps=5, limit=10)
    build = first(recommend(seed, plain), GPU_TOWER, GPU_SERVER)
    assert build.estimate.memory[-1].kind != "cpu" or build.estimate.memory[-1].layers == 0
    offload = plain.relaxed(expert_offload="all")
    moved = evaluate(seed, offload, parts_of(build))
    # The experts now come from system RAM, far slower than VRAM: decode drops.
    assert "routed experts of 46 layers" in moved.estimate.placement
    assert moved.tokens_per_s < build.tokens_per_s * 0.8
    # The search returns builds estimated that way.
    rec = recommend(seed, offload)
    gpu_builds = [b for b in rec.builds if any(line.kind == "gpu" for line in b.lines)]
    assert gpu_builds
    for b in gpu_builds:
        assert "routed experts of 46 layers" in b.estimate.placement, b.title
    assert any("expert_offload all" in note for note in rec.notes)


def test_expert_offload_of_some_layers_sits_between_none_and_all(seed, ask):
    plain = ask(GLM_AIR, min_tps=5)
    build = first(recommend(seed, plain), GPU_TOWER, GPU_SERVER)
    half = evaluate(seed, plain.relaxed(expert_offload=23), parts_of(build)).tokens_per_s
    full = evaluate(seed, plain.relaxed(expert_offload="all"), parts_of(build)).tokens_per_s
    assert full < half < build.tokens_per_s


def test_mtp_speculation_raises_a_memory_bound_builds_decode_speed(seed, ask):
    plain = ask(GLM_AIR, min_tps=5)
    spec = plain.relaxed(spec_decode=SpecDecode("mtp"))
    build = first(recommend(seed, plain), UNIFIED)
    fast = evaluate(seed, spec, parts_of(build))
    info = fast.estimate.spec_decode
    assert info["method"] == "mtp" and info["acceptance_rate"] == 0.85
    assert fast.tokens_per_s == pytest.approx(info["decode_tokens_per_s"])
    # Faster, but never by more than the tokens one cycle commits (1 + 0.85 at k = 1).
    assert build.tokens_per_s < fast.tokens_per_s
    assert fast.tokens_per_s <= build.tokens_per_s * tokens_per_cycle(0.85, 1)
    rec = recommend(seed, spec)
    assert rec.builds and all(b.estimate.spec_decode for b in rec.builds)
    assert recommend(seed, spec).to_dict()["request"]["spec_decode"]["method"] == "mtp"


def test_a_lower_acceptance_rate_gains_less(seed, ask):
    plain = ask(GLM_AIR, min_tps=5)
    build = first(recommend(seed, plain), UNIFIED)
    high = evaluate(seed, plain.relaxed(spec_decode=SpecDecode("mtp")), parts_of(build))
    low = evaluate(
        seed, plain.relaxed(spec_decode=SpecDecode("mtp", acceptance_rate=0.3)), parts_of(build)
    )
    assert low.tokens_per_s < high.tokens_per_s


def test_vulkan_on_an_nvidia_build_changes_the_engines_backend(seed, ask):
    plain = ask(LLAMA_8B, min_tps=5, stack="cuda")
    build = first(recommend(seed, plain), GPU_TOWER, GPU_SERVER)
    assert build.estimate.backend.startswith("CUDA")
    vulkan = evaluate(seed, plain.relaxed(backend="Vulkan"), parts_of(build))
    assert vulkan.estimate.backend.startswith("Vulkan")
    # Calibrated: Vulkan prompt processing is about half of CUDA's on the same GPU.
    assert vulkan.estimate.prefill_tokens_per_s < build.estimate.prefill_tokens_per_s
    rec = recommend(seed, plain.relaxed(backend="vulkan"))
    assert rec.builds and all("Vulkan" in b.estimate.backend for b in rec.builds)
    # A CPU-only build has no GPU for Vulkan to drive.
    assert all(b.architecture != CPU_SERVER for b in rec.builds)


def test_the_cpu_backend_leaves_only_cpu_servers(seed, ask):
    rec = recommend(seed, ask(LLAMA_8B, min_tps=1, backend="CPU"))
    assert rec.builds and {b.architecture for b in rec.builds} == {CPU_SERVER}


def test_fewer_threads_slow_a_cpu_servers_compute_and_one_its_decode(seed, ask):
    plain = ask(LLAMA_8B, min_tps=1, limit=20)
    build = first(recommend(seed, plain), CPU_SERVER)
    assert build.title.startswith("AMD Ryzen 5 5600")  # 6 cores, 2 DDR4 channels
    one = evaluate(seed, plain.relaxed(threads=1), parts_of(build))
    two = evaluate(seed, plain.relaxed(threads=2), parts_of(build))
    # One core cannot pull the memory's bandwidth; two already saturate two channels.
    assert one.tokens_per_s < build.tokens_per_s
    assert two.tokens_per_s == pytest.approx(build.tokens_per_s, rel=0.05)
    # Prompt processing is compute-bound: it scales with the cores used, 2 of 6.
    assert two.estimate.prefill_tokens_per_s == pytest.approx(
        build.estimate.prefill_tokens_per_s * 2 / 6, rel=0.1
    )


def test_an_engine_without_the_method_is_not_used(seed, ask):
    # llama.cpp has no EAGLE; nothing else loads GGUF on GPUs here: no builds, said so.
    rec = recommend(seed, ask(LLAMA_8B, min_tps=1, spec_decode=SpecDecode("eagle")))
    assert not rec.builds
    assert any("No engine runs Q4_K_M with these options" in n for n in rec.notes)


@pytest.mark.parametrize(
    "options",
    [
        {"spec_decode": SpecDecode("mtp")},
        {"spec_decode": SpecDecode("ngram", acceptance_rate=0.9)},
        {"backend": "Vulkan"},
        {"expert_offload": "all", "threads": 8},
    ],
    ids=["mtp", "ngram", "vulkan", "offload"],
)
def test_bounds_stay_above_every_estimate_with_the_options(fresh_seed, ask, options):
    search = Search(fresh_seed, ask(GLM_AIR, min_tps=1, **options))
    checked = 0
    for cand in search.stubs():
        if cand.state.name != "STUB" or not search.complete(cand):
            continue
        build = search.evaluate(cand)
        if build.estimate is None:
            continue
        checked += 1
        assert build.tokens_per_s <= cand.tps_ub * (1 + 1e-9), (build.title, cand.tps_ub)
        assert build.estimate.prefill_tokens_per_s <= cand.prefill_ub * (1 + 1e-9)
        if checked >= 60:
            break
    assert checked >= 10


def test_options_reach_the_estimator_exactly_as_estimate_takes_them(seed, ask):
    request = ask(GLM_AIR, min_tps=5, backend="Vulkan", threads=6, expert_offload=10)
    build = first(recommend(seed, request), GPU_TOWER, GPU_SERVER, HYBRID)
    items = [(seed.get(slug), qty) for slug, qty in parts_of(build)]
    machine = machine_for(Assembly(items))
    direct = estimate(
        machine,
        request.model,
        request.quant,
        request.workload,
        engine=build.engine,
        backend="Vulkan",
        threads=6,
        expert_offload=10,
    )
    assert build.estimate.decode_tokens_per_s == pytest.approx(direct.decode_tokens_per_s)
    assert build.estimate.placement == direct.placement


def test_requests_reject_run_options_that_cannot_apply(ask):
    with pytest.raises(ValueError, match="^expert_offload: this model has no routed experts"):
        ask(LLAMA_8B, expert_offload="all")
    with pytest.raises(ValueError, match="^backend must be one of CUDA, ROCm, Vulkan"):
        ask(LLAMA_8B, backend="opencl")
    with pytest.raises(ValueError, match="^threads"):
        ask(LLAMA_8B, threads=0)
    with pytest.raises(ValueError, match="^spec_decode: .*batch 1"):
        ask(LLAMA_8B, spec_decode=SpecDecode("ngram"), concurrent_sequences=4)
    with pytest.raises(ValueError, match="^spec_decode: .*inference only"):
        ask(LLAMA_8B, spec_decode=SpecDecode("ngram"), mode="lora")
    with pytest.raises(ValueError, match="^spec_decode: draft:<model> needs"):
        ask(LLAMA_8B, spec_decode=SpecDecode("draft", draft_model="x"))
    assert ask(GLM_AIR, expert_offload="ALL").expert_offload == "all"
    assert seed_model(GLM_AIR).is_moe and seed_quant("Q4_K_M")
