"""The bundled catalogs (inputs/catalog/chips.yaml, models.yaml) against the reference data.

Figures are compared with tests/reference/*.csv (copies of shared/data), never with constants copied from the
YAML, so a typo in the catalog fails here. Planning unit: every catalog entry keeps the CSV row's unit
(gb200 per Blackwell GPU, cerebras_wse3 per wafer = CS-3 system, tt_wormhole_n300 per 2-ASIC card), so
memory, bandwidth and TDP compare one-to-one.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec

REFERENCE = Path(__file__).resolve().parent / "reference"
REL_TOL = 0.005  # 0.5 %

#: catalog value = CSV value x factor. All 1: the catalog keeps each CSV row's planning unit (see module doc).
UNIT_FACTOR: dict[str, float] = {}


def _read_csv(name: str) -> dict[str, dict[str, str]]:
    with open(REFERENCE / name, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    key = "chip_id" if name == "chips.csv" else "model_key"
    return {r[key]: r for r in rows}


CHIP_ROWS = _read_csv("chips.csv")
MODEL_ROWS = _read_csv("models.csv")


def _num(cell: str) -> float | None:
    """A plain numeric CSV cell, else None (blank or descriptive text such as 'MLA (latent)')."""
    cell = (cell or "").strip()
    return float(cell) if re.fullmatch(r"-?\d+(\.\d+)?", cell) else None


def _lead_int(cell: str) -> int | None:
    """Leading integer of a descriptive cell: '256 routed + 1 shared' -> 256, '18432 dense (first 3 layers)' -> 18432."""
    match = re.match(r"\s*(\d+)\b", cell or "")
    return int(match.group(1)) if match else None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


@pytest.fixture(scope="module")
def chips() -> dict[str, ChipSpec]:
    return load_chip_catalog()


@pytest.fixture(scope="module")
def models() -> dict[str, ModelSpec]:
    return load_model_catalog()


#: Blocks that carry their own `source` and `kind` per figure (checked by the price and lease tests below), so
#: they are not named in the entry's SourceRefs.
SELF_SOURCED = ("sources", "price", "lease")


def numeric_paths(obj: BaseModel, prefix: str = "") -> dict[str, float]:
    """Dotted name -> value of every numeric (non-bool, non-None) field, recursing into sub-models; skips
    `sources` and the self-sourced `price` and `lease` blocks."""
    out: dict[str, float] = {}
    for name in type(obj).model_fields:
        if name in SELF_SOURCED:
            continue
        value = getattr(obj, name)
        path = f"{prefix}{name}"
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, BaseModel):
            out.update(numeric_paths(value, path + "."))
        elif isinstance(value, int | float):
            out[path] = value
    return out


def covered_fields(entry: ChipSpec | ModelSpec) -> set[str]:
    return {f for src in entry.sources for f in src.fields}


# ------------------------------------------------------------------------------------------------- chips


def test_every_reference_chip_is_in_the_catalog(chips):
    missing = sorted(set(CHIP_ROWS) - set(chips))
    assert not missing, f"chips.csv ids missing from chips.yaml: {missing}"


@pytest.mark.parametrize("chip_id", sorted(CHIP_ROWS))
@pytest.mark.parametrize(
    ("field", "column"),
    [("memory_gb", "memory_gb"), ("memory_bandwidth_tbs", "memory_bw_tbs"), ("tdp_w", "tdp_w")],
)
def test_chip_datasheet_figures_match_reference(chips, chip_id, field, column):
    chip = chips[chip_id]
    ref = _num(CHIP_ROWS[chip_id][column])
    if ref is None:
        # Not published in the reference data: the catalog must carry an estimate, marked as such.
        assert any(src.estimate and field in src.fields for src in chip.sources), (
            f"{chip_id}.{field}: no reference value, so it needs a SourceRef with estimate: true"
        )
        return
    expected = ref * UNIT_FACTOR.get(chip_id, 1.0)
    actual = getattr(chip, field)
    assert _close(actual, expected), f"{chip_id}.{field} = {actual}, reference {column} = {expected}"


@pytest.mark.parametrize("chip_id", sorted(CHIP_ROWS))
def test_chip_peaks_match_reference(chips, chip_id):
    """Dense peaks and MAMF equal the CSV columns where the CSV gives them (BF16 column may hold an FP16 figure)."""
    chip, row = chips[chip_id], CHIP_ROWS[chip_id]
    columns = {"bf16": "bf16_dense_tflops", "fp8": "fp8_dense_tflops", "int8": "int8_dense_tops", "fp4": "fp4_dense_tflops"}
    for precision, column in columns.items():
        ref = _num(row[column])
        if ref is None:
            continue
        candidates = [chip.peak_tflops.get(precision)]
        if precision == "bf16":
            candidates.append(chip.peak_tflops.fp16)
        assert any(v is not None and _close(v, ref) for v in candidates), (
            f"{chip_id}.peak_tflops.{precision} = {candidates}, reference {column} = {ref}"
        )
    for precision, column in {"bf16": "mamf_bf16_tflops", "fp8": "mamf_fp8_tflops"}.items():
        ref = _num(row[column])
        if ref is not None:
            got = chip.mamf_tflops.get(precision) if chip.mamf_tflops else None
            assert got is not None and _close(got, ref), f"{chip_id}.mamf_tflops.{precision} = {got}, reference {ref}"


@pytest.mark.parametrize("chip_id", sorted(CHIP_ROWS))
def test_chip_release_year_matches_reference(chips, chip_id):
    ref = _num(CHIP_ROWS[chip_id]["release_year"])
    assert ref is None or chips[chip_id].release_year == int(ref)


def test_every_numeric_chip_field_is_sourced(chips):
    problems = []
    for chip_id, chip in chips.items():
        fields = covered_fields(chip)
        problems += [f"{chip_id}.{path}" for path in numeric_paths(chip) if path not in fields]
    assert not problems, f"numeric fields not named in any SourceRef.fields: {problems}"


def test_chip_sources_name_real_fields(chips):
    """A SourceRef naming a field that is absent (or misspelt) is an error, not a citation."""
    problems = []
    for chip_id, chip in chips.items():
        paths = numeric_paths(chip)
        problems += [f"{chip_id}: {f}" for f in covered_fields(chip) if f not in paths]
    assert not problems, f"SourceRef.fields that name no numeric field: {problems}"


# ------------------------------------------------------------------------------------------------ money
#: Cloud-only parts: sold as chip-hours, never as hardware (reference rows whose price basis is a cloud rental,
#: plus the cloud-only parts added after the reference data).
CLOUD_ONLY = {"tpu_v4", "tpu_v5e", "tpu_v5p", "tpu_v6e", "tpu_v7", "inferentia2", "trainium2", "trainium3"}
#: Units whose vendor price is a whole system (rack or wafer); their host is inside that price.
WHOLE_SYSTEMS = {"gb200", "gb300", "vera_rubin_nvl144", "cerebras_wse3"}


def test_cloud_only_parts_are_lease_only(chips):
    cloud_rows = {cid for cid, row in CHIP_ROWS.items() if row["price_basis"].upper().startswith("CLOUD")}
    assert {"tpu_v4", "tpu_v5e", "tpu_v5p", "tpu_v6e", "inferentia2", "trainium2"} <= cloud_rows
    assert cloud_rows <= CLOUD_ONLY
    for cid in sorted(CLOUD_ONLY & set(chips)):
        chip = chips[cid]
        assert chip.price is None and not chip.purchasable, f"{cid} is cloud-only: it must not carry a purchase price"
        assert chip.lease is not None and chip.lease.usd_per_chip_hour > 0, f"{cid}: cloud-only parts need lease terms"
        assert chip.lease.min_term_quarters >= 1


def test_no_bundled_entry_uses_the_legacy_single_figure_price(chips):
    from planner.schemas.chips import SystemPrice
    legacy = [cid for cid, chip in chips.items() if chip.price is not None and not isinstance(chip.price, SystemPrice)]
    assert not legacy, f"bundled prices must be system components, not a single figure: {legacy}"


def test_price_and_lease_lines_carry_source_and_kind(chips):
    problems = []
    for cid, chip in chips.items():
        lines = list(chip.price.components) if chip.price is not None else []
        lines += [chip.lease] if chip.lease is not None else []
        for line in lines:
            what = getattr(line, "component", "lease")
            if len(line.source.strip()) < 10:
                problems.append(f"{cid}.{what}: source {line.source!r}")
            if line.kind not in ("list", "reported", "estimate"):
                problems.append(f"{cid}.{what}: kind {line.kind!r}")
            if line.kind == "estimate" and not (line.note and len(line.note) > 20):
                problems.append(f"{cid}.{what}: an estimate needs its reasoning in `note`")
    assert not problems, problems


def test_every_purchasable_unit_includes_its_host(chips):
    """No plan may buy a card without a host: accelerators and host_platform are both priced (> 0)."""
    problems = []
    for cid, chip in chips.items():
        if not chip.purchasable:
            continue
        comps = chip.price_components_usd
        if comps.get("accelerators", 0) <= 0:
            problems.append(f"{cid}: no accelerators line")
        if comps.get("host_platform", 0) <= 0:
            problems.append(f"{cid}: no host_platform line (a card is not a purchasable system)")
        if cid in WHOLE_SYSTEMS:  # the vendor price is whole-system: its notes must say so
            notes = " ".join(c.note or "" for c in chip.price.components).lower()
            assert "whole-system" in notes, f"{cid}: whole-system vendor price must be stated in the component notes"
    assert not problems, problems


def test_components_sum_to_the_unit_price(chips):
    for cid, chip in chips.items():
        if chip.purchasable:
            assert sum(chip.price_components_usd.values()) == pytest.approx(chip.price_usd_per_server), cid
            assert set(chip.price_components_usd) == {"accelerators", "host_platform", "scaleout_network", "integration_support"}, cid


def test_system_overhead_share_is_sane(chips):
    """Host + network + integration as a share of the unit. 8-chip servers: 10-60 % (cheap cards carry a host that
    costs as much as they do); flagship SXM/OAM servers (accelerators >= 150k USD per server): 10-40 %, the range
    of public BOMs (DGX H100: GPUs ~75-80 % of the server). Whole systems: the host is inside the vendor price."""
    problems = []
    for cid, chip in chips.items():
        if not chip.purchasable or cid in WHOLE_SYSTEMS:
            continue
        comps = chip.price_components_usd
        share = 1 - comps["accelerators"] / chip.price_usd_per_server
        upper = 0.40 if comps["accelerators"] >= 150_000 else 0.60 if chip.server.chips_per_server >= 8 else 0.75
        if not 0.10 <= share <= upper:
            problems.append(f"{cid}: non-accelerator share {share:.0%} outside 10-{upper:.0%}")
    assert not problems, problems


def test_defaults_are_consistent_across_vendors(chips):
    """The same host and integration reasoning for every vendor: one host default per server class, and
    integration_support = 7 % of the hardware for servers, 4 % for whole systems."""
    for cid, chip in chips.items():
        if not chip.purchasable:
            continue
        comps = chip.price_components_usd
        hardware = comps["accelerators"] + comps["host_platform"] + comps["scaleout_network"]
        rate = 0.04 if cid in WHOLE_SYSTEMS else 0.07
        assert comps["integration_support"] == pytest.approx(rate * hardware, abs=1.0), cid
    eight_way = {cid: chips[cid].price_components_usd["host_platform"] for cid in
                 ("a100_80gb_sxm", "h100_sxm", "h200_sxm", "b200", "b300", "mi300x", "mi325x", "mi355x", "gaudi2", "gaudi3")}
    assert len(set(eight_way.values())) == 1, f"8-way SXM/OAM hosts must share one default: {eight_way}"


def test_popular_gpus_can_be_leased_or_bought(chips):
    for cid in ("h100_sxm", "h200_sxm", "b200", "mi300x"):
        chip = chips[cid]
        assert chip.purchasable and chip.lease is not None, f"{cid}: needs both a system price and a lease default"
    h100 = chips["h100_sxm"].lease
    assert 1.5 <= h100.usd_per_chip_hour <= 3.5, "H100 neocloud lease 2025-26 is ~2-3 USD/GPU-h"


def test_lease_prices_recover_the_reference_chip_hour_prices(chips):
    """The reference data gives TPU prices per chip-hour; the lease carries them unchanged."""
    for cid, row in CHIP_ROWS.items():
        if row["price_basis"].upper().startswith("CLOUD") and _num(row["price_usd_low"]) is not None:
            assert chips[cid].lease.usd_per_chip_hour == pytest.approx(float(row["price_usd_low"])), cid


def test_unit_prices_against_public_anchors(chips):
    """Order-of-magnitude anchors from public reports (not the catalog's own figures): an HGX H100 server
    ~270-330k USD incl. its fabric share; a GB200 NVL72 rack ~3M USD+."""
    assert 250_000 <= chips["h100_sxm"].price_usd_per_server <= 350_000
    assert 3_000_000 <= chips["gb200"].price_usd_per_server <= 4_000_000


def test_sram_only_chips_are_marked_sram(chips):
    sram_rows = {cid for cid, row in CHIP_ROWS.items() if "sram" in row["memory_type"].lower()}
    assert {"groq_lpu_v1", "cerebras_wse3"} <= sram_rows
    marked = {cid for cid, chip in chips.items() if chip.memory_kind == "sram"}
    assert sram_rows <= marked, f"SRAM-only chips not marked memory_kind sram: {sorted(sram_rows - marked)}"
    assert marked <= sram_rows, f"memory_kind sram on chips with external DRAM: {sorted(marked - sram_rows)}"


def test_planning_unit_exceptions(chips):
    gb200 = chips["gb200"]
    assert gb200.server.kind == "rack_scale" and gb200.server.chips_per_server == gb200.scaleup.domain_size_chips == 72
    assert 110_000 <= gb200.server_power_w <= 140_000, "an NVL72 rack draws ~120-132 kW"
    cs3 = chips["cerebras_wse3"]
    assert cs3.server.chips_per_server == 1 and cs3.server.overhead_power_w == 0
    assert "card" in chips["tt_wormhole_n300"].unit_note.lower()


# ------------------------------------------------------------------------------------------------ models


def expected_kv_bytes(m: ModelSpec) -> int:
    if m.attention == "MLA":
        assert m.mla is not None
        return m.n_layers * (m.mla.kv_lora_rank + m.mla.rope_head_dim) * 2
    return 2 * m.n_layers * m.n_kv_heads * m.head_dim * 2


def test_every_reference_model_is_in_the_catalog(models):
    missing = sorted(set(MODEL_ROWS) - set(models))
    assert not missing, f"models.csv keys missing from models.yaml: {missing}"


@pytest.mark.parametrize("model_key", sorted(MODEL_ROWS))
def test_model_figures_match_reference(models, model_key):
    m, row = models[model_key], MODEL_ROWS[model_key]
    assert m.hf_repo == row["hf_repo"]
    for field, column in [("params_total_b", "params_total_b"), ("params_active_b", "params_active_b")]:
        assert _close(getattr(m, field), float(row[column])), f"{model_key}.{field} = {getattr(m, field)}, reference {row[column]}"
    integer_columns = {
        "n_layers": "n_layers", "d_model": "d_model", "n_heads": "n_heads", "n_kv_heads": "n_kv_heads",
        "head_dim": "head_dim", "d_ff": "d_ff", "vocab_size": "vocab_size", "max_context_tokens": "max_context",
        "kv_bytes_per_token_bf16": "kv_bytes_per_token_bf16",
    }
    assert _num(row["n_layers"]) is not None
    for field, column in integer_columns.items():
        ref = _num(row[column])
        if ref is not None:  # descriptive cells (e.g. DeepSeek's 'MLA (latent)') are checked elsewhere
            assert getattr(m, field) == int(ref), f"{model_key}.{field} = {getattr(m, field)}, reference {column} = {row[column]}"
    for field, column in [("head_dim", "head_dim"), ("d_ff", "d_ff")]:
        ref = _lead_int(row[column])  # DeepSeek: '128 nope + 64 rope', '18432 dense (first 3 layers); ...'
        assert ref is not None and getattr(m, field) == ref, f"{model_key}.{field} = {getattr(m, field)}, reference {row[column]!r}"
    experts, active = _lead_int(row["moe_experts"]), _lead_int(row["moe_active_experts"])
    if experts is not None:  # '256 routed + 1 shared' -> 256 routed experts
        assert m.moe is not None and m.moe.experts == experts and m.moe.active_experts == active, f"{model_key}: moe {m.moe}"
    assert m.attention == _reference_attention(row["attention"]), f"{model_key}: attention {m.attention} vs {row['attention']!r}"


def _reference_attention(cell: str) -> str:
    """'MHA, RoPE' -> MHA; 'GQA (8 KV heads), ...' -> GQA; 'Multi-head Latent Attention: ...' -> MLA."""
    text = cell.strip().upper()
    if text.startswith("MULTI-HEAD LATENT") or text.startswith("MLA"):
        return "MLA"
    return re.split(r"[\s,(]", text, maxsplit=1)[0]


@pytest.mark.parametrize("model_key", sorted(MODEL_ROWS))
def test_moe_presence_follows_reference(models, model_key):
    m, row = models[model_key], MODEL_ROWS[model_key]
    assert (m.moe is not None) == bool(row["moe_experts"].strip()), f"{model_key}: moe block vs moe_experts {row['moe_experts']!r}"


def test_kv_bytes_follow_the_formula(models):
    wrong = {k: (m.kv_bytes_per_token_bf16, expected_kv_bytes(m)) for k, m in models.items()
             if m.kv_bytes_per_token_bf16 != expected_kv_bytes(m)}
    assert not wrong, f"kv_bytes_per_token_bf16 (catalog, formula): {wrong}"


def test_deepseek_mla_kv_bytes():
    """The reference's MLA figure is 61 layers x (512 latent + 64 RoPE) x 2 bytes."""
    row = MODEL_ROWS["deepseek-r1"]
    assert int(row["kv_bytes_per_token_bf16"]) == int(row["n_layers"]) * (512 + 64) * 2


def test_catalog_adds_current_open_models(models):
    extra = set(models) - set(MODEL_ROWS)
    assert len(extra) >= 3, f"expected at least three models beyond the reference data, got {sorted(extra)}"
    for key in extra:
        assert models[key].hf_repo, f"{key}: added models must name their Hugging Face repo"


def test_every_numeric_model_field_is_sourced(models):
    problems = []
    for key, m in models.items():
        fields = covered_fields(m)
        problems += [f"{key}.{path}" for path in numeric_paths(m) if path not in fields]
        problems += [f"{key}: SourceRef names unknown field {f}" for f in fields if f not in numeric_paths(m)]
    assert not problems, problems


# ------------------------------------------------------------------------------------ 2027-28 buying window
NEW_CHIPS = ("b300", "gb300", "mi355x", "tpu_v7", "trainium3", "vera_rubin_nvl144")


def test_catalog_covers_the_2027_28_buying_window(chips):
    missing = [cid for cid in NEW_CHIPS if cid not in chips]
    assert not missing, f"chips for the 2027-28 buying window missing: {missing}"
    assert not chips["tpu_v7"].purchasable and not chips["trainium3"].purchasable
    for cid in ("b300", "gb300", "mi355x", "vera_rubin_nvl144"):
        assert chips[cid].purchasable and chips[cid].price_kind == "estimate", cid
    rubin = chips["vera_rubin_nvl144"]
    assert rubin.lead_time_quarters >= 3, "Rubin does not ship before 2026H2: an early-2027 order is not usable for a year"
    assert rubin.server.kind == "rack_scale" and rubin.server.chips_per_server == rubin.scaleup.domain_size_chips == 72
    gb300 = chips["gb300"]
    assert gb300.server.kind == "rack_scale" and 110_000 <= gb300.server_power_w <= 140_000


@pytest.mark.parametrize("chip_id", NEW_CHIPS)
def test_new_chips_run_through_the_performance_model(chip_id, capsys):
    import argparse
    import json

    from planner.perf.cli import add_perf_parser

    ap = argparse.ArgumentParser(prog="planner")
    add_perf_parser(ap.add_subparsers())
    args = ap.parse_args(["perf", "--model", "llama-3.1-70b", "--chip", chip_id, "--chips", "8", "--precision", "fp8",
                          "--prompt-tokens", "1000", "--output-tokens", "1000", "--json"])
    assert args.func(args) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["fits"] is True and d["throughput_tokens_per_s"] > 0 and d["power_w"] > 0
