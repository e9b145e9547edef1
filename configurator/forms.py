"""Input parsing and validation shared by the command line, the JSON API and the web
pages. Parameter names are the command-line flags with underscores.

Every field is optional: an empty form gives an answer (Llama 3.1 70B at Q4_K_M, 4,096
tokens of context, the cheapest build reaching 5 tokens/s). Every error message names the
field and the values or range it accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.text import slugify

from catalog import importers
from catalog.models import CompleteSystem, Cpu, Gpu, LlmModel, Part, QuantFormat
from catalog.sizing import ACCEPTED_FORMS, SizeRangeError, parse_size
from configurator import adapters, training_run
from configurator import estimate_options as options
from configurator.engine import (
    ENGINES,
    KNOWN_FORMATS,
    KV_CACHE_BITS,
    MODES,
    CpuSystem,
    Machine,
    ModelArch,
    Quant,
    Workload,
)
from configurator.engine import Gpu as EngineGpu
from configurator.engine.builds import ENGINE_CHOICES, FORMS, OBJECTIVES, STACKS, BuildRequest
from configurator.engine.builds.parts import CpuPart, GpuPart, SystemPart
from configurator.engine.builds.request import DEFAULT_HOURS_PER_DAY, DEFAULT_KWH_PRICE
from configurator.engine.workload import MAX_CONTEXT_TOKENS
from rigrank.errors import engine_field

DEFAULT_MODEL = "llama-3-1-70b-instruct"
DEFAULT_QUANT = "Q4_K_M"
DEFAULT_CONTEXT = 4096
DEFAULT_PROMPT = 512
DEFAULT_MIN_TPS = 5.0
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
MAX_BATCH = 256
KV_QUANTS = ("F16", "Q8_0", "Q4_0")
SPLITS = ("layer", "tensor")
TRUE = {"1", "true", "yes", "on", "y", "t"}
FALSE = {"0", "false", "no", "off", "n", "f"}
_EXL2 = re.compile(r"^exl2-(\d+(?:\.\d+)?)$", re.I)

# One line per parameter, used as help text, in the OpenAPI description and by the CLI.
HELP = {
    "model": "Catalogue model slug or name (e.g. llama-3-1-70b-instruct), a Hugging Face repo "
    'id, or a size: "70b", "70B dense", "671b-a37b", "671B MoE 37B active". '
    f"Default {DEFAULT_MODEL}.",
    "quant": "Weight quantization by catalogue name (Q4_K_M, Q6_K, Q8_0, BF16, GPTQ-4bit, "
    f"AWQ-4bit, NF4, MLX-4bit, FP8, MXFP4) or EXL2-<bits>. Default {DEFAULT_QUANT}.",
    "context": "Context length in tokens, 1 up to the model's maximum. Default 4096 (or the "
    "model's maximum if smaller).",
    "prompt_tokens": "Tokens in a typical prompt (prefill work), 1 up to the context. Default 512.",
    "batch": f"Concurrent sequences (users), 1–{MAX_BATCH}. Default 1.",
    "mode": "inference, lora, qlora or full (fine-tuning). Default inference.",
    "budget": "Maximum total price in the display currency, above 0. Default: no limit.",
    "min_tps": "Minimum decode tokens/s each sequence sees (fine-tuning: training tokens/s), "
    f"0–100000. Default {DEFAULT_MIN_TPS:g}.",
    "min_prefill_tps": "Minimum prompt-processing tokens/s, 0–10000000. Default 0.",
    "max_watts": "Maximum wall power while generating, W, 1–100000. Default: no limit.",
    "allow_used": "true/false (also 1/0, yes/no, on/off): may builds use used parts. Default true.",
    "form": "Form factor: " + ", ".join(FORMS) + ". Default any.",
    "objective": "Ranking: cheapest (meets the targets), fastest (within budget), value "
    "(tokens/s per dollar), power (lowest), pareto (the cost/speed front). Default cheapest.",
    "stack": "GPU software stack every build must offer: " + ", ".join(STACKS) + ". Default any.",
    "must_include": "Parts every build must contain, by name or slug, optionally with a count: "
    '"RTX 3090:2, EPYC 9124" (comma-separated). Default none.',
    "limit": f"Number of builds to return, 1–{MAX_LIMIT}. Default {DEFAULT_LIMIT}.",
    "kwh_price": "Electricity price per kWh in the display currency, 0–10. Default "
    f"{DEFAULT_KWH_PRICE} (US average, 2025).",
    "cloud_price_per_mtok": "Cloud API price per million tokens to compare against, 0–1000. "
    "Default: about $0.88 for 70B-class models, scaled by active parameters.",
    "engine": "Inference engine: " + ", ".join(ENGINE_CHOICES) + " (auto picks one that runs "
    "the quantization on each machine). Default auto.",
    "hours_per_day": "Hours a day the machine generates, for the break-even against the "
    f"cloud, 0.1–24. Default {DEFAULT_HOURS_PER_DAY:g}.",
    "kv_quant": "KV-cache data type: " + ", ".join(KV_QUANTS) + ". Default F16.",
    "dataset_tokens": "Fine-tuning only: tokens in your training dataset (one epoch), "
    f"{training_run.RANGE_TEXT}. Default: {training_run.DEFAULT_DATASET_TOKENS:,} tokens "
    "assumed, and said so. Ignored for inference.",
    "epochs": f"Fine-tuning only: passes over the dataset, 1–{training_run.MAX_EPOCHS}. "
    "Default 1. Ignored for inference.",
}


HELP.update(options.HELP)

# The same options for a build search (``/api/builds``, the wizard, ``manage.py
# recommend``): the search picks the hardware, so they apply per build.
BUILD_HELP = {
    "expert_offload": "MoE only: on builds with GPUs and a host CPU, keep the routed experts "
    "of N layers, or 'all', in system RAM (llama.cpp -ot exps=CPU / --n-cpu-moe N). CPU "
    "servers and unified-memory systems hold the whole model in one memory anyway.",
    "backend": "Engine backend every build runs on: " + ", ".join(options.BACKEND_CHOICES) + ". "
    "Builds whose hardware the backend cannot drive are left out. Default: the engine's own "
    "for the hardware (CUDA on NVIDIA, ROCm on AMD, Metal on Apple, SYCL on Intel).",
    "threads": "CPU threads (-t) on builds with a host CPU, 1–4096. Default: every core.",
    "spec_decode": "Speculative decoding: draft:<model>, mtp, eagle or ngram (mtp/eagle/ngram "
    "take :N drafted tokens, e.g. eagle:5); builds' decode speed is then the speculative one "
    "and engines without the method are not used. One sequence at a time (batch 1).",
    "acceptance_rate": options.HELP["acceptance_rate"],
    "custom_cpu": "Not taken by a build search, which picks the hardware itself: estimate a "
    "custom CPU system with /api/estimate or manage.py estimate --custom-cpu.",
    "custom_system": "Not taken by a build search, which picks the hardware itself: estimate "
    "a custom unified-memory system with /api/estimate or manage.py estimate --custom-system.",
}


def _num_messages(name: str, low: Any, high: Any, unit: str = "", whole: bool = False) -> dict:
    kind = "a whole number" if whole else "a number"
    text = f"{name} must be {kind} from {low} to {high}{unit}"
    return {
        "invalid": text + " (got %(value)s).",
        "min_value": text + ".",
        "max_value": text + ".",
        "max_digits": text + ".",
        "max_decimal_places": text + ", with at most %(max)s decimals.",
        "max_whole_digits": text + ".",
    }


def _int(name: str, low: int, high: int | None, unit: str = "") -> forms.IntegerField:
    shown = f"{high:,}" if high is not None else "the maximum"
    return forms.IntegerField(
        required=False,
        min_value=low,
        max_value=high,
        help_text=HELP[name],
        error_messages=_num_messages(name, low, shown, unit, whole=True),
    )


def _float(name: str, low: float, high: float, unit: str = "") -> forms.FloatField:
    return forms.FloatField(
        required=False,
        min_value=low,
        max_value=high,
        help_text=HELP[name],
        error_messages=_num_messages(name, f"{low:g}", f"{high:g}", unit),
    )


def _decimal(name: str, low: str, high: str) -> forms.DecimalField:
    return forms.DecimalField(
        required=False,
        min_value=Decimal(low),
        max_value=Decimal(high),
        max_digits=14,
        decimal_places=4,
        help_text=HELP[name],
        error_messages=_num_messages(name, low, high),
    )


def _choice(name: str, choices: tuple[str, ...], label: str = "") -> forms.ChoiceField:
    allowed = ", ".join(choices)
    return forms.ChoiceField(
        required=False,
        choices=[(c, label or c) for c in choices],
        help_text=HELP[name],
        error_messages={"invalid_choice": f"{name} must be one of {allowed} (got %(value)s)."},
    )


class AnyCaseChoiceField(forms.ChoiceField):
    """A choice matched whatever its case (``vulkan`` is ``Vulkan``)."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        names = {str(key).lower(): str(key) for key, _ in self.choices}
        return names.get(text.strip().lower(), text)


def parse_bool(name: str, value: object, default: bool) -> bool:
    """A yes/no parameter; ``ValidationError`` naming ``name`` otherwise."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise forms.ValidationError(
        f"{name} must be true or false (also 1/0, yes/no, on/off) (got {value!r})."
    )


class TokensField(forms.CharField):
    """A token count as typed: a whole number or 250k / 12M / 1.5B / 2T; empty is None."""

    def __init__(self, *, name: str, **kwargs: Any) -> None:
        self.param = name
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 30)
        super().__init__(**kwargs)

    def to_python(self, value: object) -> int | None:
        text = super().to_python(value)
        if self.max_length is not None and len(text) > self.max_length:
            text = text[: self.max_length] + "…"
        try:
            return training_run.parse_tokens(text, self.param)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def run_validators(self, value: Any) -> None:
        # The parser checked the range; the length limit applies to the text typed.
        return None

    def prepare_value(self, value: Any) -> Any:
        return training_run.tokens_text(value) if isinstance(value, int) else value


class YesNoField(forms.Field):
    """true/false, 1/0, yes/no, on/off; missing means the default."""

    def __init__(self, *, name: str, default: bool, **kwargs: Any) -> None:
        self.default = default
        self.param = name
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: object) -> bool:
        return parse_bool(self.param, value, self.default)


# Resolving names ---------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", text.lower()) if t]


def _arch_signature(model: LlmModel) -> tuple:
    names = (
        "total_params_b",
        "active_params_b",
        "layers",
        "hidden_size",
        "attention_heads",
        "kv_heads",
        "head_dim",
        "vocab_size",
        "intermediate_size",
        "experts_total",
        "experts_per_token",
        "kv_lora_rank",
    )
    return tuple(getattr(model, n) for n in names)


def resolve_model(text: str) -> LlmModel:
    """A catalogue model by slug, name, Hugging Face repo id or unique partial name, or
    an approximate model from a size; ``ValidationError`` listing candidates otherwise."""
    query = " ".join(str(text).split())
    # The exact matches need only the names: the whole rows are read for the one found,
    # or for the partial match below (every request resolves a model).
    names = list(LlmModel.objects.values_list("pk", "slug", "name", "hf_repo"))
    if not query:
        query = DEFAULT_MODEL
        if not names:
            raise forms.ValidationError(
                "model: the catalogue has no models yet (run make setup); give a size such as 70b."
            )
    lowered = query.lower()
    slug = slugify(lowered.rsplit("/", 1)[-1].replace(".", "-"))
    found = (
        next((pk for pk, s, name, _ in names if s == lowered or name.lower() == lowered), None)
        or next((pk for pk, _, _, repo in names if repo and repo.lower() == lowered), None)
        or next((pk for pk, s, _, _ in names if s == slug), None)
    )
    if found is not None:
        return LlmModel.objects.get(pk=found)
    try:
        parse_size(query)
        return LlmModel.from_size(query)
    except SizeRangeError as exc:
        raise forms.ValidationError(str(exc)) from None
    except ValueError:
        pass
    if importers.REPO_ID.match(query):
        return _model_from_hub(query)
    words = _tokens(query)
    models = list(LlmModel.objects.all())
    matches = [
        m
        for m in models
        if lowered in m.slug
        or lowered in m.name.lower()
        or (
            words
            and all(any(t.startswith(w) for t in _tokens(f"{m.slug} {m.name}")) for w in words)
        )
    ]
    # Prefer models whose slug holds the whole query ("Llama 3.3 70B" is llama-3-3-70b-…,
    # though its words also match Llama 3.1 70B).
    whole = slugify(lowered.replace(".", "-"))
    matches = [m for m in matches if whole in m.slug] or matches
    if len(matches) == 1:
        return matches[0]
    if matches and len({_arch_signature(m) for m in matches}) == 1:
        # Same architecture (e.g. Llama 3.1 and 3.3 70B): the estimate is identical.
        return sorted(matches, key=lambda m: m.slug)[0]
    if matches:
        names = ", ".join(f"{m.slug} ({m.name})" for m in matches[:12])
        raise forms.ValidationError(f"model {query!r} is ambiguous; candidates: {names}.")
    raise forms.ValidationError(
        f"model {query!r} matches no catalogue model or size. Use a catalogue slug or name "
        "(see /models/), a Hugging Face repo id, or a size: " + "; ".join(ACCEPTED_FORMS) + "."
    )


def _model_from_hub(repo_id: str) -> LlmModel:
    """A Hugging Face repo not in the catalogue: imported from the hub now, or a message
    that says what went wrong and what to try instead."""
    try:
        return importers.model_from_hub(repo_id)
    except importers.ModelImportError as exc:
        size = importers.size_in_name(repo_id)
        guess = (
            f" Its name suggests a size: {size}? A size alone ({size}) gives an approximate "
            "estimate."
            if size
            else ""
        )
        if isinstance(exc, importers.HubUnreachable):
            raise forms.ValidationError(
                f"model {repo_id!r} is not in the catalogue and the Hugging Face hub could "
                f"not be reached to import it: {exc}{guess} Once online, import it with "
                f"`python manage.py import_model {repo_id}`."
            ) from exc
        raise forms.ValidationError(
            f"model {repo_id!r} is not in the catalogue and could not be imported from the "
            f"Hugging Face hub: {exc}{guess}"
        ) from exc


def quant_names() -> list[str]:
    names = list(
        QuantFormat.objects.filter(applies_to=QuantFormat.AppliesTo.WEIGHTS).values_list(
            "name", flat=True
        )
    )
    return names or list(KNOWN_FORMATS)


def resolve_quant(text: str) -> Quant:
    """A weight format by catalogue name (case-insensitive) or ``EXL2-<bits>``."""
    query = (text or DEFAULT_QUANT).strip()
    row = (
        QuantFormat.objects.filter(applies_to=QuantFormat.AppliesTo.WEIGHTS, name__iexact=query)
        .order_by("name")
        .first()
    )
    if row is not None:
        return adapters.quant_of(row)
    exl2 = _EXL2.match(query)
    if exl2 and 2.0 <= float(exl2.group(1)) <= 8.0:
        return Quant.from_name(query)
    if not QuantFormat.objects.exists():
        try:
            return Quant.from_name(query)
        except ValueError:
            pass
    raise forms.ValidationError(
        f"quant must be one of {', '.join(quant_names())} or EXL2-<bits> with 2–8 bits "
        f"(got {query!r})."
    )


def resolve_parts(text: str, kind: str | None = None) -> Part:
    """A part by slug or name, else a unique partial match, of ``kind`` if given."""
    query = text.strip()
    rows = Part.objects.all() if kind is None else Part.objects.filter(kind=kind)
    exact = rows.filter(slug__iexact=query).first() or rows.filter(name__iexact=query).first()
    if exact is not None:
        return exact
    words = _tokens(query)
    matches = [
        p
        for p in rows
        if query.lower() in p.slug
        or query.lower() in f"{p.brand} {p.name}".lower()
        or (
            words
            and all(
                any(t.startswith(w) for t in _tokens(f"{p.slug} {p.brand} {p.name}")) for w in words
            )
        )
    ]
    # A used row is the same hardware as its new twin ("-used" slug): "4090" means the RTX
    # 4090, not an ambiguity between its conditions.
    slugs = {p.slug for p in matches}
    matches = [p for p in matches if not (p.slug.endswith("-used") and p.slug[:-5] in slugs)]
    if len(matches) == 1:
        return matches[0]
    # A variant named after its base card ("RTX 4090 48GB (mod, used)") does not make the
    # base name ambiguous: "4090" is the part whose name every other match extends.
    names = {p.pk: set(_tokens(f"{p.brand} {p.name}")) for p in matches}
    bases = [p for p in matches if all(names[p.pk] < names[o.pk] for o in matches if o != p)]
    if len(bases) == 1:
        return bases[0]
    what = kind or "part"
    if matches:
        names = ", ".join(p.slug for p in matches[:12])
        more = f" and {len(matches) - 12} more" if len(matches) > 12 else ""
        raise forms.ValidationError(f"{what} {query!r} is ambiguous; candidates: {names}{more}.")
    raise forms.ValidationError(f"{what} {query!r} matches no catalogue part.")


# The recommendation form --------------------------------------------------------------


class RecommendForm(forms.Form):
    """GET parameters of the build wizard, ``/api/builds`` and ``manage.py recommend``."""

    model = forms.CharField(required=False, max_length=300, help_text=HELP["model"])
    quant = forms.CharField(required=False, max_length=40, help_text=HELP["quant"])
    context = _int("context", 1, None, " tokens")
    prompt_tokens = _int("prompt_tokens", 1, None, " tokens")
    batch = _int("batch", 1, MAX_BATCH)
    mode = _choice("mode", MODES)
    budget = _decimal("budget", "0.01", "100000000")
    min_tps = _float("min_tps", 0, 100_000, " tokens/s")
    min_prefill_tps = _float("min_prefill_tps", 0, 10_000_000, " tokens/s")
    max_watts = _float("max_watts", 1, 100_000, " W")
    allow_used = YesNoField(name="allow_used", default=True, help_text=HELP["allow_used"])
    form = _choice("form", FORMS)
    objective = _choice("objective", OBJECTIVES)
    stack = _choice("stack", STACKS)
    must_include = forms.CharField(required=False, max_length=2000, help_text=HELP["must_include"])
    limit = _int("limit", 1, MAX_LIMIT)
    kwh_price = _decimal("kwh_price", "0", "10")
    cloud_price_per_mtok = _decimal("cloud_price_per_mtok", "0", "1000")
    engine = _choice("engine", ENGINE_CHOICES)
    hours_per_day = _float("hours_per_day", 0.1, 24, " hours")
    kv_quant = _choice("kv_quant", KV_QUANTS)
    # How every build runs the model (the estimate's "more options").
    backend = AnyCaseChoiceField(
        required=False,
        choices=[(b, b) for b in options.BACKEND_CHOICES],
        help_text=BUILD_HELP["backend"],
        error_messages={
            "invalid_choice": f"backend must be one of {', '.join(options.BACKEND_CHOICES)} "
            "(got %(value)s)."
        },
    )
    threads = _int("threads", 1, 4096)
    expert_offload = forms.CharField(
        required=False, max_length=10, help_text=BUILD_HELP["expert_offload"]
    )
    spec_decode = forms.CharField(
        required=False, max_length=300, help_text=BUILD_HELP["spec_decode"]
    )
    acceptance_rate = _float("acceptance_rate", 0.0, 0.99)
    # The fine-tuning run: the user's dataset and how many passes over it.
    dataset_tokens = TokensField(name="dataset_tokens", help_text=HELP["dataset_tokens"])
    epochs = _int("epochs", 1, training_run.MAX_EPOCHS)
    # Refused with a reason rather than silently ignored (the search picks hardware).
    custom_cpu = forms.CharField(required=False, max_length=300, help_text=BUILD_HELP["custom_cpu"])
    custom_system = forms.CharField(
        required=False, max_length=300, help_text=BUILD_HELP["custom_system"]
    )

    DEFAULTS: dict[str, Any] = {
        "mode": "inference",
        "batch": 1,
        "min_tps": DEFAULT_MIN_TPS,
        "min_prefill_tps": 0.0,
        "form": "any",
        "objective": "cheapest",
        "stack": "any",
        "limit": DEFAULT_LIMIT,
        "kwh_price": DEFAULT_KWH_PRICE,
        "engine": "auto",
        "hours_per_day": DEFAULT_HOURS_PER_DAY,
        "kv_quant": "F16",
        "epochs": 1,
    }
    # Parameters of a fine-tuning run, left out of an inference query string.
    TRAINING_ONLY = ("dataset_tokens", "epochs")

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if data is not None and not isinstance(data, QueryDict):
            data = {k: v for k, v in dict(data).items() if v is not None}
        super().__init__(data, *args, **kwargs)
        self.model_row: LlmModel | None = None
        self.quant_obj: Quant | None = None
        self.spec: Any = None
        self.draft: tuple[ModelArch, Quant] | None = None

    def clean_expert_offload(self) -> str:
        try:
            value = options.expert_offload(self.cleaned_data.get("expert_offload"))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return "" if value is None else str(value)

    def clean_custom_cpu(self) -> str:
        return self._no_hardware("custom_cpu", "a custom CPU system", "--custom-cpu")

    def clean_custom_system(self) -> str:
        return self._no_hardware(
            "custom_system", "a custom unified-memory system", "--custom-system"
        )

    def _no_hardware(self, name: str, what: str, flag: str) -> str:
        if str(self.cleaned_data.get(name) or "").strip():
            raise forms.ValidationError(
                f"{name}: a build search picks the hardware itself and cannot take {what}; "
                f"estimate it with /api/estimate or manage.py estimate {flag}. Allowed here: "
                "expert_offload, backend, threads, spec_decode, acceptance_rate."
            )
        return ""

    def _clean_spec(self, data: dict[str, Any]) -> None:
        """Parse ``spec_decode`` and ``acceptance_rate`` (and resolve a draft model)."""
        if "spec_decode" in self.errors or "acceptance_rate" in self.errors:
            return
        try:
            self.spec = options.spec_decode(data.get("spec_decode"), data.get("acceptance_rate"))
        except ValueError as exc:
            field = "acceptance_rate" if str(exc).startswith("acceptance_rate") else "spec_decode"
            self.add_error(field, str(exc))
            return
        if self.spec is not None and self.spec.method == "draft" and self.quant_obj is not None:
            try:
                draft_row = resolve_model(self.spec.draft_model)
            except forms.ValidationError as exc:
                self.add_error("spec_decode", f"spec_decode: draft model: {exc.messages[0]}")
                return
            self.draft = (adapters.model_arch(draft_row), self.quant_obj)

    def clean_model(self) -> str:
        typed = " ".join(str(self.cleaned_data.get("model") or "").split())
        self.model_row = resolve_model(typed)
        # A model known only by its size keeps the size as typed ("70B"): its made-up
        # slug names no catalogue row, and the query string must read back.
        return typed if self.model_row.approximate else self.model_row.slug

    def clean_quant(self) -> str:
        self.quant_obj = resolve_quant(self.cleaned_data.get("quant") or "")
        return self.quant_obj.name

    def clean_must_include(self) -> tuple[str, ...]:
        """Slugs, with ``:COUNT`` where more than one is wanted (``slug:2``)."""
        from configurator.rig.must import parse_must_include

        try:
            return parse_must_include(self.cleaned_data.get("must_include") or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, default in self.DEFAULTS.items():
            if data.get(name) in (None, ""):
                data[name] = default
        self._inference_ignores_the_dataset(data)
        model = self.model_row
        if model is not None:
            _context_within(self, data, model)
        context = data.get("context") or DEFAULT_CONTEXT
        prompt = data.get("prompt_tokens")
        if prompt is None:
            data["prompt_tokens"] = min(DEFAULT_PROMPT, context)
        elif prompt > context and "context" not in self.errors:
            self.add_error(
                "prompt_tokens",
                f"prompt_tokens must be from 1 to {context:,} (the context) (got {prompt:,}).",
            )
        self._clean_spec(data)
        engine = data.get("engine")
        quant = self.quant_obj
        if quant is not None and engine and engine != "auto":
            profile = ENGINES[engine]
            if not profile.accepts(quant.family):
                runs = [n for n, p in ENGINES.items() if p.accepts(quant.family)]
                self.add_error(
                    "engine",
                    f"engine {engine} does not load {quant.name} ({quant.family}); use auto or "
                    f"one of {', '.join(runs) or 'none'}.",
                )
        if not self.errors:
            # The estimator checks every number again; what it refuses is the user's
            # input too, so it belongs by its field, not in a server error.
            try:
                self.build_request()
            except ValueError as exc:
                self.add_error(_engine_field(str(exc), self.fields), str(exc))
        return data

    def _inference_ignores_the_dataset(self, data: dict[str, Any]) -> None:
        """Inference has no training run: the dataset and epochs (kept in the wizard's
        hidden fine-tuning fields) are ignored, as documented, even when mistyped."""
        if data.get("mode") != "inference":
            return
        for name in self.TRAINING_ONLY:
            self._errors.pop(name, None)
            data[name] = self.DEFAULTS.get(name)

    def dataset(self) -> training_run.Dataset:
        """The fine-tuning dataset of this (valid) form."""
        return training_run.dataset_of(self.cleaned_data)

    def build_request(self) -> BuildRequest:
        """The generator's request for this (valid) form."""
        if not self.is_valid():
            raise ValueError(f"the form is not valid: {dict(self.errors)}")
        data = self.cleaned_data
        assert self.model_row is not None and self.quant_obj is not None
        workload = Workload(
            context_tokens=data["context"],
            prompt_tokens=data["prompt_tokens"],
            concurrent_sequences=data["batch"],
            kv_cache_bits=KV_CACHE_BITS[data["kv_quant"]],
            mode=data["mode"],
        )
        return BuildRequest(
            model=adapters.model_arch(self.model_row),
            quant=self.quant_obj,
            workload=workload,
            engine=data["engine"],
            budget=data.get("budget"),
            min_tps=float(data["min_tps"]),
            min_prefill_tps=float(data["min_prefill_tps"]),
            max_watts=data.get("max_watts"),
            allow_used=data["allow_used"],
            form=data["form"],
            objective=data["objective"],
            stack=data["stack"],
            must_include=tuple(
                dict.fromkeys(s.partition(":")[0] for s in data.get("must_include") or ())
            ),
            limit=data["limit"],
            kwh_price=data["kwh_price"],
            cloud_price_per_mtok=data.get("cloud_price_per_mtok"),
            hours_per_day=float(data["hours_per_day"]),
            model_slug=self.model_row.slug,
            model_name=self.model_row.name,
            backend=data.get("backend") or None,
            threads=data.get("threads"),
            expert_offload=options.expert_offload(data.get("expert_offload")),
            spec_decode=self.spec,
            draft=self.draft,
        )

    def query_string(self) -> str:
        """The cleaned parameters that differ from the defaults, as a query string."""
        from urllib.parse import urlencode

        data = self.cleaned_data
        pairs = []
        for name in self.fields:
            value = data.get(name)
            if value in (None, "", ()) or value == self.DEFAULTS.get(name):
                continue
            if name in self.TRAINING_ONLY and data.get("mode") == "inference":
                continue
            if name == "dataset_tokens":
                value = training_run.tokens_text(value)
            if name == "allow_used":
                if value is True:
                    continue
                value = "false"
            if isinstance(value, tuple):
                value = ",".join(value)
            pairs.append((name, str(value)))
        return urlencode(pairs)


def _context_within(form: forms.Form, data: dict[str, Any], model: LlmModel) -> None:
    """Default the context to the model's maximum when that is short, and reject a
    context beyond it on the ``context`` field."""
    # The engine's own ceiling too: Llama 4 Scout claims 10,485,760 tokens.
    limit = min(int(model.max_context), MAX_CONTEXT_TOKENS)
    context = data.get("context")
    if context is None:
        data["context"] = min(DEFAULT_CONTEXT, limit)
    elif context > limit:
        whose = f"the maximum of {model.name}"
        if limit < model.max_context:
            whose = "the most the estimator models"
        form.add_error(
            "context", f"context must be from 1 to {limit:,} tokens, {whose} (got {context:,})."
        )


def _engine_field(message: str, fields: Any) -> str | None:
    """The field an estimator message names (``None``, the whole form, otherwise)."""
    field = engine_field(message)
    return field if field in fields else None


def errors_by_field(form: forms.Form) -> dict[str, list[str]]:
    """A form's errors as plain messages per field (``__all__`` for the rest)."""
    return {field: [str(m) for m in messages] for field, messages in form.errors.items()}


def errors_as_flags(errors: dict[str, list[str]]) -> str:
    """Errors per field as command-line lines: ``--min-tps: message``."""
    lines = []
    for field, messages in errors.items():
        flag = "--" + field.replace("_", "-") if field != "__all__" else "input"
        lines.extend(f"{flag}: {message}" for message in messages)
    return "\n".join(lines)


# The estimate form ----------------------------------------------------------------------


@dataclass
class EstimateInput:
    """What ``/api/estimate`` resolved: the machine and the names it was built from."""

    machine: Machine
    model: LlmModel
    quant: Quant
    workload: Workload
    engine: str
    split: str | None
    hardware: list[dict[str, Any]]
    backend: str | None = None
    expert_offload: int | str | None = None
    threads: int | None = None
    spec_decode: Any = None
    draft: Any = None
    framework: str | None = None
    dataset: training_run.Dataset = training_run.Dataset()


def join_repeated(data: Any, repeatable: dict[str, str]) -> Any:
    """``data`` with each parameter of ``repeatable`` given several times (``?gpu=a&gpu=b``)
    joined into one value by its separator, as the form's field parses it."""
    if not isinstance(data, QueryDict):
        return data
    merged = data.copy()
    for name, joiner in repeatable.items():
        values = [v for v in data.getlist(name) if v.strip()]
        if len(values) > 1:
            merged.setlist(name, [joiner.join(values)])
    return merged


class EstimateForm(forms.Form):
    """Parameters of ``/api/estimate``, as ``manage.py estimate``: ``gpu`` NAME[:COUNT]
    (repeat the parameter or separate with commas), ``cpu`` NAME[:SOCKETS], ``ram_gb``,
    ``ram_mts``, ``ram_channels``, ``system``, ``custom_gpu``
    vram_gb=V,bandwidth_gbs=B,fp16_tflops=F[,tdp_w=W][:COUNT] (repeatable), ``engine``,
    ``split``, ``context``, ``prompt_tokens``, ``batch``, ``kv_quant``, ``mode``."""

    HELP = {
        "model": HELP["model"],
        "quant": HELP["quant"],
        "gpu": "GPU by catalogue slug or name, optionally :COUNT (e.g. 4090:2); repeat the "
        "parameter or separate several with commas.",
        "cpu": "CPU by catalogue slug or name, optionally :SOCKETS (e.g. epyc-9124:2).",
        "ram_gb": "System RAM in GB, 1–65536. Default: every channel populated with the "
        "smallest common DIMM size that holds the model.",
        "ram_mts": "RAM speed in MT/s, 400–20000. Default: the CPU's rated speed.",
        "ram_channels": "Populated memory channels over all sockets, 1–128. Default: all of "
        "the CPU's channels.",
        "system": "A complete (unified-memory) system by catalogue slug or name.",
        "custom_gpu": "A GPU not in the catalogue: vram_gb=V,bandwidth_gbs=B,fp16_tflops=F"
        "[,tdp_w=W][:COUNT]; repeatable.",
        "engine": "Inference engine: " + ", ".join(ENGINES) + ". Default llama.cpp.",
        "split": "Multi-GPU split: layer or tensor. Default: the engine's.",
        "context": HELP["context"],
        "prompt_tokens": HELP["prompt_tokens"],
        "batch": HELP["batch"],
        "kv_quant": HELP["kv_quant"],
        "mode": HELP["mode"],
        **options.HELP,
        "dataset_tokens": HELP["dataset_tokens"],
        "epochs": HELP["epochs"],
    }

    model = forms.CharField(required=False, max_length=300, help_text=HELP["model"])
    quant = forms.CharField(required=False, max_length=40, help_text=HELP["quant"])
    gpu = forms.CharField(required=False, max_length=2000, help_text=HELP["gpu"])
    cpu = forms.CharField(required=False, max_length=300, help_text=HELP["cpu"])
    ram_gb = forms.FloatField(
        required=False,
        min_value=1,
        max_value=65536,
        help_text=HELP["ram_gb"],
        error_messages=_num_messages("ram_gb", 1, 65536, " GB"),
    )
    ram_mts = forms.IntegerField(
        required=False,
        min_value=400,
        max_value=20000,
        help_text=HELP["ram_mts"],
        error_messages=_num_messages("ram_mts", 400, 20000, " MT/s", whole=True),
    )
    ram_channels = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=128,
        help_text=HELP["ram_channels"],
        error_messages=_num_messages("ram_channels", 1, 128, whole=True),
    )
    system = forms.CharField(required=False, max_length=300, help_text=HELP["system"])
    custom_gpu = forms.CharField(required=False, max_length=2000, help_text=HELP["custom_gpu"])
    engine = forms.ChoiceField(
        required=False,
        choices=[(e, e) for e in ENGINES],
        help_text=HELP["engine"],
        error_messages={
            "invalid_choice": f"engine must be one of {', '.join(ENGINES)} (got %(value)s)."
        },
    )
    split = forms.ChoiceField(
        required=False,
        choices=[(s, s) for s in SPLITS],
        help_text=HELP["split"],
        error_messages={"invalid_choice": "split must be one of layer, tensor (got %(value)s)."},
    )
    context = _int("context", 1, None, " tokens")
    prompt_tokens = _int("prompt_tokens", 1, None, " tokens")
    batch = _int("batch", 1, MAX_BATCH)
    kv_quant = _choice("kv_quant", KV_QUANTS)
    mode = _choice("mode", MODES)
    expert_offload = forms.CharField(
        required=False, max_length=10, help_text=options.HELP["expert_offload"]
    )
    backend = _choice("backend", options.BACKEND_CHOICES)
    threads = _int("threads", 1, 4096)
    custom_cpu = forms.CharField(
        required=False, max_length=300, help_text=options.HELP["custom_cpu"]
    )
    custom_system = forms.CharField(
        required=False, max_length=300, help_text=options.HELP["custom_system"]
    )
    spec_decode = forms.CharField(
        required=False, max_length=300, help_text=options.HELP["spec_decode"]
    )
    acceptance_rate = _float("acceptance_rate", 0.0, 0.99)
    framework = _choice("framework", options.FRAMEWORK_CHOICES)
    dataset_tokens = TokensField(name="dataset_tokens", help_text=HELP["dataset_tokens"])
    epochs = _int("epochs", 1, training_run.MAX_EPOCHS)

    # Parameters that may be given several times, and the separator that joins them.
    REPEATABLE = {"gpu": ",", "custom_gpu": ";"}

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(join_repeated(data, self.REPEATABLE), *args, **kwargs)
        self.resolved: EstimateInput | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        model = quant = None
        try:
            model = resolve_model(data.get("model") or "")
        except forms.ValidationError as exc:
            self.add_error("model", exc)
        try:
            quant = resolve_quant(data.get("quant") or "")
        except forms.ValidationError as exc:
            self.add_error("quant", exc)
        hardware: list[dict[str, Any]] = []
        gpus: list[tuple[EngineGpu, int]] = []
        for chunk in [c for c in (data.get("gpu") or "").split(",") if c.strip()]:
            name, count = _name_count("gpu", chunk, 8 * 8)
            if count is None:
                self.add_error("gpu", f"gpu {chunk!r}: the count after ':' must be 1–64.")
                continue
            try:
                row = resolve_parts(name, Part.Kind.GPU)
            except forms.ValidationError as exc:
                self.add_error("gpu", exc)
                continue
            part = adapters.part_of(Gpu.objects.get(pk=row.pk), None)
            if not isinstance(part, GpuPart):
                self.add_error("gpu", f"gpu {row.slug} lacks the specs an estimate needs.")
                continue
            gpus.append((part.engine_gpu, count))
            hardware.append({"kind": "gpu", "slug": row.slug, "name": str(row), "count": count})
        for chunk in [c for c in (data.get("custom_gpu") or "").split(";") if c.strip()]:
            try:
                gpu, count = _custom_gpu(chunk)
            except ValueError as exc:
                self.add_error("custom_gpu", str(exc))
                continue
            gpus.append((gpu, count))
            hardware.append({"kind": "gpu", "slug": "", "name": gpu.name, "count": count})
        unified = None
        if data.get("system"):
            try:
                row = resolve_parts(data["system"], Part.Kind.SYSTEM)
                part = adapters.part_of(CompleteSystem.objects.get(pk=row.pk), None)
                if isinstance(part, SystemPart):
                    unified = part.engine_system
                    hardware.append(
                        {"kind": "system", "slug": row.slug, "name": str(row), "count": 1}
                    )
                else:
                    self.add_error(
                        "system", f"system {row.slug} lacks the specs an estimate needs."
                    )
            except forms.ValidationError as exc:
                self.add_error("system", exc)
        cpu_system = None
        if data.get("cpu"):
            name, sockets = _name_count("cpu", data["cpu"], 8)
            if sockets is None:
                self.add_error("cpu", "cpu: the socket count after ':' must be 1–8.")
            else:
                try:
                    row = resolve_parts(name, Part.Kind.CPU)
                    part = adapters.part_of(Cpu.objects.get(pk=row.pk), None)
                    assert isinstance(part, CpuPart)
                    if sockets > part.max_sockets:
                        self.add_error(
                            "cpu", f"cpu {row.slug} runs in at most {part.max_sockets} socket(s)."
                        )
                    elif model is not None and quant is not None:
                        cpu_system = _cpu_system(part, sockets, data, model, quant, self)
                        hardware.append(
                            {"kind": "cpu", "slug": row.slug, "name": str(row), "count": sockets}
                        )
                except forms.ValidationError as exc:
                    self.add_error("cpu", exc)
        if data.get("custom_system"):
            try:
                unified = options.custom_system(data["custom_system"])
                hardware.append({"kind": "system", "slug": "", "name": unified.name, "count": 1})
            except ValueError as exc:
                self.add_error("custom_system", str(exc))
        if data.get("custom_cpu"):
            if data.get("cpu"):
                self.add_error("custom_cpu", "custom_cpu: give cpu or custom_cpu, not both.")
            else:
                try:
                    cpu_system = options.custom_cpu(data["custom_cpu"])
                    data["cpu"] = cpu_system.name
                    hardware.append(
                        {
                            "kind": "cpu",
                            "slug": "",
                            "name": cpu_system.name,
                            "count": cpu_system.sockets,
                        }
                    )
                except ValueError as exc:
                    self.add_error("custom_cpu", str(exc))
        if unified is not None and (gpus or data.get("cpu")):
            self.add_error(
                "system",
                "system: a complete system already has its CPU and GPU; leave gpu and cpu empty.",
            )
        if not gpus and not data.get("cpu") and unified is None and not self.errors:
            self.add_error("gpu", "gpu, cpu, system or custom_gpu: give at least one.")
        if model is not None:
            _context_within(self, data, model)
        context = data.get("context") or DEFAULT_CONTEXT
        if data.get("prompt_tokens") is None:
            data["prompt_tokens"] = min(DEFAULT_PROMPT, context)
        elif data["prompt_tokens"] > context:
            self.add_error(
                "prompt_tokens",
                f"prompt_tokens must be from 1 to {context:,} (the context) "
                f"(got {data['prompt_tokens']:,}).",
            )
        if self.errors or model is None or quant is None:
            return data
        try:
            machine = Machine(gpus=tuple(gpus), cpu=cpu_system, unified=unified)
            workload = Workload(
                context_tokens=data["context"],
                prompt_tokens=data["prompt_tokens"],
                concurrent_sequences=data.get("batch") or 1,
                kv_cache_bits=KV_CACHE_BITS[data.get("kv_quant") or "F16"],
                mode=data.get("mode") or "inference",
            )
        except ValueError as exc:
            self.add_error(None, str(exc))
            return data
        extras = self._more_options(data)
        if extras is None:
            return data
        self.resolved = EstimateInput(
            machine=machine,
            model=model,
            quant=quant,
            workload=workload,
            engine=data.get("engine") or "llama.cpp",
            split=data.get("split") or None,
            hardware=hardware,
            **extras,
        )
        return data

    def _more_options(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """The parsed "more options" (None after adding a field error)."""
        try:
            offload = options.expert_offload(data.get("expert_offload"))
        except ValueError as exc:
            self.add_error("expert_offload", str(exc))
            return None
        try:
            spec = options.spec_decode(data.get("spec_decode"), data.get("acceptance_rate"))
        except ValueError as exc:
            self.add_error("spec_decode", str(exc))
            return None
        draft = None
        if spec is not None and spec.method == "draft":
            try:
                draft_model = resolve_model(spec.draft_model)
            except forms.ValidationError as exc:
                self.add_error("spec_decode", exc)
                return None
            draft = (adapters.model_arch(draft_model), self.resolved_quant(data))
        return {
            "backend": data.get("backend") or None,
            "expert_offload": offload,
            "threads": data.get("threads"),
            "spec_decode": spec,
            "draft": draft,
            "framework": data.get("framework") or None,
            "dataset": training_run.dataset_of(data),
        }

    @staticmethod
    def resolved_quant(data: dict[str, Any]) -> Quant:
        """The quant typed (the draft model runs at the same one)."""
        return resolve_quant(data.get("quant") or "")


def _name_count(field: str, text: str, high: int) -> tuple[str, int | None]:
    name, sep, count = text.strip().rpartition(":")
    if not sep:
        return text.strip(), 1
    try:
        value = int(count)
    except ValueError:
        return text.strip(), 1 if not count.strip() else None
    return name.strip(), value if 1 <= value <= high else None


def _custom_gpu(text: str) -> tuple[EngineGpu, int]:
    spec, _, count_text = text.strip().partition(":")
    count = 1
    if count_text.strip():
        if not count_text.strip().isdigit() or not 1 <= int(count_text) <= 64:
            raise ValueError(f"custom_gpu: the count after ':' must be 1–64 (got {count_text!r}).")
        count = int(count_text)
    values: dict[str, float] = {}
    text_values: dict[str, str] = {}
    for pair in spec.split(","):
        key, _, value = pair.partition("=")
        key = key.strip()
        if key in ("vendor", "memory"):
            text_values[key] = value.strip()
            continue
        if key not in ("vram_gb", "bandwidth_gbs", "fp16_tflops", "tdp_w"):
            raise ValueError(
                "custom_gpu takes vram_gb=V,bandwidth_gbs=B,fp16_tflops=F[,tdp_w=W]"
                f"[,vendor=nvidia|amd|intel][,memory=GDDR6X|HBM3|…][:COUNT] (got {key!r})."
            )
        try:
            values[key] = float(value)
        except ValueError:
            raise ValueError(f"custom_gpu: {key} must be a number (got {value!r}).") from None
    missing = [k for k in ("vram_gb", "bandwidth_gbs", "fp16_tflops") if k not in values]
    if missing:
        raise ValueError("custom_gpu: missing " + ", ".join(missing) + ".")
    try:
        gpu = EngineGpu(
            name=f"custom {values['vram_gb']:g} GB GPU",
            vram_gb=values["vram_gb"],
            bandwidth_gbs=values["bandwidth_gbs"],
            fp16_tflops=values["fp16_tflops"],
            tdp_w=values.get("tdp_w", 300.0),
            vendor=options.gpu_vendor(text_values.get("vendor", "nvidia")),
            memory_type=text_values.get("memory", ""),
        )
    except ValueError as exc:
        message = str(exc)
        raise ValueError(
            message if message.startswith("custom_gpu") else f"custom_gpu: {exc}"
        ) from None
    return gpu, count


DIMM_SIZES = (8, 16, 32, 48, 64, 96, 128, 256)


def _cpu_system(
    cpu: CpuPart,
    sockets: int,
    data: dict[str, Any],
    model: LlmModel,
    quant: Quant,
    form: forms.Form,
) -> CpuSystem | None:
    channels = data.get("ram_channels") or cpu.memory_channels * sockets
    mts = data.get("ram_mts") or cpu.max_memory_mts or 4800
    ram_gb = data.get("ram_gb")
    if ram_gb is None:
        arch: ModelArch = adapters.model_arch(model)
        need_gb = arch.total_params_b * quant.bits_per_weight / 8 + 8
        sizes = [s * channels for s in DIMM_SIZES if s * channels * 2**30 / 1e9 >= need_gb]
        ram_gb = float(sizes[0] if sizes else DIMM_SIZES[-1] * channels)
    try:
        return CpuSystem(
            name=cpu.name,
            sockets=sockets,
            cores_per_socket=cpu.cores,
            memory_channels=int(channels),
            memory_mts=float(mts),
            ram_gb=float(ram_gb),
            fp32_gflops_per_socket=cpu.gflops,
            tdp_w_per_socket=cpu.power_w,
            memory_type=cpu.memory_type if cpu.memory_type in ("DDR4", "DDR5") else "DDR5",
            ccds_per_socket=options.ccds(cpu.name),
        )
    except ValueError as exc:
        form.add_error("cpu", f"cpu: {exc}")
        return None
