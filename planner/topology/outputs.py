"""Build the graph and write the three topology outputs: GraphML, picture, per-rack CSV."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from planner.schemas.chips import ChipSpec
from planner.schemas.sites import Site
from planner.topology.build import build_topology
from planner.topology.checks import Violation, check_topology
from planner.topology.draw import draw_topology
from planner.topology.export import write_graphml, write_rack_csv
from planner.topology.installed import Installed


@dataclass(frozen=True)
class TopologyOutputs:
    """What `write_topology_outputs` built and wrote."""

    graph: nx.Graph
    violations: list[Violation]
    graphml: Path
    picture: Path
    racks_csv: Path


def write_topology_outputs(
    sites: Mapping[str, Site], chips: Mapping[str, ChipSpec], installed: Sequence[Installed], out_dir: Path,
    title: str = "Fleet topology", mark: Callable[[Path], None] | None = None,
) -> TopologyOutputs:
    """Write `out_dir`/topology.graphml, topology.png and racks.csv; raises InputError on unknown ids and on
    more hardware than one run draws (`installed.MAX_TOPOLOGY_SERVERS`, checked before the graph is built). `mark`
    is called with `out_dir` once it exists, before any output is written."""
    g = build_topology(sites, chips, installed)  # checks the size first (`racking.assign_racks`)
    violations = check_topology(g)
    out_dir.mkdir(parents=True, exist_ok=True)  # only once the graph is built: a refused run creates nothing
    if mark is not None:
        mark(out_dir)  # the caller's ownership marker (`planner topology`: .fleet-planner-topology)
    paths = out_dir / "topology.graphml", out_dir / "topology.png", out_dir / "racks.csv"
    write_graphml(g, paths[0])
    draw_topology(g, paths[1], violations, title)
    write_rack_csv(g, violations, paths[2])
    return TopologyOutputs(g, violations, *paths)
