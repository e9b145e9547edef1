"""Consistency of the shipped seed catalogue (catalog/seed): sources, physics, platforms.

Each check runs per row, so a failure names the row to fix in the seed files.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from catalog.architecture import Architecture, parameter_count
from catalog.management.commands.load_seed import DEFAULT_SEED_DIR
from configurator.engine.cpu_kernels import fma_width_bits_for_name, fp32_flops_per_cycle

SEED = Path(DEFAULT_SEED_DIR)


def read(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.exists() else []


PARTS = [row for path in sorted((SEED / "parts").glob("*.json")) for row in read(path)]
MODELS = [
    row
    for path in [SEED / "llm_models.json", *sorted((SEED / "llm_models").glob("*.json"))]
    for row in read(path)
]
QUANTS = [
    row
    for path in [SEED / "quant_formats.json", *sorted((SEED / "quant_formats").glob("*.json"))]
    for row in read(path)
]


def of_kind(kind: str) -> list[dict]:
    return [row for row in PARTS if row.get("kind") == kind]


def ids(rows: list[dict]) -> list[str]:
    return [row.get("slug") or row.get("name", "?") for row in rows]


GPUS, CPUS, BOARDS = of_kind("gpu"), of_kind("cpu"), of_kind("motherboard")
DENSE = [m for m in MODELS if not m.get("experts_total")]
MOE = [m for m in MODELS if m.get("experts_total")]


def test_the_seed_catalogue_is_there():
    assert PARTS and MODELS and QUANTS


def test_every_seed_row_loads(run, db):
    output = run("load_seed", dry_run=True)

    assert f"parts: {len(PARTS)} created" in output


@pytest.mark.parametrize(
    ("row", "key"),
    [(r, "spec_source") for r in PARTS]
    + [(r, "config_source") for r in MODELS]
    + [(r, "source") for r in QUANTS],
    ids=ids(PARTS) + ids(MODELS) + [f"{q['name']}-{q['applies_to']}" for q in QUANTS],
)
def test_every_row_has_a_source(row, key):
    assert str(row.get(key) or "").startswith("https://"), f"{key} is {row.get(key)!r}"


def test_no_slug_repeats():
    repeated = [slug for slug, n in Counter(ids(PARTS) + ids(MODELS)).items() if n > 1]
    assert repeated == []


def test_no_quant_format_repeats():
    keys = Counter((q["name"], q["applies_to"]) for q in QUANTS)
    assert [key for key, n in keys.items() if n > 1] == []


@pytest.mark.parametrize("gpu", GPUS, ids=ids(GPUS))
def test_gpu_bandwidth_agrees_with_bus_width_and_data_rate(gpu):
    specs = gpu["specs"]
    if not (specs.get("bus_width_bits") and specs.get("memory_data_rate_gbps")):
        pytest.skip("bus width or data rate unknown")
    expected = specs["bus_width_bits"] / 8 * specs["memory_data_rate_gbps"]

    assert specs["bandwidth_gbs"] == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize("board", BOARDS, ids=ids(BOARDS))
def test_a_board_has_no_more_channels_than_dimm_slots(board):
    specs = board["specs"]

    assert specs["memory_channels"] <= specs["dimm_slots"]


def boards_for(cpu: dict) -> list[dict]:
    specs = cpu["specs"]
    return [
        b
        for b in BOARDS
        if b["specs"]["socket"] == specs["socket"]
        and b["specs"]["memory_type"] == specs["memory_type"]
    ]


def channels_per_socket(board: dict) -> float:
    specs = board["specs"]
    return specs["memory_channels"] / (specs.get("socket_count") or 1)


@pytest.mark.parametrize("cpu", CPUS, ids=ids(CPUS))
def test_a_cpus_fp32_peak_counts_the_fma_width_the_engine_assumes(cpu):
    # The engine turns fp32_gflops into integer-kernel rates by the core's FMA width
    # (cpu_kernels): a part listed at 64 FLOPs per cycle that the engine takes for a
    # 256-bit core gets twice its real prompt speed (Threadripper 9000 and Xeon W-2400
    # once did), one listed at 32 on a 512-bit core half of it.
    specs = cpu["specs"]
    # The engine sees the part's name, as configurator.adapters passes it (no brand).
    per_cycle = fp32_flops_per_cycle(fma_width_bits_for_name(cpu["name"]))
    expected = specs["cores"] * specs["base_ghz"] * per_cycle
    if "E-cores" in cpu.get("notes", ""):
        # Hybrid Intel parts: P-cores at the P base clock, E-cores slower (in the notes).
        assert 0.5 * expected <= specs["fp32_gflops"] <= expected
    else:
        assert specs["fp32_gflops"] == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize("cpu", CPUS, ids=ids(CPUS))
def test_a_cpus_channels_and_speed_match_a_board_of_its_socket(cpu):
    # A board wired for more channels than the CPU drives is the CPU's platform too
    # (a 4-channel Xeon W-2400 in an 8-channel W790 board uses 4 of them).
    specs = cpu["specs"]
    boards = boards_for(cpu)
    assert boards, f"no {specs['memory_type']} board for socket {specs['socket']}"
    enough_channels = [b for b in boards if channels_per_socket(b) >= specs["memory_channels"]]
    assert enough_channels, (
        f"{specs['memory_channels']} channels per socket, boards have "
        f"{sorted({channels_per_socket(b) for b in boards})}"
    )
    fast_enough = [
        b
        for b in enough_channels
        if not b["specs"].get("max_memory_mts")
        or not specs.get("max_memory_mts")
        or b["specs"]["max_memory_mts"] >= specs["max_memory_mts"]
    ]
    assert fast_enough, (
        f"runs memory at {specs['max_memory_mts']} MT/s, boards reach "
        f"{sorted(b['specs']['max_memory_mts'] for b in enough_channels)}"
    )


@pytest.mark.parametrize("model", DENSE, ids=ids(DENSE))
def test_a_dense_models_size_follows_from_its_architecture(model):
    counts = parameter_count(Architecture.from_mapping(model))

    assert counts.total_b == pytest.approx(model["total_params_b"], rel=0.05)


@pytest.mark.parametrize("model", MOE, ids=ids(MOE))
def test_a_moe_models_size_follows_from_its_architecture(model):
    counts = parameter_count(Architecture.from_mapping(model))

    assert counts.total_b == pytest.approx(model["total_params_b"], rel=0.10)


@pytest.mark.parametrize("quant", QUANTS, ids=[f"{q['name']}-{q['applies_to']}" for q in QUANTS])
def test_quant_bits_per_weight_are_plausible(quant):
    assert 1 < quant["bits_per_weight"] < 33


@pytest.mark.parametrize("kind", sorted({row["kind"] for row in PARTS}))
def test_seed_rows_carry_exactly_the_spec_fields_of_their_kind(kind):
    from catalog.models import PART_MODELS

    expected = {f.name for f in PART_MODELS[kind].spec_fields()}

    assert [set(row["specs"]) for row in of_kind(kind) if set(row["specs"]) != expected] == []


HYBRID = [m for m in MODELS if m.get("linear_attention_kind")]


@pytest.mark.parametrize("model", HYBRID, ids=ids(HYBRID))
def test_a_hybrid_model_states_the_recurrent_state_the_engine_sizes(model):
    kind = model["linear_attention_kind"]
    needed = {"full_attention_layers", "recurrent_conv_channels", "recurrent_conv_kernel"}
    if kind in ("gated_deltanet", "mamba2", "lightning"):
        needed |= {"recurrent_state_heads", "recurrent_state_key_dim", "recurrent_state_value_dim"}
    assert sorted(n for n in needed if not model.get(n)) == []


HELD_NOT_READ = [m for m in MODELS if m.get("mtp_layers") or m.get("vision_params_b")]


@pytest.mark.parametrize("model", HELD_NOT_READ, ids=ids(HELD_NOT_READ))
def test_decode_reads_the_language_model_of_a_row_with_mtp_or_vision(model):
    # total_params_b holds the whole checkpoint; the engine takes the vision tower and
    # the MTP layers back out for what one token reads. A row whose total already left
    # them out would have the engine read less than the language model counts. The upper
    # bound allows the embedding and head copies GLM's MTP layer carries (2.1 % on
    # GLM-4.7-Flash), the lower one rows sized from a rounded card figure (1.1 %).
    from configurator.engine import ModelArch

    bare = {**model, "mtp_layers": None, "vision_params_b": None}
    language_model = parameter_count(Architecture.from_mapping(bare)).total_b
    read = ModelArch.from_dict(model).text_params_b

    assert 0.988 < read / language_model < 1.025


def test_command_as_48_sliding_layers_keep_only_their_4096_token_window():
    # llama.cpp: n_swa 4096, n_swa_pattern 4 over 64 layers, 8 KV heads of 128.
    from configurator.engine import ModelArch, memory

    row = next(m for m in MODELS if m["slug"] == "c4ai-command-a-03-2025")
    per_token_layer = 2 * 8 * 128 * 2  # K and V, f16
    expected = (16 * 131_072 + 48 * 4096) * per_token_layer  # 9.4 GB, not 34.4 GB

    kv = memory.kv_cache_bytes(ModelArch.from_dict(row), 131_072, 16.0)
    assert kv == pytest.approx(expected, rel=1e-3)
