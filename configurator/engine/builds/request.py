"""What a user asks the build generator for: a model, how it is run, and constraints."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .. import checks
from ..engines import BACKENDS, ENGINES
from ..hardware import Machine
from ..model import ModelArch
from ..quant import Quant
from ..spec import SpecDecode, tokens_per_cycle
from ..workload import Workload

OBJECTIVES = ("cheapest", "fastest", "value", "power", "pareto")
OBJECTIVE_LABELS = {
    "cheapest": "cheapest that meets the targets",
    "fastest": "fastest within the budget",
    "value": "most tokens/s per dollar",
    "power": "lowest power",
    "pareto": "Pareto front of cost against speed",
}
FORMS = ("any", "tower", "rack", "small", "laptop")
STACKS = ("any", "cuda", "rocm", "metal", "sycl")
STACK_NAMES = {"cuda": "CUDA", "rocm": "ROCm", "metal": "Metal", "sycl": "SYCL"}
ENGINE_CHOICES = ("auto", *ENGINES)

GPU_TOWER = "GPU tower"
GPU_SERVER = "GPU server"
CPU_SERVER = "CPU server"
HYBRID = "hybrid offload"
UNIFIED = "unified memory"
ARCHITECTURES = (GPU_TOWER, GPU_SERVER, CPU_SERVER, HYBRID, UNIFIED)

# Typical API price per million generated tokens, scaled by active parameters: about
# $0.88 for a 70B-class model on a serverless provider (Together AI's Llama 3.x 70B
# Turbo), at least $0.10 for small models. Users can set their own.
CLOUD_PRICE_PER_MTOK_AT_70B = Decimal("0.88")
CLOUD_PRICE_FLOOR = Decimal("0.10")
# US average residential electricity price, 2025 (EIA): about 17 cents per kWh.
DEFAULT_KWH_PRICE = Decimal("0.17")
DEFAULT_HOURS_PER_DAY = 8.0


def default_cloud_price(model: ModelArch) -> Decimal:
    """A default cloud price per million tokens for ``model`` (see above)."""
    scaled = CLOUD_PRICE_PER_MTOK_AT_70B * Decimal(str(model.active_params_b)) / Decimal(70)
    return max(scaled, CLOUD_PRICE_FLOOR).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class BuildRequest:
    """A workload and the constraints a build must meet.

    ``budget`` is in the display currency (None: no limit). ``min_tps``: decode tokens/s
    each sequence must see (for fine-tuning: training tokens/s); ``min_prefill_tps``:
    prompt tokens/s; ``max_watts``: wall power while generating, W. ``allow_used``:
    used parts may be proposed. ``form``: any, tower, rack, small or laptop. ``stack``:
    any, or the GPU software stack every build must offer (cuda, rocm, metal, sycl).
    ``must_include``: part slugs every build must contain. ``objective``: cheapest,
    fastest, value, power or pareto. ``engine``: auto picks, per machine, an engine that
    runs ``quant``. ``kwh_price``: electricity per kWh; ``cloud_price_per_mtok``: what
    the cloud charges per million tokens (None: :func:`default_cloud_price`);
    ``hours_per_day``: hours a day the machine generates, for the break-even.

    How every build runs the model (passed to each estimate the search makes):
    ``backend`` (None: the engine's own for each device; builds the backend cannot drive
    are left out), ``threads`` (CPU threads, ``-t``, on builds with a host CPU),
    ``expert_offload`` (MoE only: the routed experts of N layers, or ``"all"``, in
    system RAM on builds with GPUs and a host; CPU servers and unified-memory systems
    hold everything in one memory already), ``spec_decode`` (speculative decoding;
    a build's decode speed is then the speculative one) with ``draft`` (the draft
    model and its quant, for ``draft:<model>``).
    """

    model: ModelArch
    quant: Quant
    workload: Workload = field(default_factory=Workload)
    engine: str = "auto"
    budget: Decimal | None = None
    min_tps: float = 0.0
    min_prefill_tps: float = 0.0
    max_watts: float | None = None
    allow_used: bool = True
    form: str = "any"
    objective: str = "cheapest"
    stack: str = "any"
    must_include: tuple[str, ...] = ()
    limit: int = 10
    kwh_price: Decimal = DEFAULT_KWH_PRICE
    cloud_price_per_mtok: Decimal | None = None
    hours_per_day: float = DEFAULT_HOURS_PER_DAY
    model_slug: str = ""
    model_name: str = ""
    backend: str | None = None
    threads: int | None = None
    expert_offload: int | str | None = None
    spec_decode: SpecDecode | None = None
    draft: tuple[ModelArch, Quant] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, ModelArch):
            raise ValueError("model must be a ModelArch")
        if not isinstance(self.quant, Quant):
            raise ValueError("quant must be a Quant")
        if not isinstance(self.workload, Workload):
            raise ValueError("workload must be a Workload")
        checks.choice("engine", self.engine, ENGINE_CHOICES)
        if self.budget is not None and (not isinstance(self.budget, Decimal) or self.budget <= 0):
            raise ValueError(f"budget must be a Decimal above 0 (got {self.budget!r})")
        checks.number("min_tps", self.min_tps, 0, 1_000_000)
        checks.number("min_prefill_tps", self.min_prefill_tps, 0, 10_000_000)
        if self.max_watts is not None:
            checks.positive("max_watts", self.max_watts, 1_000_000)
        checks.choice("form", self.form, FORMS)
        checks.choice("objective", self.objective, OBJECTIVES)
        checks.choice("stack", self.stack, STACKS)
        checks.integer("limit", self.limit, 1, 100)
        if not isinstance(self.kwh_price, Decimal) or self.kwh_price < 0:
            raise ValueError(f"kwh_price must be a Decimal of at least 0 (got {self.kwh_price!r})")
        if self.cloud_price_per_mtok is not None and (
            not isinstance(self.cloud_price_per_mtok, Decimal) or self.cloud_price_per_mtok < 0
        ):
            raise ValueError(
                f"cloud_price_per_mtok must be a Decimal of at least 0 "
                f"(got {self.cloud_price_per_mtok!r})"
            )
        checks.number("hours_per_day", self.hours_per_day, 0.1, 24)
        object.__setattr__(self, "must_include", tuple(self.must_include))
        self._check_run_options()

    def _check_run_options(self) -> None:
        if self.backend is not None:
            names = {b.lower(): b for b in BACKENDS}
            chosen = names.get(str(self.backend).strip().lower())
            if chosen is None:
                raise ValueError(
                    f"backend must be one of {', '.join(BACKENDS)} (got {self.backend!r})"
                )
            object.__setattr__(self, "backend", chosen)
        if self.threads is not None:
            checks.integer("threads", self.threads, 1, 4096)
        if self.expert_offload is not None:
            offload = self.expert_offload
            if isinstance(offload, str) and offload.strip().lower() == "all":
                object.__setattr__(self, "expert_offload", "all")
            else:
                if isinstance(offload, bool) or not isinstance(offload, int):
                    raise ValueError(
                        f"expert_offload must be a number of layers or 'all' (got {offload!r})"
                    )
                checks.integer("expert_offload", offload, 0, self.model.layers)
            if not self.model.is_moe:
                raise ValueError(
                    "expert_offload: this model has no routed experts to keep in RAM "
                    "(only MoE models have)"
                )
        spec = self.spec_decode
        if spec is not None:
            if not isinstance(spec, SpecDecode):
                raise ValueError("spec_decode must be a SpecDecode")
            if self.workload.is_training:
                raise ValueError("spec_decode: speculative decoding applies to inference only")
            if self.workload.concurrent_sequences > 1:
                raise ValueError(
                    "spec_decode: speculative decoding is estimated for one sequence at a "
                    f"time (batch 1; got batch {self.workload.concurrent_sequences})"
                )
            if spec.method == "draft" and self.draft is None:
                raise ValueError("spec_decode: draft:<model> needs a known draft model")

    @property
    def spec_speedup_bound(self) -> float:
        """The most speculative decoding can multiply decode speed by: the tokens a
        cycle commits (a cycle costs at least one ordinary decode step, the verification
        of ``k + 1`` tokens reading every weight once); 1 without it."""
        if self.spec_decode is None:
            return 1.0
        return tokens_per_cycle(self.spec_decode.alpha, self.spec_decode.k)

    @property
    def run_options(self) -> tuple:
        """The options that change how a build runs the model (for memo keys)."""
        draft = (self.draft[0], self.draft[1]) if self.draft else None
        return (self.backend, self.threads, self.expert_offload, self.spec_decode, draft)

    def estimate_options(self, machine: Machine) -> dict[str, object]:
        """Keyword arguments of :func:`~configurator.engine.estimate.estimate` for
        ``machine``: the request's run options that apply to it (threads need a host CPU,
        expert offload GPUs and a host)."""
        out: dict[str, object] = {}
        if self.backend:
            out["backend"] = self.backend
        if self.threads is not None and machine.cpu is not None:
            out["threads"] = self.threads
        if self.expert_offload is not None and machine.gpus and machine.cpu is not None:
            out["expert_offload"] = self.expert_offload
        if self.spec_decode is not None:
            out["spec_decode"] = self.spec_decode
            out["draft"] = self.draft
        return out

    @property
    def cloud_price(self) -> Decimal:
        """The cloud price per million tokens in use (the user's or the default)."""
        if self.cloud_price_per_mtok is not None:
            return self.cloud_price_per_mtok
        return default_cloud_price(self.model)

    @property
    def training(self) -> bool:
        return self.workload.is_training

    @property
    def label(self) -> str:
        """E.g. ``Llama 3.1 70B Instruct at Q4_K_M, 4,096-token context``."""
        name = self.model_name or self.model.name
        return f"{name} at {self.quant.name}, {self.workload.context_tokens:,}-token context"

    def relaxed(self, **changes: object) -> BuildRequest:
        """A copy with some constraints changed."""
        from dataclasses import replace

        return replace(self, **changes)
