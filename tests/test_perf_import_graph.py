"""Import graph of `planner/perf`: no module imports another that (directly or through others) imports it back.

Every `import planner.perf.X` / `from planner.perf.X import ...` / `from planner.perf import X` is an edge, wherever
it stands: at module level or inside a function (a function-local import hides a cycle from Python's import
machinery, not from the design).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = "planner.perf"
PERF_DIR = Path(__file__).resolve().parents[1] / "planner" / "perf"
INIT = "__init__"


def _modules() -> dict[str, Path]:
    """Module name (relative to the package; `__init__` for the package itself) -> file."""
    return {p.stem: p for p in sorted(PERF_DIR.glob("*.py"))}


def _targets(node: ast.AST, importer: str, known: set[str]) -> list[str]:
    """Modules of the package one import statement names."""
    out: list[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == PACKAGE:
                out.append(INIT)
            elif alias.name.startswith(PACKAGE + "."):
                out.append(alias.name[len(PACKAGE) + 1:].split(".")[0])
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # relative import inside the package
            if node.level != 1:
                return out
            module = PACKAGE + ("." + node.module if node.module else "")
        else:
            module = node.module or ""
        if module == PACKAGE:  # from planner.perf import X: X is a submodule, else a name of __init__
            out.extend(a.name if a.name in known else INIT for a in node.names)
        elif module.startswith(PACKAGE + "."):
            out.append(module[len(PACKAGE) + 1:].split(".")[0])
    return [t for t in out if t != importer]


def import_graph() -> nx.DiGraph:
    """Directed graph importer -> imported over the modules of the package."""
    mods = _modules()
    known = set(mods)
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):  # ast.walk: module level and inside functions and classes alike
            for target in _targets(node, name, known):
                g.add_edge(name, target)
    return g


def test_scan_sees_function_local_imports():
    src = "def f():\n    from planner.perf.fit import x\n    import planner.perf.memory\n"
    found = [t for n in ast.walk(ast.parse(src)) for t in _targets(n, "m", {"fit", "memory"})]
    assert found == ["fit", "memory"]


def test_scan_resolves_package_and_relative_imports():
    known = {"stage", "layout"}
    src = "from planner.perf import stage, Calibration\nfrom .layout import Layout\nfrom . import stage\n"
    found = [t for n in ast.walk(ast.parse(src)) for t in _targets(n, "m", known)]
    assert found == ["stage", INIT, "layout", "stage"]


def test_graph_covers_every_module():
    g = import_graph()
    assert {"calibration", "fit", "predict", "predictor", "stage", "serving"} <= set(g.nodes)
    assert g.number_of_edges() > 50


def test_perf_modules_import_no_cycle():
    g = import_graph()
    cycles = sorted(nx.simple_cycles(g), key=lambda c: (len(c), c))
    msg = "\n".join(" -> ".join([*c, c[0]]) for c in cycles[:10])
    assert not cycles, f"{len(cycles)} import cycle(s) in planner/perf, e.g.\n{msg}"
