"""One estimate on named hardware, as ``/api/estimate`` and ``manage.py estimate`` give it."""

from __future__ import annotations

from typing import Any

from configurator.adapters import model_arch
from configurator.engine import estimate as run_estimate
from configurator.forms import EstimateInput
from configurator.rig.evidence import with_user_evidence
from configurator.training_run import run_figures


def estimate_payload(job: EstimateInput) -> dict[str, Any]:
    """The engine's result for a resolved :class:`EstimateForm`, plus what it ran on.

    Raises ``ValueError`` naming the field when the engine rejects the input.
    """
    result = run_estimate(
        job.machine,
        model_arch(job.model),
        job.quant,
        job.workload,
        engine=job.engine,
        split=job.split,
        backend=job.backend,
        expert_offload=job.expert_offload,
        threads=job.threads,
        spec_decode=job.spec_decode,
        draft=job.draft,
        framework=job.framework,
    )
    data = result.to_dict()
    data["model"] = job.model.slug
    data["model_name"] = job.model.name
    data["approximate_model"] = bool(job.model.approximate)
    data["quant"] = job.quant.name
    data["bits_per_weight"] = job.quant.bits_per_weight
    data["hardware"] = job.hardware
    data["context"] = job.workload.context_tokens
    data["prompt_tokens"] = job.workload.prompt_tokens
    data["batch"] = job.workload.concurrent_sequences
    # No electricity price here: the run's energy, where there is one, without a cost.
    data["training_run"] = run_figures(data, job.dataset)
    parts = [(h["kind"], h["slug"], h["count"]) for h in job.hardware]
    with_user_evidence(data, parts, job.model.slug)
    return data
