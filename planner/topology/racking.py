"""Put installed servers into numbered racks: next-fit within each rack's power and space, one chip per rack.

Racks hold one chip type each (as the optimizer's per-rack-type counts assume); entries of the same chip
share a partly filled rack. Packing ignores cooling (a liquid system in an air rack is placed, then
reported by the checks). A unit that cannot fit an empty rack is placed alone and reported; racks beyond
the type's count are created and reported. A domain that spans servers but not racks (NVL72-class
trays) is packed as one block so it stays in one rack when it can; a rack-scale system gets a rack of its own. Entries with `rack_index` go exactly
there, whatever the limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from planner.errors import InputError, Problem
from planner.schemas.chips import ChipSpec
from planner.schemas.sites import RackType, Site
from planner.topology.installed import Installed, check_topology_size
from planner.topology.templates import template_from_chip

_EPS = 1e-6


@dataclass(frozen=True)
class ServerSlot:
    """One server in a rack: which entry it came from and which scale-up domain group it belongs to."""

    chip_id: str
    entry: int
    group: str


@dataclass
class RackFill:
    """One occupied rack: its limits and the servers in it, bottom to top."""

    site_id: str
    rack_type: RackType
    index: int
    servers: list[ServerSlot] = field(default_factory=list)
    used_w: float = 0.0
    used_units: int = 0

    def fits(self, power_w: float, units: int) -> bool:
        return (self.used_w + power_w <= self.rack_type.power_kw * 1000.0 + _EPS
                and self.used_units + units <= self.rack_type.rack_units)

    def add(self, slot: ServerSlot, power_w: float, units: int) -> None:
        self.servers.append(slot)
        self.used_w += power_w
        self.used_units += units


def _whole(value: object) -> bool:
    """A count: an int (not a bool) >= 0."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


#: field names of a plan.json `racks` row, for entries read from one (`installed_from_plan`)
_PLAN_FIELDS = {"site_id": "site", "rack_type_id": "rack_type", "chip_id": "chip"}


def _located(e: Installed, i: int, field: str) -> tuple[str, str]:
    """(file, locator) of one field of an entry: the file and row it came from when known (`Installed.where`,
    located at its `servers`: `(p.csv, row 3, servers)`, `(sites.yaml, fleet[2].servers)`), else its position."""
    if e.where is None:
        return "installed hardware", f"{e.source} entry {i} ({e.site_id}/{e.rack_type_id}, {e.chip_id})"
    label, at = e.where
    if at.startswith("racks["):
        field = _PLAN_FIELDS.get(field, field)
    return label, (at[: -len("servers")] + field) if at.endswith("servers") else f"{at}, {field}"


def check_installed(sites: Mapping[str, Site], chips: Mapping[str, ChipSpec], installed: Sequence[Installed]) -> None:
    """Raise InputError naming every entry whose site, rack type or chip is unknown, located at the file, row and
    field it came from (a purchases CSV, the sites file's fleet, a plan's racks) when it says."""
    problems = []
    for i, e in enumerate(installed):
        site = sites.get(e.site_id)
        if site is None:
            problems.append(Problem(*_located(e, i, "site_id"), f"unknown site {e.site_id!r}; sites: {', '.join(sorted(sites))}"))
        elif e.rack_type_id not in {r.rack_type_id for r in site.rack_types}:
            known = ", ".join(r.rack_type_id for r in site.rack_types)
            problems.append(Problem(*_located(e, i, "rack_type_id"), f"site {e.site_id} has no rack type {e.rack_type_id!r}; it has: {known}"))
        if e.chip_id not in chips:
            problems.append(Problem(*_located(e, i, "chip_id"), f"unknown chip {e.chip_id!r}; add it to chips.yaml or fix the id"))
        if not _whole(e.servers) or (e.rack_index is not None and not _whole(e.rack_index)):
            problems.append(Problem(*_located(e, i, "servers"), f"servers and rack_index must be whole numbers >= 0, "
                                    f"got servers={e.servers!r:.40}, rack_index={e.rack_index!r:.40}"))
    if problems:
        raise InputError(problems)


def check_size(chips: Mapping[str, ChipSpec], installed: Sequence[Installed]) -> None:
    """`installed.check_topology_size` with the chips per server and graph size per server of the catalog."""
    from planner.topology.fabric import graph_size_per_server

    templates = {c: template_from_chip(chips[c]) for c in {e.chip_id for e in installed} if c in chips}
    check_topology_size(installed, {c: t.chips_per_server for c, t in templates.items()},
                        {c: graph_size_per_server(t) for c, t in templates.items()})


def _blocks(e: Installed, i: int, chip: ChipSpec) -> list[list[ServerSlot]]:
    """Split an entry into packing blocks; label every server with its domain group."""
    t = template_from_chip(chip)
    spd = t.servers_per_domain if t.effective_domain_chips > t.chips_per_server else 1
    base = f"{e.site_id}/{e.rack_type_id}/e{i}"
    slots = [ServerSlot(e.chip_id, i, f"{base}/d{k // spd}" if spd > 1 else f"{base}/s{k}") for k in range(e.servers)]
    size = spd if (t.domain_spans_servers and not t.domain_spans_racks) else 1
    return [slots[k:k + size] for k in range(0, len(slots), size)]


class _Packer:
    """Racks of every (site, rack type), filled one chip type per rack."""

    def __init__(self) -> None:
        self.racks: dict[tuple[str, str], dict[int, RackFill]] = {}
        self.current: dict[tuple[str, str, str], int] = {}  # the rack each chip is filling

    def rack(self, site_id: str, rtype: RackType, index: int) -> RackFill:
        by_index = self.racks.setdefault((site_id, rtype.rack_type_id), {})
        if index not in by_index:
            by_index[index] = RackFill(site_id, rtype, index)
        return by_index[index]

    def new_rack(self, site_id: str, rtype: RackType) -> RackFill:
        by_index = self.racks.get((site_id, rtype.rack_type_id), {})
        index = len(by_index)
        while index in by_index:
            index += 1
        return self.rack(site_id, rtype, index)

    def pin(self, site_id: str, rtype: RackType, index: int, block: list[ServerSlot], power_w: float, units: int) -> None:
        r = self.rack(site_id, rtype, index)
        for s in block:
            r.add(s, power_w, units)

    def next_fit(self, site_id: str, rtype: RackType, block: list[ServerSlot], power_w: float, units: int,
                 alone: bool = False) -> None:
        key = (site_id, rtype.rack_type_id, block[0].chip_id)
        n = len(block)
        r = self.racks[key[:2]][self.current[key]] if key in self.current else None
        if r is None or alone or not r.fits(power_w * n, units * n):
            r = self.new_rack(site_id, rtype)
            self.current[key] = r.index
            if not r.fits(power_w * n, units * n) and n > 1:  # too big for an empty rack: split it
                for s in block:
                    self.next_fit(site_id, rtype, [s], power_w, units)
                return
        for s in block:  # a single unit too big for an empty rack is placed alone and reported
            r.add(s, power_w, units)


def assign_racks(
    sites: Mapping[str, Site], chips: Mapping[str, ChipSpec], installed: Sequence[Installed]
) -> list[RackFill]:
    """Occupied racks, ordered by site, rack type and index, each with its servers.

    Raises InputError (never hangs) on unknown ids, malformed entries and more hardware than one topology holds
    (`installed.MAX_TOPOLOGY_SERVERS`, `MAX_TOPOLOGY_CHIPS`, `MAX_TOPOLOGY_GRAPH`): the bound is here, where
    `build_topology` and the CLI both arrive, so Python callers get the CLI's error, not a graph of 1e12 servers."""
    check_size(chips, installed)  # first, as counts only: an entry of 1e12 servers is refused before anything else
    check_installed(sites, chips, installed)
    packer = _Packer()
    for i, e in enumerate(installed):
        chip = chips[e.chip_id]
        rtype = next(r for r in sites[e.site_id].rack_types if r.rack_type_id == e.rack_type_id)
        for block in _blocks(e, i, chip):
            if e.rack_index is not None:
                packer.pin(e.site_id, rtype, e.rack_index, block, chip.server_power_w, chip.server.rack_units)
            else:
                packer.next_fit(e.site_id, rtype, block, chip.server_power_w, chip.server.rack_units,
                                alone=chip.server.kind == "rack_scale")
    site_order = {s: k for k, s in enumerate(sites)}
    type_order = {(s.site_id, rt.rack_type_id): k for s in sites.values() for k, rt in enumerate(s.rack_types)}
    out = [r for by_index in packer.racks.values() for r in by_index.values() if r.servers]
    return sorted(out, key=lambda r: (site_order[r.site_id], type_order[(r.site_id, r.rack_type.rack_type_id)], r.index))
