"""Data for the build, compare and shared-build pages.

Builds reach the templates as their ``to_dict()`` (the same JSON the API returns and a
share snapshot stores), so a live build and a snapshot render through one template.
Chart series come from the engine: the build is evaluated again at other context
lengths and concurrencies, never extrapolated here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from django.utils import timezone
from django.utils.dateparse import parse_datetime

import rigrank
from catalog.models import Part
from configurator import charts
from configurator.engine.builds import Build, BuildRequest, Catalogue, Recommendation, evaluate
from configurator.pages import PricesAsOf
from configurator.recommend import catalogue, evaluate_build, parse_parts_param
from configurator.training_run import Dataset, attach
from pricing.current import current_prices
from pricing.models import PriceObservation

CONTEXT_POINTS = (1_024, 2_048, 4_096, 8_192, 16_384, 32_768, 65_536, 131_072, 262_144)
BATCH_POINTS = (1, 2, 4, 8, 16, 32, 64)
MAX_COMPARE = 4
SNAPSHOT_FORMAT = 1


def build_dict(build: Build, dataset: Dataset | None = None) -> dict[str, Any]:
    """``build.to_dict()`` plus what the cards show: the tightest memory headroom, and
    for fine-tuning the run over ``dataset`` (the default one when None)."""
    data = attach(build.to_dict(), dataset or Dataset(), build.request.kwh_price)
    est = data.get("estimate") or {}
    devices = [d for d in est.get("memory") or [] if d.get("kind") != "storage"]
    headrooms = [d["headroom_gb"] for d in devices if d.get("headroom_gb") is not None]
    data["headroom_gb"] = min(headrooms) if headrooms else None
    data["fits"] = bool(est.get("fits")) and build.fits
    data["stale_lines"] = sum(1 for line in data["lines"] if line.get("stale"))
    data["ok_notes"] = [n for n in data["compatibility"]["notes"] if n.get("ok") is True]
    data["unverified_notes"] = [n for n in data["compatibility"]["notes"] if n.get("ok") is None]
    return data


def with_evidence(data: dict[str, Any], build: Build) -> dict[str, Any]:
    """``data`` with approved user measurements of the same model on the same hardware
    first in its estimate's evidence (one query; for pages of one build, not lists)."""
    from configurator.rig.evidence import with_user_evidence

    parts = [(line["kind"], line["slug"], line["qty"]) for line in data["lines"]]
    with_user_evidence(data.get("estimate"), parts, build.request.model_slug)
    return data


def _when(text: str | None) -> datetime | None:
    return parse_datetime(text) if text else None


def lines_as_of(lines: Iterable[dict[str, Any]]) -> PricesAsOf:
    """When the prices of these build lines were observed (newest and oldest)."""
    lines = list(lines)
    times = [t for t in (_when(line.get("observed_at")) for line in lines) if t]
    return PricesAsOf(
        newest=max(times, default=None),
        oldest=min(times, default=None),
        stale=sum(1 for line in lines if line.get("stale")),
        count=len(times),
        missing=sum(1 for line in lines if line.get("unit_price") is None),
    )


def recommendation_as_of(rec: Recommendation, builds: Sequence[dict[str, Any]]) -> PricesAsOf:
    return lines_as_of(line for build in builds for line in build["lines"])


def request_summary(request: BuildRequest) -> dict[str, Any]:
    """The request's parameters as the API reports them (model, quant, context, ...)."""
    empty = Recommendation(
        request=request,
        builds=[],
        near_misses=[],
        relax=[],
        pareto=[],
        prices_as_of="",
        currency="",
    )
    return empty.to_dict()["request"]


def with_offer_links(data: dict[str, Any]) -> dict[str, Any]:
    """Fill each line's offer URL from the pricing app where the build lacks one."""
    missing = [line["slug"] for line in data["lines"] if not line.get("url")]
    if not missing:
        return data
    ids = dict(Part.objects.filter(slug__in=missing).values_list("pk", "slug"))
    prices = current_prices(ids)
    urls = {ids[pk]: price.offer_url for pk, price in prices.items() if price.offer_url}
    for line in data["lines"]:
        if not line.get("url") and urls.get(line["slug"]):
            line["url"] = urls[line["slug"]]
    return data


# Series for the charts --------------------------------------------------------------


def _at(cat: Catalogue, request: BuildRequest, parts: str, **workload: int) -> Build | None:
    """The same parts evaluated for another workload (one catalogue snapshot for all the
    points of a chart: asking for the snapshot costs a version check each time)."""
    wl = request.workload
    changes = dict(workload)
    if "context_tokens" in changes:
        changes["prompt_tokens"] = min(wl.prompt_tokens, changes["context_tokens"])
    try:
        varied = replace(request, workload=replace(wl, **changes))
        return evaluate(cat, varied, parse_parts_param(parts))
    except ValueError:
        return None


def _tps(build: Build | None, attribute: str) -> float | None:
    if build is None or build.estimate is None or not build.fits:
        return None
    value = getattr(build.estimate, attribute)
    return round(value, 2)


def context_points(max_context: int, current: int) -> list[int]:
    points = sorted({c for c in CONTEXT_POINTS if c <= max_context} | {current})
    return points


def context_series(request: BuildRequest, parts: str, max_context: int) -> dict[str, Any]:
    """Decode tokens/s with the context filled to each length (None where it does not
    fit), and prefill tokens/s of a prompt that long."""
    points = context_points(max_context, request.workload.context_tokens)
    cat = catalogue()
    builds = [_at(cat, request, parts, context_tokens=c, prompt_tokens=c) for c in points]
    decode = [_tps(b, "decode_tokens_per_s_full_context") for b in builds]
    rows = list(zip(points, decode, strict=True))
    return {
        "rows": rows,
        "chart": charts.line(
            [f"{c // 1024}k" for c in points],
            [("Decode tokens/s at this context", decode)],
            "Context length (tokens)",
            "tokens/s",
        ),
    }


def batch_series(request: BuildRequest, parts: str) -> dict[str, Any]:
    """Total and per-user decode tokens/s for 1–64 concurrent users."""
    cat = catalogue()
    builds = [_at(cat, request, parts, concurrent_sequences=n) for n in BATCH_POINTS]
    total = [_tps(b, "aggregate_tokens_per_s") for b in builds]
    per_user = [
        None if t is None else round(t / n, 2) for t, n in zip(total, BATCH_POINTS, strict=True)
    ]
    return {
        "rows": list(zip(BATCH_POINTS, total, per_user, strict=True)),
        "chart": charts.line(
            list(BATCH_POINTS),
            [("All users together", total), ("Each user", per_user)],
            "Concurrent users",
            "tokens/s",
        ),
    }


def memory_chart(data: dict[str, Any]) -> dict[str, Any] | None:
    devices = [d for d in (data.get("estimate") or {}).get("memory") or []]
    devices = [d for d in devices if d.get("kind") != "storage"]
    if not devices:
        return None
    labels = [d["device"] for d in devices]
    series = [
        ("Weights", [d["weights_gb"] for d in devices]),
        ("KV cache", [d["kv_cache_gb"] for d in devices]),
        ("Runtime and buffers", [d["overhead_gb"] for d in devices]),
    ]
    if any(d.get("optimizer_gb") for d in devices):
        series.append(("Trainable state", [d.get("optimizer_gb") or 0 for d in devices]))
    if any(d.get("activations_gb") for d in devices):
        series.append(("Activations", [d.get("activations_gb") or 0 for d in devices]))
    series.append(("Free", [max(d.get("headroom_gb") or 0, 0) for d in devices]))
    return charts.stacked_bar(labels, series, "GB", horizontal=True)


def decode_time_split(request: BuildRequest, build: Build) -> list[tuple[str, float]] | None:
    """Milliseconds each device spends on one decode step (one sequence), plus GPU
    synchronisation and the fixed per-token overheads, as the engine's estimate reports
    them. None for fine-tuning or when there is no estimate."""
    est = build.estimate
    if est is None or request.workload.is_training or not est.decode_time_ms:
        return None
    return list(est.decode_time_ms)


def time_chart(split: list[tuple[str, float]]) -> dict[str, Any]:
    series = [(label, [round(ms, 2)]) for label, ms in split]
    return charts.stacked_bar(["One token"], series, "milliseconds", horizontal=True)


# Price history ----------------------------------------------------------------------


def price_histories(lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each line's part, its trusted price observations by retailer, oldest first."""
    names = {line["slug"]: line["name"] for line in lines}
    slugs = list(names)
    rows = (
        PriceObservation.objects.trusted()
        .filter(offer__part__slug__in=slugs)
        .select_related("offer__retailer", "offer__part")
        .order_by("observed_at", "id")
    )
    by_part: dict[str, list[PriceObservation]] = {slug: [] for slug in slugs}
    for obs in rows:
        by_part[obs.offer.part.slug].append(obs)
    histories = []
    for index, (slug, observations) in enumerate(by_part.items()):
        retailers: dict[str, list[tuple[str, float]]] = {}
        for obs in observations:
            name = f"{obs.offer.retailer.name} ({obs.currency})"
            retailers.setdefault(name, []).append(
                (obs.observed_at.date().isoformat(), float(obs.amount))
            )
        histories.append(
            {
                "slug": slug,
                "name": names[slug],
                "chart_id": f"chart-history-{index + 1}",
                "points": [
                    (obs.observed_at, obs.amount, obs.currency, obs.offer.retailer.name, obs.origin)
                    for obs in observations
                ],
                # A chart needs two observations: one price is a dot, not a history.
                "chart": charts.multi_price_history(retailers) if len(observations) >= 2 else None,
            }
        )
    return histories


# Swapping parts ---------------------------------------------------------------------


def swap_options(data: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """For each line's kind, the catalogue's parts of that kind: (slug, label with price)."""
    cat = catalogue()
    options: dict[str, list[tuple[str, str]]] = {}
    for kind in {line["kind"] for line in data["lines"]}:
        parts = sorted(cat.of(kind), key=lambda p: (p.price is None, p.price and p.price.amount))
        options[kind] = [(p.slug, _option_label(p)) for p in parts]
    return options


def _option_label(part: Any) -> str:
    from configurator.templatetags.rigrank import money

    price = money(part.price.amount, part.price.currency) if part.price else "no price"
    return f"{part.label} — {price}"


def swapped_parts(slots: Sequence[str], quantities: Sequence[str]) -> str:
    """The parts parameter from the swap form's parallel ``slot`` and ``qty`` lists
    (a quantity of 0 drops the line). Raises ``ValueError`` starting with ``parts``."""
    pairs: list[str] = []
    for index, slug in enumerate(slots):
        qty_text = quantities[index] if index < len(quantities) else "1"
        if qty_text.strip() == "0":
            continue
        pairs.append(f"{slug.strip()}:{qty_text.strip() or '1'}")
    from configurator.engine.builds import parts_param

    return parts_param(parse_parts_param(",".join(pairs)))


# Share snapshots --------------------------------------------------------------------


def snapshot(build: Build, query: str, dataset: Dataset | None = None) -> dict[str, Any]:
    """Everything a shared page shows, frozen: parts, quantities, prices, workload,
    estimate (with the fine-tuning run over ``dataset``), and the software version that
    produced them."""
    data = with_evidence(with_offer_links(build_dict(build, dataset)), build)
    summary = request_summary(build.request)
    return {
        "format": SNAPSHOT_FORMAT,
        "software_version": rigrank.__version__,
        "created_at": timezone.now().isoformat(timespec="seconds"),
        "query": query,
        "parts": data["key"],
        "model_name": summary["model_name"],
        "workload": summary,
        "prices_as_of": catalogue().prices_as_of,
        "build": data,
    }


def price_changes(old: dict[str, Any], new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Line by line: the snapshot's price and today's, and the difference."""
    today = {line["slug"]: line for line in (new or {}).get("lines", [])}
    changes = []
    for line in old["lines"]:
        now = today.get(line["slug"])
        then_price = _decimal(line.get("unit_price"))
        now_price = _decimal(now.get("unit_price")) if now else None
        delta = None
        if then_price is not None and now_price is not None:
            delta = now_price - then_price
        changes.append({"then": line, "now": now, "delta": delta})
    return changes


def _decimal(text: Any) -> Decimal | None:
    return None if text in (None, "") else Decimal(str(text))


# Page contexts ----------------------------------------------------------------------


def page_context(
    request: BuildRequest, build: Build, query: str, dataset: Dataset | None = None
) -> dict[str, Any]:
    """Everything the build page shows for ``build``."""
    from configurator.wizard import workload_label

    data = with_evidence(with_offer_links(build_dict(build, dataset)), build)
    split = decode_time_split(request, build)
    max_context = request.model.max_context or request.workload.context_tokens
    training = request.workload.is_training
    return {
        "build": data,
        "query": query,
        "workload_pairs": parse_qsl(query),
        "workload_label": workload_label(request_summary(request), dataset),
        "as_of": lines_as_of(data["lines"]),
        "memory_chart": memory_chart(data),
        "time_split": split,
        "time_chart": time_chart(split) if split else None,
        "context_series": None if training else context_series(request, data["key"], max_context),
        "batch_series": None if training else batch_series(request, data["key"]),
        "histories": price_histories(data["lines"]),
        "swap_options": swap_options(data),
    }


def compare_context(
    request: BuildRequest, keys: Sequence[str], dataset: Dataset | None = None
) -> dict[str, Any]:
    columns, errors = [], []
    for key in keys:
        try:
            columns.append(with_offer_links(build_dict(evaluate_build(request, key), dataset)))
        except ValueError as exc:
            errors.append(f"{key}: {exc}")
    lines = [line for column in columns for line in column["lines"]]
    speeds = [headline_speed(c) for c in columns]
    unit = "training tokens/s" if request.workload.is_training else "tokens/s"
    chart = charts.bar(
        [f"#{i + 1}" for i in range(len(speeds))], [round(v or 0, 2) for v in speeds], unit
    )
    return {
        "columns": columns,
        "errors": errors,
        "as_of": lines_as_of(lines),
        "chart": chart,
        "training": request.workload.is_training,
    }


def shared_context(shared: Any) -> dict[str, Any]:
    """The snapshot as it was, and the same parts and workload priced and estimated now."""
    from django.http import QueryDict

    from configurator.forms import RecommendForm

    snap = shared.snapshot
    then = snap["build"]
    now, problem = None, ""
    form = RecommendForm(QueryDict(snap.get("query", "")))
    if form.is_valid():
        try:
            build = evaluate_build(form.build_request(), snap["parts"])
            now = with_offer_links(build_dict(build, form.dataset()))
        except ValueError as exc:
            problem = f"Today's catalogue cannot price this build: {exc}"
    else:
        problem = "Today's catalogue no longer accepts this workload: " + "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()
        )
    then_total, now_total = _decimal(then.get("total")), _decimal((now or {}).get("total"))
    then_tps, now_tps = headline_speed(then), headline_speed(now)
    return {
        "shared": shared,
        "snap": snap,
        "build": then,
        "now": now,
        "problem": problem,
        "changes": price_changes(then, now),
        "then_as_of": lines_as_of(then["lines"]),
        "now_as_of": lines_as_of(now["lines"]) if now else None,
        "total_delta": now_total - then_total if now_total is not None and then_total else None,
        "tps_then": then_tps,
        "tps_now": now_tps,
        "speed_unit": speed_unit(then),
        "tps_changed": then_tps is not None
        and now_tps is not None
        and abs(now_tps - then_tps) > 0.005 * max(then_tps, 1e-9),
        "version_now": rigrank.__version__,
        "memory_chart": memory_chart(then),
    }


def headline_speed(build: dict[str, Any] | None) -> float | None:
    """The speed a build's title quotes: training tokens/s for a fine-tuning estimate,
    single-stream decode tokens/s otherwise; None without an estimate."""
    est = (build or {}).get("estimate") or {}
    training = est.get("training")
    if training:
        return training.get("tokens_per_s")
    return est.get("decode_tokens_per_s")


def speed_unit(build: dict[str, Any] | None) -> str:
    """The words after :func:`headline_speed`."""
    est = (build or {}).get("estimate") or {}
    return "training tokens/s" if est.get("training") else "tokens/s"
