"""Write the topology graph as GraphML and the per-rack summary as CSV, each file atomically."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import pandas as pd

from planner.results.atomic import atomic_write
from planner.topology.capacity import rack_table
from planner.topology.checks import Violation


def write_graphml(g: nx.Graph, path: Path) -> None:
    """GraphML of the graph; graph-level dictionaries are stored as JSON strings."""
    h = nx.Graph()
    h.graph = {k: (v if isinstance(v, str | int | float | bool) else json.dumps(v, sort_keys=True)) for k, v in g.graph.items()}
    h.add_nodes_from(g.nodes(data=True))
    h.add_edges_from(g.edges(data=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as fh:
        nx.write_graphml(h, fh)


def rack_summary(g: nx.Graph, violations: Sequence[Violation]) -> pd.DataFrame:
    """`rack_table` plus the checks each rack fails (`problems`: check names, `details`: messages)."""
    table = rack_table(g)
    by_rack: dict[str, list[Violation]] = defaultdict(list)
    for v in violations:
        by_rack[v.rack_id].append(v)
    table["problems"] = [";".join(v.check for v in by_rack.get(r, [])) for r in table["rack_id"]]
    table["details"] = [" | ".join(v.message for v in by_rack.get(r, [])) for r in table["rack_id"]]
    return table


def write_rack_csv(g: nx.Graph, violations: Sequence[Violation], path: Path) -> None:
    """The per-rack summary as CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        rack_summary(g, violations).to_csv(fh, index=False)
