"""Scale-up domains: sets of chips mutually reachable over scale-up links only."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import networkx as nx

_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Domain:
    """One scale-up domain."""

    domain_id: str              # the first chip's node id
    chip_id: str
    site_id: str
    chips: tuple[str, ...]      # chip node ids, sorted
    servers: tuple[str, ...]
    racks: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.chips)


def scaleup_view(g: nx.Graph) -> nx.Graph:
    """Read-only view of `g` keeping only scale-up edges."""
    return nx.subgraph_view(g, filter_edge=lambda a, b: g.edges[a, b].get("scaleup", False))


def natural_key(node: str) -> tuple:
    """Sort key that orders `r2` before `r10`."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(node))


def scaleup_domains(g: nx.Graph) -> list[Domain]:
    """Every domain (a chip with no scale-up link is a domain of one), ordered by first chip.

    A walk over each chip's own scale-up links (through switch hubs), not a copy of the graph: a 40,000-server
    fleet has 320,000 chips and 700,000 links, most of them not scale-up.
    """
    adj, nodes = g._adj, g._node  # networkx's own dictionaries: the views cost a call per access
    seen: set[str] = set()
    server_keys: dict[str, tuple] = {}

    def chip_key(c: str) -> tuple:
        """natural_key(c), with the server part of `server/cJ` computed once per server."""
        head, sep, tail = c.rpartition("/c")
        if not (sep and tail.isdecimal() and tail.isascii()):
            return natural_key(c)
        k = server_keys.get(head)
        if k is None:
            k = server_keys[head] = natural_key(head)
        return (*k[:-1], "/c", int(tail), "") if k[-1] == "" else (*k[:-1], k[-1] + "/c", int(tail), "")

    out = []
    for start, d in nodes.items():
        if d.get("kind") != "chip" or start in seen:
            continue
        seen.add(start)
        comp, stack = [start], [start]
        while stack:
            for nbr, e in adj[stack.pop()].items():
                if nbr not in seen and e.get("scaleup"):
                    seen.add(nbr)
                    comp.append(nbr)
                    stack.append(nbr)
        members = sorted((c for c in comp if nodes[c].get("kind") == "chip"), key=chip_key)
        attrs = [nodes[c] for c in members]
        out.append(Domain(
            domain_id=members[0], chip_id=attrs[0]["chip_id"], site_id=attrs[0]["site_id"], chips=tuple(members),
            servers=tuple(dict.fromkeys(n["server"] for n in attrs)), racks=tuple(dict.fromkeys(n["rack"] for n in attrs)),
        ))
    return sorted(out, key=lambda d: chip_key(d.domain_id))


def domain_sizes(g: nx.Graph) -> Counter[tuple[str, int]]:
    """How many domains of each (chip_id, size) the graph holds."""
    return Counter((d.chip_id, d.size) for d in scaleup_domains(g))


def domain_of(g: nx.Graph, chip: str) -> frozenset[str]:
    """Chip nodes in the same scale-up domain as `chip` (itself included)."""
    if g.nodes[chip].get("kind") != "chip":
        raise ValueError(f"{chip!r} is not a chip node")
    comp = nx.node_connected_component(scaleup_view(g), chip)
    return frozenset(c for c in comp if g.nodes[c].get("kind") == "chip")
