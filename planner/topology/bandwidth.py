"""Bandwidth and latency between two chips or two groups of chips.

Bandwidth is a max-flow (GB/s per direction) from one group to the other over every link, each link's
`bandwidth_gbs` usable in each direction; latency is the lowest-latency path. Both run on the local
part of the graph that can carry traffic between the groups: their scale-up domains, those chips'
servers, the racks' top-of-rack switches and the site spine (exact for the tree built by `build.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

_SRC, _SNK = "__source__", "__sink__"


@dataclass(frozen=True)
class PathInfo:
    """The lowest-latency path from one group to another."""

    nodes: tuple[str, ...]
    latency_us: float
    bottleneck_gbs: float       # narrowest link on this path, GB/s per direction
    kinds: tuple[str, ...]      # link kinds along the path, consecutive repeats merged

    @property
    def hops(self) -> int:
        return len(self.nodes) - 1


@dataclass(frozen=True)
class LinkReport:
    """What connects two chips or groups."""

    bandwidth_gbs: float        # max-flow, GB/s per direction (0 when unreachable)
    path: PathInfo | None       # None when unreachable
    same_domain: bool           # every chip of both groups shares one scale-up domain


def _group(g: nx.Graph, x: str | Iterable[str]) -> frozenset[str]:
    nodes = frozenset([x] if isinstance(x, str) else x)
    if not nodes:
        raise ValueError("a group needs at least one chip")
    for n in nodes:
        if n not in g or g.nodes[n].get("kind") != "chip":
            raise ValueError(f"{n!r} is not a chip node of the graph")
    return nodes


def _groups(g: nx.Graph, a: str | Iterable[str], b: str | Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    ga, gb = _group(g, a), _group(g, b)
    if ga & gb:
        raise ValueError(f"the groups share chips: {sorted(ga & gb)[:3]}")
    return ga, gb


def scaleup_closure(g: nx.Graph, seeds: Iterable[str]) -> set[str]:
    """Nodes reachable from `seeds` over scale-up links (chips and scale-up switches)."""
    seen, stack = set(seeds), list(seeds)
    while stack:
        n = stack.pop()
        for m, d in g.adj[n].items():
            if d.get("scaleup") and m not in seen:
                seen.add(m)
                stack.append(m)
    return seen


def local_subgraph(g: nx.Graph, chips: Iterable[str]) -> nx.Graph:
    """The part of `g` that can carry traffic among `chips` (see module docstring)."""
    nodes = scaleup_closure(g, chips)
    servers = {g.nodes[c]["server"] for c in nodes if g.nodes[c].get("kind") == "chip"}
    racks = {g.nodes[s]["rack"] for s in servers}
    sites = {g.nodes[s]["site_id"] for s in servers}
    nodes |= servers | {f"{r}/tor" for r in racks} | {f"{s}/spine" for s in sites}
    return g.subgraph(n for n in nodes if n in g)


def bandwidth_between(g: nx.Graph, a: str | Iterable[str], b: str | Iterable[str]) -> float:
    """Max-flow from group `a` to group `b`, GB/s per direction (0 when no path)."""
    ga, gb = _groups(g, a, b)
    sub = local_subgraph(g, ga | gb)
    h = nx.DiGraph()
    for u, v, d in sub.edges(data=True):
        h.add_edge(u, v, capacity=d["bandwidth_gbs"])
        h.add_edge(v, u, capacity=d["bandwidth_gbs"])
    h.add_edges_from((_SRC, x) for x in ga)  # no capacity attribute = unbounded
    h.add_edges_from((y, _SNK) for y in gb)
    return float(nx.maximum_flow_value(h, _SRC, _SNK))


def path_between(g: nx.Graph, a: str | Iterable[str], b: str | Iterable[str]) -> PathInfo | None:
    """Lowest-latency path from any chip of `a` to any chip of `b`, or None when unreachable."""
    ga, gb = _groups(g, a, b)
    sub = local_subgraph(g, ga | gb)
    dist, paths = nx.multi_source_dijkstra(sub, set(ga), weight="latency_us")
    reached = [y for y in gb if y in dist]
    if not reached:
        return None
    end = min(reached, key=lambda y: (dist[y], y))
    nodes = tuple(paths[end])
    edges = [sub.edges[u, v] for u, v in zip(nodes, nodes[1:], strict=False)]
    kinds: list[str] = []
    for e in edges:
        if not kinds or kinds[-1] != e["kind"]:
            kinds.append(e["kind"])
    return PathInfo(nodes, round(dist[end], 6), min(e["bandwidth_gbs"] for e in edges), tuple(kinds))


def link_between(g: nx.Graph, a: str | Iterable[str], b: str | Iterable[str]) -> LinkReport:
    """Bandwidth (max-flow), lowest-latency path and whether both groups share one scale-up domain."""
    ga, gb = _groups(g, a, b)
    closure = scaleup_closure(g, [next(iter(ga))])
    return LinkReport(bandwidth_between(g, ga, gb), path_between(g, ga, gb), (ga | gb) <= closure)
