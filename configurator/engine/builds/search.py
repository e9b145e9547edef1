"""The build search, as a pipeline of stages (one module each):

1. **Candidates** (:mod:`.candidates`): stubs of every architecture — their deciding
   parts and a lower bound on their price. Dominated parts never become candidates.
2. **Bounds** (:mod:`.bounds`): optimistic decode, prefill and power bounds from the
   estimator's own rate functions, so a candidate that cannot meet a target is never
   estimated.
3. **Ranking** (:mod:`.ranking`): best-first streams in the objective's order complete a
   stub only when it reaches the front and estimate it only when a completed candidate
   is next; a scan stops when no remaining bound can enter the top ``limit``. Then the
   Pareto front of price against speed.
4. **Explanations** (:mod:`.explanations`, :mod:`.tradeoffs`): near misses, what to relax
   when nothing qualifies, the price/speed trade-offs outside the targets, notes.
5. **Assembly** (:mod:`.assembly`): a parts list becomes a priced, checked, estimated
   :class:`~.result.Build`.

:class:`Search` holds what the stages share for one request (the pruned shop, the bounds,
the estimate cache) and runs them in order (:meth:`Search.run`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .. import memory
from ..calibration import load_constants
from ..engines import ENGINES, EngineProfile, engine_profile, tensor_parallel_sizes
from . import explanations, ranking
from .assembly import build_from, fmt_money, has_rack
from .bounds import Bounds
from .candidates import MAX_GPUS, Candidate, CandidateState, all_stubs, stub_template
from .parts import Catalogue, GpuPart, Part
from .platforms import GIB_TO_GB, GpuFacts, Host, MemoryOption, Shop, shop_for
from .request import GPU_SERVER, GPU_TOWER, STACK_NAMES, BuildRequest
from .result import Build, Recommendation
from .rules import OS_RESERVED_GB, Assembly, ModelNeeds, board_positions, check

FAILED = CandidateState.FAILED
# Hard cap on estimates per search (a safety net; normal searches use far fewer).
MAX_ESTIMATES = 1500
# Engines "auto" tries, in order, for each kind of hardware.
AUTO_ORDER = ("llama.cpp", "mlx", "exllamav2", "vllm", "transformers")


@dataclass
class SearchState:
    """Work done so far: estimates run, candidates completed, whether the estimate cap
    cut the search short, and the builds estimated (by key)."""

    estimates: int = 0
    completed: int = 0
    truncated: bool = False
    cache: dict[str, Build] = field(default_factory=dict)
    estimated: list[Build] = field(default_factory=list)


class Search:
    """One recommendation run over a catalogue (see the module docstring)."""

    def __init__(self, catalogue: Catalogue, request: BuildRequest) -> None:
        self.catalogue = catalogue
        self.request = request
        self.currency = catalogue.currency
        self.shop: Shop = shop_for(
            catalogue, request.allow_used, request.form, request.must_include
        )
        self.state = SearchState()
        self.notes: list[str] = []
        self.bounds = Bounds(request, load_constants())
        model, quant = request.model, request.quant
        self.weights_bytes = memory.weights_bytes(model, quant)
        # The KV cache allocated for the whole context, as the bounds count it.
        self.kv_bytes = self.bounds.kv_allocated
        self.embedding_bytes = memory.embedding_bytes(model, quant)
        self.needs = ModelNeeds(self.weights_bytes / 1e9, self.weights_bytes / 1e9)
        self.stacks: frozenset[str] | None = (
            None if request.stack == "any" else frozenset({STACK_NAMES[request.stack]})
        )
        # RAM (binary GB) a GPU build needs to stage the model, and a CPU build to run it.
        self.ram_gpu_gb = self.needs.weights_gb / GIB_TO_GB
        cpu_need = self.weights_bytes + self.kv_bytes + OS_RESERVED_GB * 1e9
        self.ram_cpu_gb = cpu_need / 1e9 / GIB_TO_GB
        self._serial = 0
        self._stubs: list[Candidate] | None = None
        # Per architecture: (estimates seen, the highest speed-to-bound ratio among them).
        self._ratios: dict[str, tuple[int, float]] = {}
        self._tensor: dict[tuple[str, int], bool] = {}
        self._viable: dict[tuple[bool, bool], list[Candidate]] = {}
        # The targets a bound is checked against (read once: checked very often).
        self._budget = request.budget
        self._min_tps = request.min_tps
        self._min_prefill = 0.0 if request.training else request.min_prefill_tps
        self._max_watts = request.max_watts

    def money(self, amount: Decimal | float) -> str:
        """``amount`` in the catalogue's currency, e.g. ``$1,234``."""
        return fmt_money(amount, self.currency)

    # Engines -----------------------------------------------------------------------------

    def engine_for(self, kind: str, vendor: str = "") -> str | None:
        """The engine that runs the request's quant on ``kind`` (gpu, cpu, hybrid,
        unified) hardware from ``vendor``; None if none does."""
        family = self.request.quant.family
        names = [self.request.engine] if self.request.engine != "auto" else AUTO_ORDER
        for name in names:
            profile = ENGINES[name]
            if not profile.accepts(family) or not self._runs_options(profile, kind, vendor):
                continue
            if kind == "cpu" and profile.runs_on_cpu:
                return name
            gpu_kind = kind == "gpu" or (kind == "hybrid" and profile.runs_on_cpu)
            if gpu_kind and vendor in profile.gpu_vendors:
                return name
            if kind == "unified" and vendor in profile.unified_vendors:
                return name
        return None

    def _runs_options(self, profile: EngineProfile, kind: str, vendor: str) -> bool:
        """``profile`` can run the request's backend, speculative decoding and expert
        offload on ``kind`` hardware from ``vendor``."""
        req = self.request
        if req.spec_decode is not None and req.spec_decode.method not in profile.spec_methods:
            return False
        if req.expert_offload is not None and kind in ("gpu", "hybrid"):
            if not profile.expert_offload:
                return False
        if req.backend:
            try:
                profile.check_backend(
                    req.backend, None if kind == "cpu" else vendor, unified=kind == "unified"
                )
            except ValueError:
                return False
        return True

    def tensor_sizes(self, engine: str) -> tuple[int, ...]:
        """GPU counts over which ``engine`` shards the request's model."""
        return tensor_parallel_sizes(engine, self.request.model, MAX_GPUS)

    def tensor(self, cand: Candidate) -> bool:
        """The candidate's GPUs shard every layer (bandwidth adds up)."""
        key = (cand.engine, cand.gpu_count)
        value = self._tensor.get(key)
        if value is None:
            n = key[1]
            value = n > 1 and engine_profile(cand.engine).default_split == "tensor"
            value = self._tensor[key] = value and n in self.tensor_sizes(cand.engine)
        return value

    # Candidates and bounds (stages 1 and 2) ---------------------------------------------

    def stubs(self) -> list[Candidate]:
        """Every candidate of every architecture (built once per search; the stubs and
        their bounds are memoised on the shop for requests with the same model, format,
        workload, engine, stack, form and run options)."""
        if self._stubs is None:
            req = self.request
            key = (
                "stubs", req.model, req.quant, req.workload, req.engine, req.stack, req.form,
                req.run_options,
            )  # fmt: skip
            templates = self.shop.stub_templates.get(key)
            if templates is None:
                self._stubs = all_stubs(self)
                # A fresh stub's fields (made from its template as a constructor call
                # would), copied into each new stub: a dict copy, not a 21-field init.
                self.shop.stub_templates[key] = [
                    vars(Candidate(*stub_template(c))) for c in self._stubs
                ]
            else:
                self._stubs = [self._from_template(t) for t in templates]
        return self._stubs

    def _from_template(self, fields: dict[str, Any]) -> Candidate:
        self._serial += 1
        cand = Candidate.__new__(Candidate)
        cand.__dict__ = fields.copy()
        cand.serial = self._serial
        return cand

    def stub(self, **kwargs: Any) -> Candidate:
        self._serial += 1
        return Candidate(serial=self._serial, **kwargs)

    def bound(self, cand: Candidate) -> None:
        """Set ``cand``'s bounds (again after completion, when its host is known)."""
        self.bounds.bound(cand, self.tensor(cand), self.max_host_peak())

    def max_host_peak(self) -> float:
        """The most FP32 TFLOP/s any host offers (bounds prefill before a host is
        chosen)."""
        key = ("max-host-peak",)
        memo = self.shop._memo
        if key not in memo:
            peaks = (h.cpu.gflops * h.sockets / 1000 for h in self.shop.hosts)
            memo[key] = max(peaks, default=0.0)
        return memo[key]

    def hosts_by_cost(self, ram_gb: float) -> list[tuple[Decimal, Host, MemoryOption]]:
        """Hosts with their cheapest memory holding ``ram_gb``, cheapest first; at equal
        cost a board whose slot layout is listed comes first (a build with an
        unverified rule ranks below an equal one whose rules all pass)."""
        key = ("hosts-by-cost", round(ram_gb, 3))
        memo = self.shop._memo
        if key not in memo:
            rows = []
            for host in self.shop.hosts:
                mem = host.cheapest_memory(ram_gb)
                if mem is not None:
                    rows.append((host.base_cost + mem.cost, host, mem))
            rows.sort(
                key=lambda r: (
                    r[0], board_positions(r[1].board) is None, r[1].board.slug, r[1].cpu.slug
                )
            )  # fmt: skip
            memo[key] = rows
        return memo[key]

    def hosts_seating(
        self, ram_gb: float, width: int, count: int
    ) -> list[tuple[Decimal, Host, MemoryOption, int]]:
        """:meth:`hosts_by_cost` less the hosts whose board cannot seat ``count`` GPUs
        ``width`` slots wide, each with the expansion slots the GPUs cover there
        (memoised on the shop: many GPU sets share a width and count)."""
        key = ("hosts-seating", round(ram_gb, 3), width, count)
        memo = self.shop._memo
        rows = memo.get(key)
        if rows is None:
            rows = []
            for cost, host, mem in self.hosts_by_cost(ram_gb):
                plan = self.shop.slot_plan(host.board, width, count)
                if plan.fits:
                    rows.append((cost, host, mem, plan.case_slots))
            memo[key] = rows
        return rows

    # Completion and estimates (stage 5 for candidates) ---------------------------------

    def complete(self, cand: Candidate) -> bool:
        """Choose the cheapest adequate rest of ``cand``; False if nothing fits."""
        if cand.state is not CandidateState.STUB:
            return cand.complete
        self.state.completed += 1
        done = self._rest_of(cand)
        must = set(self.request.must_include)
        if done is None or (must and not must <= {p.slug for p, _ in done[0]}):
            cand.state = CandidateState.FAILED
            return False
        cand.items, cand.cost = done
        cand.state = CandidateState.COMPLETE
        if cand.gpu_only:
            cand.arch = GPU_SERVER if has_rack(cand.items) else GPU_TOWER
            self.bound(cand)
        return True

    def _rest_of(self, cand: Candidate) -> tuple[tuple[tuple[Part, int], ...], Decimal] | None:
        if cand.system is not None:
            return self.shop.complete_system(cand.system, self.needs.files_gb)
        if cand.gpu_only:
            found = self.host_for_gpus(cand.gpus, self.ram_gpu_gb)
            if found is None:
                return None
            cand.host, cand.memory = found[0], found[1]
            return found[2], found[3]
        if cand.host is not None and cand.memory is not None:
            return self.shop.complete(cand.host, cand.memory, cand.gpus, self.needs.files_gb)
        return None

    def host_for_gpus(
        self, gpus: Sequence[tuple[GpuPart, int]], ram_gb: float
    ) -> tuple[Host, MemoryOption, tuple, Decimal] | None:
        """The host giving the cheapest complete build around ``gpus`` (memoised on the
        shop: it depends only on the catalogue, the GPUs and the model's size)."""
        files_gb = self.needs.files_gb
        key = (
            "host-for",
            tuple((g.slug, q) for g, q in gpus),
            round(ram_gb, 3),
            round(files_gb, 3),
        )
        memo = self.shop._memo
        if key in memo:
            return memo[key]
        best = None
        shop = self.shop
        floor = shop.rest_floor(gpus, files_gb)
        facts = GpuFacts.of(gpus)
        # Only boards that can seat the GPUs: no need to price the rest of the others.
        for platform_cost, host, mem, case_slots in self.hosts_seating(
            ram_gb, facts.width, facts.count
        ):
            if best is not None and platform_cost + floor >= best[3]:
                break
            # Nor when this host's own case, cooler and cheapest adequate supply cannot
            # beat the best build so far.
            lower = shop.host_floor(host, mem, facts, case_slots, files_gb)
            if lower is None or (best is not None and lower >= best[3]):
                continue
            done = shop.complete(host, mem, gpus, files_gb)
            if done is not None and (best is None or done[1] < best[3]):
                best = (host, mem, done[0], done[1])
        memo[key] = best
        return best

    def evaluate(self, cand: Candidate) -> Build:
        """The candidate's build, estimated (once per parts list)."""
        if cand.build is not None:
            return cand.build
        if not self.complete(cand):
            raise ValueError("evaluate: the candidate cannot be completed")
        cached = self.state.cache.get(cand.key)
        if cached is not None:
            cand.build = cached
            return cached
        run = self.state.estimates < MAX_ESTIMATES
        if run:
            self.state.estimates += 1
        else:
            self.state.truncated = True
        build = build_from(
            self, cand.items, cand.arch, cand.engine, cand.gpu_only, run, check_rules=False
        )
        cand.build = self.state.cache[cand.key] = build
        self.state.estimated.append(build)
        if build.estimate is not None and 0 < cand.tps_ub < float("inf"):
            seen, best = self._ratios.get(cand.arch, (0, 0.0))
            self._ratios[cand.arch] = (seen + 1, max(best, build.tokens_per_s / cand.tps_ub))
        return build

    def estimated(self) -> list[Build]:
        """Every build estimated so far."""
        return self.state.estimated

    def viable(self, cands: list[Candidate], budget: bool, targets: bool) -> list[Candidate]:
        """The candidates that are not failed and whose bounds may meet the targets. A
        candidate that fails once fails for good (completing one only raises its price
        and tightens its bounds), so the filtered list of all stubs is kept and
        narrowed as the search goes."""
        full = cands is self._stubs
        key = (budget, targets)
        if full and key in self._viable:
            cands = self._viable[key]
        kept = [c for c in cands if c.state is not FAILED and self.could_pass(c, budget, targets)]
        if full:
            self._viable[key] = kept
        return kept

    # Pruning -------------------------------------------------------------------------------

    def bound_ratio(self, arch: str) -> float:
        """The most an estimate of ``arch`` has reached of its speed bound (with a 5 %
        margin; 1 until three estimates are in)."""
        seen, best = self._ratios.get(arch, (0, 0.0))
        if seen < 3:
            return 1.0
        return min(1.0, best * 1.05)

    def likely_too_slow(self, cand: Candidate) -> bool:
        """True when ``cand`` will very likely miss the speed target: its bound times the
        best speed-to-bound ratio seen so far on its architecture falls short. Used only
        to look for an architecture's representative build."""
        if not self.request.min_tps or self._ratios.get(cand.arch, (0, 0.0))[0] < 3:
            return False
        return cand.tps_ub * self.bound_ratio(cand.arch) < self.request.min_tps

    def could_pass(self, cand: Candidate, budget: bool = True, targets: bool = True) -> bool:
        """False when a bound shows ``cand`` cannot meet a target (``targets`` False:
        any candidate may pass, for the trade-offs outside the targets)."""
        if not targets:
            return True
        if cand.tps_ub < self._min_tps or cand.prefill_ub < self._min_prefill:
            return False
        if budget and self._budget is not None and cand.price > self._budget:
            return False
        return self._max_watts is None or cand.power_lb <= self._max_watts

    def verify(self, builds: Sequence[Build]) -> list[Build]:
        """Run every compatibility rule on builds about to be returned; a build that
        breaks one (none should: they are made compatible) is left out, with a note."""
        from .assembly import lane_cost

        kept = []
        for build in builds:
            if not build.checked:
                assembly = Assembly([(self.catalogue.get(ln.slug), ln.qty) for ln in build.lines])
                build.parallel = lane_cost(self, assembly, build)
                build.findings = [*check(assembly, self.needs), *build.parallel]
                build.checked = True
            if build.violations:
                rules = ", ".join(sorted({f.rule for f in build.violations}))
                self.notes.append(f"Left out {build.title}: it breaks {rules}.")
                continue
            kept.append(build)
        return kept

    # The pipeline ----------------------------------------------------------------------------

    def run(self, relax: bool = True) -> Recommendation:
        """Rank, then explain (``relax`` False: a sub-search asked by a relaxation,
        which needs neither relaxations nor trade-offs)."""
        started = time.perf_counter()
        req = self.request
        ranked, front, per_arch, exact = self._rank()
        ranking.label(ranked, req.objective, per_arch, self.currency)
        near = explanations.near_misses(self, ranked)
        relaxations = explanations.relaxations(self) if relax and not ranked else []
        trades = explanations.trade_offs(self, ranked) if relax else []
        self.notes += explanations.notes(self, MAX_ESTIMATES)
        stats = {
            "candidates": len(self.stubs()),
            "completed": self.state.completed,
            "estimates": self.state.estimates,
            "truncated": self.state.truncated,
            "pareto_exact": exact,
            "catalogue_parts": len(self.catalogue),
            "seconds": round(time.perf_counter() - started, 4),
        }
        return Recommendation(
            request=req,
            builds=ranked,
            near_misses=near,
            relax=relaxations,
            pareto=front,
            trade_offs=trades,
            prices_as_of=self.catalogue.prices_as_of,
            currency=self.currency,
            notes=self.notes,
            stats=stats,
        )

    def _rank(self) -> tuple[list[Build], list[Build], dict[str, list[Build]], bool]:
        """The ranked builds, the price/speed front, the best per architecture, and
        whether the front is exact."""
        objective = self.request.objective
        pareto = objective == "pareto"
        per_arch = ranking.rank(self, objective) if not pareto else {}
        extra = ranking.PARETO_EXTRA_ESTIMATES * (3 if pareto else 1)
        front, exact = ranking.pareto(self, extra)
        if not exact and pareto:
            self.notes.append(
                "The price/speed front is taken over the builds estimated; more candidates "
                "could lie on it (the search stopped early)."
            )
        per_arch = {arch: self.verify(builds) for arch, builds in per_arch.items()}
        per_arch = {arch: builds for arch, builds in per_arch.items() if builds}
        if pareto:
            ranked = ranking.spread(front, self.request.limit)
        else:
            ranked = ranking.merge(per_arch, self.request.limit, objective)
        return self.verify(ranked), self.verify(front), per_arch, exact


def recommend(catalogue: Catalogue, request: BuildRequest) -> Recommendation:
    """Ranked builds for ``request`` from ``catalogue`` (see the module docstring)."""
    return Search(catalogue, request).run()


def evaluate(
    catalogue: Catalogue, request: BuildRequest, parts: Sequence[tuple[str, int]]
) -> Build:
    """Price, check and estimate a given parts list; raises ``ValueError`` naming
    ``parts`` for unknown slugs."""
    items = [(catalogue.get(slug), qty) for slug, qty in parts]
    unknown = [slug for (slug, _), (part, _) in zip(parts, items, strict=True) if part is None]
    if unknown:
        raise ValueError("parts: unknown part slug(s): " + ", ".join(unknown))
    if not items:
        raise ValueError("parts: the build has no parts")
    return build_from(Search(catalogue, request), items, None, None)  # type: ignore[arg-type]
