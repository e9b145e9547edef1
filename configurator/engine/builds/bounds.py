"""Stage 2 of the search: optimistic bounds on a candidate before it is estimated.

Every bound comes from the estimator's own rate functions and calibrated constants
(:mod:`configurator.engine.rates`): decode bandwidth of a GPU, of a CPU platform and of
a unified-memory system at their efficiency; the compute a CPU reaches; the matrix work
of a batch on GPUs and unified systems (at the best device class's share of peak times
``decode_compute_efficiency``: a batch of sequences makes a decode step compute-bound);
the idle power of every device. A dense model's KV cache, allocated for the whole
context, shares the GPUs' memory with the layers it belongs to. A missing constant is an
error, never a silent 1.0. Decode and prefill bounds get a 10 % slack (``BOUND_SLACK``),
power a floor at every device's idle draw.
Run options that can speed a build up (speculative decoding, a backend calibrated
faster than the vendor's own) scale the bounds up by the most they can gain.
A bound is only ever optimistic, so a candidate whose bound misses a target is never
estimated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from .. import cpu_kernels, devices, memory, rates
from ..calibration import Constants
from ..hardware import CpuSystem
from ..model import ModelArch
from ..quant import Quant
from .parts import CpuPart, GpuPart, SystemPart
from .platforms import Host
from .request import BuildRequest

if TYPE_CHECKING:
    from .candidates import Candidate

BOUND_SLACK = 1.1


@lru_cache(maxsize=4096)
def cpu_system(
    name: str,
    sockets: int,
    cores: int,
    channels: int,
    mts: float,
    ram_gb: float,
    gflops: float,
    tdp_w: float,
    memory_type: str,
) -> CpuSystem:
    """The engine's CPU system (memoised: the search asks for the same ones often), with
    the core complexes per socket the device registry knows for this CPU (they cap the
    bandwidth its cores can pull, as in every other estimate)."""
    return CpuSystem(
        name=name,
        sockets=sockets,
        cores_per_socket=cores,
        memory_channels=channels,
        memory_mts=mts,
        ram_gb=ram_gb,
        fp32_gflops_per_socket=gflops,
        tdp_w_per_socket=tdp_w,
        memory_type=memory_type,
        ccds_per_socket=devices.ccds_for_cpu_name(name),
    )


def host_system(host: Host, mts: int) -> CpuSystem:
    """A host's CPUs with every channel at ``mts`` (capacity does not matter here)."""
    cpu = host.cpu
    kind = cpu.memory_type if cpu.memory_type in ("DDR4", "DDR5") else "DDR5"
    return cpu_system(
        cpu.name, host.sockets, cpu.cores, host.channels, float(mts), 1.0, cpu.gflops,
        cpu.power_w, kind,
    )  # fmt: skip


def bytes_per_token(model: ModelArch, quant: Quant) -> float:
    """Weight bytes one decoded token reads (active blocks and the output head)."""
    try:
        parts = memory.model_parts(model, quant)
        per_layer = (
            parts.dense_layer_bytes + parts.expert_layer_bytes * parts.expert_fraction_per_token
        )
        value = parts.layers * per_layer + parts.head_bytes
    except AttributeError:
        value = model.params_read_per_token_b * 1e9 * quant.bytes_per_weight
    return max(value, 1.0)


def matmul_params(model: ModelArch, quant: Quant) -> float:
    """Weights one decoded token multiplies by (its layers' active blocks and the output
    head; not the input embedding, which is a lookup), as the estimator counts them."""
    try:
        parts = memory.model_parts(model, quant)
    except AttributeError:
        return 0.0
    return parts.layers * parts.active_layer_params() + parts.head_params


def read_profile(model: ModelArch, quant: Quant) -> tuple[float, float, float]:
    """(bytes read in full every token, bytes of all routed experts, expert bytes one
    token reads) of the model's weights."""
    try:
        parts = memory.model_parts(model, quant)
    except AttributeError:
        return bytes_per_token(model, quant), 0.0, 0.0
    dense = parts.layers * parts.dense_layer_bytes + parts.head_bytes
    experts = parts.layers * parts.expert_layer_bytes
    return dense, experts, experts * parts.expert_fraction_per_token


class Bounds:
    """Bounds for one request: what a decode step reads, and the rates of devices."""

    def __init__(self, request: BuildRequest, constants: Constants) -> None:
        self.request = request
        self.constants = constants
        self.training = request.training
        model, quant, wl = request.model, request.quant, request.workload
        self.batch = wl.concurrent_sequences
        # What one decode step (a token for each of the batch's sequences) reads: the
        # weights read in full, the routed experts the batch touches, each sequence's KV
        # cache at the depth the estimator quotes speed at.
        dense, experts, _ = read_profile(model, quant)
        touched = experts * model.expert_fraction_touched(self.batch) if experts else 0.0
        depth = min(wl.prompt_tokens + wl.gen_tokens / 2, wl.context_tokens)
        kv = memory.kv_cache_bytes(model, depth, wl.kv_cache_bits, self.batch)
        self.read = (dense, experts, touched)
        self.bytes_per_token = max(dense + touched + kv, 1.0)
        self.kv_allocated = memory.kv_cache_bytes(
            model, wl.context_tokens, wl.kv_cache_bits, self.batch
        )
        # The matrix work of one decode step, and the most FLOP/s per peak FLOP/s a GPU
        # or unified-memory system reaches on it in the estimator: the best device
        # class's share of peak, the fastest backend, and the small-batch tile waste
        # (``decode_compute_efficiency``). A batch makes the step compute-bound.
        self.step_flops = 2.0 * self.batch * matmul_params(model, quant)
        share = max(
            value for key, value in constants.values.items()
            if key.startswith("prefill_efficiency.")
        )  # fmt: skip
        self.decode_flops_per_peak = share * constants["decode_compute_efficiency"]
        self._memo: dict[tuple, object] = {}
        self._gpus: dict[int, tuple] = {}
        # Run options that may make a build faster than its default run: a backend
        # whose calibrated factor is above 1, speculative decoding (at most the tokens a
        # cycle commits per ordinary step). Bounds are scaled up by them, never down.
        backend = request.backend or ""
        self.decode_scale = request.spec_speedup_bound * max(
            1.0, devices.backend_factor("bandwidth", backend, constants)
        )
        self.prefill_scale = max(1.0, devices.backend_factor("prefill", backend, constants))
        backends = [
            value for key, value in constants.values.items()
            if key.startswith("backend_prefill_factor.")
        ]  # fmt: skip
        self.decode_flops_per_peak *= max([1.0, *backends])
        # A CPU's prompt processing can outrun its FP32 peak (8-bit integer kernels).
        self.cpu_prefill_scale = cpu_kernels.prefill_peak_factor_bound(constants)
        c = constants
        # Idle power: per W of GPU and CPU rating, per GB of RAM, and the platform's.
        self._idle = (
            c["power_fraction.gpu.idle"],
            c["power_fraction.cpu.idle"],
            c["dram_power_w_per_gb"],
            c["platform_power_w"],
            c["psu_efficiency"],
        )

    # Rates ---------------------------------------------------------------------------

    def gpu_bandwidth(self, gpu: GpuPart) -> float:
        """Decode bandwidth of one GPU at the estimator's efficiency, GB/s."""
        key = ("gpu-bw", gpu.slug)
        if key not in self._memo:
            self._memo[key] = rates.gpu_bandwidth_gbs(gpu.engine_gpu, self.constants)
        return self._memo[key]  # type: ignore[return-value]

    def host_bandwidth(self, host: Host, mts: int) -> float:
        """Decode bandwidth of a host's RAM at the estimator's efficiency, GB/s."""
        return rates.cpu_bandwidth_gbs(host_system(host, mts), self.constants)

    def system_bandwidth(self, system: SystemPart) -> float:
        """Decode bandwidth of a unified-memory system, GB/s."""
        return system.bandwidth_gbs * devices.unified_bandwidth_efficiency(
            system.engine_system, self.constants
        )

    def host_rates(self, host: Host, mts: int) -> tuple[float, float]:
        """Seconds per byte read, and per byte of weights multiplied, on this host."""
        key = ("host-rates", id(host), mts)
        value = self._memo.get(key)
        if value is None:
            read = 1.0 / (self.host_bandwidth(host, mts) * 1e9)
            rate = host.cpu.gflops * host.sockets * 1e9 * self.constants["prefill_efficiency.cpu"]
            per_weight = 2.0 / self.request.quant.bytes_per_weight
            value = self._memo[key] = (read, per_weight / rate if rate > 0 else 0.0)
        return value  # type: ignore[return-value]

    # Decode ----------------------------------------------------------------------------

    def host_split(self, gpu_bytes: float) -> tuple[float, float]:
        """A lower bound on what each decode step reads from system RAM when the GPUs
        hold ``gpu_bytes``: (weights read in full every step, routed-expert bytes the
        step touches). The GPUs are assumed to keep what is read most often (attention
        and its KV cache, dense and shared layers, the output head) and to fill the
        rest with routed experts, as llama.cpp's expert offload does. A dense model's
        layers take their KV cache (allocated for the whole context) where they run, so
        the GPUs hold that share of their memory in weights at most."""
        key = ("split", gpu_bytes)
        if key not in self._memo:
            dense, experts, touched = self.read
            if not experts and dense > 0:
                gpu_bytes *= dense / (dense + self.kv_allocated)
            host_dense = max(0.0, dense - gpu_bytes)
            host_experts = 0.0
            if experts > 0:
                on_gpu = max(0.0, gpu_bytes - dense)
                host_experts = touched * max(0.0, experts - on_gpu) / experts
            self._memo[key] = (host_dense, host_experts)
        return self._memo[key]  # type: ignore[return-value]

    def host_seconds(
        self, host: Host, mts: int, dense: float, experts: float, kv: float = 0.0
    ) -> float:
        """A lower bound on the host's time per decode step for ``dense`` bytes read by
        every sequence, ``experts`` bytes of routed experts and ``kv`` bytes of KV
        cache: reading them, or multiplying by them (dense weights once per sequence,
        each touched expert at least once), whichever is longer."""
        read, compute = self.host_rates(host, mts)
        return max((dense + experts + kv) * read, (self.batch * dense + experts) * compute)

    def cpu_step_seconds(self, host: Host, mts: int) -> float:
        dense, _, touched = self.read
        kv = self.bytes_per_token - dense - touched
        return self.host_seconds(host, mts, dense, touched, kv)

    def hybrid_seconds(self, gpu_bw_gbs: float, vram_bytes: float, host: Host, mts: int) -> float:
        """A lower bound on a decode step with the GPUs (``gpu_bw_gbs`` together)
        holding ``vram_bytes`` of what is read most and the host the rest."""
        host_dense, host_experts = self.host_split(vram_bytes)
        on_gpu = max(self.bytes_per_token - host_dense - host_experts, 0.0)
        seconds = on_gpu / (gpu_bw_gbs * 1e9)
        return seconds + self.host_seconds(host, mts, host_dense, host_experts)

    def decode_ub(self, seconds_per_token: float) -> float:
        if seconds_per_token <= 0:
            return math.inf
        return BOUND_SLACK * self.decode_scale / seconds_per_token

    def decode_ub_at(self, bandwidth_gbs: float, matrix_tflops: float = 0.0) -> float:
        """Decode bound when everything a step reads comes at ``bandwidth_gbs`` and its
        matrix work runs on ``matrix_tflops`` of peak (0: not counted)."""
        seconds = self.bytes_per_token / (bandwidth_gbs * 1e9)
        return self.decode_ub(max(seconds, self.compute_seconds(matrix_tflops)))

    def compute_seconds(self, matrix_tflops: float, share: float = 1.0) -> float:
        """A lower bound on the time of ``share`` of a decode step's matrix work on
        ``matrix_tflops`` of peak (0 when the peak is not known)."""
        rate = matrix_tflops * 1e12 * self.decode_flops_per_peak
        return self.step_flops * share / rate if rate > 0 else 0.0

    # Prefill, training, power ------------------------------------------------------------

    def training_ub(self, peak_tflops: float) -> float:
        flops = 4.0 * self.request.model.active_params_b * 1e9
        return BOUND_SLACK * peak_tflops * 1e12 / flops

    def prefill_ub(self, peak_tflops: float) -> float:
        flops = 2.0 * self.request.model.active_params_b * 1e9
        return BOUND_SLACK * self.prefill_scale * peak_tflops * 1e12 / flops

    def power_lb(
        self,
        gpus: Iterable[tuple[GpuPart, int]],
        cpu: CpuPart | None,
        sockets: int,
        ram_gb: float,
    ) -> float:
        """Wall power while idle (a floor on the power while generating), W."""
        gpu_idle, cpu_idle, dram, platform, psu = self._idle
        watts = sum(g.board_power_w * q for g, q in gpus) * gpu_idle
        if cpu is not None:
            watts += cpu.power_w * sockets * cpu_idle + ram_gb * dram
        return (watts + platform) / psu * 0.999

    def unified_power_lb(self, system: SystemPart) -> float:
        return system.power_w * self.constants["power_fraction.unified.idle"] * 0.999

    # Candidates --------------------------------------------------------------------------

    def bound(self, cand: Candidate, tensor: bool, max_host_peak_tflops: float) -> None:
        """Set ``cand``'s speed bounds and power floor. ``tensor``: its GPUs shard each
        layer; ``max_host_peak_tflops``: the most any host offers (for GPU builds whose
        host is not chosen yet)."""
        if cand.system is not None:
            self._bound_unified(cand, cand.system)
        elif not cand.gpus and cand.host is not None and cand.memory is not None:
            self._bound_cpu(cand, cand.host, cand.memory.mts)
        else:
            self._bound_gpus(cand, tensor, max_host_peak_tflops)

    def _bound_unified(self, cand: Candidate, system: SystemPart) -> None:
        if self.training:
            cand.tps_ub = self.training_ub(system.gpu_fp16_tflops)
        else:
            cand.tps_ub = self.decode_ub_at(self.system_bandwidth(system), system.gpu_fp16_tflops)
        cand.prefill_ub = self.prefill_ub(system.gpu_fp16_tflops)
        cand.power_lb = self.unified_power_lb(system)

    def _bound_cpu(self, cand: Candidate, host: Host, mts: int) -> None:
        cand.tps_ub = self.decode_ub(self.cpu_step_seconds(host, mts))
        cand.prefill_ub = self.prefill_ub(
            host.cpu.gflops * host.sockets / 1000 * self.cpu_prefill_scale
        )
        ram = cand.memory.capacity_gb if cand.memory else 0.0
        cand.power_lb = self.power_lb((), host.cpu, host.sockets, ram)

    def _gpu_figures(
        self, gpus: tuple[tuple[GpuPart, int], ...]
    ) -> tuple[float, float, float, float, float]:
        """(fastest decode bandwidth GB/s, summed matrix TFLOP/s, the fastest card's
        matrix TFLOP/s, VRAM bytes, rated W) of a GPU set (memoised: many candidates
        share one)."""
        entry = self._gpus.get(id(gpus))
        if entry is None or entry[0] is not gpus:
            fastest = max(self.gpu_bandwidth(g) for g, _ in gpus)
            # The estimator's matrix rate is the larger of FP16 and FP32 (Pascal's P40
            # and P4 run FP16 at 1/64 of FP32).
            peaks = [(max(g.fp16_tflops, g.fp32_tflops), q) for g, q in gpus]
            peak = sum(p * q for p, q in peaks)
            vram = sum(g.vram_gb * q for g, q in gpus) * 2**30
            watts = sum(g.board_power_w * q for g, q in gpus)
            top = max(p for p, _ in peaks)
            entry = self._gpus[id(gpus)] = (gpus, fastest, peak, top, vram, watts)
        return entry[1], entry[2], entry[3], entry[4], entry[5]

    def _host_part(self, vram: float, host: Host, mts: int) -> tuple[float, float, float]:
        """(bytes a decode step reads on the GPUs, the host's seconds for the rest, the
        share of the step's matrix work the GPUs do at most) when GPUs hold ``vram``
        bytes (memoised per host, speed and VRAM). The share is counted for dense models
        only: the weights the GPUs can hold over those read every step."""
        key = ("host-part", vram, id(host), mts)
        value = self._memo.get(key)
        if value is None:
            host_dense, host_experts = self.host_split(vram)
            on_gpu = max(self.bytes_per_token - host_dense - host_experts, 0.0)
            seconds = self.host_seconds(host, mts, host_dense, host_experts)
            dense, experts, _ = self.read
            share = 0.0 if experts or dense <= 0 else max(0.0, dense - host_dense) / dense
            value = self._memo[key] = (on_gpu, seconds, share)
        return value  # type: ignore[return-value]

    def _hybrid_seconds(
        self, cand: Candidate, bandwidth: float, matrix: float, vram: float
    ) -> float:
        """A lower bound on a hybrid build's decode step.

        For a dense model the GPUs' matrix work is counted too, and then a batch can make
        a layer cheaper on the host than on the GPUs. With ``x`` bytes of weights on the
        GPUs the step is ``max((x + kv) / bandwidth, flops(x) / rate)`` plus the host's
        time for the rest (linear in ``x``): convex, so its least value over what the
        GPUs can hold lies at no weights, all they can hold, or where the GPUs turn from
        reading to multiplying."""
        host, mem = cand.host, cand.memory
        assert host is not None and mem is not None
        on_gpu, host_s, share = self._host_part(vram, host, mem.mts)
        if share <= 0:
            return on_gpu / (bandwidth * 1e9) + host_s
        dense = self.read[0]
        kv = self.bytes_per_token - dense
        per_byte_read = 1.0 / (bandwidth * 1e9)
        per_byte_flops = self.compute_seconds(matrix) / dense

        def step(x: float) -> float:
            gpu = max((x + kv) * per_byte_read, x * per_byte_flops)
            return gpu + self.host_seconds(host, mem.mts, dense - x, 0.0)

        held = share * dense
        points = [0.0, held]
        if per_byte_flops > per_byte_read:
            turn = kv * per_byte_read / (per_byte_flops - per_byte_read)
            if turn < held:
                points.append(turn)
        return min(step(x) for x in points)

    def _bound_gpus(self, cand: Candidate, tensor: bool, max_host_peak_tflops: float) -> None:
        """GPU builds: in a tensor split the cards read and multiply side by side, in a
        layer split they take turns (no faster than the fastest card alone)."""
        host, mem = cand.host, cand.memory
        fastest, peak, top, vram, gpu_w = self._gpu_figures(cand.gpus)
        bandwidth = fastest * (cand.gpu_count if tensor else 1)
        matrix = peak if tensor else top
        host_peak = host.cpu.gflops * host.sockets / 1000 if host else max_host_peak_tflops
        host_peak *= self.cpu_prefill_scale
        if self.training:
            cand.tps_ub = self.training_ub(peak)
        elif not cand.gpu_only and host is not None and mem is not None:
            cand.tps_ub = self.decode_ub(self._hybrid_seconds(cand, bandwidth, matrix, vram))
        else:
            cand.tps_ub = self.decode_ub_at(bandwidth, matrix)
        cand.prefill_ub = self.prefill_ub(peak + host_peak)
        gpu_idle, cpu_idle, dram, platform, psu = self._idle
        watts = gpu_w * gpu_idle + platform
        if host is not None:
            ram = mem.capacity_gb if mem else 0.0
            watts += host.cpu.power_w * host.sockets * cpu_idle + ram * dram
        cand.power_lb = watts / psu * 0.999
