"""Cached results pages: the same query on the same catalogue and prices is answered
from the cache, not searched again.

A results response (the wizard's page or its htmx fragment, ``/api/builds``) is stored
under its query and ``results_version()``, which changes whenever a part, a model, a
quantization format or any price input changes — so a change is never served stale.
Pages carry a CSRF token; it is stored as a placeholder and the reader's own token is
put in when the page is served, so no visitor ever sees another's.

After a change, ``results_warm`` renders the default query and the most requested ones
again (a Celery task; in a background thread when Celery is eager), so the first visitor
after a price update does not wait for the search.

Versions are memoised per process for ``VERSION_MEMO_S`` seconds (and forgotten at once
on a change made in this process): another process sees a change within that time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token

log = logging.getLogger(__name__)

CSRF_PLACEHOLDER = "rigrank-csrf-token-placeholder-6f1d"
PAGE_SECONDS = 6 * 3600
VERSION_MEMO_S = 2.0
BUMP_KEY = "results:bump"
TOP_KEY = "results:top"
WARM_PENDING_KEY = "results:warm-pending"
WARM_DUE_KEY = "results:warm-due"
TOP_KEEP = 50
WARM_TOP = 8
FLUSH_EVERY_S = 30.0
KEPT_HEADERS = ("Content-Type", "HX-Push-Url", "HX-Trigger", "Vary")

_memo: dict[str, Any] = {"version": None, "at": 0.0}
_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()
_last_flush = [time.monotonic()]


# Versions -------------------------------------------------------------------------------


def results_version() -> str:
    """Changes whenever anything a results page depends on changes."""
    now = time.monotonic()
    if _memo["version"] is not None and now - _memo["at"] < VERSION_MEMO_S:
        return _memo["version"]
    from catalog.models import LlmModel
    from configurator.adapters import catalogue_version

    models = LlmModel.objects.aggregate(count=Count("id"), newest=Max("updated_at"))
    newest = models["newest"].isoformat() if models["newest"] else "-"
    raw = f"{catalogue_version()}|{models['count']}:{newest}|{cache.get(BUMP_KEY, 0)}"
    version = hashlib.sha1(raw.encode()).hexdigest()[:16]
    _memo.update(version=version, at=now)
    return version


def forget_version() -> None:
    _memo.update(version=None, at=0.0)


def results_changed() -> None:
    """Something results depend on changed: new version now, warm the cache after commit."""
    forget_version()
    try:
        cache.incr(BUMP_KEY)
    except ValueError:
        cache.set(BUMP_KEY, 1, None)
    transaction.on_commit(schedule_warm)


def _watched_models() -> tuple[type, ...]:
    from catalog.models import LlmModel, Part, QuantFormat
    from pricing.signals import WATCHED

    return (Part, LlmModel, QuantFormat, *WATCHED)


@receiver(post_save, dispatch_uid="configurator-results-save")
@receiver(post_delete, dispatch_uid="configurator-results-delete")
def _on_change(sender: type, instance: object, **kwargs: Any) -> None:
    if isinstance(instance, _watched_models()):
        update_fields = kwargs.get("update_fields")
        quiet = _bookkeeping(sender)
        if quiet and update_fields and set(update_fields) <= quiet:
            return
        results_changed()


def _bookkeeping(sender: type) -> frozenset[str]:
    from pricing.signals import BOOKKEEPING

    return frozenset(BOOKKEEPING.get(sender, ()))


# Serving ----------------------------------------------------------------------------------


def cache_key(kind: str, query: str, htmx: bool) -> str:
    digest = hashlib.sha1(f"{kind}|{int(htmx)}|{query}".encode()).hexdigest()
    return f"results:page:{results_version()}:{digest}"


def canonical_query(request: HttpRequest) -> str:
    """The query string with its pairs sorted (the same query in another order is the
    same page)."""
    from urllib.parse import urlencode

    return urlencode(sorted((k, v) for k, values in request.GET.lists() for v in values))


def cached_response(
    request: HttpRequest, kind: str, build: Callable[[], HttpResponse]
) -> HttpResponse:
    """The response for this request's query from the cache, else ``build()`` (which
    renders with the CSRF placeholder) stored for the next reader."""
    query = canonical_query(request)
    htmx = bool(getattr(request, "htmx", False))
    count(kind, query)
    _warm_if_due()
    key = cache_key(kind, query, htmx)
    stored = cache.get(key)
    if stored is None:
        response = build()
        if response.status_code != 200 or response.streaming:
            return _with_token(request, response)
        stored = {
            "content": response.content,
            "headers": {h: response[h] for h in KEPT_HEADERS if response.has_header(h)},
        }
        cache.set(key, stored, PAGE_SECONDS)
        return _with_token(request, response)
    response = HttpResponse(stored["content"])
    for header, value in stored["headers"].items():
        response[header] = value
    response["X-Results-Cache"] = "hit"
    return _with_token(request, response)


def _with_token(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    placeholder = CSRF_PLACEHOLDER.encode()
    if not response.streaming and placeholder in response.content:
        response.content = response.content.replace(placeholder, get_token(request).encode())
    return response


# What is asked most ---------------------------------------------------------------------


def count(kind: str, query: str) -> None:
    """Count one request per process; merge the counts into the cache now and then."""
    with _counts_lock:
        _counts[f"{kind}?{query}"] += 1
        due = time.monotonic() - _last_flush[0] >= FLUSH_EVERY_S
        if due:
            _last_flush[0] = time.monotonic()
            mine = dict(_counts)
            _counts.clear()
    if due:
        flush_counts(mine)


def flush_counts(mine: dict[str, int]) -> None:
    shared: Counter[str] = Counter(cache.get(TOP_KEY) or {})
    shared.update(mine)
    cache.set(TOP_KEY, dict(shared.most_common(TOP_KEEP)), None)


def most_requested(limit: int = WARM_TOP) -> list[tuple[str, str]]:
    """``(kind, query)`` of the most requested results, this process's counts included."""
    with _counts_lock:
        mine = dict(_counts)
    merged: Counter[str] = Counter(cache.get(TOP_KEY) or {})
    merged.update(mine)
    return [tuple(key.split("?", 1)) for key, _ in merged.most_common(limit)]  # type: ignore[misc]


# Warming ----------------------------------------------------------------------------------


def default_query() -> str:
    from urllib.parse import urlencode

    from configurator.wizard import INITIAL

    pairs = [(k, "true" if v is True else str(v)) for k, v in INITIAL.items()]
    return urlencode(sorted(pairs))


def schedule_warm() -> None:
    """Warm the cache soon, once for a burst of changes (a scrape run saves many).

    With a broker, a Celery task does it. Without one (eager mode), the next results
    request starts it in a background thread of the web process: a management command
    that changed the catalogue (load_seed) does not render pages itself.
    """
    from django.conf import settings

    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        cache.set(WARM_DUE_KEY, 1, None)
        return
    if not cache.add(WARM_PENDING_KEY, 1, 30):
        return
    try:
        from configurator.tasks import warm_results

        warm_results.apply_async(countdown=2)
    except Exception:  # the broker is down: the pages fill the cache as they are asked
        # The pending mark stays for its 30 s, so a burst of changes during an outage
        # waits on the broker once, not once per change.
        log.warning("results warm-up not scheduled: broker unreachable")


def _warm_if_due() -> None:
    """In eager mode: start the warm-up a change asked for (one process claims it)."""
    from django.conf import settings

    if not getattr(settings, "RESULTS_WARM_IN_THREAD", True) or not cache.get(WARM_DUE_KEY):
        return
    if cache.delete(WARM_DUE_KEY):
        threading.Thread(target=_warm_in_thread, name="results-warm", daemon=True).start()


def _warm_in_thread() -> None:
    from django.db import connections

    try:
        time.sleep(1.0)
        results_warm()
    except Exception:
        log.exception("results warm-up failed")
    finally:
        connections.close_all()


def results_warm() -> int:
    """Render the default query and the most requested ones into the cache; returns how
    many responses were rendered."""
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory
    from django_htmx.middleware import HtmxDetails

    from configurator import api, views

    cache.delete(WARM_PENDING_KEY)
    forget_version()
    wanted = [("home", default_query()), ("api_builds", default_query())]
    wanted += [w for w in most_requested() if w not in wanted]
    factory = RequestFactory()
    rendered = 0
    for kind, query in wanted:
        view = {"home": views.home, "api_builds": api.builds}.get(kind)
        if view is None:
            continue
        variants = [{}, {"HTTP_HX_REQUEST": "true"}] if kind == "home" else [{}]
        for headers in variants:
            request = factory.get(f"/?{query}", **headers)
            request.htmx = HtmxDetails(request)
            request.user = AnonymousUser()
            if view(request).status_code == 200:
                rendered += 1
    return rendered
