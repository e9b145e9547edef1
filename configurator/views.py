"""RigRank's pages. Each view parses its input, asks a helper or the engine, renders.

Views that answer htmx requests with a fragment render ``page.html#partial`` and vary
on ``HX-Request`` so a cache never hands a fragment to a full page load.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url, trigger_client_event

import rigrank
from catalog.models import LlmModel, QuantFormat
from configurator import buildpage, charts, pages, results_cache, wizard
from configurator.accuracy import accuracy_context
from configurator.forms import RecommendForm
from configurator.models import SharedBuild
from configurator.recommend import evaluate_build, recommend
from configurator.rig.collapse import collapse
from configurator.rig.must import counts_of, meets_counts
from rigrank.ratelimit import limit_requests


def _template(request: HttpRequest, page: str, partial: str) -> str:
    return f"{page}#{partial}" if request.htmx else page


def _choice(request: HttpRequest, name: str, allowed, default: str) -> str:
    value = request.GET.get(name, default)
    return value if value in allowed else default


@vary_on_headers("HX-Request")
def gpu_list(request: HttpRequest) -> HttpResponse:
    sort = _choice(request, "sort", pages.GPU_SORTS, "per_vram")
    condition = _choice(request, "condition", pages.CONDITIONS, "all")
    rows = pages.gpu_rows(sort, condition)
    context = {
        "rows": rows,
        "sort": sort,
        "sort_label": pages.GPU_SORTS[sort][0],
        "descending": pages.GPU_SORTS[sort][1],
        "condition": condition,
        "conditions": pages.CONDITIONS,
        "as_of": pages.prices_as_of((r.price for r in rows), sum(not r.price for r in rows)),
        "sortable": pages.GPU_SORTS,
        "columns": [
            ("name", "GPU"),
            ("vram", "VRAM"),
            ("bandwidth", "Bandwidth"),
            ("fp16", "FP16 tensor"),
            ("price", "Price"),
            ("per_vram", "Per GB VRAM"),
            ("per_bandwidth", "Per GB/s"),
        ],
    }
    return render(request, _template(request, "configurator/gpu_list.html", "table"), context)


@vary_on_headers("HX-Request")
def platform_list(request: HttpRequest) -> HttpResponse:
    sort = _choice(request, "sort", pages.PLATFORM_SORTS, "bandwidth_per_dollar")
    condition = _choice(request, "condition", pages.CONDITIONS, "all")
    rows = pages.platform_rows(sort, condition)
    context = {
        "rows": rows,
        "sort": sort,
        "sort_label": pages.PLATFORM_SORTS[sort][0],
        "descending": pages.PLATFORM_SORTS[sort][1],
        "condition": condition,
        "conditions": pages.CONDITIONS,
        "as_of": pages.prices_as_of(p for r in rows for p in r.prices),
        "sortable": pages.PLATFORM_SORTS,
        "numeric": ("channels", "bandwidth", "price", "bandwidth_per_dollar"),
        "columns": [
            ("name", "CPU"),
            ("board", "Board and memory"),
            ("channels", "Channels"),
            ("bandwidth", "Bandwidth"),
            ("price", "Platform price"),
            ("bandwidth_per_dollar", "GB/s per $1,000"),
        ],
    }
    page = "configurator/platform_list.html"
    return render(request, _template(request, page, "table"), context)


def model_list(request: HttpRequest) -> HttpResponse:
    q4 = QuantFormat.objects.filter(name="Q4_K_M", applies_to="weights").first()
    rows = [
        {"llm": llm, "q4_gb": q4.size_gb(llm.total_params_b) if q4 else None}
        for llm in LlmModel.objects.filter(approximate=False)
    ]
    return render(request, "configurator/model_list.html", {"rows": rows})


def model_detail(request: HttpRequest, slug: str) -> HttpResponse:
    llm = get_object_or_404(LlmModel, slug=slug)
    contexts = pages.model_contexts(llm)
    needs = pages.model_memory_needs(llm, contexts)
    context = {
        "llm": llm,
        "head_dim": llm.head_dim or llm.hidden_size // llm.attention_heads,
        "contexts": contexts,
        "needs": needs,
        "kv_mb_per_1k": pages.kv_gb(llm, 1000) * 1000,
        "weights_chart": charts.bar(
            [n.quant.name for n in needs], [round(n.weights_gb, 1) for n in needs], "GB"
        ),
    }
    return render(request, "configurator/model_detail.html", context)


@vary_on_headers("HX-Request")
def home(request: HttpRequest) -> HttpResponse:
    if not request.GET:
        return _home(request)
    # The same query on the same catalogue and prices: served from the cache.
    return results_cache.cached_response(request, "home", lambda: _home(request, cached=True))


def _home(request: HttpRequest, cached: bool = False) -> HttpResponse:
    formats, models, part_options = wizard.page_lists()
    form = wizard.wizard_form(request.GET, formats)
    shown = wizard.display_form(form, formats)
    context = {
        "form": form,
        "shown": shown,
        "models": models,
        "advanced_fields": [shown[name] for name in wizard.ADVANCED],
        "advanced_open": wizard.advanced_open(form),
        "part_options": part_options,
        "quant_note": wizard.quant_note(form, formats),
        "oob": bool(request.htmx),
    }
    if cached:
        context["csrf_token"] = results_cache.CSRF_PLACEHOLDER
    if form.is_bound and form.is_valid():
        context.update(_results(form))
    elif not form.is_bound:
        context.update(_first_visit(formats))
    # Bad input is a 400 on a full page; htmx swaps only 2xx, so its fragment stays 200.
    status = 400 if form.is_bound and not form.is_valid() and not request.htmx else 200
    template = _template(request, "configurator/home.html", "results")
    response = render(request, template, context, status=status)
    if request.htmx and form.is_bound and form.is_valid():
        push_url(response, f"{reverse('home')}?{form.query_string()}")
        _retitle(response, f"{context['model_label']}: ranked builds")
    return response


def _first_visit(formats) -> dict:
    """A first visit answers at once: the ranked builds for the defaults shown."""
    from django.http import QueryDict

    from configurator.forms import DEFAULT_MODEL

    defaults = wizard.wizard_form(QueryDict(f"model={DEFAULT_MODEL}"), formats)
    if not defaults.is_valid():
        return {}
    return {**_results(defaults), "first_visit": True}


def _retitle(response: HttpResponse, title: str) -> HttpResponse:
    """A fragment carries no <title>: tell the page (static/js/rigrank.js) the new one."""
    return trigger_client_event(response, "rigrank:title", {"title": f"{title} — RigRank"})


def _results(form) -> dict:
    build_request = form.build_request()
    rec = recommend(build_request)
    dataset = form.dataset()
    builds = [buildpage.build_dict(b, dataset) for b in rec.builds]
    counts = counts_of(form.cleaned_data.get("must_include") or ())
    short = [b for b in builds if not meets_counts(b, counts)]
    builds = collapse([b for b in builds if meets_counts(b, counts)])
    # Near misses and trade-offs are listed as links with a price, a speed and what
    # they miss: their brief dicts, not the whole card's.
    misses = [
        {"build": n.build.brief_dict(), "reasons": [s.message for s in n.reasons]}
        for n in rec.near_misses
    ]
    trade_offs = [
        {"build": t.build.brief_dict(), "label": t.label, "kind": t.kind} for t in rec.trade_offs
    ]
    summary = buildpage.request_summary(build_request)
    query = form.query_string()
    return {
        "recommendation": rec,
        "builds": builds,
        "near_misses": misses,
        "trade_offs": trade_offs,
        "training": build_request.training,
        "query": query,
        "workload_pairs": wizard.query_pairs(query),
        "workload_label": wizard.workload_label(summary, dataset),
        "model_label": summary["model_name"],
        "as_of": buildpage.lines_as_of(line for b in builds for line in b["lines"]),
        "interpreted_as": _interpreted_as(form),
        "count_notes": [
            f"{len(short)} build(s) left out: they have fewer than "
            + ", ".join(f"{n} × {slug}" for slug, n in counts.items())
        ]
        if short
        else [],
    }


def _interpreted_as(form) -> str:
    """The catalogue model a typed name resolved to, when it is not what was typed."""
    typed = " ".join(str(form.data.get("model") or "").split())
    model = form.model_row
    if not typed or model is None or model.approximate:
        return ""
    if typed.lower() in (model.slug, model.name.lower()):
        return ""
    return model.name


def _bound_workload(params) -> tuple[RecommendForm, str]:
    """The workload part of a build URL, as the wizard's form (defaults filled in)."""
    form = RecommendForm(params)
    return form, form.query_string() if form.is_valid() else ""


@vary_on_headers("HX-Request")
def build_detail(request: HttpRequest) -> HttpResponse:
    form, query = _bound_workload(request.GET)
    parts = request.GET.get("parts", "")
    if "slot" in request.GET:
        return _swap(request, form, query)
    if not form.is_valid():
        return _problem(request, form=form, parts=parts)
    try:
        build = evaluate_build(form.build_request(), parts)
    except ValueError as exc:
        return _problem(request, form=form, parts=parts, message=str(exc))
    context = buildpage.page_context(form.build_request(), build, query, form.dataset())
    context["form"] = form
    return render(request, _template(request, "configurator/build.html", "main"), context)


def _swap(request: HttpRequest, form: RecommendForm, query: str) -> HttpResponse:
    """The swap form sends every line's part and quantity; answer with the new build
    (htmx) or redirect to its canonical URL."""
    old = request.GET.get("parts", "")
    try:
        parts = buildpage.swapped_parts(request.GET.getlist("slot"), request.GET.getlist("qty"))
        url = f"{reverse('build_detail')}?{urlencode({'parts': parts})}"
        url += f"&{query}" if query else ""
        if not request.htmx or not form.is_valid():
            return redirect(url)
        build = evaluate_build(form.build_request(), parts)
    except ValueError as exc:
        return _problem(request, form=form, parts=old, message=str(exc))
    context = buildpage.page_context(form.build_request(), build, query, form.dataset())
    context["form"] = form
    response = push_url(render(request, "configurator/build.html#main", context), url)
    return _retitle(response, build.title)


def _problem(request: HttpRequest, *, form, parts: str, message: str = "") -> HttpResponse:
    """Bad parts or workload: say what is wrong (400; htmx swaps only 2xx, so a fragment
    answering an in-page swap is sent as 200)."""
    context = {"form": form, "parts": parts, "message": message}
    if request.htmx:
        return render(request, "configurator/build_problem.html#problem", context)
    return render(request, "configurator/build_problem.html", context, status=400)


@vary_on_headers("HX-Request")
def compare(request: HttpRequest) -> HttpResponse:
    form, query = _bound_workload(request.GET)
    keys = [k for k in request.GET.getlist("b") if k.strip()]
    context = {"form": form, "query": query, "keys": keys, "columns": [], "errors": []}
    if not 2 <= len(keys) <= buildpage.MAX_COMPARE:
        context["errors"].append(f"Choose 2 to 4 builds to compare (got {len(keys)}).")
    elif form.is_valid():
        context.update(buildpage.compare_context(form.build_request(), keys, form.dataset()))
    status = 400 if context["errors"] or not form.is_valid() else 200
    return render(request, "configurator/compare.html", context, status=status)


def _too_many_shares(request: HttpRequest, retry_after_s: int) -> HttpResponse:
    context = {"retry_after_min": max(1, round(retry_after_s / 60))}
    return render(request, "429.html", context, status=429)


@require_POST
@limit_requests("share", "SHARE_RATE_PER_HOUR", 3600, _too_many_shares)
def share(request: HttpRequest) -> HttpResponse:
    form, query = _bound_workload(request.POST)
    parts = request.POST.get("parts", "")
    if not form.is_valid():
        return _problem(request, form=form, parts=parts)
    try:
        build = evaluate_build(form.build_request(), parts)
    except ValueError as exc:
        return _problem(request, form=form, parts=parts, message=str(exc))
    snap = buildpage.snapshot(build, query, form.dataset())
    shared, _ = SharedBuild.share(snap, rigrank.__version__)
    response = redirect(shared.get_absolute_url())
    response.status_code = 303  # See Other: the POST made it, a GET shows it
    return response


def shared_build(request: HttpRequest, slug: str) -> HttpResponse:
    shared = SharedBuild.objects.filter(slug=slug).first()
    if shared is None:
        return render(request, "configurator/shared_missing.html", {"slug": slug}, status=404)
    shared.record_view()
    context = buildpage.shared_context(shared)
    context["og_url"] = request.build_absolute_uri(shared.get_absolute_url())
    return render(request, "configurator/shared.html", context)


@require_GET
def accuracy(request: HttpRequest) -> HttpResponse:
    """How the estimates compare with published measurements (``make validate``)."""
    return render(request, "configurator/accuracy.html", accuracy_context())
