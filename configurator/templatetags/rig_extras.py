"""Template helpers for the result pages: the compatibility and fit status at the top of
every card and build page, fine-tuning figures, glossary hover help and the build as
Markdown, Reddit and BBCode tables."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.html import format_html

from configurator.training_run import DEFAULT_DATASET_TOKENS, Dataset, run_figures, tokens_text

register = template.Library()

TIGHT_HEADROOM = 0.05

GLOSSARY = {
    "decode": "Generating the answer, one token at a time. Every active weight is read "
    "from memory for each token, so memory bandwidth sets the speed.",
    "prefill": "Reading the prompt before the first answer token. All prompt tokens go "
    "through the model together, so compute (FLOPs) sets the speed.",
    "offload": "Keeping part of the model in system RAM instead of GPU memory. It lets a "
    "model fit, but those layers run at RAM bandwidth, much slower.",
    "headroom": "Memory left free once the weights, KV cache and runtime buffers are "
    "placed. Under 5 % is tight: a longer context or another app can push it over.",
    "bandwidth": "How many gigabytes per second a device can read from its memory. Decode "
    "speed is roughly bandwidth divided by the bytes read per token.",
}

TRAINING_ENGINES = {
    "qlora": "Hugging Face Transformers + PEFT, 4-bit NF4 base weights (bitsandbytes)",
    "lora": "Hugging Face Transformers + PEFT",
    "full": "Hugging Face Transformers (FSDP)",
}


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


@register.simple_tag
def build_status(build: Any) -> dict[str, Any]:
    """Compatibility (failed rules) and graded fit of a build dict: ``fit`` is
    comfortable, tight (under 5 % of the memory free) or does not fit; ``headroom_gb``
    the memory left over every device that holds the model."""
    compatibility = _get(build, "compatibility") or {}
    violations = list(_get(compatibility, "violations") or [])
    notes = list(_get(compatibility, "notes") or [])
    est = _get(build, "estimate") or {}
    # Devices that hold part of the model (an idle host's free RAM is no headroom).
    devices = [
        d
        for d in (_get(est, "memory") or [])
        if _get(d, "kind") != "storage"
        and ((_get(d, "weights_gb") or 0) > 0 or (_get(d, "kv_cache_gb") or 0) > 0)
    ]
    capacity = sum(_get(d, "capacity_gb") or 0 for d in devices)
    used = sum(_get(d, "total_gb") or 0 for d in devices)
    headroom = capacity - used
    fits = bool(_get(build, "fits", _get(est, "fits")))
    if not est or not fits:
        fit = "does not fit"
    elif capacity and headroom < TIGHT_HEADROOM * capacity:
        fit = "tight"
    else:
        fit = "comfortable"
    return {
        "violations": violations,
        "compatible": not violations,
        "checks": sum(1 for n in notes if _get(n, "ok") is True),
        "fit": fit,
        "headroom_gb": headroom if devices else None,
        "capacity_gb": capacity,
    }


@register.simple_tag
def training_figures(est: Any, dataset_tokens: int | None = None) -> dict | None:
    """Fine-tuning figures for an estimate dict: training tokens/s, the run over the
    user's dataset (``est.training_run`` when the view attached one, else the default
    10M tokens, or ``dataset_tokens``, for one epoch), memory per GPU, the GPUs and the
    software that runs it."""
    training = _get(est, "training")
    if not training:
        return None
    run = _get(est, "training_run") or run_figures(est, Dataset(tokens=dataset_tokens))
    mode = _get(training, "mode") or "lora"
    return {
        "mode": mode,
        "tokens_per_s": float(_get(training, "tokens_per_s") or 0),
        "run": run,
        "dataset_tokens": run["dataset_tokens"],
        "dataset_text": tokens_text(run["dataset_tokens"]),
        "default_text": tokens_text(DEFAULT_DATASET_TOKENS),
        "hours_per_epoch": run["hours_per_epoch"],
        "per_gpu_gb": _get(training, "per_gpu_gb"),
        "gpus": _get(training, "gpus"),
        "trainable_params_b": _get(training, "trainable_params_b"),
        "gradient_checkpointing": _get(training, "gradient_checkpointing"),
        "engine": TRAINING_ENGINES.get(mode, "Hugging Face Transformers"),
    }


@register.filter
def run_time(hours: Any) -> str:
    """A run's length: "42 min", "3.5 hours", "139 hours (5.8 days)"; "—" if unknown."""
    try:
        value = float(hours)
    except (TypeError, ValueError):
        return "—"
    if value != value or value in (float("inf"), float("-inf")):
        return "—"
    if value < 1:
        return f"{value * 60:.0f} min"
    if value < 48:
        return f"{value:.1f} hours"
    return f"{value:,.0f} hours ({value / 24:,.1f} days)"


@register.simple_tag
def term(word: str, shown: str = "") -> str:
    """A glossary word with its explanation as hover (and focus) help."""
    text = GLOSSARY.get(word.lower())
    if text is None:
        return shown or word
    return format_html(
        '<abbr class="term" tabindex="0" title="{}" data-term="{}">{}</abbr>',
        text,
        word.lower(),
        shown or word,
    )


def _money(value: Any, currency: str) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return "—"
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, "")
    text = f"{amount:,.2f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def _rows(build: Any) -> list[tuple[str, str, str, str]]:
    currency = _get(build, "currency") or "USD"
    rows = []
    for line in _get(build, "lines") or []:
        rows.append(
            (
                str(_get(line, "kind_label") or _get(line, "kind") or "").capitalize(),
                f"{_get(line, 'qty')} × {_get(line, 'name')}",
                _money(_get(line, "unit_price"), _get(line, "currency") or currency),
                _money(_get(line, "line_total"), _get(line, "currency") or currency),
            )
        )
    return rows


def _summary(build: Any, url: str) -> str:
    est = _get(build, "estimate") or {}
    speed = _get(est, "decode_tokens_per_s")
    parts = [f"Total: {_money(_get(build, 'total'), _get(build, 'currency') or 'USD')}"]
    if speed:
        parts.append(f"about {float(speed):.1f} tokens/s (RigRank estimate)")
    if url:
        parts.append(url)
    return " · ".join(parts)


@register.filter
def as_markdown(build: Any, url: str = "") -> str:
    """The parts list as a Markdown table (GitHub, forums)."""
    lines = ["| Type | Part | Unit price | Price |", "| --- | --- | ---: | ---: |"]
    lines += [f"| {k} | {p} | {u} | {t} |" for k, p, u, t in _rows(build)]
    return "\n".join([f"**{_get(build, 'title')}**", "", *lines, "", _summary(build, url)])


@register.filter
def as_reddit(build: Any, url: str = "") -> str:
    """The parts list as a Reddit table (Markdown mode; no bold title line)."""
    lines = ["Type|Part|Unit price|Price", ":--|:--|--:|--:"]
    lines += [f"{k}|{p}|{u}|{t}" for k, p, u, t in _rows(build)]
    return "\n".join([str(_get(build, "title")), "", *lines, "", _summary(build, url)])


@register.filter
def as_bbcode(build: Any, url: str = "") -> str:
    """The parts list as a BBCode table (phpBB-style forums)."""
    out = [f"[b]{_get(build, 'title')}[/b]", "[table]"]
    out.append("[tr][th]Type[/th][th]Part[/th][th]Unit price[/th][th]Price[/th][/tr]")
    for k, p, u, t in _rows(build):
        out.append(f"[tr][td]{k}[/td][td]{p}[/td][td]{u}[/td][td]{t}[/td][/tr]")
    out.append("[/table]")
    out.append(_summary(build, url))
    return "\n".join(out)


@register.filter
def price_source(line: Any) -> str:
    """Where a price comes from, in words: a seed price reads "reference price, 1 Nov
    2026" until a scrape or an admin replaces it; others give their age and origin."""
    from django.utils.dateparse import parse_datetime

    from configurator.templatetags.rigrank import age, origin_label

    origin = str(_get(line, "origin") or "")
    observed = _get(line, "observed_at")
    if isinstance(observed, str):
        observed = parse_datetime(observed) if observed else None
    if origin.lower() in ("reference", "seed"):
        if observed is not None:
            return f"reference price, {observed.day} {observed:%b %Y}"
        return "reference price"
    return f"{age(_get(line, 'age_days'))} · {origin_label(origin)}"


@register.filter
def labelled(message: Any, field: Any) -> str:
    """A field's message as the page says it: its parameter name at the start replaced
    by the form's label ("min_tps must be ..." -> "Minimum tokens/s must be ...")."""
    text = str(message)
    name = getattr(field, "html_name", "") or getattr(field, "name", "")
    label = str(getattr(field, "label", "") or "")
    if name and label and text.startswith(name):
        return label + text[len(name) :]
    return text


@register.filter
def clause(text: Any) -> str:
    """A sentence as a clause of a list joined by semicolons: no closing full stop."""
    return str(text).rstrip(". ")
