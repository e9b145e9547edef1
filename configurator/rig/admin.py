"""The admin's review of submitted measurements: approve or reject, one or many."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from configurator.rig.models import UserMeasurement


@admin.register(UserMeasurement)
class UserMeasurementAdmin(admin.ModelAdmin):
    list_display = ("created_at", "status", "model_name", "quant", "tool", "rig", "rows_count")
    list_filter = ("status", "tool")
    search_fields = ("model_name", "model_slug", "hardware_query")
    readonly_fields = (
        "model_slug",
        "model_name",
        "quant",
        "tool",
        "hardware",
        "hardware_query",
        "rows",
        "raw",
        "created_at",
        "reviewed_at",
    )
    fields = ("status", "review_note", *readonly_fields)
    actions = ("approve", "reject")

    @admin.display(description="Rig")
    def rig(self, obj: UserMeasurement) -> str:
        return obj.hardware_label

    @admin.display(description="Rows")
    def rows_count(self, obj: UserMeasurement) -> int:
        return len(obj.rows or [])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Approve: use as evidence and calibration data")
    def approve(self, request: HttpRequest, queryset: QuerySet[UserMeasurement]) -> None:
        for row in queryset:
            row.review(UserMeasurement.Status.APPROVED)
        self.message_user(request, f"{queryset.count()} measurement(s) approved.", messages.SUCCESS)

    @admin.action(description="Reject")
    def reject(self, request: HttpRequest, queryset: QuerySet[UserMeasurement]) -> None:
        for row in queryset:
            row.review(UserMeasurement.Status.REJECTED)
        self.message_user(request, f"{queryset.count()} measurement(s) rejected.", messages.WARNING)
