"""Place replicas on concrete chips of the graph: TP x EP groups inside one scale-up domain, pipeline
stages across domains only where the links carry the activations (checked by max-flow)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from planner.topology.bandwidth import bandwidth_between
from planner.topology.domains import Domain, scaleup_domains
from planner.topology.placement import required_pp_bandwidth_gbs

_EPS = 1e-9


@dataclass(frozen=True)
class Placement:
    """Chips chosen for one replica, stage by stage, and the bandwidth at each stage boundary."""

    feasible: bool
    reason: str
    stages: tuple[tuple[str, ...], ...]     # chip node ids of each pipeline stage
    boundary_gbs: tuple[float, ...]         # max-flow between stage i and i+1, GB/s per direction
    required_gbs: float                     # what each boundary must carry, GB/s per direction

    @property
    def chips(self) -> tuple[str, ...]:
        return tuple(c for s in self.stages for c in s)


def _fail(reason: str, need: float) -> Placement:
    return Placement(False, reason, (), (), need)


def _place(g: nx.Graph, domains: Sequence[Domain], tp: int, pp: int, ep: int, used: set[str], need: float) -> Placement:
    stage, n = tp * ep, tp * ep * pp
    free = [(d, [c for c in d.chips if c not in used]) for d in domains]
    free = [(d, f) for d, f in free if len(f) >= stage]
    if not free:
        largest = max((d.size for d in domains), default=0)
        return _fail(f"no scale-up domain has {stage} free chips for one TP x EP group (largest domain: {largest})", need)
    whole = [(d, f) for d, f in free if len(f) >= n]
    if whole:
        _, chips = min(whole, key=lambda x: len(x[1]))  # best fit: the tightest domain that holds the replica
        chosen = [tuple(chips[i * stage:(i + 1) * stage]) for i in range(pp)]
    else:
        by_site: dict[str, list[tuple[Domain, list[str]]]] = {}
        for d, f in free:
            by_site.setdefault(d.site_id, []).append((d, f))
        site = max(by_site.values(), key=lambda xs: sum(len(f) // stage for _, f in xs))
        if sum(len(f) // stage for _, f in site) < pp:
            return _fail(f"{pp} stages of {stage} chips need more free domain capacity than any one site has", need)
        chosen = []
        for _, f in sorted(site, key=lambda x: -(len(x[1]) // stage)):
            for i in range(len(f) // stage):
                if len(chosen) < pp:
                    chosen.append(tuple(f[i * stage:(i + 1) * stage]))
    flows = []
    for i, (a, b) in enumerate(zip(chosen, chosen[1:], strict=False)):
        bw = bandwidth_between(g, a, b)
        flows.append(round(bw, 6))
        if bw + _EPS < need:
            return Placement(False, f"stage {i} -> {i + 1} ({a[0]} -> {b[0]}): {bw:.3g} GB/s available, "
                             f"{need:.3g} GB/s needed", tuple(chosen), tuple(flows), need)
    return Placement(True, "", tuple(chosen), tuple(flows), need)


def _domains(g: nx.Graph, chip_id: str | None, site_id: str | None) -> list[Domain]:
    return [d for d in scaleup_domains(g)
            if (chip_id is None or d.chip_id == chip_id) and (site_id is None or d.site_id == site_id)]


def place_replica(
    g: nx.Graph, tp: int, pp: int, ep: int = 1, *, chip_id: str | None = None, site_id: str | None = None,
    used: frozenset[str] | set[str] = frozenset(), d_model: int = 8192, tokens_per_s: float = 1e4,
    activation_bytes: float = 2.0,
) -> Placement:
    """Find chips for one replica (`tp x ep` per stage, `pp` stages), skipping chips in `used`."""
    if min(tp, pp, ep) < 1:
        raise ValueError(f"tp, pp and ep must be >= 1, got tp={tp}, pp={pp}, ep={ep}")
    need = required_pp_bandwidth_gbs(d_model, tokens_per_s, activation_bytes)
    return _place(g, _domains(g, chip_id, site_id), tp, pp, ep, set(used), need)


def place_replicas(
    g: nx.Graph, tp: int, pp: int, ep: int = 1, *, chip_id: str | None = None, site_id: str | None = None,
    limit: int | None = None, d_model: int = 8192, tokens_per_s: float = 1e4, activation_bytes: float = 2.0,
) -> list[Placement]:
    """Place replicas one after another on disjoint chips until none fits (or `limit` is reached)."""
    if min(tp, pp, ep) < 1:
        raise ValueError(f"tp, pp and ep must be >= 1, got tp={tp}, pp={pp}, ep={ep}")
    need = required_pp_bandwidth_gbs(d_model, tokens_per_s, activation_bytes)
    domains = _domains(g, chip_id, site_id)
    used: set[str] = set()
    out: list[Placement] = []
    while limit is None or len(out) < limit:
        p = _place(g, domains, tp, pp, ep, used, need)
        if not p.feasible:
            break
        out.append(p)
        used.update(p.chips)
    return out
