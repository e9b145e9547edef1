from django.urls import path

from configurator import api
from configurator.rig import api as rig_api

app_name = "api"

urlpatterns = [
    path("builds", api.builds, name="builds"),
    path("build", api.build, name="build"),
    path("estimate", api.estimate, name="estimate"),
    path("canrun", rig_api.canrun, name="canrun"),
    path("parts", rig_api.parts, name="parts"),
    path("upgrade", rig_api.upgrade, name="upgrade"),
    path("openapi.json", api.openapi_json, name="openapi"),
]
