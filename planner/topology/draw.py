"""Picture of the topology: sites -> racks -> servers, coloured by chip, with the fabric drawn.

Identical racks (same type, same servers, same domains, same problems) are drawn once with "xN", so a
site of a thousand racks shows as a handful of rack glyphs. On each glyph: servers stacked by rack
units and coloured by chip; a coloured bar on the right marks each scale-up domain (its colour is the
fabric); arcs join racks that share a domain; each rack's top-of-rack switch links to the site spine
with a line as wide as its uplink; racks failing a check have a red outline and say why.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle

from planner.results.atomic import atomic_write
from planner.topology.capacity import servers_by_rack
from planner.topology.checks import Violation
from planner.topology.domains import natural_key, scaleup_domains

FABRIC_COLOURS = {
    "nvswitch": "#2ca02c", "nvlink": "#2ca02c", "xgmi": "#9467bd", "ici": "#1f77b4", "c2c": "#ff7f0e",
    "neuronlink": "#8c564b", "ethernet": "#7f7f7f", "infiniband": "#17becf", "pcie": "#bcbd22", "on_wafer": "#e377c2",
}
CHIP_COLOURS = ["#a6cee3", "#fdbf6f", "#b2df8a", "#cab2d6", "#fb9a99", "#ffff99", "#8dd3c7", "#bebada",
                "#fccde5", "#d9d9d9", "#ccebc5", "#ffed6f"]
PITCH, WIDTH, U = 1.5, 1.0, 1 / 16          # glyph pitch and width; height of one rack unit
MAX_PER_ROW, MAX_GLYPHS_PER_SITE = 14, 56
RED = "#d62728"


@dataclass
class _Glyph:
    site_id: str
    rack_type_id: str
    racks: list[str]
    rack_units: int
    power_kw: float
    used_kw: float
    cooling: str
    uplink_gbs: float
    uplink_kind: str
    servers: list[tuple[str, int, int]]            # (chip_id, rack units, chips), bottom up
    bars: list[tuple[int, int, str, int]]          # (first slot, last slot, fabric, domain chips)
    problems: tuple[str, ...]
    empty: bool = False


def _bars(g: nx.Graph, domains_in_rack: list[tuple[list[str], str, int]]) -> list[tuple[int, int, str, int]]:
    out = []
    for servers, kind, size in domains_in_rack:
        slots = sorted(int(s.rsplit("/s", 1)[1]) for s in servers)
        out.append((slots[0], slots[-1], kind, size))
    return sorted(set(out))


def _glyphs(g: nx.Graph, violations: Sequence[Violation]) -> tuple[dict[str, list[_Glyph]], dict[str, int], list]:
    by_rack = servers_by_rack(g)
    problems: dict[str, set[str]] = defaultdict(set)
    for v in violations:
        problems[v.rack_id].add(v.check)
    in_rack: dict[str, list[tuple[list[str], str, int]]] = defaultdict(list)
    cross = []
    for d in scaleup_domains(g):
        if d.size < 2:
            continue
        kind = g.nodes[d.servers[0]]["scaleup_kind"]
        per_rack: dict[str, list[str]] = defaultdict(list)
        for s in d.servers:
            per_rack[g.nodes[s]["rack"]].append(s)
        for r, servers in per_rack.items():
            in_rack[r].append((servers, kind, d.size))
        if len(d.racks) > 1:
            cross.append((d.racks, kind, d.size))
    glyphs: dict[str, list[_Glyph]] = defaultdict(list)
    index: dict[tuple, _Glyph] = {}
    glyph_of: dict[str, int] = {}
    racks = sorted((n for n, d in g.nodes(data=True) if d.get("kind") == "rack"), key=natural_key)
    for r in racks:
        d, servers = g.nodes[r], by_rack.get(r, [])
        content = [(g.nodes[s]["chip_id"], g.nodes[s]["rack_units"], g.nodes[s]["chips"]) for s in servers]
        bars = _bars(g, in_rack.get(r, []))
        probs = tuple(sorted(problems.get(r, ())))
        key = (d["site_id"], d["rack_type_id"], tuple(content), tuple(bars), probs)
        if key not in index:
            kinds = {g.nodes[s]["scaleout_kind"] for s in servers}
            index[key] = _Glyph(d["site_id"], d["rack_type_id"], [], d["rack_units"], d["power_kw"],
                                sum(g.nodes[s]["power_w"] for s in servers) / 1000,
                                d["cooling"], sum(g.nodes[s]["scaleout_gbs"] for s in servers),
                                "infiniband" if kinds == {"infiniband"} else "ethernet", content, bars, probs)
            glyphs[d["site_id"]].append(index[key])
        index[key].racks.append(r)
    for site_glyphs in glyphs.values():
        for k, gl in enumerate(site_glyphs):
            for r in gl.racks:
                glyph_of[r] = k
    occupied: dict[str, int] = defaultdict(int)
    for r in racks:
        d = g.nodes[r]
        if d["index"] < d["rack_count"]:
            occupied[f"{d['site_id']}/{d['rack_type_id']}"] += 1
    for key, rt in g.graph.get("rack_types", {}).items():
        empty = rt["count"] - occupied[key]
        if empty > 0:
            glyphs[rt["site_id"]].append(_Glyph(rt["site_id"], rt["rack_type_id"], [f"{key}/empty"] * empty,
                                                rt["rack_units"], rt["power_kw"], 0.0, rt["cooling"], 0.0,
                                                "ethernet", [], [], (), empty=True))
    return glyphs, glyph_of, cross


def _label(gl: _Glyph) -> str:
    n = len(gl.racks)
    if gl.empty:
        return f"{gl.rack_type_id} empty x{n}"
    first, last = (r.rsplit("/", 1)[1] for r in (gl.racks[0], gl.racks[-1]))
    return f"{gl.rack_type_id}/{first}" if n == 1 else f"{gl.rack_type_id}/{first}..{last} x{n}"


def _fmt_bw(gbs: float) -> str:
    gbit = gbs * 8
    return f"{gbit / 1000:.3g} Tb/s" if gbit >= 1000 else f"{gbit:.3g} Gb/s"


def _draw_glyph(ax, gl: _Glyph, x: float, y0: float, colours: dict[str, str]) -> None:
    bad = bool(gl.problems)
    ax.add_patch(Rectangle((x, y0), WIDTH, gl.rack_units * U, fill=not gl.empty, facecolor="#f7f7f7",
                           edgecolor=RED if bad else "#444444", lw=2.4 if bad else 0.9, ls="--" if gl.empty else "-"))
    u0, slots = 0, []
    for chip, units, n in gl.servers:
        h = units * U
        ax.add_patch(Rectangle((x + 0.06, y0 + u0 * U), WIDTH - 0.22, h, facecolor=colours[chip], edgecolor="#333333", lw=0.4))
        if h >= 0.3:
            text = f"{chip}\n{n} chips" if h >= 0.9 else chip
            size = 6.0 if len(chip) <= 10 else max(4.0, 60 / len(chip))  # long ids shrink to fit the box
            ax.text(x + 0.06 + (WIDTH - 0.22) / 2, y0 + u0 * U + h / 2, text, ha="center", va="center", fontsize=size, clip_on=True)
        slots.append((u0, units))
        u0 += units
    for k, (a, b, kind, _size) in enumerate(gl.bars):
        bottom, top = y0 + slots[a][0] * U, y0 + (slots[b][0] + slots[b][1]) * U
        xb = x + WIDTH - 0.1 + 0.035 * (k % 2)
        ax.plot([xb, xb], [bottom + 0.02, top - 0.02], color=FABRIC_COLOURS.get(kind, "black"), lw=2.2, solid_capstyle="butt")
    ax.text(x + WIDTH / 2, y0 - 0.12, _label(gl), ha="center", va="top", fontsize=6.5)
    line2 = f"{gl.used_kw:.0f}/{gl.power_kw:g} kW {gl.cooling}"
    if bad:
        line2 = "! " + ", ".join(gl.problems)
    ax.text(x + WIDTH / 2, y0 - 0.42, line2, ha="center", va="top", fontsize=6, color=RED if bad else "#333333")
    if gl.uplink_gbs:
        ax.text(x + WIDTH / 2, y0 - 0.68, _fmt_bw(gl.uplink_gbs), ha="center", va="top", fontsize=6, color="#555555")


def _draw_row(ax, g: nx.Graph, s: str, gls: list[_Glyph], first: bool, offset: int, y0: float,
              colours: dict[str, str], glyphs: dict[str, list[_Glyph]], where: dict) -> set[str]:
    """One row of rack glyphs of a site with its ToR switches and spine; returns the link kinds drawn."""
    kinds: set[str] = set()
    rack_top = y0 + max((gl.rack_units for gl in gls), default=42) * U
    spine = ((len(gls) - 1) * PITCH + WIDTH) / 2, rack_top + 1.35
    if first:
        used = sum(gl.used_kw * len(gl.racks) for gl in glyphs.get(s, []) if not gl.empty)
        more = len(glyphs.get(s, [])) - MAX_GLYPHS_PER_SITE
        ax.text(-0.2, rack_top + 2.05, f"site {s}: {used:,.0f} / {g.nodes[s]['it_power_cap_kw']:,.0f} kW IT"
                + (f"  ({more} more rack groups not drawn)" if more > 0 else ""), fontsize=9, fontweight="bold", va="bottom")
    if any(not gl.empty for gl in gls):
        ax.plot(*spine, marker="D", ms=7, color="#444444", zorder=4)
        ax.text(spine[0] + 0.15, spine[1] + 0.1, "spine" if first else "spine (cont.)", fontsize=6.5, va="bottom")
    for k, gl in enumerate(gls):
        x = k * PITCH
        _draw_glyph(ax, gl, x, y0, colours)
        where[(s, offset + k)] = (x, y0 + gl.rack_units * U)
        kinds.update(kind for *_, kind, _ in gl.bars)
        if gl.empty:
            continue
        tor = (x + WIDTH / 2, rack_top + 0.45)
        lw = min(4.0, max(0.7, 0.9 + math.log10(max(gl.uplink_gbs * 8, 1) / 400)))
        ax.plot([tor[0], spine[0]], [tor[1], spine[1]], color=FABRIC_COLOURS[gl.uplink_kind], lw=lw, zorder=1)
        ax.plot([tor[0], tor[0]], [y0 + gl.rack_units * U, tor[1]], color="#999999", lw=0.6, zorder=1)
        ax.plot(*tor, marker="s", ms=4.5, color="#444444", zorder=4)
        kinds.add(gl.uplink_kind)
    return kinds


def draw_topology(g: nx.Graph, path: Path, violations: Sequence[Violation] = (), title: str = "Fleet topology") -> None:
    """Render the picture to `path` (PNG); `violations` mark racks red."""
    glyphs, glyph_of, cross = _glyphs(g, violations)
    chips = sorted({c for gls in glyphs.values() for gl in gls for c, *_ in gl.servers})
    colours = {c: CHIP_COLOURS[i % len(CHIP_COLOURS)] for i, c in enumerate(chips)}
    sites = [n for n, d in g.nodes(data=True) if d.get("kind") == "site"]
    rows = []  # (site, glyphs in the row, first row of the site?, offset of the first glyph)
    for s in sites:
        gls = glyphs.get(s, [])[:MAX_GLYPHS_PER_SITE]
        for k in range(0, max(len(gls), 1), MAX_PER_ROW):
            rows.append((s, gls[k:k + MAX_PER_ROW], k == 0, k))
    ncols = max((len(r[1]) for r in rows), default=1)
    heights = [max((gl.rack_units for gl in r[1]), default=42) * U + 3.6 for r in rows]
    width_u, height_u = max(ncols, 4) * PITCH + 0.6, sum(heights) + 1.2
    n_handles = len(chips) + len(FABRIC_COLOURS) // 2 + 1
    top_in, bottom_in = 0.8, 0.35 + 0.2 * math.ceil(n_handles / 4)
    fig_w, plot_h = max(width_u * 0.78, 9.0), height_u * 0.78
    fig_h = plot_h + top_in + bottom_in
    fig = Figure(figsize=(fig_w, fig_h), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, bottom_in / fig_h, 0.98, plot_h / fig_h))
    ax.set_xlim(-0.3, width_u - 0.3)
    ax.set_ylim(-height_u + 0.6, -0.3)
    ax.axis("off")
    y_top, where, used_kinds = 0.0, {}, set()
    for (s, gls, first, offset), h in zip(rows, heights, strict=True):
        used_kinds |= _draw_row(ax, g, s, gls, first, offset, y_top - h + 1.0, colours, glyphs, where)
        y_top -= h
    used_kinds |= _draw_arcs(ax, g, cross, glyph_of, where)
    _legend_and_titles(fig, g, chips, colours, used_kinds, title, fig_h, glyphs)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png")


def _draw_arcs(ax, g: nx.Graph, cross: list, glyph_of: dict[str, int], where: dict) -> set[str]:
    """Arcs between rack glyphs that share a scale-up domain; one label per site and kind of domain."""
    arcs: dict[tuple, set[int]] = defaultdict(set)
    for racks, kind, size in cross:
        ks = [glyph_of[r] for r in racks if r in glyph_of]
        site = g.nodes[racks[0]]["site_id"]
        for a, b in zip(ks, ks[1:], strict=False):
            if a != b and (site, a) in where and (site, b) in where:
                arcs[(site, min(a, b), max(a, b), kind)].add(size)
    labels: dict[tuple, tuple[float, float]] = {}
    for (site, a, b, kind), sizes in arcs.items():
        (xa, ya), (xb, yb) = where[(site, a)], where[(site, b)]
        ax.add_patch(FancyArrowPatch((xa + WIDTH / 2, ya + 0.05), (xb + WIDTH / 2, yb + 0.05), arrowstyle="-",
                                     connectionstyle="arc3,rad=-0.35", color=FABRIC_COLOURS.get(kind, "black"), lw=2.2, zorder=3))
        peak = max(ya, yb) + 0.05 + 0.35 / 2 * math.hypot(xb - xa, yb - ya)
        key = (site, kind, max(sizes))
        if key not in labels or peak > labels[key][1]:
            labels[key] = ((xa + xb) / 2 + WIDTH / 2, peak)
    for (_, kind, size), (x, y) in labels.items():
        ax.text(x, y + 0.06, f"{kind} domain of {size} chips", ha="center", va="bottom", fontsize=6,
                color=FABRIC_COLOURS.get(kind, "black"))
    return {k[3] for k in arcs}


def _legend_and_titles(fig: Figure, g: nx.Graph, chips: list[str], colours: dict[str, str], kinds: set[str],
                       title: str, fig_h: float, glyphs: dict[str, list[_Glyph]]) -> None:
    platforms = {d["chip_id"]: d["platform"] for _, d in g.nodes(data=True) if d.get("kind") == "server"}
    handles = [Patch(facecolor=colours[c], edgecolor="#333333", label=f"{c} ({platforms[c]})") for c in chips]
    handles += [Line2D([], [], color=FABRIC_COLOURS.get(k, "black"), lw=2.2, label=k) for k in sorted(kinds)]
    handles.append(Patch(facecolor="white", edgecolor=RED, lw=2, label="rack fails a check"))
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), fontsize=7, frameon=False)
    n_sites = sum(1 for _, d in g.nodes(data=True) if d.get("kind") == "site")
    n_racks = sum(len(gl.racks) for gls in glyphs.values() for gl in gls if not gl.empty)
    n_chips = sum(1 for _, d in g.nodes(data=True) if d.get("kind") == "chip")
    fig.suptitle(f"{title}: {n_sites} site{'s' if n_sites != 1 else ''}, {n_racks:,} occupied racks, {n_chips:,} chips",
                 fontsize=11, y=1 - 0.12 / fig_h, va="top")
    fig.text(0.5, 1 - 0.45 / fig_h, "identical racks are drawn once (xN); coloured bars = scale-up domains (colour = fabric); "
             "arcs = domains spanning racks; line width = rack uplink", ha="center", fontsize=7.5, color="#444444")
