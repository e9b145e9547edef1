from django.urls import path

from configurator import views
from configurator.rig import views as rig_views

urlpatterns = [
    path("", views.home, name="home"),
    path("build/", views.build_detail, name="build_detail"),
    path("compare/", views.compare, name="compare"),
    path("share/", views.share, name="share"),
    path("b/<str:slug>/", views.shared_build, name="shared_build"),
    path("rig/", rig_views.rig, name="rig"),
    path("rig/upgrade/", rig_views.upgrade, name="rig_upgrade"),
    path("rig/measurements/", rig_views.submit_measurement, name="rig_submit_measurement"),
    path("gpus/", views.gpu_list, name="gpu_list"),
    path("platforms/", views.platform_list, name="platform_list"),
    path("models/", views.model_list, name="model_list"),
    path("models/<slug:slug>/", views.model_detail, name="model_detail"),
    path("accuracy/", views.accuracy, name="accuracy"),
]
