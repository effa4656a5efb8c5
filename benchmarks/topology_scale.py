"""Benchmark: build the topology graph of one site with 1,000 racks of 8-GPU servers.

Prints the median of 3 runs (wall time and tracemalloc peak) for building the graph, and one run of the
main queries on it. Run: `python benchmarks/topology_scale.py`. Figures are printed, never asserted.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner.topology.build import build_topology
from planner.topology.capacity import rack_capacity
from planner.topology.checks import check_topology
from planner.topology.domains import domain_sizes
from planner.topology.examples import example_chip, rack_type, site
from planner.topology.installed import Installed

RACKS = 1000


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, peak MB allocated by Python, result) of one call."""
    tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, peak, result


def case(name: str, power_kw: float, rack_units: int, cooling: str) -> None:
    chip = example_chip("h100_sxm")
    rt = rack_type("std", RACKS, power_kw, rack_units, cooling)
    per_rack = min(int(power_kw * 1000 // chip.server_power_w), rack_units // chip.server.rack_units)
    sites = {"big": site("big", rt, it_power_cap_kw=1e7)}
    installed = [Installed("big", "std", "h100_sxm", RACKS * per_rack)]
    runs = [measure(lambda: build_topology(sites, {"h100_sxm": chip}, installed)) for _ in range(3)]
    g = runs[-1][2]
    print(f"{name}: {RACKS} racks x {per_rack} HGX H100 servers = {RACKS * per_rack * 8:,} GPUs; "
          f"graph {g.number_of_nodes():,} nodes, {g.number_of_edges():,} edges")
    print(f"  build: median {statistics.median(r[0] for r in runs):.2f} s, "
          f"peak {statistics.median(r[1] for r in runs):.0f} MB (tracemalloc), runs {[round(r[0], 2) for r in runs]}")
    for label, fn in (("domains", lambda: domain_sizes(g)), ("rack capacity", lambda: rack_capacity(g)),
                      ("checks", lambda: check_topology(g))):
        s, mb, out = measure(fn)
        extra = f" -> {dict(out)}" if label == "domains" else f" -> {len(out)} rows"
        print(f"  {label}: {s:.2f} s, peak {mb:.0f} MB{extra}")
    if "--draw" in sys.argv:
        from planner.topology.draw import draw_topology
        path = Path("outputs") / f"topology_scale_{per_rack}.png"
        s, mb, _ = measure(lambda: draw_topology(g, path, check_topology(g)))
        print(f"  picture: {s:.2f} s, peak {mb:.0f} MB -> {path}")


def main() -> None:
    case("air racks, 40 kW / 42 U", 40, 42, "air")
    case("dense racks, 82 kW / 48 U", 82, 48, "liquid")
    try:
        import resource
        print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
