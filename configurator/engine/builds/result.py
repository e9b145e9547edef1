"""What the build generator returns: priced, checked, estimated builds, near misses,
and what to relax when nothing qualifies. Every class has ``to_dict()`` giving the JSON
the API, the command line and the web pages share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..results import Estimate
from .parts import KIND_LABELS, KINDS, Part
from .request import OBJECTIVE_LABELS, BuildRequest
from .rules import RULES, Finding, rule_records

CENT = Decimal("0.01")
DAYS_PER_MONTH = 365.25 / 12


def money(value: Decimal | None) -> str | None:
    """A Decimal as a string with two decimals (JSON keeps money exact as text)."""
    if value is None:
        return None
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _num(value: float | None, digits: int = 3) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, infinity) replaced by None, so that
    it is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def parts_param(items: Sequence[tuple[Part, int]] | Sequence[tuple[str, int]]) -> str:
    """The URL form of a parts list: ``slug:qty`` pairs joined by commas, in kind order
    (system, GPUs, CPU, board, memory, cooler, PSU, case, storage), then slug."""
    order = {kind: i for i, kind in enumerate(KINDS)}
    pairs = []
    for part, qty in items:
        if isinstance(part, Part):
            pairs.append((order.get(part.kind, 99), part.slug, qty))
        else:
            pairs.append((99, str(part), qty))
    pairs.sort(key=lambda p: (p[0], p[1]))
    return ",".join(f"{slug}:{qty}" for _, slug, qty in pairs)


def parse_parts_param(text: str) -> list[tuple[str, int]]:
    """``"a:2,b:1"`` → ``[("a", 2), ("b", 1)]``; a slug without ``:qty`` counts once.

    Raises ``ValueError`` starting with ``parts`` and saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("parts must list part slugs with quantities, e.g. 'slug-a:2,slug-b:1'")
    result: dict[str, int] = {}
    for chunk in text.split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        slug, _, qty_text = chunk.partition(":")
        slug = slug.strip()
        if not slug:
            raise ValueError(f"parts: {chunk!r} has no part slug")
        try:
            qty = int(qty_text) if qty_text.strip() else 1
        except ValueError:
            raise ValueError(
                f"parts: quantity of {slug!r} must be a whole number from 1 to 64 "
                f"(got {qty_text!r})"
            ) from None
        if not 1 <= qty <= 64:
            raise ValueError(f"parts: quantity of {slug!r} must be from 1 to 64 (got {qty})")
        result[slug] = result.get(slug, 0) + qty
    if not result:
        raise ValueError("parts must list at least one part, e.g. 'slug-a:2,slug-b:1'")
    return list(result.items())


@dataclass(frozen=True)
class Line:
    """One row of a build's parts table."""

    slug: str
    name: str
    kind: str
    qty: int
    unit_price: Decimal | None
    currency: str
    origin: str
    age_days: int | None
    retailer: str
    url: str
    stale: bool
    condition: str = "new"
    observed_at: str = ""

    @property
    def line_total(self) -> Decimal | None:
        return None if self.unit_price is None else self.unit_price * self.qty

    @classmethod
    def of(cls, part: Part, qty: int, currency: str) -> Line:
        price = part.price
        return cls(
            slug=part.slug,
            name=part.label,
            kind=part.kind,
            qty=qty,
            unit_price=price.amount if price else None,
            currency=price.currency if price else currency,
            origin=price.origin if price else "",
            age_days=price.age_days if price else None,
            retailer=price.retailer if price else "",
            url=price.url if price else "",
            stale=price.stale if price else False,
            condition=part.condition,
            observed_at=price.observed_at if price else "",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "kind": self.kind,
            "kind_label": KIND_LABELS.get(self.kind, self.kind),
            "qty": self.qty,
            "condition": self.condition,
            "unit_price": money(self.unit_price),
            "line_total": money(self.line_total),
            "currency": self.currency,
            "origin": self.origin,
            "age_days": self.age_days,
            "observed_at": self.observed_at or None,
            "retailer": self.retailer,
            "url": self.url,
            "stale": self.stale,
        }


@dataclass(frozen=True)
class Shortfall:
    """A target a build misses: ``constraint`` names the request field (or ``memory``),
    ``amount`` how much is missing in that field's unit, ``message`` says it in words."""

    constraint: str
    message: str
    amount: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"constraint": self.constraint, "message": self.message, "amount": _num(self.amount)}


def _slug(line: Line) -> str:
    return line.slug


@dataclass
class Build:
    """A complete build: its parts, price, compatibility findings and estimate."""

    architecture: str
    lines: list[Line]
    total: Decimal | None
    currency: str
    findings: list[Finding]
    estimate: Estimate | None
    engine: str
    request: BuildRequest
    title: str = ""
    tokens_per_s: float = 0.0
    peak_power_w: float = 0.0
    shortfalls: list[Shortfall] = field(default_factory=list)
    rank: int | None = None
    rank_reason: str = ""
    pareto: bool = False
    summary: str = ""
    checked: bool = True
    parallel: list[Finding] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Stable identity that round-trips through a URL: ``slug:qty`` pairs in slug
        order, as :func:`parts_param` gives a list of slugs (sorted once, here)."""
        return ",".join(f"{line.slug}:{line.qty}" for line in sorted(self.lines, key=_slug))

    @property
    def parts_param(self) -> str:
        return self.key

    def _ordered(self) -> list[Line]:
        order = {kind: i for i, kind in enumerate(KINDS)}
        return sorted(self.lines, key=lambda line: (order.get(line.kind, 99), line.slug))

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.ok is False]

    @property
    def compatible(self) -> bool:
        return not self.violations

    @property
    def rules(self) -> list[dict[str, str]]:
        """Every rule that applies, as ``{name, status, detail}`` (status fail, unknown,
        warn or pass)."""
        kinds = {line.kind for line in self.lines}
        return rule_records(self.findings, "gpu" in kinds, "system" in kinds)

    @property
    def unknown_rules(self) -> int:
        """Rules that could not be verified (a build with none ranks first among equals)."""
        return sum(1 for f in {f.rule for f in self.findings if f.status == "unknown"})

    @property
    def fits(self) -> bool:
        return (
            self.estimate is not None
            and self.estimate.fits
            and not any(s.constraint == "memory" for s in self.shortfalls)
        )

    @property
    def meets_targets(self) -> bool:
        """Compatible, fits, and meets every constraint of the request."""
        return self.compatible and self.estimate is not None and not self.shortfalls

    @property
    def decode_tokens_per_s(self) -> float:
        return self.estimate.decode_tokens_per_s if self.estimate else 0.0

    @property
    def power_w(self) -> float:
        return self.estimate.power_w if self.estimate else 0.0

    @property
    def kwh_per_million_tokens(self) -> float | None:
        if self.estimate is None:
            return None
        value = self.estimate.kwh_per_million_tokens
        return value if math.isfinite(value) else None

    @property
    def electricity_cost_per_mtok(self) -> Decimal | None:
        """Electricity for a million generated tokens at the request's price per kWh."""
        kwh = self.kwh_per_million_tokens
        if kwh is None:
            return None
        return (Decimal(str(kwh)) * self.request.kwh_price).quantize(Decimal("0.0001"))

    @property
    def monthly_million_tokens(self) -> float:
        """Millions of tokens a month at the aggregate rate for ``hours_per_day``."""
        if self.estimate is None:
            return 0.0
        rate = self.estimate.aggregate_tokens_per_s
        if self.estimate.spec_decode and self.estimate.concurrent_sequences == 1:
            rate = float(self.estimate.spec_decode["decode_tokens_per_s"])
        return rate * 3600 * self.request.hours_per_day * DAYS_PER_MONTH / 1e6

    @property
    def break_even_months(self) -> float | None:
        """Months until the build costs less than paying the cloud price for the same
        tokens (electricity included); None when the cloud is cheaper per token."""
        if self.total is None or self.estimate is None:
            return None
        electricity = self.electricity_cost_per_mtok
        if electricity is None:
            return None
        saving = float(self.request.cloud_price - electricity) * self.monthly_million_tokens
        if saving <= 0:
            return None
        return float(self.total) / saving

    @property
    def tokens_per_s_per_kusd(self) -> float:
        if not self.total:
            return 0.0
        return self.tokens_per_s / float(self.total) * 1000

    def brief_dict(self) -> dict[str, Any]:
        """What a list of builds shows of one (a link, its price and speed, what it
        misses): those keys of :meth:`to_dict`, as it gives them, without the parts
        lines, the estimate and the rules."""
        return finite(
            {
                "key": self.key,
                "parts_param": self.parts_param,
                "title": self.title,
                "summary": self.summary,
                "architecture": self.architecture,
                "engine": self.engine,
                "meets_targets": self.meets_targets,
                "total": money(self.total),
                "currency": self.currency,
                "tokens_per_s": _num(self.tokens_per_s),
                "shortfalls": [s.to_dict() for s in self.shortfalls],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        est = self.estimate
        estimate: dict[str, Any] | None = None
        if est is not None:
            estimate = est.to_dict()
            estimate.update(
                {
                    "tokens_per_s": _num(self.tokens_per_s),
                    "per_sequence_tokens_per_s": _num(
                        est.aggregate_tokens_per_s / max(est.concurrent_sequences, 1)
                    ),
                    "peak_power_w": _num(self.peak_power_w, 1),
                    "electricity_cost_per_mtok": money(self.electricity_cost_per_mtok)
                    if self.electricity_cost_per_mtok is not None
                    else None,
                    "electricity_cost_per_mtok_exact": str(self.electricity_cost_per_mtok)
                    if self.electricity_cost_per_mtok is not None
                    else None,
                    "kwh_price": str(self.request.kwh_price),
                    "cloud_price_per_mtok": str(self.request.cloud_price),
                    "hours_per_day": self.request.hours_per_day,
                    "monthly_million_tokens": _num(self.monthly_million_tokens),
                    "break_even_months": _num(self.break_even_months, 1),
                }
            )
        return finite(
            {
                "key": self.key,
                "parts_param": self.parts_param,
                "title": self.title,
                "summary": self.summary,
                "architecture": self.architecture,
                "engine": self.engine,
                "rank": self.rank,
                "rank_reason": self.rank_reason,
                "meets_targets": self.meets_targets,
                "pareto": self.pareto,
                "total": money(self.total),
                "currency": self.currency,
                "tokens_per_s": _num(self.tokens_per_s),
                "tokens_per_s_per_1000": _num(self.tokens_per_s_per_kusd),
                "lines": [line.to_dict() for line in self._ordered()],
                "estimate": estimate,
                "rules": self.rules,
                "compatibility": {
                    "ok": self.compatible,
                    "violations": [f.to_dict() for f in self.violations],
                    "notes": [f.to_dict() for f in self.findings if f.ok is not False],
                },
                "shortfalls": [s.to_dict() for s in self.shortfalls],
            }
        )


@dataclass
class NearMiss:
    """A build that was excluded, and why (its first shortfall is the headline)."""

    build: Build

    @property
    def reason(self) -> str:
        return "; ".join(s.message for s in self.build.shortfalls + [])  # noqa: RUF005

    @property
    def reasons(self) -> list[Shortfall]:
        return list(self.build.shortfalls)

    def to_dict(self) -> dict[str, Any]:
        data = self.build.to_dict()
        data["reason"] = self.reason
        return data


@dataclass(frozen=True)
class Relaxation:
    """A constraint to relax so that something qualifies: ``field`` is the request
    field, ``current`` its value, ``suggested`` the value that would give a build."""

    field: str
    current: str
    suggested: str
    message: str
    example: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "current": self.current,
            "suggested": self.suggested,
            "message": self.message,
            "example_key": self.example or None,
        }


@dataclass
class Recommendation:
    """Ranked builds for a request, with near misses, the Pareto front of cost against
    speed, and — when nothing qualifies — which constraints to relax."""

    request: BuildRequest
    builds: list[Build]
    near_misses: list[NearMiss]
    relax: list[Relaxation]
    pareto: list[Build]
    prices_as_of: str
    currency: str
    notes: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    trade_offs: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        req = self.request
        wl = req.workload
        return {
            "request": {
                "model": req.model_slug or req.model.name,
                "model_name": req.model_name or req.model.name,
                "approximate_model": req.model.approximate,
                "quant": req.quant.name,
                "bits_per_weight": req.quant.bits_per_weight,
                "context": wl.context_tokens,
                "prompt_tokens": wl.prompt_tokens,
                "batch": wl.concurrent_sequences,
                "mode": wl.mode,
                "kv_cache_bits": wl.kv_cache_bits,
                "engine": req.engine,
                "budget": money(req.budget),
                "min_tps": req.min_tps,
                "min_prefill_tps": req.min_prefill_tps,
                "max_watts": req.max_watts,
                "allow_used": req.allow_used,
                "form": req.form,
                "objective": req.objective,
                "objective_label": OBJECTIVE_LABELS[req.objective],
                "stack": req.stack,
                "must_include": list(req.must_include),
                "limit": req.limit,
                "kwh_price": str(req.kwh_price),
                "cloud_price_per_mtok": str(req.cloud_price),
                "hours_per_day": req.hours_per_day,
                "backend": req.backend,
                "threads": req.threads,
                "expert_offload": req.expert_offload,
                "spec_decode": spec_dict(req),
            },
            "currency": self.currency,
            "prices_as_of": self.prices_as_of or None,
            "builds": [b.to_dict() for b in self.builds],
            "near_misses": [n.to_dict() for n in self.near_misses],
            "relax": [r.to_dict() for r in self.relax],
            "pareto": [b.key for b in self.pareto],
            "trade_offs": [t.to_dict() for t in self.trade_offs],
            "notes": list(self.notes),
            "rules": dict(RULES),
            "stats": dict(self.stats),
        }


def spec_dict(req: BuildRequest) -> dict[str, Any] | None:
    """The request's speculative decoding as JSON (None without it)."""
    spec = req.spec_decode
    if spec is None:
        return None
    return {
        "method": spec.method,
        "draft_model": spec.draft_model or None,
        "draft_tokens": spec.k,
        "acceptance_rate": spec.alpha,
    }
