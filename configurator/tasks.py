"""Celery tasks of the configurator: housekeeping only."""

from celery import shared_task
from django.conf import settings

from configurator.models import shared_builds_prune


@shared_task(name="configurator.prune_shared_builds", acks_late=True)
def prune_shared_builds() -> int:
    """Daily: remove shared builds nobody opened for SHARE_RETENTION_DAYS."""
    return shared_builds_prune(days=settings.SHARE_RETENTION_DAYS)


@shared_task(name="configurator.warm_results", acks_late=True)
def warm_results() -> int:
    """After a part, model or price change: render the default and most requested
    results again, so the next visitor gets them from the cache."""
    from configurator.results_cache import results_warm

    return results_warm()
