"""Pydantic models of `plan.json` (schema version 1).

Known keys are required and typed; unknown keys are kept (`extra="allow"`) so a newer optimizer can add
fields without breaking older reports. Numbers must be JSON numbers (a quoted "123" or a boolean is an
error, not silently converted); whole-number fields accept 4 or 4.0 but not 4.5.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

SCHEMA_VERSION = 1
_QUARTER_RE = re.compile(r"^\d{4}Q[1-4]$")


def _shown(value: Any) -> str:
    """The offending value as the user wrote it in JSON (true/false/null), shortened."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {_shown(value)}")
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {_shown(value)}")
    return float(value)


def _optional_number(value: Any) -> float | None:
    return None if value is None else _number(value)


def _whole(value: Any) -> int:
    number = _number(value)
    if not number.is_integer():
        raise ValueError(f"must be a whole number, got {_shown(value)}")
    return int(number)


#: The most a count field of plan.json may hold (servers, chips, replicas, quarters: an order is at most 1,000,000
#: servers, `planner.schemas.replan.MAX_ORDER_SERVERS`, of at most 100,000 chips each), and the most an amount (a
#: price, cost, power or rate of one row: an order costs at most 1e15 USD, `MAX_ORDER_USD`). A hand-edited 1e15
#: servers in one rack was accepted by report, replan --from and topology --plan.
MAX_PLAN_COUNT = 100_000_000_000
MAX_PLAN_AMOUNT = 1e15


def _at_most(number: Any, value: Any, limit: float, shown: str) -> Any:
    """`number` when it is at most `limit`, else a ValueError saying the limit (`shown`, with its unit)."""
    if number > limit:
        raise ValueError(f"must be at most {shown}, got {_shown(value)}; restore the value the planner wrote")
    return number


def _count(value: Any) -> int:
    """A whole number of things (servers, chips, replicas, quarters, a TP or PP degree): never below 0."""
    number = _whole(value)
    if number < 0:
        raise ValueError(f"must be 0 or more (a count), got {_shown(value)}")
    return _at_most(number, value, MAX_PLAN_COUNT, f"{MAX_PLAN_COUNT:,} (a count of servers, chips, replicas or quarters)")


def _amount(value: Any) -> float:
    """A price, cost, power or rate that is a product of non-negative figures: never below 0."""
    number = _number(value)
    if number < 0:
        raise ValueError(f"must be 0 or more, got {_shown(value)}")
    return _at_most(number, value, MAX_PLAN_AMOUNT, f"{MAX_PLAN_AMOUNT:g} (USD, kW, tokens/s or rack units of one row)")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, got {_shown(value)}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _quarter(value: Any) -> str:
    if not isinstance(value, str) or not _QUARTER_RE.match(value):
        raise ValueError(f"must be a quarter written like 2027Q1, got {_shown(value)}")
    return value


def _optional_quarter(value: Any) -> str | None:
    return None if value is None else _quarter(value)


Number = Annotated[float, BeforeValidator(_number)]
OptNumber = Annotated[float | None, BeforeValidator(_optional_number)]
Whole = Annotated[int, BeforeValidator(_whole)]
Count = Annotated[int, BeforeValidator(_count)]
Amount = Annotated[float, BeforeValidator(_amount)]
OptWhole = Annotated[int | None, BeforeValidator(lambda v: None if v is None else _whole(v))]
Text = Annotated[str, BeforeValidator(_text)]
OptText = Annotated[str | None, BeforeValidator(_optional_text)]
QuarterStr = Annotated[str, BeforeValidator(_quarter)]
OptQuarter = Annotated[str | None, BeforeValidator(_optional_quarter)]


class PlanModel(BaseModel):
    """Base: unknown keys kept for forward compatibility; no coercion of NaN/inf."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class Solver(PlanModel):
    name: Text
    version: OptText = None
    solve_seconds: OptNumber = None
    build_seconds: OptNumber = None
    time_limit_s: OptNumber = None
    mip_gap_target: OptNumber = None
    threads: OptWhole = None
    seed: OptWhole = None
    raw_status: OptText = None


class OptionSet(PlanModel):
    """Which options reached the MILP; when capped for speed, both bounds and the one `mip_gap` uses (README Model)."""

    reduced: bool
    options: Whole
    replica_variables: Whole
    gap_uses: OptText = None  # "best_bound_usd" (nothing capped) | "unreduced_lp_bound_usd" | None (bound unknown)
    options_exact: OptWhole = None
    replica_variables_exact: OptWhole = None
    reduced_set_status: OptText = None
    reduced_set_mip_bound_usd: OptNumber = None
    reduced_set_mip_gap: OptNumber = None
    unreduced_lp_bound_usd: OptNumber = None
    unreduced_lp_status: OptText = None
    unreduced_lp_seconds: OptNumber = None
    unreduced_lp_time_limit_s: OptNumber = None


class Horizon(PlanModel):
    first_quarter: QuarterStr
    quarters: list[QuarterStr]  # every modelled quarter: the planned ones, then any demand tail
    planned_quarters: list[QuarterStr] = []
    tail_quarters: list[QuarterStr] = []


class Kpis(PlanModel):
    capex_usd: OptNumber
    opex_usd: OptNumber
    energy_usd: OptNumber
    facility_usd: OptNumber
    residual_value_usd: OptNumber
    tco_usd: OptNumber
    energy_mwh: OptNumber
    served_tokens: OptNumber
    usd_per_million_tokens: OptNumber
    joules_per_token: OptNumber
    # money (issue 22); optional so plans written before it still read
    capex_cash_usd: OptNumber = None
    lease_usd: OptNumber = None
    lease_after_horizon_usd: OptNumber = None
    committed_lease_usd: OptNumber = None  # of lease_usd: contracts a re-plan kept (committed cash)
    committed_lease_after_horizon_usd: OptNumber = None  # of lease_after_horizon_usd: the same contracts
    depreciation_usd: OptNumber = None
    fleet_book_value_start_usd: OptNumber = None
    fleet_in_transit_start_usd: OptNumber = None  # paid before the horizon, arriving inside it (capitalised on arrival)
    committed_capex_cash_usd: OptNumber = None  # of capex_cash_usd: orders a re-plan kept, paid inside the horizon
    book_value_end_usd: OptNumber = None
    resale_value_usd: OptNumber = None
    writedown_usd: OptNumber = None
    net_cost_usd: OptNumber = None
    cash_out_usd: OptNumber = None
    usd_per_million_tokens_basis: OptText = None
    objective_name: OptText = None
    objective_unit: OptText = None
    objective_value: OptNumber = None
    objective_tiebreak_usd: OptNumber = None


class Limits(PlanModel):
    budget_usd_total: OptNumber
    budget_usd_by_quarter: dict[QuarterStr, Number]
    site_power_cap_kw: dict[Text, Number]


class Purchase(PlanModel):
    order_quarter: QuarterStr
    delivery_quarter: QuarterStr
    site: Text
    chip: Text
    vendor: Text
    servers: Count
    chips: Count
    unit_price_usd: Amount
    cost_usd: Amount
    list_price_usd: OptNumber = None
    discount_fraction: OptNumber = None
    price_components: dict[Text, Number] = {}
    price_kind: OptText = None
    price_source: OptText = None
    depreciation_in_horizon_usd: OptNumber = None
    book_value_at_end_usd: OptNumber = None
    payment_quarter: OptQuarter = None
    resale_value_usd: OptNumber = None


class Lease(PlanModel):
    """One quarter of one lease contract of one chip at its virtual site (`lease:<chip>`)."""

    quarter: QuarterStr
    chip: Text
    vendor: Text
    chips: Count
    servers: Count
    usd_per_chip_hour: Amount
    lease_usd: Amount
    contract_start_quarter: QuarterStr
    term_quarters: Count
    site: OptText = None  # the virtual site `lease:<chip>`
    committed: bool | None = None  # true: a contract signed before the plan (kept by a re-plan), paid at its own rate


class Rack(PlanModel):
    quarter: QuarterStr
    site: Text
    rack: Text
    rack_type: Text
    chip: Text
    servers: Count
    power_kw: Amount
    power_cap_kw: Amount
    rack_units: Amount
    rack_units_cap: Amount


class Deployment(PlanModel):
    quarter: QuarterStr
    site: Text
    rack: Text
    workload: Text
    model: Text
    chip: Text
    precision: Text
    tp: Count
    pp: Count
    replicas: Count
    chips: Count
    tokens_per_s: Amount
    power_kw: Amount
    perf_source: OptText = None          # measured | corrected | model (where its tokens/s came from)
    extrapolated: bool | None = None     # far from any measurement
    tokens_per_s_p10: OptNumber = None   # replicas x the option's P10 / P90 tokens/s
    tokens_per_s_p90: OptNumber = None


class CapacityRow(PlanModel):
    quarter: QuarterStr
    workload: Text
    demand_tokens_per_s: Amount
    required_tokens_per_s: Amount
    served_tokens_per_s: Amount
    unmet_tokens_per_s: Number


class PowerRow(PlanModel):
    quarter: QuarterStr
    site: Text
    it_power_kw: Number
    facility_power_kw: Number
    cap_kw: OptNumber


class Binding(PlanModel):
    constraint: Text
    where: OptText
    quarter: OptQuarter
    shadow_price_usd: OptNumber
    unit: OptText


class Diagnosis(PlanModel):
    workload: Text
    quarter: OptQuarter
    short_tokens_per_s: Number  # of the forecast peak
    cause: Text
    headroom_short_tokens_per_s: Number = 0.0  # of the headroom buffer above the forecast peak
    kind: OptText = None  # demand (forecast short), headroom (forecast served, buffer short) or limits
    message: OptText = None  # the shortfall in words (`solvers.explain.shortfall_message`)
    exact: bool | None = None  # false when the diagnosis time limit stopped a phase (see `diagnosis_run`)


class DiagnosisPhase(PlanModel):
    phase: Text
    status: Text
    raw_status: OptText = None
    stopped_by: Text  # proven | node limit | time limit | solver


class DiagnosisRun(PlanModel):
    """How the diagnosis ran (`planner.pipeline.run_diagnosis`): reproducible unless a phase hit the time limit."""

    phases: list[DiagnosisPhase]
    deterministic: bool
    caution: OptText = None
    time_limit_s: OptNumber = None
    node_limit: OptWhole = None
    mip_gap: OptNumber = None


class Option(PlanModel):
    workload_id: Text
    quarter: OptQuarter
    chip_id: Text
    precision: Text
    tp: Whole
    pp: Whole
    ep: Whole
    chips_per_replica: Whole
    batch: Whole
    tokens_per_s_per_replica: Number
    ttft_ms: OptNumber
    tpot_ms: OptNumber
    power_w_per_replica: Number
    joules_per_token: OptNumber
    bound: OptText
    engine: OptText = None
    perf_source: OptText = None          # measured | corrected | model
    extrapolated: bool | None = None
    tokens_per_s_p10: OptNumber = None   # per replica
    tokens_per_s_p50: OptNumber = None
    tokens_per_s_p90: OptNumber = None
    spec_tokens: OptNumber = None        # speculative decoding (planner.perf.speculative): tokens per step, 0 = none
    spec_acceptance: OptNumber = None    # per-token acceptance rate
    spec_draft_model: OptText = None     # draft model id ("" = heads)
    spec_head_cost: OptNumber = None     # heads' cost per speculated token / one target decode step


class InputFile(PlanModel):
    role: Text
    path: Text
    sha256: OptText


class Run(PlanModel):
    started_utc: OptText = None
    finished_utc: OptText = None
    planner_version: OptText = None
    versions: dict[Text, OptText] = {}
    stage_seconds: dict[Text, Number] = {}


class FinanceChip(PlanModel):
    chip: Text
    vendor: Text
    lifetime_quarters: Whole
    lead_time_quarters: OptWhole = None
    price_components: dict[Text, Number] = {}
    list_price_usd: OptNumber = None
    discount_fraction: OptNumber = None
    unit_price_usd: OptNumber = None
    price_kind: OptText = None
    price_source: OptText = None
    lease_usd_per_chip_hour: OptNumber = None


class FinanceSite(PlanModel):
    site: Text
    usd_per_kwh: Number
    pue: Number


class FinanceRackType(PlanModel):
    site: Text
    rack_type: Text
    facility_usd_per_quarter: Number


class FinanceFleet(PlanModel):
    site: Text
    rack_type: Text
    chip: Text
    servers: Count
    installed_quarter: QuarterStr
    unit_cost_usd: OptNumber
    lifetime_quarters: Count
    cost_basis: Text
    order_quarter: OptQuarter = None  # a re-plan's kept order: placed then
    payment_quarter: OptQuarter = None  # ... and paid then (committed capex cash when inside the horizon)


class FinanceDepreciation(PlanModel):
    method: Text
    salvage_fraction: Number
    resale_fraction_of_book_value: Number


class FinanceAssumptions(PlanModel):
    hours_per_quarter: Number
    capex_timing: Literal["order", "delivery"]
    objective: OptText = None
    depreciation: FinanceDepreciation
    budget_usd_total: OptNumber = None
    budget_usd_by_quarter: dict[QuarterStr, Number] = {}
    chips: list[FinanceChip] = []
    sites: list[FinanceSite] = []
    rack_types: list[FinanceRackType] = []
    fleet: list[FinanceFleet] = []


class ScheduleRow(PlanModel):
    quarter: QuarterStr
    capex_cash_usd: Number
    lease_usd: Number
    energy_usd: Number
    facility_usd: Number
    depreciation_usd: Number
    net_book_value_usd: Number
    cash_out_usd: Number


class Finance(PlanModel):
    """`finance`: money assumptions, the per-quarter schedule, its totals, the fixed-asset register."""

    assumptions: FinanceAssumptions | None = None
    schedule: list[ScheduleRow] = []
    totals: dict[Text, OptNumber] = {}
    assets: list[dict[Text, Any]] = []


class PerfQuantile(PlanModel):
    """The quantile of tokens/s the plan bought for, and what it costs against planning at the median (P50)."""

    quantile: Number
    objective_usd: OptNumber = None
    capex_usd: OptNumber = None
    p50_status: OptText = None
    p50_objective_usd: OptNumber = None
    p50_capex_usd: OptNumber = None
    extra_objective_usd: OptNumber = None
    extra_capex_usd: OptNumber = None


class Plan(PlanModel):
    """The whole `plan.json`."""

    schema_version: Literal[1]
    scenario: Text
    status: Literal["optimal", "optimal_in_reduced_set", "feasible", "infeasible", "no_plan"]
    objective_usd: OptNumber
    best_bound_usd: OptNumber
    mip_gap: OptNumber
    option_set: OptionSet | None = None  # plans before issue 23's bound have none
    solver: Solver
    horizon: Horizon
    kpis: Kpis
    limits: Limits
    finance: Finance | None = None
    purchases: list[Purchase]
    racks: list[Rack]
    deployments: list[Deployment]
    capacity: list[CapacityRow]
    power: list[PowerRow]
    leases: list[Lease] = []
    warnings: list[Text] = []
    binding: list[Binding]
    diagnosis: list[Diagnosis]
    diagnosis_run: DiagnosisRun | None = None  # infeasible plans since the diagnosis says what stopped it
    options: list[Option]
    perf_quantile: PerfQuantile | None = None
    inputs: list[InputFile]
    run: Run
