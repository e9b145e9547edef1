"""Cost of the all-reduce that joins a tensor split's partial results.

One all-reduce of ``bytes`` over ``n`` GPUs takes a latency set by the algorithm and the
link, plus the ring's transfer, ``2 (n − 1) / n × bytes`` over the link's bandwidth:

- ``ring`` (NCCL): ``2 (n − 1)`` steps, each a hop across the link. NCCL's own tuning
  model (``src/graph/tuning.cc``: a base latency plus ``nsteps × hwLat``, with
  ``nsteps = 2 (nRanks − 1)`` for an all-reduce inside one node) grows linearly with the
  GPUs, not with log2: a tree inside a node is a chain as well.
- ``oneshot`` (vLLM's and SGLang's custom all-reduce): every GPU writes a flag to each
  peer, reads the ``n − 1`` peers' buffers directly and sums them, so the latency is one
  kernel plus one hop per peer read (SGLang PR 2904, 8 × H100 without CUDA graphs:
  8.8 / 8.5 / 9.3 µs for 4 KB at 2 / 4 / 8 GPUs; 8.7 / 9.2 / 11.8 µs for 32 KB).

In a running model each all-reduce also waits for the slowest GPU to arrive (the GPUs'
kernels finish at slightly different times, and every all-reduce is a barrier):
``allreduce_wait_us``, the same for every algorithm, fitted on whole-model rows
(microbenchmarks of the collective alone see none of it).

A link through host memory (``host``: the cards have no peer-to-peer access) makes
each hop cross PCIe twice, out to system RAM and back in, and rules out the one-shot
kernel, which needs direct access to the peers' memory.
"""

from __future__ import annotations

from .calibration import Constants
from .engines import EngineProfile
from .placement import Placement


def allreduce_algorithm(placement: Placement, engine: EngineProfile, message_bytes: float) -> str:
    """The algorithm ``engine`` runs for one all-reduce of ``message_bytes`` over the
    placement's GPUs: its first choice that the size, the message and the link allow."""
    n = placement.tensor_parallel
    for algorithm in engine.allreduce_algorithms:
        if algorithm != "oneshot":
            return algorithm
        peer_to_peer = placement.link != "host"
        all_to_all = placement.link == "nvlink" or n == 2
        if (
            n in engine.oneshot_sizes
            and message_bytes <= engine.oneshot_max_bytes
            and peer_to_peer
            and all_to_all
        ):
            return algorithm
    return "ring"


def hop_seconds(link: str, constants: Constants) -> float:
    """Latency of one hop across the link, s (through host memory: two PCIe crossings)."""
    if link == "host":
        return 2 * constants["allreduce_hop_us.pcie"] * 1e-6
    return constants[f"allreduce_hop_us.{link}"] * 1e-6


def allreduce_latency_s(placement: Placement, algorithm: str, constants: Constants) -> float:
    """Fixed part of one all-reduce over the placement's GPUs with ``algorithm``, s."""
    n = placement.tensor_parallel
    hop = hop_seconds(placement.link, constants)
    wait = constants["allreduce_wait_us"] * 1e-6
    if algorithm == "oneshot":
        return wait + constants["allreduce_base_us.oneshot"] * 1e-6 + (n - 1) * hop
    return wait + constants["allreduce_base_us.ring"] * 1e-6 + 2 * (n - 1) * hop


def allreduce_seconds(
    placement: Placement, engine: EngineProfile, message_bytes: float, constants: Constants
) -> float:
    """Time of one all-reduce of ``message_bytes`` over the placement's GPUs, s."""
    n = placement.tensor_parallel
    if n <= 1:
        return 0.0
    algorithm = allreduce_algorithm(placement, engine, message_bytes)
    transfer = 2 * (n - 1) / n * message_bytes / (placement.link_gbs * 1e9)
    return allreduce_latency_s(placement, algorithm, constants) + transfer
