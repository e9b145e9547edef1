"""The OpenAPI 3.1 description of the JSON API: parameters built from the forms that parse
them, response schemas generated from the result types (:mod:`configurator.api_schema`),
so neither a parameter nor a response key can be added without being described."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from configurator.api_schema import response_schemas
from configurator.engine.builds.parts import KINDS
from configurator.forms import EstimateForm, RecommendForm, YesNoField
from configurator.rig.service import CanRunForm, UpgradeForm

VERSION = "1.1.0"


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def _limits(field: forms.Field) -> tuple[Any, Any]:
    low = high = None
    for validator in field.validators:
        limit = getattr(validator, "limit_value", None)
        if limit is None or callable(limit):
            continue
        code = getattr(validator, "code", "")
        if code == "min_value":
            low = _number(limit)
        elif code == "max_value":
            high = _number(limit)
    return low, high


def parameter(name: str, field: forms.Field) -> dict[str, Any]:
    """One query parameter from a form field."""
    schema: dict[str, Any]
    if isinstance(field, YesNoField):
        schema = {"type": "boolean", "default": field.default}
    elif isinstance(field, forms.ChoiceField):
        schema = {"type": "string", "enum": [str(value) for value, _ in field.choices]}
    # DecimalField and FloatField subclass IntegerField: ask about them first.
    elif isinstance(field, forms.DecimalField):
        schema = {"type": "string", "format": "decimal", "pattern": r"^\d+(\.\d+)?$"}
    elif isinstance(field, forms.FloatField):
        schema = {"type": "number"}
    elif isinstance(field, forms.IntegerField):
        schema = {"type": "integer"}
    else:
        schema = {"type": "string"}
        if getattr(field, "max_length", None):
            schema["maxLength"] = field.max_length
    low, high = _limits(field)
    if schema["type"] in ("integer", "number"):
        if low is not None:
            schema["minimum"] = low
        if high is not None:
            schema["maximum"] = high
    elif schema.get("format") == "decimal":
        if low is not None:
            schema["x-minimum"] = low
        if high is not None:
            schema["x-maximum"] = high
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": str(field.help_text),
        "schema": schema,
    }


def parameters(form_class: type[forms.Form]) -> list[dict[str, Any]]:
    return [parameter(name, field) for name, field in form_class.base_fields.items()]


def _error(description: str, example: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Errors"},
                "example": {"errors": example},
            }
        },
    }


ERRORS = {
    "400": _error(
        "Invalid parameters: each bad parameter is named with what it accepts.",
        {"context": ["context must be from 1 to 131,072 tokens, the maximum of ..."]},
    ),
    "414": _error(
        "The query string is longer than the API reads (MAX_QUERY_CHARS).",
        {"__all__": ["the query string is 9,000 characters; at most 4,096 are read."]},
    ),
    "429": {
        **_error(
            "Too many requests from this address (API_RATE_PER_MINUTE); retry after the "
            "Retry-After header's seconds.",
            {"__all__": ["too many requests from this address; try again in 42 s."]},
        ),
        "headers": {
            "Retry-After": {
                "description": "Seconds until the next request is accepted.",
                "schema": {"type": "integer"},
            }
        },
    },
}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _query(name: str, description: str) -> dict[str, Any]:
    schema = {"type": "string"}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def spec(server: str = "/") -> dict[str, Any]:
    """The OpenAPI document (``server``: the site's base URL)."""
    recommend_params = parameters(RecommendForm)
    parts_param = {
        "name": "parts",
        "in": "query",
        "required": True,
        "description": "The build's parts as slug:quantity pairs separated by commas, e.g. "
        "nvidia-geforce-rtx-3090-used:2,amd-ryzen-9-9950x:1 (a build's key).",
        "schema": {"type": "string"},
    }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "RigRank API",
            "version": VERSION,
            "description": "Complete, compatible, priced builds for running a language model "
            "locally, and the estimator behind them. Money is a decimal string in the "
            "display currency; sizes are decimal GB; speeds are tokens per second; a "
            "number that is not finite (an infinite time) is null. Every error is JSON: "
            '{"errors": {parameter: [message, ...]}}.',
        },
        "servers": [{"url": server.rstrip("/") or "/"}],
        "paths": {
            "/api/builds": {
                "get": {
                    "operationId": "listBuilds",
                    "summary": "Ranked builds for a workload and constraints",
                    "parameters": recommend_params,
                    "responses": {
                        "200": _ok("Recommendation", "Ranked builds, near misses, relaxations."),
                        **ERRORS,
                    },
                }
            },
            "/api/build": {
                "get": {
                    "operationId": "getBuild",
                    "summary": "Price, check and estimate a given list of parts",
                    "parameters": [parts_param, *recommend_params],
                    "responses": {"200": _ok("Build", "The build."), **ERRORS},
                }
            },
            "/api/estimate": {
                "get": {
                    "operationId": "estimate",
                    "summary": "Memory fit, speed and power of a model on named hardware",
                    "parameters": parameters(EstimateForm),
                    "responses": {"200": _ok("EstimateResult", "The estimate."), **ERRORS},
                }
            },
            "/api/canrun": {
                "get": {
                    "operationId": "canRun",
                    "summary": "Every catalogue model on the described hardware, best format first",
                    "parameters": parameters(CanRunForm),
                    "responses": {
                        "200": _ok(
                            "CanRun",
                            "The hardware as understood and, per model, the best "
                            "format that runs at the target speed.",
                        ),
                        **ERRORS,
                    },
                }
            },
            "/api/upgrade": {
                "get": {
                    "operationId": "upgrade",
                    "summary": "Cheapest additions to owned parts that run the model at the speed",
                    "parameters": [*parameters(UpgradeForm), *recommend_params],
                    "responses": {
                        "200": _ok(
                            "Upgrade", "The owned parts as they stand and the cheapest upgrades."
                        ),
                        **ERRORS,
                    },
                }
            },
            "/api/parts": {
                "get": {
                    "operationId": "parts",
                    "summary": "Catalogue parts whose name or slug holds every word of q",
                    "parameters": [
                        _query("q", "Words to look for in the part's slug, brand or name."),
                        _query("kind", "Only parts of this kind: " + ", ".join(KINDS) + "."),
                    ],
                    "responses": {
                        "200": _ok("Parts", "Matching parts, new before used."),
                        **ERRORS,
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This description",
                    "responses": {"200": {"description": "OpenAPI 3.1 document."}},
                }
            },
        },
        "components": {"schemas": response_schemas()},
    }
