"""Weight quantization formats and KV-cache data types, with effective bits per weight
(block scales included)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import checks

FAMILIES = (
    "GGUF",
    "GPTQ",
    "AWQ",
    "EXL2",
    "EXL3",
    "FP8",
    "MXFP4",
    "NVFP4",
    "NF4",
    "INT8",
    "MLX",
    "native",
    "",
)
# Formats whose checkpoints keep the token embedding and the output head in 16 bits.
KEEPS_16BIT_EMBEDDINGS = frozenset({"GPTQ", "AWQ", "EXL2", "EXL3", "FP8", "NVFP4", "NF4", "INT8"})

# Effective bits per weight of whole model files (block scales and the higher-precision
# tensors a mix keeps included), typical of Llama-style models. The catalogue's own
# quant_formats.json takes precedence where the caller has it.
KNOWN_FORMATS: dict[str, tuple[float, str]] = {
    "F32": (32.0, "native"),
    "FP32": (32.0, "native"),
    "F16": (16.0, "native"),
    "FP16": (16.0, "native"),
    "BF16": (16.0, "native"),
    "Q8_0": (8.5, "GGUF"),
    "Q6_K": (6.56, "GGUF"),
    "Q5_K_M": (5.69, "GGUF"),
    "Q5_K_S": (5.54, "GGUF"),
    "Q5_0": (5.54, "GGUF"),
    "Q4_K_M": (4.85, "GGUF"),
    "Q4_K_S": (4.58, "GGUF"),
    "Q4_0": (4.55, "GGUF"),
    "Q5_1": (6.0, "GGUF"),
    "Q4_1": (5.0, "GGUF"),
    "IQ4_NL": (4.5, "GGUF"),
    "IQ4_XS": (4.32, "GGUF"),
    "Q3_K_L": (4.27, "GGUF"),
    "Q3_K_M": (3.91, "GGUF"),
    "Q3_K_S": (3.5, "GGUF"),
    "IQ3_M": (3.7, "GGUF"),
    "IQ3_S": (3.5, "GGUF"),
    "IQ3_XS": (3.3, "GGUF"),
    "IQ3_XXS": (3.21, "GGUF"),
    "Q2_K": (2.96, "GGUF"),
    "Q2_K_S": (2.8, "GGUF"),
    "IQ2_M": (2.74, "GGUF"),
    "IQ2_S": (2.56, "GGUF"),
    "IQ2_XS": (2.31, "GGUF"),
    "IQ2_XXS": (2.06, "GGUF"),
    "IQ1_M": (1.75, "GGUF"),
    "IQ1_S": (1.56, "GGUF"),
    # gpt-oss as llama.cpp ships it: MXFP4 experts, everything else Q8_0.
    "MXFP4_MOE": (4.6, "GGUF"),
    # Unsloth dynamic GGUFs, sized by the base llama.cpp recipe (Unsloth moves some
    # tensors up per model, so their files can be a little larger).
    "UD-Q8_K_XL": (8.5, "GGUF"),
    "UD-Q6_K_XL": (6.6, "GGUF"),
    "UD-Q5_K_XL": (5.7, "GGUF"),
    "UD-Q4_K_XL": (4.85, "GGUF"),
    "UD-Q3_K_XL": (3.91, "GGUF"),
    "UD-Q2_K_XL": (2.96, "GGUF"),
    "UD-IQ3_XXS": (3.21, "GGUF"),
    "UD-IQ2_M": (2.74, "GGUF"),
    "UD-IQ2_XXS": (2.06, "GGUF"),
    "UD-IQ1_M": (1.75, "GGUF"),
    "UD-IQ1_S": (1.56, "GGUF"),
    "FP8": (8.0, "FP8"),
    # DeepSeek V3-style FP8 with one f32 scale per 128 x 128 block.
    "FP8-BLOCK": (8.0 + 32 / (128 * 128), "FP8"),
    "INT8": (8.0, "INT8"),
    "GPTQ-8BIT": (8.16, "GPTQ"),
    # GPTQ/AWQ: 4-bit weights + a 16-bit scale and a 4-bit zero point per group.
    "GPTQ-4BIT": (4.16, "GPTQ"),
    "GPTQ-4BIT-G128": (4 + 20 / 128, "GPTQ"),
    "GPTQ-4BIT-G64": (4 + 20 / 64, "GPTQ"),
    "GPTQ-4BIT-G32": (4 + 20 / 32, "GPTQ"),
    "AWQ-4BIT": (4.16, "AWQ"),
    "AWQ-4BIT-G128": (4 + 20 / 128, "AWQ"),
    "AWQ-4BIT-G64": (4 + 20 / 64, "AWQ"),
    "NF4": (4.13, "NF4"),
    # OCP MXFP4: 32 FP4 values share one 8-bit (E8M0) scale.
    "MXFP4": (4.25, "MXFP4"),
    # NVIDIA NVFP4: 16 FP4 values share one FP8 (E4M3) scale, plus a per-tensor FP32.
    "NVFP4": (4.5, "NVFP4"),
    "MLX-8BIT": (8.5, "MLX"),
    "MLX-6BIT": (6.5, "MLX"),
    "MLX-4BIT": (4.5, "MLX"),
    "MLX-3BIT": (3.5, "MLX"),
}

# KV-cache element sizes, bits (FP8 = vLLM/SGLang --kv-cache-dtype fp8 (e4m3/e5m2), one
# byte per element with per-tensor scales).
KV_CACHE_BITS: dict[str, float] = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "FP8": 8.0,
    "FP8_E4M3": 8.0,
    "FP8_E5M2": 8.0,
    "Q8_0": 8.5,
    "Q5_1": 6.0,
    "Q5_0": 5.5,
    "Q4_1": 5.0,
    "Q4_0": 4.5,
}

_EXL = re.compile(r"^(EXL[23])-(\d+(?:\.\d+)?)$", re.I)
# Unsloth dynamic names -> the llama-quantize type whose recipe sizes them.
_UD_RECIPES = {
    "UD-Q8_K_XL": "Q8_0",
    "UD-Q6_K_XL": "Q6_K",
    "UD-Q5_K_XL": "Q5_K_M",
    "UD-Q4_K_XL": "Q4_K_M",
    "UD-Q3_K_XL": "Q3_K_M",
    "UD-Q2_K_XL": "Q2_K",
}


def gguf_recipe(name: str) -> str | None:
    """The llama-quantize file type whose per-tensor recipe sizes GGUF format ``name``
    (itself for Q4_K_M, IQ4_XS, ...; the base type for Unsloth UD-*), or None."""
    from .gguf import is_llama_quantize_type

    key = name.strip().upper()
    key = _UD_RECIPES.get(key, key.removeprefix("UD-"))
    return key if is_llama_quantize_type(key) else None


@dataclass(frozen=True)
class Quant:
    """A weight format: ``bits_per_weight`` is the effective size of one weight in bits,
    block scales included (Q4_K_M is about 4.85, not 4; a GGUF type's exact value per
    model comes from :mod:`.gguf`). ``family`` tells which engines run it ("" means
    any); ``mean_kld`` is its measured quality loss (KL divergence from 16-bit, nats)
    when known."""

    name: str
    bits_per_weight: float
    family: str = ""
    mean_kld: float | None = None

    def __post_init__(self) -> None:
        checks.text("quant.name", self.name)
        checks.number("quant.bits_per_weight", self.bits_per_weight, 1.0, 32.0)
        checks.choice("quant.family", self.family, FAMILIES)
        if self.mean_kld is not None:
            checks.number("quant.mean_kld", self.mean_kld, 0.0, 100.0)

    @property
    def bytes_per_weight(self) -> float:
        """Bytes one weight takes."""
        return self.bits_per_weight / 8

    @classmethod
    def from_name(cls, name: str) -> Quant:
        """A known format by name (case-insensitive): GGUF types (``Q4_K_M``, ``IQ2_M``,
        ``MXFP4_MOE``, Unsloth ``UD-Q4_K_XL``), ``BF16``, ``FP8``, ``FP8-block``,
        ``GPTQ-4bit-g128``, ``AWQ-4bit``, ``NF4``, ``MXFP4``, ``NVFP4``, ``MLX-4bit``, and
        ``EXL2-<bpw>`` / ``EXL3-<bpw>`` at any bits per weight."""
        key = checks.text("quant", name).strip().upper()
        exl = _EXL.match(key)
        if exl:
            return cls(
                name=f"{exl.group(1)}-{exl.group(2)}",
                bits_per_weight=float(exl.group(2)),
                family=exl.group(1),
            )
        if key not in KNOWN_FORMATS:
            raise ValueError(
                f"quant must be one of {', '.join(KNOWN_FORMATS)}, EXL2-<bits> or EXL3-<bits> "
                f"(got {name!r})"
            )
        bits, family = KNOWN_FORMATS[key]
        return cls(name=name.strip(), bits_per_weight=bits, family=family)


def kv_cache_bits(name: str) -> float:
    """Bits per KV-cache element for a cache type name such as ``F16``, ``Q8_0``, ``Q4_0``."""
    key = checks.text("kv_cache", name).strip().upper()
    if key not in KV_CACHE_BITS:
        raise ValueError(f"kv_cache must be one of {', '.join(KV_CACHE_BITS)} (got {name!r})")
    return KV_CACHE_BITS[key]
