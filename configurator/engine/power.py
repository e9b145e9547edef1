"""Power draw under load and energy per token.

Each device draws its idle share of rated power all the time, and rises towards its
busy share for the work it does in each step. A GPU's decode is memory-bound: its draw
rises with the share of its peak memory bandwidth the step actually pulls (streaming
weights at full bandwidth keeps memory and clocks at their top state; a small model
that leaves most of each step to launch overheads draws less). Prefill, CPUs and decode
steps that compute rather than memory limits draw in proportion to the time the device
works. A GPU whose owner lowered its power limit never draws more than that.
The platform (board, fans, drives) and DRAM add a fixed amount, and the power
supply's losses are added on top.
"""

from __future__ import annotations

from .calibration import Constants
from .hardware import Machine
from .placement import Placement, Slot
from .throughput import StepTime

# An NVMe drive reading flat out.
DRIVE_ACTIVE_W = 8.0


def _device_kind(kind: str) -> str:
    return "unified" if kind == "unified" else ("cpu" if kind == "cpu" else "gpu")


def device_power_w(slot: Slot, phase: str, share: float, constants: Constants) -> float:
    """Average draw of one device working ``share`` (0–1) of its capacity in ``phase``,
    W: its idle share of rated power, rising towards its busy share. A GPU whose owner
    lowered its power limit (``nvidia-smi -pl``) never draws more than that limit: the
    driver lowers clocks to stay under it."""
    kind = _device_kind(slot.kind)
    idle = constants[f"power_fraction.{kind}.idle"]
    busy = constants[f"power_fraction.{kind}.{phase}"]
    watts = slot.tdp_w * (idle + (busy - idle) * share)
    limit = slot.gpu.power_limit_w if slot.gpu is not None else 0.0
    return min(watts, limit) if limit > 0 else watts


def work_shares(placement: Placement, step: StepTime, phase: str) -> dict[str, float]:
    """How hard each pool works during ``step`` (0–1), by label. Decode on a GPU or
    unified GPU: the share of its peak memory bandwidth its reads take over the whole
    step. CPUs (whose threads spin while they wait on memory), compute-bound pools and
    prefill: the share of the step the pool works; GPUs splitting each layer between
    them (tensor split) all work throughout a prefill."""
    total = max(step.seconds, 1e-12)
    bandwidth = {s.label: s.bandwidth_gbs * 1e9 for s in placement.slots}
    shares = {}
    for t in step.slots:
        share = t.seconds / total
        if phase == "prefill" and step.parallel and t.kind == "gpu":
            share = 1.0
        elif (
            phase == "decode" and t.kind != "cpu" and not t.compute_bound and bandwidth.get(t.label)
        ):
            share = t.bytes_read / (total * bandwidth[t.label])
        shares[t.label] = min(share, 1.0)
    return shares


def wall_power_w(
    machine: Machine, placement: Placement, step: StepTime, phase: str, constants: Constants
) -> float:
    """Average power at the wall, W, while running ``step`` repeatedly; ``phase`` is
    ``decode`` or ``prefill``."""
    shares = work_shares(placement, step, phase)
    watts = DRIVE_ACTIVE_W if placement.spilled_bytes > 0 else 0.0
    for slot in placement.slots:
        watts += device_power_w(slot, phase, shares.get(slot.label, 0.0), constants)
    if machine.cpu is not None and not any(s.kind == "cpu" for s in placement.slots):
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
    shares = work_shares(placement, step, phase)
    return sum(
        device_power_w(slot, phase, shares.get(slot.label, 0.0), constants)
        for slot in placement.slots
        if slot.kind == "gpu"
    )


def kwh_per_million_tokens(power_w: float, tokens_per_s: float) -> float:
    """Energy for one million tokens at ``power_w`` watts and ``tokens_per_s``, kWh."""
    if tokens_per_s <= 0:
        return float("inf")
    return power_w * (1e6 / tokens_per_s) / 3.6e6
