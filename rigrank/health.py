"""``GET /healthz``: is the database reachable, is the broker reachable, which version.

A failed check names the service and nothing else: hosts, ports and driver messages go
to the log, not to anyone who can reach the URL.
"""

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

log = logging.getLogger(__name__)


def database_status() -> dict[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        log.error("healthz: database unreachable", extra={"error": str(exc)})
        return {"status": "down", "reason": "database unreachable"}
    return {"status": "ok", "vendor": connection.vendor}


def broker_status() -> dict[str, str]:
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.REDIS_URL:
        return {"status": "eager", "reason": "REDIS_URL unset: tasks run in-process"}
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        log.error("healthz: broker unreachable", extra={"error": str(exc)})
        return {"status": "down", "reason": "broker unreachable"}
    finally:
        client.close()
    return {"status": "ok"}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_status(), "broker": broker_status()}
    failed = [name for name, check in checks.items() if check["status"] == "down"]
    body = {
        "status": "unavailable" if failed else "ok",
        "version": settings.RIGRANK_VERSION,
        "failed": failed,
        **checks,
    }
    return JsonResponse(body, status=503 if failed else 200)
