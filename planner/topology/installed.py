"""Installed hardware as the topology builder sees it: existing fleet entries and a plan's purchases."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from planner.errors import InputError, Problem
from planner.schemas.sites import FleetEntry

PURCHASE_COLUMNS = ("site_id", "rack_type_id", "chip_id", "servers")


@dataclass(frozen=True)
class Installed:
    """`servers` units of `chip_id` standing in racks of one type at one site.

    `rack_index` pins all of them into one rack (0-based) regardless of its limits; without it the
    builder packs them into the type's racks within power and space.
    """

    site_id: str
    rack_type_id: str
    chip_id: str
    servers: int
    source: str = "fleet"           # "fleet" or "plan"
    quarter: str = ""
    rack_index: int | None = None


def installed_from_fleet(fleet: Sequence[FleetEntry]) -> list[Installed]:
    """The sites file's existing fleet as `Installed` entries."""
    return [
        Installed(e.site_id, e.rack_type_id, e.chip_id, e.servers, "fleet", e.installed_quarter) for e in fleet
    ]


def installed_from_rows(rows: Iterable[dict[str, str]], label: str) -> list[Installed]:
    """Purchases as rows with columns site_id, rack_type_id, chip_id, servers[, quarter]; raises InputError."""
    out: list[Installed] = []
    problems: list[Problem] = []
    for i, row in enumerate(rows, start=2):  # row 1 is the header
        missing = [c for c in PURCHASE_COLUMNS if not (row.get(c) or "").strip()]
        if missing:
            problems.append(Problem(label, f"row {i}", f"missing {', '.join(missing)}"))
            continue
        try:
            servers = int(str(row["servers"]).strip())
        except ValueError:
            problems.append(Problem(label, f"row {i}, servers", f"must be a whole number, got {row['servers']!r}"))
            continue
        if servers < 0:
            problems.append(Problem(label, f"row {i}, servers", f"must be >= 0, got {servers}"))
            continue
        if servers:
            out.append(Installed(row["site_id"].strip(), row["rack_type_id"].strip(), row["chip_id"].strip(),
                                 servers, "plan", (row.get("quarter") or "").strip()))
    if problems:
        raise InputError(problems)
    return out


def read_purchases_csv(path: Path) -> list[Installed]:
    """Read a plan's purchases CSV (see `installed_from_rows`)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in PURCHASE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError([Problem(path.name, "header", f"missing columns: {', '.join(missing)}")])
            return installed_from_rows(reader, path.name)
    except OSError as exc:
        raise InputError([Problem(path.name, "", f"cannot read: {exc.strerror or exc}")]) from None


def installed_from_plan(plan: dict, quarter: str | None = None) -> tuple[list[Installed], str]:
    """What stands in each rack in one quarter of a plan (default: its last), from plan.json's `racks` rows.

    Rack ids are `site/rack_type/NNNN` (1-based); each row pins its servers into that rack, so the picture
    shows the plan's own packing, retirements included. Returns (entries, quarter used).
    """
    quarters = plan.get("horizon", {}).get("quarters") or sorted({r["quarter"] for r in plan.get("racks", [])})
    q = quarter or (quarters[-1] if quarters else "")
    if quarter is not None and quarter not in quarters:
        raise InputError([Problem("plan.json", "horizon.quarters", f"{quarter} is not a quarter of this plan ({', '.join(quarters)})")])
    out = []
    for r in plan.get("racks", []):
        if r["quarter"] != q:
            continue
        index = int(str(r["rack"]).rsplit("/", 1)[-1]) - 1
        out.append(Installed(r["site"], r["rack_type"], r["chip"], int(r["servers"]), "plan", q, index))
    return out, q
