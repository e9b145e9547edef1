"""A fixed-window request limit per client, counted in the cache (Redis when set, so
every process shares the count; process memory otherwise or while Redis is down).

``limited(request, "share", per_hour)`` answers whether this client has used up its
allowance; the caller answers 429 with ``Retry-After``. Clients are told apart by
their address (``REMOTE_ADDR``; behind a proxy that sets X-Forwarded-For, set
``TRUSTED_PROXY_HOPS`` so the right address is read).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


@dataclass(frozen=True)
class Verdict:
    limited: bool
    retry_after_s: int


def _ip(text: str) -> str | None:
    """``text`` as a normalised IP address, or None when it is not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def ip_address(request: HttpRequest) -> str | None:
    """The client's IP address, or None when the request carries no valid one (a test
    client's forced login, a malformed X-Forwarded-For). Behind ``TRUSTED_PROXY_HOPS``
    proxies, the address the nearest trusted proxy saw."""
    hops = int(getattr(settings, "TRUSTED_PROXY_HOPS", 0))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if len(addresses) >= hops:
            found = _ip(addresses[-hops])
            if found:
                return found
    return _ip(request.META.get("REMOTE_ADDR", "") or "")


def client_address(request: HttpRequest) -> str:
    """The client's address as a counting key ("unknown" when it has none). An IPv6
    client counts by its /64: one host is usually given the whole /64, so counting each
    address would let it pick a fresh one for every request."""
    address = ip_address(request)
    if address is None:
        return "unknown"
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address


def hit(request: HttpRequest, scope: str, limit: int, window_s: int) -> Verdict:
    """Count one request of this client in ``scope``; limited once over ``limit``."""
    if limit <= 0:
        return Verdict(False, 0)
    now = time.time()
    window = int(now // window_s)
    key = f"ratelimit:{scope}:{client_address(request)}:{window}"
    if cache.add(key, 1, window_s + 5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window_s + 5)
            count = 1
    retry_after = int((window + 1) * window_s - now) + 1
    return Verdict(count > limit, retry_after)


def limit_requests(scope: str, setting: str, window_s: int, respond):
    """View decorator: at most ``settings.<setting>`` requests per client per window
    (0 turns the limit off); over it, ``respond(request, retry_after_s)`` answers."""
    from functools import wraps

    def decorate(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            verdict = hit(request, scope, int(getattr(settings, setting, 0)), window_s)
            if verdict.limited:
                response = respond(request, verdict.retry_after_s)
                response["Retry-After"] = str(verdict.retry_after_s)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
