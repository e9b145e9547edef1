"""Build generator and ranking: complete, compatible, priced systems for a workload.

Pure Python (no Django). The Django side adapts catalogue rows and current prices into
a :class:`Catalogue` of plain part dataclasses and calls::

    from configurator.engine.builds import BuildRequest, recommend, evaluate

    rec = recommend(catalogue, BuildRequest(model=arch, quant=quant, min_tps=10))
    rec.builds[0].total, rec.builds[0].estimate.decode_tokens_per_s, rec.near_misses

    build = evaluate(catalogue, request, [("nvidia-geforce-rtx-3090-used", 2), ...])

See :mod:`.search` for the pipeline (candidates → bounds → ranking → explanations →
assembly, one module each), :mod:`.rules` for the feasibility rules, and
:mod:`.platforms` for the cheapest-adequate rest of a build.
"""

from .parts import (
    KINDS,
    BoardPart,
    CasePart,
    Catalogue,
    CoolerPart,
    CpuPart,
    GpuPart,
    MemoryPart,
    Part,
    Price,
    PsuPart,
    StoragePart,
    SystemPart,
    part_from_specs,
)
from .request import (
    ARCHITECTURES,
    ENGINE_CHOICES,
    FORMS,
    OBJECTIVES,
    STACKS,
    BuildRequest,
    default_cloud_price,
)
from .result import (
    Build,
    Line,
    NearMiss,
    Recommendation,
    Relaxation,
    Shortfall,
    finite,
    parse_parts_param,
    parts_param,
)
from .rules import RULES, Assembly, Finding, ModelNeeds, check
from .search import Search, evaluate, recommend

__all__ = [
    "ARCHITECTURES",
    "ENGINE_CHOICES",
    "FORMS",
    "KINDS",
    "OBJECTIVES",
    "RULES",
    "STACKS",
    "Assembly",
    "BoardPart",
    "Build",
    "BuildRequest",
    "CasePart",
    "Catalogue",
    "CoolerPart",
    "CpuPart",
    "Finding",
    "GpuPart",
    "Line",
    "MemoryPart",
    "ModelNeeds",
    "NearMiss",
    "Part",
    "Price",
    "PsuPart",
    "Recommendation",
    "Relaxation",
    "Search",
    "Shortfall",
    "StoragePart",
    "SystemPart",
    "check",
    "default_cloud_price",
    "evaluate",
    "finite",
    "parse_parts_param",
    "part_from_specs",
    "parts_param",
    "recommend",
]
