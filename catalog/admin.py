"""Admin for every part kind, LLM models and quant formats.

Each kind has its own change list with the columns that matter for it, filters, search,
validation on the field (the models' ``clean``), a "duplicate" action for making a
variant, and CSV import/export (django-import-export) for bulk spec edits.

Columns from other apps (the pricing app's current price) are added with
:func:`register_part_column`; the change lists are built from
``common + kind columns + registered columns``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from import_export import resources
from import_export.admin import ImportExportModelAdmin

from catalog.models import (
    Adapter,
    Case,
    CompleteSystem,
    Cooler,
    Cpu,
    Gpu,
    LlmModel,
    MemoryModule,
    Motherboard,
    Part,
    PowerSupply,
    QuantFormat,
    Storage,
)
from catalog.serialization import LLM_MODEL_FIELDS, PART_FIELDS, QUANT_FORMAT_FIELDS

# The seed-format fields of every part; the kind follows from the admin it is edited in.
PART_COMMON_FIELDS = tuple(name for name in PART_FIELDS if name != "kind")

# Columns other apps add to every part change list: (column, kinds or None for all).
_EXTRA_PART_COLUMNS: list[tuple[str | Callable[..., Any], frozenset[str] | None]] = []


def register_part_column(
    column: str | Callable[..., Any], kinds: Iterable[str] | None = None
) -> None:
    """Add a column (an admin display function) to the part change lists, e.g. the
    pricing app's current best price. ``kinds`` limits it to some kinds."""
    _EXTRA_PART_COLUMNS.append((column, frozenset(kinds) if kinds is not None else None))


def extra_part_columns(kind: str) -> tuple[str | Callable[..., Any], ...]:
    return tuple(c for c, kinds in _EXTRA_PART_COLUMNS if kinds is None or kind in kinds)


def resource_for(model: type[models.Model], fields: Iterable[str], id_fields: Iterable[str]):
    """A CSV/XLSX resource with exactly the seed-format fields, matched on ``id_fields``
    and validated with ``full_clean`` row by row."""
    meta = type(
        "Meta",
        (),
        {
            "model": model,
            "fields": tuple(fields),
            "export_order": tuple(fields),
            "import_id_fields": tuple(id_fields),
            "clean_model_instances": True,
            "skip_unchanged": True,
            "report_skipped": True,
        },
    )
    return type(f"{model.__name__}Resource", (resources.ModelResource,), {"Meta": meta})


class CatalogAdmin(ImportExportModelAdmin):
    # Falls back to the plain change list when import_export is not an installed app
    # (a system check warns about it), so the admin works either way.
    import_export_change_list_template = [
        "admin/import_export/change_list_import_export.html",
        "admin/change_list.html",
    ]
    actions = ["duplicate"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.action(description="Duplicate selected rows as variants (slug gets -copy)")
    def duplicate(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        copies = [obj.make_variant() for obj in queryset]
        self.message_user(
            request,
            "Created " + ", ".join(c.slug for c in copies) + ". Edit them to make the variant.",
            messages.SUCCESS,
        )


class PartKindAdmin(CatalogAdmin):
    """Base admin for one kind of part; subclasses name their columns and filters."""

    spec_columns: tuple[str | Callable[..., Any], ...] = ()
    spec_filters: tuple[str, ...] = ()
    search_fields = ("name", "brand", "slug", "notes")
    prepopulated_fields = {"slug": ("brand", "name")}
    readonly_fields = ("created_at", "updated_at")
    list_per_page = 100

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        kind = self.model.KIND
        return ("name", "brand", "condition", *self.spec_columns, *extra_part_columns(kind))

    def get_list_filter(self, request: HttpRequest) -> tuple[str, ...]:
        return (*self.spec_filters, "condition", "brand")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[tuple[Any, Any]]:
        specs = [f.name for f in self.model.spec_fields()]
        return [
            (None, {"fields": ("brand", "name", "slug", "condition", "release_year")}),
            ("Specs", {"fields": specs}),
            ("Source and notes", {"fields": ("spec_source", "notes")}),
            ("History", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
        ]

    def get_resource_classes(self, request: HttpRequest | None = None) -> list[type]:
        names = [*PART_COMMON_FIELDS, *(f.name for f in self.model.spec_fields())]
        return [resource_for(self.model, names, ("slug",))]


@admin.register(Part)
class PartAdmin(admin.ModelAdmin):
    """Every part of every kind, read-only: each name links to its kind's admin."""

    list_display = ("linked_name", "kind", "brand", "condition", "release_year", "source")
    list_display_links = None
    list_filter = ("kind", "condition", "brand")
    search_fields = ("name", "brand", "slug", "notes")
    list_per_page = 100

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        return (*self.list_display, *extra_part_columns("*"))

    @admin.display(description="name", ordering="name")
    def linked_name(self, obj: Part) -> str:
        url = reverse(f"admin:catalog_{type(obj.specific)._meta.model_name}_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.name)

    @admin.display(description="spec source")
    def source(self, obj: Part) -> str:
        return format_html('<a href="{}" rel="noopener">source</a>', obj.spec_source)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # add a part through its kind, which knows its specs

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Gpu)
class GpuAdmin(PartKindAdmin):
    spec_columns = (
        "vram_gb",
        "memory_type",
        "bandwidth_gbs",
        "fp16_tflops",
        "tdp_w",
        "slot_width",
        "interconnect",
        "software_stack",
    )
    spec_filters = ("memory_type", "software_stack", "interconnect", "cooling", "vram_gb")


@admin.register(Cpu)
class CpuAdmin(PartKindAdmin):
    spec_columns = (
        "socket",
        "cores",
        "memory_type",
        "memory_channels",
        "max_memory_mts",
        "memory_bandwidth",
        "max_sockets",
        "tdp_w",
    )
    spec_filters = ("socket", "memory_type", "memory_channels", "max_sockets")

    @admin.display(description="memory GB/s per socket")
    def memory_bandwidth(self, obj: Cpu) -> str:
        value = obj.memory_bandwidth_gbs()
        return f"{value:.0f}" if value else "-"


@admin.register(Motherboard)
class MotherboardAdmin(PartKindAdmin):
    spec_columns = (
        "socket",
        "socket_count",
        "memory_type",
        "memory_registered",
        "dimm_slots",
        "memory_channels",
        "pcie_x16_slots",
        "form_factor",
    )
    spec_filters = ("socket", "memory_type", "memory_registered", "socket_count", "form_factor")


@admin.register(MemoryModule)
class MemoryModuleAdmin(PartKindAdmin):
    spec_columns = ("memory_type", "registered", "capacity_gb", "speed_mts", "ecc")
    spec_filters = ("memory_type", "registered", "capacity_gb", "speed_mts")


@admin.register(PowerSupply)
class PowerSupplyAdmin(PartKindAdmin):
    spec_columns = (
        "watts",
        "efficiency_rating",
        "connectors_12v_2x6",
        "pcie_8pin_connectors",
        "eps_connectors",
        "form_factor",
    )
    spec_filters = ("efficiency_rating", "form_factor")


@admin.register(Case)
class CaseAdmin(PartKindAdmin):
    spec_columns = (
        "form_factor",
        "max_gpu_length_mm",
        "expansion_slots",
        "max_cooler_height_mm",
        "rack_units",
    )
    spec_filters = ("form_factor", "rack_units")


@admin.register(Storage)
class StorageAdmin(PartKindAdmin):
    spec_columns = ("capacity_gb", "interface", "seq_read_mbs")
    spec_filters = ("interface",)


@admin.register(Cooler)
class CoolerAdmin(PartKindAdmin):
    spec_columns = ("cooler_type", "sockets", "tdp_rating_w", "height_mm")
    spec_filters = ("cooler_type",)


@admin.register(CompleteSystem)
class CompleteSystemAdmin(PartKindAdmin):
    spec_columns = (
        "unified_memory_gb",
        "bandwidth_gbs",
        "usable_memory",
        "gpu_fp16_tflops",
        "cpu_cores",
        "software_stack",
        "form_factor",
    )
    spec_filters = ("software_stack", "form_factor", "unified_memory_gb")

    @admin.display(description="usable GB")
    def usable_memory(self, obj: CompleteSystem) -> str:
        return f"{obj.usable_memory_gb():.0f}"


@admin.register(Adapter)
class AdapterAdmin(PartKindAdmin):
    spec_columns = ("adapter_type", "gpus_joined", "bridges_per_group", "slot_spacing")
    spec_filters = ("adapter_type",)


@admin.register(LlmModel)
class LlmModelAdmin(CatalogAdmin):
    list_display = (
        "name",
        "family",
        "total_params_b",
        "active_params_b",
        "layers",
        "hidden_size",
        "kv_heads",
        "max_context",
        "approximate",
    )
    list_filter = ("family", "approximate", "license")
    search_fields = ("name", "slug", "family")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "updated_at")

    def get_resource_classes(self, request: HttpRequest | None = None) -> list[type]:
        return [resource_for(LlmModel, LLM_MODEL_FIELDS, ("slug",))]


@admin.register(QuantFormat)
class QuantFormatAdmin(CatalogAdmin):
    list_display = ("name", "family", "bits_per_weight", "applies_to", "engines", "quality_note")
    list_filter = ("family", "applies_to")
    search_fields = ("name", "quality_note")
    actions: list[str] = []

    def get_resource_classes(self, request: HttpRequest | None = None) -> list[type]:
        return [resource_for(QuantFormat, QUANT_FORMAT_FIELDS, ("name", "applies_to"))]
