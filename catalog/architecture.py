"""Parameter counts recomputed from a transformer's architecture numbers.

Plain Python (no Django): used by ``import_model`` when a config does not state its size,
and by the seed consistency tests to catch wrong configs. Counts include embeddings,
the output head (unless tied), attention (GQA, or MLA with its query compression),
the linear layers of hybrid models (Gated DeltaNet, Mamba-2, short convolutions),
feed-forward/expert weights, MoE routers, norms, DeepSeek sparse attention's indexer,
multi-token-prediction layers and a stated vision tower, as a checkpoint holds them
(``total_b`` is what the safetensors index counts); biases are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NamedTuple


class ParameterCount(NamedTuple):
    """Parameters in billions: all of them, and those one token uses (MoE)."""

    total_b: float
    active_b: float


@dataclass(frozen=True)
class Architecture:
    layers: int
    hidden_size: int
    attention_heads: int
    kv_heads: int
    vocab_size: int
    intermediate_size: int | None = None
    head_dim: int | None = None
    tie_word_embeddings: bool = False
    mlp_gated: bool = True
    experts_total: int | None = None
    experts_per_token: int | None = None
    shared_experts: int | None = None
    moe_intermediate_size: int | None = None
    dense_layers: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    q_lora_rank: int | None = None
    full_attention_layers: int | None = None
    linear_attention_kind: str = ""
    recurrent_layers: int | None = None
    recurrent_state_heads: int | None = None
    recurrent_state_key_dim: int | None = None
    recurrent_state_value_dim: int | None = None
    recurrent_conv_channels: int | None = None
    recurrent_conv_kernel: int | None = None
    sparse_attention_topk: int | None = None
    mtp_layers: int | None = None
    vision_params_b: float | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Architecture:
        """Build from a mapping with these field names (a catalogue row); other keys are
        ignored."""
        values = {name: data.get(name) for name in FIELD_NAMES if name in data}
        if values.get("linear_attention_kind") is None:
            values.pop("linear_attention_kind", None)
        return cls(**values)

    @property
    def is_moe(self) -> bool:
        return bool(self.experts_total)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Architecture))

# Multi-head latent attention compresses queries too; DeepSeek V3 and Kimi K2 set
# q_lora_rank = 3 x kv_lora_rank (1536 = 3 x 512). This ratio stands in for a row that
# does not state q_lora_rank.
MLA_Q_TO_KV_RANK = 3
# DeepSeek V3.2's lightning indexer per layer: index_n_heads 64 x index_head_dim 128
# query projection from the q latent, one 128-wide key and 64 head weights from the
# hidden state (config.json of deepseek-ai/DeepSeek-V3.2-Exp).
DSA_INDEX_HEADS = 64
DSA_INDEX_HEAD_DIM = 128


def attention_params(a: Architecture) -> int:
    """Attention weights of one layer (query, key, value and output projections)."""
    head_dim = a.head_dim or a.hidden_size // a.attention_heads
    if a.kv_lora_rank:
        # MLA: head_dim is the non-rotary query/key width and the value width.
        rope = a.qk_rope_head_dim or 0
        q_rank = a.q_lora_rank if a.q_lora_rank is not None else MLA_Q_TO_KV_RANK * a.kv_lora_rank
        heads = a.attention_heads
        if q_rank:
            query = a.hidden_size * q_rank + q_rank + q_rank * heads * (head_dim + rope)
        else:
            query = a.hidden_size * heads * (head_dim + rope)
        indexer = 0
        if a.sparse_attention_topk:
            indexer = (
                (q_rank or a.hidden_size) * DSA_INDEX_HEADS * DSA_INDEX_HEAD_DIM
                + a.hidden_size * DSA_INDEX_HEAD_DIM
                + a.hidden_size * DSA_INDEX_HEADS
            )
        return (
            query
            + a.hidden_size * (a.kv_lora_rank + rope)
            + a.kv_lora_rank
            + a.kv_lora_rank * heads * 2 * head_dim
            + heads * head_dim * a.hidden_size
            + indexer
        )
    q_and_o = 2 * a.hidden_size * a.attention_heads * head_dim
    k_and_v = 2 * a.hidden_size * a.kv_heads * head_dim
    return q_and_o + k_and_v


def linear_layer_params(a: Architecture) -> int:
    """Weights of one linear-attention/SSM layer of a hybrid model (what replaces the
    attention in that block)."""
    h = a.hidden_size
    heads = a.recurrent_state_heads or 0
    value_dim = a.recurrent_state_value_dim or 0
    conv = a.recurrent_conv_channels or 0
    kernel = a.recurrent_conv_kernel or 0
    kind = a.linear_attention_kind
    if kind == "gated_deltanet":
        # in_proj_qkvz (q, k: conv - v; v and the z gate: heads x value_dim each), in_proj_ba
        # (2 per head), the conv, A_log and dt_bias, the gated norm and out_proj.
        values = heads * value_dim
        return (
            h * (conv + values) + h * 2 * heads + conv * kernel + 2 * heads + value_dim + values * h
        )
    if kind == "mamba2":
        # in_proj (z, x, B, C and dt), the conv, A_log/D/dt_bias, the gated norm, out_proj.
        inner = heads * value_dim
        return h * (inner + conv + heads) + conv * kernel + 3 * heads + inner + inner * h
    if kind == "short_conv":
        return h * 3 * h + h * kernel + h * h
    return attention_params(a)  # lightning attention: q, k, v, o projections


def _mlp(a: Architecture, width: int) -> int:
    return (3 if a.mlp_gated else 2) * a.hidden_size * width


def parameter_count(a: Architecture) -> ParameterCount:
    """Total and active parameters, billions.

    A MoE layer holds ``experts_total`` routed experts of ``moe_intermediate_size``
    (``intermediate_size`` when that is missing, as in Mixtral's config), plus
    ``shared_experts`` of the same width and a router; ``dense_layers`` of the layers use
    the dense ``intermediate_size`` instead. A token uses ``experts_per_token`` routed
    experts and all shared ones.
    """
    embedding = a.vocab_size * a.hidden_size
    output_head = 0 if a.tie_word_embeddings else embedding
    norms_per_layer = 2 * a.hidden_size
    attention_layers = a.layers if a.full_attention_layers is None else a.full_attention_layers
    other_layers = a.layers - attention_layers
    state_layers = other_layers if a.recurrent_layers is None else a.recurrent_layers
    mixers = attention_layers * attention_params(a)
    if other_layers and a.linear_attention_kind:
        mixers += state_layers * linear_layer_params(a)
    # Nemotron-H: each block is one of attention, Mamba-2 or FFN, so only the blocks that
    # are neither carry a feed-forward layer; elsewhere every block has one.
    ffn_layers = a.layers
    if a.recurrent_layers is not None and attention_layers + a.recurrent_layers < a.layers:
        ffn_layers = a.layers - attention_layers - a.recurrent_layers
    if a.is_moe:
        dense_layers = min(a.dense_layers or 0, ffn_layers)
        moe_layers = ffn_layers - dense_layers
        expert = _mlp(a, a.moe_intermediate_size or a.intermediate_size or 0)
        dense_ffn = _mlp(a, a.intermediate_size or 0)
        shared = (a.shared_experts or 0) * expert
        router = a.hidden_size * (a.experts_total or 0)
        moe_total = (a.experts_total or 0) * expert + shared + router
        moe_active = (a.experts_per_token or 0) * expert + shared + router
        ffn_total = dense_layers * dense_ffn + moe_layers * moe_total
        ffn_active = dense_layers * dense_ffn + moe_layers * moe_active
    else:
        ffn_total = ffn_active = ffn_layers * _mlp(a, a.intermediate_size or 0)
    common = embedding + output_head + mixers + a.layers * norms_per_layer + a.hidden_size
    layer_total = (mixers + ffn_total) / a.layers + norms_per_layer
    # Each MTP module: one more block, a 2h x h projection and two norms (embedding and
    # head shared with the main model).
    mtp = (a.mtp_layers or 0) * (layer_total + 2 * a.hidden_size**2 + 2 * a.hidden_size)
    vision = (a.vision_params_b or 0.0) * 1e9
    total = common + ffn_total + mtp + vision
    # A dense model's active count is its total (the catalogue's rule); a MoE's is what
    # one token passes through in the main model.
    active = total if not a.is_moe else common + ffn_active
    return ParameterCount(total_b=total / 1e9, active_b=active / 1e9)
