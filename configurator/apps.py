import gc

from django.apps import AppConfig
from django.conf import settings


class ConfiguratorConfig(AppConfig):
    name = "configurator"
    verbose_name = "Configurator"

    def ready(self) -> None:
        # Signal receivers: cached results follow part, model and price changes.
        from configurator import results_cache  # noqa: F401

        # Fewer young collections during build searches (settings.GC_YOUNG_THRESHOLD).
        _, middle, old = gc.get_threshold()
        gc.set_threshold(settings.GC_YOUNG_THRESHOLD, middle, old)
