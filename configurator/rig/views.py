"""The pages for owned hardware: ``/rig/`` (what runs on it) and ``/rig/upgrade/``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from catalog.models import MODEL_USES
from configurator.rig.service import CanRunForm, canrun_payload
from configurator.rig.suggest import suggest_parts
from configurator.wizard import models_for_search
from rigrank.ratelimit import limit_requests

GPU_ROWS = 3
FILTERS = ("use", "max_params_b", "min_tps", "context", "prompt_tokens", "batch", "kv_quant")


def _template(request: HttpRequest, page: str, partial: str) -> str:
    return f"{page}#{partial}" if request.htmx else page


def rows_to_params(query: QueryDict) -> QueryDict:
    """The page's part rows (``gpu_name``/``gpu_count``, ``cpu_name``/``cpu_sockets``) as
    the API's ``gpu=NAME:COUNT,...`` and ``cpu=NAME:SOCKETS``."""
    params = query.copy()
    names, counts = query.getlist("gpu_name"), query.getlist("gpu_count")
    gpus = [
        f"{name.strip()}:{(counts[i] if i < len(counts) else '').strip() or 1}"
        for i, name in enumerate(names)
        if name.strip()
    ]
    if gpus and not query.get("gpu"):
        params.setlist("gpu", [",".join(gpus)])
    if query.get("cpu_name", "").strip() and not query.get("cpu"):
        sockets = query.get("cpu_sockets", "").strip() or "1"
        params.setlist("cpu", [f"{query['cpu_name'].strip()}:{sockets}"])
    for name in ("gpu_name", "gpu_count", "cpu_name", "cpu_sockets"):
        params.pop(name, None)
    return params


def _gpu_rows(query: QueryDict) -> list[dict[str, str]]:
    names, counts = query.getlist("gpu_name"), query.getlist("gpu_count")
    rows = [
        {"name": n, "count": counts[i] if i < len(counts) else "1"} for i, n in enumerate(names)
    ]
    if not rows and query.get("gpu"):
        for chunk in query["gpu"].split(","):
            name, _, count = chunk.partition(":")
            rows.append({"name": name.strip(), "count": count.strip() or "1"})
    while len(rows) < GPU_ROWS:
        rows.append({"name": "", "count": "1"})
    return rows


@vary_on_headers("HX-Request")
def rig(request: HttpRequest) -> HttpResponse:
    """Describe your hardware; see every catalogue model that runs on it.

    The form posts (pasted tool output is too long for a URL); the answer's address is
    the short GET form of the same rig (catalogue slugs, specs, RAM), so it can be shared.
    """
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    source = request.POST if request.method == "POST" else request.GET
    params = rows_to_params(source)
    asked = any(params.get(name) for name in CanRunForm.HARDWARE)
    form = CanRunForm(params if asked else None)
    context: dict[str, Any] = {
        "form": form,
        "asked": asked,
        "gpu_rows": _gpu_rows(source),
        "cpu_name": source.get("cpu_name", ""),
        "cpu_sockets": source.get("cpu_sockets", "1"),
        "uses": MODEL_USES,
        "gpu_options": suggest_parts("", "gpu", limit=500),
        "cpu_options": suggest_parts("", "cpu", limit=500),
        "system_options": suggest_parts("", "system", limit=500),
        "models": models_for_search(),
        "bench_text": source.get("bench", ""),
        "bench_model": source.get("bench_model", ""),
        "bench_quant": source.get("bench_quant", ""),
    }
    status = 200
    if asked and form.is_valid():
        from configurator.rig.measure import evidence_for

        context["result"] = canrun_payload(form)
        context["owned_param"] = ",".join(
            f"{o['slug']}:{o['count']}" for o in context["result"]["owned"]
        )
        context["evidence"] = evidence_for(form.rig)
        context.update(_bench_context(request, form))
        context["hidden_pairs"] = form.rig.params
        filters = [(k, str(form.cleaned_data[k])) for k in FILTERS if form.cleaned_data.get(k)]
        context["canonical_url"] = f"{reverse('rig')}?{urlencode(form.rig.params + filters)}"
    elif asked:
        status = 200 if request.htmx else 400
    template = _template(request, "rig/rig.html", "results")
    response = render(request, template, context, status=status)
    if request.htmx and context.get("canonical_url"):
        push_url(response, context["canonical_url"])
    return response


@vary_on_headers("HX-Request")
def upgrade(request: HttpRequest) -> HttpResponse:
    """The cheapest upgrade of owned parts (``have``) for a model at a speed."""
    from configurator.forms import RecommendForm
    from configurator.rig.service import UpgradeForm, upgrade_payload

    asked = bool(request.GET.get("have") or request.GET.get("model"))
    form = UpgradeForm(request.GET if asked else None)
    context: dict[str, Any] = {
        "form": form,
        "asked": asked,
        "have": request.GET.get("have", ""),
        "model": request.GET.get("model", ""),
        "quant": request.GET.get("quant", ""),
        "min_tps": request.GET.get("min_tps", ""),
        "models": models_for_search(),
        # The rest of the workload a build page linked with (mode, context, ...): kept
        # when the form is sent again.
        "workload_pairs": [
            (k, v)
            for k, v in request.GET.items()
            if k not in ("have", "model", "quant", "min_tps") and k in RecommendForm.base_fields
        ],
    }
    status = 200
    if asked and form.is_valid():
        context["result"] = upgrade_payload(form)
    elif asked:
        context["errors"] = form.all_errors
        status = 200 if request.htmx else 400
    page = "rig/upgrade.html"
    return render(request, _template(request, page, "results"), context, status=status)


def _bench_context(request: HttpRequest, rig_form: CanRunForm) -> dict[str, Any]:
    """Measured next to estimated, when the page carries a benchmark."""
    from configurator.rig.measure import compare
    from configurator.rig.service import BenchForm

    if not request.GET.get("bench") and not request.POST.get("bench"):
        return {}
    form = BenchForm(request.POST or request.GET)
    context: dict[str, Any] = {"bench_form": form}
    if form.is_valid() and rig_form.rig is not None:
        context["compared"] = compare(rig_form.rig, form.model_row, form.quant_obj, form.rows)
    return context


def _too_many_submissions(request: HttpRequest, retry_after_s: int) -> HttpResponse:
    errors = {"bench": [f"too many submissions from this address; try again in {retry_after_s} s."]}
    return render(request, "rig/submitted.html", {"errors": errors}, status=429)


@require_POST
@limit_requests("measure", "MEASURE_RATE_PER_HOUR", 3600, _too_many_submissions)
def submit_measurement(request: HttpRequest) -> HttpResponse:
    """Store a compared benchmark as a pending measurement for an admin to review."""
    from configurator.rig.measure import compare, submit
    from configurator.rig.service import BenchForm

    params = rows_to_params(request.POST)
    rig_form = CanRunForm(params)
    bench_form = BenchForm(request.POST)
    if not rig_form.is_valid() or not bench_form.is_valid():
        errors = {**rig_form.errors, **bench_form.errors}
        return render(request, "rig/submitted.html", {"errors": errors}, status=400)
    hardware_query = urlencode(rig_form.rig.params)
    compared = compare(rig_form.rig, bench_form.model_row, bench_form.quant_obj, bench_form.rows)
    measurement, created = submit(
        rig_form.rig,
        hardware_query,
        bench_form.model_row,
        bench_form.quant_obj,
        compared,
        bench_form.cleaned_data["bench"],
    )
    context = {"measurement": measurement, "created": created, "rig_query": hardware_query}
    return render(request, "rig/submitted.html", context, status=201 if created else 200)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A friendly 403 when a form's CSRF check fails (settings.CSRF_FAILURE_VIEW)."""
    back = request.META.get("HTTP_REFERER", "")
    return render(request, "403_csrf.html", {"back": back}, status=403)
