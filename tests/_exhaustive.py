"""Exhaustive optimum of a small planning problem, written from the README's `## Model` rules.

Shared by `tests/test_exhaustive.py` (every constraint family) and `tests/test_bruteforce.py` (the plain case).
Nothing here calls or copies `solvers/constraints.py` or `solvers/build.py`: the rules are re-derived from the
README's words. Data is read from the inputs (catalog, sites, fleet, scenario terms) and from a `PlanSets`
built *without* the planner's option reduction: its options table (tokens/s, kW and servers per replica of every
layout the performance model offers), demand, net unit prices and lease terms.

The search: every purchase vector buy[c,s,r,t] and lease-start vector lease[c,t] (depth-first, each key from 0
up to what the racks, or the lease cap, can hold), with
  * racks = ceil((fleet + installed) / fit) per (chip, site, rack type, quarter) (the least the servers need;
    facility and epsilon costs are positive, so more racks never help),
  * every limit checked: rack positions, site power, supply (chip and vendor), budgets (per quarter, total),
    lease cap, minimum order, vendor share,
  * per quarter the cheapest whole-replica deployment found exactly: per server pool (chip at a site, or the
    chip's leased servers) an unbounded knapsack over 1/den-server units gives, for every unit count, the
    Pareto front of (tokens/s, cost) of all replica multisets; pools merge by Pareto products; pools two
    workloads may both use are split between them in every way (in units); redundancy n_plus_1 takes, for each
    candidate largest replica L, only options of at most L tokens/s and asks for demand + L, the least over L.
The only pruning is exact: a branch stops when a monotone limit is broken (more servers break it more) or when
its cost so far, which only grows further down, already reaches the best complete plan.

Units: the objective in $M (the model's MONEY_SCALE), epsilon = 1e-6 = $1.
"""

from __future__ import annotations

import bisect
import csv
import fcntl
import itertools
import math
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

import solvers.sets as sets_mod
from benchmarks.generate import generate
from planner.io.loader import load_inputs
from planner.pipeline import deployment_table

HOURS_PER_QUARTER = 8760.0 / 4  # README Model: h = 2,190
IDLE_TDP_FRACTION = 0.2  # README Model: idle draw = 20 % of the chips' TDP + the server's overhead
SCALE = 1e6  # objective unit: $M
EPS = 1e-6  # README Model, Epsilon terms: $1 per occupied rack-quarter and per replica-quarter
LEASE_PREFIX = "lease:"

#: limits and rules the search can be told to ignore (to show, on the same data, that a case's limit binds)
FAMILIES = frozenset({
    "rack_count", "site_power", "cooling", "supply_chip", "supply_vendor", "budget_quarter", "budget_total",
    "min_order", "vendor_share", "lease_cap", "allowed_sites", "lead_time", "redundancy", "capex_timing",
    "residual", "leases", "fleet", "available_from",
})


def quarter_index(q: str) -> int:
    return int(q[:4]) * 4 + int(q[-1]) - 1


def server_kw(chip: Any) -> float:
    """README Model: nameplate server_kw_c = (TDP x chips_per_server + overhead_power_w) / 1000."""
    return (chip.tdp_w * chip.server.chips_per_server + chip.server.overhead_power_w) / 1000.0


def idle_kw(chip: Any) -> float:
    """README Model, Idle draw: (0.2 x TDP x chips_per_server + overhead_power_w) / 1000."""
    return (IDLE_TDP_FRACTION * chip.tdp_w * chip.server.chips_per_server + chip.server.overhead_power_w) / 1000.0


def rack_fit(chip: Any, rack: Any, cooling_rule: bool = True) -> int:
    """README Model, Racks: min(floor(rack kW x 1000 / server W), floor(rack U / server U)); 0 when the chip needs
    liquid cooling and the rack is air-cooled; at most 1 for a rack-scale system."""
    if cooling_rule and chip.cooling == "liquid" and rack.cooling == "air":
        return 0
    n = min(math.floor(rack.power_kw * 1000.0 / (server_kw(chip) * 1000.0) + 1e-9), rack.rack_units // chip.server.rack_units)
    return min(n, 1) if chip.server.kind == "rack_scale" else max(n, 0)


def straight_line(cost: float, life: int, start: int, salvage: float, q: int) -> tuple[float, float]:
    """(depreciation charged in quarters 0..q, net book value at the end of q) of one unit in service from `start`:
    cost x (1 - salvage) / life per quarter for life quarters (README Model, Residual value)."""
    per = cost * (1.0 - salvage) / life

    def through(k: int) -> int:  # quarters charged up to and including k
        return max(0, min(k - start + 1, life))

    return per * (through(q) - through(-1)), cost - per * through(q)


def _pareto(points: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """(tokens, cost) points no other beats with at least as many tokens at no more cost; tokens descending."""
    front, best = [], math.inf
    for tok, cost in sorted(points, key=lambda p: (-p[0], p[1])):
        if cost < best - 1e-15:
            front.append((tok, cost))
            best = cost
    return tuple(front)


def _cheapest_completion(front: tuple[tuple[float, float], ...], pf: tuple[tuple[float, float], ...], need: float) -> float:
    """Least x + y over (a, x) in `front` and (b, y) in the Pareto front `pf` with a + b >= need. Along `pf` tokens and
    cost both fall, so for each a the cheapest (b, y) with b >= need - a is the last such point (bisection)."""
    neg = [-b for b, _ in pf]  # ascending
    best = math.inf
    for a, x in front:
        i = bisect.bisect_right(neg, a - need) - 1  # last point with -b <= a - need, i.e. b >= need - a
        if i >= 0:
            best = min(best, x + pf[i][1])
    return best


@dataclass
class Optimum:
    value: float  # $M, objective without the constant
    buys: dict[tuple[str, str, str, int], int] = field(default_factory=dict)
    leases: dict[tuple[str, int], int] = field(default_factory=dict)
    leaves: int = 0  # complete plans costed

    @property
    def feasible(self) -> bool:
        return math.isfinite(self.value)


class Exhaustive:
    """The problem of `inputs` as the README states it; `optimum()` searches it exhaustively.

    `S_full`: the planner's sets built with the option reduction switched off (`prune_options` = identity): only
    its data is read (options, demand, net unit prices, lease terms). `ignore`: rule families (FAMILIES) to leave
    out, to show on the same data that a case's limit changes the optimum. `lease_bound`: servers per lease start
    to enumerate when no lease cap bounds it.
    """

    def __init__(self, inputs: Any, S_full: Any, ignore: frozenset[str] = frozenset(), lease_bound: int | None = None) -> None:
        assert ignore <= FAMILIES, ignore - FAMILIES
        sc, pol = inputs.scenario, inputs.scenario.policy
        assert pol.objective == "min_tco", "the search minimises the net horizon cost"
        assert pol.horizon_tail_quarters == 0, "no demand tail"
        self.ignore = ignore
        self.T = len(inputs.quarters)
        q0 = self.q0 = quarter_index(inputs.quarters[0])
        self.chips = dict(S_full.chips)  # plannable: allowed + the fleet's
        allowed = set(pol.allowed_chips) if pol.allowed_chips is not None else set(inputs.chips)
        terms = sc.chip_terms
        self.price = {c: p for c, p in S_full.price_usd.items() if c in self.chips}  # net unit price, USD
        self.buyable = sorted(c for c in self.chips if c in allowed and c in self.price)
        self.vendor = {c: ch.vendor for c, ch in self.chips.items()}
        self.life = {c: ch.lifetime_quarters for c, ch in self.chips.items()}
        self.lead = {}
        self.first = {}
        for c, ch in self.chips.items():
            t = terms.get(c)
            self.lead[c] = 0 if "lead_time" in ignore else (t.lead_time_quarters if t and t.lead_time_quarters is not None else ch.lead_time_quarters)
            self.first[c] = (max(0, quarter_index(t.available_from_quarter) - q0)
                             if t and t.available_from_quarter and "available_from" not in ignore else 0)
        self.kw = {c: server_kw(ch) for c, ch in self.chips.items()}
        self.idle = {c: idle_kw(ch) for c, ch in self.chips.items()}
        self.sites = dict(inputs.sites)
        self.f = {s: site.pue * HOURS_PER_QUARTER * site.electricity_usd_per_kwh / SCALE for s, site in self.sites.items()}
        self.cap_kw = {s: site.it_power_cap_kw for s, site in self.sites.items()}
        self.racks: dict[tuple[str, str], tuple[int, float]] = {}  # (s, r) -> count, facility USD per quarter
        self.fit: dict[tuple[str, str, str], int] = {}
        for s, site in self.sites.items():
            for r in site.rack_types:
                self.racks[(s, r.rack_type_id)] = (r.count, r.facility_usd_per_quarter)
                for c, ch in self.chips.items():
                    n = rack_fit(ch, r, cooling_rule="cooling" not in ignore)
                    if n > 0 and r.count > 0:
                        self.fit[(c, s, r.rack_type_id)] = n
        # money rules
        dep = pol.depreciation
        self.salvage = 0.0 if "residual" in ignore else dep.salvage_fraction
        self.resale = 1.0 if "residual" in ignore else dep.resale_fraction_of_book_value
        self.timing = "order" if "capex_timing" in ignore else pol.capex_timing
        self.budget_q: dict[int, float] = {}
        if "budget_quarter" not in ignore:
            if pol.capex_budget_usd_per_quarter is not None:
                self.budget_q = dict.fromkeys(range(self.T), pol.capex_budget_usd_per_quarter)
            for q, usd in pol.capex_budget_usd_by_quarter.items():
                self.budget_q[inputs.quarters.index(q)] = usd
        self.budget_total = None if "budget_total" in ignore else pol.capex_budget_usd_total
        # supply, minimum order, vendor share
        self.supply = {} if "supply_chip" in ignore else {
            c: t.supply_cap_servers_per_quarter for c, t in terms.items() if t.supply_cap_servers_per_quarter is not None}
        self.vendor_cap = {} if "supply_vendor" in ignore else {
            v: t.supply_cap_servers_per_quarter for v, t in sc.vendors.items() if t.supply_cap_servers_per_quarter is not None}
        self.min_order = {} if "min_order" in ignore else {c: t.min_order_servers for c, t in terms.items() if t.min_order_servers}
        self.share: dict[str, float] = {}
        if "vendor_share" not in ignore:
            for v in {self.vendor[c] for c in self.chips}:
                figures = [x for x in ((sc.vendors[v].max_spend_share if v in sc.vendors else None), pol.max_vendor_spend_share) if x is not None]
                if figures:
                    self.share[v] = min(figures)
        # existing fleet: (c, s, r, t) -> servers in service (installed t0 .. t0 + life - 1)
        self.fleet: dict[tuple[str, str, str, int], int] = defaultdict(int)
        self.fleet_entries = [] if "fleet" in ignore else list(inputs.fleet)
        for e in self.fleet_entries:
            t0 = quarter_index(e.installed_quarter) - q0
            for t in range(max(0, t0), min(self.T, t0 + self.life[e.chip_id])):
                self.fleet[(e.chip_id, e.site_id, e.rack_type_id, t)] += e.servers
        # ordering window (README Model, Ordering window): first_c <= t, t + lead_c <= T - 1, a rack type it fits
        self.buy_keys = [(c, s, r, t) for (c, s, r) in sorted(self.fit) if c in self.buyable
                         for t in range(self.first[c], self.T) if t + self.lead[c] <= self.T - 1]
        # leases (README Money, Buy or lease): from the later of lease_lead_time_quarters and available_from_quarter on,
        # active t .. t + term - 1, whole term paid
        self.lease = {} if "leases" in ignore else {c: li for c, li in S_full.lease.items() if c in self.chips}
        self.lease_keys = [(c, t) for c in sorted(self.lease) for t in range(max(self.lease[c].lead, self.first[c]), self.T)]
        self.lease_bound = lease_bound
        # workloads, demand, options
        self.demand = dict(S_full.demand)
        self.allowed_sites: dict[str, set[str]] = defaultdict(set)
        for w in inputs.workloads:
            if w.allowed_sites and "allowed_sites" not in ignore:
                self.allowed_sites[w.workload_id] = set(w.allowed_sites)
        self.n_plus_1 = pol.redundancy == "n_plus_1" and "redundancy" not in ignore
        # options per (w, t, c): (servers per replica as a Fraction, tokens/s, kW above the idle share), exact
        # duplicates merged (same figures: interchangeable)
        self.opts: dict[tuple[str, int, str], list[tuple[Fraction, float, float]]] = defaultdict(list)
        for o in S_full.options:
            spr = Fraction(o.servers_per_replica).limit_denominator(1000)
            assert abs(float(spr) - o.servers_per_replica) < 1e-12, o
            item = (spr, o.tokens_per_s, max(0.0, o.power_kw - self.idle[o.chip] * o.servers_per_replica))
            if item not in self.opts[(o.workload, o.t, o.chip)]:
                self.opts[(o.workload, o.t, o.chip)].append(item)
        self.den = {c: math.lcm(1, *(spr.denominator for (_w, _t, cc), lst in self.opts.items() if cc == c for spr, _, _ in lst))
                    for c in self.chips}
        self._fronts: dict[tuple, list[tuple[tuple[float, float], ...]]] = {}
        self._wcost: dict[tuple, float] = {}
        self._dispatch: dict[tuple, float] = {}

    # ------------------------------------------------------------------ money
    def net_unit_cost(self, c: str, t: int) -> float:
        """README Model, Residual value: price - resale x NBV at the end of T - 1, depreciated from delivery."""
        p = self.price[c]
        d = t + self.lead[c]
        n = min(max(0, self.T - d), self.life[c])
        nbv = p - n * p * (1.0 - self.salvage) / self.life[c]
        return p - self.resale * nbv

    def capex_quarter(self, c: str, t: int) -> int:
        """README Model, Capex timing: the order quarter, or the delivery quarter."""
        return t if self.timing == "order" else t + self.lead[c]

    def lease_cost(self, c: str) -> float:
        li = self.lease[c]
        return li.term * li.usd_per_chip_hour * self.chips[c].server.chips_per_server * HOURS_PER_QUARTER

    def constant(self) -> float:
        """README Model: the existing fleet's idle energy and its depreciation + write-down, $M (not a decision)."""
        energy = sum(n * self.idle[c] * self.f[s] for (c, s, _r, _t), n in self.fleet.items())
        money = 0.0
        for e in self.fleet_entries:
            ch = self.chips[e.chip_id]
            basis = ch.price_usd_per_server if ch.purchasable else 0.0
            charged, nbv = straight_line(basis, self.life[e.chip_id], quarter_index(e.installed_quarter) - self.q0,
                                         self.salvage, self.T - 1)
            money += e.servers * (charged + (1.0 - self.resale) * nbv)
        return energy + money / SCALE

    # ------------------------------------------------------------------ deployment
    def _can_use(self, w: str, t: int, pool: tuple[str, str]) -> bool:
        c, s = pool
        if not self.opts.get((w, t, c)):
            return False
        if s.startswith(LEASE_PREFIX):
            return not self.allowed_sites[w]  # README: workloads limited to named sites never use leased servers
        return not self.allowed_sites[w] or s in self.allowed_sites[w]

    def _front(self, w: str, t: int, c: str, s: str, L: float | None, units: int) -> tuple[tuple[float, float], ...]:
        """Pareto front (tokens/s saturated at the need, cost) of every multiset of replicas of w's options of chip c
        in quarter t at s using at most `units` 1/den-server units (only options of at most L tokens/s when L)."""
        key = (w, t, c, s, L)
        F = self._fronts.get(key)
        if F is None:
            F = self._fronts[key] = [((0.0, 0.0),)]
        need = self.demand[(w, t)] + (L or 0.0)
        fs = 0.0 if s.startswith(LEASE_PREFIX) else self.f[s]
        items = [(int(spr * self.den[c]), tok, kw * fs + EPS) for spr, tok, kw in self.opts[(w, t, c)]
                 if L is None or tok <= L + 1e-9]
        while len(F) <= units:  # F[u] = pareto(F[u-1] + U_o (F[u - w_o] + o)): exact unbounded knapsack
            u = len(F)
            pts = list(F[u - 1])
            for wu, tok, cost in items:
                if wu <= u:
                    pts.extend((min(need, a + tok), x + cost) for a, x in F[u - wu])
            F.append(_pareto(pts))
        return F[units]

    def _workload_cost(self, w: str, t: int, alloc: tuple[tuple[str, str, int], ...]) -> float:
        """Cheapest replicas serving D[w,t] (N+1: with any one deployed replica lost) from the given pool units."""
        key = (w, t, alloc)
        if key in self._wcost:
            return self._wcost[key]
        D = self.demand[(w, t)]
        if D <= 0:
            self._wcost[key] = 0.0
            return 0.0
        if self.n_plus_1:  # served - largest deployed replica >= D: for each candidate largest L, need D + L
            Ls: list[float | None] = sorted({tok for c, _s, _u in alloc for _spr, tok, _kw in self.opts[(w, t, c)]})
        else:
            Ls = [None]
        best = math.inf
        for L in Ls:
            need = D + (L or 0.0)
            front: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
            for c, s, u in alloc[:-1]:  # pools merged by Pareto products ...
                pf = self._front(w, t, c, s, L, u)
                front = _pareto([(min(need, a + b), x + y) for a, x in front for b, y in pf])
            if alloc:  # ... the last one only searched for each point's cheapest completion to the need
                c, s, u = alloc[-1]
                best = min(best, _cheapest_completion(front, self._front(w, t, c, s, L, u), need * (1 - 1e-9)))
        self._wcost[key] = best
        return best

    def dispatch(self, t: int, pools: tuple[tuple[str, str, int], ...]) -> float:
        """Cheapest deployment in quarter t on the given server pools ((chip, site, servers); site `lease:<c>` for
        leased servers): every workload's demand met, pools two workloads may use split between them every way."""
        key = (t, pools)
        if key in self._dispatch:
            return self._dispatch[key]
        workloads = sorted(w for (w, tt) in self.demand if tt == t)
        users = {(c, s): [w for w in workloads if self._can_use(w, t, (c, s))] for c, s, _n in pools}
        units = {(c, s): n * self.den[c] for c, s, n in pools}
        choices = []  # per pool: every assignment of its units to its users
        for c, s, _n in pools:
            k, U = len(users[(c, s)]), units[(c, s)]
            if k <= 1:
                choices.append([(U,) * k])
            else:
                choices.append([p for p in itertools.product(range(U + 1), repeat=k - 1) if sum(p) <= U])
                choices[-1] = [(*p, U - sum(p)) for p in choices[-1]]
        best = math.inf
        for split in itertools.product(*choices):
            alloc: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
            for (c, s, _n), parts in zip(pools, split, strict=True):
                for w, u in zip(users[(c, s)], parts, strict=True):
                    alloc[w].append((c, s, u))
            total = 0.0
            for w in workloads:
                total += self._workload_cost(w, t, tuple(alloc[w]))
                if total >= best:
                    break
            best = min(best, total)
        self._dispatch[key] = best
        return best

    # ------------------------------------------------------------------ search
    def optimum(self, cost_bound: bool = True) -> Optimum:
        """The cheapest plan; `cost_bound=False` switches off the (exact) cost pruning, to check the search itself."""
        T = self.T
        fleet = self.fleet
        inst: dict[tuple[str, str, str, int], int] = defaultdict(int, fleet)
        racks_of = {k: math.ceil(n / self.fit[k[:3]]) if n else 0 for k, n in inst.items() if k[:3] in self.fit}
        assert all(k[:3] in self.fit for k, n in fleet.items() if n), "existing fleet in a rack type it does not fit"
        used: dict[tuple[str, str, int], int] = defaultdict(int)  # rack positions per (s, r, t)
        for (_c, s, r, t), k in racks_of.items():
            used[(s, r, t)] += k
        facility = {k: v[1] / SCALE + EPS for k, v in self.racks.items()}
        kw: dict[tuple[str, int], float] = defaultdict(float)
        for (c, s, _r, t), n in fleet.items():
            kw[(s, t)] += n * self.kw[c]
        assert "site_power" in self.ignore or all(v <= self.cap_kw[s] + 1e-9 for (s, _t), v in kw.items()), "fleet over the power cap"
        order_ct: dict[tuple[str, int], int] = defaultdict(int)
        order_vt: dict[tuple[str, int], int] = defaultdict(int)
        capex_q: dict[int, float] = defaultdict(float)
        spend_v: dict[str, float] = defaultdict(float)
        active: dict[tuple[str, int], int] = defaultdict(int)
        state = {"fixed": sum(k * facility[(s, r)] for (c, s, r, t), k in racks_of.items()), "capex": 0.0}
        best = Optimum(math.inf)
        buys: dict[tuple[str, str, str, int], int] = {}
        leases: dict[tuple[str, int], int] = {}

        def buy_bound(c: str, s: str, r: str) -> int:
            if "rack_count" in self.ignore:
                return self.racks[(s, r)][0] * self.fit[(c, s, r)] + 40  # any finite bound the other limits make
            return self.racks[(s, r)][0] * self.fit[(c, s, r)]

        def add_buy(key: tuple[str, str, str, int], sign: int) -> bool:
            """Add (sign 1) or remove (-1) one server of an order; False when a monotone limit is now broken."""
            c, s, r, t0 = key
            d = t0 + self.lead[c]
            ok = True
            state["fixed"] += sign * self.net_unit_cost(c, t0) / SCALE
            for t in range(d, min(T, d + self.life[c])):
                k4 = (c, s, r, t)
                inst[k4] += sign
                new = math.ceil(inst[k4] / self.fit[(c, s, r)])
                old = racks_of.get(k4, 0)
                if new != old:
                    racks_of[k4] = new
                    used[(s, r, t)] += new - old
                    state["fixed"] += (new - old) * facility[(s, r)]
                state["fixed"] += sign * self.idle[c] * self.f[s]
                kw[(s, t)] += sign * self.kw[c]
                if "rack_count" not in self.ignore and used[(s, r, t)] > self.racks[(s, r)][0]:
                    ok = False
                if "site_power" not in self.ignore and kw[(s, t)] > self.cap_kw[s] + 1e-9:
                    ok = False
            order_ct[(c, t0)] += sign
            order_vt[(self.vendor[c], t0)] += sign
            q = self.capex_quarter(c, t0)
            capex_q[q] += sign * self.price[c]
            state["capex"] += sign * self.price[c]
            spend_v[self.vendor[c]] += sign * self.price[c]
            if c in self.supply and order_ct[(c, t0)] > self.supply[c]:
                ok = False
            if self.vendor[c] in self.vendor_cap and order_vt[(self.vendor[c], t0)] > self.vendor_cap[self.vendor[c]]:
                ok = False
            if q in self.budget_q and capex_q[q] > self.budget_q[q] * (1 + 1e-12) + 1e-6:
                ok = False
            if self.budget_total is not None and sum(capex_q.values()) > self.budget_total * (1 + 1e-12) + 1e-6:
                ok = False
            return ok

        def add_lease(key: tuple[str, int], sign: int) -> bool:
            c, t0 = key
            li = self.lease[c]
            state["fixed"] += sign * self.lease_cost(c) / SCALE
            ok = True
            for t in range(t0, min(T, t0 + li.term)):
                active[(c, t)] += sign
                cap = li.cap_chips
                if cap is not None and "lease_cap" not in self.ignore and active[(c, t)] * self.chips[c].server.chips_per_server > cap:
                    ok = False
            return ok

        def lease_max(c: str) -> int:
            cap = self.lease[c].cap_chips
            if cap is not None and "lease_cap" not in self.ignore:
                return cap // self.chips[c].server.chips_per_server
            assert self.lease_bound is not None, f"leases of {c} have no cap: give lease_bound"
            return self.lease_bound

        keys: list[tuple[str, tuple]] = [("buy", k) for k in self.buy_keys] + [("lease", k) for k in self.lease_keys]
        bounds = [buy_bound(*k[:3]) if kind == "buy" else lease_max(k[0]) for kind, k in keys]

        def leaf() -> None:
            best.leaves += 1
            for (c, _t0), n in order_ct.items():  # README Model, Minimum order: 0 or at least m_c, all sites
                if c in self.min_order and 0 < n < self.min_order[c]:
                    return
            total = state["capex"]
            for v, share in self.share.items():  # README Model, Vendor share: purchases in USD, every quarter
                if spend_v.get(v, 0.0) > share * total * (1 + 1e-12) + 1e-6:
                    return
            cost = state["fixed"]
            for t in range(T):
                pools: dict[tuple[str, str], int] = defaultdict(int)
                for (c, s, _r, tt), n in inst.items():
                    if tt == t and n > 0:
                        pools[(c, s)] += n
                for c in self.lease:
                    if active.get((c, t), 0) > 0:
                        pools[(c, LEASE_PREFIX + c)] += active[(c, t)]
                cost += self.dispatch(t, tuple(sorted((c, s, n) for (c, s), n in pools.items())))
            if cost >= best.value:
                return
            best.value = cost
            best.buys = {k: n for k, n in buys.items() if n}
            best.leases = {k: n for k, n in leases.items() if n}

        def dfs(i: int) -> None:
            if i == len(keys):
                leaf()
                return
            kind, key = keys[i]
            add = add_buy if kind == "buy" else add_lease
            book = buys if kind == "buy" else leases
            n = 0
            while True:
                book[key] = n
                if cost_bound and state["fixed"] >= best.value:  # every cost term is >= 0 and grows with n: nothing below is better
                    break
                dfs(i + 1)
                if n == bounds[i]:
                    break
                n += 1
                if not add(key, 1):
                    break
            for _ in range(n):
                add(key, -1)
            book[key] = 0

        dfs(0)
        return best


# ---------------------------------------------------------------------- cases as scenario folders


def edit_case(src: Any, dest: Any, edit: Any = None) -> Any:
    """Copy a generated scenario folder `src` to `dest` (catalog paths made absolute), let `edit(scenario, sites,
    rows)` change the parsed scenario.yaml, sites.yaml and workloads.csv rows in place, write them back and return
    the scenario path. Solver settings are left at their defaults (1 % gap) except threads 1 and seed 0."""
    src, dest = Path(src), Path(dest)
    shutil.copytree(src, dest)
    scenario = yaml.safe_load((dest / "scenario.yaml").read_text())
    for key in ("chips", "models"):
        scenario["inputs"][key] = str((src / scenario["inputs"][key]).resolve())
    scenario["solver"] = {"name": "highs", "threads": 1, "seed": 0, "time_limit_s": 60}
    sites = yaml.safe_load((dest / "sites.yaml").read_text())
    with (dest / "workloads.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = list(reader.fieldnames or []), list(reader)
    if edit is not None:
        edit(scenario, sites, rows)
    (dest / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    (dest / "sites.yaml").write_text(yaml.safe_dump(sites, sort_keys=False))
    with (dest / "workloads.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return dest / "scenario.yaml"


def load_case(scenario_path: Any) -> tuple[Any, Any, Any]:
    """(inputs, sets the planner solves (its normal option reduction), sets over every option (no reduction))."""
    inputs = load_inputs(scenario_path)
    table = _table(inputs)
    S = sets_mod.build_sets(inputs, table)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sets_mod, "prune_options", lambda candidates, *_a, **_k: list(candidates))
        S_full = sets_mod.build_sets(inputs, table)
    assert len(S_full.options) >= len(S.options) and not S.reduced_from
    return inputs, S, S_full


def generated_tiny(root: Any, seed: int) -> Any:
    """`benchmarks/generate.py --size tiny --seed <seed>` under `root`, made once per folder: pytest-xdist workers
    sharing `root` wait for the first one (file lock) and read the same instance."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out = root / f"tiny-{seed}"
    with open(root / f"tiny-{seed}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not out.exists():  # generated aside, then renamed: a folder that exists is complete
                shutil.rmtree(root / f"tiny-{seed}.partial", ignore_errors=True)
                generate("tiny", seed, root / f"tiny-{seed}.partial")
                (root / f"tiny-{seed}.partial").rename(out)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return out


#: options tables already computed, by everything `planner.pipeline.deployment_table` reads (cases that change only
#: sites, limits or money share the table of their base instance)
_TABLES: dict[tuple, Any] = {}


def _table(inputs: Any) -> Any:
    """`deployment_table(inputs)`, computed once per distinct workloads, catalogs, plannable chips, engine,
    quantile, calibration and measurements (a copy each time: the caller may not change the cached one)."""
    pol = inputs.scenario.policy
    key = (tuple(w.model_dump_json() for w in inputs.workloads), tuple(sorted(sets_mod.plannable_chips(inputs))), pol.engine,
           pol.perf_quantile, inputs.file_hashes.get("chips"), inputs.file_hashes.get("models"),
           str(inputs.calibration_path), inputs.file_hashes.get("calibration"), repr(inputs.measurements))
    if key not in _TABLES:
        _TABLES[key] = deployment_table(inputs)
    return _TABLES[key].copy()
