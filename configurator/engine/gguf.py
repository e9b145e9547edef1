"""GGUF file sizes per architecture, from llama.cpp's per-tensor quantization recipes.

A GGUF "Q4_K_M" is not 4.5 bits everywhere: ``llama-quantize`` picks a type per tensor
(``llama_tensor_get_type`` in src/llama-quant.cpp, https://github.com/ggml-org/llama.cpp):
the output head gets Q6_K, half of the attn_v and ffn_down tensors get Q6_K, MoE models
with 8 experts get Q8_0 attention K/V, grouped-query attention moves attn_v up for the
low-bit types, 70B Llamas get Q5_K attn_v, tensors whose rows do not divide into 256-wide
blocks fall back to a 32-wide type, and norms and MoE routers stay F32. This module lists
a model's tensors from its architecture and replays those rules, so the effective bits per
weight come out per model (Llama 3.1 70B Q4_K_M: 42.5 GB, as published) instead of one
average for every model.

Pure Python; sizes in bytes, bits per weight include block scales.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .model import ModelArch

# Bits per weight of each ggml type: block bytes x 8 / block weights (ggml.c type_traits).
TYPE_BITS: dict[str, float] = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 34 * 8 / 32,
    "Q6_K": 210 * 8 / 256,
    "Q5_K": 176 * 8 / 256,
    "Q5_1": 24 * 8 / 32,
    "Q5_0": 22 * 8 / 32,
    "Q4_K": 144 * 8 / 256,
    "Q4_1": 20 * 8 / 32,
    "Q4_0": 18 * 8 / 32,
    "IQ4_NL": 18 * 8 / 32,
    "IQ4_XS": 136 * 8 / 256,
    "MXFP4": 17 * 8 / 32,
    "Q3_K": 110 * 8 / 256,
    "IQ3_S": 110 * 8 / 256,
    "IQ3_XXS": 98 * 8 / 256,
    "Q2_K": 84 * 8 / 256,
    "IQ2_S": 82 * 8 / 256,
    "IQ2_XS": 74 * 8 / 256,
    "IQ2_XXS": 66 * 8 / 256,
    "IQ1_M": 56 / 256 * 8,
    "IQ1_S": 50 * 8 / 256,
}
_BLOCK_32 = {"Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "IQ4_NL", "MXFP4"}
_UNQUANTIZED = {"F32", "F16", "BF16"}


def block_size(ggml_type: str) -> int:
    """Weights per block of a ggml type (1 for the float types)."""
    if ggml_type in _UNQUANTIZED:
        return 1
    return 32 if ggml_type in _BLOCK_32 else 256


# llama-quantize file types and the default tensor type each starts from
# (llama_model_quantize_impl).
FTYPE_DEFAULT: dict[str, str] = {
    "F16": "F16",
    "BF16": "BF16",
    "Q8_0": "Q8_0",
    "Q6_K": "Q6_K",
    "Q5_K_M": "Q5_K",
    "Q5_K_S": "Q5_K",
    "Q5_1": "Q5_1",
    "Q5_0": "Q5_0",
    "Q4_K_M": "Q4_K",
    "Q4_K_S": "Q4_K",
    "Q4_1": "Q4_1",
    "Q4_0": "Q4_0",
    "IQ4_NL": "IQ4_NL",
    "IQ4_XS": "IQ4_XS",
    "MXFP4_MOE": "MXFP4",
    "Q3_K_L": "Q3_K",
    "Q3_K_M": "Q3_K",
    "Q3_K_S": "Q3_K",
    "IQ3_M": "IQ3_S",
    "IQ3_S": "IQ3_S",
    "IQ3_XS": "IQ3_S",
    "IQ3_XXS": "IQ3_XXS",
    "Q2_K": "Q2_K",
    "Q2_K_S": "Q2_K",
    "IQ2_M": "IQ2_S",
    "IQ2_S": "IQ2_XS",
    "IQ2_XS": "IQ2_XS",
    "IQ2_XXS": "IQ2_XXS",
    "IQ1_M": "IQ1_M",
    "IQ1_S": "IQ1_S",
}
_IQ_LOW = {"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"}


@dataclass(frozen=True)
class Tensor:
    """One weight tensor as llama.cpp names and shapes it: ``category`` is the role
    llama-quantize keys its rules on; ``ncols`` the row length (ne[0]) that must divide
    into blocks; ``layer`` the block index (None outside blocks)."""

    name: str
    category: str
    elements: int
    ncols: int
    layer: int | None = None
    experts: bool = False
    quantize: bool = True


@dataclass(frozen=True)
class GgufSize:
    """A model's GGUF file at one llama-quantize type: bytes per tensor group and the
    effective bits per weight (over all parameters, block scales included)."""

    ftype: str
    params: float
    bytes_total: float
    bytes_by_group: dict[str, float]
    params_by_group: dict[str, float]

    @property
    def bits_per_weight(self) -> float:
        return self.bytes_total * 8 / self.params

    def group_bits(self, group: str) -> float:
        """Bits per weight of one group (embedding, output, attention, ffn, experts,
        other)."""
        params = self.params_by_group.get(group, 0.0)
        return self.bytes_by_group.get(group, 0.0) * 8 / params if params else 0.0


# Tensors of one model ---------------------------------------------------------------


def _attention_layer_flags(model: ModelArch) -> list[bool]:
    """Which blocks have softmax attention: every block, or evenly spread attention
    blocks in a hybrid model (Qwen3-Next: every fourth)."""
    full, layers = model.attention_layers, model.layers
    return [(i + 1) * full // layers > i * full // layers for i in range(layers)]


def tensors(model: ModelArch) -> list[Tensor]:
    """The weight tensors of ``model``'s text GGUF, in file order, from its
    architecture; parameters the architecture does not account for (linear-attention
    projections, biases, odd extras) are one "other" tensor per block."""
    h, heads, kv, hd = model.hidden_size, model.attention_heads, model.kv_heads, model.head_dim
    out: list[Tensor] = [Tensor("token_embd.weight", "token_embd", model.vocab_size * h, h)]
    attention = _attention_layer_flags(model)
    known = model.vocab_size * h
    blocks: list[list[Tensor]] = []
    for i in range(model.layers):
        layer: list[Tensor] = [Tensor(f"blk.{i}.attn_norm.weight", "norm", h, h, i, quantize=False)]
        if attention[i]:
            layer += _attention_tensors(model, i, h, heads, kv, hd)
        layer.append(Tensor(f"blk.{i}.ffn_norm.weight", "norm", h, h, i, quantize=False))
        layer += _ffn_tensors(model, i, h)
        blocks.append(layer)
        known += sum(t.elements for t in layer)
    if not model.tie_word_embeddings:
        known += model.vocab_size * h
    known += h  # output_norm
    text = model.text_params_b * 1e9
    rest = max(text - known, 0.0)
    per_block = int(rest / model.layers)
    for i, layer in enumerate(blocks):
        out += layer
        if per_block > h:
            # Linear-attention/SSM projections and the like: quantized at the default type.
            out.append(Tensor(f"blk.{i}.other.weight", "other", per_block, h, i))
    out.append(Tensor("output_norm.weight", "norm", h, h, quantize=False))
    if not model.tie_word_embeddings:
        out.append(Tensor("output.weight", "output", model.vocab_size * h, h))
    return out


def _attention_tensors(
    model: ModelArch, i: int, h: int, heads: int, kv: int, hd: int
) -> list[Tensor]:
    if model.uses_mla:
        rank = int(model.kv_lora_rank or 0)
        rope = int(model.qk_rope_head_dim or 0)
        q_rank = _q_lora_rank(model)
        q_out = heads * (hd + rope)
        result = []
        if q_rank:
            result += [
                Tensor(f"blk.{i}.attn_q_a.weight", "other", h * q_rank, h, i),
                Tensor(f"blk.{i}.attn_q_b.weight", "other", q_rank * q_out, q_rank, i),
            ]
        else:
            result.append(Tensor(f"blk.{i}.attn_q.weight", "attn_q", h * q_out, h, i))
        return result + [
            Tensor(f"blk.{i}.attn_kv_a_mqa.weight", "other", h * (rank + rope), h, i),
            # Current llama.cpp GGUFs split attn_kv_b into per-head K and V parts.
            Tensor(f"blk.{i}.attn_k_b.weight", "other", heads * hd * rank, hd, i),
            Tensor(f"blk.{i}.attn_v_b.weight", "other", heads * hd * rank, rank, i),
            Tensor(f"blk.{i}.attn_output.weight", "attn_output", heads * hd * h, heads * hd, i),
        ]
    return [
        Tensor(f"blk.{i}.attn_q.weight", "attn_q", h * heads * hd, h, i),
        Tensor(f"blk.{i}.attn_k.weight", "attn_k", h * kv * hd, h, i),
        Tensor(f"blk.{i}.attn_v.weight", "attn_v", h * kv * hd, h, i),
        Tensor(f"blk.{i}.attn_output.weight", "attn_output", heads * hd * h, heads * hd, i),
    ]


def _q_lora_rank(model: ModelArch) -> int:
    if model.q_lora_rank is not None:
        return model.q_lora_rank
    # Unknown: DeepSeek V3 / Kimi K2 compress queries to 1536 = 3 x kv_lora_rank.
    return 3 * int(model.kv_lora_rank or 0)


def _ffn_tensors(model: ModelArch, i: int, h: int) -> list[Tensor]:
    gated = model.mlp_gated
    if not model.is_moe or i < model.dense_layers:
        width = model.intermediate_size or 4 * h
        result = [Tensor(f"blk.{i}.ffn_up.weight", "ffn_up", h * width, h, i)]
        if gated:
            result.insert(0, Tensor(f"blk.{i}.ffn_gate.weight", "ffn_gate", h * width, h, i))
        return result + [Tensor(f"blk.{i}.ffn_down.weight", "ffn_down", width * h, width, i)]
    e = model.experts_total
    width = model.moe_intermediate_size or model.intermediate_size or 4 * h
    result = [
        Tensor(f"blk.{i}.ffn_gate_inp.weight", "router", h * e, h, i, quantize=False),
        Tensor(f"blk.{i}.ffn_up_exps.weight", "ffn_up", e * h * width, h, i, True),
    ]
    if gated:
        result.insert(
            1, Tensor(f"blk.{i}.ffn_gate_exps.weight", "ffn_gate", e * h * width, h, i, True)
        )
    result.append(
        Tensor(f"blk.{i}.ffn_down_exps.weight", "ffn_down", e * width * h, width, i, True)
    )
    if model.shared_experts:
        shared = model.shared_experts * width
        result += [
            Tensor(f"blk.{i}.ffn_up_shexp.weight", "ffn_up", h * shared, h, i),
            Tensor(f"blk.{i}.ffn_down_shexp.weight", "ffn_down", shared * h, shared, i),
        ]
        if gated:
            result.insert(
                -2, Tensor(f"blk.{i}.ffn_gate_shexp.weight", "ffn_gate", h * shared, h, i)
            )
    return result


# The recipe ---------------------------------------------------------------------------


def _use_more_bits(i_layer: int, n_layers: int) -> bool:
    return (
        i_layer < n_layers // 8
        or i_layer >= 7 * n_layers // 8
        or (i_layer - n_layers // 8) % 3 == 2
    )


def _fallback(ggml_type: str, ncols: int) -> str:
    """tensor_type_fallback: a 32-wide type when rows do not divide into 256-blocks."""
    if ncols % block_size(ggml_type) == 0:
        return ggml_type
    replacement = {
        "IQ1_S": "IQ4_NL",
        "IQ1_M": "IQ4_NL",
        "IQ2_XXS": "IQ4_NL",
        "IQ2_XS": "IQ4_NL",
        "IQ2_S": "IQ4_NL",
        "IQ3_XXS": "IQ4_NL",
        "IQ3_S": "IQ4_NL",
        "IQ4_XS": "IQ4_NL",
        "Q2_K": "Q4_0",
        "Q3_K": "Q4_0",
        "Q4_K": "Q5_0",
        "Q5_K": "Q5_1",
        "Q6_K": "Q8_0",
    }.get(ggml_type, "F16")
    return replacement if ncols % block_size(replacement) == 0 else "F16"


class _Recipe:
    """llama_tensor_get_type_impl for one model and file type (imatrix assumed, as
    the published IQ and K-quant files are made)."""

    def __init__(self, model: ModelArch, ftype: str, all_tensors: list[Tensor]) -> None:
        self.model = model
        self.ftype = ftype
        self.default = FTYPE_DEFAULT[ftype]
        self.n_gqa = model.attention_heads // model.kv_heads
        self.n_expert = model.experts_total
        self.is_70b = not model.is_moe and model.layers == 80
        self.n_attention_wv = sum(t.category == "attn_v" for t in all_tensors)
        self.n_ffn_down = sum(t.category == "ffn_down" for t in all_tensors)
        self.n_ffn_gate = sum(t.category == "ffn_gate" for t in all_tensors)
        self.n_ffn_up = sum(t.category == "ffn_up" for t in all_tensors)
        self.i_attention_wv = self.i_ffn_down = self.i_ffn_gate = self.i_ffn_up = 0

    def _layer(self, counter: int, total: int, t: Tensor) -> tuple[int, int]:
        # With experts llama.cpp reads the layer from the name; the count stays the
        # number of such tensors.
        if self.n_expert > 1 and t.layer is not None:
            return t.layer, total
        return counter, total

    def type_of(self, t: Tensor) -> str:
        if not t.quantize:
            return "F32"
        if self.default in _UNQUANTIZED:
            return self.default
        return _fallback(self._pick(t), t.ncols)

    def _pick(self, t: Tensor) -> str:  # noqa: C901 - one branch per llama.cpp rule
        ftype, cat, new = self.ftype, t.category, self.default
        tied = self.model.tie_word_embeddings
        if cat == "output" or (tied and cat == "token_embd"):
            return self._output(t, new)
        if ftype == "MXFP4_MOE":
            return "MXFP4" if t.experts else "Q8_0"
        if cat == "token_embd":
            if ftype in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
                return "Q2_K"
            if ftype in ("IQ2_S", "IQ2_M", "IQ3_XXS"):
                return "IQ3_S"
            return new
        if ftype in _IQ_LOW:
            return self._low_iq(cat, new)
        if cat == "attn_v":
            return self._attn_v(new)
        if cat == "attn_k":
            if self.n_expert == 8:
                return "Q8_0"
            if ftype == "IQ3_XS":
                return "IQ3_XXS"
            if ftype == "IQ3_XXS":
                return "IQ2_S"
            return new
        if cat == "attn_q":
            if ftype == "IQ3_XS":
                return "IQ3_XXS"
            if ftype == "IQ3_XXS":
                return "IQ2_S"
            return new
        if cat == "ffn_down":
            i_layer, n_layer = self._layer(self.i_ffn_down, self.n_ffn_down, t)
            self.i_ffn_down += 1
            return self._ffn_down(new, i_layer, n_layer)
        if cat == "attn_output":
            return self._attn_output(new)
        if cat in ("ffn_gate", "ffn_up"):
            return self._ffn_gate_up(t, cat, new)
        return new

    def _output(self, t: Tensor, new: str) -> str:
        """The output head (or the token embedding tied to it)."""
        if self.ftype == "MXFP4_MOE" or t.ncols % block_size(new):
            return "Q8_0"
        if self.ftype in _IQ_LOW or self.ftype == "IQ3_XXS":
            return "Q5_K"
        return "Q6_K" if new != "Q8_0" else new

    def _low_iq(self, cat: str, new: str) -> str:
        """The 1-2 bit i-quant recipes: attention V, K of 8-expert models, the first
        eighth of ffn_down and attention output get more bits."""
        ftype = self.ftype
        if cat == "attn_v":
            self.i_attention_wv += 1
            if self.n_gqa >= 4 or self.n_expert >= 4:
                return "Q4_K"
            return "IQ3_S" if ftype in ("IQ2_S", "IQ2_M") else "Q2_K"
        if self.n_expert == 8 and cat == "attn_k":
            return "Q4_K"
        if cat == "ffn_down":
            low = self.i_ffn_down < self.n_ffn_down // 8
            self.i_ffn_down += 1
            if low:
                return "IQ3_S" if ftype in ("IQ2_S", "IQ2_M") else "Q2_K"
            return new
        if cat == "attn_output":
            if self.n_expert == 8:
                return "Q5_K"
            if ftype in ("IQ1_S", "IQ1_M"):
                return "IQ2_XXS"
            if ftype in ("IQ2_S", "IQ2_M"):
                return "IQ3_S"
        return new

    def _ffn_gate_up(self, t: Tensor, cat: str, new: str) -> str:
        """ffn_gate / ffn_up: IQ3_XS takes IQ3_XXS in the middle three quarters."""
        counter = self.i_ffn_gate if cat == "ffn_gate" else self.i_ffn_up
        total = self.n_ffn_gate if cat == "ffn_gate" else self.n_ffn_up
        i_layer, n_layer = self._layer(counter, total, t)
        if cat == "ffn_gate":
            self.i_ffn_gate += 1
        else:
            self.i_ffn_up += 1
        if self.ftype == "IQ3_XS" and n_layer // 8 <= i_layer < 7 * n_layer // 8:
            return "IQ3_XXS"
        return new

    def _attn_v(self, new: str) -> str:
        ftype, gqa4 = self.ftype, self.n_gqa >= 4
        i, n = self.i_attention_wv, self.n_attention_wv
        if ftype == "Q2_K":
            new = "Q4_K" if gqa4 else "Q3_K"
        elif ftype == "Q2_K_S" and gqa4:
            new = "Q4_K"
        elif ftype == "IQ3_XXS":
            new = "Q4_K" if gqa4 else "IQ3_XXS"
        elif ftype in ("IQ3_XS", "IQ3_S") and gqa4:
            new = "Q4_K"
        elif ftype == "IQ3_M":
            new = "Q4_K"
        elif ftype == "Q3_K_M":
            new = "Q5_K" if i < 2 else "Q4_K"
        elif ftype == "Q3_K_L":
            new = "Q5_K"
        elif ftype in ("IQ4_NL", "IQ4_XS") and gqa4:
            new = "Q5_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i, n):
            new = "Q6_K"
        elif ftype == "Q4_K_S" and i < 4:
            new = "Q5_K"
        if self.is_70b and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"
        if self.n_expert == 8:
            new = "Q8_0"
        self.i_attention_wv += 1
        return new

    def _ffn_down(self, new: str, i_layer: int, n_layer: int) -> str:
        ftype = self.ftype
        if ftype == "Q2_K":
            return "Q3_K"
        if ftype == "Q2_K_S":
            return "Q4_K" if i_layer < n_layer // 8 else new
        if ftype == "Q3_K_M":
            return "Q5_K" if i_layer < n_layer // 16 else "Q4_K"
        if ftype == "IQ3_M" and (
            i_layer < n_layer // 8 or (self.n_expert == 8 and _use_more_bits(i_layer, n_layer))
        ):
            return "Q4_K"
        if ftype == "Q3_K_L":
            return "Q5_K"
        if ftype in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i_layer, n_layer):
            return "Q6_K"
        if ftype == "Q4_K_S" and i_layer < n_layer // 8:
            return "Q5_K"
        if ftype in ("Q4_0", "Q5_0") and i_layer < n_layer // 8:
            # With an importance matrix the first eighth of ffn_down gets Q4_1/Q5_1.
            return "Q4_1" if ftype == "Q4_0" else "Q5_1"
        return new

    def _attn_output(self, new: str) -> str:
        ftype = self.ftype
        if self.n_expert == 8:
            if ftype in (
                "Q2_K",
                "IQ3_XS",
                "IQ3_XXS",
                "Q3_K_S",
                "Q3_K_M",
                "IQ4_NL",
                "Q4_K_S",
                "Q4_K_M",
                "IQ3_S",
                "IQ3_M",
                "IQ4_XS",
            ):
                return "Q5_K"
            return new
        return {
            "Q2_K": "Q3_K",
            "IQ3_XXS": "IQ3_S",
            "Q3_K_M": "Q4_K",
            "Q3_K_L": "Q5_K",
            "IQ3_M": "Q4_K",
        }.get(ftype, new)


def _group(t: Tensor) -> str:
    if t.category == "token_embd":
        return "embedding"
    if t.category == "output":
        return "output"
    if t.experts:
        return "experts"
    if t.category.startswith("attn"):
        return "attention"
    if t.category.startswith("ffn"):
        return "ffn"
    return "other"


def tensor_types(model: ModelArch, ftype: str) -> list[tuple[Tensor, str]]:
    """Each tensor of ``model`` with the ggml type llama-quantize gives it at ``ftype``."""
    key = ftype.strip().upper()
    if key not in FTYPE_DEFAULT:
        raise ValueError(f"ftype must be one of {', '.join(FTYPE_DEFAULT)} (got {ftype!r})")
    listed = tensors(model)
    recipe = _Recipe(model, key, listed)
    return [(t, recipe.type_of(t)) for t in listed]


@lru_cache(maxsize=512)
def gguf_size(model: ModelArch, ftype: str) -> GgufSize:
    """The GGUF file of ``model`` at llama-quantize type ``ftype`` (Q4_K_M, IQ4_XS,
    MXFP4_MOE, ...): bytes (tensor data; the header adds a few MB) and bits per weight."""
    by_group: dict[str, float] = {}
    params_by_group: dict[str, float] = {}
    total = params = 0.0
    for t, ggml_type in tensor_types(model, ftype):
        size = t.elements * TYPE_BITS[ggml_type] / 8
        group = _group(t)
        by_group[group] = by_group.get(group, 0.0) + size
        params_by_group[group] = params_by_group.get(group, 0.0) + t.elements
        total += size
        params += t.elements
    return GgufSize(ftype.strip().upper(), params, total, by_group, params_by_group)


def is_llama_quantize_type(name: str) -> bool:
    """True when ``name`` is a llama-quantize file type this module can size."""
    return name.strip().upper() in FTYPE_DEFAULT
