"""`planner catalog list | show CHIP`: the chip catalog with every figure's source and kind.

  list   one line per chip: id, vendor, name, purchasable unit, price per unit (USD, kind), price per chip,
         lease USD per chip-hour, memory GB, bandwidth TB/s, TDP W.
  show   every figure of one chip with its value, kind and source: datasheet and planner figures from the
         entry's SourceRefs (kind `published` or `estimate`), then each price component and the lease terms with
         their own source and kind (`list`, `reported`, `estimate`).

Exit codes: 0 ok; 2 unknown chip (with did-you-mean) or an invalid `--catalog` file.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from planner.catalog import DEFAULT_CHIPS, chip_figures, read_chip_catalog
from planner.errors import EXIT_BAD_INPUT, InputError
from planner.schemas.chips import ChipSpec


def add_catalog_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help="list the chip catalog, or show one chip's figures with their sources")
    csub = p.add_subparsers(dest="catalog_command", required=True)
    lp = csub.add_parser("list", help="one line per chip: unit, price, lease, memory, bandwidth, TDP")
    sp = csub.add_parser("show", help="every figure of one chip with its source and kind")
    sp.add_argument("chip", help="chip id, e.g. h100_sxm")
    for q in (lp, sp):
        q.add_argument("--catalog", type=Path, default=None,
                       help="chip catalog YAML to read (default: the bundled inputs/catalog/chips.yaml)")
        q.add_argument("--json", action="store_true", help="print JSON instead of text")
    lp.set_defaults(func=run_catalog_list)
    sp.set_defaults(func=run_catalog_show)


def _load(path: Path | None) -> dict[str, ChipSpec]:
    path = path or DEFAULT_CHIPS
    chips, problems = read_chip_catalog(path, str(path))
    if problems:
        raise InputError(problems)
    return chips


def unknown_chip_message(chip_id: str, known: list[str]) -> str:
    """`unknown chip 'h100'. Did you mean h100_sxm, h100_pcie, h100_nvl?` (substring matches first, then close
    spellings); the whole list when nothing is close."""
    low = chip_id.lower()
    subs = [k for k in sorted(known) if low and (low in k.lower() or k.lower() in low)]
    close = difflib.get_close_matches(low, [k.lower() for k in known], n=3, cutoff=0.5)
    by_lower = {k.lower(): k for k in known}
    hints = list(dict.fromkeys([*subs, *(by_lower[c] for c in close)]))[:4]
    hint = f" Did you mean {', '.join(hints)}?" if hints else f" Known chips: {', '.join(sorted(known))}."
    return f"unknown chip {chip_id!r}.{hint}"


# ------------------------------------------------------------------------------------------------- list


def _unit(chip: ChipSpec) -> str:
    if not chip.purchasable:
        return "lease only"
    kind = "rack" if chip.server.kind == "rack_scale" else "system" if chip.server.chips_per_server == 1 else "server"
    return f"{chip.server.chips_per_server}-chip {kind}"


def list_rows(chips: dict[str, ChipSpec]) -> list[dict[str, Any]]:
    rows = []
    for cid, chip in chips.items():
        unit_usd = chip.price_usd_per_server if chip.purchasable else None
        rows.append({
            "chip_id": cid, "vendor": chip.vendor, "name": chip.name, "unit": _unit(chip),
            "chips_per_unit": chip.server.chips_per_server,
            "price_usd_per_unit": unit_usd, "price_kind": chip.price_kind or None,
            "price_usd_per_chip": None if unit_usd is None else unit_usd / chip.server.chips_per_server,
            "lease_usd_per_chip_hour": chip.lease.usd_per_chip_hour if chip.lease else None,
            "lease_kind": chip.lease.kind if chip.lease else None,
            "memory_gb": chip.memory_gb, "memory_bandwidth_tbs": chip.memory_bandwidth_tbs, "tdp_w": chip.tdp_w,
        })
    return rows


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def format_list(rows: list[dict[str, Any]]) -> str:
    head = (f"{'chip_id':<20} {'vendor':<11} {'name':<34} {'unit':<15} {'USD/unit':>12} {'kind':<9} "
            f"{'USD/chip':>10} {'lease/chip-h':>12} {'mem GB':>7} {'TB/s':>7} {'TDP W':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        name = r["name"] if len(r["name"]) <= 34 else r["name"][:33] + "~"
        lease = "-" if r["lease_usd_per_chip_hour"] is None else f"{r['lease_usd_per_chip_hour']:.2f}"
        lines.append(
            f"{r['chip_id']:<20} {r['vendor']:<11} {name:<34} {r['unit']:<15} {_money(r['price_usd_per_unit']):>12} "
            f"{r['price_kind'] or '-':<9} {_money(r['price_usd_per_chip']):>10} {lease:>12} {r['memory_gb']:>7g} "
            f"{r['memory_bandwidth_tbs']:>7g} {r['tdp_w']:>7,.0f}"
        )
    lines.append(f"{len(rows)} chips. Prices are per purchasable unit (chips + host + scale-out network share + "
                 "integration/support); `planner catalog show CHIP` for every figure's source.")
    return "\n".join(lines)


def run_catalog_list(args: argparse.Namespace) -> int:
    rows = list_rows(_load(args.catalog))
    print(json.dumps(rows, indent=1) if args.json else format_list(rows))
    return 0


# ------------------------------------------------------------------------------------------------- show


def show_document(chip: ChipSpec) -> dict[str, Any]:
    """Every figure of a chip with its source: {'chip_id', 'name', 'text', 'figures', 'price', 'lease', 'notes'}."""
    text = {
        "vendor": chip.vendor, "name": chip.name, "unit_note": chip.unit_note, "memory_type": chip.memory_type,
        "memory_kind": chip.memory_kind, "scaleup": f"{chip.scaleup.name} ({chip.scaleup.kind})",
        "server": f"{chip.server.name} ({chip.server.kind}, scale-out {chip.server.scaleout_kind})",
        "cooling": chip.cooling,
    }
    price = None
    if chip.purchasable:
        price = {
            "usd_per_unit": chip.price_usd_per_server, "kind": chip.price_kind,
            "chips_per_unit": chip.server.chips_per_server,
            "usd_per_chip": chip.price_usd_per_server / chip.server.chips_per_server,
            "components": [
                {"component": c.component, "usd": c.usd, "kind": c.kind, "source": c.source, "note": c.note}
                for c in getattr(chip.price, "components", [])
            ] or [{"component": "accelerators", "usd": chip.price_usd_per_server, "kind": chip.price_kind,
                   "source": chip.price_source or "(legacy single-figure price; no source line)", "note": None}],
        }
    lease = None if chip.lease is None else chip.lease.model_dump()
    return {"chip_id": chip.chip_id, "text": text, "figures": chip_figures(chip), "price": price, "lease": lease,
            "notes": chip.notes}


def format_show(doc: dict[str, Any]) -> str:
    t = doc["text"]
    lines = [f"{doc['chip_id']}: {t['name']} ({t['vendor']})", f"  unit: {t['unit_note']}"]
    for key in ("memory_type", "memory_kind", "scaleup", "server", "cooling"):
        lines.append(f"  {key}: {t[key]}")
    lines += ["", "Figures (value, kind, source):"]
    width = max(len(f["field"]) for f in doc["figures"])
    for f in doc["figures"]:
        lines.append(f"  {f['field']:<{width}}  {f['value']:>12g}  {f['kind']:<9}  {f['source']}")
        if f["note"]:
            lines.append(f"  {'':<{width}}  {'':>12}  {'':<9}  note: {f['note']}")
    lines.append("")
    p = doc["price"]
    if p is None:
        lines.append("Purchase: not purchasable (lease only).")
    else:
        lines.append(f"Purchase: USD {p['usd_per_unit']:,.0f} per unit of {p['chips_per_unit']} chips "
                     f"(USD {p['usd_per_chip']:,.0f} per chip), kind {p['kind']} (the weakest of its lines)")
        for c in p["components"]:
            lines.append(f"  {c['component']:<20} {c['usd']:>14,.0f}  {c['kind']:<9}  {c['source']}")
            if c["note"]:
                lines.append(f"  {'':<20} {'':>14}  {'':<9}  note: {c['note']}")
    ls = doc["lease"]
    if ls is None:
        lines.append("Lease: no lease terms.")
    else:
        cap = "no cap" if ls["capacity_chips_per_quarter"] is None else f"{ls['capacity_chips_per_quarter']:,} chips per quarter"
        lines.append(f"Lease: USD {ls['usd_per_chip_hour']:.2f} per chip-hour, minimum term {ls['min_term_quarters']} "
                     f"quarter(s), {cap}, kind {ls['kind']}")
        lines.append(f"  source: {ls['source']}")
        if ls["note"]:
            lines.append(f"  note: {ls['note']}")
    if doc["notes"]:
        lines += ["", f"Notes: {doc['notes']}"]
    return "\n".join(lines)


def run_catalog_show(args: argparse.Namespace) -> int:
    chips = _load(args.catalog)
    if args.chip not in chips:
        print(f"planner catalog: {unknown_chip_message(args.chip, list(chips))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    doc = show_document(chips[args.chip])
    print(json.dumps(doc, indent=1) if args.json else format_show(doc))
    return 0
