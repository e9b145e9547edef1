"""The JSON API: ``/api/builds``, ``/api/build``, ``/api/estimate`` and the OpenAPI
description at ``/api/openapi.json``. Invalid parameters give 400 with
``{"errors": {field: [message, ...]}}``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from configurator import openapi, results_cache
from configurator.buildpage import with_evidence
from configurator.engine.builds import finite, parse_parts_param
from configurator.estimates import estimate_payload
from configurator.forms import EstimateForm, RecommendForm, errors_by_field
from configurator.recommend import evaluate_build, recommend
from configurator.rig.must import with_counts
from configurator.training_run import attach, attach_all
from rigrank.ratelimit import limit_requests

JSON_OPTIONS = {"ensure_ascii": False}


def _json(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(finite(data), status=status, json_dumps_params=JSON_OPTIONS)


def _bad(errors: dict[str, list[str]]) -> JsonResponse:
    return _json({"errors": errors}, status=400)


def _too_many(request: HttpRequest, retry_after_s: int) -> JsonResponse:
    message = f"too many requests from this address; try again in {retry_after_s} s."
    return _json({"errors": {"__all__": [message]}}, status=429)


rate_limited = limit_requests("api", "API_RATE_PER_MINUTE", 60, _too_many)


def _field_of(message: str, fields: Any) -> str:
    """The parameter an engine error names (its first word), else ``__all__``."""
    head = message.split(":", 1)[0].split(" ", 1)[0].split(".", 1)[0].strip()
    return head if head in fields else "__all__"


@require_GET
@rate_limited
def builds(request: HttpRequest) -> HttpResponse:
    """Ranked builds for the workload and constraints in the query string."""
    return results_cache.cached_response(request, "api_builds", lambda: _builds(request))


def _builds(request: HttpRequest) -> JsonResponse:
    form = RecommendForm(request.GET)
    if not form.is_valid():
        return _bad(errors_by_field(form))
    request = form.build_request()
    data = recommend(request).to_dict()
    attach_all(data, form.dataset(), request.kwh_price)
    return _json(with_counts(data, form.cleaned_data.get("must_include") or ()))


@require_GET
@rate_limited
def build(request: HttpRequest) -> JsonResponse:
    """One build from its ``parts`` (``slug:qty,...``), priced, checked and estimated
    for the workload in the query string."""
    form = RecommendForm(request.GET)
    errors = {} if form.is_valid() else errors_by_field(form)
    try:
        parts = parse_parts_param(request.GET.get("parts", ""))
    except ValueError as exc:
        errors["parts"] = [str(exc)]
    if errors:
        return _bad(errors)
    request = form.build_request()
    try:
        result = evaluate_build(request, parts)
    except ValueError as exc:
        return _bad({"parts": [str(exc)]})
    data = attach(result.to_dict(), form.dataset(), request.kwh_price)
    return _json(with_evidence(data, result))


@require_GET
@rate_limited
def estimate(request: HttpRequest) -> JsonResponse:
    """The estimator on named hardware (the ``estimate`` command's parameters)."""
    form = EstimateForm(request.GET)
    if not form.is_valid() or form.resolved is None:
        return _bad(errors_by_field(form))
    try:
        data = estimate_payload(form.resolved)
    except ValueError as exc:
        return _bad({_field_of(str(exc), form.fields): [str(exc)]})
    return _json(data)


@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    """The OpenAPI 3 description of this API."""
    return _json(openapi.spec(request.build_absolute_uri("/")))
