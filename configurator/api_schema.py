"""JSON Schemas of the API's responses, generated from the result types.

Two kinds of result type describe what the API sends:

- the engine's dataclasses whose ``to_dict`` is ``dataclasses.asdict`` (``Estimate``,
  ``DeviceMemory``, ``TrainingReport``, ``Finding``, ``Shortfall``): their schema is read
  from the dataclass fields and type hints, so **a field added to the dataclass is
  documented without touching this file**;
- the hand-written ``to_dict`` methods of the build generator (``Build``, ``Line``,
  ``Recommendation``, ...): each has a ``TypedDict`` here (``BuildJSON`` ...) listing its
  keys and types, registered in ``SHAPES``. A key added to such a ``to_dict`` must be
  added to its TypedDict: the contract test (``tests/configurator/test_api_contract.py``)
  validates real responses against the served document with
  ``additionalProperties: false`` and every key required, and names the missing key.

Types map to JSON Schema as: ``bool`` boolean, ``int`` integer, ``float`` number or null
(a non-finite float is sent as null), ``str`` string, ``Money`` a decimal string,
``X | None`` X or null, ``list``/``tuple[X, ...]`` arrays, ``dict[str, X]`` objects of X,
``Annotated[..., OneOf(values)]`` an enum, ``Annotated[..., Doc(text)]`` a description.
The document is OpenAPI 3.1, whose schemas are JSON Schema 2020-12.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import types
import typing
from collections import abc
from dataclasses import dataclass
from typing import (
    Annotated,
    Any,
    Literal,
    TypedDict,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from configurator.engine.builds.parts import KINDS
from configurator.engine.builds.request import ARCHITECTURES, FORMS, OBJECTIVES, STACKS
from configurator.engine.builds.result import Shortfall
from configurator.engine.builds.rules import RULES, Finding
from configurator.engine.results import DeviceMemory, Estimate, TrainingReport
from configurator.engine.spec import METHODS as SPEC_METHODS
from configurator.engine.workload import MODES


@dataclass(frozen=True)
class OneOf:
    """Annotated marker: the value is one of these."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Doc:
    """Annotated marker: a description."""

    text: str


@dataclass(frozen=True)
class Fmt:
    """Annotated marker: a string format (``decimal``, ``date-time``)."""

    name: str


Money = Annotated[str | None, Fmt("decimal"), Doc("Money: a decimal string; null if unknown.")]
DecimalText = Annotated[str, Fmt("decimal")]


# Shapes of the hand-written to_dict() methods ---------------------------------------------


class LineJSON(TypedDict):
    slug: str
    name: str
    kind: Annotated[str, OneOf(KINDS)]
    kind_label: str
    qty: int
    condition: str
    unit_price: Money
    line_total: Money
    currency: str
    origin: Annotated[str, OneOf(("scrape", "manual", "reference", ""))]
    age_days: int | None
    observed_at: Annotated[str | None, Fmt("date-time")]
    retailer: str
    url: str
    stale: bool


class CompatibilityJSON(TypedDict):
    ok: bool
    violations: list[Finding]
    notes: list[Finding]


class TrainingRunJSON(TypedDict):
    """A fine-tuning run over the user's dataset (null for inference): hours = tokens x
    epochs / training tokens/s. Energy and electricity only where the estimate has a
    training power (``power_w``); null otherwise, never the decode power."""

    dataset_tokens: Annotated[int, Doc("Tokens per epoch (the default when not stated).")]
    dataset_tokens_assumed: Annotated[
        bool, Doc("True when no dataset_tokens was given and the default 10M is assumed.")
    ]
    epochs: int
    total_tokens: Annotated[int, Doc("dataset_tokens x epochs.")]
    tokens_per_s: Annotated[float, Doc("Training tokens per second.")]
    hours: Annotated[float, Doc("The whole run, hours.")]
    hours_per_epoch: float
    power_w: Annotated[float | None, Doc("Wall power while training, W; null if unknown.")]
    energy_kwh: float | None
    kwh_price: Annotated[str | None, Fmt("decimal")]
    electricity_cost: Money


class BuildEstimateExtrasJSON(TypedDict):
    """What a build adds to its estimate: costs and the break-even against the cloud."""

    tokens_per_s: float
    per_sequence_tokens_per_s: float
    peak_power_w: float
    electricity_cost_per_mtok: Money
    electricity_cost_per_mtok_exact: Annotated[str | None, Fmt("decimal")]
    kwh_price: DecimalText
    cloud_price_per_mtok: DecimalText
    hours_per_day: float
    monthly_million_tokens: float
    break_even_months: float
    training_run: TrainingRunJSON | None


@dataclass(frozen=True)
class Merged:
    """Annotated marker: a dataclass's fields plus a TypedDict's keys, as one object."""

    name: str
    extra: type


BuildEstimate = Annotated[Estimate, Merged("BuildEstimate", BuildEstimateExtrasJSON)]


class RuleJSON(TypedDict):
    """One feasibility rule as it applies to a build: the worst status its findings give."""

    name: str
    status: Annotated[str, OneOf(("pass", "warn", "fail", "unknown"))]
    detail: str


class BuildJSON(TypedDict):
    key: Annotated[str, Doc("The parts as slug:qty,... (round-trips through ?parts=).")]
    parts_param: str
    title: str
    summary: str
    architecture: Annotated[str, OneOf(ARCHITECTURES)]
    engine: str
    rank: int | None
    rank_reason: str
    meets_targets: bool
    pareto: bool
    total: Money
    currency: str
    tokens_per_s: float
    tokens_per_s_per_1000: float
    lines: list[LineJSON]
    estimate: BuildEstimate | None
    rules: list[RuleJSON]
    compatibility: CompatibilityJSON
    shortfalls: list[Shortfall]


class NearMissJSON(BuildJSON):
    reason: str


class TradeOffReasonJSON(TypedDict):
    kind: Annotated[str, OneOf(("cheapest", "fraction", "half_price", "twice_as_fast"))]
    kinds: list[str]
    label: str


class TradeOffJSON(BuildJSON):
    """A build outside the user's targets on the price/speed front, and why it is shown."""

    trade_off: TradeOffReasonJSON


class RelaxationJSON(TypedDict):
    field: str
    current: str
    suggested: str
    message: str
    example_key: str | None


class RequestSpecJSON(TypedDict):
    """The speculative decoding a build search asked for."""

    method: Annotated[str, OneOf(SPEC_METHODS)]
    draft_model: str | None
    draft_tokens: int
    acceptance_rate: float


class RequestJSON(TypedDict):
    model: str
    model_name: str
    approximate_model: bool
    quant: str
    bits_per_weight: float
    context: int
    prompt_tokens: int
    batch: int
    mode: Annotated[str, OneOf(MODES)]
    kv_cache_bits: float
    engine: str
    budget: Money
    min_tps: float
    min_prefill_tps: float
    max_watts: float
    allow_used: bool
    form: Annotated[str, OneOf(FORMS)]
    objective: Annotated[str, OneOf(OBJECTIVES)]
    objective_label: str
    stack: Annotated[str, OneOf(STACKS)]
    must_include: list[str]
    limit: int
    kwh_price: DecimalText
    cloud_price_per_mtok: DecimalText
    hours_per_day: float
    backend: Annotated[str | None, Doc("Engine backend every build runs on (null: default)")]
    threads: Annotated[int | None, Doc("CPU threads of builds with a host CPU")]
    expert_offload: Annotated[
        int | str | None, Doc("MoE routed experts of N layers, or 'all', in system RAM")
    ]
    spec_decode: RequestSpecJSON | None
    dataset_tokens: Annotated[
        int | None, Doc("Fine-tuning dataset tokens per epoch (null: the default assumed)")
    ]
    epochs: int


class RecommendationJSON(TypedDict):
    request: RequestJSON
    currency: str
    prices_as_of: Annotated[str | None, Fmt("date-time")]
    builds: list[BuildJSON]
    near_misses: list[NearMissJSON]
    trade_offs: list[TradeOffJSON]
    relax: list[RelaxationJSON]
    pareto: Annotated[list[str], Doc("Keys of the builds on the price/speed front.")]
    notes: list[str]
    rules: Annotated[dict[str, str], Doc("Every compatibility rule and what it checks.")]
    stats: Annotated[dict[str, Any], Doc("How the search went (counts, seconds).")]


class HardwareJSON(TypedDict):
    kind: Annotated[str, OneOf(("gpu", "cpu", "system"))]
    slug: str
    name: str
    count: int


class EstimateExtrasJSON(TypedDict):
    """What /api/estimate adds to the engine's estimate: what it ran on."""

    model: str
    model_name: str
    approximate_model: bool
    quant: str
    bits_per_weight: float
    hardware: list[HardwareJSON]
    context: int
    prompt_tokens: int
    batch: int
    training_run: TrainingRunJSON | None


EstimateResult = Annotated[Estimate, Merged("EstimateResult", EstimateExtrasJSON)]


class DecodeTimeJSON(TypedDict):
    part: str
    ms: float


class EvidenceJSON(TypedDict):
    """One published measurement near the estimated setup, with RigRank's prediction."""

    id: str
    metric: str
    setup: str
    measured: float | None
    predicted: float | None
    held_out: Annotated[
        float | None,
        Doc("What the estimator predicts with this measurement's source left out of the fit."),
    ]
    unit: str
    source: str
    date: str | None
    engine: str | None
    test: str | None
    distance: float


class ErrorsJSON(TypedDict):
    errors: Annotated[
        dict[str, list[str]],
        Doc("Messages per parameter, __all__ for the request as a whole."),
    ]


class PartSuggestionJSON(TypedDict):
    slug: str
    name: str
    kind: Annotated[str, OneOf(KINDS)]
    condition: str


class PartsJSON(TypedDict):
    parts: list[PartSuggestionJSON]


class RigHardwareJSON(TypedDict):
    kind: Annotated[str, OneOf(("gpu", "cpu", "memory", "system"))]
    slug: Annotated[str, Doc("Catalogue slug; empty for hardware described by its specs.")]
    name: str
    count: int


class OwnedJSON(TypedDict):
    slug: str
    count: int


class CanRunModelJSON(TypedDict):
    """One catalogue model on the rig: the best format that runs, and how fast."""

    model: str
    model_name: str
    uses: list[str]
    total_params_b: float
    active_params_b: float
    max_context: int | None
    status: str
    quant: str
    bits_per_weight: float
    quality: str
    mean_kld: float
    quality_basis: str
    fits: bool
    fit: str
    headroom_gb: float
    decode_tokens_per_s: float
    prefill_tokens_per_s: float
    time_to_first_token_s: float
    placement: str
    engine: str
    required_gb: float
    bottleneck: str
    formats_tried: int


class LeftOutJSON(TypedDict):
    use: int
    unknown_use: int
    size: int
    context: int


class CanRunJSON(TypedDict):
    hardware: list[RigHardwareJSON]
    owned: list[OwnedJSON]
    tools: list[str]
    notes: list[str]
    engine: str
    min_tps: float
    quality_order: str
    models: list[CanRunModelJSON]
    left_out: Annotated[LeftOutJSON, Doc("Models left out by each filter.")]
    estimates_run: int
    elapsed_ms: float


class HaveJSON(TypedDict):
    slug: str
    qty: int
    name: str


class CurrentRigJSON(TypedDict):
    """The owned parts as they stand, for the same workload."""

    meets_targets: bool
    compatible: bool
    violations: list[str]
    shortfalls: list[str]
    decode_tokens_per_s: float
    tokens_per_s: Annotated[
        float, Doc("The speed the target is checked on (training tokens/s when fine-tuning)")
    ]
    fits: bool
    estimate: Estimate | None


class AddedPartJSON(TypedDict):
    slug: str
    name: str
    kind: Annotated[str, OneOf(KINDS)]
    qty: int
    unit_price: Money


class UpgradeOptionJSON(TypedDict):
    kind: str
    added: list[AddedPartJSON]
    price: DecimalText
    price_text: str
    currency: str
    parts: str
    title: str
    meets_targets: bool
    compatible: bool
    violations: list[str]
    decode_tokens_per_s: float
    tokens_per_s: float
    estimate: Estimate | None


class UpgradeJSON(TypedDict):
    have: list[HaveJSON]
    current: CurrentRigJSON | None
    upgrades: list[UpgradeOptionJSON]
    considered: int
    currency: str
    model: str
    model_name: str
    quant: str
    min_tps: float
    mode: Annotated[str, Doc("inference, or the fine-tuning method (lora, qlora, full)")]
    elapsed_ms: float


# Fields whose to_dict() form differs from the dataclass field's type.
FIELD_OVERRIDES: dict[tuple[type, str], Any] = {
    (Estimate, "decode_time_ms"): list[DecodeTimeJSON],
    (Finding, "rule"): Annotated[str, OneOf(tuple(sorted(RULES)))],
}

# Keys that to_dict() adds beyond the dataclass fields (computed properties).
EXTRA_PROPERTIES: dict[type, dict[str, Any]] = {
    Estimate: {"evidence": list[EvidenceJSON]},
}

# The response of each endpoint, by the result type that produces it.
SHAPES = {
    "Recommendation": RecommendationJSON,
    "Build": BuildJSON,
    "EstimateResult": EstimateResult,
    "Errors": ErrorsJSON,
    "Parts": PartsJSON,
    "CanRun": CanRunJSON,
    "Upgrade": UpgradeJSON,
}

UNDOCUMENTED = "undocumented type"
_NAMED_DATACLASSES = (Estimate, DeviceMemory, TrainingReport, Finding, Shortfall)


class SchemaBuilder:
    """Turns type hints into JSON Schema, collecting named object types as components."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}

    def ref(self, name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def of(self, hint: Any) -> dict[str, Any]:
        """The schema of one type hint."""
        markers: list[Any] = []
        if get_origin(hint) is Annotated:
            hint, *markers = get_args(hint)
        merged = next((m for m in markers if isinstance(m, Merged)), None)
        if merged is not None:
            schema = self.ref(self._merged(hint, merged))
        else:
            schema = self._plain(hint)
        for marker in markers:
            if isinstance(marker, OneOf):
                values = list(marker.values)
                if schema.get("type") == ["string", "null"]:
                    values.append(None)
                schema["enum"] = values
            elif isinstance(marker, Doc):
                schema["description"] = marker.text
            elif isinstance(marker, Fmt):
                schema["format"] = marker.name
        return schema

    def _plain(self, hint: Any) -> dict[str, Any]:
        origin, args = get_origin(hint), get_args(hint)
        if origin in (Union, types.UnionType):
            options = [a for a in args if a is not type(None)]
            nullable = len(options) < len(args)
            inner = (
                self.of(options[0])
                if len(options) == 1
                else {"anyOf": [self.of(a) for a in options]}
            )
            return _nullable(inner) if nullable else inner
        if hint is Any or hint is object:
            return {}
        if origin is Literal:
            return {"enum": list(args)}
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {"enum": [member.value for member in hint]}
        if hint is datetime.datetime:
            return {"type": "string", "format": "date-time"}
        if hint is datetime.date:
            return {"type": "string", "format": "date"}
        if hint is decimal.Decimal:
            return {"type": "string", "format": "decimal"}
        if hint in (list, tuple, set, frozenset):
            return {"type": "array"}
        if hint is dict:
            return {"type": "object"}
        if hint is bool:
            return {"type": "boolean"}
        if hint is int:
            return {"type": "integer"}
        if hint is float:
            # The engine sends a non-finite float (an infinite time, say) as null.
            return {"type": ["number", "null"]}
        if hint is str:
            return {"type": "string"}
        if origin in (list, tuple, set, frozenset, abc.Sequence, abc.Set):
            if origin is tuple and args and args[-1] is not Ellipsis:
                items = [self.of(a) for a in args]
                first = items[0]
                return {
                    "type": "array",
                    "items": first,
                    "minItems": len(items),
                    "maxItems": len(items),
                }
            return {"type": "array", "items": self.of(args[0]) if args else {}}
        if origin in (dict, abc.Mapping):
            value = self.of(args[1]) if len(args) == 2 else {}
            return {"type": "object", "additionalProperties": value}
        if typing.is_typeddict(hint):
            return self.ref(self._typeddict(hint))
        if dataclasses.is_dataclass(hint):
            return self.ref(self._dataclass(hint))
        # Served rather than failing the whole document; the contract test flags it.
        return {"description": f"{UNDOCUMENTED} {hint!r}"}

    def _object(self, properties: dict[str, Any], doc: str = "") -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "required": sorted(properties),
            "additionalProperties": False,
        }
        if doc:
            schema["description"] = " ".join(doc.split())
        return schema

    def _name(self, cls: type) -> str:
        return cls.__name__.removesuffix("JSON")

    def _typeddict(self, cls: type) -> str:
        name = self._name(cls)
        if name not in self.components:
            self.components[name] = {}  # reserve against recursion
            hints = get_type_hints(cls, include_extras=True)
            properties = {key: self.of(hint) for key, hint in hints.items()}
            self.components[name] = self._object(properties, cls.__doc__ or "")
        return name

    def _dataclass_properties(self, cls: type) -> dict[str, Any]:
        hints = get_type_hints(cls, include_extras=True)
        properties = {}
        for f in dataclasses.fields(cls):
            if f.metadata.get("json", True) is False:
                continue  # internal: to_dict() leaves it out
            hint = FIELD_OVERRIDES.get((cls, f.name), hints[f.name])
            properties[f.name] = self.of(hint)
        for key, hint in EXTRA_PROPERTIES.get(cls, {}).items():
            properties[key] = self.of(hint)
        return properties

    def _dataclass(self, cls: type) -> str:
        name = cls.__name__
        if name not in self.components:
            self.components[name] = {}
            properties = self._dataclass_properties(cls)
            self.components[name] = self._object(properties, (cls.__doc__ or "").strip())
        return name

    def _merged(self, cls: type, merged: Merged) -> str:
        if merged.name not in self.components:
            self.components[merged.name] = {}
            properties = self._dataclass_properties(cls)
            extra_hints = get_type_hints(merged.extra, include_extras=True)
            properties.update({key: self.of(hint) for key, hint in extra_hints.items()})
            doc = f"{(cls.__doc__ or '').strip()}\n\n{(merged.extra.__doc__ or '').strip()}"
            self.components[merged.name] = self._object(properties, doc)
        return merged.name


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def response_schemas() -> dict[str, dict[str, Any]]:
    """Every response component, keyed by name (``Build``, ``Recommendation``, ...)."""
    builder = SchemaBuilder()
    for hint in SHAPES.values():
        builder.of(hint)
    for cls in _NAMED_DATACLASSES:
        builder.of(cls)
    return dict(sorted(builder.components.items()))
