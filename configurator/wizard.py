"""The build wizard's presentation of :class:`~configurator.forms.RecommendForm`:
friendly labels, widgets, defaults and the three steps.

The form itself (parsing, defaults, messages) is shared with the API and the command
line; this module only dresses it for the page.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qsl

from django import forms
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import SafeData, mark_safe

from catalog.models import LlmModel, QuantFormat
from configurator.engine.builds import ENGINE_CHOICES, FORMS, OBJECTIVES, STACKS
from configurator.engine.builds.request import OBJECTIVE_LABELS
from configurator.forms import (
    DEFAULT_CONTEXT,
    DEFAULT_MIN_TPS,
    DEFAULT_MODEL,
    DEFAULT_QUANT,
    RecommendForm,
)
from configurator.training_run import Dataset, tokens_text

# The parameters that describe the workload and constraints (everything but the parts).
WORKLOAD_PARAMS = tuple(RecommendForm.base_fields)

INITIAL: dict[str, Any] = {
    "model": DEFAULT_MODEL,
    "quant": DEFAULT_QUANT,
    "context": DEFAULT_CONTEXT,
    "batch": 1,
    "mode": "inference",
    "min_tps": DEFAULT_MIN_TPS,
    "objective": "cheapest",
    "allow_used": True,
    "form": "any",
    "stack": "any",
    "engine": "auto",
    "kv_quant": "F16",
}
ADVANCED = (
    "prompt_tokens",
    "min_prefill_tps",
    "stack",
    "engine",
    "kv_quant",
    "must_include",
    "kwh_price",
    "cloud_price_per_mtok",
    "hours_per_day",
    "limit",
    "backend",
    "threads",
    "expert_offload",
    "spec_decode",
    "acceptance_rate",
)
LABELS = {
    "model": (
        "Model",
        "Search the catalogue, type a size (“70B”, “671B MoE 37B active”) or "
        "paste a Hugging Face repo id.",
    ),
    "quant": ("Quantization", ""),
    "context": ("Context length (tokens)", "How much text the model keeps in view."),
    "batch": ("Concurrent users", "Sequences generated at the same time."),
    "mode": ("Use", "Inference, or fine-tuning with LoRA, QLoRA or all weights."),
    "budget": ("Budget (USD)", "Leave empty for no limit."),
    "min_tps": (
        "Minimum tokens/s",
        "Generation speed each user should see; ~10 reads comfortably.",
    ),
    "objective": ("Rank by", ""),
    "allow_used": ("Allow used parts", "Used 24 GB GPUs are the cheapest VRAM."),
    "max_watts": ("Max power (W)", "Wall power while generating; empty for no limit."),
    "form": ("Form factor", ""),
    "prompt_tokens": ("Typical prompt (tokens)", "Prompt processing work per request."),
    "min_prefill_tps": ("Minimum prompt tokens/s", "0 for no target."),
    "stack": ("GPU software", "Require a software stack (CUDA, ROCm, Metal, SYCL)."),
    "engine": ("Inference engine", "Auto picks one that runs the quantization."),
    "kv_quant": ("KV cache type", "Q8_0 halves KV memory with negligible loss."),
    "must_include": (
        "Must include parts",
        'Part names with counts, comma-separated: "RTX 3090:2, EPYC 9124".',
    ),
    "kwh_price": ("Electricity (USD per kWh)", ""),
    "cloud_price_per_mtok": (
        "Cloud price per million tokens (USD)",
        "For the break-even; empty uses a typical API price.",
    ),
    "hours_per_day": ("Hours of use per day", "For the break-even against the cloud."),
    "limit": ("Builds to show", ""),
    "backend": (
        "Engine backend",
        "Run every build on this backend (e.g. Vulkan on an NVIDIA card); builds it cannot "
        "drive are left out. Empty: the engine's own for the hardware.",
    ),
    "threads": ("CPU threads", "Threads the engine uses on the CPU. Empty: every core."),
    "expert_offload": (
        "Keep MoE experts in system RAM",
        "Mixture-of-experts models only: “all”, or a number of layers whose experts stay in "
        "RAM while the rest runs on the GPUs (llama.cpp --n-cpu-moe).",
    ),
    "spec_decode": (
        "Speculative decoding",
        "“mtp” (models with multi-token prediction), “eagle”, “ngram”, or “draft:” and a "
        "small model of the same family, e.g. “draft:llama-3-2-1b-instruct”. Empty: off.",
    ),
    "dataset_tokens": (
        "Fine-tuning dataset (tokens)",
        "Tokens in your training data: 250k, 12M, 1.5B or a whole number. Empty: 10M assumed.",
    ),
    "epochs": ("Epochs", "Passes over the dataset, 1–100."),
    "acceptance_rate": (
        "Draft acceptance rate",
        "Share of drafted tokens the model accepts, 0–0.99. Empty: the method's published figure.",
    ),
}
MODE_LABELS = {
    "inference": "Inference (chat, generation)",
    "lora": "Fine-tune: LoRA",
    "qlora": "Fine-tune: QLoRA (4-bit)",
    "full": "Fine-tune: all weights",
}
FORM_LABELS = {
    "any": "Any",
    "tower": "Tower",
    "rack": "Rack server",
    "small": "Small / mini PC",
    "laptop": "Laptop",
}
STACK_LABELS = {
    "any": "Any",
    "cuda": "CUDA (NVIDIA)",
    "rocm": "ROCm (AMD)",
    "metal": "Metal (Apple)",
    "sycl": "SYCL (Intel)",
}


class YesNoCheckbox(forms.CheckboxInput):
    """A checkbox that tells "unchecked" from "absent": the page sends a hidden "false"
    before the box, so an unchecked box says false, while a URL without the parameter
    keeps the form's default."""

    def __init__(self, default: bool, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.default = default

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if name not in data:
            return None
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        return values[-1]

    def format_value(self, value: Any) -> Any:
        return None

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        if value is None or value == "":
            checked = self.default
        else:
            checked = value is True or str(value).lower() in ("true", "on", "1", "yes")
        attrs = {**(attrs or {}), "value": "true"}
        if checked:
            attrs["checked"] = True
        return super(forms.CheckboxInput, self).get_context(name, value, attrs)


class QuickSelect(forms.Select):
    """A select drawn in Python: the same HTML as Django's ``select.html`` and
    ``select_option.html`` templates (newlines included), without an include and a
    template render per option — the wizard draws about a hundred options a page."""

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> str:
        widget = self.get_context(name, value, attrs)["widget"]
        out = [format_html('<select name="{}"', widget["name"]), _attrs(widget["attrs"]), ">"]
        for group_name, group_choices, _ in widget["optgroups"]:
            if group_name:
                out.append(format_html('\n  <optgroup label="{}">', group_name))
            for option in group_choices:
                out.append(format_html('\n  <option value="{}"', _text(option["value"])))
                out.append(_attrs(option["attrs"]))
                out.append(format_html(">{}</option>\n", option["label"]))
            if group_name:
                out.append("\n  </optgroup>")
        out.append("\n</select>")
        return mark_safe("".join(out))  # noqa: S308 (every value above is escaped)


def _text(value: Any) -> str:
    """As the templates' ``|stringformat:'s'``."""
    return value if isinstance(value, SafeData) else str(value)


def _attrs(attrs: dict[str, Any]) -> str:
    """As Django's ``attrs.html``."""
    return "".join(
        format_html(" {}", name) if value is True else format_html(' {}="{}"', name, _text(value))
        for name, value in attrs.items()
        if value is not False
    )


def quant_label(fmt: QuantFormat) -> str:
    """A format as the wizard lists it: bits per weight and, when measured, its quality
    loss ("Q4_K_M — 4.89 bits/weight, KLD 0.029 on Llama 3 8B")."""
    label = f"{fmt.name} — {fmt.bits_per_weight:g} bits/weight"
    if fmt.mean_kld is not None:
        model = fmt.quality_model.split(" (")[0].split(",")[0]
        label += f", KLD {fmt.mean_kld:.3g} on {model}"
    return label


def quant_formats() -> list[QuantFormat]:
    return list(QuantFormat.objects.filter(applies_to=QuantFormat.AppliesTo.WEIGHTS))


_lists: dict[str, Any] = {"version": None, "lists": None}
_lists_lock = threading.Lock()


def page_lists() -> tuple[list[QuantFormat], list[LlmModel], list[dict[str, Any]]]:
    """The weight formats, the models to search and every part (the wizard's choices
    and suggestions): read once per ``results_version()`` — the version the cached
    results pages are keyed by, which any part, model, format or price change moves —
    not three queries on every page."""
    from configurator.results_cache import results_version
    from configurator.rig.suggest import suggest_parts

    version = results_version()
    with _lists_lock:
        if _lists["version"] == version:
            return _lists["lists"]
    lists = (quant_formats(), models_for_search(), suggest_parts("", limit=1000))
    with _lists_lock:
        _lists.update(version=version, lists=lists)
    return lists


def display_form(form: RecommendForm, formats: list[QuantFormat]) -> RecommendForm:
    """The form to draw: a valid form is redrawn with the values in effect (defaults
    filled in), an invalid one as typed, with its errors."""
    if not form.is_bound or not form.is_valid():
        return form
    values = {k: v for k, v in form.cleaned_data.items() if v not in (None, "", ())}
    if values.get("must_include"):
        values["must_include"] = ", ".join(values["must_include"])
    return wizard_form(None, formats, initial=values)


def wizard_form(
    params: QueryDict | None, formats: list[QuantFormat], initial: dict[str, Any] | None = None
) -> RecommendForm:
    """The wizard's form: bound to ``params`` when the user sent any, otherwise unbound
    with the defaults (or ``initial``) shown."""
    if params:
        # Absent parameters take the form's defaults; spelling them out only makes the
        # redrawn form show them (the context default depends on the model: left out).
        params = params.copy()
        for name, value in INITIAL.items():
            if name not in params and name not in ("context", "allow_used"):
                params[name] = str(value)
    form = RecommendForm(params if params else None, initial=initial or INITIAL)
    quant_choices = [(f.name, quant_label(f)) for f in formats]
    submitted = (params or {}).get("quant")
    if submitted and submitted not in {f.name for f in formats}:
        quant_choices.append((submitted, submitted))
    fields = form.fields
    fields["quant"].widget = forms.Select(choices=quant_choices)
    fields["model"].widget = forms.TextInput(
        attrs={"list": "model-options", "autocomplete": "off", "spellcheck": "false"}
    )
    fields["mode"].choices = [(m, MODE_LABELS.get(m, m)) for m, _ in fields["mode"].choices]
    fields["objective"].choices = [(o, OBJECTIVE_LABELS[o].capitalize()) for o in OBJECTIVES]
    fields["form"].choices = [(f, FORM_LABELS.get(f, f)) for f in FORMS]
    fields["stack"].choices = [(s, STACK_LABELS.get(s, s)) for s in STACKS]
    fields["engine"].choices = [(e, "Auto" if e == "auto" else e) for e in ENGINE_CHOICES]
    fields["backend"].choices = [("", "Engine default"), *fields["backend"].choices]
    fields["allow_used"].widget = YesNoCheckbox(default=True)
    fields["must_include"].widget = forms.TextInput(
        attrs={
            "list": "part-options",
            "autocomplete": "off",
            "spellcheck": "false",
            "data-part-suggest": "true",
        }
    )
    for name, (label, help_text) in LABELS.items():
        if name in fields:
            fields[name].label = label
            fields[name].help_text = help_text
    fields["spec_decode"].widget.attrs.update({"placeholder": "Off", "spellcheck": "false"})
    fields["expert_offload"].widget.attrs.update({"placeholder": "None"})
    fields["acceptance_rate"].widget.attrs.update({"step": "0.01"})
    for name in ("context", "prompt_tokens", "batch", "limit", "threads", "epochs"):
        fields[name].widget.attrs.update({"inputmode": "numeric"})
    fields["dataset_tokens"].widget.attrs.update(
        {"placeholder": "Default 10M", "spellcheck": "false", "autocomplete": "off"}
    )
    fields["context"].widget.attrs["placeholder"] = "4096, or the model's maximum"
    fields["budget"].widget.attrs.update({"step": "any", "placeholder": "No limit"})
    fields["max_watts"].widget.attrs.update({"placeholder": "No limit"})
    for field in fields.values():
        if type(field.widget) is forms.Select:
            field.widget.__class__ = QuickSelect  # the same widget, drawn in Python
    return form


def quant_note(form: RecommendForm, formats: list[QuantFormat]) -> str:
    name = form.cleaned_data.get("quant") if form.is_bound and form.is_valid() else None
    name = name or (form.data.get("quant") if form.is_bound else None) or DEFAULT_QUANT
    for fmt in formats:
        if fmt.name.lower() == str(name).lower():
            return fmt.quality_note
    return ""


def models_for_search() -> list[LlmModel]:
    return list(LlmModel.objects.filter(approximate=False).only("slug", "name"))


def query_pairs(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=False)


def advanced_open(form: RecommendForm) -> bool:
    """Open "More options" when one of them was set or has an error."""
    if not form.is_bound:
        return False
    return any(form.data.get(name) not in (None, "") for name in ADVANCED) or any(
        name in form.errors for name in ADVANCED
    )


def dataset_label(dataset: Dataset) -> str:
    """The fine-tuning run in words: "a 12M-token dataset × 3 epochs", or the default
    said to be assumed."""
    text = f"a {tokens_text(dataset.tokens_per_epoch)}-token dataset"
    if dataset.assumed:
        text += " (assumed; none given)"
    if dataset.epochs > 1:
        text += f" × {dataset.epochs} epochs"
    return text


def workload_label(summary: dict[str, Any], dataset: Dataset | None = None) -> str:
    parts = [
        f"{summary['model_name']} at {summary['quant']}",
        f"{summary['context']:,}-token context",
    ]
    if summary["batch"] > 1:
        parts.append(f"{summary['batch']} concurrent users")
    if summary["mode"] != "inference":
        parts.append(MODE_LABELS.get(summary["mode"], summary["mode"]).lower())
        parts.append(dataset_label(dataset or Dataset()))
    if summary.get("budget"):
        parts.append(f"budget ${float(summary['budget']):,.0f}")
    if summary.get("backend"):
        parts.append(f"{summary['backend']} backend")
    if summary.get("threads"):
        parts.append(f"{summary['threads']} CPU threads")
    if summary.get("expert_offload") is not None:
        offload = summary["expert_offload"]
        parts.append(f"experts of {'all' if offload == 'all' else offload} layers in RAM")
    spec = summary.get("spec_decode")
    if spec:
        method = f"draft {spec['draft_model']}" if spec["draft_model"] else spec["method"]
        parts.append(f"speculative decoding ({method})")
    unit = "training tokens/s" if summary["mode"] != "inference" else "tokens/s"
    parts.append(f"at least {summary['min_tps']:g} {unit}")
    parts.append(summary["objective_label"])
    return ", ".join(parts)
