"""RecommendForm: defaults, model and quant resolution, and errors that name the field."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from configurator.forms import RecommendForm, errors_by_field

pytestmark = pytest.mark.django_db


def form(**params) -> RecommendForm:
    return RecommendForm({k: str(v) for k, v in params.items()})


def test_it_answers_an_empty_form_with_defaults(seeded):
    f = form()
    assert f.is_valid(), f.errors
    request = f.build_request()
    assert request.model_slug == "llama-3-1-70b-instruct"
    assert request.quant.name == "Q4_K_M"
    assert request.workload.context_tokens == 4096
    assert request.workload.prompt_tokens == 512
    assert request.objective == "cheapest"
    assert request.allow_used is True
    assert request.budget is None
    assert request.limit == 10
    assert request.kwh_price == Decimal("0.17")


@pytest.mark.parametrize(
    "text,slug",
    [
        ("llama-3-1-70b-instruct", "llama-3-1-70b-instruct"),
        ("Llama 3.1 70B Instruct", "llama-3-1-70b-instruct"),
        ("meta-llama/Llama-3.1-70B-Instruct", "llama-3-1-70b-instruct"),
        ("Llama 3 70B", "llama-3-1-70b-instruct"),
        ("Llama 3.3 70B", "llama-3-3-70b-instruct"),
        ("qwen3 32b", "qwen3-32b"),
        ("deepseek-r1", "deepseek-r1"),
    ],
)
def test_it_finds_catalogue_models_by_slug_name_repo_id_or_unique_words(seeded, text, slug):
    f = form(model=text)
    assert f.is_valid(), f.errors
    assert f.model_row.slug == slug


@pytest.mark.parametrize(
    "size,total,active",
    [
        ("70b", 70, 70),
        ("70B dense", 70, 70),
        ("671b-a37b", 671, 37),
        ("671B MoE 37B active", 671, 37),
    ],
)
def test_it_accepts_a_size_instead_of_a_model(seeded, size, total, active):
    f = form(model=size)
    assert f.is_valid(), f.errors
    request = f.build_request()
    assert request.model.total_params_b == total
    assert request.model.active_params_b == active
    assert request.model.approximate


def test_a_size_only_model_survives_the_query_string_round_trip(seeded):
    f = form(model="671B MoE 37B active", quant="Q4_K_M")
    assert f.is_valid(), f.errors
    params = dict(parse_qsl(f.query_string()))
    assert params["model"] == "671B MoE 37B active"
    again = form(**params)
    assert again.is_valid(), again.errors
    assert again.build_request().model == f.build_request().model


def test_an_unknown_model_names_the_field_and_the_accepted_forms(seeded):
    f = form(model="no such model at all")
    assert not f.is_valid()
    message = errors_by_field(f)["model"][0]
    assert message.startswith("model ")
    assert "70b" in message and "671b-a37b" in message


def test_an_ambiguous_model_lists_the_candidates(seeded):
    f = form(model="qwen")
    assert not f.is_valid()
    message = errors_by_field(f)["model"][0]
    assert "ambiguous" in message and "qwen2-5-7b-instruct" in message


def test_context_beyond_the_models_maximum_is_an_error_on_context(seeded):
    f = form(model="falcon-40b", context=4096)
    assert not f.is_valid()
    message = errors_by_field(f)["context"][0]
    assert "context must be from 1 to 2,048 tokens" in message and "Falcon" in message
    defaulted = form(model="falcon-40b")
    assert defaulted.is_valid(), defaulted.errors
    assert defaulted.build_request().workload.context_tokens == 2048


@pytest.mark.parametrize(
    "params,field,phrase",
    [
        ({"quant": "Q9_X"}, "quant", "quant must be one of"),
        ({"budget": "-5"}, "budget", "budget must be a number from 0.01"),
        ({"budget": "lots"}, "budget", "budget must be a number"),
        ({"min_tps": "-1"}, "min_tps", "min_tps must be a number from 0"),
        ({"batch": "0"}, "batch", "batch must be a whole number from 1 to 256"),
        ({"limit": "500"}, "limit", "limit must be a whole number from 1 to 50"),
        ({"mode": "train"}, "mode", "mode must be one of inference, lora, qlora, full"),
        ({"form": "desk"}, "form", "form must be one of any, tower, rack, small, laptop"),
        ({"objective": "best"}, "objective", "objective must be one of cheapest"),
        ({"stack": "opencl"}, "stack", "stack must be one of any, cuda"),
        ({"allow_used": "maybe"}, "allow_used", "allow_used must be true or false"),
        ({"engine": "ollama"}, "engine", "engine must be one of auto, llama.cpp"),
        ({"kwh_price": "11"}, "kwh_price", "kwh_price must be a number from 0 to 10"),
        ({"cloud_price_per_mtok": "-2"}, "cloud_price_per_mtok", "from 0 to 1000"),
        ({"prompt_tokens": "9000"}, "prompt_tokens", "prompt_tokens must be from 1 to 4,096"),
        (
            {"must_include": "no-such-part"},
            "must_include",
            "'no-such-part' matches no catalogue part",
        ),
        ({"quant": "GPTQ-4bit", "engine": "llama.cpp"}, "engine", "does not load GPTQ-4bit"),
        ({"hours_per_day": "25"}, "hours_per_day", "hours_per_day must be a number"),
        ({"kv_quant": "Q2"}, "kv_quant", "kv_quant must be one of F16, Q8_0, Q4_0"),
    ],
)
def test_every_error_names_its_field_and_what_it_accepts(seeded, params, field, phrase):
    f = RecommendForm(params)
    assert not f.is_valid()
    errors = errors_by_field(f)
    assert field in errors, errors
    assert phrase in errors[field][0], errors[field]


def test_yes_no_values_parse_both_ways(seeded):
    assert form(allow_used="false").build_request().allow_used is False
    assert form(allow_used="0").build_request().allow_used is False
    assert form(allow_used="on").build_request().allow_used is True


def test_the_request_carries_every_parameter(seeded):
    f = form(
        model="llama-3-1-8b-instruct",
        quant="q8_0",
        context=8192,
        prompt_tokens=1000,
        batch=4,
        mode="inference",
        budget="2500",
        min_tps=20,
        min_prefill_tps=100,
        max_watts=600,
        allow_used="no",
        form="tower",
        objective="value",
        stack="cuda",
        must_include="nvidia-geforce-rtx-4090",
        limit=3,
        kwh_price="0.31",
        cloud_price_per_mtok="0.2",
        engine="llama.cpp",
        hours_per_day=4,
        kv_quant="Q8_0",
    )
    assert f.is_valid(), f.errors
    r = f.build_request()
    assert (r.quant.name, r.workload.context_tokens, r.workload.prompt_tokens) == (
        "Q8_0",
        8192,
        1000,
    )
    assert r.workload.concurrent_sequences == 4 and r.workload.kv_cache_bits == 8.5
    assert (r.budget, r.min_tps, r.min_prefill_tps, r.max_watts) == (Decimal("2500"), 20, 100, 600)
    assert (r.allow_used, r.form, r.objective, r.stack) == (False, "tower", "value", "cuda")
    assert r.must_include == ("nvidia-geforce-rtx-4090",)
    assert (r.limit, r.kwh_price, r.cloud_price_per_mtok) == (3, Decimal("0.31"), Decimal("0.2"))
    assert (r.engine, r.hours_per_day) == ("llama.cpp", 4)
    again = RecommendForm(dict(parse_qsl(f.query_string())))
    assert again.is_valid()
    assert again.build_request() == r
