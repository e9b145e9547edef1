"""The last line of defence for bad input, and JSON errors under ``/api/``.

Forms reject what they know is out of range, with a message by the field. Should a value
still reach the estimator and be refused there (its dataclasses check every number and
raise ``ValueError`` naming it), the user sent something the forms failed to catch: that
is a 400 with the estimator's message, not a server error. Any other exception stays a
500, so real bugs are not dressed up as bad input.

Under ``/api/`` every error, whatever produced it (a 404 for an unknown path, a 405, a
500, a query string over MAX_QUERY_CHARS: 414), answers
``{"errors": {field: [message, ...]}}`` as JSON, never an HTML page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults

ENGINE_DIR = str(Path(__file__).resolve().parent.parent / "configurator" / "engine")
API_PREFIX = "/api/"
logger = logging.getLogger(__name__)

# The estimator's field names, as the forms call them.
ENGINE_FIELDS = {
    "context_tokens": "context",
    "gen_tokens": "context",
    "concurrent_sequences": "batch",
    "kv_cache_bits": "kv_quant",
    "model": "model",
    "quant": "quant",
    "prompt_tokens": "prompt_tokens",
    "mode": "mode",
    "backend": "backend",
    "threads": "threads",
    "expert_offload": "expert_offload",
    "spec_decode": "spec_decode",
    "acceptance_rate": "acceptance_rate",
}


def raised_by_engine(tb: TracebackType | None) -> bool:
    """Whether the innermost frames of a traceback are the estimator's own code."""
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return bool(last and last.startswith(ENGINE_DIR))


def engine_field(message: str) -> str:
    """The form field an estimator message is about (``__all__`` when unknown)."""
    head = message.split(" ", 1)[0].split(".", 1)[0].strip(":")
    return ENGINE_FIELDS.get(head, "__all__")


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def api_error(status: int, errors: dict[str, list[str]]) -> JsonResponse:
    body = {"errors": errors}
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


class ErrorsMiddleware:
    """Estimator input errors become 400s; ``/api/`` errors are always JSON."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = int(getattr(settings, "MAX_QUERY_CHARS", 4096))
        query = request.META.get("QUERY_STRING", "")
        if is_api(request) and len(query) > limit:
            message = f"the query string is {len(query):,} characters; at most {limit:,} are read."
            return api_error(414, {"__all__": [message]})
        response = self.get_response(request)
        if is_api(request) and response.status_code >= 400 and not _is_json(response):
            reason = response.reason_phrase or "error"
            if response.status_code == 405:
                allowed = response.get("Allow", "GET")
                message = f"method {request.method} is not allowed here; use {allowed}."
                json_response = api_error(405, {"__all__": [message]})
                json_response["Allow"] = allowed
                return json_response
            return api_error(response.status_code, {"__all__": [f"{reason}: {request.path}"]})
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ValueError) and raised_by_engine(exception.__traceback__):
            message = str(exception)
            logger.warning(
                "estimator refused input the forms let through",
                extra={"path": request.path, "error": message},
                exc_info=exception,
            )
            field = engine_field(message)
            if is_api(request):
                return api_error(400, {field: [message]})
            context = {"message": message, "field": field}
            return render(request, "400.html", context, status=400)
        if is_api(request):
            logger.error("API error", exc_info=exception, extra={"path": request.path})
            return api_error(500, {"__all__": ["internal error; it has been logged."]})
        return None


# Error views for what fails before the middleware above sees it (a Host header not in
# ALLOWED_HOSTS is refused by a middleware further out): JSON under /api/ as well.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return api_error(400, {"__all__": ["bad request."]})
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return api_error(500, {"__all__": ["internal error; it has been logged."]})
    return defaults.server_error(request)


def _is_json(response: HttpResponse) -> bool:
    if not response.get("Content-Type", "").startswith("application/json"):
        return False
    if getattr(response, "streaming", False):
        return True
    try:
        json.loads(response.content or b"null")
    except ValueError:
        return False
    return True
