"""Wire scale-up domains into the graph: switch stars, full meshes, tori and chip-to-chip rings.

Shapes by fabric kind (an approximation of each vendor's wiring, exact for what the queries ask:
which chips share a domain and how much bandwidth each chip has into it):
- star (NVSwitch, NVLink domains larger than a pair, PCIe switches): one switch node per domain, each
  chip linked to it at its full per-direction scale-up bandwidth; half the hop latency per edge.
- mesh (xGMI, Gaudi's on-die RoCE, C2C inside a server, bridged NVLink pairs): every pair linked, the
  chip's bandwidth split over its n-1 peers.
- torus (TPU ICI, NeuronLink): 2-D torus over the domain's chips (a ring when it cannot be folded),
  bandwidth split over 4 ports (2 on a ring).
- mesh + ring (C2C domains spanning servers, e.g. GroqNodes): a mesh inside each server and a ring
  linking the same chip position across the domain's servers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import networkx as nx

from planner.topology.links import link_attrs
from planner.topology.templates import HardwareTemplate

STAR_KINDS = frozenset({"nvswitch", "pcie", "infiniband", "on_wafer"})
TORUS_KINDS = frozenset({"ici", "neuronlink"})


def shape_for(t: HardwareTemplate, chips: int, servers: int) -> str:
    """Name of the wiring shape used for one domain of `chips` chips over `servers` servers."""
    if chips <= 1:
        return "none"
    if t.scaleup_kind in STAR_KINDS or (t.scaleup_kind == "nvlink" and chips > 2):
        return "star"
    if t.scaleup_kind in TORUS_KINDS:
        return "torus"
    return "mesh_ring" if servers > 1 else "mesh"


def _torus_dims(n: int) -> tuple[int, int]:
    a = max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)
    return a, n // a


def _star(g: nx.Graph, chips: Sequence[str], hub: str, t: HardwareTemplate, hub_attrs: dict) -> None:
    g.add_node(hub, kind="switch", role=t.scaleup_kind, **hub_attrs)
    attrs = link_attrs(t.scaleup_kind, t.scaleup_gbs_per_direction, t.scaleup_latency_us / 2, True)
    g.add_edges_from(((c, hub) for c in chips), **attrs)


def _mesh(g: nx.Graph, chips: Sequence[str], per_link_gbs: float, t: HardwareTemplate) -> None:
    attrs = link_attrs(t.scaleup_kind, per_link_gbs, t.scaleup_latency_us, True)
    g.add_edges_from(((a, b) for i, a in enumerate(chips) for b in chips[i + 1:]), **attrs)


def _torus(g: nx.Graph, chips: Sequence[str], t: HardwareTemplate) -> None:
    rows, cols = _torus_dims(len(chips))
    ports = 2 if rows == 1 else 4
    attrs = link_attrs(t.scaleup_kind, t.scaleup_gbs_per_direction / ports, t.scaleup_latency_us, True)
    edges = []
    for k, c in enumerate(chips):
        r, q = divmod(k, cols)
        if cols > 1:
            edges.append((c, chips[r * cols + (q + 1) % cols]))
        if rows > 1:
            edges.append((c, chips[((r + 1) % rows) * cols + q]))
    g.add_edges_from(((a, b) for a, b in edges if a != b), **attrs)


def _mesh_ring(g: nx.Graph, per_server: Sequence[Sequence[str]], t: HardwareTemplate) -> None:
    width = max(len(s) for s in per_server)
    ring_ports = 1 if len(per_server) == 2 else 2
    per_link = t.scaleup_gbs_per_direction / (width - 1 + ring_ports)
    for chips in per_server:
        _mesh(g, chips, per_link, t)
    attrs = link_attrs(t.scaleup_kind, per_link, t.scaleup_latency_us, True)
    n = len(per_server)
    for k in range(width):
        for i in range(n if n > 2 else 1):
            a, b = per_server[i], per_server[(i + 1) % n]
            if k < len(a) and k < len(b):
                g.add_edge(a[k], b[k], **attrs)


def wire_domain(
    g: nx.Graph, t: HardwareTemplate, per_server: Sequence[Sequence[str]], hub: str, hub_attrs: dict
) -> str:
    """Link the chips of one domain (grouped by server, in order); returns the shape used."""
    chips = [c for s in per_server for c in s]
    shape = shape_for(t, len(chips), len(per_server))
    if shape == "star":
        _star(g, chips, hub, t, hub_attrs)
    elif shape == "torus":
        _torus(g, chips, t)
    elif shape == "mesh":
        _mesh(g, chips, t.scaleup_gbs_per_direction / (len(chips) - 1), t)
    elif shape == "mesh_ring":
        _mesh_ring(g, per_server, t)
    return shape


def graph_size_per_server(t: HardwareTemplate) -> int:
    """Nodes and links one server of `t` adds to the topology graph (an estimate, rounded up): the server, its
    chips, their host links and ToR link, and its share of the scale-up wiring (a switch and a link per chip for
    a star, n(n-1)/2 links for a mesh, 2 per chip for a torus, a mesh plus a ring across servers).
    What the size limit of one `planner topology` run counts (`installed.MAX_TOPOLOGY_GRAPH`)."""
    c = t.chips_per_server
    size = 1 + c + c + 1
    dom = t.effective_domain_chips
    if t.domain_size_chips <= 1 or dom <= 1:
        return size
    if dom <= c:  # domains inside the server, wired in chunks of `dom` chips
        chunks = [dom] * (c // dom) + ([c % dom] if c % dom else [])
        for m in chunks:
            shape = shape_for(t, m, 1)
            size += {"star": m + 1, "mesh": m * (m - 1) // 2, "torus": 2 * m}.get(shape, 0)
        return size
    shape = shape_for(t, dom, t.servers_per_domain)
    return size + {"star": c + 1, "torus": 2 * c, "mesh_ring": c * (c - 1) // 2 + c, "mesh": c * (c - 1) // 2}.get(shape, 0)
