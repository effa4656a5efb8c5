"""Capacity per rack: power, rack units and cooling, used and free."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

import networkx as nx
import pandas as pd

from planner.topology.domains import natural_key


@dataclass(frozen=True)
class RackCapacity:
    """One occupied rack, or (`racks` > 1 or `servers` == 0) a group of identical empty rack positions."""

    rack_id: str            # rack node id; `site/rack_type/empty` for the empty positions of a type
    site_id: str
    rack_type_id: str
    racks: int
    cooling: str
    power_kw: float         # per rack
    used_kw: float
    free_kw: float          # negative when the rack is over its limit
    rack_units: int
    used_units: int
    free_units: int
    servers: int
    chips: int
    contents: str           # e.g. "h100_sxm x4"
    room_servers: int       # more servers of the rack's (single) chip type that fit its power and space


def servers_by_rack(g: nx.Graph) -> dict[str, list[str]]:
    """Server node ids per rack node id, in slot order."""
    out: dict[str, list[str]] = defaultdict(list)
    for n, d in g.nodes(data=True):
        if d.get("kind") == "server":
            out[d["rack"]].append(n)
    for servers in out.values():
        servers.sort(key=natural_key)
    return out


def _contents(g: nx.Graph, servers: list[str]) -> str:
    counts = Counter(g.nodes[s]["chip_id"] for s in servers)
    return ", ".join(f"{c} x{n}" for c, n in counts.items())


def _room(g: nx.Graph, servers: list[str], free_w: float, free_units: int) -> int:
    """Servers like the ones in the rack that still fit (0 for mixed, rack-scale or full racks)."""
    kinds = {(g.nodes[s]["chip_id"], g.nodes[s]["power_w"], g.nodes[s]["rack_units"], g.nodes[s]["server_kind"]) for s in servers}
    if len(kinds) != 1:
        return 0
    _, power_w, units, kind = kinds.pop()
    if kind == "rack_scale" or free_w < 0 or free_units < 0:
        return 0
    return min(math.floor(free_w / power_w + 1e-9), free_units // units)


def rack_capacity(g: nx.Graph) -> list[RackCapacity]:
    """Occupied racks one by one, then one row per rack type for its empty positions."""
    by_rack = servers_by_rack(g)
    out = []
    occupied: Counter[str] = Counter()
    for rid, d in g.nodes(data=True):
        if d.get("kind") != "rack":
            continue
        servers = by_rack.get(rid, [])
        used_w = sum(g.nodes[s]["power_w"] for s in servers)
        used_u = sum(g.nodes[s]["rack_units"] for s in servers)
        if d["index"] < d["rack_count"]:
            occupied[f"{d['site_id']}/{d['rack_type_id']}"] += 1
        out.append(RackCapacity(
            rid, d["site_id"], d["rack_type_id"], 1, d["cooling"], d["power_kw"], round(used_w / 1000, 3),
            round(d["power_kw"] - used_w / 1000, 3), d["rack_units"], used_u, d["rack_units"] - used_u,
            len(servers), sum(g.nodes[s]["chips"] for s in servers), _contents(g, servers),
            _room(g, servers, d["power_kw"] * 1000 - used_w, d["rack_units"] - used_u),
        ))
    out.sort(key=lambda r: natural_key(r.rack_id))
    for key, rt in g.graph.get("rack_types", {}).items():
        empty = rt["count"] - occupied[key]
        if empty > 0:
            out.append(RackCapacity(
                f"{key}/empty", rt["site_id"], rt["rack_type_id"], empty, rt["cooling"], rt["power_kw"], 0.0,
                rt["power_kw"], rt["rack_units"], 0, rt["rack_units"], 0, 0, "", 0,
            ))
    return out


def rack_table(g: nx.Graph) -> pd.DataFrame:
    """`rack_capacity` as a DataFrame (one row per rack or empty-rack group)."""
    rows = [asdict(r) for r in rack_capacity(g)]
    return pd.DataFrame(rows, columns=list(RackCapacity.__dataclass_fields__))
