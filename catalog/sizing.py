"""LLM models known only by their size: "70B dense", "671B MoE with 37B active".

The architecture numbers come from the estimator's own scaling rules
(:meth:`configurator.engine.model.ModelArch.from_size`, shapes of published Llama /
Qwen / Mistral models, GQA with 8 KV heads of 128 dimensions), so the catalogue and the
engine fill in the same way. This module only parses what users type and turns the
result into an unsaved, ``approximate`` :class:`~catalog.models.LlmModel`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.text import slugify

from catalog.models import LlmModel
from configurator.engine.model import ModelArch

ACCEPTED_FORMS = (
    '"70b", "70B dense", "1.5B", "1T"',
    '"671b-a37b", "30B-A3B"',
    '"671B MoE with 37B active", "671B MoE, 37B active"',
)
# The engine's rules do not set a context length; this is the window typical of the
# model families the shapes come from (Llama 3.1+, Qwen 2.5, Mistral Large 2).
APPROXIMATE_MAX_CONTEXT = 131_072
# Sizes the estimator's shapes can stand for. Published models span 0.1B to ~2T total
# (Kimi K2: 1T total, 32B active, 31x); beyond these the scaling rules would invent more
# than 1,000 layers or 100,000 experts, which is no model at all.
MIN_SIZE_B = 0.01
MAX_TOTAL_B = 10_000
MAX_ACTIVE_B = 3_000
MAX_TOTAL_PER_ACTIVE = 1_000
SIZE_RANGE = (
    f"total {MIN_SIZE_B:g}B to {MAX_TOTAL_B:,}B, active {MIN_SIZE_B:g}B to {MAX_ACTIVE_B:,}B, "
    f"at most {MAX_TOTAL_PER_ACTIVE:,} times the active parameters in total"
)


class SizeRangeError(ValueError):
    """A size that reads as a size but lies outside what can be approximated."""


_NUMBER = r"(\d+(?:\.\d+)?)\s*([bt])"
_DENSE = re.compile(rf"^{_NUMBER}(?:\s+dense)?$")
_MOE_SHORT = re.compile(rf"^{_NUMBER}\s*-\s*a\s*{_NUMBER}(?:\s+moe)?$")
_MOE_LONG = re.compile(
    rf"^{_NUMBER}\s+(?:moe|mixture[- ]of[- ]experts)\s*,?\s*(?:with\s+)?{_NUMBER}\s+active$"
)


@dataclass(frozen=True)
class ModelSize:
    """Total and active parameters in billions (equal for a dense model)."""

    total_b: float
    active_b: float

    @property
    def is_moe(self) -> bool:
        return self.active_b < self.total_b

    @property
    def label(self) -> str:
        if self.is_moe:
            return f"{self.total_b:g}B MoE, {self.active_b:g}B active"
        return f"{self.total_b:g}B dense"


def _billions(number: str, unit: str) -> float:
    return float(number) * (1000 if unit == "t" else 1)


def parse_size(text: str) -> ModelSize:
    """Read a model size as users type it; ``ValueError`` naming the accepted forms
    otherwise."""
    cleaned = " ".join(str(text).lower().split())
    if match := _DENSE.match(cleaned):
        total = _billions(*match.groups())
        size = ModelSize(total, total)
    elif match := _MOE_SHORT.match(cleaned) or _MOE_LONG.match(cleaned):
        total_n, total_u, active_n, active_u = match.groups()
        size = ModelSize(_billions(total_n, total_u), _billions(active_n, active_u))
    else:
        hint = ""
        if "moe" in cleaned or "expert" in cleaned:
            hint = " A mixture-of-experts size needs its active parameters too."
        raise ValueError(
            f"model size {text!r} is not understood.{hint} Accepted forms: "
            + "; ".join(ACCEPTED_FORMS)
            + "."
        )
    if size.total_b <= 0 or size.active_b <= 0:
        raise SizeRangeError(f"model size must be above 0 (got {text!r}).")
    if size.active_b > size.total_b:
        raise SizeRangeError(
            f"active parameters ({size.active_b:g}B) cannot exceed the total "
            f"({size.total_b:g}B) in {text!r}."
        )
    if not (
        MIN_SIZE_B <= size.active_b <= MAX_ACTIVE_B
        and size.total_b <= MAX_TOTAL_B
        and size.total_b <= size.active_b * MAX_TOTAL_PER_ACTIVE
    ):
        raise SizeRangeError(f"model must be a size of {SIZE_RANGE} (got {text!r}).")
    return size


def approximate_model(text: str) -> LlmModel:
    """An unsaved, ``approximate`` LlmModel for a size such as "70B dense" or
    "671B MoE with 37B active"."""
    size = parse_size(text)
    spec = f"{size.total_b:g}b-a{size.active_b:g}b" if size.is_moe else f"{size.total_b:g}b"
    try:
        arch = ModelArch.from_size(spec)
    except ValueError as exc:  # the bounds above should keep this from happening
        raise SizeRangeError(f"model size {text!r} cannot be approximated: {exc}.") from None
    moe = arch.experts_total > 0
    return LlmModel(
        slug=slugify(f"approx {size.label.replace('.', '-')}"),
        name=f"{size.label} (approximate)",
        family="approximate",
        license="",
        total_params_b=arch.total_params_b,
        active_params_b=arch.active_params_b,
        layers=arch.layers,
        hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size,
        attention_heads=arch.attention_heads,
        kv_heads=arch.kv_heads,
        head_dim=arch.head_dim,
        vocab_size=arch.vocab_size,
        tie_word_embeddings=arch.tie_word_embeddings,
        mlp_gated=arch.mlp_gated,
        experts_total=arch.experts_total if moe else None,
        experts_per_token=arch.experts_per_token if moe else None,
        shared_experts=arch.shared_experts if moe else None,
        moe_intermediate_size=arch.moe_intermediate_size if moe else None,
        dense_layers=arch.dense_layers if moe else None,
        max_context=arch.max_context or APPROXIMATE_MAX_CONTEXT,
        config_source="",
        approximate=True,
    )
