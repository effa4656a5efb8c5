"""Index sets, parameters and eligibility masks for the MILP, computed before any PuLP call.

Everything here is plain Python: which chip may be bought when and where, how many servers of a chip fit
one rack of a type, which deployment options may serve which workload at which site, what the existing
fleet contributes in each quarter. The model builder only reads these.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

import pandas as pd

from planner.finance.depreciation import Depreciation
from planner.io.loader import KeptLease, PlanInputs
from planner.perf.power import IDLE_FRACTION
from planner.schemas.chips import ChipSpec
from planner.schemas.common import quarter_index, quarter_range
from planner.topology.placement import rack_fit, replica_footprint

HOURS_PER_QUARTER = 8760.0 / 4
#: share of a chip's TDP drawn when installed but idle (an estimate; server overhead counts fully): the performance
#: model's own figure (`planner.perf.power.IDLE_FRACTION`), so a server whose slots all run replicas is charged
#: exactly the replica power the options table reports
IDLE_TDP_FRACTION = IDLE_FRACTION
#: objective money unit: millions of USD keep coefficients near 1 for the solver
MONEY_SCALE = 1e6
#: prefix of the virtual site where leased servers stand (hosted by the provider: no racks, site power or facility)
LEASE_SITE_PREFIX = "lease:"


@dataclass(frozen=True)
class PriceInfo:
    """Purchase price of one server/system of a chip, as the plan pays it.

    `unit_usd` = `list_usd` x (1 - `discount`); `components` are the list components (catalog lines, with the
    scenario's quotes replacing theirs) each scaled by (1 - discount), so they sum to `unit_usd`.
    """

    list_usd: float
    discount: float
    unit_usd: float
    components: dict[str, float]
    kind: str
    source: str
    list_components: dict[str, float] = field(default_factory=dict)  # before the discount; sum to `list_usd`


@dataclass(frozen=True)
class LeaseInfo:
    """Lease terms of a chip: provider-hosted capacity, paid per chip-hour (energy included) for whole terms."""

    usd_per_chip_hour: float
    term: int  # minimum (and modelled) contract term, quarters
    cap_chips: int | None  # chips leased at once in any quarter
    lead: int  # quarters from signing to use
    kind: str
    source: str

    def usd_per_server_quarter(self, chips_per_server: int) -> float:
        return self.usd_per_chip_hour * chips_per_server * HOURS_PER_QUARTER


def lease_site(c: str) -> str:
    """The virtual site where chip c's leased servers stand."""
    return f"{LEASE_SITE_PREFIX}{c}"


def is_lease_site(s: str) -> bool:
    return s.startswith(LEASE_SITE_PREFIX)


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
    dp: int = 1  # attention data-parallel degree (planner.perf.layout)


@dataclass
class PlanSets:
    """Sets and parameters of one planning problem."""

    quarters: list[str]
    sites: list[str]
    rack_types: dict[tuple[str, str], tuple[int, float, int, str, float]]  # (s,r) -> count, kw, units, cooling, facility usd
    chips: dict[str, ChipSpec]
    vendor_of: dict[str, str]
    buyable: list[str]
    price_usd: dict[str, float]  # per server, after discounts (purchasable chips only)
    lead: dict[str, int]
    life: dict[str, int]
    first_order_t: dict[str, int]
    supply_cap: dict[str, int]
    vendor_cap: dict[str, int]
    vendor_share: dict[str, float]
    min_order: dict[str, int]
    fit: dict[tuple[str, str, str], int]  # (c,s,r) -> servers per rack (>0 only)
    fleet: dict[tuple[str, str, str, int], int]  # (c,s,r,t) -> existing servers alive at t
    demand: dict[tuple[str, int], float]  # (w,t) -> tokens/s to serve (headroom included; N+1's spare is a variable)
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
    residual_value: bool  # resale fraction > 0 (kept for readers of the old flag)
    no_option: list[tuple[str, int, str]] = field(default_factory=list)  # (w, t, reason) with no eligible option
    price: dict[str, PriceInfo] = field(default_factory=dict)  # purchasable chips
    lease: dict[str, LeaseInfo] = field(default_factory=dict)  # chips that may be leased
    lease_keys: list[tuple[str, int]] = field(default_factory=list)  # (c, start t) of a possible lease contract
    #: (c, t) -> servers under lease contracts signed before the plan (kept by a re-plan): usable without a new lease
    leased: dict[tuple[str, int], int] = field(default_factory=dict)
    #: the contracts behind `leased`, for their payments (committed: a constant of the plan, `kept_lease_payments`)
    kept_leases: list[KeptLease] = field(default_factory=list)
    salvage_fraction: float = 0.0
    resale_fraction: float = 1.0
    #: existing fleet: (c, s, r, installed t (may be negative), servers, cost basis USD per server = catalog list price;
    #: an order a re-plan kept: its own unit price)
    fleet_entries: list[tuple[str, str, str, int, int, float]] = field(default_factory=list)
    #: orders a re-plan kept that are paid inside the modelled quarters (capex_timing: delivery, still in flight):
    #: (index in fleet_entries, payment t, USD); committed cash, paid whatever the plan does
    kept_capex: list[tuple[int, int, float]] = field(default_factory=list)
    planned_T: int = 0  # quarters of the scenario's horizon; quarters[planned_T:] are the demand tail
    warnings: list[str] = field(default_factory=list)
    #: policy.redundancy n_plus_1: (w,t) -> tokens/s of the largest replica any eligible option has (the spare's bound)
    spare_max: dict[tuple[str, int], float] = field(default_factory=dict)
    #: undominated options before the speed cap (`cap_options`); 0 when every undominated option reaches the MILP
    reduced_from: int = 0
    #: when capped: the exact (undominated, uncapped) options and their deploy keys, for a bound on the real problem
    #: (`uncapped_sets`, `solvers.full_bound`); empty otherwise
    exact_options: list[Option] = field(default_factory=list)
    exact_deploy_keys: list[tuple[int, str]] = field(default_factory=list)

    @property
    def T(self) -> int:
        return len(self.quarters)

    def delivery(self, c: str, t: int) -> int:
        return t + self.lead[c]

    def depreciation(self, c: str, t: int) -> Depreciation:
        """Straight-line depreciation of one server of chip c ordered in t (from its delivery quarter)."""
        return Depreciation(self.price_usd[c], self.life[c], self.delivery(c, t), self.salvage_fraction)

    def book_value_end(self, c: str, t: int) -> float:
        """Net book value at the end of the modelled horizon of one server of c ordered in t, USD."""
        return self.depreciation(c, t).book_value(self.T - 1)

    def depreciation_in_horizon(self, c: str, t: int) -> float:
        return self.depreciation(c, t).charged_between(0, self.T - 1)

    def net_unit_cost(self, c: str, t: int) -> float:
        """Net horizon cost of one server of c ordered in t, USD: depreciation charged inside the horizon + write-down
        at its end (NBV_end x (1 - resale fraction)) = unit price - resale fraction x NBV_end."""
        return self.price_usd[c] - self.resale_fraction * self.book_value_end(c, t)

    def residual_fraction(self, c: str, t: int) -> float:
        """Resale value at the horizon's end of a server ordered in t, as a fraction of its price."""
        return self.resale_fraction * self.book_value_end(c, t) / self.price_usd[c]

    def kept_lease_payments(self) -> list[tuple[KeptLease, list[int], list[str]]]:
        """Per kept contract: the modelled quarters (indices) it is paid in and the quarters it is paid in after them
        (quarters before the first one were paid before the plan)."""
        out = []
        q0 = quarter_index(self.quarters[0])
        for k in self.kept_leases:
            start = quarter_index(k.contract_start_quarter) - q0
            paid = [t for t in range(max(0, start), start + k.term_quarters) if t < self.T]
            after = start + k.term_quarters - max(self.T, start)
            tail = quarter_range(self.quarters[-1], after + 1)[1:] if after > 0 else []
            if paid or tail:
                out.append((k, paid, tail))
        return out

    def kept_lease_usd(self) -> tuple[float, float]:
        """(paid in the modelled quarters, paid after them), USD, of the kept contracts: committed, whatever the plan."""
        pays = self.kept_lease_payments()
        return (round(sum(k.usd_per_quarter * len(paid) for k, paid, _ in pays), 2),
                round(sum(k.usd_per_quarter * len(tail) for k, _, tail in pays), 2))

    def lease_cost(self, c: str) -> float:
        """USD of one lease contract of one server of c: the whole term, paid even past the horizon."""
        info = self.lease[c]
        return info.term * info.usd_per_server_quarter(self.chips[c].server.chips_per_server)

    @property
    def problem_options(self) -> list[Option]:
        """The options of the real problem: the exact set, also when the MILP runs on a capped one."""
        return self.exact_options or self.options

    def is_tail(self, t: int) -> bool:
        return t >= self.planned_T

    @property
    def tail_quarters(self) -> list[str]:
        return self.quarters[self.planned_T:]

    def capex_t(self, c: str, t: int) -> int:
        """Quarter the capex of an order placed in t counts in."""
        return t if self.capex_timing == "order" else self.delivery(c, t)


def _by_chip(options: list[Option]) -> list[list[Option]]:
    """Options grouped per (workload, quarter, chip), groups in key order, options in input order."""
    groups: dict[tuple[str, int, str], list[Option]] = defaultdict(list)
    for o in options:
        groups[(o.workload, o.t, o.chip)].append(o)
    return [groups[k] for k in sorted(groups)]


def undominated(vectors: list[tuple[float, ...]]) -> list[int]:
    """Indices of the vectors no other one `dominates` (smaller is better in every component); of exact ties the
    first is kept."""
    return [i for i, v in enumerate(vectors)
            if not any(dominates(w, v) and (w != v or j < i) for j, w in enumerate(vectors) if j != i)]


def prune_options(candidates: list[Option], idle_kw: dict[str, float]) -> list[Option]:
    """Drop, per (workload, quarter, chip), only the options another one dominates replica for replica: it delivers
    at least as many tokens/s per replica and needs no more of anything a replica is charged for: servers
    (servers_per_replica: capex, racks, site power, leases), energy (the draw above the servers' idle share, which
    the objective charges, and the whole draw) (`replica_costs`). Replacing each replica of a dominated option by
    one of its dominator keeps every constraint satisfied at no higher cost, integrality included (replicas are
    whole units on both sides), so the optimum of the pruned model is the optimum of the full one. Exact ties keep
    the first option; nothing is capped.
    """
    kept: list[Option] = []
    for group in _by_chip(candidates):
        kept.extend(group[i] for i in undominated([replica_costs(o, idle_kw[o.chip]) for o in group]))
    return kept


#: above this many replica variables after the exact reduction the option set is capped (`cap_options`), for speed
MAX_EXACT_REPLICA_VARIABLES = 40_000
#: options per (workload, quarter, chip) the capped set keeps
MAX_OPTIONS_PER_CHIP = 4


def cap_options(options: list[Option]) -> list[Option]:
    """A heuristic reduction for large instances (not exact; the reduction of stops before 23): per (workload, quarter,
    chip) the options no other beats per token/s on servers, kW and replica size, best MAX_OPTIONS_PER_CHIP of them
    by servers per token/s. Plans made on it say so (`PlanSets.reduced_from`, a warning)."""
    kept: list[Option] = []
    for group in _by_chip(options):
        metrics = [(o.servers_per_replica / o.tokens_per_s, o.power_kw / o.tokens_per_s, o.servers_per_replica) for o in group]
        front = sorted(undominated(metrics), key=lambda i: metrics[i])
        kept.extend(group[i] for i in front[:MAX_OPTIONS_PER_CHIP])
    return kept


def server_idle_kw(chip: ChipSpec) -> float:
    """Idle draw of one server, kW: IDLE_TDP_FRACTION of every chip's TDP plus the server's own overhead."""
    return (chip.tdp_w * chip.server.chips_per_server * IDLE_TDP_FRACTION + chip.server.overhead_power_w) / 1000.0


def replica_costs(o: Option, idle_kw: float) -> tuple[float, float, float, float]:
    """What one replica of `o` brings and costs, each smaller-is-better: (-tokens/s, servers, kW above the idle share
    of its servers, kW)."""
    return (-o.tokens_per_s, o.servers_per_replica, max(0.0, o.power_kw - idle_kw * o.servers_per_replica), o.power_kw)


def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """a is no worse than b in every component."""
    return all(x <= y for x, y in zip(a, b, strict=True))


def price_info(inputs: PlanInputs, chip: ChipSpec) -> PriceInfo | None:
    """The purchase price of one server/system of `chip` (None for a lease-only part).

    List = the catalog's components, with `chip_terms.<chip>.price_components_usd` replacing lines of the same name,
    or `chip_terms.<chip>.price_usd_per_server` replacing the whole system (one `system_quote` line). Then the
    discount (`chip_terms` first, else the vendor's) scales every line, so the components sum to the net unit price.
    """
    if not chip.purchasable:
        return None
    terms = inputs.scenario.chip_terms.get(chip.chip_id)
    vendor = inputs.scenario.vendors.get(chip.vendor)
    where = f"scenario chip_terms.{chip.chip_id}"
    if terms and terms.price_usd_per_server:
        components = {"system_quote": float(terms.price_usd_per_server)}
        kind, source = "quote", f"{where}.price_usd_per_server"
    else:
        components = dict(chip.price_components_usd)
        kind, source = chip.price_kind, chip.price_source
        quoted = dict(terms.price_components_usd) if terms else {}
        if quoted:
            components.update({k: float(v) for k, v in quoted.items()})
            kind = f"quote + {kind}" if set(components) - set(quoted) else "quote"
            source = "; ".join([f"{k}: {where}.price_components_usd" for k in sorted(quoted)]
                               + [part for part in source.split("; ") if part.split(":")[0] not in quoted])
    discount = terms.discount_fraction if terms and terms.discount_fraction is not None else (vendor.discount_fraction if vendor else 0.0)
    list_usd = float(sum(components.values()))
    return PriceInfo(list_usd=list_usd, discount=float(discount), unit_usd=list_usd * (1.0 - discount),
                     components={k: v * (1.0 - discount) for k, v in components.items()}, kind=kind, source=source,
                     list_components=components)


def lease_info(inputs: PlanInputs, chip: ChipSpec) -> LeaseInfo | None:
    """Lease terms of `chip`: the catalog's `lease` block with `chip_terms.<chip>.lease_*` overriding each figure
    (a chip without catalog terms may be leased at a quoted price); None when it cannot be leased."""
    terms = inputs.scenario.chip_terms.get(chip.chip_id)
    if terms is not None and not terms.lease_allowed:
        return None
    cat = chip.lease
    usd = terms.lease_usd_per_chip_hour if terms and terms.lease_usd_per_chip_hour is not None else (cat.usd_per_chip_hour if cat else None)
    if usd is None:
        return None
    quoted = terms is not None and terms.lease_usd_per_chip_hour is not None
    term = terms.lease_min_term_quarters if terms and terms.lease_min_term_quarters is not None else (cat.min_term_quarters if cat else 1)
    cap = terms.lease_capacity_chips_per_quarter if terms and terms.lease_capacity_chips_per_quarter is not None else (cat.capacity_chips_per_quarter if cat else None)
    lead = terms.lease_lead_time_quarters if terms and terms.lease_lead_time_quarters is not None else 0
    return LeaseInfo(usd_per_chip_hour=float(usd), term=int(term), cap_chips=cap, lead=int(lead),
                     kind="quote" if quoted else str(cat.kind if cat else ""),
                     source=f"scenario chip_terms.{chip.chip_id}.lease_usd_per_chip_hour" if quoted else (cat.source if cat else ""))


def plannable_chips(inputs: PlanInputs) -> dict[str, ChipSpec]:
    """Chips the plan may use: those it may buy (`policy.allowed_chips`, default all) plus the existing fleet's."""
    allowed = inputs.scenario.policy.allowed_chips
    ids = set(allowed) if allowed is not None else set(inputs.chips)
    ids |= {f.chip_id for f in inputs.fleet}
    ids |= {c for c, _q in inputs.leased if c in inputs.chips}  # servers under an earlier lease contract
    return {c: inputs.chips[c] for c in sorted(ids)}


def build_sets(inputs: PlanInputs, options: pd.DataFrame) -> PlanSets:
    """Compute every set, parameter and mask of the problem from validated inputs and the options table."""
    sc = inputs.scenario
    planned_T = len(inputs.quarters)
    tail = sc.policy.horizon_tail_quarters
    quarters = quarter_range(inputs.quarters[0], planned_T + tail) if tail else list(inputs.quarters)
    q0 = quarter_index(quarters[0])
    T = len(quarters)
    t_of = {q: i for i, q in enumerate(quarters)}
    warnings: list[str] = []

    allowed = sc.policy.allowed_chips if sc.policy.allowed_chips is not None else sorted(inputs.chips)
    chips = plannable_chips(inputs)
    chip_ids = list(chips)

    lead, life, first_t, supply, min_order, price = {}, {}, {}, {}, {}, {}
    pinfo: dict[str, PriceInfo] = {}
    linfo: dict[str, LeaseInfo] = {}
    for c, chip in chips.items():
        terms = sc.chip_terms.get(c)
        lead[c] = terms.lead_time_quarters if terms and terms.lead_time_quarters is not None else chip.lead_time_quarters
        life[c] = chip.lifetime_quarters
        first_t[c] = max(0, quarter_index(terms.available_from_quarter) - q0) if terms and terms.available_from_quarter else 0
        if terms and terms.supply_cap_servers_per_quarter is not None:
            supply[c] = terms.supply_cap_servers_per_quarter
        if terms and terms.min_order_servers:
            min_order[c] = terms.min_order_servers
        p = price_info(inputs, chip)
        if p is not None:
            pinfo[c], price[c] = p, p.unit_usd
        elif terms and (terms.price_usd_per_server or terms.price_components_usd):
            warnings.append(f"chip_terms.{c} quotes a purchase price, but {c} is lease only in the catalog: it is never bought")
        li = lease_info(inputs, chip)
        if li is not None and c in allowed:
            linfo[c] = li
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
    fleet_entries: list[tuple[str, str, str, int, int, float]] = []
    kept_capex: list[tuple[int, int, float]] = []
    for i, f in enumerate(inputs.fleet):
        start = quarter_index(f.installed_quarter) - q0
        end = start + chips[f.chip_id].lifetime_quarters  # retired from this quarter on
        for t in range(max(0, start), min(T, end)):
            fleet[(f.chip_id, f.site_id, f.rack_type_id, t)] += f.servers
        kept = inputs.kept_orders.get(i)
        if kept is not None:  # an order a re-plan kept: carried at its own price, paid in its payment quarter
            basis = kept.unit_price_usd
            pay = quarter_index(kept.payment_quarter) - q0
            if 0 <= pay < T:
                kept_capex.append((len(fleet_entries), pay, kept.cost_usd))
        else:
            basis = chips[f.chip_id].price_usd_per_server if chips[f.chip_id].purchasable else 0.0
        fleet_entries.append((f.chip_id, f.site_id, f.rack_type_id, start, f.servers, basis))

    buyable = [c for c in chip_ids if c in allowed and c in price]
    buy_keys = [
        (c, s, r, t)
        for (c, s, r) in sorted(fit)
        if c in buyable
        for t in range(first_t[c], T)
        if t + lead[c] <= T - 1
    ]
    lease_keys = [(c, t) for c in sorted(linfo) for t in range(max(first_t[c], linfo[c].lead), T)]
    warnings.extend(vendor_share_warnings({vendor_of[c] for c, *_ in buy_keys}, vendor_share))
    closed = [t for t in range(planned_T) if buyable and all(t + lead[c] > planned_T - 1 for c in buyable)]
    if closed and not tail:
        span = quarters[closed[0]] + (f"-{quarters[closed[-1]]}" if len(closed) > 1 else "")
        warnings.append(
            f"horizon end: nothing can be ordered in {span}, because every chip's delivery (lead time "
            f"{min(lead[c] for c in buyable)}+ quarter(s)) would fall past the horizon; demand after "
            f"{quarters[planned_T - 1]} is not covered, and the last purchases serve only the quarters left inside it "
            "(their cost is price - resale value at its end). Set policy.horizon_tail_quarters to plan a demand tail "
            "past the horizon.")
    rack_keys = sorted(
        {(c, s, r, t) for (c, s, r, o) in buy_keys for t in range(o + lead[c], min(T, o + lead[c] + life[c]))}
        | {(c, s, r, t) for (c, s, r, t) in fleet if (c, s, r) in fit}
    )
    sites_with_chip: dict[tuple[str, int], set[str]] = defaultdict(set)  # (c, t) -> sites where c can stand in t
    for c, s, _, t in rack_keys:
        sites_with_chip[(c, t)].add(s)

    headroom = 1.0 + sc.policy.headroom_fraction
    forecast = {(w.workload_id, t_of[w.quarter]): w.peak_output_tokens_per_s for w in inputs.workloads}
    if tail:
        forecast.update(tail_forecast(forecast, planned_T, tail))
    last_t = planned_T - 1
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
        t_row = t_of[row.quarter]
        # the tail quarters serve the last forecast quarter's workload: its options carry over
        for t in ([t_row, *range(planned_T, T)] if t_row == last_t and (row.workload_id, T - 1) in forecast else [t_row]):
            candidates.append(Option(
                index=-1, workload=row.workload_id, model=row.model_id, t=t, chip=c, precision=row.precision,
                tp=int(row.tp), pp=int(row.pp), ep=int(row.ep), chips_per_replica=int(row.chips_per_replica),
                tokens_per_s=float(row.tokens_per_s_per_replica), power_kw=float(row.power_w_per_replica) / 1000.0,
                servers_per_replica=spr, ttft_ms=float(row.ttft_ms), tpot_ms=float(row.tpot_ms), batch=int(row.batch),
                dp=int(getattr(row, "dp", 1)),
            ))
            best_tok[(row.workload_id, t)] = max(best_tok[(row.workload_id, t)], float(row.tokens_per_s_per_replica))
            if t != t_row:
                meets_targets[(row.workload_id, t)].add(c)
    idle_kw = {c: server_idle_kw(chips[c]) for c in chips}
    leased: dict[tuple[str, int], int] = defaultdict(int)
    for (c, q), n in inputs.leased.items():
        if c in chips and q in t_of and n > 0:
            leased[(c, t_of[q])] += n
    leasable = {(c, t) for c, t0 in lease_keys for t in range(t0, min(T, t0 + linfo[c].term))} | set(leased)

    def keys_of(opts: list[Option]) -> list[tuple[int, str]]:
        keys = []
        for o in opts:  # only where the chip can stand in the option's quarter: elsewhere its replicas would be 0
            for s in sorted(sites_with_chip.get((o.chip, o.t), ())):
                if not allowed_sites[o.workload] or s in allowed_sites[o.workload]:
                    keys.append((o.index, s))
            # leased servers stand at the provider: workloads limited to named sites (allowed_sites) never use them
            if (o.chip, o.t) in leasable and not allowed_sites[o.workload]:
                keys.append((o.index, lease_site(o.chip)))
        return keys

    exact = prune_options(candidates, idle_kw)
    opts = [replace(o, index=i) for i, o in enumerate(exact)]
    deploy_keys = keys_of(opts)
    reduced_from = 0
    exact_opts: list[Option] = []
    exact_keys: list[tuple[int, str]] = []
    if len(deploy_keys) > MAX_EXACT_REPLICA_VARIABLES:
        exact_opts, exact_keys = opts, deploy_keys
        opts = [replace(o, index=i) for i, o in enumerate(cap_options(exact))]
        reduced_from, deploy_keys = len(exact), keys_of(opts)
        warnings.append(
            f"option set reduced for speed: {len(exact):,} undominated options would make {len(exact_keys):,} replica "
            f"variables (more than {MAX_EXACT_REPLICA_VARIABLES:,}), so only the {MAX_OPTIONS_PER_CHIP} best per workload, "
            f"quarter and chip by servers and kW per token/s reach the MILP ({len(opts):,} options). A layout left out "
            "could make a cheaper plan, so the MILP's own bound holds for the reduced set only. The bound and gap reported "
            "are those of the LP relaxation on every undominated option (a bound on the real problem), and status "
            "optimal_in_reduced_set says a plan is proven on the reduced set only (option_set in plan.json)")

    demand = {k: peak * headroom for k, peak in forecast.items()}
    # N+1: the plan must meet demand with any one of its deployed replicas lost (`constraints.add_redundancy`)
    spare_max = {k: best_tok[k] for k in forecast if best_tok[k] > 0} if sc.policy.redundancy == "n_plus_1" else {}
    servable = {(opts[i].workload, opts[i].t) for i, _ in deploy_keys}
    ctx = _ReasonContext(inputs, quarters, allowed, fit, first_t, lead, fleet, meets_targets,
                         {(o.workload, o.t) for o in candidates}, {(o.workload, o.t, o.chip) for o in candidates}, allowed_sites)
    no_option = [(w, t, unservable_reason(ctx, w, t)) for (w, t) in sorted(forecast) if (w, t) not in servable]

    budget_q: dict[int, float] = {}
    if sc.policy.capex_budget_usd_per_quarter is not None:
        budget_q = dict.fromkeys(range(planned_T), sc.policy.capex_budget_usd_per_quarter)  # the tail has no budget
    for q, usd in sc.policy.capex_budget_usd_by_quarter.items():
        budget_q[t_of[q]] = usd

    return PlanSets(
        quarters=quarters, sites=sorted(inputs.sites), rack_types=rack_types, chips=chips, vendor_of=vendor_of,
        buyable=buyable, price_usd=price, lead=lead, life=life, first_order_t=first_t,
        supply_cap=supply, vendor_cap=vendor_cap, vendor_share=vendor_share, min_order=min_order, fit=fit,
        fleet=dict(fleet), demand=demand, forecast=forecast, options=opts, deploy_keys=deploy_keys,
        buy_keys=buy_keys, rack_keys=rack_keys,
        server_kw={c: chips[c].server_power_w / 1000.0 for c in chips},
        idle_kw=idle_kw,
        site_cap_kw={s: inputs.sites[s].it_power_cap_kw for s in inputs.sites},
        pue={s: inputs.sites[s].pue for s in inputs.sites},
        usd_per_kwh={s: inputs.sites[s].electricity_usd_per_kwh for s in inputs.sites},
        budget_total=sc.policy.capex_budget_usd_total, budget_q=budget_q, objective=sc.policy.objective,
        capex_timing=sc.policy.capex_timing, residual_value=sc.policy.depreciation.resale_fraction_of_book_value > 0,
        no_option=no_option, price=pinfo, lease=linfo, lease_keys=lease_keys, leased=dict(leased),
        kept_leases=[k for k in inputs.kept_leases if k.chip in chips],
        salvage_fraction=sc.policy.depreciation.salvage_fraction,
        resale_fraction=sc.policy.depreciation.resale_fraction_of_book_value,
        fleet_entries=fleet_entries, kept_capex=kept_capex, planned_T=planned_T, warnings=warnings, spare_max=spare_max,
        reduced_from=reduced_from, exact_options=exact_opts, exact_deploy_keys=exact_keys,
    )


def vendor_share_warnings(vendors: set[str], share: dict[str, float]) -> list[str]:
    """A warning when the vendor spend shares forbid every purchase: summed over the vendors one can buy from,
    sum_v spend_v <= (sum_v share_v) x total spend, so if every such vendor has a share and they sum below 1 the total
    spend, and with it every purchase, must be 0 (one vendor with a share below 1 is the simplest case)."""
    if not vendors or any(v not in share for v in vendors):
        return []
    total = sum(share[v] for v in vendors)
    if total >= 1.0 - 1e-12:
        return []
    named = ", ".join(f"{v} {share[v]:.0%}" for v in sorted(vendors))
    return [f"vendor spend shares forbid every purchase: the vendors whose chips can be bought ({named}) may take at "
            f"most {total:.0%} of purchase spend together, so any purchase breaks one of them. Raise "
            "policy.max_vendor_spend_share or vendors.<v>.max_spend_share, or allow another vendor's chips"]


def uncapped_sets(S: PlanSets) -> PlanSets:
    """The sets of the real problem when `S` runs on a capped option set: every undominated option and its deploy keys
    (everything else is shared: the cap changes nothing but the options). `S` itself when it was not capped."""
    if not S.reduced_from:
        return S
    return replace(S, options=S.exact_options, deploy_keys=S.exact_deploy_keys, reduced_from=0, exact_options=[],
                   exact_deploy_keys=[])


def tail_forecast(forecast: dict[tuple[str, int], float], planned_T: int, tail: int) -> dict[tuple[str, int], float]:
    """Demand of the tail quarters planned_T .. planned_T + tail - 1: each workload with a row in the last planned
    quarter keeps growing at its last quarter-on-quarter rate, peak(T-1) / peak(T-2) (1 when it has no earlier row
    or that row is 0): peak(T-1+k) = peak(T-1) x rate^k."""
    out = {}
    last = planned_T - 1
    for (w, t), peak in forecast.items():
        if t != last:
            continue
        prev = forecast.get((w, last - 1))
        rate = peak / prev if prev else 1.0
        for k in range(1, tail + 1):
            out[(w, last + k)] = peak * rate**k
    return out


@dataclass(frozen=True)
class _ReasonContext:
    """What `unservable_reason` needs to say why a (workload, quarter) has no deployable option."""

    inputs: PlanInputs
    quarters: list[str]
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
    quarters = ctx.quarters
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
        terms = ctx.inputs.scenario.chip_terms.get(c)
        available = terms.available_from_quarter if terms else None
        if ctx.first_t[c] >= len(quarters) and available:  # name the field and its quarter, not the horizon's end
            why.append(f"{c}: chip_terms.{c}.available_from_quarter is {available}, after the horizon ends "
                       f"({quarters[-1]}), so it can never be ordered; set an earlier quarter or extend horizon.quarters")
            continue
        when = quarters[earliest] if earliest < len(quarters) else "after the horizon"
        lead_from = "chip_terms" if terms and terms.lead_time_quarters is not None else "the chip catalog"
        why.append(f"{c}: the earliest delivery is {when} (orders from {quarters[min(ctx.first_t[c], len(quarters) - 1)]}"
                   f"{f' (chip_terms.{c}.available_from_quarter)' if available else ''} with a lead time of "
                   f"{ctx.lead[c]} quarter(s) from {lead_from}; orders must arrive inside the horizon)")
    return "no chip that meets its targets can be installed at a site it may use in " + quarters[t] + ": " + "; ".join(why or ["none"])
