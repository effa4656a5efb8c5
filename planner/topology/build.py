"""Build the topology graph (networkx) from sites, the chip catalog and installed hardware.

Nodes (attribute `kind`): `site` (id = site_id), `rack` (`site/rack_type/rN`), `server` (`rack/sK`),
`chip` (`server/cJ`) and `switch` (scale-up switches `server/swJ` or `server/fabric`, top-of-rack
`rack/tor`, site spine `site/spine`). Containment is in node attributes (`site_id`, `rack`, `server`),
not edges: every edge is a physical link with `kind`, `bandwidth_gbps`, `bandwidth_gbs`, `latency_us`
and `scaleup` (see `links.py`). Site and rack nodes therefore have no edges.

Scale-out is a non-blocking two-tier tree: chip -pcie- server -NIC- ToR -uplink- spine, with each ToR's
uplink as wide as its servers' NICs together. Sites are not linked to each other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import networkx as nx

from planner.schemas.chips import ChipSpec
from planner.schemas.sites import Site
from planner.topology.fabric import wire_domain
from planner.topology.installed import Installed
from planner.topology.links import HOST_LINK_GBS, HOST_LINK_LATENCY_US, SCALEOUT_HOP_LATENCY_US, link_attrs
from planner.topology.racking import RackFill, assign_racks
from planner.topology.templates import HardwareTemplate, template_from_chip


def rack_id(site_id: str, rack_type_id: str, index: int) -> str:
    """Node id of a rack."""
    return f"{site_id}/{rack_type_id}/r{index}"


def _add_sites(g: nx.Graph, sites: Mapping[str, Site]) -> None:
    for s in sites.values():
        g.add_node(s.site_id, kind="site", site_id=s.site_id, name=s.name, it_power_cap_kw=s.it_power_cap_kw)
        for rt in s.rack_types:
            g.graph["rack_types"][f"{s.site_id}/{rt.rack_type_id}"] = {
                "site_id": s.site_id, "rack_type_id": rt.rack_type_id, "count": rt.count,
                "power_kw": rt.power_kw, "rack_units": rt.rack_units, "cooling": rt.cooling,
            }


def _add_rack(g: nx.Graph, fill: RackFill, templates: Mapping[str, HardwareTemplate], installed: Sequence[Installed],
              groups: dict[str, list[str]]) -> None:
    rt = fill.rack_type
    rid = rack_id(fill.site_id, rt.rack_type_id, fill.index)
    g.add_node(rid, kind="rack", site_id=fill.site_id, rack_type_id=rt.rack_type_id, index=fill.index,
               power_kw=rt.power_kw, rack_units=rt.rack_units, cooling=rt.cooling, rack_count=rt.count)
    tor = f"{rid}/tor"
    g.add_node(tor, kind="switch", role="tor", site_id=fill.site_id, rack=rid)
    uplink_gbs, kinds = 0.0, set()
    for k, slot in enumerate(fill.servers):
        t, e = templates[slot.chip_id], installed[slot.entry]
        sid = f"{rid}/s{k}"
        g.add_node(sid, kind="server", site_id=fill.site_id, rack=rid, chip_id=slot.chip_id, platform=t.platform,
                   server_kind=t.kind, chips=t.chips_per_server, power_w=t.server_power_w, rack_units=t.rack_units,
                   cooling=t.cooling, source=e.source, quarter=e.quarter, domain_group=slot.group,
                   domain_spans_racks=t.domain_spans_racks, scaleup_kind=t.scaleup_kind,
                   scaleout_kind=t.scaleout_kind, scaleout_gbs=t.scaleout_gbs_per_server)
        chip_ids = [f"{sid}/c{j}" for j in range(t.chips_per_server)]
        g.add_nodes_from(chip_ids, kind="chip", chip_id=slot.chip_id, server=sid, rack=rid, site_id=fill.site_id)
        host_gbs = max(HOST_LINK_GBS, t.scaleout_gbs_per_server / t.chips_per_server)
        g.add_edges_from(((c, sid) for c in chip_ids), **link_attrs("pcie", host_gbs, HOST_LINK_LATENCY_US, False))
        hop = SCALEOUT_HOP_LATENCY_US.get(t.scaleout_kind, 1.0)
        g.add_edge(sid, tor, **link_attrs(t.scaleout_kind, t.scaleout_gbs_per_server, hop, False))
        uplink_gbs += t.scaleout_gbs_per_server
        kinds.add(t.scaleout_kind)
        groups[slot.group].append(sid)
    kind = "infiniband" if kinds == {"infiniband"} else "ethernet"
    spine = f"{fill.site_id}/spine"
    if spine not in g:
        g.add_node(spine, kind="switch", role="spine", site_id=fill.site_id)
    g.add_edge(tor, spine, **link_attrs(kind, uplink_gbs, SCALEOUT_HOP_LATENCY_US[kind], False))


def _wire_group(g: nx.Graph, t: HardwareTemplate, servers: list[str]) -> None:
    """Wire the scale-up fabric of one domain group (servers meant to form one domain, or one server)."""
    if t.domain_size_chips <= 1:
        return
    chips_of = {s: [f"{s}/c{j}" for j in range(t.chips_per_server)] for s in servers}
    if t.effective_domain_chips <= t.chips_per_server:
        d = t.effective_domain_chips
        for s in servers:
            chips = chips_of[s]
            for k in range(0, len(chips), d):
                wire_domain(g, t, [chips[k:k + d]], f"{s}/sw{k // d}", {"site_id": g.nodes[s]["site_id"], "rack": g.nodes[s]["rack"]})
        return
    # One domain over several servers; a fabric that cannot span racks splits it at rack boundaries.
    parts: dict[str, list[str]] = defaultdict(list)
    for s in servers:
        parts["" if t.domain_spans_racks else g.nodes[s]["rack"]].append(s)
    for part in parts.values():
        first = g.nodes[part[0]]
        wire_domain(g, t, [chips_of[s] for s in part], f"{part[0]}/fabric", {"site_id": first["site_id"], "rack": first["rack"]})


def build_topology(
    sites: Mapping[str, Site], chips: Mapping[str, ChipSpec], installed: Sequence[Installed]
) -> nx.Graph:
    """The topology graph of `installed` hardware in `sites`; raises InputError on unknown ids."""
    fills = assign_racks(sites, chips, installed)
    g = nx.Graph(name="fleet topology", rack_types={})
    _add_sites(g, sites)
    templates = {cid: template_from_chip(chips[cid]) for cid in {e.chip_id for e in installed}}
    groups: dict[str, list[str]] = defaultdict(list)
    for fill in fills:
        _add_rack(g, fill, templates, installed, groups)
    for servers in groups.values():
        _wire_group(g, templates[g.nodes[servers[0]]["chip_id"]], servers)
    return g
