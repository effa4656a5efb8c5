"""Tidy tables from a validated plan: one pandas DataFrame per list in `plan.json`.

The workbook, the CSV files and the HTML report are all views of these tables. Every table has a fixed
column order, even when empty; columns a newer optimizer adds are appended after the known ones.
Rows are sorted by their natural keys (quarter first) so the same plan always gives the same tables.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from planner.finance.schedule import ASSET_COLUMNS, SCHEDULE_COLUMNS

#: Known columns of each table, in display order.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "purchases": ("order_quarter", "delivery_quarter", "vendor", "chip", "site", "servers", "chips",
                  "unit_price_usd", "cost_usd", "list_price_usd", "discount_fraction", "price_components", "price_kind",
                  "price_source", "depreciation_in_horizon_usd", "book_value_at_end_usd", "payment_quarter",
                  "resale_value_usd"),
    "deployments": ("quarter", "site", "rack", "workload", "model", "chip", "precision", "tp", "pp",
                    "replicas", "chips", "tokens_per_s", "power_kw", "perf_source", "extrapolated", "tokens_per_s_p10",
                    "tokens_per_s_p90"),
    "capacity": ("quarter", "workload", "demand_tokens_per_s", "required_tokens_per_s", "served_tokens_per_s",
                 "unmet_tokens_per_s"),
    "power": ("quarter", "site", "it_power_kw", "facility_power_kw", "cap_kw"),
    "racks": ("quarter", "site", "rack", "rack_type", "chip", "servers", "power_kw", "power_cap_kw",
              "rack_units", "rack_units_cap"),
    "binding": ("constraint", "where", "quarter", "shadow_price_usd", "unit"),
    "diagnosis": ("workload", "quarter", "kind", "short_tokens_per_s", "headroom_short_tokens_per_s", "message", "cause",
                  "exact"),
    "options": ("workload_id", "quarter", "chip_id", "precision", "tp", "pp", "ep", "dp", "chips_per_replica", "batch",
                "tokens_per_s_per_replica", "ttft_ms", "tpot_ms", "power_w_per_replica", "joules_per_token",
                "bound", "engine", "perf_source", "extrapolated", "tokens_per_s_p10", "tokens_per_s_p50", "tokens_per_s_p90",
                "spec_tokens", "spec_acceptance", "spec_draft_model", "spec_head_cost"),
    "inputs": ("role", "path", "sha256"),
    "budget": ("quarter", "budget_usd"),
    "site_caps": ("site", "cap_kw"),
    "finance_schedule": SCHEDULE_COLUMNS,  # plan.json finance.schedule
    "finance_assets": ASSET_COLUMNS,  # plan.json finance.assets
}
#: Tables that are not top-level lists of plan.json: name -> (path of keys to the list)
_NESTED = {"finance_schedule": ("finance", "schedule"), "finance_assets": ("finance", "assets")}

#: Sort keys of each table (stable sort; missing values last).
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "purchases": ("order_quarter", "delivery_quarter", "vendor", "chip", "site"),
    "deployments": ("quarter", "site", "rack", "workload"),
    "capacity": ("quarter", "workload"),
    "power": ("quarter", "site"),
    "racks": ("quarter", "site", "rack"),
    "binding": ("quarter", "constraint", "where"),
    "diagnosis": ("quarter", "workload"),
    "options": ("workload_id", "quarter", "chip_id", "precision", "tp", "pp", "ep", "dp", "batch"),
    "inputs": (),
    "budget": ("quarter",),
    "site_caps": ("site",),
    "finance_schedule": ("quarter",),
    "finance_assets": (),
}


def _scalar(value: Any) -> Any:
    """Keep scalars; nested values (from fields this version does not know) become compact JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return value


def make_table(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """DataFrame with the known columns of `name` first, then any extra columns in first-seen order."""
    columns = list(TABLE_COLUMNS[name])
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    frame = pd.DataFrame([{c: _scalar(row.get(c)) for c in columns} for row in rows], columns=columns)
    keys = [k for k in SORT_KEYS[name] if k in frame.columns]
    if keys and len(frame):
        frame = frame.sort_values(keys, kind="stable", na_position="last", key=_sort_key).reset_index(drop=True)
    return frame


def _sort_key(series: pd.Series) -> pd.Series:
    # Mixed types (a text column with a stray number) must not break sorting: compare as text.
    return series if pd.api.types.is_numeric_dtype(series) else series.astype("string")


def plan_tables(plan: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """All tables of a validated plan, keyed by name (see `TABLE_COLUMNS`)."""
    tables = {name: make_table(name, list(plan.get(name) or [])) for name in TABLE_COLUMNS
              if name not in ("budget", "site_caps", *_NESTED)}
    for name, (outer, inner) in _NESTED.items():
        tables[name] = make_table(name, list((plan.get(outer) or {}).get(inner) or []))
    limits = plan.get("limits") or {}
    tables["budget"] = make_table(
        "budget", [{"quarter": q, "budget_usd": v} for q, v in (limits.get("budget_usd_by_quarter") or {}).items()])
    tables["site_caps"] = make_table(
        "site_caps", [{"site": s, "cap_kw": v} for s, v in (limits.get("site_power_cap_kw") or {}).items()])
    return tables
