"""python manage.py estimate: the engine on named hardware, a stable CLI."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.engine.test_estimate import CLI_KEYS, DEVICE_KEYS

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("estimate", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def run_json(*args: str) -> dict:
    return json.loads(run(*args, "--json"))


def test_it_prints_the_documented_json_fields(seeded):
    data = run_json(
        "--model",
        "llama-3-1-70b-instruct",
        "--quant",
        "Q4_K_M",
        "--gpu",
        "nvidia-geforce-rtx-4090:2",
    )
    assert CLI_KEYS <= set(data)
    assert data["fits"] is True
    low, high = data["decode_range"]
    assert low < data["decode_tokens_per_s"] < high
    assert len(data["memory"]) == 2
    for device in data["memory"]:
        assert DEVICE_KEYS <= set(device)
        assert device["total_gb"] <= device["capacity_gb"]


def test_70b_q4_k_m_on_two_24_gb_cards_decodes_at_bandwidth_bound_speed(seeded):
    data = run_json(
        "--model",
        "llama-3-1-70b-instruct",
        "--quant",
        "Q4_K_M",
        "--gpu",
        "nvidia-geforce-rtx-4090:2",
    )
    # ~43 GB of weights read per token at ~1 TB/s per card, the cards taking turns.
    assert 12 < data["decode_tokens_per_s"] < 25


def test_it_reports_what_is_missing_when_the_model_does_not_fit(seeded):
    data = run_json(
        "--model", "llama-3-1-70b-instruct", "--quant", "Q4_K_M", "--gpu", "nvidia-geforce-rtx-4090"
    )
    assert data["fits"] is False or data["placement"] != "gpu"
    fp16 = run_json(
        "--model",
        "70b",
        "--quant",
        "F16",
        "--custom-gpu",
        "vram_gb=24,bandwidth_gbs=1000,fp16_tflops=150",
    )
    assert fp16["fits"] is False
    assert fp16["missing_gb"] > 0 and fp16["reason"]


def test_a_400b_dense_model_at_6_bits_on_two_epyc_sockets_runs_at_1_to_2_tokens_per_s(seeded):
    data = run_json("--model", "405b", "--quant", "Q6_K", "--cpu", "amd-epyc-9354:2")
    assert data["fits"] is True
    assert 0.8 <= data["decode_tokens_per_s"] <= 2.0
    one = run_json("--model", "405b", "--quant", "Q6_K", "--cpu", "amd-epyc-9354:1")
    assert one["decode_tokens_per_s"] < 0.75 * data["decode_tokens_per_s"]


def test_the_readable_table_names_the_bottleneck_and_the_devices(seeded):
    text = run("--model", "llama-3-1-8b-instruct", "--quant", "Q8_0", "--gpu", "rtx-3060-12gb")
    assert "Decode:" in text and "tokens/s" in text
    assert "Bottleneck:" in text
    assert "GeForce RTX 3060" in text


def test_a_used_twin_does_not_make_a_name_ambiguous(seeded):
    data = run_json("--model", "llama-3-1-8b-instruct", "--quant", "Q4_K_M", "--gpu", "7900 XTX")
    assert data["hardware"][0]["slug"] == "amd-radeon-rx-7900-xtx"


def test_a_variant_named_after_its_base_card_does_not_make_the_base_name_ambiguous(seeded):
    data = run_json("--model", "llama-3-1-8b-instruct", "--quant", "Q4_K_M", "--gpu", "4090")
    assert data["hardware"][0]["slug"] == "nvidia-geforce-rtx-4090"
    data = run_json("--model", "llama-3-1-8b-instruct", "--quant", "Q4_K_M", "--gpu", "3090")
    assert data["hardware"][0]["slug"] == "nvidia-geforce-rtx-3090-used"


def test_an_ambiguous_name_exits_2_listing_the_candidates(seeded):
    with pytest.raises(CommandError) as error:
        run("--model", "llama-3-1-8b-instruct", "--quant", "Q4_K_M", "--gpu", "3060")
    assert error.value.returncode == 2
    assert "nvidia-geforce-rtx-3060-12gb-used" in str(error.value)
    assert "nvidia-geforce-rtx-3060-ti-used" in str(error.value)


def test_unknown_names_and_bad_values_exit_2_naming_the_flag(seeded):
    with pytest.raises(CommandError) as error:
        run("--model", "no-such-model-xyz", "--quant", "Q4_K_M", "--gpu", "4090", "--batch", "0")
    assert error.value.returncode == 2
    message = str(error.value)
    assert "--model" in message and "--batch" in message


def test_all_experts_in_system_ram_keep_the_rest_on_the_gpu(seeded):
    args = ("--model", "qwen3-30b-a3b", "--quant", "Q4_K_M", "--gpu", "4090")
    data = run_json(*args, "--cpu", "amd-epyc-9354", "--expert-offload", "all")
    assert "routed experts of 48 layers in system RAM" in data["placement"]
    with pytest.raises(CommandError, match="expert-offload"):
        run(*args, "--cpu", "amd-epyc-9354", "--expert-offload", "most")


def test_backend_threads_and_speculation_change_the_estimate(seeded):
    args = ("--model", "llama-3-1-70b-instruct", "--quant", "Q4_K_M", "--gpu", "4090:2")
    base = run_json(*args)
    vulkan = run_json(*args, "--backend", "Vulkan")
    assert base["backend"] == "CUDA" and vulkan["backend"] == "Vulkan"
    spec = run_json(*args, "--spec-decode", "ngram", "--acceptance-rate", "0.5")
    assert spec["spec_decode"]["acceptance_rate"] == 0.5
    assert spec["spec_decode"]["decode_tokens_per_s"] > 0
    cpu = ("--model", "8b", "--quant", "Q4_K_M", "--cpu", "amd-epyc-9354")
    assert (
        run_json(*cpu, "--threads", "4")["decode_tokens_per_s"]
        < run_json(*cpu)["decode_tokens_per_s"]
    )
    with pytest.raises(CommandError, match="backend"):
        run(*args, "--backend", "Metal")


def test_custom_cpu_and_unified_systems_state_their_vendor(seeded):
    data = run_json(
        "--model",
        "8b",
        "--quant",
        "FP8",
        "--custom-system",
        "vendor=nvidia,memory_gb=128,bandwidth_gbs=273,fp16_tflops=62.5",
        "--engine",
        "vllm",
    )
    assert data["fits"] and data["backend"] == "CUDA"
    with pytest.raises(CommandError, match="custom-system"):
        run("--model", "8b", "--quant", "Q4_K_M", "--custom-system", "memory_gb=128")
    cpu = run_json(
        "--model",
        "8b",
        "--quant",
        "Q4_K_M",
        "--custom-cpu",
        "cores=16,channels=12,mts=6000,gflops=2000,ccds=16",
    )
    assert cpu["decode_tokens_per_s"] > 0
    amd = run_json(
        "--model",
        "8b",
        "--quant",
        "Q4_K_M",
        "--custom-gpu",
        "vram_gb=24,bandwidth_gbs=960,fp16_tflops=120,vendor=amd,memory=GDDR6",
    )
    assert amd["backend"] == "ROCm"
    assert amd["evidence"] and amd["evidence"][0]["source"].startswith("http")
