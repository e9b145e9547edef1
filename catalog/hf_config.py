"""A transformers ``config.json`` read into catalogue model fields.

Plain Python (no Django), so that ``import_model``, the Hugging Face lookup of the
entry points and the engine tests all read configs through this one parser. It reads
dense and MoE models, GQA and latent attention (MLA), sliding-window layer patterns,
hybrid linear-attention stacks (``layer_types``, ``full_attention_interval``,
``hybrid_override_pattern``, ``full_attn_idxs``, ``attn_type_list``), multi-token
prediction and DeepSeek sparse attention. Multimodal configs are read through their
``text_config``. Every number is checked; a config the engine could not use raises
:class:`ModelImportError` naming the field.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Deeper than any real config.json; a deeper document is refused before it is walked.
MAX_JSON_DEPTH = 16
MAX_INT_DIGITS = 30

# Model types whose MLP is a plain up/down pair rather than a gated (SwiGLU/GeGLU) one.
PLAIN_MLP_TYPES = frozenset(
    {
        "falcon",
        "refinedweb",
        "refinedwebmodel",
        "gpt2",
        "gpt_neox",
        "gpt_bigcode",
        "bloom",
        "mpt",
        "opt",
        "phi",
        "starcoder2",
        "gptj",
        "nemotron_h",
    }
)
# Model types whose configs tie the output head to the embedding unless they say not.
TIED_BY_DEFAULT = frozenset(
    {"gemma", "gemma2", "gemma3", "gemma3_text", "cohere", "cohere2", "falcon", "lfm2"}
)

# Values some config classes leave out of config.json because transformers fills them in
# from the class defaults (Gemma3TextConfig).
CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {
        "vocab_size": 262_208,
        "max_position_embeddings": 131_072,
        "sliding_window": 4096,
        "sliding_window_pattern": 6,
        "tie_word_embeddings": True,
    },
}

# Layer-type names used by configs, by what the layer keeps per sequence.
ATTENTION_LAYER_TYPES = frozenset(
    {
        "full_attention",
        "attention",
        "global_attention",
        "sliding_attention",
        "local_attention",
        "chunked_attention",
        "hybrid",
    }
)
SLIDING_LAYER_TYPES = frozenset({"sliding_attention", "local_attention"})
RECURRENT_LAYER_TYPES = {
    "linear_attention": "",  # Gated DeltaNet or lightning, decided by the other keys
    "conv": "short_conv",
    "mamba": "mamba2",
    "mamba2": "mamba2",
}
NEUTRAL_LAYER_TYPES = frozenset({"mlp", "moe"})

# Upper bounds of what a real decoder has (the catalogue's own field limits).
LIMITS: dict[str, int] = {
    "num_hidden_layers": 1_000,
    "hidden_size": 1_000_000,
    "num_attention_heads": 10_000,
    "num_key_value_heads": 10_000,
    "head_dim": 4_096,
    "vocab_size": 10_000_000,
    "intermediate_size": 10_000_000,
    "max_position_embeddings": 100_000_000,
    "num_experts": 100_000,
}


class ModelImportError(Exception):
    """A source that cannot become a catalogue model; the message says why."""


# Reading JSON ----------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ModelImportError(f"{name} is not a number a config may hold (JSON has no {name}).")


def _bounded_int(text: str) -> int:
    """A JSON integer; one longer than any config number is refused (Python would
    otherwise stop at 4,300 digits with a bare ValueError)."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ModelImportError(
            f"a number with {len(text.lstrip('-')):,} digits is not a number a config may hold."
        )
    return int(text)


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of ``value`` (stops counting past ``limit``)."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def parse_config_text(text: str | bytes, label: str = "config.json") -> dict[str, Any]:
    """The JSON object in ``text``; NaN, Infinity, deep nesting and non-objects are
    refused with a message naming ``label``."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int)
    except ModelImportError as exc:
        raise ModelImportError(f"{label}: {exc}") from exc
    except RecursionError as exc:
        raise ModelImportError(
            f"{label}: nested deeper than {MAX_JSON_DEPTH} levels; not a config.json."
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ModelImportError(f"{label}: not valid JSON{where}: {message}") from exc
    if not isinstance(data, dict):
        raise ModelImportError(f"{label} must hold a JSON object.")
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ModelImportError(
            f"{label}: nested deeper than {MAX_JSON_DEPTH} levels; not a config.json."
        )
    return data


# Numbers ---------------------------------------------------------------------------


def _first(config: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = config.get(key)
        if value is not None:
            return value
    return None


def whole(value: Any, key: str, low: int = 0, high: int | None = None) -> int | None:
    """``value`` as a whole number within [low, high] (None stays None); anything else
    raises :class:`ModelImportError` naming ``key``."""
    if value is None:
        return None
    if isinstance(value, list):
        # Per-layer values (some GGUF headers): one number must serve all layers.
        distinct = {v for v in value if v}
        if len(distinct) > 1:
            raise ModelImportError(f"{key} varies per layer ({sorted(distinct)}): unsupported.")
        value = distinct.pop() if distinct else None
        if value is None:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelImportError(f"{key} must be a whole number (got {value!r}).")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise ModelImportError(f"{key} must be a whole number (got {value!r}).")
    number = int(value)
    top = high if high is not None else LIMITS.get(key, 100_000_000)
    if number < low or number > top:
        raise ModelImportError(f"{key} must be between {low} and {top} (got {number}).")
    return number


def _positive(value: Any, key: str, high: int | None = None) -> int | None:
    return whole(value, key, 1, high)


# The parser ------------------------------------------------------------------------


def fields_from_hf_config(config: Any) -> dict[str, Any]:
    """LlmModel field values from a transformers ``config.json`` (dense or MoE, GQA or
    MLA, full, sliding-window or hybrid linear attention)."""
    if not isinstance(config, dict):
        raise ModelImportError("config.json must hold a JSON object.")
    if _depth(config, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ModelImportError(f"config.json nested deeper than {MAX_JSON_DEPTH} levels.")
    if isinstance(config.get("text_config"), dict):
        config = {**config, **config["text_config"]}
    if config.get("is_encoder_decoder"):
        raise ModelImportError(
            "encoder-decoder models are not supported (only decoder-only transformers)."
        )
    model_type = str(config.get("model_type") or "").lower()
    config = {**CONFIG_DEFAULTS.get(model_type, {}), **config}
    base_type = model_type.removesuffix("_text")

    layers = _positive(
        _first(config, "num_hidden_layers", "n_layer", "num_layers", "n_layers"),
        "num_hidden_layers",
    )
    hidden = _positive(
        _first(config, "hidden_size", "n_embd", "n_embed", "d_model", "dim"), "hidden_size"
    )
    heads = _positive(
        _first(config, "num_attention_heads", "n_head", "num_heads", "n_heads"),
        "num_attention_heads",
    )
    vocab = _positive(config.get("vocab_size"), "vocab_size")
    missing = [
        name
        for name, value in (
            ("num_hidden_layers", layers),
            ("hidden_size", hidden),
            ("num_attention_heads", heads),
            ("vocab_size", vocab),
        )
        if not value
    ]
    if missing:
        kind = f" (model_type {model_type!r})" if model_type else ""
        raise ModelImportError(
            f"unsupported config{kind}: missing {', '.join(missing)}. Only decoder-only "
            "transformer configs with attention heads can be imported."
        )
    assert layers and hidden and heads and vocab
    kv_heads = _positive(
        _first(config, "num_key_value_heads", "num_kv_heads", "n_head_kv"), "num_key_value_heads"
    )
    if kv_heads is None:
        kv_heads = 1 if config.get("multi_query") else heads
    if kv_heads > heads or heads % kv_heads:
        raise ModelImportError(
            f"num_key_value_heads ({kv_heads}) must divide num_attention_heads ({heads})."
        )

    kv_lora_rank = _positive(config.get("kv_lora_rank"), "kv_lora_rank", 100_000)
    if kv_lora_rank:
        head_dim = _positive(_first(config, "v_head_dim", "qk_nope_head_dim"), "v_head_dim")
    else:
        head_dim = _positive(config.get("head_dim"), "head_dim")
    if head_dim is None:
        if hidden % heads:
            raise ModelImportError(
                f"head_dim is missing and hidden_size ({hidden}) is not a multiple of "
                f"num_attention_heads ({heads}), so it cannot be derived."
            )
        head_dim = hidden // heads

    intermediate = _positive(
        _first(
            config,
            "intermediate_size_mlp",
            "intermediate_size",
            "ffn_hidden_size",
            "n_inner",
            "ffn_dim",
            "block_ff_dim",
        ),
        "intermediate_size",
    )
    if intermediate is None and base_type in {"falcon", "refinedweb", "refinedwebmodel"}:
        intermediate = 4 * hidden

    experts = _positive(
        _first(config, "num_local_experts", "n_routed_experts", "num_experts", "moe_num_experts"),
        "num_experts",
    )
    max_context = _positive(
        _first(
            config,
            "max_position_embeddings",
            "n_positions",
            "max_sequence_length",
            "seq_length",
        ),
        "max_position_embeddings",
    )
    fields: dict[str, Any] = {
        "layers": layers,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "attention_heads": heads,
        "kv_heads": kv_heads,
        "head_dim": head_dim,
        "vocab_size": vocab,
        "tie_word_embeddings": bool(
            config.get("tie_word_embeddings", base_type in TIED_BY_DEFAULT)
        ),
        "mlp_gated": base_type not in PLAIN_MLP_TYPES,
        "kv_lora_rank": kv_lora_rank,
        # An MLA config with "q_lora_rank": null projects queries without compression.
        "q_lora_rank": (whole(config.get("q_lora_rank"), "q_lora_rank", 0, 100_000) or 0)
        if kv_lora_rank and "q_lora_rank" in config
        else None,
        "qk_rope_head_dim": whole(config.get("qk_rope_head_dim"), "qk_rope_head_dim", 0, 100_000)
        if kv_lora_rank
        else None,
        "max_context": max_context,
        "extended_context": _extended_context(config, max_context),
        "mtp_layers": whole(
            _first(config, "num_nextn_predict_layers", "mtp_num_hidden_layers", "num_mtp_layers"),
            "num_nextn_predict_layers",
            0,
            64,
        )
        or None,
        "sparse_attention_topk": _positive(config.get("index_topk"), "index_topk", 10_000_000),
    }
    if experts:
        fields.update(_moe_fields(config, experts, layers, intermediate))
    fields.update(_layer_fields(config, base_type, layers, hidden, heads, head_dim))
    return fields


def _extended_context(config: dict[str, Any], native: int | None) -> int | None:
    """Context reached with RoPE scaling (YaRN) when the config's own window is the
    original one (Qwen2.5-style ``rope_scaling`` with ``original_max_position_embeddings``
    equal to ``max_position_embeddings``)."""
    scaling = _first(config, "rope_scaling", "rope_parameters")
    if not isinstance(scaling, dict) or not native:
        return None
    factor = scaling.get("factor")
    original = scaling.get("original_max_position_embeddings")
    kind = str(scaling.get("rope_type") or scaling.get("type") or "")
    if kind != "yarn" or not isinstance(factor, (int, float)) or isinstance(factor, bool):
        return None
    if not math.isfinite(factor) or factor <= 1 or original != native:
        return None
    return int(native * factor)


def _moe_fields(
    config: dict[str, Any], experts: int, layers: int, intermediate: int | None
) -> dict[str, Any]:
    per_token = _positive(
        _first(
            config,
            "num_experts_per_tok",
            "num_experts_per_token",
            "experts_per_token",
            "moe_topk",
            "moe_top_k",
        ),
        "num_experts_per_tok",
    )
    if not per_token:
        raise ModelImportError(
            "mixture-of-experts config without num_experts_per_tok: unsupported."
        )
    if per_token > experts:
        raise ModelImportError(
            f"num_experts_per_tok ({per_token}) must be at most the experts ({experts})."
        )
    expert_width = _positive(
        _first(config, "moe_intermediate_size", "expert_intermediate_size"),
        "moe_intermediate_size",
    )
    if "intermediate_size_mlp" in config:  # Llama 4: experts use intermediate_size
        expert_width = _positive(config.get("intermediate_size"), "intermediate_size")
    expert_width = expert_width or intermediate
    shared = whole(
        _first(config, "n_shared_experts", "num_shared_experts"), "n_shared_experts", 0, 1_000
    )
    shared_width = _positive(
        config.get("shared_expert_intermediate_size"), "shared_expert_intermediate_size"
    )
    if shared is None and shared_width and expert_width:
        shared = round(shared_width / expert_width)  # Qwen MoE: one wide shared expert
    if shared is None and "intermediate_size_mlp" in config:
        shared = 1  # Llama 4 routes each token to one expert plus a shared one
    dense = whole(
        _first(config, "first_k_dense_replace", "num_dense_layers"),
        "first_k_dense_replace",
        0,
        layers,
    )
    if dense is None and config.get("interleave_moe_layer_step"):
        step = _positive(config["interleave_moe_layer_step"], "interleave_moe_layer_step", layers)
        assert step
        dense = layers - layers // step
    if dense is None and isinstance(config.get("mlp_only_layers"), list):
        dense = len(config["mlp_only_layers"])
    return {
        "experts_total": experts,
        "experts_per_token": per_token,
        "shared_experts": shared or 0,
        "moe_intermediate_size": expert_width,
        "dense_layers": dense or 0,
    }


def _layer_kinds(config: dict[str, Any], layers: int) -> list[str] | None:
    """Per layer: "attention", "sliding", "recurrent:<kind>" or "none" (MLP-only), from
    whichever layer-pattern key the config uses; None when it has none."""
    layer_types = _first(config, "layer_types", "layers_block_type")
    if isinstance(layer_types, list) and layer_types:
        if len(layer_types) != layers:
            raise ModelImportError(
                f"layer_types lists {len(layer_types)} layers but num_hidden_layers is {layers}."
            )
        kinds = []
        for item in layer_types:
            name = str(item).lower()
            if name in SLIDING_LAYER_TYPES:
                kinds.append("sliding")
            elif name in ATTENTION_LAYER_TYPES:
                kinds.append("attention")
            elif name in RECURRENT_LAYER_TYPES:
                kinds.append("recurrent:" + RECURRENT_LAYER_TYPES[name])
            elif name in NEUTRAL_LAYER_TYPES:
                kinds.append("none")
            else:
                raise ModelImportError(f"layer_types: unknown layer type {item!r}.")
        return kinds
    pattern = config.get("hybrid_override_pattern")
    if isinstance(pattern, str) and pattern:
        if len(pattern) != layers:
            raise ModelImportError(
                f"hybrid_override_pattern has {len(pattern)} layers but num_hidden_layers "
                f"is {layers}."
            )
        table = {"*": "attention", "M": "recurrent:mamba2", "-": "none", "E": "none"}
        unknown = sorted(set(pattern) - set(table))
        if unknown:
            raise ModelImportError(
                f"hybrid_override_pattern: unknown layer letters {unknown} "
                "(known: * attention, M Mamba-2, - MLP, E MoE)."
            )
        return [table[c] for c in pattern]
    interval = config.get("full_attention_interval")
    if interval is not None:
        step = _positive(interval, "full_attention_interval", layers)
        assert step
        return ["attention" if (i + 1) % step == 0 else "recurrent:" for i in range(layers)]
    indices = _first(config, "full_attn_idxs", "attn_layer_indices")
    if isinstance(indices, list):
        marked = {whole(i, "full_attn_idxs", 0, layers - 1) for i in indices}
        default = "recurrent:short_conv" if "conv_L_cache" in config else "recurrent:mamba2"
        return ["attention" if i in marked else default for i in range(layers)]
    types = config.get("attn_type_list")
    if isinstance(types, list) and types:
        if len(types) != layers:
            raise ModelImportError(
                f"attn_type_list has {len(types)} layers but num_hidden_layers is {layers}."
            )
        return ["attention" if t == 1 else "recurrent:lightning" for t in types]
    return None


def _layer_fields(
    config: dict[str, Any], base_type: str, layers: int, hidden: int, heads: int, head_dim: int
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    kinds = _layer_kinds(config, layers)
    window = _positive(config.get("sliding_window"), "sliding_window", 100_000_000)
    if window and config.get("use_sliding_window") is not False:
        if kinds is not None and "sliding" in kinds:
            attention = sum(k in ("attention", "sliding") for k in kinds)
            fraction = kinds.count("sliding") / attention
        elif config.get("sliding_window_pattern"):
            pattern = _positive(config["sliding_window_pattern"], "sliding_window_pattern")
            assert pattern
            fraction = (layers - layers // pattern) / layers
        elif base_type == "gemma2":
            fraction = 0.5  # Gemma 2 alternates local and global layers
        elif kinds is not None and "sliding" not in kinds:
            fraction = 0.0  # layer_types name no sliding layer: the window is unused
        else:
            fraction = 1.0  # Mistral-style: every layer
        if fraction:
            fields.update(sliding_window=window, sliding_window_layers_fraction=round(fraction, 4))
    if kinds is None or all(k in ("attention", "sliding") for k in kinds):
        return fields
    recurrent = [k.split(":", 1)[1] for k in kinds if k.startswith("recurrent:")]
    attention_layers = sum(k in ("attention", "sliding") for k in kinds)
    kind = _linear_kind(config, {r for r in recurrent if r})
    fields.update(full_attention_layers=attention_layers, linear_attention_kind=kind)
    if len(recurrent) != layers - attention_layers:
        fields["recurrent_layers"] = len(recurrent)
    fields.update(_recurrent_state(config, kind, hidden, heads, head_dim))
    return fields


def _linear_kind(config: dict[str, Any], named: set[str]) -> str:
    if len(named) > 1:
        raise ModelImportError(f"layers mix several linear kinds ({sorted(named)}): unsupported.")
    if named:
        return named.pop()
    if "linear_num_value_heads" in config or "linear_key_head_dim" in config:
        return "gated_deltanet"
    if "conv_L_cache" in config:
        return "short_conv"
    if any(key.startswith(("mamba_", "ssm_")) for key in config):
        return "mamba2"
    return "lightning"


def _recurrent_state(
    config: dict[str, Any], kind: str, hidden: int, heads: int, head_dim: int
) -> dict[str, Any]:
    """The fixed per-sequence state of one linear layer, as llama.cpp sizes it
    (n_embd_s: heads x key dim x value dim; n_embd_r: conv channels x (kernel - 1))."""
    if kind == "gated_deltanet":
        value_heads = _positive(config.get("linear_num_value_heads"), "linear_num_value_heads")
        key_heads = _positive(config.get("linear_num_key_heads"), "linear_num_key_heads")
        key_dim = _positive(config.get("linear_key_head_dim"), "linear_key_head_dim")
        value_dim = _positive(config.get("linear_value_head_dim"), "linear_value_head_dim")
        kernel = _positive(config.get("linear_conv_kernel_dim"), "linear_conv_kernel_dim", 64)
        missing = [
            name
            for name, value in (
                ("linear_num_value_heads", value_heads),
                ("linear_num_key_heads", key_heads),
                ("linear_key_head_dim", key_dim),
                ("linear_value_head_dim", value_dim),
            )
            if not value
        ]
        if missing:
            raise ModelImportError(f"Gated DeltaNet layers without {', '.join(missing)}.")
        assert value_heads and key_heads and key_dim and value_dim
        return {
            "recurrent_state_heads": value_heads,
            "recurrent_state_key_dim": key_dim,
            "recurrent_state_value_dim": value_dim,
            "recurrent_conv_channels": 2 * key_heads * key_dim + value_heads * value_dim,
            "recurrent_conv_kernel": kernel or 4,
        }
    if kind == "mamba2":
        state = _positive(
            _first(config, "ssm_state_size", "mamba_d_state", "mamba_state_dim", "state_size"),
            "ssm_state_size",
        )
        m_head_dim = _positive(_first(config, "mamba_head_dim", "mamba_d_head"), "mamba_head_dim")
        m_heads = _positive(_first(config, "mamba_num_heads", "mamba_n_heads"), "mamba_num_heads")
        if m_heads is None and m_head_dim and config.get("mamba_expand"):
            expand = _positive(config["mamba_expand"], "mamba_expand", 64)
            assert expand
            m_heads = expand * hidden // m_head_dim
        groups = _positive(
            _first(config, "n_groups", "mamba_n_groups", "mamba_num_groups"), "n_groups"
        )
        kernel = _positive(_first(config, "conv_kernel", "mamba_d_conv"), "conv_kernel", 64)
        missing = [
            name
            for name, value in (
                ("ssm_state_size", state),
                ("mamba_head_dim", m_head_dim),
                ("mamba_num_heads", m_heads),
            )
            if not value
        ]
        if missing:
            raise ModelImportError(f"Mamba-2 layers without {', '.join(missing)}.")
        assert state and m_head_dim and m_heads
        return {
            "recurrent_state_heads": m_heads,
            "recurrent_state_key_dim": state,
            "recurrent_state_value_dim": m_head_dim,
            "recurrent_conv_channels": m_heads * m_head_dim + 2 * (groups or 1) * state,
            "recurrent_conv_kernel": kernel or 4,
        }
    if kind == "short_conv":
        kernel = _positive(config.get("conv_L_cache"), "conv_L_cache", 64)
        return {"recurrent_conv_channels": hidden, "recurrent_conv_kernel": kernel or 3}
    # Lightning (linear) attention keeps a head_dim x head_dim state per head.
    return {
        "recurrent_state_heads": heads,
        "recurrent_state_key_dim": head_dim,
        "recurrent_state_value_dim": head_dim,
    }
