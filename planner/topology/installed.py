"""Installed hardware as the topology builder sees it: existing fleet entries and a plan's purchases."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from planner.errors import InputError, Problem
from planner.schemas.common import _QUARTER_RE as _QUARTER
from planner.schemas.sites import FleetEntry

PURCHASE_COLUMNS = ("site_id", "rack_type_id", "chip_id", "servers")

#: the most one `planner topology` run builds, draws and writes (fleet or a plan's quarter, and purchases, together):
#: servers (purchasable units), chips, and graph size in nodes plus links as `fabric.graph_size_per_server` counts
#: them (27 per 8-GPU NVSwitch server, 46 per 8-chip xGMI mesh server, 219 per NVL72 rack). At the limit the command
#: takes about 25-30 s on two cores (40,000 HGX H100 servers: 430,000 nodes, 700,000 links, a 260 MB GraphML file).
#: Checked before any graph is built (`check_topology_size`); a row of a purchases file above the server limit is
#: refused on its own.
MAX_TOPOLOGY_SERVERS = 40_000
MAX_TOPOLOGY_CHIPS = 320_000
MAX_TOPOLOGY_GRAPH = 1_100_000


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
    where: tuple[str, str] | None = None  # (file, locator) of the row it came from, for messages


def _limit_hint() -> str:
    return ("Draw a part at a time: one site or rack type (a purchases file with only its rows), one quarter of a "
            "plan (--plan with --quarter), or a sites file with fewer fleet entries.")


def check_topology_size(installed: Sequence[Installed], chips_per_server: Mapping[str, int],
                        graph_per_server: Mapping[str, int] | None = None) -> None:
    """Raise InputError when `installed` holds more than MAX_TOPOLOGY_SERVERS servers, MAX_TOPOLOGY_CHIPS chips or
    MAX_TOPOLOGY_GRAPH graph nodes and links, located at the entry (file, row) where the running total first passes
    a limit. Cheap: counts only. `chips_per_server` and `graph_per_server` (`fabric.graph_size_per_server`) by chip
    id; an unknown chip counts 1 chip and no links (it is reported later)."""
    max_servers, max_chips, max_graph = MAX_TOPOLOGY_SERVERS, MAX_TOPOLOGY_CHIPS, MAX_TOPOLOGY_GRAPH
    per_graph = graph_per_server or {}
    servers = chips = graph = 0
    def count(e: Installed) -> int:  # a malformed count (a float or text through the API) is refused elsewhere
        return e.servers if isinstance(e.servers, int) and not isinstance(e.servers, bool) and e.servers > 0 else 0

    for i, e in enumerate(installed):
        n = count(e)
        servers += n
        chips += n * chips_per_server.get(e.chip_id, 1)
        graph += n * per_graph.get(e.chip_id, 0)
        if servers <= max_servers and chips <= max_chips and graph <= max_graph:
            continue
        label, locator = e.where or ("installed hardware", f"{e.source} entry {i} ({e.site_id}/{e.rack_type_id}, {e.chip_id})")
        total = sum(count(x) for x in installed)
        if servers > max_servers:
            what = f"{total:,} servers"
        elif chips > max_chips:
            what = f"{sum(count(x) * chips_per_server.get(x.chip_id, 1) for x in installed):,} chips ({total:,} servers)"
        else:
            size = sum(count(x) * per_graph.get(x.chip_id, 0) for x in installed)
            each = per_graph.get(e.chip_id, 1)
            what = (f"about {size:,} graph nodes and links ({total:,} servers; one server of {e.chip_id} adds {each}, "
                    f"so at most {max_graph // max(each, 1):,} of it alone)")
        raise InputError([Problem(label, locator, (
            f"this entry ({e.servers:,} servers of {e.chip_id}) brings the topology to {what}; `planner topology` "
            f"draws at most {max_servers:,} servers, {max_chips:,} chips and {max_graph:,} graph nodes and links "
            "in one run (about 30 s). " + _limit_hint()))])


def installed_from_fleet(fleet: Sequence[FleetEntry], label: str = "sites file") -> list[Installed]:
    """The sites file's existing fleet as `Installed` entries (`label`: the sites file's name, for messages)."""
    return [
        Installed(e.site_id, e.rack_type_id, e.chip_id, e.servers, "fleet", e.installed_quarter,
                  where=(label, f"fleet[{i}].servers")) for i, e in enumerate(fleet)
    ]


def installed_from_rows(rows: Iterable[dict[str, str]], label: str, skip_blank: bool = False) -> list[Installed]:
    """Purchases as rows with columns site_id, rack_type_id, chip_id, servers[, quarter]; raises InputError.
    `skip_blank`: an empty row (a blank line of the file) is skipped, not reported."""
    out: list[Installed] = []
    problems: list[Problem] = []
    for i, row in enumerate(rows, start=2):  # row 1 is the header
        if skip_blank and not row:
            continue
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
        if servers > MAX_TOPOLOGY_SERVERS:
            problems.append(Problem(label, f"row {i}, servers", (
                f"must be at most {MAX_TOPOLOGY_SERVERS:,} servers (the most `planner topology` draws in one run), "
                f"got {servers:,}. " + _limit_hint())))
            continue
        quarter = (row.get("quarter") or "").strip()
        if quarter and not _QUARTER.match(quarter):
            problems.append(Problem(label, f"row {i}, quarter", f"must be a quarter written like 2027Q1 (or blank), got {quarter[:40]!r}"))
            continue
        if servers:
            out.append(Installed(row["site_id"].strip(), row["rack_type_id"].strip(), row["chip_id"].strip(),
                                 servers, "plan", quarter, where=(label, f"row {i}, servers")))
    if problems:
        raise InputError(problems)
    return out


#: the column names of a plan's own `csv/purchases.csv`, read as the purchase columns they stand for
PURCHASE_ALIASES = {"site": "site_id", "rack_type": "rack_type_id", "chip": "chip_id", "delivery_quarter": "quarter"}


def _purchase_header(header: list[str], label: str) -> tuple[list[str], list[Problem]]:
    """The header in purchase column names: BOM and spaces stripped, a plan's own names (`chip`, `site`,
    `rack_type`, `delivery_quarter`) mapped to `chip_id`, ... unless the file also has the canonical column."""
    names = [h.strip().lstrip("\ufeff") for h in header]
    problems = []
    out = []
    for name in names:
        canonical = PURCHASE_ALIASES.get(name)
        if canonical and canonical in names:
            out.append(name)  # both spellings: the canonical column wins, this one is ignored
        else:
            out.append(canonical or name)
    dups = sorted({c for c in out if out.count(c) > 1 and c in (*PURCHASE_COLUMNS, "quarter")})
    if dups:
        problems.append(Problem(label, "row 1", f"repeated column(s): {', '.join(dups)}; keep one of each."))
    missing = [c for c in PURCHASE_COLUMNS if c not in out]
    if missing:
        problems.append(Problem(label, "row 1", f"missing column(s): {', '.join(missing)}. A purchases CSV has the "
                                f"columns {', '.join(PURCHASE_COLUMNS)}[, quarter], or is a plan's own csv/purchases.csv "
                                "(site, rack_type, chip, servers, delivery_quarter)."))
    return out, problems


def read_purchases_csv(path: Path) -> list[Installed]:
    """Read purchases: columns site_id, rack_type_id, chip_id, servers[, quarter], or a plan's own
    `csv/purchases.csv` (see PURCHASE_ALIASES). UTF-8 with or without a BOM, any line ends; raises InputError."""

    from planner.io.safe_yaml import read_text

    label = path.name or str(path)
    text, problems = read_text(path, label)
    if text is None:
        raise InputError(problems)
    if not text.strip():
        raise InputError([Problem(label, "", "file is empty; it needs a header row "
                                             f"({', '.join(PURCHASE_COLUMNS)}[, quarter]) and a row per purchase.")])
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError([Problem(label, "", f"not valid CSV: {exc}")]) from None
    header, problems = _purchase_header(rows[0], label)
    if problems:
        raise InputError(problems)
    records = []
    for i, values in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in values):
            records.append({})  # a blank line keeps its spreadsheet row number; it is skipped below
            continue
        if len(values) != len(header):
            problems.append(Problem(label, f"row {i}", f"has {len(values)} values but the header has {len(header)} columns."))
            records.append({})
            continue
        records.append(dict(zip(header, values, strict=True)))
    rows_ok: list[Installed] = []
    try:
        rows_ok = installed_from_rows(records, label, skip_blank=True)
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(sorted(problems, key=lambda p: _row_number(p.locator)))
    return rows_ok


def _row_number(locator: str) -> int:
    head = locator.split(",")[0]
    return int(head[4:]) if head.startswith("row ") and head[4:].isdigit() else 0


def installed_from_plan(plan: dict, quarter: str | None = None, label: str = "plan.json") -> tuple[list[Installed], str]:
    """What stands in each rack in one quarter of a plan (default: its last), from plan.json's `racks` rows.

    Rack ids are `site/rack_type/NNNN` (1-based); each row pins its servers into that rack, so the picture
    shows the plan's own packing, retirements included. Returns (entries, quarter used).
    """
    quarters = plan.get("horizon", {}).get("quarters") or sorted({r["quarter"] for r in plan.get("racks", [])})
    q = quarter or (quarters[-1] if quarters else "")
    if quarter is not None and quarter not in quarters:
        raise InputError([Problem("command line", "--quarter", f"{quarter} is not a quarter of {label} "
                                  f"({', '.join(quarters)}); give one of them")])
    out = []
    problems = []
    for i, r in enumerate(plan.get("racks", [])):
        if r["quarter"] != q:
            continue
        rack = str(r["rack"])
        number = rack.rsplit("/", 1)[-1]
        prefix = f"{r['site']}/{r['rack_type']}/"
        if not rack.startswith(prefix) or not number.isascii() or not number.isdigit() or int(number) < 1:
            problems.append(Problem(label, f"racks[{i}].rack", f"rack id {rack!r} is not {prefix}NNNN (the site, the "
                                    "rack type and the rack's number from 1, as `planner plan` writes it). "
                                    "Restore the plan or re-run `planner plan`."))
            continue
        out.append(Installed(r["site"], r["rack_type"], r["chip"], int(r["servers"]), "plan", q, int(number) - 1,
                             where=(label, f"racks[{i}].servers")))
    if problems:
        raise InputError(problems)
    return out, q
