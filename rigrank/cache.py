"""Django's Redis cache, falling back to an in-process cache while Redis is unreachable.

The cache only ever holds what can be recomputed (the catalogue snapshot, current
prices, cached results), so losing Redis must cost speed, never the pages. When a Redis
call fails the backend logs it once, serves that call and every call for the next
``RETRY_S`` seconds from a per-process memory cache, then tries Redis again. Keys and
versions are the same in both, so nothing stale is served when Redis comes back: every
cached value hangs off a version read from the database.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class FallbackRedisCache(RedisCache):
    """``RedisCache`` that keeps answering from process memory while Redis is down."""

    RETRY_S = 5.0

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        params = dict(params)
        options = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
        options.update(params.get("OPTIONS") or {})
        params["OPTIONS"] = options
        super().__init__(server, params)
        self.fallback = LocMemCache(
            f"rigrank-fallback-{id(self)}",
            {
                "TIMEOUT": params.get("TIMEOUT", 300),
                "OPTIONS": {"MAX_ENTRIES": settings.LOCAL_CACHE_ENTRIES},
            },
        )
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def redis_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if not self.redis_down:
            try:
                return getattr(super(), name)(*args, **kwargs)
            except RedisError as exc:
                with self._lock:
                    first = not self.redis_down
                    self._down_until = time.monotonic() + self.RETRY_S
                if first:
                    log.warning(
                        "cache: Redis unreachable, using the in-process cache",
                        extra={"error_class": type(exc).__name__, "retry_s": self.RETRY_S},
                    )
        return getattr(self.fallback, name)(*args, **kwargs)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version)

    def clear(self):
        self.fallback.clear()
        return self._call("clear")
