from django.contrib import admin
from django.http import HttpRequest

from configurator.models import SharedBuild


@admin.register(SharedBuild)
class SharedBuildAdmin(admin.ModelAdmin):
    """Shared builds are immutable snapshots: the admin can list, view and delete them."""

    list_display = ("slug", "title", "software_version", "created_at")
    search_fields = ("slug",)
    readonly_fields = ("slug", "software_version", "created_at", "snapshot")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SharedBuild | None = None) -> bool:
        return False


import configurator.rig.admin  # noqa: E402, F401  (registers the measurement review)
