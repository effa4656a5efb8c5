"""Write the topology graph as GraphML and the per-rack summary as CSV, each file atomically."""

from __future__ import annotations

import json
import os
import secrets
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import networkx as nx
import pandas as pd

from planner.topology.capacity import rack_table
from planner.topology.checks import Violation


@contextmanager
def atomic_file(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """A file that replaces `path` only when the body succeeds (temp file + `os.replace`; umask applies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_graphml(g: nx.Graph, path: Path) -> None:
    """GraphML of the graph; graph-level dictionaries are stored as JSON strings."""
    h = nx.Graph()
    h.graph = {k: (v if isinstance(v, str | int | float | bool) else json.dumps(v, sort_keys=True)) for k, v in g.graph.items()}
    h.add_nodes_from(g.nodes(data=True))
    h.add_edges_from(g.edges(data=True))
    with atomic_file(path) as fh:
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
    with atomic_file(path, "w") as fh:
        rack_summary(g, violations).to_csv(fh, index=False)
