"""The OpenAPI description of the owned-hardware endpoints: /api/canrun, /api/upgrade
and /api/parts (merged into ``configurator.openapi.spec``)."""

from __future__ import annotations

from typing import Any


def _object(description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object", "properties": properties}}},
    }


def rig_paths(errors: dict[str, Any]) -> dict[str, Any]:
    from configurator.forms import RecommendForm
    from configurator.openapi import parameter, parameters
    from configurator.rig.service import CanRunForm, UpgradeForm

    model_item = {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "quant": {"type": "string"},
            "status": {"type": "string", "enum": ["runs", "too_slow", "does_not_fit"]},
            "fits": {"type": "boolean"},
            "fit": {"type": "string", "enum": ["comfortable", "tight", "does not fit"]},
            "headroom_gb": {"type": "number"},
            "decode_tokens_per_s": {"type": "number"},
            "prefill_tokens_per_s": {"type": "number"},
            "time_to_first_token_s": {"type": "number"},
            "placement": {"type": "string"},
            "mean_kld": {"type": "number"},
        },
    }
    upgrade_item = {
        "type": "object",
        "properties": {
            "kind": {"type": "string"},
            "added": {"type": "array", "items": {"type": "object"}},
            "price": {"type": "string", "description": "Decimal, display currency."},
            "parts": {"type": "string"},
            "decode_tokens_per_s": {"type": "number"},
            "estimate": {"type": ["object", "null"]},
        },
    }
    return {
        "/api/canrun": {
            "get": {
                "operationId": "canRun",
                "summary": "Every catalogue model on owned hardware, at the best format that "
                "fits and meets the speed target",
                "parameters": parameters(CanRunForm),
                "responses": {
                    "200": _object(
                        "Models, best quality first within speed bands.",
                        {
                            "hardware": {"type": "array", "items": {"type": "object"}},
                            "notes": {"type": "array", "items": {"type": "string"}},
                            "models": {"type": "array", "items": model_item},
                        },
                    ),
                    **errors,
                },
            }
        },
        "/api/upgrade": {
            "get": {
                "operationId": "cheapestUpgrade",
                "summary": "The cheapest additions to owned parts that run a model at a speed",
                "parameters": [
                    {**parameter("have", UpgradeForm.base_fields["have"]), "required": True},
                    *parameters(RecommendForm),
                ],
                "responses": {
                    "200": _object(
                        "Upgrades, cheapest first (owned parts cost nothing).",
                        {"upgrades": {"type": "array", "items": upgrade_item}},
                    ),
                    **errors,
                },
            }
        },
        "/api/parts": {
            "get": {
                "operationId": "suggestParts",
                "summary": "Catalogue parts whose name holds every word of q (autocomplete)",
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "required": False,
                        "description": "Words of the part's name or slug.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "kind",
                        "in": "query",
                        "required": False,
                        "description": "gpu, cpu, system, memory, motherboard, psu, case, "
                        "storage or cooler.",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": _object(
                        "Up to 20 parts.",
                        {"parts": {"type": "array", "items": {"type": "object"}}},
                    ),
                    **errors,
                },
            }
        },
    }
