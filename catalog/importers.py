"""Import an LLM model's architecture from a Hugging Face ``config.json`` or a GGUF header.

Each reader returns the LlmModel field values it could find; :func:`build_model`
fills in parameter counts from the architecture when the source does not state them
(:mod:`catalog.architecture`) and validates the row. Anything unsupported or
inconsistent raises :class:`ModelImportError` with a message for the user.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


class HubUnreachable(ModelImportError):
    """The hub (HF_ENDPOINT) could not be reached: offline, refused or timed out."""


# Seconds to wait for the hub's answer to each request (downloads themselves follow
# huggingface_hub's HF_HUB_DOWNLOAD_TIMEOUT, 10 s by default).
HUB_TIMEOUT_S = 10.0


def _probe_hub(repo_id: str, filename: str) -> None:
    """Fail fast when nothing answers at HF_ENDPOINT: huggingface_hub retries a refused
    connection with backoff for tens of seconds, too long for a page. (Skipped behind a
    proxy, which the direct connection would bypass.)"""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY")):
        return
    parts = urlsplit(hf_endpoint())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=HUB_TIMEOUT_S).close()
    except OSError as exc:
        raise HubUnreachable(
            f"cannot reach {hf_endpoint()} to fetch {repo_id}/{filename} ({exc})."
        ) from exc


def fetch_hf_config(repo_id: str, revision: str = "main") -> dict[str, Any]:
    """Download ``config.json`` of ``repo_id`` through huggingface_hub from the hub at
    ``HF_ENDPOINT`` (read on each call, so it can point at a mirror)."""
    config = fetch_hf_json(repo_id, "config.json", revision)
    assert config is not None
    return config


def fetch_hf_json(
    repo_id: str, filename: str, revision: str = "main", missing_ok: bool = False
) -> dict[str, Any] | None:
    """Download and parse one JSON file of ``repo_id`` (None when it is absent and
    ``missing_ok``)."""
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

    _probe_hub(repo_id, filename)
    with tempfile.TemporaryDirectory(prefix="rigrank-hf-") as cache_dir:
        try:
            path = hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                endpoint=hf_endpoint(),
                cache_dir=cache_dir,
                etag_timeout=HUB_TIMEOUT_S,
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
            raise HubUnreachable(
                f"cannot reach {hf_endpoint()} to fetch {repo_id}/{filename}."
            ) from exc
        except EntryNotFoundError as exc:
            if missing_ok:
                return None
            raise ModelImportError(f"{repo_id} has no {filename}.") from exc
        except (HfHubHTTPError, OSError, ValueError) as exc:
            raise ModelImportError(f"{repo_id}: download failed: {exc}") from exc
        return read_config_file(Path(path))


def hf_config_source(repo_id: str, revision: str = "main") -> str:
    return f"{hf_endpoint()}/{repo_id}/blob/{revision}/config.json"


# Bytes per weight of a checkpoint saved in one floating-point type (config.json's
# torch_dtype, or dtype in newer transformers).
CHECKPOINT_DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


def checkpoint_params_b(index: dict[str, Any] | None, config: dict[str, Any]) -> float | None:
    """Parameters of a checkpoint, billions: its safetensors index's total_size divided
    by the bytes per weight of its dtype. None when that is not exact (no index, a
    quantized checkpoint with scales, or an unknown dtype)."""
    if not index or config.get("quantization_config"):
        return None
    metadata = index.get("metadata")
    total_size = metadata.get("total_size") if isinstance(metadata, dict) else None
    if isinstance(total_size, bool) or not isinstance(total_size, (int, float)):
        return None
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    dtype = config.get("torch_dtype") or config.get("dtype") or text.get("torch_dtype")
    per_weight = CHECKPOINT_DTYPE_BYTES.get(str(dtype))
    if not per_weight or not 0 < total_size < 1e16:
        return None
    return total_size / per_weight / 1e9


def read_hub_repo(repo_id: str, revision: str = "main") -> dict[str, Any]:
    """What ``build_model`` needs for a hub repo: its config.json, and its parameter
    count from the safetensors index when the checkpoint has one."""
    if not REPO_ID.match(repo_id):
        raise ModelImportError(f"{repo_id!r} is not a Hugging Face repo id (owner/name).")
    config = fetch_hf_config(repo_id, revision)
    fields = fields_from_hf_config(config)
    try:
        index = fetch_hf_json(repo_id, "model.safetensors.index.json", revision, missing_ok=True)
    except ModelImportError:
        index = None  # the architecture gives the count instead
    total_b = checkpoint_params_b(index, config)
    if total_b is not None:
        counts = _architecture_counts(fields)
        fields["total_params_b"] = round(total_b, 3)
        inactive = counts.total_b - counts.active_b if fields.get("experts_total") else 0.0
        fields["active_params_b"] = round(max(total_b - inactive, counts.active_b * 0.5), 3)
        if isinstance(config.get("vision_config"), dict) and total_b > counts.total_b * 1.005:
            # What the checkpoint holds beyond the text model is its vision tower.
            fields["vision_params_b"] = round(total_b - counts.total_b, 3)
    return {
        "fields": fields,
        "name": repo_id.split("/", 1)[1],
        "family": str(config.get("model_type") or repo_id.split("/", 1)[0]),
        "license": "",
        "config_source": hf_config_source(repo_id, revision),
        "hf_repo": repo_id,
    }


def model_from_hub(repo_id: str, revision: str = "main") -> LlmModel:
    """The catalogue model of hub repo ``repo_id``: the row imported before, else its
    config.json (and safetensors index) fetched, validated against the engine, and
    saved as an imported row (``hf_repo`` set). Raises :class:`ModelImportError`
    (:class:`HubUnreachable` when offline)."""
    existing = LlmModel.objects.filter(hf_repo__iexact=repo_id).first()
    if existing is not None:
        return existing
    found = read_hub_repo(repo_id, revision)
    slug = slugify(found["name"].replace(".", "-"))[:120]
    if not slug or LlmModel.objects.filter(slug=slug).exists():
        slug = slugify(repo_id.replace("/", "-").replace(".", "-"))[:120]
    while LlmModel.objects.filter(slug=slug).exists():
        slug = f"{slug[:110]}-{secrets.token_hex(3)}"
    model = build_model(
        found["fields"],
        name=found["name"],
        slug=slug,
        family=found["family"],
        license=found["license"],
        config_source=found["config_source"],
        hf_repo=repo_id,
    )
    model.save()
    return model


# "Qwen3-30B-A3B" -> 30B-A3B, "Llama-3.1-8B" -> 8B; not "8x7B" (Mixtral is 46.7 B).
_SIZE_IN_NAME = re.compile(
    r"(?<![\dx.])(\d+(?:\.\d+)?)([bBtT])(?:-[aA](\d+(?:\.\d+)?)[bB])?(?![a-zA-Z\d])"
)


def size_in_name(name: str) -> str | None:
    """The size a repo or model name states ("32B", "30B-A3B"), or None."""
    match = _SIZE_IN_NAME.search(name.rsplit("/", 1)[-1])
    if not match:
        return None
    size = f"{match.group(1)}{match.group(2).upper()}"
    return f"{size}-A{match.group(3)}B" if match.group(3) else size


def _architecture_counts(fields: dict[str, Any]) -> architecture.ParameterCount:
    try:
        return architecture.parameter_count(architecture.Architecture.from_mapping(fields))
    except (TypeError, ZeroDivisionError, ValueError) as exc:
        raise ModelImportError(f"cannot compute the parameter count: {exc}") from exc


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
    fields.update(_gguf_layer_pattern(arch, llm, reader.tensors, layers, hidden))
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
        "gguf_file": _gguf_file(reader.tensors, value("general.file_type"), total),
    }


def _gguf_layer_pattern(
    arch: str, llm: Any, tensors: Any, layers: int, hidden: int
) -> dict[str, Any]:
    """Hybrid models in GGUF: head_count_kv is a per-layer list with 0 for the layers
    without attention; their recurrent state follows llama.cpp's ssm.* keys (Mamba-2
    and Qwen3-Next's Gated DeltaNet share them) or shortconv.l_cache (LFM2)."""
    per_layer = llm("attention.head_count_kv")
    if not isinstance(per_layer, list) or len(per_layer) != layers or all(per_layer):
        return {}
    full = sum(1 for v in per_layer if v)
    recurrent = {
        int(t.name.split(".")[1])
        for t in tensors
        if t.name.startswith("blk.") and (".ssm_" in t.name or ".shortconv" in t.name)
    }
    fields: dict[str, Any] = {"full_attention_layers": full}
    if recurrent and len(recurrent) != layers - full:
        fields["recurrent_layers"] = len(recurrent)
    l_cache = _whole(llm("shortconv.l_cache"), "shortconv.l_cache")
    if l_cache:
        return {
            **fields,
            "linear_attention_kind": "short_conv",
            "recurrent_conv_channels": hidden,
            "recurrent_conv_kernel": l_cache,
        }
    inner = _whole(llm("ssm.inner_size"), "ssm.inner_size")
    state = _whole(llm("ssm.state_size"), "ssm.state_size")
    heads = _whole(llm("ssm.time_step_rank"), "ssm.time_step_rank")
    if not (inner and state and heads) or inner % heads:
        raise ModelImportError(
            f"GGUF ({arch}) has layers without attention but no usable {arch}.ssm.inner_size, "
            "ssm.state_size and ssm.time_step_rank."
        )
    groups = _whole(llm("ssm.group_count"), "ssm.group_count") or 1
    kind = "gated_deltanet" if arch.startswith(("qwen3next", "qwen35")) else "mamba2"
    return {
        **fields,
        "linear_attention_kind": kind,
        "recurrent_state_heads": heads,
        "recurrent_state_key_dim": state,
        "recurrent_state_value_dim": inner // heads,
        "recurrent_conv_channels": inner + 2 * groups * state,
        "recurrent_conv_kernel": _whole(llm("ssm.conv_kernel"), "ssm.conv_kernel") or 4,
    }


def _gguf_file(tensors: Any, file_type: Any, params: int) -> dict[str, Any]:
    """The file's quantization: its llama-quantize type, the ggml type of its tensors
    (count of each), its tensor bytes and bits per weight."""
    from gguf import LlamaFileType

    try:
        ftype = LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except (TypeError, ValueError):
        ftype = ""
    types: dict[str, int] = {}
    for t in tensors:
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    size = sum(int(t.n_bytes) for t in tensors)
    return {
        "file_type": ftype,
        "tensor_types": dict(sorted(types.items(), key=lambda kv: -kv[1])),
        "bytes": size,
        "bits_per_weight": size * 8 / params if params else 0.0,
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
    hf_repo: str = "",
) -> LlmModel:
    """A validated (unsaved) LlmModel; total and active parameters are recomputed from
    the architecture when ``fields`` does not carry them. The row is also checked
    against the engine (its memory at the model's own context), so a model that would
    break every page is refused here instead of stored."""
    values = dict(fields)
    hidden, heads = values.get("hidden_size"), values.get("attention_heads")
    if values.get("head_dim") is None and hidden and heads:
        if hidden % heads:
            raise ModelImportError(
                f"head_dim is missing and hidden_size ({hidden}) is not a multiple of "
                f"attention heads ({heads}), so it cannot be derived."
            )
        values["head_dim"] = hidden // heads
    if values.get("total_params_b") is None:
        counts = _architecture_counts(values)
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
    model.hf_repo = hf_repo[:200]
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
    check_with_engine(model)
    return model


def check_with_engine(model: LlmModel) -> None:
    """Raise :class:`ModelImportError` unless the engine accepts ``model`` and can size
    its weights and cache."""
    from configurator.engine import ModelArch, Quant, memory

    data = {f.name: getattr(model, f.name) for f in LlmModel._meta.concrete_fields}
    data["name"] = model.name or model.slug
    try:
        arch = ModelArch.from_dict(data)
        context = arch.max_context or 4096
        memory.weights_bytes(arch, Quant("BF16", 16.0, "native"))
        memory.kv_cache_bytes(arch, context, 16.0)
        memory.model_parts(arch, Quant("BF16", 16.0, "native"))
    except (ValueError, TypeError, ZeroDivisionError) as exc:
        raise ModelImportError(f"the engine cannot use this model: {exc}") from exc
