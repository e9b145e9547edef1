"""Import an LLM model's architecture from a Hugging Face ``config.json`` or a GGUF header.

Each reader returns the LlmModel field values it could find; :func:`build_model`
fills in parameter counts from the architecture when the source does not state them
(:mod:`catalog.architecture`) and validates the row. Anything unsupported or
inconsistent raises :class:`ModelImportError` with a message for the user.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.text import slugify

from catalog import architecture
from catalog.hf_config import ModelImportError, fields_from_hf_config, parse_config_text
from catalog.hf_config import whole as _whole
from catalog.models import LlmModel

__all__ = [
    "ModelImportError",
    "build_model",
    "fetch_hf_config",
    "fields_from_hf_config",
    "read_config_file",
    "read_gguf",
]

HF_DEFAULT_ENDPOINT = "https://huggingface.co"
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ModelImportError(f"{path}: cannot read ({exc.strerror}).") from exc
    return parse_config_text(text, str(path))


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
