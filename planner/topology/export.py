"""Write the topology graph as GraphML and the per-rack summary as CSV, each file atomically."""

from __future__ import annotations

import json
import numbers
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import networkx as nx
import pandas as pd

from planner.results.atomic import atomic_write
from planner.topology.capacity import rack_table
from planner.topology.checks import Violation

#: GraphML attribute types of the Python values the graph holds (as networkx writes them)
_XML_TYPES = {bool: "boolean", int: "int", float: "double", str: "string"}
_GRAPHML_HEAD = ('<?xml version="1.0" encoding="utf-8"?>\n'
                 '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
                 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                 'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
                 'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n')


def _text(value: object) -> str:
    s = str(value)
    return escape(s) if ("&" in s or "<" in s or ">" in s) else s


_NEEDS_QUOTING = re.compile(r"[&<>\"'\n\r\t]").search


def _attr(value: object) -> str:
    s = str(value)
    return quoteattr(s) if _NEEDS_QUOTING(s) else f'"{s}"'


def write_graphml(g: nx.Graph, path: Path) -> None:
    """GraphML of the graph, as `nx.write_graphml` writes it (read it back with `nx.read_graphml`); graph-level
    dictionaries are stored as JSON strings.

    Streamed, not built as an XML tree: networkx's writer holds an element per node, edge and value and took
    17 s for the 100,000 edges of 5,000 servers; this one writes each distinct attribute set once as text.
    """
    graph_data = {k: (v if isinstance(v, str | int | float | bool) else json.dumps(v, sort_keys=True))
                  for k, v in g.graph.items()}
    keys: dict[tuple[str, str, str], str] = {}

    def key(name: object, value: object, scope: str) -> str:
        kind = _XML_TYPES.get(type(value)) or ("int" if isinstance(value, numbers.Integral)
                                               else "double" if isinstance(value, numbers.Real) else None)
        if kind is None:
            raise TypeError(f"GraphML cannot store {type(value).__name__} values (attribute {name!r})")
        k = (str(name), kind, scope)
        if k not in keys:
            keys[k] = f"d{len(keys)}"
        return keys[k]

    templates: dict[tuple, str] = {}  # one text template per attribute layout (names and types, in order)

    def data_text(data: dict, scope: str) -> str:
        layout = (scope, *((k, type(v)) for k, v in data.items()))
        template = templates.get(layout)
        if template is None:
            template = templates[layout] = "".join(
                f'<data key="{key(k, v, scope)}">{{}}</data>' for k, v in data.items())
        return template.format(*map(_text, data.values()))

    graph_text = data_text(graph_data, "graph")
    cache: dict[tuple, str] = {}  # edges share a handful of attribute sets (one per link kind and width)

    def edge_text(data: dict) -> str:
        sig = (tuple(data.items()), tuple(map(type, data.values())))  # types too: True == 1 == 1.0
        text = cache.get(sig)
        if text is None:
            text = cache[sig] = data_text(data, "edge")
        return text

    node_lines = [f"<node id={_attr(n)}>{data_text(d, 'node')}</node>\n" for n, d in g.nodes(data=True)]
    edge_lines = [f"<edge source={_attr(u)} target={_attr(v)}>{edge_text(d)}</edge>\n"
                  for u, v, d in g.edges(data=True)]
    key_lines = [f'<key id="{i}" for="{scope}" attr.name={quoteattr(name)} attr.type="{kind}" />\n'
                 for (name, kind, scope), i in keys.items()]
    edgedefault = "directed" if g.is_directed() else "undirected"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as fh:
        fh.write(_GRAPHML_HEAD)
        fh.writelines(key_lines)
        fh.write(f'<graph edgedefault="{edgedefault}">{graph_text}\n')
        fh.writelines(node_lines)
        fh.writelines(edge_lines)
        fh.write("</graph>\n</graphml>\n")


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
