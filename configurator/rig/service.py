"""The Django side of "what runs on my rig": the form (hardware, workload, filters), the
catalogue's models and formats (kept per catalogue version), and the JSON answer shared
by ``/api/canrun``, ``manage.py canrun`` and the ``/rig/`` page."""

from __future__ import annotations

import threading
import time
from typing import Any

from django import forms
from django.db.models import Count, Max

from catalog.models import MODEL_USES, LlmModel, QuantFormat
from configurator import adapters
from configurator.engine import ENGINES, KV_CACHE_BITS, Quant, Workload
from configurator.forms import (
    DEFAULT_CONTEXT,
    DEFAULT_MIN_TPS,
    DEFAULT_PROMPT,
    HELP,
    KV_QUANTS,
    _choice,
    _float,
    _int,
    _num_messages,
)
from configurator.rig.canrun import QUALITY_BASIS, CanRunModel, can_run
from configurator.rig.describe import RigForm

_lock = threading.Lock()
_models_cache: dict[str, tuple[list[CanRunModel], list[Quant]]] = {}
_ladders: dict[tuple[str, str], list] = {}

USE_HELP = "Only models for this use: " + ", ".join(MODEL_USES) + ". Default: every model."


class CanRunForm(RigForm):
    """``RigForm`` plus the workload (context, prompt, batch, KV cache, engine), the speed
    target and the filters (use, largest model, context the model must reach)."""

    use = forms.ChoiceField(
        required=False,
        choices=[("", "any")] + [(u, u) for u in MODEL_USES],
        help_text=USE_HELP,
        error_messages={
            "invalid_choice": f"use must be one of {', '.join(MODEL_USES)} (got %(value)s)."
        },
    )
    max_params_b = forms.FloatField(
        required=False,
        min_value=0.1,
        max_value=100_000,
        help_text="Largest model to list, billions of parameters. Default: no limit.",
        error_messages=_num_messages("max_params_b", 0.1, 100000, " B"),
    )
    min_tps = _float("min_tps", 0, 100_000, " tokens/s")
    context = _int("context", 1, 10_000_000, " tokens")
    prompt_tokens = _int("prompt_tokens", 1, 10_000_000, " tokens")
    batch = _int("batch", 1, 256)
    kv_quant = _choice("kv_quant", KV_QUANTS)
    engine = forms.ChoiceField(
        required=False,
        choices=[(e, e) for e in ENGINES],
        help_text="Inference engine: " + ", ".join(ENGINES) + ". Default llama.cpp.",
        error_messages={
            "invalid_choice": f"engine must be one of {', '.join(ENGINES)} (got %(value)s)."
        },
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        prompt, context = data.get("prompt_tokens"), data.get("context")
        if prompt and context and prompt > context:
            self.add_error(
                "prompt_tokens",
                f"prompt_tokens must be from 1 to {context:,} (the context) (got {prompt:,}).",
            )
        return data


CanRunForm.base_fields["context"].help_text = (
    "Context each answer must hold, tokens; models whose maximum is shorter are left out. "
    f"Default {DEFAULT_CONTEXT} (or the model's maximum when smaller)."
)
CanRunForm.base_fields[
    "min_tps"
].help_text = f"Decode tokens/s a model must reach, 0–100000. Default {DEFAULT_MIN_TPS:g}."
CanRunForm.base_fields["prompt_tokens"].help_text = HELP["prompt_tokens"]


def _version() -> str:
    state = LlmModel.objects.aggregate(n=Count("id"), newest=Max("updated_at"))
    formats = QuantFormat.objects.aggregate(n=Count("id"), newest=Max("id"))
    return f"{state['n']}:{state['newest']}:{formats['n']}:{formats['newest']}"


def formats_for(engine: str) -> list:
    """The quality ladder of weight formats for ``engine``, once per catalogue state."""
    from configurator.rig.canrun import ladder

    version = _version()
    key = (version, engine)
    cached = _ladders.get(key)
    if cached is None:
        models, quants = catalogue_models()
        reference = min((m.arch for m in models), key=lambda a: a.total_params_b, default=None)
        cached = ladder(reference, quants, engine) if reference is not None else []
        with _lock:
            _ladders.clear()
            _ladders[key] = cached
    return cached


def catalogue_models() -> tuple[list[CanRunModel], list[Quant]]:
    """Every catalogue model (not size-only ones) as engine architectures, and every
    weight format; built once per catalogue state."""
    version = _version()
    cached = _models_cache.get(version)
    if cached is not None:
        return cached
    models = [
        CanRunModel(m.slug, m.name, adapters.model_arch(m), tuple(m.uses or ()))
        for m in LlmModel.objects.filter(approximate=False)
    ]
    quants = [
        adapters.quant_of(q)
        for q in QuantFormat.objects.filter(applies_to=QuantFormat.AppliesTo.WEIGHTS)
    ]
    with _lock:
        _models_cache.clear()
        _models_cache[version] = (models, quants)
    return models, quants


def canrun_payload(form: CanRunForm) -> dict[str, Any]:
    """The answer for a valid form, as ``/api/canrun`` returns it."""
    rig = form.rig
    assert rig is not None
    data = form.cleaned_data
    started = time.perf_counter()
    models, quants = catalogue_models()
    use = data.get("use") or ""
    context_asked = data.get("context")
    max_params = data.get("max_params_b")
    notes = list(rig.notes)
    left_out = {"use": 0, "unknown_use": 0, "size": 0, "context": 0}
    chosen = []
    for model in models:
        if use and use not in model.uses:
            left_out["unknown_use" if not model.uses else "use"] += 1
            continue
        if max_params and model.arch.total_params_b > max_params:
            left_out["size"] += 1
            continue
        if context_asked and model.arch.max_context and context_asked > model.arch.max_context:
            left_out["context"] += 1
            continue
        chosen.append(model)
    if left_out["unknown_use"]:
        notes.append(
            f"{left_out['unknown_use']} model(s) have no uses recorded in the catalogue and are "
            f"left out of the {use} filter."
        )
    kv_bits = KV_CACHE_BITS[data.get("kv_quant") or "F16"]
    batch = data.get("batch") or 1
    prompt = data.get("prompt_tokens") or DEFAULT_PROMPT

    def workload_for(model: CanRunModel) -> Workload:
        context = context_asked or min(DEFAULT_CONTEXT, model.arch.max_context or DEFAULT_CONTEXT)
        return Workload(
            context_tokens=context,
            prompt_tokens=min(prompt, context),
            concurrent_sequences=batch,
            kv_cache_bits=kv_bits,
        )

    min_tps = data.get("min_tps")
    min_tps = DEFAULT_MIN_TPS if min_tps is None else float(min_tps)
    engine = data.get("engine") or "llama.cpp"
    answers = can_run(rig.machine, chosen, formats_for(engine), workload_for, engine, min_tps)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return {
        "hardware": rig.hardware,
        "owned": [{"slug": s, "count": c} for s, c in rig.owned],
        "tools": rig.tools,
        "notes": notes,
        "engine": engine,
        "min_tps": min_tps,
        "quality_order": QUALITY_BASIS,
        "models": [a.to_dict() for a in answers],
        "left_out": left_out,
        "estimates_run": sum(a.tried for a in answers),
        "elapsed_ms": round(elapsed_ms, 1),
    }


class UpgradeForm(forms.Form):
    """``have`` (owned parts, ``SLUG[:QTY],...``) with the build wizard's parameters
    (model, quant, context, min_tps, budget, ...): see :class:`RecommendForm`."""

    have = forms.CharField(
        max_length=2000,
        help_text="Parts you own, by catalogue slug with counts: SLUG[:QTY],... "
        "(e.g. nvidia-geforce-rtx-3090-used:1,amd-ryzen-9-9950x:1).",
        error_messages={"required": "have: list the parts you own as SLUG[:QTY],..."},
    )

    def __init__(self, data: Any = None) -> None:
        from configurator.forms import RecommendForm

        super().__init__(data)
        self.workload = RecommendForm(data)
        self.owned: list[tuple[str, int]] = []

    def clean_have(self) -> str:
        from configurator.rig.upgrade import parse_have

        text = self.cleaned_data.get("have") or ""
        try:
            self.owned = parse_have(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        from configurator.forms import resolve_parts

        catalogue = adapters.catalogue()
        resolved: dict[str, int] = {}
        problems = []
        for name, qty in self.owned:
            slug = name
            if catalogue.get(name) is None:
                # A part name ("RTX 3090") as well as a slug.
                try:
                    slug = resolve_parts(name).slug
                except forms.ValidationError as exc:
                    problems.append(" ".join(exc.messages))
                    continue
            resolved[slug] = resolved.get(slug, 0) + qty
        if problems:
            raise forms.ValidationError("have: " + "; ".join(problems) + " (see /api/parts?q=...).")
        self.owned = list(resolved.items())
        if not self.owned:
            raise forms.ValidationError("have: list the parts you own as SLUG[:QTY],...")
        return text

    def is_valid(self) -> bool:
        own = super().is_valid()
        return self.workload.is_valid() and own

    @property
    def all_errors(self) -> dict[str, list[str]]:
        from configurator.forms import errors_by_field

        errors = errors_by_field(self.workload) if self.workload.is_bound else {}
        errors.update(errors_by_field(self))
        return errors


def upgrade_payload(form: UpgradeForm) -> dict[str, Any]:
    from configurator.rig.upgrade import cheapest_upgrades

    started = time.perf_counter()
    request = form.workload.build_request()
    result = cheapest_upgrades(request, form.owned)
    result["model"] = request.model_slug
    result["model_name"] = request.model_name
    result["quant"] = request.quant.name
    result["min_tps"] = request.min_tps
    result["mode"] = request.workload.mode
    result["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


class BenchForm(forms.Form):
    """A pasted benchmark and what it ran: ``bench`` (llama-bench table/JSON/CSV or vllm
    bench JSON), ``bench_model`` (catalogue model) and ``bench_quant`` (format; default:
    the one llama-bench printed)."""

    bench = forms.CharField(
        max_length=200_000,
        help_text="llama-bench output (table, -o json or -o csv) or vllm bench serve "
        "--save-result JSON.",
        error_messages={"required": "bench: paste the benchmark output."},
    )
    bench_model = forms.CharField(
        max_length=300,
        help_text="The catalogue model the benchmark ran.",
        error_messages={"required": "bench_model: name the catalogue model the benchmark ran."},
    )
    bench_quant = forms.CharField(required=False, max_length=40, help_text=HELP["quant"])

    def clean(self) -> dict[str, Any]:
        from configurator.forms import resolve_model, resolve_quant
        from configurator.rig.bench import parse_bench

        data = super().clean()
        self.rows = []
        self.model_row = None
        self.quant_obj = None
        if data.get("bench"):
            try:
                self.rows = parse_bench(data["bench"])
            except ValueError as exc:
                self.add_error("bench", str(exc))
        if data.get("bench_model"):
            try:
                self.model_row = resolve_model(data["bench_model"])
            except forms.ValidationError as exc:
                self.add_error("bench_model", exc)
            else:
                if self.model_row.approximate:
                    self.add_error(
                        "bench_model", "bench_model: pick a catalogue model, not a size."
                    )
        printed = next((r.quant for r in self.rows if r.quant), "")
        try:
            self.quant_obj = resolve_quant(data.get("bench_quant") or printed or "")
        except forms.ValidationError as exc:
            self.add_error("bench_quant", exc)
        return data
