"""RigRank's estimator engine: pure Python, no Django.

Frozen dataclasses in, an :class:`Estimate` out::

    from configurator.engine import Gpu, Machine, ModelArch, Quant, Workload, estimate

    rtx4090 = Gpu("GeForce RTX 4090", vram_gb=24, bandwidth_gbs=1008, fp16_tflops=330.3)
    result = estimate(
        Machine(gpus=((rtx4090, 2),)),
        ModelArch.from_size("70b"),
        Quant.from_name("Q4_K_M"),
        Workload(context_tokens=4096),
    )
    result.fits, result.decode_tokens_per_s, result.bottleneck

See README.md beside this file for the formulas, constants and validation figures.
"""

from .calibration import Constants, load_constants
from .engines import DEFAULT_ENGINE, ENGINES, EngineProfile, engine_profile
from .estimate import estimate
from .hardware import CpuSystem, Gpu, GpuGroup, Machine, Storage, UnifiedMemorySystem
from .model import ModelArch
from .quant import KNOWN_FORMATS, KV_CACHE_BITS, Quant, kv_cache_bits
from .results import DeviceMemory, Estimate, TrainingReport
from .workload import MODES, Workload

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "KNOWN_FORMATS",
    "KV_CACHE_BITS",
    "MODES",
    "Constants",
    "CpuSystem",
    "DeviceMemory",
    "EngineProfile",
    "Estimate",
    "Gpu",
    "GpuGroup",
    "Machine",
    "ModelArch",
    "Quant",
    "Storage",
    "TrainingReport",
    "UnifiedMemorySystem",
    "Workload",
    "engine_profile",
    "estimate",
    "kv_cache_bits",
    "load_constants",
]
