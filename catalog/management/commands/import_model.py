"""Add an LLM model to the catalogue from a Hugging Face repo, a config.json or a GGUF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.text import slugify

from catalog import importers
from catalog.models import LlmModel, QuantFormat


class Command(BaseCommand):
    help = (
        "Import an LLM model's architecture. SOURCE is a local .gguf file (its header), "
        "a local config.json (or a directory holding one), or a Hugging Face repo id "
        "such as meta-llama/Llama-3.1-8B, whose config.json is fetched from HF_ENDPOINT "
        "(default https://huggingface.co). Total and active parameters are computed from "
        "the architecture when the source does not state them. Nothing is created when "
        "the source is bad or unsupported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="Repo id, path to config.json, or path to .gguf.")
        parser.add_argument("--slug", help="Catalogue slug (default: from the name).")
        parser.add_argument("--name", help="Display name (default: from the source).")
        parser.add_argument("--family", help="Model family (default: from the source).")
        parser.add_argument("--license", default=None, help="Licence name.")
        parser.add_argument("--revision", default="main", help="Hub revision (default main).")
        parser.add_argument(
            "--config-source",
            default=None,
            help="http(s) URL where a local config.json or GGUF is published (required for a "
            "local file unless it names its own source).",
        )
        parser.add_argument(
            "--update", action="store_true", help="Update the model if the slug exists."
        )

    def handle(self, *args: Any, source: str, **options: Any) -> None:
        try:
            found = self.read(source, options["revision"], options["config_source"])
            slug = options["slug"] or None
            name = options["name"] or found["name"]
            if slug is None:
                slug = slugify(name.replace(".", "-"))[:120]
            existing = LlmModel.objects.filter(slug=slug).first()
            if existing and not options["update"]:
                raise importers.ModelImportError(
                    f"a model with slug {slug!r} already exists; pass --update to replace "
                    "its architecture or --slug to choose another."
                )
            model = importers.build_model(
                found["fields"],
                name=name,
                slug=slug,
                family=options["family"] or found["family"],
                license=options["license"] if options["license"] is not None else found["license"],
                config_source=found["config_source"],
                existing=existing,
                hf_repo=found.get("hf_repo", ""),
            )
        except importers.ModelImportError as exc:
            raise CommandError(f"Cannot import {source}: {exc}") from exc
        with transaction.atomic():
            model.save()
            kept = self.keep_file_format(found.get("gguf_file"), model)
        kind = (
            f"MoE, {model.experts_total} experts ({model.experts_per_token} per token)"
            if model.is_moe
            else "dense"
        )
        self.stdout.write(
            f"{'Updated' if existing else 'Created'} {model.slug}: {model.name}, "
            f"{model.total_params_b:g}B total, {model.active_params_b:g}B active, {kind}, "
            f"{model.layers} layers, hidden {model.hidden_size}, "
            f"{model.attention_heads}/{model.kv_heads} heads, context {model.max_context}."
        )
        file = found.get("gguf_file")
        if file:
            types = ", ".join(f"{name} x{n}" for name, n in file["tensor_types"].items())
            self.stdout.write(
                f"GGUF file: {file['file_type'] or 'unknown type'}, {file['bytes'] / 1e9:.2f} GB "
                f"of tensors, {file['bits_per_weight']:.2f} bits/weight ({types})."
                + (f" Added weight format {kept}." if kept else "")
            )

    def keep_file_format(self, file: dict[str, Any] | None, model: LlmModel) -> str:
        """Add the file's quantization type as a weight format when the catalogue lacks
        it, with the bits per weight this file has; return its name ("" otherwise)."""
        if not file or not file["file_type"] or not 1 < file["bits_per_weight"] < 33:
            return ""
        name = file["file_type"]
        if QuantFormat.objects.filter(name=name, applies_to=QuantFormat.AppliesTo.WEIGHTS).exists():
            return ""
        QuantFormat.objects.create(
            name=name,
            family=QuantFormat.Family.GGUF,
            bits_per_weight=round(file["bits_per_weight"], 4),
            engines=["llama.cpp"],
            quality_note=f"Measured on the imported GGUF of {model.name}"[:300],
            source=model.config_source,
        )
        return name

    def read(self, source: str, revision: str, config_source: str | None) -> dict[str, Any]:
        if config_source is not None and not _is_http_url(config_source):
            raise importers.ModelImportError(
                f"--config-source must be an http(s) URL (got {config_source!r})."
            )
        path = Path(source)
        if path.is_dir() and (path / "config.json").is_file():
            path = path / "config.json"
        if path.is_file():
            if path.suffix.lower() == ".gguf":
                found = importers.read_gguf(path)
            else:
                config = importers.read_config_file(path)
                found = {
                    "fields": importers.fields_from_hf_config(config),
                    "name": _config_name(config, path.parent.name or path.stem),
                    "family": str(config.get("model_type") or ""),
                    "license": "",
                    "config_source": _repo_config_url(config),
                }
            found["config_source"] = config_source or found["config_source"]
            if not _is_http_url(found["config_source"]):
                raise importers.ModelImportError(
                    f"{path.name} does not say where it is published: pass --config-source "
                    "with the http(s) URL of its config.json (or model page)."
                )
            return found
        if path.exists() or not importers.REPO_ID.match(source):
            raise importers.ModelImportError(
                "not a .gguf file, a config.json or a Hugging Face repo id (owner/name)."
            )
        return importers.read_hub_repo(source, revision)


def _is_http_url(text: str | None) -> bool:
    return bool(text) and str(text).startswith(("http://", "https://"))


def _repo_config_url(config: dict[str, Any]) -> str:
    """The hub URL of a config whose _name_or_path is a repo id, else ""."""
    name = config.get("_name_or_path")
    if isinstance(name, str) and importers.REPO_ID.match(name.strip()):
        return f"{importers.HF_DEFAULT_ENDPOINT}/{name.strip()}/blob/main/config.json"
    return ""


def _config_name(config: dict[str, Any], fallback: str) -> str:
    name = config.get("_name_or_path")
    if isinstance(name, str) and name.strip():
        return name.rstrip("/").rsplit("/", 1)[-1]
    return fallback
