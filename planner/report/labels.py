"""Column headings with units, and the kind (unit/precision) of every known column."""

from __future__ import annotations

import re

#: column -> (heading, kind); kinds are those of `planner.results.units.EXCEL_FORMATS`.
COLUMNS: dict[str, tuple[str, str]] = {
    "order_quarter": ("Order quarter", "text"),
    "delivery_quarter": ("Delivery quarter", "text"),
    "quarter": ("Quarter", "text"),
    "vendor": ("Vendor", "text"),
    "chip": ("Chip", "text"),
    "site": ("Site", "text"),
    "servers": ("Servers", "int"),
    "chips": ("Chips", "int"),
    "unit_price_usd": ("Net unit price (USD per server)", "usd"),
    "cost_usd": ("Extended cost (USD)", "usd"),
    "list_price_usd": ("List price (USD per server)", "usd"),
    "discount_fraction": ("Discount", "pct"),
    "price_kind": ("Price kind", "text"),
    "price_source": ("Price source", "text"),
    "residual_value_usd": ("Residual value (USD)", "usd"),
    "in_service_quarter": ("In service from", "text"),
    "in_service_index": ("In service (quarter index)", "int"),
    "retire_index": ("Retired (quarter index)", "int"),
    "lifetime_quarters": ("Life (quarters)", "int"),
    "salvage_fraction": ("Salvage fraction", "pct"),
    "unit_cost_usd": ("Unit cost (USD per server)", "usd"),
    "depreciation_per_quarter_usd": ("Depreciation per quarter (USD)", "usd"),
    "disposal_value_usd": ("Value at disposal (USD)", "usd"),
    "opening_book_value_usd": ("Book value at the horizon's start (USD)", "usd"),
    "depreciation_in_horizon_usd": ("Depreciation in the horizon (USD)", "usd"),
    "book_value_at_end_usd": ("Book value at the horizon's end (USD)", "usd"),
    "average_it_power_kw": ("Average IT power (kW)", "kw"),
    "pue": ("PUE", "number"),
    "hours": ("Hours", "number"),
    "usd_per_kwh": ("Electricity (USD per kWh)", "usd_small"),
    "energy_kwh": ("Energy (kWh)", "int"),
    "energy_usd": ("Energy (USD)", "usd"),
    "racks": ("Occupied racks", "int"),
    "facility_usd_per_rack_quarter": ("Facility (USD per rack-quarter)", "usd"),
    "facility_usd": ("Facility (USD)", "usd"),
    "source": ("Source", "text"),
    "cost_basis": ("Cost basis", "text"),
    "usd_per_chip_hour": ("Lease (USD per chip-hour)", "usd_cents"),
    "lease_usd": ("Leases (USD)", "usd"),
    "committed_lease_usd": ("Of which committed leases (USD)", "usd"),
    "contract_start_quarter": ("Contract start", "text"),
    # finance schedule (plan.json finance.schedule)
    "quarter_index": ("Quarter index", "int"),
    "orders_servers": ("Orders (servers)", "int"),
    "deliveries_servers": ("Deliveries (servers)", "int"),
    "capex_cash_usd": ("Capex cash (USD)", "usd"),
    "committed_capex_cash_usd": ("Of which committed orders (USD)", "usd"),
    "payment_quarter": ("Payment quarter", "text"),
    "cash_out_usd": ("Cash out (USD)", "usd"),
    "cumulative_cash_out_usd": ("Cumulative cash out (USD)", "usd"),
    "capex_budget_usd": ("Capex budget (USD)", "usd"),
    "cumulative_capex_usd": ("Cumulative capex (USD)", "usd"),
    "capitalised_usd": ("Capitalised (USD)", "usd"),
    "depreciation_usd": ("Depreciation (USD)", "usd"),
    "disposals_usd": ("Disposals (USD)", "usd"),
    "net_book_value_usd": ("Net book value (USD)", "usd"),
    "term_quarters": ("Term (quarters)", "int"),
    "rack": ("Rack", "text"),
    "rack_type": ("Rack type", "text"),
    "power_kw": ("Power (kW)", "kw"),
    "power_cap_kw": ("Power cap (kW)", "kw"),
    "rack_units": ("Rack units used", "number"),
    "rack_units_cap": ("Rack units available", "number"),
    "workload": ("Workload", "text"),
    "model": ("Model", "text"),
    "precision": ("Precision", "text"),
    "tp": ("TP", "int"),
    "pp": ("PP", "int"),
    "ep": ("EP", "int"),
    "replicas": ("Replicas", "int"),
    "tokens_per_s": ("Capacity (tokens/s)", "tokens"),
    "demand_tokens_per_s": ("Demand (tokens/s)", "tokens"),
    "required_tokens_per_s": ("Required (tokens/s)", "tokens"),
    "served_tokens_per_s": ("Served (tokens/s)", "tokens"),
    "unmet_tokens_per_s": ("Unmet (tokens/s)", "tokens"),
    "it_power_kw": ("IT power (kW)", "kw"),
    "facility_power_kw": ("Facility power (kW)", "kw"),
    "cap_kw": ("IT power cap (kW)", "kw"),
    "constraint": ("Constraint", "text"),
    "where": ("Where", "text"),
    "shadow_price_usd": ("Shadow price (USD per unit)", "usd_cents"),
    "unit": ("Unit", "text"),
    "short_tokens_per_s": ("Forecast short (tokens/s)", "tokens"),
    "headroom_short_tokens_per_s": ("Headroom short (tokens/s)", "tokens"),
    "kind": ("Short", "text"),
    "message": ("Shortfall", "text"),
    "cause": ("Cause", "text"),
    "workload_id": ("Workload", "text"),
    "chip_id": ("Chip", "text"),
    "chips_per_replica": ("Chips per replica", "int"),
    "batch": ("Batch", "int"),
    "tokens_per_s_per_replica": ("Tokens/s per replica", "tokens"),
    "ttft_ms": ("TTFT (ms)", "ms"),
    "tpot_ms": ("TPOT (ms)", "ms"),
    "power_w_per_replica": ("Power per replica (W)", "int"),
    "joules_per_token": ("Energy (J/token)", "joules"),
    "bound": ("Bound by", "text"),
    "engine": ("Engine", "text"),
    "perf_source": ("Tokens/s from", "text"),
    "extrapolated": ("Extrapolated", "text"),
    "tokens_per_s_p10": ("Tokens/s P10", "tokens"),
    "tokens_per_s_p50": ("Tokens/s P50", "tokens"),
    "tokens_per_s_p90": ("Tokens/s P90", "tokens"),
    "spec_tokens": ("Speculated tokens", "int"),
    "spec_acceptance": ("Spec. acceptance", "number"),
    "spec_draft_model": ("Draft model", "text"),
    "spec_head_cost": ("Spec. head cost (of a step)", "number"),
    "role": ("Role", "text"),
    "path": ("Path", "text"),
    "sha256": ("SHA-256", "text"),
    "budget_usd": ("Budget (USD)", "usd"),
    # columns the workbook adds as live formulas
    "served_share": ("Served / required", "pct"),
    "headroom_kw": ("Headroom (kW)", "kw"),
    "utilisation": ("Utilisation", "pct"),
}

_SUFFIX_KIND = (("_usd", " (USD)", "usd"), ("_kw", " (kW)", "kw"), ("_ms", " (ms)", "ms"),
                ("_mwh", " (MWh)", "mwh"), ("_tokens_per_s", " (tokens/s)", "tokens"), ("_seconds", " (s)", "seconds"))


def heading(column: str) -> str:
    """Display heading of a column; unknown columns get one derived from the name and its unit suffix."""
    if column in COLUMNS:
        return COLUMNS[column][0]
    for suffix, unit, _ in _SUFFIX_KIND:
        if column.endswith(suffix) and len(column) > len(suffix):
            return _words(column[: -len(suffix)]) + unit
    return _words(column)


def kind(column: str, numeric: bool = True) -> str:
    """Kind of a column; unknown numeric columns are plain numbers, unknown others text."""
    if column in COLUMNS:
        return COLUMNS[column][1]
    for suffix, _, k in _SUFFIX_KIND:
        if column.endswith(suffix):
            return k
    return "number" if numeric else "text"


def _words(name: str) -> str:
    text = re.sub(r"[_\s]+", " ", str(name)).strip()
    return text[:1].upper() + text[1:] if text else "(unnamed)"
