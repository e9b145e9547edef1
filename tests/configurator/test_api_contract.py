"""Contract: real API responses validate against the served OpenAPI document, whose
response schemas are generated from the result types with additionalProperties: false
and every key required — an undocumented key, a missing one or a wrong type fails here.

A key added to a hand-written ``to_dict`` goes into its TypedDict in
configurator/api_schema.py; a field added to an engine dataclass is documented as is."""

from __future__ import annotations

import datetime
import enum
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import pytest
from jsonschema import Draft202012Validator

from configurator.api_schema import UNDOCUMENTED, SchemaBuilder, response_schemas

pytestmark = pytest.mark.usefixtures("seeded")

LLAMA_70B = "llama-3-1-70b-instruct"


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def check(document: dict[str, Any], path: str, response) -> dict[str, Any]:
    """Validate a response against the document's schema for its path and status."""
    status = str(response.status_code)
    responses = document["paths"][path]["get"]["responses"]
    assert status in responses, f"{path} answered {status}, which the document does not list"
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    schema = {**responses[status]["content"]["application/json"]["schema"]}
    schema["components"] = document["components"]
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=lambda e: e.path)
    messages = [_describe(e) for e in errors]
    hint = (
        "\n(Response keys come from the result types: add a key of a hand-written to_dict "
        "to its TypedDict in configurator/api_schema.py.)"
    )
    assert not messages, (
        f"{path} {status} does not match the document:\n" + "\n".join(messages[:15]) + hint
    )
    return body


def _describe(error) -> str:
    """Where and why; for "none of these schemas" the reasons of the closest one."""
    where = "/".join(map(str, error.absolute_path)) or "<root>"
    inner = [e for e in error.context or () if e.validator != "type"]
    if inner:
        return "; ".join(_describe(e) for e in inner)
    text = error.message
    return f"{where}: {text if len(text) < 300 else text[:300] + '...'}"


BUILDS_QUERIES = [
    {"model": LLAMA_70B, "min_tps": "10"},
    {"model": LLAMA_70B, "budget": "300"},  # nothing qualifies: relaxations
    {"model": "8b", "mode": "lora", "min_tps": "0"},  # fine-tuning: training figures
    {"model": "8b", "mode": "qlora", "min_tps": "0", "dataset_tokens": "1.5B", "epochs": "3"},
    {"model": "671b-a37b", "quant": "Q4_K_M", "objective": "pareto", "min_tps": "1"},
    {"model": LLAMA_70B, "form": "small", "allow_used": "false", "objective": "value"},
    {"model": LLAMA_70B, "stack": "metal", "min_tps": "1", "kv_quant": "Q8_0"},
]


@pytest.mark.parametrize("query", BUILDS_QUERIES)
def test_builds_responses_match_the_document(client, document, query):
    response = client.get("/api/builds", query)
    assert response.status_code == 200, response.content[:300]
    body = check(document, "/api/builds", response)
    assert body["builds"] or body["relax"] or body["near_misses"]


def test_build_responses_match_the_document(client, document):
    ranked = client.get("/api/builds", {"model": LLAMA_70B, "min_tps": "5"}).json()["builds"]
    keys = [b["key"] for b in ranked[:3]]
    keys += [
        "apple-mac-studio-m3-ultra-256gb-used:1",
        "nvidia-geforce-rtx-4090:1",  # incomplete: violations
    ]
    for key in keys:
        response = client.get("/api/build", {"parts": key, "model": LLAMA_70B})
        assert response.status_code == 200, response.content[:300]
        check(document, "/api/build", response)


ESTIMATE_QUERIES = [
    {"gpu": "4090:2"},
    {"gpu": "4090", "model": "llama-3-1-405b-instruct"},  # does not fit
    {"cpu": "amd-epyc-7763-used:2"},
    {"system": "apple-mac-studio-m3-ultra-256gb-used"},
    {"custom_gpu": "vram_gb=48,bandwidth_gbs=960,fp16_tflops=150:2", "split": "tensor"},
    {"gpu": "4090:4", "mode": "qlora"},
    {"gpu": "4090:4", "mode": "qlora", "dataset_tokens": "250k", "epochs": "2"},
]


@pytest.mark.parametrize("query", ESTIMATE_QUERIES)
def test_estimate_responses_match_the_document(client, document, query):
    response = client.get("/api/estimate", {"model": LLAMA_70B, **query})
    assert response.status_code == 200, response.content[:300]
    body = check(document, "/api/estimate", response)
    assert (body["training"] is not None) == (query.get("mode") == "qlora")


def test_error_responses_match_the_document(client, document, settings):
    check(document, "/api/builds", client.get("/api/builds", {"budget": "-1"}))
    check(document, "/api/build", client.get("/api/build", {"parts": "nothing:1"}))
    check(document, "/api/estimate", client.get("/api/estimate", {"context": "x"}))
    too_long = client.get("/api/builds", {"must_include": "x" * 5000})
    assert too_long.status_code == 414
    check(document, "/api/builds", too_long)
    settings.API_RATE_PER_MINUTE = 1
    client.get("/api/estimate", {"gpu": "4090"})
    limited = client.get("/api/estimate", {"gpu": "4090"})
    assert limited.status_code == 429
    check(document, "/api/estimate", limited)


def test_every_object_schema_is_closed_and_requires_its_keys():
    schemas = response_schemas()
    assert UNDOCUMENTED not in json.dumps(schemas), "a result field has a type api_schema lacks"
    for name, schema in schemas.items():
        assert schema["additionalProperties"] is False, name
        assert set(schema["required"]) == set(schema["properties"]), name


def test_a_dataclass_field_is_documented_by_its_type():
    @dataclass(frozen=True)
    class Probe:
        speed_tps: float
        label: str
        count: int
        parts: tuple[str, ...]
        note: str | None = None

    builder = SchemaBuilder()
    assert builder.of(Probe) == {"$ref": "#/components/schemas/Probe"}
    schema = builder.components["Probe"]
    assert schema["properties"] == {
        "speed_tps": {"type": ["number", "null"]},
        "label": {"type": "string"},
        "count": {"type": "integer"},
        "parts": {"type": "array", "items": {"type": "string"}},
        "note": {"type": ["string", "null"]},
    }
    assert schema["required"] == ["count", "label", "note", "parts", "speed_tps"]


class Grade(enum.Enum):
    GOOD = "good"
    BAD = "bad"


def test_the_generator_knows_the_types_a_new_result_field_may_have():
    @dataclass(frozen=True)
    class Evidence:
        source_url: str
        measured_on: datetime.date
        seen_at: datetime.datetime
        price: Decimal
        grade: Grade
        backend: Literal["cuda", "rocm"]
        tags: frozenset[str]
        extra: dict[str, float]

    builder = SchemaBuilder()
    builder.of(tuple[Evidence, ...])
    props = builder.components["Evidence"]["properties"]
    assert props["measured_on"] == {"type": "string", "format": "date"}
    assert props["seen_at"] == {"type": "string", "format": "date-time"}
    assert props["price"] == {"type": "string", "format": "decimal"}
    assert props["grade"] == {"enum": ["good", "bad"]}
    assert props["backend"] == {"enum": ["cuda", "rocm"]}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    number = {"type": ["number", "null"]}
    assert props["extra"] == {"type": "object", "additionalProperties": number}


def test_every_api_endpoint_is_in_the_document(document):
    from configurator.api_urls import urlpatterns

    documented = set(document["paths"])
    for pattern in urlpatterns:
        assert f"/api/{pattern.pattern}" in documented, pattern.pattern


RIGS = [
    {"gpu": "4090:2"},
    {"gpu": "nvidia-geforce-rtx-3090-used:1", "cpu": "amd-epyc-7763-used:2", "ram_gb": "512"},
    {"system": "apple-mac-studio-m3-ultra-256gb-used", "use": "coding", "min_tps": "20"},
]


@pytest.mark.parametrize("rig", RIGS)
def test_canrun_responses_match_the_document(client, document, rig):
    response = client.get("/api/canrun", rig)
    assert response.status_code == 200, response.content[:300]
    assert check(document, "/api/canrun", response)["models"]


def test_upgrade_responses_match_the_document(client, document):
    have = "nvidia-geforce-rtx-3090-used:1,amd-ryzen-9-9950x:1"
    bodies = []
    for query in ({"min_tps": "10"}, {"min_tps": "1", "model": "8b"}):
        response = client.get("/api/upgrade", {"have": have, "model": LLAMA_70B, **query})
        assert response.status_code == 200, response.content[:300]
        bodies.append(check(document, "/api/upgrade", response))
    assert any(body["upgrades"] for body in bodies)
    assert any(body["current"] for body in bodies)


def test_part_suggestions_and_rig_errors_match_the_document(client, document):
    found = client.get("/api/parts", {"q": "4090"})
    assert found.status_code == 200
    assert check(document, "/api/parts", found)["parts"]
    check(document, "/api/parts", client.get("/api/parts", {"kind": "spaceship"}))
    check(document, "/api/canrun", client.get("/api/canrun", {"batch": "0"}))
    check(document, "/api/upgrade", client.get("/api/upgrade", {"model": "5T"}))


# Values the API accepts, fractions included; each must validate against its parameter's
# documented schema (query strings read as the schema's type says).
ACCEPTED_QUERIES = {
    "/api/builds": {
        "model": LLAMA_70B,
        "budget": "2500.50",
        "min_tps": "7.5",
        "min_prefill_tps": "12.5",
        "max_watts": "650.5",
        "hours_per_day": "2.5",
        "kwh_price": "0.31",
        "context": "8192",
    },
    "/api/estimate": {"model": LLAMA_70B, "gpu": "4090:2", "ram_gb": "64.5", "context": "4096"},
    "/api/canrun": {"gpu": "4090", "min_tps": "7.5", "max_params_b": "70.5"},
}


def _as_documented(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(value) if value.lstrip("-").isdigit() else value
    if kind == "number":
        return float(value)
    return value


@pytest.mark.parametrize("path", sorted(ACCEPTED_QUERIES))
def test_accepted_parameter_values_match_their_documented_types(client, document, path):
    query = ACCEPTED_QUERIES[path]
    assert client.get(path, query).status_code == 200
    documented = {p["name"]: p["schema"] for p in document["paths"][path]["get"]["parameters"]}
    for name, value in query.items():
        schema = documented[name]
        errors = list(Draft202012Validator(schema).iter_errors(_as_documented(value, schema)))
        assert not errors, f"{path} {name}={value!r}: {errors[0].message}"
