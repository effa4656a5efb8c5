"""`write_html_report(plan, path)`: one self-contained HTML page (charts embedded as base64 PNG).

It shows the same key figures as the workbook's Summary sheet, the findings in words, four charts
(capex by quarter and vendor, capacity vs demand, power vs cap, chip mix) and the main tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from planner.report import charts
from planner.report.html_parts import card, esc, image, page, rows_table, table
from planner.report.perf_lines import perf_sentences
from planner.results.atomic import atomic_write
from planner.results.reconcile import reconcile
from planner.results.summary import (
    binding_sentences,
    diagnosis_sentences,
    key_figures,
    shortfall_heading,
    site_peaks,
    status_label,
)
from planner.results.tables import plan_tables

MAX_DETAIL_ROWS = 500
_BADGE = {"optimal": "ok", "optimal_in_reduced_set": "warn", "feasible": "warn", "infeasible": "bad", "no_plan": "bad"}
#: key figure cards: the cash view, then the accounting view (net cost), then the optimizer's figures
_CARDS = ("cash_out_usd", "capex_cash_usd", "lease_usd", "energy_usd", "facility_usd", "fleet_in_transit_start_usd",
          "net_cost_usd", "depreciation_usd",
          "resale_value_usd", "net_book_value_usd", "objective_usd", "best_bound_usd", "mip_gap", "tco_usd",
          "residual_value_usd", "usd_per_million_tokens", "joules_per_token")
_TOTAL_CARDS = ("cash_out_usd", "net_cost_usd")
#: cards shown only when the plan has the figure; `fleet_in_transit_start_usd` only when non-zero (a re-plan's kept
#: orders paid before the horizon, not yet in service: cash, though not inside the horizon's cash out)
_OPTIONAL_CARDS = ("lease_usd", "net_book_value_usd")
_NONZERO_CARDS = ("fleet_in_transit_start_usd",)


def _header(plan: dict[str, Any], warnings: list[str]) -> str:
    status = str(plan.get("status"))
    figs = {f.key: f for f in key_figures(plan)}
    run, solver = plan.get("run") or {}, plan.get("solver") or {}
    quarters = (plan.get("horizon") or {}).get("quarters") or []
    span = f"{quarters[0]} to {quarters[-1]}" if quarters else "no quarters"
    parts = [f"<h1>Procurement plan: {esc(plan.get('scenario', ''))}"
             f'<span class="badge {_BADGE.get(status, "warn")}">{esc(status_label(status, plan))}</span></h1>',
             f'<p class="sub">Horizon {esc(span)} · solved by {esc(solver.get("name", "?"))} '
             f'{esc(solver.get("version") or "")} · finished {esc(run.get("finished_utc") or "time unknown")} · '
             f'planner {esc(run.get("planner_version") or "?")}</p>']
    if status != "optimal":
        parts.append(f'<div class="callout{" bad" if status in ("infeasible", "no_plan") else ""}">'
                     f'{esc(figs["status"].note)}</div>')
    if warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
        parts.append(f'<div class="callout bad"><strong>plan.json does not add up:</strong><ul>{items}</ul></div>')
    return "".join(parts)


def _key_figures(plan: dict[str, Any]) -> str:
    figs = {f.key: f for f in key_figures(plan)}
    labels = {"energy_usd": "Energy, cash (USD)", "facility_usd": "Facility, cash (USD)",
              "fleet_in_transit_start_usd": "In transit at the start, cash paid before the horizon (USD)"}

    def shown(k: str) -> bool:
        value = figs[k].value
        if k in _NONZERO_CARDS:
            return isinstance(value, int | float) and not isinstance(value, bool) and value != 0
        return value is not None or k not in _OPTIONAL_CARDS
    cards = "".join(card(labels.get(k, figs[k].label), figs[k].value, figs[k].kind, figs[k].note, total=k in _TOTAL_CARDS)
                    for k in _CARDS if shown(k))
    return f'<h2>Key figures</h2><div class="cards">{cards}</div>'


def _findings(plan: dict[str, Any]) -> str:
    def bullets(lines: list[str], empty: str) -> str:
        return '<ul class="findings">' + "".join(f"<li>{esc(x)}</li>" for x in (lines or [empty])) + "</ul>"
    peaks = rows_table(
        ["Site", "Peak IT power (kW)", "Quarter of peak", "Cap (kW)", "Utilisation"],
        [[(p.site, "text"), (p.peak_kw, "kw"), (p.quarter or "—", "text"), (p.cap_kw, "kw"), (p.utilisation, "pct")]
         for p in site_peaks(plan)])
    return ("<h2>Findings</h2><h3>Binding constraints: what relaxing a limit is worth</h3>"
            + bullets(binding_sentences(plan), "No binding constraints reported.")
            + f"<h3>{shortfall_heading(plan)}</h3>" + bullets(diagnosis_sentences(plan), "All demand is met in every quarter.")
            + "<h3>Peak IT power per site</h3>" + peaks)


def _spend(plan: dict[str, Any], purchases: pd.DataFrame, quarters: list[str]) -> str:
    money = purchases[["servers", "chips", "cost_usd"]]
    total = {"order_quarter": "Total", **{c: float(money[c].sum()) for c in money.columns}}
    budgets = (plan.get("limits") or {}).get("budget_usd_by_quarter") or {}
    by_q = purchases.groupby("order_quarter")[["servers", "chips", "cost_usd"]].sum()
    by_q = by_q.reindex(sorted(set(quarters) | set(by_q.index)), fill_value=0).reset_index()
    by_q["budget_usd"] = [budgets.get(q) for q in by_q["order_quarter"]]
    by_q["headroom_usd"] = [None if b is None else b - c for b, c in zip(by_q["budget_usd"], by_q["cost_usd"], strict=True)]
    by_v = purchases.groupby("vendor")[["servers", "chips", "cost_usd"]].sum().reset_index()
    return ("<h2>Purchase orders</h2>"
            + image(charts.capex_chart(purchases, quarters), "Stacked bars of capex by order quarter and vendor",
                    "Capex by order quarter, stacked by vendor")
            + table(purchases, total=total)
            + "<h3>By order quarter</h3>" + table(by_q, total=total, kinds={"headroom_usd": "usd"})
            + "<h3>By vendor</h3>" + table(by_v, total={"vendor": "Total", **{c: total[c] for c in money.columns}}))


def _money(tables: dict[str, pd.DataFrame]) -> str:
    """The finance schedule: cash and net book value per quarter, with its total row."""
    frame = tables["finance_schedule"]
    if frame.empty:
        return ('<h2>Money per quarter</h2><p class="note">This plan.json has no finance schedule (written by an older '
                "planner): re-run <code>planner plan</code> to get one.</p>")
    flows = ("orders_servers", "deliveries_servers", "capex_cash_usd", "lease_usd", "committed_lease_usd", "energy_usd",
             "facility_usd", "cash_out_usd", "capitalised_usd", "depreciation_usd", "disposals_usd")
    last = frame.iloc[-1]
    total = {"quarter": "Total", **{c: float(frame[c].sum()) for c in flows if c in frame},
             **{c: last[c] for c in ("cumulative_cash_out_usd", "cumulative_capex_usd", "net_book_value_usd") if c in frame}}
    return ("<h2>Money per quarter</h2>"
            '<p class="sub">Cash: capex cash + leases (of which committed: contracts a re-plan kept) + energy + '
            'facility = cash out. Accounting: hardware is '
            "capitalised when delivered and depreciated straight line; net book value rolls forward. The workbook's "
            "Schedule sheet computes the same figures as live formulas of its Assumptions sheet.</p>"
            + table(frame, total=total))


def _details(title: str, frame: pd.DataFrame) -> str:
    return f"<details><summary>{esc(title)} ({len(frame):,} rows)</summary>{table(frame, MAX_DETAIL_ROWS)}</details>"


def _run_info(plan: dict[str, Any], inputs: pd.DataFrame) -> str:
    solver, run = plan.get("solver") or {}, plan.get("run") or {}
    rows = [("Solver", f"{solver.get('name', '')} {solver.get('version') or ''}", "text"),
            ("Raw solver status", solver.get("raw_status"), "text"),
            ("Gap target", solver.get("mip_gap_target"), "pct"), ("Time limit (s)", solver.get("time_limit_s"), "seconds"),
            ("Threads", solver.get("threads"), "int"), ("Seed", solver.get("seed"), "int"),
            ("Build time (s)", solver.get("build_seconds"), "seconds"), ("Solve time (s)", solver.get("solve_seconds"), "seconds"),
            ("Started (UTC)", run.get("started_utc"), "text"), ("Finished (UTC)", run.get("finished_utc"), "text")]
    rows += [(f"Version of {k}", v, "text") for k, v in (run.get("versions") or {}).items()]
    rows += [(f"Stage '{k}' (s)", v, "seconds") for k, v in (run.get("stage_seconds") or {}).items()]
    facts = rows_table(["Item", "Value"], [[(label, "text"), (value, kind)] for label, value, kind in rows])
    return "<h2>Run information</h2>" + facts + "<h3>Input files</h3>" + table(inputs)


def _candidates(plan: dict[str, Any]) -> str:
    """Why this chip: the cheapest rejected chip per workload, and every candidate (solvers.candidates_explain)."""
    rows = plan.get("candidates") or []
    if not rows:
        return ""
    from solvers.candidates_explain import cheapest_rejected

    items = "".join(f"<li>{esc(x)}</li>" for x in cheapest_rejected(rows))
    return ("<h2>Why these chips</h2><ul>" + items + "</ul>"
            + _details("Candidate chips per workload and quarter (USD per quarter per token/s)", pd.DataFrame(rows)))


def build_html(plan: dict[str, Any]) -> str:
    """The report of a validated plan as one HTML string."""
    tables = plan_tables(plan)
    quarters = list((plan.get("horizon") or {}).get("quarters") or [])
    warnings = [f"{p.locator}: {p.message}" for p in reconcile(plan)]
    body = [
        _header(plan, warnings), _key_figures(plan), _findings(plan), _money(tables),
        '<h3>Performance figures</h3><ul class="findings">' + "".join(f"<li>{esc(x)}</li>" for x in perf_sentences(plan)) + "</ul>",
        _spend(plan, tables["purchases"], quarters),
        "<h2>Capacity</h2>" + image(charts.capacity_chart(tables["capacity"]),
                                    "Line charts of demand, required and served tokens per second by workload",
                                    "Capacity vs demand per workload (tokens/s)") + table(tables["capacity"]),
        "<h2>Power</h2>" + image(charts.power_chart(tables["power"]), "Power per site by quarter against the cap",
                                 "IT and facility power per site vs IT power cap (kW)") + table(tables["power"]),
        "<h2>Fleet</h2>" + image(charts.chip_mix_chart(tables["deployments"], quarters),
                                 "Stacked bars of chips in service by chip type and quarter",
                                 "Chip mix in service by quarter")
        + _details("Deployments", tables["deployments"]) + _details("Racks", tables["racks"])
        + _details("Deployment options considered", tables["options"])
        + _details("Binding constraints", tables["binding"]) + _details("Diagnosis", tables["diagnosis"]),
        _candidates(plan),
        _run_info(plan, tables["inputs"]),
    ]
    return page(f"Procurement plan: {plan.get('scenario', '')}", "".join(body))


def write_html_report(plan: dict[str, Any], path: str | Path) -> Path:
    """Write the HTML report of a validated plan to `path` atomically; returns the path."""
    text = build_html(plan)
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return Path(path)
