"""Import an LLM model's architecture from a Hugging Face ``config.json`` or a GGUF header.

Each reader returns the LlmModel field values it could find; :func:`build_model`
fills in parameter counts from the architecture when the source does not state them
(:mod:`catalog.architecture`) and validates the row. Anything unsupported or
inconsistent raises :class:`ModelImportError` with a message for the user.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.text import slugify

from catalog import architecture
from catalog.models import LlmModel

HF_DEFAULT_ENDPOINT = "https://huggingface.co"
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

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
    }
)
# Model types whose configs tie the output head to the embedding unless they say not.
TIED_BY_DEFAULT = frozenset(
    {"gemma", "gemma2", "gemma3", "gemma3_text", "cohere", "cohere2", "falcon"}
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


class ModelImportError(Exception):
    """A source that cannot become a catalogue model; the message says why."""


def _first(config: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = config.get(key)
        if value is not None:
            return value
    return None


def _whole(value: Any, key: str) -> int | None:
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
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ModelImportError(f"{key} must be a whole number (got {value!r}).")
    return int(value)


# Hugging Face config.json ----------------------------------------------------------


def fields_from_hf_config(config: Any) -> dict[str, Any]:
    """LlmModel field values from a transformers ``config.json`` (dense or MoE, GQA or
    MLA). Multimodal configs are read through their ``text_config``."""
    if not isinstance(config, dict):
        raise ModelImportError("config.json must hold a JSON object.")
    if isinstance(config.get("text_config"), dict):
        config = {**config, **config["text_config"]}
    if config.get("is_encoder_decoder"):
        raise ModelImportError(
            "encoder-decoder models are not supported (only decoder-only transformers)."
        )
    model_type = str(config.get("model_type") or "").lower()
    config = {**CONFIG_DEFAULTS.get(model_type, {}), **config}
    base_type = model_type.removesuffix("_text")

    layers = _whole(
        _first(config, "num_hidden_layers", "n_layer", "num_layers", "n_layers"),
        "num_hidden_layers",
    )
    hidden = _whole(
        _first(config, "hidden_size", "n_embd", "n_embed", "d_model", "dim"), "hidden_size"
    )
    heads = _whole(
        _first(config, "num_attention_heads", "n_head", "num_heads", "n_heads"),
        "num_attention_heads",
    )
    vocab = _whole(config.get("vocab_size"), "vocab_size")
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
    kv_heads = _whole(
        _first(config, "num_key_value_heads", "num_kv_heads", "n_head_kv"), "num_key_value_heads"
    )
    if kv_heads is None:
        kv_heads = 1 if config.get("multi_query") else heads

    kv_lora_rank = _whole(config.get("kv_lora_rank"), "kv_lora_rank")
    if kv_lora_rank:
        head_dim = _whole(_first(config, "v_head_dim", "qk_nope_head_dim"), "v_head_dim")
    else:
        head_dim = _whole(config.get("head_dim"), "head_dim")

    intermediate = _whole(
        _first(
            config,
            "intermediate_size_mlp",
            "intermediate_size",
            "ffn_hidden_size",
            "n_inner",
            "ffn_dim",
        ),
        "intermediate_size",
    )
    if intermediate is None and base_type in {"falcon", "refinedweb", "refinedwebmodel"}:
        intermediate = 4 * hidden

    experts = _whole(
        _first(config, "num_local_experts", "n_routed_experts", "num_experts", "moe_num_experts"),
        "num_experts",
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
        "qk_rope_head_dim": _whole(config.get("qk_rope_head_dim"), "qk_rope_head_dim")
        if kv_lora_rank
        else None,
        "max_context": _whole(
            _first(
                config,
                "max_position_embeddings",
                "n_positions",
                "max_sequence_length",
                "seq_length",
            ),
            "max_position_embeddings",
        ),
    }
    if experts:
        fields.update(_moe_fields(config, experts, layers, intermediate))
    fields.update(_sliding_window_fields(config, base_type))
    return fields


def _moe_fields(
    config: dict[str, Any], experts: int, layers: int, intermediate: int | None
) -> dict[str, Any]:
    per_token = _whole(
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
    expert_width = _whole(
        _first(config, "moe_intermediate_size", "expert_intermediate_size"),
        "moe_intermediate_size",
    )
    if "intermediate_size_mlp" in config:  # Llama 4: experts use intermediate_size
        expert_width = _whole(config.get("intermediate_size"), "intermediate_size")
    expert_width = expert_width or intermediate
    shared = _whole(_first(config, "n_shared_experts", "num_shared_experts"), "n_shared_experts")
    shared_width = _whole(config.get("shared_expert_intermediate_size"), "shared_expert_width")
    if shared is None and shared_width and expert_width:
        shared = round(shared_width / expert_width)  # Qwen MoE: one wide shared expert
    if shared is None and "intermediate_size_mlp" in config:
        shared = 1  # Llama 4 routes each token to one expert plus a shared one
    dense = _whole(config.get("first_k_dense_replace"), "first_k_dense_replace")
    if dense is None and config.get("interleave_moe_layer_step"):
        step = _whole(config["interleave_moe_layer_step"], "interleave_moe_layer_step")
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


def _sliding_window_fields(config: dict[str, Any], base_type: str) -> dict[str, Any]:
    window = _whole(config.get("sliding_window"), "sliding_window")
    if not window or config.get("use_sliding_window") is False:
        return {}
    layer_types = config.get("layer_types")
    if isinstance(layer_types, list) and layer_types:
        fraction = sum(t == "sliding_attention" for t in layer_types) / len(layer_types)
    elif config.get("sliding_window_pattern"):
        pattern = _whole(config["sliding_window_pattern"], "sliding_window_pattern")
        fraction = (pattern - 1) / pattern
    elif base_type == "gemma2":
        fraction = 0.5  # Gemma 2 alternates local and global layers
    else:
        fraction = 1.0  # Mistral-style: every layer
    return {"sliding_window": window, "sliding_window_layers_fraction": round(fraction, 4)}


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelImportError(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}") from exc
    except OSError as exc:
        raise ModelImportError(f"{path}: cannot read ({exc.strerror}).") from exc


def hf_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or HF_DEFAULT_ENDPOINT).rstrip("/")


def fetch_hf_config(repo_id: str, revision: str = "main") -> dict[str, Any]:
    """Download ``config.json`` of ``repo_id`` through huggingface_hub from the hub at
    ``HF_ENDPOINT`` (read on each call, so it can point at a mirror)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from rigrank import netguard

    netguard.guard_hf_hub()  # every request, redirects included, to public addresses only
    with tempfile.TemporaryDirectory(prefix="rigrank-hf-") as cache_dir:
        try:
            path = hf_hub_download(
                repo_id,
                "config.json",
                revision=revision,
                endpoint=hf_endpoint(),
                cache_dir=cache_dir,
                etag_timeout=20,
            )
        except GatedRepoError as exc:
            raise ModelImportError(
                f"{repo_id} is gated: accept its licence on the hub and set HF_TOKEN."
            ) from exc
        except RepositoryNotFoundError as exc:
            raise ModelImportError(f"{repo_id}: no such repository on {hf_endpoint()}.") from exc
        except RevisionNotFoundError as exc:
            raise ModelImportError(f"{repo_id}: no revision {revision!r}.") from exc
        except LocalEntryNotFoundError as exc:  # before its parent, EntryNotFoundError
            raise ModelImportError(
                f"cannot reach {hf_endpoint()} to fetch {repo_id}/config.json."
            ) from exc
        except EntryNotFoundError as exc:
            raise ModelImportError(f"{repo_id} has no config.json.") from exc
        except (HfHubHTTPError, OSError, ValueError) as exc:
            raise ModelImportError(f"{repo_id}: download failed: {exc}") from exc
        return read_config_file(Path(path))


def hf_config_source(repo_id: str, revision: str = "main") -> str:
    return f"{hf_endpoint()}/{repo_id}/blob/{revision}/config.json"


# GGUF header -----------------------------------------------------------------------


def read_gguf(path: Path) -> dict[str, Any]:
    """LlmModel field values, name, licence and source from a GGUF file's header.

    Parameter counts come from the tensor shapes: all tensors for the total; for a MoE,
    the routed-expert tensors (``*_exps``) count ``experts_per_token / experts_total``
    toward the active parameters.
    """
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
    except (ValueError, OSError, IndexError) as exc:
        raise ModelImportError(f"{path}: not a readable GGUF file ({exc}).") from exc

    def value(key: str) -> Any:
        found = reader.fields.get(key)
        if found is None:
            return None
        try:
            return found.contents()
        except (ValueError, IndexError, UnicodeDecodeError):
            return None

    arch = value("general.architecture")
    if not arch:
        raise ModelImportError(f"{path}: GGUF header has no general.architecture.")

    def llm(key: str) -> Any:
        return value(f"{arch}.{key}")

    layers = _whole(llm("block_count"), "block_count")
    hidden = _whole(llm("embedding_length"), "embedding_length")
    heads = _whole(llm("attention.head_count"), "attention.head_count")
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    vocab = len(tokens.data) if tokens is not None else _whole(llm("vocab_size"), "vocab_size")
    missing = [
        f"{arch}.{key}"
        for key, found in (
            ("block_count", layers),
            ("embedding_length", hidden),
            ("attention.head_count", heads),
            ("context_length", llm("context_length")),
        )
        if not found
    ]
    if not vocab:
        missing.append("tokenizer.ggml.tokens")
    if missing:
        raise ModelImportError(
            f"unsupported GGUF (architecture {arch!r}): missing {', '.join(missing)}."
        )
    if not reader.tensors:
        raise ModelImportError(f"{path}: GGUF file holds no tensors, so no parameter count.")

    names = {t.name for t in reader.tensors}
    total = sum(int(t.n_elements) for t in reader.tensors)
    kv_lora_rank = _whole(llm("attention.kv_lora_rank"), "attention.kv_lora_rank")
    head_dim_key = "attention.value_length" if kv_lora_rank else "attention.key_length"
    experts = _whole(llm("expert_count"), "expert_count")
    per_token = _whole(llm("expert_used_count"), "expert_used_count")
    ffn = _whole(llm("feed_forward_length"), "feed_forward_length")
    fields: dict[str, Any] = {
        "layers": layers,
        "hidden_size": hidden,
        "intermediate_size": ffn,
        "attention_heads": heads,
        "kv_heads": _whole(llm("attention.head_count_kv"), "attention.head_count_kv") or heads,
        "head_dim": _whole(llm(head_dim_key), head_dim_key),
        "vocab_size": vocab,
        "tie_word_embeddings": "output.weight" not in names,
        "mlp_gated": any("ffn_gate" in name for name in names),
        "kv_lora_rank": kv_lora_rank,
        "qk_rope_head_dim": _whole(llm("rope.dimension_count"), "rope.dimension_count")
        if kv_lora_rank
        else None,
        "max_context": _whole(llm("context_length"), "context_length"),
        "total_params_b": total / 1e9,
        "active_params_b": total / 1e9,
    }
    window = _whole(llm("attention.sliding_window"), "attention.sliding_window")
    if window:
        fields["sliding_window"] = window
    if experts:
        if not per_token:
            raise ModelImportError(f"{arch}.expert_used_count is missing for a MoE model.")
        routed = sum(int(t.n_elements) for t in reader.tensors if "_exps" in t.name)
        fields.update(
            experts_total=experts,
            experts_per_token=per_token,
            shared_experts=_whole(llm("expert_shared_count"), "expert_shared_count") or 0,
            moe_intermediate_size=_whole(
                llm("expert_feed_forward_length"), "expert_feed_forward_length"
            )
            or ffn,
            dense_layers=_whole(llm("leading_dense_block_count"), "leading_dense_block_count") or 0,
            active_params_b=(total - routed * (1 - per_token / experts)) / 1e9,
        )
    source = next(
        (
            value(key)
            for key in (
                "general.source.repo_url",
                "general.source.url",
                "general.repo_url",
                "general.url",
            )
            if value(key)
        ),
        path.resolve().as_uri(),
    )
    return {
        "fields": fields,
        "name": value("general.name") or path.stem,
        "family": value("general.basename") or arch,
        "license": value("general.license") or "",
        "config_source": source,
    }


# Building the row ------------------------------------------------------------------


def build_model(
    fields: dict[str, Any],
    *,
    name: str,
    slug: str | None,
    family: str,
    license: str,
    config_source: str,
    existing: LlmModel | None = None,
) -> LlmModel:
    """A validated (unsaved) LlmModel; total and active parameters are recomputed from
    the architecture when ``fields`` does not carry them."""
    values = dict(fields)
    if values.get("total_params_b") is None:
        try:
            counts = architecture.parameter_count(architecture.Architecture.from_mapping(values))
        except (TypeError, ZeroDivisionError) as exc:
            raise ModelImportError(f"cannot compute the parameter count: {exc}") from exc
        values["total_params_b"] = round(counts.total_b, 3)
        values["active_params_b"] = round(counts.active_b, 3)
    model = existing or LlmModel()
    for key, val in values.items():
        setattr(model, key, val)
    model.name = name[:160]
    model.slug = slug or slugify(name.replace(".", "-"))[:120]
    model.family = family[:60]
    model.license = license[:120]
    model.config_source = config_source[:500]
    model.approximate = False
    if not model.slug:
        raise ModelImportError("cannot make a slug from the name; pass --slug.")
    try:
        model.full_clean()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'row' if k == NON_FIELD_ERRORS else k}: {' '.join(v)}"
            for k, v in exc.message_dict.items()
        )
        raise ModelImportError(f"the imported model is not valid: {problems}") from exc
    return model
