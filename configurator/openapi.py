"""The OpenAPI 3 description of the JSON API, built from the forms that parse the
parameters, so a parameter cannot be added to a form without being described."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from configurator.engine.builds import ARCHITECTURES, RULES
from configurator.forms import EstimateForm, RecommendForm, YesNoField

VERSION = "1.0.0"


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
    elif isinstance(field, forms.IntegerField):
        schema = {"type": "integer"}
    elif isinstance(field, forms.DecimalField):
        schema = {"type": "string", "format": "decimal", "pattern": r"^\d+(\.\d+)?$"}
    elif isinstance(field, forms.FloatField):
        schema = {"type": "number"}
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


ERRORS = {
    "description": "Invalid parameters: each bad parameter is named with what it accepts.",
    "content": {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/Errors"},
            "example": {"errors": {"context": ["context must be from 1 to 131,072 tokens..."]}},
        }
    },
}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
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
    money = {"type": "string", "format": "decimal", "nullable": True}
    number = {"type": "number", "nullable": True}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "RigRank API",
            "version": VERSION,
            "description": "Complete, compatible, priced builds for running a language model "
            "locally, and the estimator behind them. Money is a decimal string in the "
            "display currency; sizes are decimal GB; speeds are tokens per second.",
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
                        "400": ERRORS,
                    },
                }
            },
            "/api/build": {
                "get": {
                    "operationId": "getBuild",
                    "summary": "Price, check and estimate a given list of parts",
                    "parameters": [parts_param, *recommend_params],
                    "responses": {"200": _ok("Build", "The build."), "400": ERRORS},
                }
            },
            "/api/estimate": {
                "get": {
                    "operationId": "estimate",
                    "summary": "Memory fit, speed and power of a model on named hardware",
                    "parameters": parameters(EstimateForm),
                    "responses": {"200": _ok("Estimate", "The estimate."), "400": ERRORS},
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This description",
                    "responses": {"200": {"description": "OpenAPI 3 document."}},
                }
            },
        },
        "components": {
            "schemas": {
                "Errors": {
                    "type": "object",
                    "properties": {
                        "errors": {
                            "type": "object",
                            "description": "Messages per parameter (__all__ for the rest).",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        }
                    },
                },
                "DeviceMemory": {
                    "type": "object",
                    "properties": {
                        "device": {"type": "string"},
                        "kind": {"type": "string", "enum": ["gpu", "cpu", "unified", "storage"]},
                        "layers": {"type": "number"},
                        "weights_gb": number,
                        "kv_cache_gb": number,
                        "overhead_gb": number,
                        "total_gb": number,
                        "capacity_gb": number,
                        "headroom_gb": number,
                    },
                },
                "Estimate": {
                    "type": "object",
                    "properties": {
                        "fits": {"type": "boolean"},
                        "reason": {"type": "string"},
                        "missing_gb": number,
                        "decode_tokens_per_s": number,
                        "decode_range": {"type": "array", "items": {"type": "number"}},
                        "aggregate_tokens_per_s": number,
                        "prefill_tokens_per_s": number,
                        "prefill_range": {"type": "array", "items": {"type": "number"}},
                        "time_to_first_token_s": number,
                        "memory": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/DeviceMemory"},
                        },
                        "placement": {"type": "string"},
                        "bottleneck": {"type": "string"},
                        "power_w": number,
                        "kwh_per_million_tokens": number,
                        "assumptions": {"type": "array", "items": {"type": "string"}},
                        "decode_time_ms": {
                            "type": "array",
                            "description": "One decode step split by device, GPU "
                            "synchronisation and fixed per-token overhead, milliseconds.",
                            "items": {
                                "type": "object",
                                "properties": {"part": {"type": "string"}, "ms": number},
                            },
                        },
                    },
                },
                "Line": {
                    "type": "object",
                    "properties": {
                        "slug": {"type": "string"},
                        "name": {"type": "string"},
                        "kind": {"type": "string"},
                        "qty": {"type": "integer"},
                        "unit_price": money,
                        "line_total": money,
                        "currency": {"type": "string"},
                        "origin": {"type": "string", "enum": ["scrape", "manual", "reference", ""]},
                        "age_days": {"type": "integer", "nullable": True},
                        "retailer": {"type": "string"},
                        "url": {"type": "string"},
                        "stale": {"type": "boolean"},
                    },
                },
                "Finding": {
                    "type": "object",
                    "properties": {
                        "rule": {"type": "string", "enum": sorted(RULES)},
                        "ok": {"type": "boolean", "nullable": True},
                        "message": {"type": "string"},
                    },
                },
                "Build": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string", "description": "parts as slug:qty,..."},
                        "parts_param": {"type": "string"},
                        "title": {"type": "string"},
                        "architecture": {"type": "string", "enum": list(ARCHITECTURES)},
                        "rank": {"type": "integer", "nullable": True},
                        "rank_reason": {"type": "string"},
                        "meets_targets": {"type": "boolean"},
                        "pareto": {"type": "boolean"},
                        "total": money,
                        "currency": {"type": "string"},
                        "tokens_per_s": number,
                        "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                        "estimate": {
                            "allOf": [{"$ref": "#/components/schemas/Estimate"}],
                            "description": "Plus electricity_cost_per_mtok, "
                            "break_even_months, peak_power_w, per_sequence_tokens_per_s.",
                            "nullable": True,
                        },
                        "compatibility": {
                            "type": "object",
                            "properties": {
                                "ok": {"type": "boolean"},
                                "violations": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Finding"},
                                },
                                "notes": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Finding"},
                                },
                            },
                        },
                        "shortfalls": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "constraint": {"type": "string"},
                                    "message": {"type": "string"},
                                    "amount": number,
                                },
                            },
                        },
                    },
                },
                "Recommendation": {
                    "type": "object",
                    "properties": {
                        "request": {"type": "object"},
                        "currency": {"type": "string"},
                        "prices_as_of": {"type": "string", "format": "date-time"},
                        "builds": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Build"},
                        },
                        "near_misses": {
                            "type": "array",
                            "items": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/Build"},
                                    {
                                        "type": "object",
                                        "properties": {"reason": {"type": "string"}},
                                    },
                                ]
                            },
                        },
                        "trade_offs": {
                            "type": "array",
                            "description": "The price/speed front outside the request's "
                            "speed, prompt, power and budget targets: full builds with "
                            "their estimates, each with trade_off.kind (cheapest, fraction, "
                            "half_price, twice_as_fast) and trade_off.label.",
                            "items": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/Build"},
                                    {
                                        "type": "object",
                                        "properties": {"trade_off": {"type": "object"}},
                                    },
                                ]
                            },
                        },
                        "relax": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "field": {"type": "string"},
                                    "current": {"type": "string"},
                                    "suggested": {"type": "string"},
                                    "message": {"type": "string"},
                                    "example_key": {"type": "string", "nullable": True},
                                },
                            },
                        },
                        "pareto": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "Keys of the builds on the price/speed front.",
                        },
                        "notes": {"type": "array", "items": {"type": "string"}},
                        "rules": {"type": "object", "additionalProperties": {"type": "string"}},
                        "stats": {"type": "object"},
                    },
                },
            }
        },
    }
