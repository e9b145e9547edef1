"""Catalogue rows to and from model instances: the seed, export and import format.

One format (``catalog/seed/README.md``) serves ``load_seed``, ``export_catalog`` and
``import_catalog``: parts are ``{common fields..., "specs": {...}}``, LLM models and
quant formats are flat. Loading validates every row with ``full_clean`` first and
writes nothing unless all rows are good; rows are matched by slug (parts, LLM models)
or by ``(name, applies_to)`` (quant formats), so loading the same rows twice changes
nothing.

Seed loads (``load(..., seed=True)``, used by ``load_seed``) never revert an admin's
edit: each row remembers a hash of what the seed last wrote (``seed_hash``); a row whose
current values no longer hash to it was edited since, so the seed's new values are not
written and the row is reported as a conflict instead (``overwrite=True`` forces them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction

from catalog.models import PART_MODELS, LlmModel, Part, QuantFormat

SECTIONS: tuple[str, ...] = ("parts", "llm_models", "quant_formats")
PART_FIELDS: tuple[str, ...] = (
    "slug",
    "kind",
    "brand",
    "name",
    "condition",
    "release_year",
    "spec_source",
    "notes",
)
# Keys a part row may carry that belong to another app: the pricing app loads
# ``reference_price`` (load_seed_prices); the catalogue neither reads nor writes it.
PART_KEYS_OWNED_ELSEWHERE = frozenset({"reference_price"})
_BOOKKEEPING = frozenset({"id", "created_at", "updated_at", "seed_hash"})


def _row_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if f.name not in _BOOKKEEPING]


LLM_MODEL_FIELDS: tuple[str, ...] = tuple(f.name for f in _row_fields(LlmModel))
QUANT_FORMAT_FIELDS: tuple[str, ...] = tuple(f.name for f in _row_fields(QuantFormat))


@dataclass(frozen=True)
class RowError:
    """One problem in one row: where it is, which field, what is wrong."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"


class CatalogError(Exception):
    """Raised with every bad row when a load is refused (nothing was written)."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class Batch:
    """Rows of one section read from one place; ``label`` names that place in errors
    (e.g. ``parts/gpu.json`` or ``parts``)."""

    section: str
    label: str
    rows: list[Any]


def row_hash(row: dict[str, Any]) -> str:
    """A stable hash of a row's values (dates and decimals as text)."""
    text = json.dumps(row, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class LoadReport:
    """Rows created, updated and left unchanged, per section; ``conflicts`` names the
    rows an admin edited since the seed wrote them, whose edits were kept."""

    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {s: {"created": 0, "updated": 0, "unchanged": 0} for s in SECTIONS}
    )
    conflicts: list[str] = field(default_factory=list)

    def add(self, section: str, status: str) -> None:
        self.counts[section][status] += 1

    @property
    def changed(self) -> int:
        return sum(c["created"] + c["updated"] for c in self.counts.values())

    def __str__(self) -> str:
        text = "; ".join(
            f"{section}: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged"
            for section, c in self.counts.items()
        )
        if self.conflicts:
            text += f"; {len(self.conflicts)} edited row(s) kept"
        return text


# Writing rows ----------------------------------------------------------------------


def _export_value(f: models.Field, value: Any, *, in_specs: bool) -> Any:
    # Unknown text specs are stored as "" and written as null, as the README asks.
    if in_specs and isinstance(f, models.CharField) and value == "":
        return None
    return value


def part_to_row(part: Part) -> dict[str, Any]:
    """A part (any kind) as a seed/export row, without its price."""
    part = part.specific
    row: dict[str, Any] = {name: getattr(part, name) for name in PART_FIELDS}
    row["specs"] = {
        f.name: _export_value(f, getattr(part, f.name), in_specs=True)
        for f in type(part).spec_fields()
    }
    return row


def llm_model_to_row(model: LlmModel) -> dict[str, Any]:
    row = {name: getattr(model, name) for name in LLM_MODEL_FIELDS}
    if hasattr(row.get("release_date"), "isoformat"):
        # JSON has no date type: written as "YYYY-MM-DD", as in the seed files.
        row["release_date"] = row["release_date"].isoformat()
    return row


def quant_format_to_row(quant: QuantFormat) -> dict[str, Any]:
    return {name: getattr(quant, name) for name in QUANT_FORMAT_FIELDS}


def export_document() -> dict[str, list[dict[str, Any]]]:
    """The whole catalogue in the seed format: parts by kind then slug, models by slug,
    quant formats by ``applies_to`` then name."""
    parts = [
        part_to_row(part)
        for kind in Part.Kind.values
        for part in PART_MODELS[kind].objects.order_by("slug")
    ]
    return {
        "parts": parts,
        "llm_models": [llm_model_to_row(m) for m in LlmModel.objects.order_by("slug")],
        "quant_formats": [
            quant_format_to_row(q) for q in QuantFormat.objects.order_by("applies_to", "name")
        ],
    }


# Reading rows ----------------------------------------------------------------------


class _BadValue(Exception):
    pass


def _coerce(f: models.Field, value: Any) -> Any:
    """Check a JSON value's type against the field and convert it; reject strings for
    numbers and floats with a fraction for whole numbers rather than truncating."""
    if value is None:
        if isinstance(f, models.JSONField):
            return []
        if isinstance(f, (models.CharField, models.TextField)) and not f.null:
            return ""
        return None
    if isinstance(f, models.BooleanField):
        if not isinstance(value, bool):
            raise _BadValue(f"Must be true or false (got {value!r}).")
        return value
    if isinstance(f, models.IntegerField):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _BadValue(f"Must be a whole number (got {value!r}).")
        return value
    if isinstance(f, models.FloatField):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _BadValue(f"Must be a number (got {value!r}).")
        return float(value)
    if isinstance(f, (models.CharField, models.TextField)):
        if not isinstance(value, str):
            raise _BadValue(f"Must be text (got {value!r}).")
        return value
    return value


def _assign(
    instance: models.Model,
    fields: Iterable[models.Field],
    values: dict[str, Any],
    prefix: str,
    errors: list[tuple[str, str]],
) -> set[str]:
    """Set each field from ``values`` (missing keys take the field's default); return the
    names of fields whose value was rejected."""
    rejected = set()
    for f in fields:
        raw = values[f.name] if f.name in values else f.get_default()
        try:
            setattr(instance, f.attname, _coerce(f, raw))
        except _BadValue as exc:
            errors.append((prefix + f.name, str(exc)))
            rejected.add(f.name)
    return rejected


def _validate(
    instance: models.Model,
    rejected: set[str],
    errors: list[tuple[str, str]],
    spec_names: frozenset[str] = frozenset(),
) -> None:
    try:
        instance.full_clean(exclude=rejected)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            label = "row" if name == NON_FIELD_ERRORS else name
            if name in spec_names:
                label = "specs." + name
            errors.extend((label, message) for message in messages)


def _unknown_keys(
    row: dict[str, Any], allowed: Iterable[str], prefix: str = ""
) -> list[tuple[str, str]]:
    return [
        (prefix + key, "Unknown field (check the spelling against catalog/seed/README.md).")
        for key in row
        if key not in allowed
    ]


@dataclass
class _Planned:
    section: str
    instance: models.Model
    status: str  # created | updated | unchanged
    before_hash: str = ""  # hash of the stored row before this load ("" when new)
    after_hash: str = ""  # hash of the row as this load would write it


def _plan_part(row: dict[str, Any], errors: list[tuple[str, str]]) -> _Planned | None:
    errors.extend(_unknown_keys(row, {*PART_FIELDS, "specs", *PART_KEYS_OWNED_ELSEWHERE}))
    kind = row.get("kind")
    model = PART_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        errors.append(("kind", f"Must be one of {', '.join(PART_MODELS)} (got {kind!r})."))
        return None
    specs = row.get("specs", {})
    if not isinstance(specs, dict):
        errors.append(("specs", "Must be an object of spec fields."))
        return None
    spec_fields = model.spec_fields()
    errors.extend(_unknown_keys(specs, {f.name for f in spec_fields}, prefix="specs."))

    existing = Part.objects.filter(slug=row.get("slug")).first() if row.get("slug") else None
    if existing is not None and existing.kind != kind:
        errors.append(("slug", f"Already used by a part of kind {existing.kind!r}."))
        return None
    instance = model.objects.get(pk=existing.pk) if existing else model()
    before = part_to_row(instance) if existing else None

    common = [model._meta.get_field(n) for n in PART_FIELDS if n != "kind"]
    rejected = _assign(instance, common, row, "", errors)
    rejected |= _assign(instance, spec_fields, specs, "specs.", errors)
    _validate(instance, rejected, errors, frozenset(f.name for f in spec_fields))
    return _planned("parts", instance, before, part_to_row(instance))


def _plan_flat(
    section: str,
    model: type[models.Model],
    names: tuple[str, ...],
    lookup: dict[str, Any],
    to_row: Any,
    row: dict[str, Any],
    errors: list[tuple[str, str]],
) -> _Planned:
    errors.extend(_unknown_keys(row, names))
    existing = model.objects.filter(**lookup).first() if all(lookup.values()) else None
    instance = existing or model()
    before = to_row(existing) if existing else None
    fields = [model._meta.get_field(n) for n in names]
    rejected = _assign(instance, fields, row, "", errors)
    _validate(instance, rejected, errors)
    return _planned(section, instance, before, to_row(instance))


def _planned(
    section: str, instance: models.Model, before: dict[str, Any] | None, after: dict[str, Any]
) -> _Planned:
    after_hash = row_hash(after)
    if before is None:
        return _Planned(section, instance, "created", "", after_hash)
    before_hash = row_hash(before)
    status = "unchanged" if before_hash == after_hash else "updated"
    return _Planned(section, instance, status, before_hash, after_hash)


def _identity(section: str, row: dict[str, Any]) -> tuple[Any, ...]:
    if section == "quant_formats":
        return (row.get("name"), row.get("applies_to", QuantFormat.AppliesTo.WEIGHTS))
    return (row.get("slug"),)


def _describe(section: str, row: Any) -> str:
    if not isinstance(row, dict):
        return ""
    ident = [str(v) for v in _identity(section, row) if v]
    return f" ({' / '.join(ident)})" if ident else ""


def _plan_row(section: str, row: dict[str, Any], errors: list[tuple[str, str]]) -> _Planned | None:
    if section == "parts":
        return _plan_part(row, errors)
    if section == "llm_models":
        return _plan_flat(
            section,
            LlmModel,
            LLM_MODEL_FIELDS,
            {"slug": row.get("slug")},
            llm_model_to_row,
            row,
            errors,
        )
    return _plan_flat(
        section,
        QuantFormat,
        QUANT_FORMAT_FIELDS,
        {"name": row.get("name"), "applies_to": row.get("applies_to", "weights")},
        quant_format_to_row,
        row,
        errors,
    )


def load(
    batches: Iterable[Batch], *, dry_run: bool = False, seed: bool = False, overwrite: bool = False
) -> LoadReport:
    """Validate every row of every batch, then create or update them all in one
    transaction; raise :class:`CatalogError` listing each bad row and write nothing
    when any row is bad. ``dry_run`` validates and reports without writing.

    ``seed``: the rows are the shipped seed. Each written row records the hash of what
    was written; an existing row that differs from the seed is updated only when its
    values still hash to what the seed last wrote (nobody edited it since). Edited rows
    are kept and listed in ``report.conflicts``, unless ``overwrite`` is set."""
    report = LoadReport()
    errors: list[RowError] = []
    planned: list[_Planned] = []
    seen: dict[tuple[str, tuple[Any, ...]], str] = {}
    with transaction.atomic():
        for batch in batches:
            if batch.section not in SECTIONS:
                raise ValueError(f"unknown section {batch.section!r}")
            for index, row in enumerate(batch.rows):
                where = f"{batch.label} row {index + 1}{_describe(batch.section, row)}"
                if not isinstance(row, dict):
                    errors.append(RowError(where, "row", "Must be a JSON object."))
                    continue
                row_errors: list[tuple[str, str]] = []
                key = (batch.section, _identity(batch.section, row))
                if key in seen:
                    field_name = "name" if batch.section == "quant_formats" else "slug"
                    row_errors.append((field_name, f"Repeats {seen[key]}."))
                elif all(key[1]):
                    seen[key] = f"{batch.label} row {index + 1}"
                item = _plan_row(batch.section, row, row_errors)
                errors.extend(RowError(where, f, m) for f, m in row_errors)
                if item is not None and not row_errors:
                    planned.append(item)
                    if seed and item.status == "updated" and not overwrite:
                        if item.instance.seed_hash != item.before_hash:
                            item.status = "conflict"
                            untracked = not item.instance.seed_hash
                            report.conflicts.append(
                                where + (" (loaded before edits were tracked)" if untracked else "")
                            )
        if errors:
            raise CatalogError(errors)
        for item in planned:
            if item.status == "conflict":
                report.add(item.section, "unchanged")
                continue
            if not dry_run:
                _write(item, seed)
            report.add(item.section, item.status)
    return report


def _write(item: _Planned, seed: bool) -> None:
    instance = item.instance
    if seed and instance.seed_hash != item.after_hash:
        instance.seed_hash = item.after_hash
        if item.status == "unchanged":
            # The stored values already are the seed's: only remember that.
            owner = instance._meta.get_field("seed_hash").model  # Part for every part kind
            owner.objects.filter(pk=instance.pk).update(seed_hash=item.after_hash)
            return
    if item.status != "unchanged":
        instance.save()
