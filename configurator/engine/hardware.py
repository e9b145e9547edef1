"""Hardware the engine reasons about: GPUs, a CPU memory system, a unified-memory system,
storage, and a :class:`Machine` that combines them.

Units are in every field name. Memory *capacities* (``vram_gb``, ``ram_gb``,
``memory_gb``) are the vendor's figures, which for DRAM and VRAM are binary: a "24 GB"
card holds 24 × 2**30 bytes. Everything the engine reports is in decimal GB (10**9 bytes)
and GB/s, so a 24 GB card shows a capacity of 25.8 GB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import checks

GIB_BYTES = 2**30
GB_BYTES = 10**9

# Usable bandwidth of one PCIe lane, one direction, GB/s (after line encoding).
PCIE_LANE_GBS = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}

GPU_VENDORS = ("nvidia", "amd", "intel")
UNIFIED_VENDORS = ("apple", "amd", "nvidia", "intel", "qualcomm")
MEMORY_TYPES = ("DDR3", "DDR4", "DDR5", "LPDDR4X", "LPDDR5", "LPDDR5X", "MRDIMM")
# Integer-matrix instruction classes of CPUs, best first (see devices.CPU_ISA_FACTS).
CPU_ISAS = ("amx", "avx512_vnni", "avx512", "avx2")


@dataclass(frozen=True)
class Gpu:
    """A discrete GPU or accelerator card.

    ``vram_gb``: vendor capacity (binary GB). ``bandwidth_gbs``: peak memory bandwidth,
    GB/s. ``fp16_tflops``: dense FP16/BF16 matrix throughput without sparsity, TFLOP/s,
    with FP16 accumulation (GeForce cards reach half of it with FP32 accumulation, as
    training does: :func:`.devices.fp32_accumulate_share`).
    ``fp32_tflops``: non-tensor FP32, TFLOP/s (0 when unknown). ``tdp_w``: board power, W.
    ``power_limit_w``: a lower board power limit set by the owner (``nvidia-smi -pl``), W;
    0 when the card runs at its stock limit. ``interconnect_bandwidth_gbs``: GPU-to-GPU
    link (NVLink, Infinity Fabric), GB/s per direction, 0 when the card only has PCIe.
    ``interconnect_group_size``: how many GPUs that link joins all-to-all (8 on an HGX or
    OAM board through NVSwitch or an Infinity Fabric mesh, 2 for a bridged pair); 0 when
    unknown, taken as all the machine's GPUs. ``pcie_p2p``: the cards can read and write
    each other's memory over PCIe (peer-to-peer); False where the driver refuses it, so
    collectives pass through host memory; None when unknown, taken as available.
    ``memory_type`` (GDDR6X, HBM3, ...; "" if unknown) matters because HBM cards reach a
    smaller share of their bandwidth at batch 1.
    """

    name: str
    vram_gb: float
    bandwidth_gbs: float
    fp16_tflops: float
    fp32_tflops: float = 0.0
    tdp_w: float = 300.0
    vendor: str = "nvidia"
    interconnect_bandwidth_gbs: float = 0.0
    pcie_gen: int = 4
    pcie_lanes: int = 16
    memory_type: str = ""
    power_limit_w: float = 0.0
    interconnect_group_size: int = 0
    pcie_p2p: bool | None = None

    def __post_init__(self) -> None:
        checks.text("gpu.name", self.name)
        if not isinstance(self.memory_type, str):
            raise ValueError(
                f"gpu.memory_type must be a string such as GDDR6X or HBM3 "
                f"(got {self.memory_type!r})"
            )
        checks.number("gpu.vram_gb", self.vram_gb, 0.5, 4096)
        checks.number("gpu.bandwidth_gbs", self.bandwidth_gbs, 1, 100_000)
        checks.number("gpu.fp16_tflops", self.fp16_tflops, 0.01, 100_000)
        checks.zero_or("gpu.fp32_tflops", self.fp32_tflops, 0.01, 100_000)
        checks.number("gpu.tdp_w", self.tdp_w, 1, 5_000)
        checks.zero_or("gpu.power_limit_w", self.power_limit_w, 1, 5_000)
        checks.choice("gpu.vendor", self.vendor, GPU_VENDORS)
        checks.number("gpu.interconnect_bandwidth_gbs", self.interconnect_bandwidth_gbs, 0, 100_000)
        checks.integer("gpu.pcie_gen", self.pcie_gen, 1, 6)
        checks.integer("gpu.pcie_lanes", self.pcie_lanes, 1, 16)
        checks.integer("gpu.interconnect_group_size", self.interconnect_group_size, 0, 64)
        if self.pcie_p2p is not None and not isinstance(self.pcie_p2p, bool):
            raise ValueError(f"gpu.pcie_p2p must be true, false or null (got {self.pcie_p2p!r})")

    @property
    def has_hbm(self) -> bool:
        """True for high-bandwidth-memory (stacked) cards."""
        return self.memory_type.upper().startswith("HBM")

    @property
    def capacity_bytes(self) -> float:
        """VRAM in bytes (vendor GB are binary)."""
        return self.vram_gb * GIB_BYTES

    @property
    def pcie_bandwidth_gbs(self) -> float:
        """Host link bandwidth, one direction, GB/s."""
        return PCIE_LANE_GBS[self.pcie_gen] * self.pcie_lanes


@dataclass(frozen=True)
class GpuGroup:
    """``count`` identical GPUs."""

    gpu: Gpu
    count: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.gpu, Gpu):
            raise ValueError(f"gpus: each group needs a Gpu (got {self.gpu!r})")
        checks.integer("gpus.count", self.count, 1, 64)


@dataclass(frozen=True)
class CpuSystem:
    """One or more CPU sockets and the DRAM attached to them.

    ``memory_channels`` is the total over all sockets; ``memory_mts`` the DIMMs' transfer
    rate in MT/s; ``ram_gb`` the installed capacity (binary GB);
    ``fp32_gflops_per_socket`` the peak FP32 GFLOP/s of one socket;
    ``tdp_w_per_socket`` one CPU's rated power, W. Peak bandwidth is derived:
    channels × MT/s × 8 bytes, unless ``rated_bandwidth_gbs`` gives the vendor's figure
    (for LPDDR systems whose channels are not 64 bits wide). ``ccds_per_socket``: core
    complexes per socket on chiplet CPUs (AMD CCDs), None if not stated; each reaches
    memory through its own link, which caps parts with many cores on few CCDs.
    ``numa_interleave``: on two or more sockets, whether the weights' pages are spread
    over every socket's memory (``numactl --interleave=all``, llama.cpp ``--numa
    distribute``; the default, as the documented advice). Without it the pages sit on the
    node that first touched them and every socket's cores read that one node's channels.
    ``pcie_gen``: the host's PCIe generation (None: not limiting); a GPU's link runs at the
    lower of its own and the host's generation. ``isa``: the best integer-matrix
    instructions its cores have (amx, avx512_vnni, avx512, avx2; None: from its name,
    :func:`.devices.cpu_isa_for_name`).
    """

    name: str
    sockets: int
    cores_per_socket: int
    memory_channels: int
    memory_mts: float
    ram_gb: float
    fp32_gflops_per_socket: float
    tdp_w_per_socket: float = 200.0
    memory_type: str = "DDR5"
    rated_bandwidth_gbs: float | None = None
    ccds_per_socket: int | None = None
    numa_interleave: bool = True
    pcie_gen: int | None = None
    isa: str | None = None

    def __post_init__(self) -> None:
        checks.text("cpu.name", self.name)
        if self.isa is not None:
            checks.choice("cpu.isa", self.isa, CPU_ISAS)
        if self.pcie_gen is not None:
            checks.integer("cpu.pcie_gen", self.pcie_gen, 1, 6)
        if not isinstance(self.numa_interleave, bool):
            raise ValueError(
                f"cpu.numa_interleave must be true or false (got {self.numa_interleave!r})"
            )
        if self.ccds_per_socket is not None:
            checks.integer("cpu.ccds_per_socket", self.ccds_per_socket, 1, 64)
        if self.rated_bandwidth_gbs is not None:
            checks.number("cpu.rated_bandwidth_gbs", self.rated_bandwidth_gbs, 1, 100_000)
        checks.integer("cpu.sockets", self.sockets, 1, 8)
        checks.integer("cpu.cores_per_socket", self.cores_per_socket, 1, 512)
        checks.integer("cpu.memory_channels", self.memory_channels, 1, 128)
        checks.number("cpu.memory_mts", self.memory_mts, 100, 20_000)
        checks.number("cpu.ram_gb", self.ram_gb, 0.5, 65_536)
        checks.number("cpu.fp32_gflops_per_socket", self.fp32_gflops_per_socket, 1, 1_000_000)
        checks.number("cpu.tdp_w_per_socket", self.tdp_w_per_socket, 1, 2_000)
        checks.choice("cpu.memory_type", self.memory_type, MEMORY_TYPES)

    @property
    def bandwidth_gbs(self) -> float:
        """Theoretical peak DRAM bandwidth over all sockets, GB/s."""
        if self.rated_bandwidth_gbs is not None:
            return self.rated_bandwidth_gbs
        return self.memory_channels * self.memory_mts * 8 / 1000

    @property
    def memory_sockets(self) -> int:
        """Sockets whose memory channels hold the weights: all of them when interleaved,
        else the one node that first touched the pages."""
        return self.sockets if self.numa_interleave else 1

    @property
    def cores(self) -> int:
        """Cores over all sockets."""
        return self.sockets * self.cores_per_socket

    @property
    def fp32_gflops(self) -> float:
        """Peak FP32 GFLOP/s over all sockets."""
        return self.sockets * self.fp32_gflops_per_socket

    @property
    def tdp_w(self) -> float:
        """Rated power of all sockets, W."""
        return self.sockets * self.tdp_w_per_socket

    @property
    def capacity_bytes(self) -> float:
        """Installed RAM in bytes (vendor GB are binary)."""
        return self.ram_gb * GIB_BYTES


@dataclass(frozen=True)
class UnifiedMemorySystem:
    """A machine whose CPU and GPU share one memory pool (Apple silicon, AMD Strix Halo,
    NVIDIA GB10).

    ``memory_gb``: installed memory (binary GB); ``usable_memory_fraction``: share a model
    may use by default (macOS limits the GPU's wired memory to about 75 % on large
    machines); ``gpu_fp16_tflops``: GPU FP16 throughput, TFLOP/s; ``tdp_w``: whole-system
    power under load, W.
    """

    name: str
    memory_gb: float
    bandwidth_gbs: float
    gpu_fp16_tflops: float
    usable_memory_fraction: float = 0.75
    tdp_w: float = 150.0
    vendor: str = "apple"

    def __post_init__(self) -> None:
        checks.text("system.name", self.name)
        checks.number("system.memory_gb", self.memory_gb, 0.5, 65_536)
        checks.number("system.bandwidth_gbs", self.bandwidth_gbs, 1, 100_000)
        checks.number("system.gpu_fp16_tflops", self.gpu_fp16_tflops, 0.01, 100_000)
        checks.number("system.usable_memory_fraction", self.usable_memory_fraction, 0.1, 1.0)
        checks.number("system.tdp_w", self.tdp_w, 1, 5_000)
        checks.choice("system.vendor", self.vendor, UNIFIED_VENDORS)

    @property
    def capacity_bytes(self) -> float:
        """Memory a model may use, bytes."""
        return self.memory_gb * GIB_BYTES * self.usable_memory_fraction


@dataclass(frozen=True)
class Storage:
    """A drive that weights can be streamed from; ``seq_read_mbs`` in MB/s."""

    name: str
    seq_read_mbs: float

    def __post_init__(self) -> None:
        checks.text("storage.name", self.name)
        checks.number("storage.seq_read_mbs", self.seq_read_mbs, 1, 1_000_000)

    @property
    def bandwidth_gbs(self) -> float:
        """Sequential read, GB/s."""
        return self.seq_read_mbs / 1000


@dataclass(frozen=True)
class Machine:
    """What an estimate runs on.

    ``gpus``: groups of identical GPUs (a ``(Gpu, count)`` pair is accepted and turned
    into a :class:`GpuGroup`); ``cpu``: the host's sockets and RAM (needed for CPU-only
    runs and CPU offload); ``unified``: a unified-memory machine (then no ``cpu`` or
    ``gpus``); ``storage``: the drive weights would stream from if memory is short.
    """

    gpus: tuple[GpuGroup, ...] = ()
    cpu: CpuSystem | None = None
    unified: UnifiedMemorySystem | None = None
    storage: Storage | None = None
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        groups = []
        raw = self.gpus if isinstance(self.gpus, (tuple, list)) else (self.gpus,)
        for group in raw:
            if isinstance(group, GpuGroup):
                groups.append(group)
            elif isinstance(group, Gpu):
                groups.append(GpuGroup(group, 1))
            elif isinstance(group, (tuple, list)) and len(group) == 2:
                groups.append(GpuGroup(group[0], group[1]))
            else:
                raise ValueError(f"gpus: expected (Gpu, count) pairs (got {group!r})")
        object.__setattr__(self, "gpus", tuple(groups))
        if self.cpu is not None and not isinstance(self.cpu, CpuSystem):
            raise ValueError(f"cpu must be a CpuSystem or None (got {self.cpu!r})")
        if self.unified is not None and not isinstance(self.unified, UnifiedMemorySystem):
            raise ValueError(
                f"unified must be a UnifiedMemorySystem or None (got {self.unified!r})"
            )
        if self.storage is not None and not isinstance(self.storage, Storage):
            raise ValueError(f"storage must be a Storage or None (got {self.storage!r})")
        if self.unified is not None and (self.gpus or self.cpu is not None):
            raise ValueError(
                "unified: a unified-memory system already includes its CPU and GPU; "
                "leave gpus and cpu empty"
            )
        if not self.gpus and self.cpu is None and self.unified is None:
            raise ValueError("machine needs at least one of gpus, cpu or unified")
        if self.gpu_count > 64:
            raise ValueError(f"gpus: at most 64 GPUs in total (got {self.gpu_count})")

    @property
    def gpu_count(self) -> int:
        """GPUs over all groups."""
        return sum(group.count for group in self.gpus)

    def gpu_list(self) -> list[Gpu]:
        """Every GPU, one entry per card, in group order."""
        return [group.gpu for group in self.gpus for _ in range(group.count)]


def with_threads(cpu: CpuSystem, threads: int) -> CpuSystem:
    """``cpu`` as seen by a run with ``threads`` threads (``-t``): fewer threads than
    cores leave the other cores idle (they neither pull memory nor compute), spread over
    the sockets and CCDs as the OS spreads them; more threads than cores change nothing."""
    from dataclasses import replace

    checks.integer("threads", threads, 1, 4096)
    if threads >= cpu.cores:
        return cpu
    per_socket = max(threads // cpu.sockets, 1)
    share = per_socket / cpu.cores_per_socket
    ccds = cpu.ccds_per_socket
    return replace(
        cpu,
        cores_per_socket=per_socket,
        fp32_gflops_per_socket=cpu.fp32_gflops_per_socket * share,
        ccds_per_socket=min(ccds, per_socket) if ccds else None,
    )
