"""Index sets, parameters and eligibility masks for the MILP, computed before any PuLP call.

Everything here is plain Python: which chip may be bought when and where, how many servers of a chip fit
one rack of a type, which deployment options may serve which workload at which site, what the existing
fleet contributes in each quarter. The model builder only reads these.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

import pandas as pd

from planner.io.loader import PlanInputs
from planner.schemas.chips import ChipSpec
from planner.schemas.common import quarter_index
from planner.topology.placement import rack_fit, replica_footprint

HOURS_PER_QUARTER = 8760.0 / 4
#: share of a chip's TDP drawn when installed but idle (estimate; server overhead counts fully)
IDLE_TDP_FRACTION = 0.3
#: objective money unit: millions of USD keep coefficients near 1 for the solver
MONEY_SCALE = 1e6


@dataclass(frozen=True)
class Option:
    """One eligible deployment option: a layout of a chip that meets workload w's targets in quarter t."""

    index: int
    workload: str
    model: str
    t: int
    chip: str
    precision: str
    tp: int
    pp: int
    ep: int
    chips_per_replica: int
    tokens_per_s: float
    power_kw: float
    servers_per_replica: float
    ttft_ms: float
    tpot_ms: float
    batch: int


@dataclass
class PlanSets:
    """Sets and parameters of one planning problem."""

    quarters: list[str]
    sites: list[str]
    rack_types: dict[tuple[str, str], tuple[int, float, int, str, float]]  # (s,r) -> count, kw, units, cooling, facility usd
    chips: dict[str, ChipSpec]
    vendor_of: dict[str, str]
    buyable: list[str]
    price_usd: dict[str, float]  # per server, after discounts
    lead: dict[str, int]
    life: dict[str, int]
    first_order_t: dict[str, int]
    supply_cap: dict[str, int]
    vendor_cap: dict[str, int]
    vendor_share: dict[str, float]
    min_order: dict[str, int]
    fit: dict[tuple[str, str, str], int]  # (c,s,r) -> servers per rack (>0 only)
    fleet: dict[tuple[str, str, str, int], int]  # (c,s,r,t) -> existing servers alive at t
    demand: dict[tuple[str, int], float]  # (w,t) -> tokens/s to serve (headroom and redundancy included)
    forecast: dict[tuple[str, int], float]  # (w,t) -> forecast peak tokens/s
    options: list[Option]
    deploy_keys: list[tuple[int, str]]  # (option index, site)
    buy_keys: list[tuple[str, str, str, int]]  # (c,s,r,order t)
    rack_keys: list[tuple[str, str, str, int]]  # (c,s,r,t) where hardware may stand
    server_kw: dict[str, float]
    idle_kw: dict[str, float]
    site_cap_kw: dict[str, float]
    pue: dict[str, float]
    usd_per_kwh: dict[str, float]
    budget_total: float | None
    budget_q: dict[int, float]
    objective: str
    capex_timing: str
    residual_value: bool
    no_option: list[tuple[str, int, str]] = field(default_factory=list)  # (w, t, reason) with no eligible option

    @property
    def T(self) -> int:
        return len(self.quarters)

    def delivery(self, c: str, t: int) -> int:
        return t + self.lead[c]

    def residual_fraction(self, c: str, t: int) -> float:
        """Straight-line value left at the horizon's end of a server ordered in t: (life - service quarters) / life."""
        in_service = self.T - self.delivery(c, t)
        return max(0.0, (self.life[c] - in_service) / self.life[c])

    def capex_t(self, c: str, t: int) -> int:
        """Quarter the capex of an order placed in t counts in."""
        return t if self.capex_timing == "order" else self.delivery(c, t)


#: at most this many options per (workload, quarter, chip) reach the MILP, best servers-per-token first
MAX_OPTIONS_PER_CHIP = 4


def prune_options(candidates: list[Option]) -> list[Option]:
    """Keep, per (workload, quarter, chip), the options no other beats on all of: servers per token/s,
    kW per token/s and replica size (servers per replica, which decides packing). Latency targets are already
    met by every candidate, so nothing else distinguishes them for the optimizer. Exact ties keep the first.
    """
    groups: dict[tuple[str, int, str], list[Option]] = defaultdict(list)
    for o in candidates:
        groups[(o.workload, o.t, o.chip)].append(o)
    kept: list[Option] = []
    for key in sorted(groups):
        metrics = [(o.servers_per_replica / o.tokens_per_s, o.power_kw / o.tokens_per_s, o.servers_per_replica, o) for o in groups[key]]
        front = []
        for i, (a, b, g, o) in enumerate(metrics):
            dominated = any(
                (a2 <= a and b2 <= b and g2 <= g) and ((a2, b2, g2) != (a, b, g) or j < i)
                for j, (a2, b2, g2, _) in enumerate(metrics) if j != i
            )
            if not dominated:
                front.append((a, b, g, o))
        front.sort(key=lambda x: (x[0], x[1], x[2]))
        kept.extend(o for *_, o in front[:MAX_OPTIONS_PER_CHIP])
    return kept


def _price(inputs: PlanInputs, chip: ChipSpec) -> float:
    terms = inputs.scenario.chip_terms.get(chip.chip_id)
    vendor = inputs.scenario.vendors.get(chip.vendor)
    price = terms.price_usd_per_server if terms and terms.price_usd_per_server else chip.price_usd_per_server
    discount = terms.discount_fraction if terms and terms.discount_fraction is not None else (vendor.discount_fraction if vendor else 0.0)
    return price * (1.0 - discount)


def plannable_chips(inputs: PlanInputs) -> dict[str, ChipSpec]:
    """Chips the plan may use: those it may buy (`policy.allowed_chips`, default all) plus the existing fleet's."""
    allowed = inputs.scenario.policy.allowed_chips
    ids = set(allowed) if allowed is not None else set(inputs.chips)
    ids |= {f.chip_id for f in inputs.fleet}
    return {c: inputs.chips[c] for c in sorted(ids)}


def build_sets(inputs: PlanInputs, options: pd.DataFrame) -> PlanSets:
    """Compute every set, parameter and mask of the problem from validated inputs and the options table."""
    sc = inputs.scenario
    quarters = inputs.quarters
    q0 = quarter_index(quarters[0])
    T = len(quarters)
    t_of = {q: i for i, q in enumerate(quarters)}

    allowed = sc.policy.allowed_chips if sc.policy.allowed_chips is not None else sorted(inputs.chips)
    chips = plannable_chips(inputs)
    chip_ids = list(chips)

    lead, life, first_t, supply, min_order, price = {}, {}, {}, {}, {}, {}
    for c, chip in chips.items():
        terms = sc.chip_terms.get(c)
        lead[c] = terms.lead_time_quarters if terms and terms.lead_time_quarters is not None else chip.lead_time_quarters
        life[c] = chip.lifetime_quarters
        first_t[c] = max(0, quarter_index(terms.available_from_quarter) - q0) if terms and terms.available_from_quarter else 0
        if terms and terms.supply_cap_servers_per_quarter is not None:
            supply[c] = terms.supply_cap_servers_per_quarter
        if terms and terms.min_order_servers:
            min_order[c] = terms.min_order_servers
        price[c] = _price(inputs, chip)
    vendor_of = {c: chips[c].vendor for c in chips}
    vendor_cap = {v: t.supply_cap_servers_per_quarter for v, t in sc.vendors.items() if t.supply_cap_servers_per_quarter is not None}
    vendor_share = {v: t.max_spend_share for v, t in sc.vendors.items() if t.max_spend_share is not None}
    if sc.policy.max_vendor_spend_share is not None:
        for v in set(vendor_of.values()):
            vendor_share[v] = min(vendor_share.get(v, 1.0), sc.policy.max_vendor_spend_share)

    rack_types = {}
    fit: dict[tuple[str, str, str], int] = {}
    for s, site in inputs.sites.items():
        for r in site.rack_types:
            rack_types[(s, r.rack_type_id)] = (r.count, r.power_kw, r.rack_units, r.cooling, r.facility_usd_per_quarter)
            for c, chip in chips.items():
                n, _ = rack_fit(chip, r)
                if n > 0 and r.count > 0:
                    fit[(c, s, r.rack_type_id)] = n

    fleet: dict[tuple[str, str, str, int], int] = defaultdict(int)
    for f in inputs.fleet:
        start = quarter_index(f.installed_quarter) - q0
        end = start + chips[f.chip_id].lifetime_quarters  # retired from this quarter on
        for t in range(max(0, start), min(T, end)):
            fleet[(f.chip_id, f.site_id, f.rack_type_id, t)] += f.servers

    buy_keys = [
        (c, s, r, t)
        for (c, s, r) in sorted(fit)
        if c in allowed
        for t in range(first_t[c], T)
        if t + lead[c] <= T - 1
    ]
    rack_keys = sorted(
        {(c, s, r, t) for (c, s, r, o) in buy_keys for t in range(o + lead[c], min(T, o + lead[c] + life[c]))}
        | {(c, s, r, t) for (c, s, r, t) in fleet if (c, s, r) in fit}
    )
    sites_with_chip: dict[tuple[str, int], set[str]] = defaultdict(set)  # (c, t) -> sites where c can stand in t
    for c, s, _, t in rack_keys:
        sites_with_chip[(c, t)].add(s)

    headroom = 1.0 + sc.policy.headroom_fraction
    forecast = {(w.workload_id, t_of[w.quarter]): w.peak_output_tokens_per_s for w in inputs.workloads}
    allowed_sites = {w.workload_id: set(w.allowed_sites) for w in inputs.workloads}

    candidates: list[Option] = []
    best_tok: dict[tuple[str, int], float] = defaultdict(float)
    meets_targets: dict[tuple[str, int], set[str]] = defaultdict(set)  # chips with a row in the options table
    for row in options.itertuples(index=False):
        c = row.chip_id
        if c not in chips or row.quarter not in t_of:
            continue
        meets_targets[(row.workload_id, t_of[row.quarter])].add(c)
        # The performance model shards experts over the replica's own chips (chips = TP x PP): EP up to TP stays
        # inside a stage's scale-up group; beyond it, the all-to-all spans EP/TP stage groups.
        tp, ep = int(row.tp), int(row.ep)
        ep_groups = 1 if ep <= tp else -(-ep // tp)
        fp = replica_footprint(chips[c], tp, int(row.pp), ep_groups, d_model=inputs.models[row.model_id].d_model,
                               tokens_per_s=float(row.tokens_per_s_per_replica))
        if not fp.feasible:
            continue
        spr = float(fp.servers_per_replica) if fp.replicas_per_server <= 1 else 1.0 / fp.replicas_per_server
        t = t_of[row.quarter]
        candidates.append(Option(
            index=-1, workload=row.workload_id, model=row.model_id, t=t, chip=c, precision=row.precision,
            tp=int(row.tp), pp=int(row.pp), ep=int(row.ep), chips_per_replica=int(row.chips_per_replica),
            tokens_per_s=float(row.tokens_per_s_per_replica), power_kw=float(row.power_w_per_replica) / 1000.0,
            servers_per_replica=spr, ttft_ms=float(row.ttft_ms), tpot_ms=float(row.tpot_ms), batch=int(row.batch),
        ))
        best_tok[(row.workload_id, t)] = max(best_tok[(row.workload_id, t)], float(row.tokens_per_s_per_replica))
    opts = [replace(o, index=i) for i, o in enumerate(prune_options(candidates))]

    deploy_keys = []
    for o in opts:  # only where the chip can stand in the option's quarter: elsewhere its replicas would be 0
        for s in sorted(sites_with_chip.get((o.chip, o.t), ())):
            if not allowed_sites[o.workload] or s in allowed_sites[o.workload]:
                deploy_keys.append((o.index, s))

    demand = {}
    for (w, t), peak in forecast.items():
        need = peak * headroom
        if sc.policy.redundancy == "n_plus_1":
            need += best_tok[(w, t)]  # survive the loss of the largest replica that could serve it
        demand[(w, t)] = need
    servable = {(opts[i].workload, opts[i].t) for i, _ in deploy_keys}
    ctx = _ReasonContext(inputs, allowed, fit, first_t, lead, fleet, meets_targets,
                         {(o.workload, o.t) for o in candidates}, {(o.workload, o.t, o.chip) for o in candidates}, allowed_sites)
    no_option = [(w, t, unservable_reason(ctx, w, t)) for (w, t) in sorted(forecast) if (w, t) not in servable]

    budget_q: dict[int, float] = {}
    if sc.policy.capex_budget_usd_per_quarter is not None:
        budget_q = dict.fromkeys(range(T), sc.policy.capex_budget_usd_per_quarter)
    for q, usd in sc.policy.capex_budget_usd_by_quarter.items():
        budget_q[t_of[q]] = usd

    return PlanSets(
        quarters=quarters, sites=sorted(inputs.sites), rack_types=rack_types, chips=chips, vendor_of=vendor_of,
        buyable=[c for c in chip_ids if c in allowed], price_usd=price, lead=lead, life=life, first_order_t=first_t,
        supply_cap=supply, vendor_cap=vendor_cap, vendor_share=vendor_share, min_order=min_order, fit=fit,
        fleet=dict(fleet), demand=demand, forecast=forecast, options=opts, deploy_keys=deploy_keys,
        buy_keys=buy_keys, rack_keys=rack_keys,
        server_kw={c: chips[c].server_power_w / 1000.0 for c in chips},
        idle_kw={c: (chips[c].tdp_w * chips[c].server.chips_per_server * IDLE_TDP_FRACTION + chips[c].server.overhead_power_w) / 1000.0 for c in chips},
        site_cap_kw={s: inputs.sites[s].it_power_cap_kw for s in inputs.sites},
        pue={s: inputs.sites[s].pue for s in inputs.sites},
        usd_per_kwh={s: inputs.sites[s].electricity_usd_per_kwh for s in inputs.sites},
        budget_total=sc.policy.capex_budget_usd_total, budget_q=budget_q, objective=sc.policy.objective,
        capex_timing=sc.policy.capex_timing, residual_value=sc.policy.residual_value, no_option=no_option,
    )


@dataclass(frozen=True)
class _ReasonContext:
    """What `unservable_reason` needs to say why a (workload, quarter) has no deployable option."""

    inputs: PlanInputs
    allowed: list[str]
    fit: dict[tuple[str, str, str], int]
    first_t: dict[str, int]
    lead: dict[str, int]
    fleet: dict[tuple[str, str, str, int], int]
    meets_targets: dict[tuple[str, int], set[str]]
    has_layout: set[tuple[str, int]]
    layout_chip: set[tuple[str, int, str]]
    allowed_sites: dict[str, set[str]]


def unservable_reason(ctx: _ReasonContext, w: str, t: int) -> str:
    """Why no option can serve workload w in quarter t, in words (checked in pipeline order, first cause wins
    per chip): nothing plannable, latency/precision targets, layout footprint, rack fit, purchase window."""
    quarters = ctx.inputs.quarters
    sites = sorted(ctx.allowed_sites[w] or ctx.inputs.sites)
    if not ctx.allowed and not ctx.inputs.fleet:
        return "policy.allowed_chips is empty and there is no existing fleet, so no chip can serve it"
    if not ctx.meets_targets.get((w, t)):
        return "no chip meets its latency targets (ttft_ms, tpot_ms) with its allowed precisions"
    if (w, t) not in ctx.has_layout:
        chips = ", ".join(sorted(ctx.meets_targets[(w, t)]))
        return f"no layout of the chips that meet its targets ({chips}) fits their servers and scale-up domain"
    why = []
    for c in sorted(ctx.meets_targets[(w, t)]):
        if (w, t, c) not in ctx.layout_chip:
            continue
        fits = [s for s in sites if any(ctx.fit.get((c, s, r.rack_type_id)) for r in ctx.inputs.sites[s].rack_types)]
        if not fits:
            why.append(f"{c}: no rack type at {', '.join(sites)} can hold one of its servers (rack power, space, cooling or count)")
            continue
        if any(ctx.fleet.get((c, s, r, t)) for (cc, s, r) in ctx.fit if cc == c and s in fits):
            continue  # the fleet stands there (cannot happen when unservable; kept for safety)
        if c not in ctx.allowed:
            why.append(f"{c}: not in policy.allowed_chips and no existing {c} server is in service in {quarters[t]}")
            continue
        earliest = ctx.first_t[c] + ctx.lead[c]
        when = quarters[earliest] if earliest < len(quarters) else "after the horizon"
        why.append(f"{c}: the earliest delivery is {when} (orders from {quarters[min(ctx.first_t[c], len(quarters) - 1)]}"
                   f" with a lead time of {ctx.lead[c]} quarter(s); orders must arrive inside the horizon)")
    return "no chip that meets its targets can be installed at a site it may use in " + quarters[t] + ": " + "; ".join(why or ["none"])
