"""Physical checks on a topology graph, each reported with the rack (or site) it concerns.

- power: a rack's servers draw more than its `power_kw`
- space: a rack's servers take more than its `rack_units`
- cooling: liquid-cooled hardware in an air-cooled rack
- rack_count: hardware placed beyond the rack positions a site has of that type
- domain_split: a scale-up domain broken across racks by a fabric that cannot span racks
- site_power: a site's servers draw more than its `it_power_cap_kw`
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import networkx as nx

from planner.errors import Problem
from planner.topology.capacity import servers_by_rack
from planner.topology.domains import natural_key

_EPS = 1e-6


@dataclass(frozen=True)
class Violation:
    """One physical problem, located by rack id (or the site id for site-wide limits)."""

    check: str
    rack_id: str
    site_id: str
    message: str

    def as_problem(self) -> Problem:
        return Problem("topology", self.rack_id, self.message)


def _rack_checks(g: nx.Graph, rid: str, d: dict, servers: list[str]) -> list[Violation]:
    out = []
    site = d["site_id"]
    used_kw = sum(g.nodes[s]["power_w"] for s in servers) / 1000
    if used_kw > d["power_kw"] + _EPS:
        out.append(Violation("power", rid, site, f"rack {rid}: servers draw {used_kw:.1f} kW, the rack gives {d['power_kw']:g} kW"))
    used_u = sum(g.nodes[s]["rack_units"] for s in servers)
    if used_u > d["rack_units"]:
        out.append(Violation("space", rid, site, f"rack {rid}: servers take {used_u} U, the rack has {d['rack_units']} U"))
    if d["cooling"] == "air":
        liquid = sorted({g.nodes[s]["chip_id"] for s in servers if g.nodes[s]["cooling"] == "liquid"})
        if liquid:
            out.append(Violation("cooling", rid, site, f"rack {rid}: {', '.join(liquid)} needs liquid cooling; the rack is air-cooled"))
    if d["index"] >= d["rack_count"]:
        out.append(Violation("rack_count", rid, site, f"rack {rid}: site {site} has {d['rack_count']} racks of type "
                             f"{d['rack_type_id']}; the hardware needs at least {d['index'] + 1}"))
    return out


def _split_domains(g: nx.Graph) -> list[Violation]:
    racks_of: dict[str, list[str]] = defaultdict(list)
    for _, d in g.nodes(data=True):
        if d.get("kind") == "server" and not d["domain_spans_racks"] and d["rack"] not in racks_of[d["domain_group"]]:
            racks_of[d["domain_group"]].append(d["rack"])
    out = []
    for group, racks in racks_of.items():
        if len(racks) > 1:
            first = g.nodes[racks[0]]
            out.append(Violation("domain_split", racks[0], first["site_id"], (
                f"rack {racks[0]}: scale-up domain {group} is split across racks {', '.join(racks)}; its fabric "
                f"cannot span racks, so it works as {len(racks)} smaller domains")))
    return out


def _site_power(g: nx.Graph) -> list[Violation]:
    used: dict[str, float] = defaultdict(float)
    for _, d in g.nodes(data=True):
        if d.get("kind") == "server":
            used[d["site_id"]] += d["power_w"] / 1000
    out = []
    for site, kw in used.items():
        cap = g.nodes[site]["it_power_cap_kw"]
        if kw > cap + _EPS:
            out.append(Violation("site_power", site, site, f"site {site}: servers draw {kw:.1f} kW, the site's IT cap is {cap:g} kW"))
    return out


def check_topology(g: nx.Graph) -> list[Violation]:
    """Every violation in the graph, racks in order, then split domains, then site limits."""
    by_rack = servers_by_rack(g)
    racks = sorted((n for n, d in g.nodes(data=True) if d.get("kind") == "rack"), key=natural_key)
    out = [v for r in racks for v in _rack_checks(g, r, g.nodes[r], by_rack.get(r, []))]
    return out + _split_domains(g) + _site_power(g)
