"""The catalogue: buyable parts with typed specs per kind, LLM models and quant formats.

Field names carry their units and match ``catalog/seed/README.md`` (the seed and
export format). Spec fields are nullable where the README says "null where unknown";
list-valued specs are JSON lists checked in ``clean()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from catalog import architecture as arch

# How far a GPU's listed bandwidth may stray from bus width x data rate (rounding in
# vendor figures and effective-vs-nominal data rates stay well inside this).
BANDWIDTH_TOLERANCE = 0.03


def _range(low: float, high: float) -> list:
    return [MinValueValidator(low), MaxValueValidator(high)]


def _int(low: int, high: int, *, required: bool = False, help_text: str = "") -> Any:
    null = not required
    return models.PositiveIntegerField(
        null=null, blank=null, validators=_range(low, high), help_text=help_text
    )


def _float(low: float, high: float, *, required: bool = False, help_text: str = "") -> Any:
    null = not required
    return models.FloatField(
        null=null, blank=null, validators=_range(low, high), help_text=help_text
    )


def _choice(choices: type[models.TextChoices], *, required: bool = False, **kwargs: Any) -> Any:
    # Unknown text specs are stored as "" (Django's convention); the seed/export format
    # writes them as null.
    return models.CharField(max_length=32, choices=choices.choices, blank=not required, **kwargs)


def _list(help_text: str) -> Any:
    return models.JSONField(default=list, blank=True, help_text=help_text)


def _check_list(
    errors: dict[str, list[str]],
    field: str,
    value: object,
    allowed: Iterable[Any] | None = None,
    *,
    kind: type = str,
    unique: bool = True,
) -> None:
    """Record an error on ``field`` unless ``value`` is a list of allowed items."""
    if not isinstance(value, list):
        errors.setdefault(field, []).append('Must be a list, e.g. [] or ["a", "b"].')
        return
    allowed_values = tuple(allowed) if allowed is not None else None
    for item in value:
        if kind is int and (isinstance(item, bool) or not isinstance(item, int)):
            errors.setdefault(field, []).append(f"{item!r} is not a whole number.")
        elif kind is str and (not isinstance(item, str) or not item.strip()):
            errors.setdefault(field, []).append(f"{item!r} is not a non-empty text.")
        elif allowed_values is not None and item not in allowed_values:
            options = ", ".join(str(a) for a in allowed_values)
            errors.setdefault(field, []).append(f"{item!r} is not one of: {options}.")
    if unique and len(set(map(repr, value))) != len(value):
        errors.setdefault(field, []).append("Lists each value at most once.")


_COPY_SUFFIX = re.compile(r"-copy(-\d+)?$")


def variant_slug(model: type[models.Model], slug: str) -> str:
    """The first free slug among ``<slug>-copy``, ``<slug>-copy-2``, ... (a copy of a
    copy counts on from the original's)."""
    base = _COPY_SUFFIX.sub("", slug)
    max_length = model._meta.get_field("slug").max_length
    number = 1
    while True:
        suffix = "-copy" if number == 1 else f"-copy-{number}"
        candidate = base[: max_length - len(suffix)] + suffix
        if not model._default_manager.filter(slug=candidate).exists():
            return candidate
        number += 1


class Socket(models.TextChoices):
    AM4 = "AM4"
    AM5 = "AM5"
    LGA1700 = "LGA1700"
    LGA1851 = "LGA1851"
    STR5 = "sTR5"
    SWRX8 = "sWRX8"
    SP3 = "SP3"
    SP5 = "SP5"
    SP6 = "SP6"
    LGA4189 = "LGA4189"
    LGA4677 = "LGA4677"
    LGA4710 = "LGA4710"
    LGA7529 = "LGA7529"


class MemoryType(models.TextChoices):
    DDR4 = "DDR4"
    DDR5 = "DDR5"


class GpuMemoryType(models.TextChoices):
    GDDR5 = "GDDR5"
    GDDR5X = "GDDR5X"
    GDDR6 = "GDDR6"
    GDDR6X = "GDDR6X"
    GDDR7 = "GDDR7"
    HBM2 = "HBM2"
    HBM2E = "HBM2e"
    HBM3 = "HBM3"
    HBM3E = "HBM3e"


class BoardFormFactor(models.TextChoices):
    ATX = "ATX"
    E_ATX = "E-ATX"
    EEB = "EEB"
    SSI_EEB = "SSI-EEB"
    CEB = "CEB"
    MATX = "mATX"
    MINI_ITX = "Mini-ITX"


class Part(models.Model):
    """One identity for anything that can be bought, whatever its kind.

    Offers and prices point here; the kind-specific specs live in subclasses
    (multi-table inheritance), so ``Part.objects`` lists the whole catalogue.
    """

    class Kind(models.TextChoices):
        GPU = "gpu", "GPU / accelerator"
        CPU = "cpu", "CPU"
        MOTHERBOARD = "motherboard", "Motherboard"
        MEMORY = "memory", "Memory module"
        PSU = "psu", "Power supply"
        CASE = "case", "Case"
        STORAGE = "storage", "Storage"
        COOLER = "cooler", "CPU cooler"
        SYSTEM = "system", "Complete system"
        ADAPTER = "adapter", "GPU bridge / riser"

    class Condition(models.TextChoices):
        NEW = "new", "New"
        USED = "used", "Used"

    # Set by each subclass; a new row of that subclass gets this kind.
    KIND: ClassVar[str] = ""

    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    slug = models.SlugField(max_length=120, unique=True)
    brand = models.CharField(max_length=60)
    name = models.CharField(max_length=160)
    condition = models.CharField(
        max_length=8, choices=Condition.choices, default=Condition.NEW, db_index=True
    )
    release_year = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=_range(1990, 2100)
    )
    spec_source = models.URLField(
        max_length=500, help_text="Manufacturer or reference spec page for every spec."
    )
    notes = models.TextField(blank=True)
    seed_hash = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="Hash of the row as load_seed last wrote it (edited rows differ).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "brand", "name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.kind and self.KIND:
            self.kind = self.KIND

    def __str__(self) -> str:
        return f"{self.brand} {self.name}"

    @property
    def specific(self) -> Part:
        """This part as its kind's subclass (``Gpu``, ``Cpu``, ...), with its specs."""
        model = PART_MODELS.get(self.kind)
        if model is None or isinstance(self, model):
            return self
        return getattr(self, model._meta.model_name)

    def make_variant(self) -> Part:
        """Save and return a copy of this part (specs included) under a free
        ``-copy`` slug, for editing into a variant."""
        copy = type(self.specific).objects.get(pk=self.pk)
        copy.pk = copy.id = None
        copy._state.adding = True
        copy.slug = variant_slug(Part, self.slug)
        copy.name = f"{self.name} (copy)"[:160]
        copy.save()
        return copy

    @classmethod
    def spec_fields(cls) -> list[models.Field]:
        """The kind-specific spec fields, in declaration order (none on ``Part`` itself)."""
        if cls is Part:
            return []
        return [f for f in cls._meta.local_concrete_fields if not f.primary_key]


class Gpu(Part):
    KIND = Part.Kind.GPU

    class Interconnect(models.TextChoices):
        NVLINK = "NVLink"
        INFINITY_FABRIC = "Infinity Fabric"
        NONE = "none"

    class SoftwareStack(models.TextChoices):
        CUDA = "CUDA"
        ROCM = "ROCm"
        SYCL = "SYCL"

    class PowerConnector(models.TextChoices):
        V12_2X6 = "12V-2x6"
        V12HPWR = "12VHPWR"
        PCIE_8PIN = "8-pin PCIe"
        PCIE_6PIN = "6-pin PCIe"
        EPS_8PIN = "8-pin EPS"

    class Cooling(models.TextChoices):
        ACTIVE = "active"
        PASSIVE = "passive"

    class FormFactor(models.TextChoices):
        PCIE = "pcie"
        SXM = "sxm"
        OAM = "oam"

    vram_gb = _int(1, 1024, required=True)
    memory_type = _choice(GpuMemoryType)
    bus_width_bits = _int(32, 8192)
    memory_data_rate_gbps = _float(0.5, 50, help_text="Per pin, effective.")
    bandwidth_gbs = _float(10, 20_000, required=True)
    fp16_tflops = _float(0.1, 10_000, help_text="Dense FP16 tensor/matrix throughput, no sparsity.")
    fp32_tflops = _float(0.1, 1_000, help_text="Non-tensor FP32 throughput.")
    tdp_w = _int(10, 2_000)
    pcie_gen = _int(1, 6)
    pcie_lanes = _int(1, 16)
    slot_width = _float(1, 5, help_text="Expansion slots the card occupies (2, 2.5, 3...).")
    length_mm = _int(50, 500)
    power_connector = _choice(PowerConnector)
    power_connector_count = _int(0, 8)
    interconnect = _choice(Interconnect)
    interconnect_bandwidth_gbs = _float(0, 10_000, help_text="0 when there is none.")
    interconnect_group_size = _int(
        1,
        72,
        help_text="Cards one NVLink/Infinity Fabric domain joins (2 = bridged in pairs, 8 = "
        "SXM/OAM baseboard); null when unknown or there is no link.",
    )
    software_stack = _choice(SoftwareStack)
    cooling = _choice(Cooling)
    form_factor = _choice(FormFactor)

    class Meta:
        verbose_name = "GPU"
        verbose_name_plural = "GPUs"

    def expected_bandwidth_gbs(self) -> float | None:
        """Bus width x per-pin data rate, GB/s; None unless both are known."""
        if not self.bus_width_bits or not self.memory_data_rate_gbps:
            return None
        return self.bus_width_bits / 8 * self.memory_data_rate_gbps

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        expected = self.expected_bandwidth_gbs()
        if expected and self.bandwidth_gbs:
            if abs(self.bandwidth_gbs - expected) > BANDWIDTH_TOLERANCE * expected:
                errors["bandwidth_gbs"] = [
                    f"{self.bandwidth_gbs:g} GB/s disagrees with bus width x data rate "
                    f"({self.bus_width_bits} bits / 8 x {self.memory_data_rate_gbps:g} "
                    f"Gbps = {expected:g} GB/s) by more than 3 %."
                ]
        if self.interconnect == self.Interconnect.NONE and self.interconnect_bandwidth_gbs:
            errors["interconnect_bandwidth_gbs"] = ["Must be 0 when the interconnect is none."]
        if (
            self.interconnect
            and self.interconnect != self.Interconnect.NONE
            and self.interconnect_bandwidth_gbs == 0
        ):
            errors["interconnect_bandwidth_gbs"] = [
                f"Must be above 0 for a {self.interconnect} link (or null when unknown)."
            ]
        if self.power_connector_count and not self.power_connector:
            errors["power_connector"] = ["Name the connector when there is a count."]
        if errors:
            raise ValidationError(errors)


class Cpu(Part):
    KIND = Part.Kind.CPU

    class VectorExtension(models.TextChoices):
        AVX2 = "AVX2"
        AVX512 = "AVX-512"
        AVX512_BF16 = "AVX-512-BF16"
        AMX = "AMX"

    socket = _choice(Socket, required=True)
    cores = _int(1, 512, required=True)
    threads = _int(1, 1024)
    base_ghz = _float(0.5, 7)
    boost_ghz = _float(0.5, 7)
    memory_type = _choice(MemoryType, required=True)
    memory_channels = _int(1, 16, required=True, help_text="Per socket.")
    max_memory_mts = _int(1_000, 12_000)
    pcie_lanes = _int(0, 256)
    tdp_w = _int(5, 1_000)
    max_sockets = _int(1, 8)
    vector_extensions = _list("List of AVX2, AVX-512, AVX-512-BF16, AMX.")
    fp32_gflops = _float(
        1, 100_000, help_text="Per socket peak: cores x base GHz x FP32 FLOPs per cycle."
    )

    class Meta:
        verbose_name = "CPU"
        verbose_name_plural = "CPUs"

    def memory_bandwidth_gbs(self) -> float | None:
        """Theoretical memory bandwidth of one socket: channels x MT/s x 8 bytes."""
        if not self.max_memory_mts:
            return None
        return self.memory_channels * self.max_memory_mts * 8 / 1000

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        _check_list(errors, "vector_extensions", self.vector_extensions, self.VectorExtension)
        if self.threads is not None and self.cores and self.threads < self.cores:
            errors["threads"] = [f"Must be at least the core count ({self.cores})."]
        if self.base_ghz and self.boost_ghz and self.boost_ghz < self.base_ghz:
            errors["boost_ghz"] = [f"Must be at least the base clock ({self.base_ghz:g} GHz)."]
        if errors:
            raise ValidationError(errors)


class Motherboard(Part):
    KIND = Part.Kind.MOTHERBOARD

    socket = _choice(Socket, required=True)
    socket_count = _int(1, 8)
    form_factor = _choice(BoardFormFactor)
    chipset = models.CharField(max_length=40, blank=True)
    memory_type = _choice(MemoryType, required=True)
    memory_registered = models.BooleanField(help_text="True = RDIMM, false = UDIMM.")
    dimm_slots = _int(1, 64, required=True)
    memory_channels = _int(1, 32, required=True, help_text="Total over all sockets.")
    max_memory_gb = _int(1, 32_768)
    max_memory_mts = _int(1_000, 12_000)
    pcie_x16_slots = _int(0, 12, help_text="Physical x16 slots.")
    pcie_x16_electrical = _list("Electrical lanes per physical x16 slot, e.g. [16, 16, 8].")
    pcie_gen = _int(1, 6)
    x16_slot_spacing = _int(
        1, 6, help_text="Slot positions from one x16 slot to the next (2 fits dual-slot cards)."
    )
    eps_connectors = _int(0, 8, help_text="8-pin CPU power inputs.")
    x16_slot_positions = _list(
        "Expansion-slot position of each physical x16 slot, 1 = the slot nearest the CPU, "
        "e.g. [1, 3, 5, 7]; empty when unknown."
    )
    pcie_x16_gen = _list("PCIe generation of each physical x16 slot, e.g. [5, 4]; empty = unknown.")

    class Meta:
        verbose_name = "motherboard"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        _check_list(
            errors,
            "pcie_x16_electrical",
            self.pcie_x16_electrical,
            (1, 2, 4, 8, 16),
            kind=int,
            unique=False,
        )
        _check_list(errors, "x16_slot_positions", self.x16_slot_positions, range(1, 21), kind=int)
        _check_list(errors, "pcie_x16_gen", self.pcie_x16_gen, range(1, 7), kind=int, unique=False)
        for name in ("x16_slot_positions", "pcie_x16_gen"):
            value = getattr(self, name)
            if (
                self.pcie_x16_slots is not None
                and isinstance(value, list)
                and value
                and len(value) != self.pcie_x16_slots
            ):
                errors.setdefault(name, []).append(
                    f"Lists {len(value)} slots but pcie_x16_slots is {self.pcie_x16_slots}."
                )
        positions = self.x16_slot_positions
        if isinstance(positions, list) and positions != sorted(positions):
            errors.setdefault("x16_slot_positions", []).append("List the slots from the top down.")
        if (
            self.pcie_x16_slots is not None
            and isinstance(self.pcie_x16_electrical, list)
            and self.pcie_x16_electrical
            and len(self.pcie_x16_electrical) != self.pcie_x16_slots
        ):
            errors.setdefault("pcie_x16_electrical", []).append(
                f"Lists {len(self.pcie_x16_electrical)} slots but pcie_x16_slots is "
                f"{self.pcie_x16_slots}."
            )
        if self.dimm_slots and self.memory_channels and self.memory_channels > self.dimm_slots:
            errors["memory_channels"] = [
                f"A board cannot have more memory channels than DIMM slots ({self.dimm_slots})."
            ]
        if errors:
            raise ValidationError(errors)


class MemoryModule(Part):
    KIND = Part.Kind.MEMORY

    memory_type = _choice(MemoryType, required=True)
    registered = models.BooleanField(help_text="True = RDIMM, false = UDIMM.")
    capacity_gb = _int(1, 1_024, required=True, help_text="Per module.")
    speed_mts = _int(800, 12_000, required=True)
    ecc = models.BooleanField(null=True, blank=True)

    class Meta:
        verbose_name = "memory module"


class PowerSupply(Part):
    KIND = Part.Kind.PSU

    class Efficiency(models.TextChoices):
        STANDARD = "80 PLUS"
        BRONZE = "80 PLUS Bronze"
        SILVER = "80 PLUS Silver"
        GOLD = "80 PLUS Gold"
        PLATINUM = "80 PLUS Platinum"
        TITANIUM = "80 PLUS Titanium"

    class FormFactor(models.TextChoices):
        ATX = "ATX"
        SFX = "SFX"
        SFX_L = "SFX-L"

    watts = _int(100, 4_000, required=True)
    efficiency_rating = _choice(Efficiency)
    pcie_8pin_connectors = _int(0, 24)
    connectors_12v_2x6 = _int(0, 8, help_text="12V-2x6 / 12VHPWR connectors.")
    eps_connectors = _int(0, 8)
    form_factor = _choice(FormFactor)

    class Meta:
        verbose_name = "power supply"


class Case(Part):
    KIND = Part.Kind.CASE

    class FormFactor(models.TextChoices):
        TOWER = "tower"
        RACK = "rack"
        SMALL = "small"

    form_factor = _choice(FormFactor, required=True)
    motherboard_support = _list('Board form factors that fit, e.g. ["ATX", "E-ATX"].')
    max_gpu_length_mm = _int(100, 800)
    expansion_slots = _int(1, 20)
    max_cooler_height_mm = _int(20, 300)
    rack_units = _int(0, 10, help_text="0 for towers.")
    integrated_psu_w = _int(
        0, 20_000, help_text="Watts of the power supply the chassis ships with; 0 = none."
    )
    integrated_psu_count = _int(0, 8, help_text="Supplies fitted (redundant pairs count 2).")

    class Meta:
        verbose_name = "case"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        _check_list(errors, "motherboard_support", self.motherboard_support, BoardFormFactor)
        if self.form_factor == self.FormFactor.RACK and self.rack_units == 0:
            errors["rack_units"] = ["A rack case takes at least 1 U."]
        if self.form_factor != self.FormFactor.RACK and self.rack_units:
            errors["rack_units"] = ["Only rack cases have rack units (use 0)."]
        if errors:
            raise ValidationError(errors)


class Storage(Part):
    KIND = Part.Kind.STORAGE

    capacity_gb = _int(1, 1_000_000, required=True)
    interface = models.CharField(max_length=40, blank=True, help_text="e.g. NVMe PCIe 4.0 x4")
    seq_read_mbs = _int(10, 100_000)

    class Meta:
        verbose_name = "storage drive"


class Cooler(Part):
    KIND = Part.Kind.COOLER

    class CoolerType(models.TextChoices):
        AIR = "air"
        AIO = "AIO"

    sockets = _list('Sockets it mounts on, e.g. ["AM5", "LGA1700"].')
    tdp_rating_w = _int(20, 1_000)
    height_mm = _int(10, 300)
    cooler_type = _choice(CoolerType)

    class Meta:
        verbose_name = "CPU cooler"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        _check_list(errors, "sockets", self.sockets, Socket)
        if isinstance(self.sockets, list) and not self.sockets:
            errors.setdefault("sockets", []).append("List at least one socket.")
        if errors:
            raise ValidationError(errors)


class CompleteSystem(Part):
    KIND = Part.Kind.SYSTEM

    class FormFactor(models.TextChoices):
        SMALL = "small"
        TOWER = "tower"
        LAPTOP = "laptop"

    class SoftwareStack(models.TextChoices):
        METAL = "Metal"
        ROCM = "ROCm"
        CUDA = "CUDA"

    unified_memory_gb = _int(1, 4_096, required=True)
    bandwidth_gbs = _float(10, 20_000, required=True)
    usable_memory_fraction = _float(
        0.05, 1, help_text="Share of memory a model may use by default (macOS wired limit)."
    )
    gpu_fp16_tflops = _float(0.1, 10_000)
    cpu_cores = _int(1, 512)
    tdp_w = _int(5, 5_000)
    form_factor = _choice(FormFactor)
    software_stack = _choice(SoftwareStack)
    storage_gb = _int(0, 1_000_000, help_text="0 when sold without a drive.")

    class Meta:
        verbose_name = "complete system"

    def usable_memory_gb(self) -> float:
        """Memory a model may use by default, GB (all of it when the share is unknown)."""
        return self.unified_memory_gb * (self.usable_memory_fraction or 1.0)


class Adapter(Part):
    """A GPU bridge (NVLink, Infinity Fabric) or a PCIe riser cable / bifurcation card:
    what lets GPUs talk over their own link or sit away from the board's slots."""

    KIND = Part.Kind.ADAPTER

    class AdapterType(models.TextChoices):
        NVLINK_BRIDGE = "nvlink_bridge", "NVLink bridge"
        INFINITY_FABRIC_BRIDGE = "infinity_fabric_bridge", "Infinity Fabric Link bridge"
        RISER_CABLE = "riser_cable", "PCIe riser cable"
        BIFURCATION_CARD = "bifurcation_card", "PCIe bifurcation card"

    adapter_type = _choice(AdapterType, required=True)
    compatible_gpus = _list('GPU slugs a bridge joins, e.g. ["nvidia-a100-80gb-pcie-used"].')
    gpus_joined = _int(1, 8, help_text="Cards one bridge joins (2 for a pair).")
    bridges_per_group = _int(
        1, 8, help_text="Bridges a group of cards needs for the full link (A100 PCIe: 3)."
    )
    slot_spacing = _int(1, 6, help_text="Slot positions between the cards a bridge joins.")
    pcie_lanes = _int(1, 16, help_text="Lanes of a riser or of each link of a bifurcation card.")
    pcie_gen = _int(1, 6)
    length_mm = _int(10, 2_000, help_text="Cable length of a riser.")

    class Meta:
        verbose_name = "GPU bridge or riser"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        _check_list(errors, "compatible_gpus", self.compatible_gpus)
        bridge = self.adapter_type in (
            self.AdapterType.NVLINK_BRIDGE,
            self.AdapterType.INFINITY_FABRIC_BRIDGE,
        )
        if bridge and not self.compatible_gpus:
            errors.setdefault("compatible_gpus", []).append("A bridge names the GPUs it joins.")
        if errors:
            raise ValidationError(errors)


PART_MODELS: dict[str, type[Part]] = {
    model.KIND: model
    for model in (
        Gpu,
        Cpu,
        Motherboard,
        MemoryModule,
        PowerSupply,
        Case,
        Storage,
        Cooler,
        CompleteSystem,
        Adapter,
    )
}


MODEL_USES = ("chat", "coding", "reasoning", "vision")


class LlmModel(models.Model):
    """A language model's architecture as in its ``config.json``.

    ``approximate`` rows were made from a size alone (see ``catalog.sizing``); their
    architecture numbers follow typical scaling rules rather than a published config.
    """

    slug = models.SlugField(max_length=120, unique=True)
    name = models.CharField(max_length=160)
    family = models.CharField(max_length=60, blank=True)
    license = models.CharField(max_length=120, blank=True)
    total_params_b = models.FloatField(validators=_range(0, 100_000), help_text="Billions.")
    active_params_b = models.FloatField(
        validators=_range(0, 100_000), help_text="Billions per token; = total for dense."
    )
    layers = _int(1, 1_000, required=True)
    hidden_size = _int(1, 1_000_000, required=True)
    intermediate_size = _int(1, 10_000_000, help_text="Dense FFN width.")
    attention_heads = _int(1, 10_000, required=True)
    kv_heads = _int(1, 10_000, required=True)
    head_dim = _int(1, 4_096, help_text="Null means hidden_size / attention_heads.")
    vocab_size = _int(1, 10_000_000, required=True)
    tie_word_embeddings = models.BooleanField(default=False)
    mlp_gated = models.BooleanField(
        default=True, help_text="SwiGLU/GeGLU (3 matrices); off for a plain 2-matrix MLP."
    )
    experts_total = _int(1, 100_000)
    experts_per_token = _int(1, 100_000)
    shared_experts = _int(0, 1_000)
    moe_intermediate_size = _int(1, 10_000_000)
    dense_layers = _int(0, 1_000, help_text="Dense (non-MoE) layers in a MoE model.")
    kv_lora_rank = _int(1, 100_000, help_text="Multi-head latent attention (DeepSeek V3).")
    qk_rope_head_dim = _int(0, 100_000)
    q_lora_rank = _int(
        0,
        100_000,
        help_text="Query compression rank of latent attention; 0 = queries not compressed "
        "(DeepSeek-V2-Lite), null = unknown.",
    )
    sliding_window = _int(1, 100_000_000)
    sliding_window_layers_fraction = _float(0, 1)
    full_attention_layers = _int(
        0,
        1_000,
        help_text="Layers with softmax attention and a KV cache that grows with context; "
        "null = every layer (hybrid linear-attention models have fewer).",
    )
    linear_attention_kind = models.CharField(
        max_length=32,
        blank=True,
        choices=[
            ("gated_deltanet", "Gated DeltaNet"),
            ("mamba2", "Mamba-2"),
            ("short_conv", "Short convolution (LFM2)"),
            ("lightning", "Lightning attention"),
        ],
        help_text="Kind of the non-softmax layers in a hybrid model.",
    )
    recurrent_layers = _int(
        0,
        1_000,
        help_text="Layers keeping a recurrent state; null = every layer without attention "
        "(Nemotron-H also has MLP-only layers, which keep none).",
    )
    recurrent_state_heads = _int(1, 100_000, help_text="Heads of a linear/SSM layer's state.")
    recurrent_state_key_dim = _int(
        1, 100_000, help_text="Key width per head (Mamba-2: ssm_state_size)."
    )
    recurrent_state_value_dim = _int(
        1, 100_000, help_text="Value width per head (Mamba-2: mamba_head_dim)."
    )
    recurrent_conv_channels = _int(1, 10_000_000, help_text="Channels of the short conv.")
    recurrent_conv_kernel = _int(1, 64, help_text="Kernel size of the short conv.")
    sparse_attention_topk = _int(
        1, 10_000_000, help_text="Tokens each query attends to (DeepSeek sparse attention)."
    )
    mtp_layers = _int(0, 64, help_text="Multi-token-prediction layers (num_nextn_predict_layers).")
    vision_params_b = _float(0, 1_000, help_text="Vision tower parameters, billions.")
    max_context = _int(1, 100_000_000, required=True)
    extended_context = _int(
        1,
        100_000_000,
        help_text="Context reached with RoPE scaling (YaRN) beyond the native max_context.",
    )
    hf_repo = models.CharField(max_length=200, blank=True, help_text='e.g. "Qwen/Qwen3-8B".')
    release_date = models.DateField(null=True, blank=True)
    uses = _list('What the model is for: any of "chat", "coding", "reasoning", "vision".')
    config_source = models.CharField(
        max_length=500,
        blank=True,
        help_text="URL of the model's config.json (or the file it was imported from).",
    )
    approximate = models.BooleanField(
        default=False, help_text="Architecture filled in from a size by scaling rules."
    )
    seed_hash = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="Hash of the row as load_seed last wrote it (edited rows differ).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family", "total_params_b", "name"]
        verbose_name = "LLM model"

    def __str__(self) -> str:
        return self.name

    @property
    def is_moe(self) -> bool:
        return bool(self.experts_total)

    def make_variant(self) -> LlmModel:
        """Save and return a copy of this model under a free ``-copy`` slug."""
        copy = LlmModel.objects.get(pk=self.pk)
        copy.pk = None
        copy._state.adding = True
        copy.slug = variant_slug(LlmModel, self.slug)
        copy.name = f"{self.name} (copy)"[:160]
        copy.save()
        return copy

    @classmethod
    def from_size(cls, size: str) -> LlmModel:
        """An unsaved, approximate model from a size alone ("70B dense", "671b-a37b",
        "671B MoE with 37B active"); see :mod:`catalog.sizing`."""
        from catalog.sizing import approximate_model

        return approximate_model(size)

    def architecture(self) -> arch.Architecture:
        """The numbers that decide the parameter count, as a plain dataclass."""
        return arch.Architecture.from_mapping(
            {name: getattr(self, name) for name in arch.FIELD_NAMES}
        )

    def recomputed_params_b(self) -> arch.ParameterCount:
        """Total and active parameters (billions) recomputed from the architecture."""
        return arch.parameter_count(self.architecture())

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        if not self.config_source and not self.approximate:
            errors["config_source"] = ["Every catalogue model needs a source (its config.json)."]
        elif self.config_source and not re.match(r"^https?://[^\s/]+", self.config_source):
            errors["config_source"] = [
                "Must be an http(s) URL where the config is published (got "
                f"{self.config_source[:60]!r})."
            ]
        total, active = self.total_params_b, self.active_params_b
        if total is not None and total <= 0:
            errors["total_params_b"] = ["Must be above 0."]
        if total and active is not None:
            if active <= 0 or active > total * 1.0001:
                errors["active_params_b"] = [f"Must be above 0 and at most {total:g} (total)."]
            elif not self.experts_total and abs(active - total) > total * 1e-4:
                errors["active_params_b"] = ["Must equal total_params_b for a dense model."]
        heads, kv = self.attention_heads, self.kv_heads
        if heads and kv and (kv > heads or heads % kv):
            errors["kv_heads"] = [f"Must divide the attention heads ({heads})."]
        if self.experts_total:
            if not self.experts_per_token:
                errors["experts_per_token"] = ["Required for a mixture-of-experts model."]
            elif self.experts_per_token > self.experts_total:
                errors["experts_per_token"] = [
                    f"Must be at most experts_total ({self.experts_total})."
                ]
            if not self.moe_intermediate_size and not self.intermediate_size:
                errors["moe_intermediate_size"] = ["Required for a mixture-of-experts model."]
        else:
            for name in ("experts_per_token", "shared_experts", "moe_intermediate_size"):
                if getattr(self, name):
                    errors[name] = ["Only for mixture-of-experts models (set experts_total)."]
            if not self.intermediate_size:
                errors["intermediate_size"] = ["Required for a dense model."]
        if self.dense_layers and self.layers and self.dense_layers > self.layers:
            errors["dense_layers"] = [f"Must be at most the layer count ({self.layers})."]
        if self.kv_lora_rank and self.qk_rope_head_dim is None:
            errors["qk_rope_head_dim"] = ["Required with kv_lora_rank (latent attention)."]
        _check_list(errors, "uses", self.uses, MODEL_USES)
        if self.full_attention_layers is not None and self.layers:
            if self.full_attention_layers > self.layers:
                errors["full_attention_layers"] = [f"Must be at most the layers ({self.layers})."]
            elif self.full_attention_layers < self.layers and not self.linear_attention_kind:
                errors["linear_attention_kind"] = [
                    "Required when some layers have no softmax attention."
                ]
            elif (
                self.recurrent_layers is not None
                and self.recurrent_layers > self.layers - self.full_attention_layers
            ):
                errors["recurrent_layers"] = [
                    f"Must be at most the layers without attention "
                    f"({self.layers - self.full_attention_layers})."
                ]
        if self.extended_context and self.max_context and self.extended_context <= self.max_context:
            errors["extended_context"] = [
                f"Must exceed the native max_context ({self.max_context}) or be empty."
            ]
        if self.sliding_window_layers_fraction and not self.sliding_window:
            errors["sliding_window"] = ["Required when some layers use a sliding window."]
        if errors:
            raise ValidationError(errors)


def validate_bits_per_weight(value: float) -> None:
    if not 1 < value < 33:
        raise ValidationError(
            "Effective bits per weight must be above 1 and below 33 (got %(value)s).",
            params={"value": value},
        )


class QuantFormat(models.Model):
    """A quantization format with its effective bits per weight (block scales included)."""

    class Family(models.TextChoices):
        GGUF = "GGUF"
        GPTQ = "GPTQ"
        AWQ = "AWQ"
        EXL2 = "EXL2"
        EXL3 = "EXL3"
        FP8 = "FP8"
        MXFP4 = "MXFP4"
        NVFP4 = "NVFP4"
        NF4 = "NF4"
        MLX = "MLX"
        NATIVE = "native"

    class AppliesTo(models.TextChoices):
        WEIGHTS = "weights"
        KV_CACHE = "kv_cache", "KV cache"

    ENGINES: ClassVar[tuple[str, ...]] = (
        "llama.cpp",
        "vllm",
        "exllamav2",
        "exllamav3",
        "mlx",
        "sglang",
        "transformers",
        "tensorrt-llm",
    )

    name = models.CharField(max_length=40)
    family = models.CharField(max_length=16, choices=Family.choices)
    bits_per_weight = models.FloatField(validators=[validate_bits_per_weight])
    applies_to = models.CharField(
        max_length=16, choices=AppliesTo.choices, default=AppliesTo.WEIGHTS
    )
    engines = _list("Engines that run it: " + ", ".join(ENGINES) + ".")
    quality_note = models.CharField(max_length=300, blank=True)
    source = models.URLField(max_length=500)
    mean_kld = models.FloatField(
        null=True,
        blank=True,
        validators=_range(0, 100),
        help_text="Mean KL divergence from the 16-bit model (nats per token); null = unknown.",
    )
    ppl_delta = models.FloatField(
        null=True,
        blank=True,
        validators=_range(-100, 10_000),
        help_text="Perplexity increase over the 16-bit model; null = unknown.",
    )
    quality_model = models.CharField(
        max_length=120, blank=True, help_text="The model the KLD/PPL figures were measured on."
    )
    quality_source = models.URLField(
        max_length=500, blank=True, help_text="Where the KLD/PPL figures are published."
    )
    seed_hash = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="Hash of the row as load_seed last wrote it (edited rows differ).",
    )

    class Meta:
        ordering = ["applies_to", "-bits_per_weight", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "applies_to"], name="catalog_quantformat_unique_name_applies_to"
            )
        ]

    def __str__(self) -> str:
        suffix = " (KV cache)" if self.applies_to == self.AppliesTo.KV_CACHE else ""
        return f"{self.name}{suffix}"

    def size_gb(self, params_b: float) -> float:
        """Bytes (in GB) that ``params_b`` billion weights take in this format."""
        return params_b * self.bits_per_weight / 8

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        _check_list(errors, "engines", self.engines, self.ENGINES)
        measured = self.mean_kld is not None or self.ppl_delta is not None
        if measured and not (self.quality_model and self.quality_source):
            errors["quality_source"] = [
                "KLD/PPL figures need the model they were measured on (quality_model) and "
                "their source (quality_source)."
            ]
        if errors:
            raise ValidationError(errors)
