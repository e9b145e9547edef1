from django.apps import AppConfig


class ConfiguratorConfig(AppConfig):
    name = "configurator"
    verbose_name = "Configurator"

    def ready(self) -> None:
        # Signal receivers: cached results follow part, model and price changes.
        from configurator import results_cache  # noqa: F401
