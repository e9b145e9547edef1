"""Model architecture: the numbers from a model's config that decide memory and speed.

:meth:`ModelArch.from_size` builds an approximate architecture from a size alone
("70b", "671b-a37b") using the shapes of well-known model families, and marks it
``approximate``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any

from . import checks

# Shapes of published dense models, used to fill in a model known only by its size:
# (params_b, layers, hidden, attention_heads, kv_heads, head_dim, intermediate, vocab, tied)
_DENSE_SHAPES: tuple[tuple[float, int, int, int, int, int, int, int, bool], ...] = (
    (0.5, 24, 896, 14, 2, 64, 4864, 151_936, True),  # Qwen2.5-0.5B
    (1.2, 16, 2048, 32, 8, 64, 8192, 128_256, True),  # Llama 3.2 1B
    (3.2, 28, 3072, 24, 8, 128, 8192, 128_256, True),  # Llama 3.2 3B
    (8.0, 32, 4096, 32, 8, 128, 14_336, 128_256, False),  # Llama 3.1 8B
    (14.8, 48, 5120, 40, 8, 128, 13_824, 152_064, False),  # Qwen2.5 14B
    (32.8, 64, 5120, 40, 8, 128, 27_648, 152_064, False),  # Qwen2.5 32B
    (70.6, 80, 8192, 64, 8, 128, 28_672, 128_256, False),  # Llama 3.1 70B
    (123.0, 88, 12_288, 96, 8, 128, 28_672, 32_768, False),  # Mistral Large 2
    (405.9, 126, 16_384, 128, 8, 128, 53_248, 128_256, False),  # Llama 3.1 405B
)
_MOE_EXPERTS_PER_TOKEN = 8

LINEAR_ATTENTION_KINDS = ("", "gated_deltanet", "mamba2", "short_conv", "lightning")
# llama.cpp keeps the recurrent (conv and SSM/delta-rule) state of hybrid and recurrent
# models in f32 whatever the KV cache type: llama_model::create_memory passes
# GGML_TYPE_F32 for both recurrent tensors (src/llama-model.cpp), sized per layer by
# llama_hparams::n_embd_r() (conv: (d_conv - 1) x channels) and n_embd_s() (state).
RECURRENT_STATE_BYTES = 4
# DeepSeek V3.2's lightning indexer caches one key of index_head_dim = 128 per token per
# layer (config.json of deepseek-ai/DeepSeek-V3.2-Exp: index_head_dim 128, index_n_heads
# 64, index_topk 2048).
DSA_INDEX_HEAD_DIM = 128
_SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*b(?:\s*-\s*a\s*(\d+(?:\.\d+)?)\s*b)?\s*$", re.I)


@dataclass(frozen=True)
class ModelArch:
    """A transformer's architecture as in its ``config.json``.

    Parameter counts are in billions (``total_params_b``; ``active_params_b`` per token,
    equal to the total for dense models). For mixture-of-experts models ``experts_total``
    and ``experts_per_token`` are set (0 for dense). ``kv_lora_rank`` and
    ``qk_rope_head_dim`` describe multi-head latent attention (DeepSeek V3); a sliding
    window applies to ``sliding_window_layers_fraction`` of the attention layers.

    Hybrid linear-attention models (Qwen3-Next/Qwen3.5 Gated DeltaNet, Nemotron-H and
    Granite 4.0-H Mamba-2, LFM2 short convolutions) have softmax attention, and so a KV
    cache that grows with context, on ``full_attention_layers`` layers only;
    ``recurrent_layers`` (default: all other layers) keep a fixed state per sequence of
    ``recurrent_state_heads`` x ``recurrent_state_key_dim`` x ``recurrent_state_value_dim``
    plus a short convolution of ``recurrent_conv_channels`` x (``recurrent_conv_kernel``
    - 1) values. ``sparse_attention_topk`` marks DeepSeek sparse attention (each query
    attends to that many tokens chosen by an indexer whose keys are cached too).

    ``total_params_b`` counts every weight the checkpoint ships, including a vision tower
    (``vision_params_b``) and multi-token-prediction layers (``mtp_layers``) when it has
    them; those are held in memory but not read to decode text (MTP layers only by an
    engine that loads them for speculative decoding).
    """

    name: str
    total_params_b: float
    active_params_b: float
    layers: int
    hidden_size: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    intermediate_size: int | None = None
    tie_word_embeddings: bool = False
    mlp_gated: bool = True
    experts_total: int = 0
    experts_per_token: int = 0
    shared_experts: int = 0
    moe_intermediate_size: int | None = None
    dense_layers: int = 0
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    q_lora_rank: int | None = None
    sliding_window: int | None = None
    sliding_window_layers_fraction: float | None = None
    max_context: int | None = None
    approximate: bool = False
    full_attention_layers: int | None = None
    linear_attention_kind: str = ""
    recurrent_layers: int | None = None
    recurrent_state_heads: int | None = None
    recurrent_state_key_dim: int | None = None
    recurrent_state_value_dim: int | None = None
    recurrent_conv_channels: int | None = None
    recurrent_conv_kernel: int | None = None
    sparse_attention_topk: int | None = None
    indexer_head_dim: int | None = None
    mtp_layers: int = 0
    vision_params_b: float = 0.0
    extended_context: int | None = None

    def __post_init__(self) -> None:
        self._check_sizes()
        self._check_experts()
        self._check_attention()
        self._check_hybrid_and_extras()

    def _check_sizes(self) -> None:
        """Name, parameter counts and the transformer dimensions."""
        checks.text("model.name", self.name)
        checks.number("model.total_params_b", self.total_params_b, 0.001, 100_000)
        checks.number("model.active_params_b", self.active_params_b, 0.001, 100_000)
        if self.active_params_b > self.total_params_b * 1.0001:
            raise ValueError(
                f"model.active_params_b must be between 0 and total_params_b "
                f"({self.total_params_b:g}) (got {self.active_params_b!r})"
            )
        checks.integer("model.layers", self.layers, 1, 1_000)
        checks.integer("model.hidden_size", self.hidden_size, 16, 1_000_000)
        checks.integer("model.attention_heads", self.attention_heads, 1, 10_000)
        checks.integer("model.kv_heads", self.kv_heads, 1, self.attention_heads)
        checks.integer("model.head_dim", self.head_dim, 1, 4_096)
        checks.integer("model.vocab_size", self.vocab_size, 1, 10_000_000)
        if self.intermediate_size is not None:
            checks.integer("model.intermediate_size", self.intermediate_size, 1, 10_000_000)

    def _check_experts(self) -> None:
        """Mixture-of-experts counts and dense-first layers."""
        checks.integer("model.experts_total", self.experts_total, 0, 100_000)
        checks.integer(
            "model.experts_per_token", self.experts_per_token, 0, max(self.experts_total, 0)
        )
        if self.experts_total and not self.experts_per_token:
            raise ValueError(
                f"model.experts_per_token must be between 1 and {self.experts_total} "
                "for a mixture-of-experts model (got 0)"
            )
        checks.integer("model.shared_experts", self.shared_experts, 0, 1_000)
        checks.integer("model.dense_layers", self.dense_layers, 0, self.layers)

    def _check_attention(self) -> None:
        """MLA ranks, sliding windows and context lengths."""
        if self.kv_lora_rank is not None:
            checks.integer("model.kv_lora_rank", self.kv_lora_rank, 1, 100_000)
        if self.qk_rope_head_dim is not None:
            checks.integer("model.qk_rope_head_dim", self.qk_rope_head_dim, 0, 100_000)
        if self.sliding_window is not None:
            checks.integer("model.sliding_window", self.sliding_window, 1, 100_000_000)
        if self.sliding_window_layers_fraction is not None:
            checks.number(
                "model.sliding_window_layers_fraction", self.sliding_window_layers_fraction, 0, 1
            )
        if self.max_context is not None:
            checks.integer("model.max_context", self.max_context, 1, 100_000_000)
        if self.extended_context is not None:
            checks.integer("model.extended_context", self.extended_context, 1, 100_000_000)

    def _check_hybrid_and_extras(self) -> None:
        """Linear-attention layout, recurrent state, sparse attention, MTP and vision."""
        checks.choice(
            "model.linear_attention_kind", self.linear_attention_kind, LINEAR_ATTENTION_KINDS
        )
        if self.full_attention_layers is not None:
            checks.integer(
                "model.full_attention_layers", self.full_attention_layers, 0, self.layers
            )
            if self.full_attention_layers < self.layers and not self.linear_attention_kind:
                raise ValueError(
                    "model.linear_attention_kind must be one of "
                    f"{', '.join(LINEAR_ATTENTION_KINDS[1:])} when only "
                    f"{self.full_attention_layers} of {self.layers} layers have attention"
                )
        if self.recurrent_layers is not None:
            checks.integer(
                "model.recurrent_layers",
                self.recurrent_layers,
                0,
                self.layers - self.attention_layers,
            )
        if self.q_lora_rank is not None:
            checks.integer("model.q_lora_rank", self.q_lora_rank, 0, 100_000)
        for name in (
            "recurrent_state_heads",
            "recurrent_state_key_dim",
            "recurrent_state_value_dim",
            "recurrent_conv_channels",
            "sparse_attention_topk",
            "indexer_head_dim",
        ):
            if getattr(self, name) is not None:
                checks.integer(f"model.{name}", getattr(self, name), 1, 10_000_000)
        if self.recurrent_conv_kernel is not None:
            checks.integer("model.recurrent_conv_kernel", self.recurrent_conv_kernel, 1, 64)
        checks.integer("model.mtp_layers", self.mtp_layers, 0, 64)
        checks.number("model.vision_params_b", self.vision_params_b, 0, self.total_params_b * 0.9)

    # Layer kinds -----------------------------------------------------------------------

    @property
    def attention_layers(self) -> int:
        """Layers with softmax attention (a KV cache growing with context)."""
        if self.full_attention_layers is None:
            return self.layers
        return self.full_attention_layers

    @property
    def state_layers(self) -> int:
        """Layers that keep a fixed recurrent state per sequence instead of a KV cache."""
        if not self.linear_attention_kind:
            return 0
        if self.recurrent_layers is not None:
            return self.recurrent_layers
        return self.layers - self.attention_layers

    @property
    def is_hybrid(self) -> bool:
        """True when some layers replace softmax attention with a linear/SSM layer."""
        return self.attention_layers < self.layers

    def recurrent_state_values_per_layer(self) -> int:
        """Numbers one recurrent layer keeps per sequence (llama.cpp's n_embd_s() +
        n_embd_r()): the state matrix of every head plus the short convolution's tail."""
        state = (
            (self.recurrent_state_heads or 0)
            * (self.recurrent_state_key_dim or 0)
            * (self.recurrent_state_value_dim or 0)
        )
        conv = (self.recurrent_conv_channels or 0) * max((self.recurrent_conv_kernel or 1) - 1, 0)
        return state + conv

    def recurrent_state_bytes(self) -> float:
        """Fixed state of one sequence over all recurrent layers, bytes (f32)."""
        return float(
            self.state_layers * self.recurrent_state_values_per_layer() * RECURRENT_STATE_BYTES
        )

    def attended_tokens(self, context_tokens: float) -> float:
        """Tokens one decode step's attention reads per attention layer, on average:
        the cached tokens, or at most ``sparse_attention_topk`` of them (DeepSeek sparse
        attention, whose indexer still scores every cached key)."""
        per_layer = self.kv_cached_tokens_per_attention_layer(context_tokens)
        if self.sparse_attention_topk:
            return min(per_layer, float(self.sparse_attention_topk))
        return per_layer

    def prefill_attended_tokens(self, depth_tokens: float, prompt_tokens: float) -> float:
        """Keys one prompt token's attention scores, averaged over the prompt and over
        all layers, for a prompt of ``prompt_tokens`` after ``depth_tokens`` in the
        context. Causal attention: the token at position p scores p keys, depth + prompt
        / 2 on average; a sliding-window layer at most its window; the linear layers of
        a hybrid model none (their cost grows with tokens, not context); DeepSeek sparse
        attention at most ``sparse_attention_topk`` (its indexer's scoring is left out).
        """
        if prompt_tokens <= 0 or self.attention_layers == 0:
            return 0.0
        full = depth_tokens + prompt_tokens / 2
        attended = full
        if self.sliding_window and self.sliding_window_layers_fraction:
            share = self.sliding_window_layers_fraction
            attended = (
                share * _mean_windowed(depth_tokens, prompt_tokens, self.sliding_window)
                + (1 - share) * full
            )
        if self.sparse_attention_topk:
            attended = min(attended, float(self.sparse_attention_topk))
        return attended * self.attention_layers / self.layers

    # Derived sizes -------------------------------------------------------------------

    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts model."""
        return self.experts_total > 0

    @property
    def embedding_params_b(self) -> float:
        """Input token-embedding parameters, billions."""
        return self.vocab_size * self.hidden_size / 1e9

    @property
    def output_params_b(self) -> float:
        """Output (LM head) parameters stored separately from the embedding, billions."""
        return 0.0 if self.tie_word_embeddings else self.embedding_params_b

    @property
    def text_params_b(self) -> float:
        """Parameters of the text model itself: the total less the vision tower and the
        multi-token-prediction layers, billions."""
        return max(
            self.total_params_b - self.vision_params_b - self.mtp_params_b,
            self.total_params_b * 0.05,
        )

    @property
    def mtp_params_b(self) -> float:
        """Multi-token-prediction layers, billions: each is one more decoder block plus
        a projection of [hidden; embedding] (2 x hidden x hidden); it shares the
        embedding and output head with the main model."""
        if not self.mtp_layers:
            return 0.0
        projection = 2.0 * self.hidden_size * self.hidden_size
        blocks = (
            self.total_params_b * 1e9
            - self.vision_params_b * 1e9
            - (self.embedding_params_b + self.output_params_b) * 1e9
            - self.mtp_layers * projection
        ) / (self.layers + self.mtp_layers)
        return max(self.mtp_layers * (max(blocks, 0.0) + projection) / 1e9, 0.0)

    @property
    def layer_params_b(self) -> float:
        """Parameters inside the transformer blocks (all experts), billions."""
        rest = self.text_params_b - self.embedding_params_b - self.output_params_b
        return max(rest, self.text_params_b * 0.05)

    @property
    def active_layer_params_b(self) -> float:
        """Parameters inside the blocks that one token uses, billions. A dense model's
        active count equals its total, so the vision tower and MTP layers come off it
        too; a MoE's published active count is the text model's already."""
        active = self.text_params_b if not self.is_moe else self.active_params_b
        rest = active - self.embedding_params_b - self.output_params_b
        return min(max(rest, active * 0.05), self.layer_params_b)

    @property
    def params_read_per_token_b(self) -> float:
        """Parameters read from memory for one decoded token, billions: the active block
        weights plus the output head (the input embedding is one row, negligible)."""
        return self.active_layer_params_b + self.embedding_params_b

    @property
    def uses_mla(self) -> bool:
        """True when the KV cache holds compressed latents (multi-head latent attention)."""
        return bool(self.kv_lora_rank)

    @property
    def uses_sparse_attention(self) -> bool:
        """True for DeepSeek sparse attention (an indexer picks the attended tokens)."""
        return bool(self.sparse_attention_topk)

    def kv_values_per_token_per_layer(self) -> int:
        """Numbers stored in the KV cache for one token in one attention layer: K and V
        of every KV head, or for latent attention the compressed latent plus the rotary
        key (llama.cpp and vLLM cache kv_lora_rank + qk_rope_head_dim per token, V being
        a view of it); DeepSeek sparse attention adds the indexer's key."""
        if self.uses_mla:
            values = int(self.kv_lora_rank or 0) + int(self.qk_rope_head_dim or 0)
        else:
            values = 2 * self.kv_heads * self.head_dim
        if self.uses_sparse_attention:
            values += self.indexer_head_dim or DSA_INDEX_HEAD_DIM
        return values

    def kv_cached_tokens_per_attention_layer(self, context_tokens: float) -> float:
        """Average number of tokens one attention layer caches at ``context_tokens``:
        sliding-window layers keep at most their window."""
        if self.sliding_window and self.sliding_window_layers_fraction:
            share = self.sliding_window_layers_fraction
            windowed = min(context_tokens, self.sliding_window)
            return share * windowed + (1 - share) * context_tokens
        return float(context_tokens)

    def kv_cached_tokens_per_layer(self, context_tokens: float) -> float:
        """Average number of tokens a layer keeps in its KV cache at ``context_tokens``,
        over all layers: sliding-window layers keep at most their window, and the linear
        layers of a hybrid model keep none (their fixed state is counted apart)."""
        share = self.attention_layers / self.layers
        return share * self.kv_cached_tokens_per_attention_layer(context_tokens)

    def context_for_cached_tokens(self, cached_tokens: float) -> float:
        """Inverse of :meth:`kv_cached_tokens_per_layer`: the longest context whose
        average cached tokens per layer stay within ``cached_tokens`` (inf when sliding
        windows or linear layers cap every layer below it)."""
        if cached_tokens <= 0:
            return 0.0
        if self.attention_layers == 0:
            return float("inf")
        cached_tokens = cached_tokens * self.layers / self.attention_layers
        if not (self.sliding_window and self.sliding_window_layers_fraction):
            return cached_tokens
        share = self.sliding_window_layers_fraction
        if cached_tokens <= self.sliding_window:
            return cached_tokens
        if share >= 1:
            return float("inf")
        return (cached_tokens - share * self.sliding_window) / (1 - share)

    def expert_fraction_touched(self, tokens_in_step: int) -> float:
        """Share of the routed expert weights read in one step that serves
        ``tokens_in_step`` tokens (1 for dense models): each token picks
        ``experts_per_token`` of ``experts_total`` experts, assumed independent."""
        if not self.is_moe:
            return 1.0
        p = self.experts_per_token / self.experts_total
        return 1.0 - (1.0 - p) ** max(tokens_in_step, 1)

    # Constructors ----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelArch:
        """Build from a mapping with this class's field names (e.g. a catalogue row);
        unknown keys are ignored, nulls take the field's default."""
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names and v is not None}
        if "active_params_b" not in kwargs and "total_params_b" in kwargs:
            kwargs["active_params_b"] = kwargs["total_params_b"]
        for key in (
            "experts_total",
            "experts_per_token",
            "shared_experts",
            "dense_layers",
            "mtp_layers",
        ):
            kwargs[key] = int(kwargs.get(key) or 0)
        kwargs["vision_params_b"] = float(kwargs.get("vision_params_b") or 0.0)
        if "head_dim" not in kwargs and kwargs.get("hidden_size") and kwargs.get("attention_heads"):
            # A null head_dim means hidden_size / attention_heads (as in transformers).
            kwargs["head_dim"] = int(kwargs["hidden_size"]) // int(kwargs["attention_heads"])
        return cls(**kwargs)

    @classmethod
    def from_size(cls, size: str) -> ModelArch:
        """An approximate architecture from a size such as ``"70b"`` (dense) or
        ``"671b-a37b"`` (mixture of experts, 37 B active).

        Layers, widths and heads come from the closest published model family (Llama 3,
        Qwen 2.5, Mistral Large); GQA with 8 KV heads of 128 dimensions is assumed. The
        result has ``approximate=True``.
        """
        match = _SIZE_PATTERN.match(size) if isinstance(size, str) else None
        if not match:
            raise ValueError(f"model size must look like '70b' or '671b-a37b' (got {size!r})")
        total_b = checks.positive("model size", float(match.group(1)), 100_000)
        active_b = float(match.group(2)) if match.group(2) else total_b
        checks.positive("model active size", active_b, total_b)
        shape = min(_DENSE_SHAPES, key=lambda s: abs(math.log(s[0] / active_b)))
        _, _, hidden, heads, kv_heads, head_dim, inter, vocab, tied = shape
        tied = tied and total_b < 4
        embed_b = vocab * hidden / 1e9 * (1 if tied else 2)
        attn = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
        dense_layer = attn + 3 * hidden * inter
        active_blocks = max(active_b - embed_b, active_b * 0.5) * 1e9
        layers = max(1, round(active_blocks / dense_layer))
        experts_total = experts_per_token = 0
        moe_inter = None
        if total_b > active_b:
            # Routed experts hold what attention does not; k of them are active.
            per_layer_active = active_blocks / layers - attn
            per_layer_total = max(total_b - embed_b, total_b * 0.5) * 1e9 / layers - attn
            expert = max(per_layer_active, 3 * hidden * 64) / _MOE_EXPERTS_PER_TOKEN
            experts_per_token = _MOE_EXPERTS_PER_TOKEN
            experts_total = max(experts_per_token + 1, round(per_layer_total / expert))
            moe_inter = max(1, round(expert / (3 * hidden)))
        return cls(
            name=f"{size.strip().lower()} (approximate)",
            total_params_b=total_b,
            active_params_b=active_b,
            layers=layers,
            hidden_size=hidden,
            attention_heads=heads,
            kv_heads=kv_heads,
            head_dim=head_dim,
            vocab_size=vocab,
            intermediate_size=inter,
            tie_word_embeddings=tied,
            mlp_gated=True,
            experts_total=experts_total,
            experts_per_token=experts_per_token,
            moe_intermediate_size=moe_inter,
            approximate=True,
        )


def _mean_windowed(depth_tokens: float, prompt_tokens: float, window: float) -> float:
    """Mean over a prompt's tokens of min(window, position), positions running from
    ``depth_tokens`` to ``depth_tokens + prompt_tokens`` (continuous, as the full-attention
    mean depth + prompt / 2)."""
    if depth_tokens >= window:
        return float(window)
    below = min(prompt_tokens, window - depth_tokens)
    total = below * depth_tokens + below * below / 2 + (prompt_tokens - below) * window
    return total / prompt_tokens
