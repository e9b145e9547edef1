"""Power draw under load and energy per token.

Each device draws its idle share of rated power all the time, and rises towards its
busy share (memory-bound decode draws well under TDP; compute-bound prefill close to
it) for the part of each step it is working. The platform (board, fans, drives) and
DRAM add a fixed amount, and the power supply's losses are added on top.
"""

from __future__ import annotations

from .calibration import Constants
from .hardware import Machine
from .placement import Placement
from .throughput import StepTime

# An NVMe drive reading flat out.
DRIVE_ACTIVE_W = 8.0


def _device_kind(kind: str) -> str:
    return "unified" if kind == "unified" else ("cpu" if kind == "cpu" else "gpu")


def wall_power_w(
    machine: Machine, placement: Placement, step: StepTime, phase: str, constants: Constants
) -> float:
    """Average power at the wall, W, while running ``step`` repeatedly; ``phase`` is
    ``decode`` or ``prefill``."""
    busy_time = {s.label: s.seconds for s in step.slots}
    total = max(step.seconds, 1e-12)
    watts = 0.0
    seen_host = False
    if placement.spilled_bytes > 0:
        watts += DRIVE_ACTIVE_W
    for slot in placement.slots:
        kind = _device_kind(slot.kind)
        idle = constants[f"power_fraction.{kind}.idle"]
        busy = constants[f"power_fraction.{kind}.{phase}"]
        share = (
            1.0
            if step.parallel and slot.kind == "gpu"
            else min(busy_time.get(slot.label, 0.0) / total, 1.0)
        )
        if slot.kind == "cpu":
            seen_host = True
        watts += slot.tdp_w * (idle + (busy - idle) * share)
    if machine.cpu is not None and not seen_host:
        # The host CPU idles (or drives the GPUs) while GPUs do the work.
        watts += machine.cpu.tdp_w * constants["power_fraction.cpu.idle"]
    if machine.unified is None:
        watts += constants["platform_power_w"]
        if machine.cpu is not None:
            watts += machine.cpu.ram_gb * constants["dram_power_w_per_gb"]
        return watts / constants["psu_efficiency"]
    return watts


def gpu_power_w(placement: Placement, step: StepTime, phase: str, constants: Constants) -> float:
    """Average power of the GPUs alone (what ``nvidia-smi`` reports), W."""
    busy_time = {s.label: s.seconds for s in step.slots}
    total = max(step.seconds, 1e-12)
    watts = 0.0
    for slot in placement.slots:
        if slot.kind != "gpu":
            continue
        idle = constants["power_fraction.gpu.idle"]
        busy = constants[f"power_fraction.gpu.{phase}"]
        share = 1.0 if step.parallel else min(busy_time.get(slot.label, 0.0) / total, 1.0)
        watts += slot.tdp_w * (idle + (busy - idle) * share)
    return watts


def kwh_per_million_tokens(power_w: float, tokens_per_s: float) -> float:
    """Energy for one million tokens at ``power_w`` watts and ``tokens_per_s``, kWh."""
    if tokens_per_s <= 0:
        return float("inf")
    return power_w * (1e6 / tokens_per_s) / 3.6e6
