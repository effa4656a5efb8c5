"""Scenario schema: horizon, input files, policy, vendor terms, solver settings; `extends` another scenario."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from planner.schemas.common import (
    MAX_LEASE_TERM_QUARTERS,
    FileName,
    Identifier,
    Precision,
    Quarter,
    StrictModel,
)
from planner.schemas.replan import ReplanPolicy
from planner.schemas.workloads import Engine

#: a budget in USD: 0 .. 1e13
BudgetUsd = Annotated[float, Field(ge=0, le=1e13)]
#: one price line of a system in USD: 0 .. 1e9
ComponentUsd = Annotated[float, Field(ge=0, le=1e9)]


class Horizon(StrictModel):
    """Quarters planned."""

    first_quarter: Quarter = Field(description="First planned quarter, e.g. 2027Q1.")
    quarters: int = Field(ge=1, le=40, description="Number of quarters planned.")


class MeasurementFile(StrictModel):
    """One of the user's result files: a plain CSV (only `file`; written in the scenario as the bare path), or a
    vLLM `benchmark_serving.py --save-result` JSON with the run it measured (the JSON does not say which model,
    chip, precision, layout or engine it ran)."""

    file: FileName = Field(description="Result file (plain CSV or vLLM benchmark JSON), relative to the scenario file.")
    model_id: Identifier | None = Field(default=None, description="JSON: model that was served (an id in models.yaml).")
    chip_id: Identifier | None = Field(default=None, description="JSON: chip it ran on (an id in chips.yaml).")
    precision: Precision | None = Field(default=None, description="JSON: weight precision it ran in.")
    tp: int | None = Field(default=None, ge=1, le=4096, description="JSON: tensor parallelism of the server (chips per pipeline stage).")
    pp: int = Field(default=1, ge=1, le=4096, description="JSON: pipeline parallelism of the server.")
    ep: int = Field(default=1, ge=1, le=4096, description="JSON: expert parallelism of the server (MoE models).")
    engine: Engine = Field(default="vllm", description="JSON: engine that served it.")


class InputPaths(StrictModel):
    """Files the scenario reads, relative to the scenario file."""

    chips: FileName = Field(description="Chip catalog YAML.")
    models: FileName = Field(description="Model catalog YAML.")
    workloads: FileName = Field(description="Workload forecast CSV.")
    sites: FileName = Field(description="Sites and existing fleet YAML.")
    calibration: FileName | None = Field(default=None, description="Optional measured-efficiency table overriding the bundled calibration.")

    @field_validator("measurements", mode="before")
    @classmethod
    def _bare_paths(cls, value: object) -> object:
        """A bare path is a plain-CSV entry."""
        if isinstance(value, list):
            return [{"file": v} if isinstance(v, str) else v for v in value]
        return value
    measurements: list[MeasurementFile] = Field(default_factory=list, description="Your own benchmark results, used wherever they cover a case: a plain CSV path (columns of the measured-points CSV) or a vLLM benchmark JSON with its run (`file`, `model_id`, `chip_id`, `precision`, `tp`, `pp`, `ep`, `engine`).")


class DepreciationPolicy(StrictModel):
    """How hardware is depreciated and what it is assumed to be worth when the horizon ends."""

    method: Literal["straight_line"] = Field(default="straight_line", description="Depreciation method (straight line from the delivery quarter over the chip's life).")
    salvage_fraction: float = Field(default=0.0, ge=0, lt=1, description="Value left at the end of the chip's life, as a fraction of its cost.")
    resale_fraction_of_book_value: float = Field(default=1.0, ge=0, le=1, description="What hardware is worth at the horizon's end, as a fraction of its net book value (an explicit assumption: 1 = book value, 0 = worthless).")


class Policy(StrictModel):
    """What the plan optimises and the limits it must respect."""

    objective: Literal["min_tco", "max_tokens", "min_energy"] = Field(default="min_tco", description="Objective.")
    capex_budget_usd_total: float | None = Field(default=None, ge=0, le=1e13, description="Capex limit over the horizon, USD (at most 1e13 USD).")
    capex_budget_usd_per_quarter: float | None = Field(default=None, ge=0, le=1e13, description="Capex limit in every quarter, USD (at most 1e13 USD).")
    capex_budget_usd_by_quarter: dict[Quarter, BudgetUsd] = Field(default_factory=dict, description="Capex limit for named quarters (overrides the per-quarter limit), USD (at most 1e13 USD each).")
    capex_timing: Literal["order", "delivery"] = Field(default="order", description="Whether capex counts in the order or the delivery quarter.")
    headroom_fraction: float = Field(default=0.0, ge=0, le=10, description="Capacity above peak demand to provision (0.2 = 20 %).")
    redundancy: Literal["none", "n_plus_1"] = Field(default="none", description="`n_plus_1`: serve demand with any one deployed replica of each workload lost.")
    residual_value: bool | None = Field(
        default=None,
        description="Deprecated, replaced by `policy.depreciation.resale_fraction_of_book_value`: `false` means a resale "
        "fraction of 0 (hardware worthless at the horizon's end; an explicit non-zero fraction beside it is an error), "
        "`true` leaves the fraction as given (default 1: worth its net book value).")
    max_vendor_spend_share: float | None = Field(default=None, gt=0, le=1, description="No vendor may take more than this share of capex.")
    allowed_chips: list[Identifier] | None = Field(default=None, description="Chips that may be bought; absent = the whole catalog.")
    engine: Engine = Field(default="vllm", description="Serving engine of workload rows without an `engine` (`vllm`, `trtllm`, `sglang`; `tuned` = a tuned benchmark submission: the calibrated model at the level of the bundled MLPerf submissions).")
    perf_quantile: float = Field(default=0.5, ge=0.05, le=0.95, description="Quantile of the corrected tokens/s the plan buys for (0.5 = median; 0.2 = plan on the pessimistic side).")
    perf_quantile_compare: bool = Field(default=True, description="When `perf_quantile` is not 0.5, solve again at the median and report the cost difference.")
    depreciation: DepreciationPolicy = Field(default_factory=DepreciationPolicy, description="Depreciation method, salvage and the resale assumption at the horizon's end.")
    horizon_tail_quarters: int = Field(
        default=0, ge=0, le=12,
        description="Quarters of demand modelled past the horizon, each workload growing at its last forecast "
        "quarter-on-quarter rate, so the plan does not end in a cliff (tail quarters are marked in every output).")
    replan: ReplanPolicy = Field(default_factory=ReplanPolicy, description="`planner replan` only: penalty and limit on changing the previous plan's future orders.")

    @model_validator(mode="after")
    def _residual_value_maps_to_resale(self) -> Policy:
        """`residual_value` (deprecated) maps onto the depreciation policy; a contradiction is an error."""
        if self.residual_value is None:
            return self
        dep = self.depreciation
        explicit = "resale_fraction_of_book_value" in dep.model_fields_set
        wanted = 1.0 if self.residual_value else 0.0
        # `true` only asked for a residual credit: an explicit fraction says how much; `false` contradicts any credit
        if explicit and not self.residual_value and dep.resale_fraction_of_book_value != wanted:
            raise ValueError(
                f"policy.residual_value: {str(self.residual_value).lower()} contradicts "
                f"policy.depreciation.resale_fraction_of_book_value: {dep.resale_fraction_of_book_value:g}; "
                "residual_value is replaced by resale_fraction_of_book_value (false = 0, true = 1): remove residual_value")
        if not self.residual_value:
            self.depreciation = dep.model_copy(update={"resale_fraction_of_book_value": 0.0})
        return self


class VendorTerms(StrictModel):
    """Terms that apply to every chip of a vendor."""

    discount_fraction: float = Field(default=0.0, ge=0, lt=1, description="Discount off the catalog price (0.1 = 10 %).")
    supply_cap_servers_per_quarter: int | None = Field(default=None, ge=0, le=10_000_000, description="Servers of this vendor that can be ordered per quarter (at most 10 million).")
    max_spend_share: float | None = Field(default=None, gt=0, le=1, description="Share of total capex this vendor may take.")


class ChipTerms(StrictModel):
    """Terms for one chip, overriding the catalog defaults."""

    price_usd_per_server: float | None = Field(default=None, gt=0, le=1e9, description="Price of one server/system, USD (a quote for the whole system: overrides the catalog's components) (at most 1e9 USD).")
    price_components_usd: dict[Literal["accelerators", "host_platform", "scaleout_network", "integration_support"], ComponentUsd] = Field(
        default_factory=dict,
        description="Quotes per price component (accelerators, host_platform, scaleout_network, integration_support), USD per "
        "server/system (at most 1e9 USD each); each replaces the catalog's line of that name, the others stay.")
    discount_fraction: float | None = Field(default=None, ge=0, lt=1, description="Discount off the price (overrides the vendor's).")
    supply_cap_servers_per_quarter: int | None = Field(default=None, ge=0, le=10_000_000, description="Servers that can be ordered per quarter (at most 10 million).")
    lead_time_quarters: int | None = Field(default=None, ge=0, le=12, description="Quarters from order to use.")
    min_order_servers: int | None = Field(default=None, ge=0, le=10_000_000, description="Smallest order when ordering at all, servers (at most 10 million).")
    available_from_quarter: Quarter | None = Field(default=None, description="First quarter it can be ordered.")
    lease_allowed: bool = Field(default=True, description="`false`: never lease this chip, even if the catalog gives lease terms.")
    lease_usd_per_chip_hour: float | None = Field(default=None, gt=0, le=1000, description="Lease price per chip-hour, USD (overrides the catalog's; energy included).")
    lease_min_term_quarters: int | None = Field(default=None, ge=1, le=MAX_LEASE_TERM_QUARTERS, description="Shortest lease commitment, quarters (paid in full even past the horizon).")
    lease_capacity_chips_per_quarter: int | None = Field(default=None, ge=0, le=10_000_000, description="Chips that can be leased at once in any quarter (absent = the catalog's cap, else none) (at most 10 million).")
    lease_lead_time_quarters: int | None = Field(default=None, ge=0, le=12, description="Quarters from signing a lease to using it (default 0).")

    @model_validator(mode="after")
    def _one_price_quote(self) -> ChipTerms:
        if self.price_usd_per_server is not None and self.price_components_usd:
            raise ValueError("give price_usd_per_server (a quote for the whole system) or price_components_usd "
                             "(quotes per component), not both")
        return self


class SolverSettings(StrictModel):
    """Solver backend and its limits."""

    name: Literal["highs", "cbc", "gurobi"] = Field(default="highs", description="MILP backend.")
    time_limit_s: float = Field(default=120, gt=0, le=86_400, description="Wall-clock limit, seconds.")
    mip_gap: float = Field(default=0.01, ge=0, le=1, description="Relative MIP gap at which to stop.")
    threads: int = Field(default=1, ge=1, le=256, description="Solver threads.")
    seed: int = Field(default=0, ge=0, le=2_147_483_647, description="Random seed, for reproducible runs (at most 2^31 - 1).")
    strategy: Literal["monolithic", "fix_and_optimize"] = Field(
        default="fix_and_optimize",
        description="HiGHS only: `monolithic` solves the whole MILP at once; `fix_and_optimize` bounds it by relaxations, "
        "solves restricted MILPs around them and finishes with the full MILP warm-started (faster on large fleets; "
        "the reported gap stays against a valid bound).",
    )


class Scenario(StrictModel):
    """A scenario file after `extends` has been resolved."""

    name: Identifier = Field(description="Scenario name (used for output names).")
    description: str | None = Field(default=None, description="Free text.")
    extends: FileName | None = Field(default=None, description="Path of a base scenario whose keys this one overrides.")
    horizon: Horizon = Field(description="Planning horizon.")
    inputs: InputPaths = Field(description="Input files.")
    policy: Policy = Field(default_factory=Policy, description="Objective and limits.")
    vendors: dict[str, VendorTerms] = Field(default_factory=dict, description="Terms per vendor name.")
    chip_terms: dict[Identifier, ChipTerms] = Field(default_factory=dict, description="Terms per chip id.")
    solver: SolverSettings = Field(default_factory=SolverSettings, description="Solver settings.")
