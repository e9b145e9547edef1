"""``GET /api/canrun``, ``GET /api/upgrade`` and ``GET /api/parts`` (name autocomplete).
Invalid parameters give 400 with ``{"errors": {field: [message, ...]}}``."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from configurator.api import _bad, _json, rate_limited
from configurator.forms import errors_by_field
from configurator.rig.service import CanRunForm, UpgradeForm, canrun_payload, upgrade_payload
from configurator.rig.suggest import suggest_parts


@require_GET
@rate_limited
def canrun(request: HttpRequest) -> JsonResponse:
    """Every catalogue model on the described hardware, best format first."""
    form = CanRunForm(request.GET)
    if not form.is_valid():
        return _bad(errors_by_field(form))
    return _json(canrun_payload(form))


@require_GET
@rate_limited
def parts(request: HttpRequest) -> JsonResponse:
    """Catalogue parts whose name or slug holds every word of ``q`` (``kind`` optional)."""
    kind = request.GET.get("kind", "")
    try:
        found = suggest_parts(request.GET.get("q", ""), kind)
    except ValueError as exc:
        return _bad({"kind": [str(exc)]})
    return _json({"parts": found})


@require_GET
@rate_limited
def upgrade(request: HttpRequest) -> JsonResponse:
    """Cheapest additions to the owned parts (``have``) that run the model at the speed."""
    form = UpgradeForm(request.GET)
    if not form.is_valid():
        return _bad(form.all_errors)
    return _json(upgrade_payload(form))
