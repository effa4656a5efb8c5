"""Pure placement arithmetic for the optimizer: replica footprints and servers per rack, no graph.

The MILP counts servers per (site, rack type); these functions turn a chip and a parallel layout into
integer coefficients for it.

Layout convention: a replica has `pp` pipeline stages; each stage is a tensor-parallel group of
`tp x ep` chips (expert parallelism is laid over the TP ranks' peers), so a replica holds
`tp x ep x pp` chips. A stage must sit inside one scale-up domain. Stage boundaries that cross servers
(or domains) carry activations over the scale-out network: `d_model x activation_bytes x tokens/s`
bytes per second in each direction the pipeline flows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.schemas.chips import ChipSpec
from planner.schemas.sites import RackType
from planner.topology.templates import template_from_chip

_EPS = 1e-9


@dataclass(frozen=True)
class Footprint:
    """Where one replica fits, in whole servers, and the scale-out bandwidth its layout needs.

    Infeasible layouts have `servers_per_replica == replicas_per_server == 0`.
    """

    feasible: bool
    reason: str                     # why not, in words, when infeasible ("" when feasible)
    servers_per_replica: int        # whole servers one replica occupies (>= 1 when feasible)
    replicas_per_server: int        # replicas sharing one server (1 when a replica fills >= 1 server)
    required_scaleout_gbs: float    # GB/s per direction between servers; 0 inside one server/domain
    chips_per_replica: int = 0


def required_pp_bandwidth_gbs(d_model: int, tokens_per_s: float, activation_bytes: float = 2.0) -> float:
    """Activation traffic across one pipeline-stage boundary, GB/s per direction."""
    return d_model * activation_bytes * tokens_per_s / 1e9


def _infeasible(reason: str, required: float, chips: int) -> Footprint:
    return Footprint(False, reason, 0, 0, required, chips)


def replica_footprint(
    chip: ChipSpec,
    tp: int,
    pp: int,
    ep: int = 1,
    d_model: int = 8192,
    tokens_per_s: float = 1e4,
    activation_bytes: float = 2.0,
) -> Footprint:
    """Servers one replica of a `tp x ep x pp` layout needs on `chip`, or why it cannot run there.

    TP x EP must fit one scale-up domain (one server for `pcie` chips, whose TP runs over PCIe). When the domain spans servers (NVL72 trays, TPU slices, Groq
    C2C) the replica may span servers inside it at no scale-out cost; stage boundaries that leave a server
    (or a domain) need `required_scaleout_gbs <= server.scaleout_bandwidth_gbs_per_server`.
    """
    if min(tp, pp, ep) < 1:
        raise ValueError(f"tp, pp and ep must be >= 1, got tp={tp}, pp={pp}, ep={ep}")
    t = template_from_chip(chip)
    stage = tp * ep
    chips = stage * pp
    cps = t.chips_per_server
    # TP over PCIe inside one server for `pcie` chips, as the performance model allows (planner.perf.layout.tp_domain)
    dom = max(t.effective_domain_chips, cps) if chip.scaleup.kind == "pcie" else t.effective_domain_chips
    need = required_pp_bandwidth_gbs(d_model, tokens_per_s, activation_bytes)

    if stage > dom:
        why = f"TP x EP = {stage} chips must share one scale-up domain, but {chip.chip_id} ({chip.scaleup.name}) has domains of {dom} chips"
        if not t.domain_spans_servers and t.domain_size_chips > cps:
            why += f" (its fabric does not span servers of {cps} chips)"
        return _infeasible(why, need, chips)

    if dom <= cps:
        # Domains sit inside a server: count stage slots per server.
        stages_per_server = (cps // dom) * (dom // stage)
        if pp <= stages_per_server:
            return Footprint(True, "", 1, stages_per_server // pp, 0.0, chips)
        servers = math.ceil(pp / stages_per_server)
    else:
        # One domain spans several servers: a replica inside the domain needs no scale-out.
        if chips <= cps:
            return Footprint(True, "", 1, cps // chips, 0.0, chips)
        if chips <= dom:
            return Footprint(True, "", math.ceil(chips / cps), 1, 0.0, chips)
        stages_per_domain = dom // stage
        full, rest = divmod(pp, stages_per_domain)
        servers = full * math.ceil(stages_per_domain * stage / cps) + (math.ceil(rest * stage / cps) if rest else 0)

    have = t.scaleout_gbs_per_server
    if have + _EPS < need:
        return _infeasible(
            f"pipeline stages cross servers: each boundary needs {need:.3g} GB/s per direction "
            f"({d_model} x {activation_bytes:g} B x {tokens_per_s:g} tokens/s) but a {t.platform} server "
            f"has {have:.3g} GB/s of {t.scaleout_kind}",
            need, chips,
        )
    return Footprint(True, "", servers, 1, need, chips)


def rack_fit(chip: ChipSpec, rack_type: RackType) -> tuple[int, str]:
    """How many servers of `chip` one rack of `rack_type` holds, and what limits it (or why none fit).

    n = min(floor(power_kw x 1000 / server_power_w), floor(rack_units / server rack_units)); 0 when the
    hardware needs liquid cooling and the rack is air-cooled. A rack-scale system fills its rack (n <= 1).
    """
    s = chip.server
    unit = "rack-scale system" if s.kind == "rack_scale" else "server"
    if chip.cooling == "liquid" and rack_type.cooling == "air":
        return 0, (f"{chip.chip_id} ({s.name}) needs liquid cooling; rack type {rack_type.rack_type_id} is air-cooled")
    power_w = chip.server_power_w
    by_power = math.floor(rack_type.power_kw * 1000.0 / power_w + _EPS)
    by_space = rack_type.rack_units // s.rack_units
    if by_power == 0:
        return 0, (f"one {s.name} {unit} draws {power_w / 1000:.1f} kW, more than the "
                   f"{rack_type.power_kw:g} kW of rack type {rack_type.rack_type_id}")
    if by_space == 0:
        return 0, (f"one {s.name} {unit} takes {s.rack_units} U, more than the "
                   f"{rack_type.rack_units} U of rack type {rack_type.rack_type_id}")
    n = min(by_power, by_space)
    if s.kind == "rack_scale":
        return 1, f"a {s.name} rack-scale system fills the rack"
    if by_power <= by_space:
        return n, f"power-limited: {n} x {power_w / 1000:.1f} kW in {rack_type.power_kw:g} kW"
    return n, f"space-limited: {n} x {s.rack_units} U in {rack_type.rack_units} U"
