"""Top-level URL configuration: each app owns its own urls module."""

from django.contrib import admin
from django.urls import include, path

from rigrank.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("prices/", include("pricing.urls")),
    path("api/", include("configurator.api_urls")),
    path("", include("configurator.urls")),
]

# Under /api/ these answer JSON too (errors the error middleware does not get to see).
handler400 = "rigrank.errors.bad_request"
handler500 = "rigrank.errors.server_error"
