"""Chip catalog schema (`inputs/catalog/chips.yaml`).

One entry per accelerator as the planner buys and counts it. Units are in the field names. SRAM-only chips
(Groq LPU, Cerebras WSE-3) are described as they are: `memory_kind: sram`, their on-die SRAM as `memory_gb`
and its bandwidth as `memory_bandwidth_tbs`; no HBM is invented for them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.schemas.common import MAX_LEASE_TERM_QUARTERS, Identifier, StrictModel

FabricKind = Literal[
    "nvlink", "nvswitch", "pcie", "ici", "c2c", "ethernet", "infiniband", "xgmi", "neuronlink", "on_wafer",
]


class SourceRef(StrictModel):
    """Where a group of numbers comes from; `estimate: true` marks figures that are not vendor facts."""

    fields: list[str] = Field(min_length=1, description="Dotted names of the fields this source backs, e.g. `memory_gb`, `price.usd`.")
    citation: str = Field(min_length=3, description="Document, page or repository path the figures come from.")
    estimate: bool = Field(default=False, description="True when the figures are estimates or derived, not published facts.")
    note: str | None = Field(default=None, description="How the figure was derived or converted, when it was.")


class PeakTflops(StrictModel):
    """Dense (not 2:4-sparse) peak matrix throughput per precision; absent = not supported or not published."""

    bf16: float | None = Field(default=None, gt=0, le=10_000_000, description="Dense BF16 TFLOPS (at most 1e7).")
    fp16: float | None = Field(default=None, gt=0, le=10_000_000, description="Dense FP16 TFLOPS (where different from or instead of BF16) (at most 1e7).")
    fp8: float | None = Field(default=None, gt=0, le=10_000_000, description="Dense FP8 TFLOPS (at most 1e7).")
    int8: float | None = Field(default=None, gt=0, le=10_000_000, description="Dense INT8 TOPS (at most 1e7).")
    int4: float | None = Field(default=None, gt=0, le=10_000_000, description="Dense INT4 TOPS (at most 1e7).")
    fp4: float | None = Field(default=None, gt=0, le=10_000_000, description="Dense FP4 TFLOPS (at most 1e7).")

    def get(self, precision: str) -> float | None:
        return getattr(self, precision, None)


class ScaleupFabric(StrictModel):
    """The fast fabric that tensor parallelism needs: NVLink, ICI, chip-to-chip links, the wafer itself."""

    name: str = Field(description="Marketing name of the fabric, e.g. 'NVLink 4 + NVSwitch'.")
    kind: FabricKind = Field(description="Fabric kind, used for topology edges.")
    bandwidth_gbs_per_chip: float = Field(gt=0, le=100_000_000, description="Bidirectional aggregate scale-up bandwidth per chip, GB/s (at most 1e8 GB/s).")
    latency_us: float = Field(gt=0, le=1_000_000, description="One hop latency on the fabric, microseconds (at most 1e6 us).")
    domain_size_chips: int = Field(ge=1, le=1_000_000, description="Chips in one scale-up domain (8 for HGX, 72 for NVL72, 1 for none) (at most 1 million).")
    spans_servers: bool = Field(description="True when one domain spans several servers (NVL72 trays, TPU slices, Groq C2C).")
    spans_racks: bool = Field(description="True when one domain may span racks (TPU ICI with optical switches, Groq C2C).")


class ServerPackaging(StrictModel):
    """The unit that is bought and racked: a server, or a whole rack-scale system (NVL72)."""

    name: str = Field(description="Platform name, e.g. 'HGX H100 8-GPU'.")
    kind: Literal["server", "rack_scale"] = Field(description="`rack_scale`: the system fills a rack and is bought as one unit.")
    chips_per_server: int = Field(ge=1, le=100_000, description="Chips in one purchasable unit (at most 100,000).")
    overhead_power_w: float = Field(ge=0, le=10_000_000, description="Server power beyond the chips (CPUs, NICs, fans, switches), W (at most 1e7 W).")
    rack_units: int = Field(ge=1, le=60, description="Rack units the unit occupies (a full rack = 42-48).")
    scaleout_bandwidth_gbs_per_server: float = Field(gt=0, le=100_000_000, description="Scale-out (between servers) network bandwidth per server, GB/s per direction (at most 1e8 GB/s).")
    scaleout_kind: Literal["infiniband", "ethernet", "c2c", "ici", "pcie"] = Field(description="Scale-out network kind.")


class Price(StrictModel):
    """Default purchase price. Prices belong to user inputs; these are defaults."""

    usd: float = Field(gt=0, le=1e9, description="Price in USD for one `basis` unit (at most 1e9 USD).")
    basis: Literal["per_chip", "per_server"] = Field(description="Whether `usd` is per chip or per purchasable server/system.")
    kind: Literal["list", "reported", "estimate", "cloud_equivalent"] = Field(
        description="list = vendor list price; reported = vendor statement in press; estimate = street/analyst or our own; "
        "cloud_equivalent = cloud chip-hour price converted to a purchase-equivalent (not purchasable)."
    )


PriceKind = Literal["list", "reported", "estimate"]
#: Components of a purchasable system's price, in the order a bill of materials lists them.
PRICE_COMPONENTS: tuple[str, ...] = ("accelerators", "host_platform", "scaleout_network", "integration_support")


class PriceComponent(StrictModel):
    """One line of a purchasable system's price (per server/system, USD), with its own source."""

    component: Literal["accelerators", "host_platform", "scaleout_network", "integration_support"] = Field(
        description="accelerators = the chips (GPU boards/modules, wafer, cards); host_platform = CPUs, memory, "
        "storage, chassis, baseboard, power supplies; scaleout_network = NICs, switch ports and optics per system; "
        "integration_support = OEM integration, racking, installation and support contract."
    )
    usd: float = Field(ge=0, le=1e9, description="USD per purchasable unit (server or rack-scale system).")
    kind: PriceKind = Field(description="list = vendor/OEM list price; reported = vendor or press statement; estimate = "
                            "analyst BOM or our own estimate.")
    source: str = Field(min_length=3, description="Where the figure comes from (document, URL, or 'planner default').")
    note: str | None = Field(default=None, description="How it was derived, when it was.")


class SystemPrice(StrictModel):
    """Price of one purchasable unit (an 8-GPU server, a rack-scale system, a CS-3), as components."""

    components: list[PriceComponent] = Field(min_length=1, description="Price lines that sum to the unit price.")

    @model_validator(mode="after")
    def _unique_components(self) -> SystemPrice:
        names = [c.component for c in self.components]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"price component(s) listed twice: {', '.join(dup)}")
        return self

    @property
    def usd(self) -> float:
        return float(sum(c.usd for c in self.components))

    @property
    def kind(self) -> str:
        """The weakest kind among the components (estimate < reported < list)."""
        kinds = {c.kind for c in self.components}
        return "estimate" if "estimate" in kinds else "reported" if "reported" in kinds else "list"


class LeaseTerms(StrictModel):
    """Lease (cloud or neocloud rental) terms for a chip; cloud-only parts have only these."""

    usd_per_chip_hour: float = Field(gt=0, le=1000, description="Lease price per chip-hour, USD.")
    min_term_quarters: int = Field(default=1, ge=1, le=MAX_LEASE_TERM_QUARTERS, description="Shortest commitment, quarters.")
    capacity_chips_per_quarter: int | None = Field(default=None, ge=0, le=10_000_000,
                                                   description="Chips that can be leased per quarter (absent = no cap).")
    kind: PriceKind = Field(description="list = provider's published on-demand/committed price; reported; estimate.")
    source: str = Field(min_length=3, description="Where the figure comes from.")
    note: str | None = Field(default=None, description="How it was derived, when it was.")


class ChipSpec(StrictModel):
    """One accelerator in the catalog."""

    chip_id: Identifier = Field(description="Catalog id, unchanged from the reference data (e.g. `h100_sxm`).")
    vendor: str = Field(min_length=1, description="Vendor name, used for vendor terms and spend shares.")
    name: str = Field(min_length=1, description="Product name.")
    unit_note: str = Field(description="What one entry describes (per GPU, per wafer, per ASIC) and conversions applied.")
    memory_gb: float = Field(gt=0, le=10_000_000, description="Memory that holds weights and KV cache per chip, GB (decimal). SRAM-only chips: on-die SRAM (at most 1e7 GB).")
    memory_type: str = Field(description="Memory technology, e.g. HBM3e, GDDR6, on-die SRAM.")
    memory_kind: Literal["hbm", "gddr", "sram"] = Field(description="`sram` marks SRAM-only chips whose weights live on die.")
    memory_bandwidth_tbs: float = Field(gt=0, le=10_000_000, description="Peak memory bandwidth per chip, TB/s (decimal) (at most 1e7 TB/s).")
    onchip_sram_mb: float | None = Field(default=None, ge=0, le=1e9, description="On-chip SRAM or last-level cache, MB (at most 1e9 MB).")
    peak_tflops: PeakTflops = Field(description="Dense peak matrix throughput per precision.")
    mamf_tflops: PeakTflops | None = Field(default=None, description="Measured maximum achievable matmul TFLOPS, where published.")
    tdp_w: float = Field(gt=0, le=10_000_000, description="Board/module power per chip, W (at most 1e7 W).")
    scaleup: ScaleupFabric = Field(description="Scale-up fabric.")
    server: ServerPackaging = Field(description="How chips are packaged into purchasable units.")
    cooling: Literal["air", "liquid"] = Field(description="Cooling the server needs.")
    price: SystemPrice | Price | None = Field(default=None, description="Default purchase price of one purchasable unit "
                                              "(components; the legacy `usd`/`basis` form is still read). Absent = lease only.")
    lease: LeaseTerms | None = Field(default=None, description="Default lease terms; cloud-only parts have only these.")
    lead_time_quarters: int = Field(ge=0, le=12, description="Default quarters from order to usable hardware.")
    lifetime_quarters: int = Field(ge=1, le=40, description="Service life in quarters (straight-line depreciation).")
    release_year: int | None = Field(default=None, ge=2015, le=2035, description="Year the chip became available.")
    sources: list[SourceRef] = Field(min_length=1, description="Where each figure comes from.")
    notes: str | None = Field(default=None, description="Free text.")

    @model_validator(mode="after")
    def _needs_a_precision(self) -> ChipSpec:
        if not any(self.peak_tflops.get(p) for p in ("bf16", "fp16", "fp8", "int8", "int4", "fp4")):
            raise ValueError("peak_tflops must give at least one precision")
        return self

    @model_validator(mode="after")
    def _priced_somehow(self) -> ChipSpec:
        if self.price is None and self.lease is None:
            raise ValueError("give `price` (to buy) or `lease` (to rent), or both")
        return self

    @property
    def purchasable(self) -> bool:
        """False for lease-only parts (cloud TPUs, Trainium, Inferentia)."""
        return self.price is not None

    @property
    def price_components_usd(self) -> dict[str, float]:
        """Component -> USD per purchasable unit (sums to `price_usd_per_server`); empty when lease only.
        A legacy single-figure price is reported as one `accelerators` line."""
        if self.price is None:
            return {}
        if isinstance(self.price, SystemPrice):
            return {c.component: float(c.usd) for c in self.price.components}
        return {"accelerators": self.price_usd_per_server}

    @property
    def price_usd_per_server(self) -> float:
        """Price of one purchasable unit, USD. Raises ValueError for a lease-only part."""
        if self.price is None:
            raise ValueError(f"{self.chip_id} is lease only: it has no purchase price")
        if isinstance(self.price, SystemPrice):
            return self.price.usd
        return self.price.usd * (self.server.chips_per_server if self.price.basis == "per_chip" else 1)

    @property
    def price_kind(self) -> str:
        return "" if self.price is None else str(self.price.kind)

    @property
    def price_source(self) -> str:
        """Citations of the price lines (or of the SourceRef naming `price.usd` for a legacy price)."""
        if self.price is None:
            return ""
        if isinstance(self.price, SystemPrice):
            return "; ".join(f"{c.component}: {c.source}" for c in self.price.components)
        return "; ".join(s.citation for s in self.sources if "price.usd" in s.fields)

    @property
    def server_power_w(self) -> float:
        """Nameplate power of one purchasable unit: chips at TDP plus overhead."""
        return self.tdp_w * self.server.chips_per_server + self.server.overhead_power_w

    def supported_precisions(self) -> list[str]:
        return [p for p in ("bf16", "fp16", "fp8", "int8", "int4", "fp4") if self.peak_tflops.get(p)]


class ChipCatalog(StrictModel):
    """The file `chips.yaml`."""

    chips: list[ChipSpec] = Field(min_length=1, description="Accelerators.")
