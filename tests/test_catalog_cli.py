"""`planner catalog list | show CHIP`: one line per chip; every figure with its source and kind; exit 2 with a
did-you-mean for an unknown chip; `--catalog FILE` reads another catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from planner.catalog import load_chip_catalog, numeric_fields
from planner.cli import main

CHIPS = load_chip_catalog()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_list_has_one_line_per_chip_with_unit_price_and_lease(capsys):
    code, out, _ = run(["catalog", "list"], capsys)
    assert code == 0
    lines = {ln.split()[0]: ln for ln in out.splitlines()[2:] if ln.split() and ln.split()[0] in CHIPS}
    assert set(lines) == set(CHIPS), "one line per chip"
    h100 = CHIPS["h100_sxm"]
    assert f"{h100.price_usd_per_server:,.0f}" in lines["h100_sxm"] and "8-chip server" in lines["h100_sxm"]
    assert f"{h100.lease.usd_per_chip_hour:.2f}" in lines["h100_sxm"]
    assert "lease only" in lines["tpu_v6e"] and f"{CHIPS['tpu_v6e'].lease.usd_per_chip_hour:.2f}" in lines["tpu_v6e"]
    assert "72-chip rack" in lines["gb200"]


def test_list_json_matches_the_catalog(capsys):
    code, out, _ = run(["catalog", "list", "--json"], capsys)
    assert code == 0
    rows = {r["chip_id"]: r for r in json.loads(out)}
    assert set(rows) == set(CHIPS)
    for cid, chip in CHIPS.items():
        r = rows[cid]
        assert r["memory_gb"] == chip.memory_gb and r["tdp_w"] == chip.tdp_w
        if chip.purchasable:
            assert r["price_usd_per_unit"] == pytest.approx(chip.price_usd_per_server)
            assert r["price_usd_per_chip"] == pytest.approx(chip.price_usd_per_server / chip.server.chips_per_server)
            assert r["price_kind"] == chip.price_kind
        else:
            assert r["price_usd_per_unit"] is None and r["lease_usd_per_chip_hour"] == chip.lease.usd_per_chip_hour


@pytest.mark.parametrize("chip_id", ["h100_sxm", "gb200", "tpu_v7", "cerebras_wse3", "vera_rubin_nvl144"])
def test_show_prints_every_figure_with_its_source(chip_id, capsys):
    chip = CHIPS[chip_id]
    code, out, _ = run(["catalog", "show", chip_id], capsys)
    assert code == 0
    for path in numeric_fields(chip):
        assert f"  {path} " in out, f"{chip_id}: figure {path} not shown"
    for src in chip.sources:
        assert src.citation[:60] in out
    if chip.purchasable:
        for c in chip.price.components:
            assert c.component in out and f"{c.usd:,.0f}" in out and c.source[:60] in out
    else:
        assert "not purchasable (lease only)" in out
    if chip.lease:
        assert chip.lease.source[:60] in out and f"{chip.lease.usd_per_chip_hour:.2f} per chip-hour" in out


def test_show_json_gives_every_bundled_figure_a_source_and_kind(capsys):
    for chip_id in CHIPS:
        code, out, _ = run(["catalog", "show", chip_id, "--json"], capsys)
        assert code == 0
        doc = json.loads(out)
        unsourced = [f["field"] for f in doc["figures"] if f["kind"] == "unsourced"]
        assert not unsourced, f"{chip_id}: figures without a source: {unsourced}"
        assert {f["kind"] for f in doc["figures"]} <= {"published", "estimate"}
        if doc["price"] is not None:
            assert sum(c["usd"] for c in doc["price"]["components"]) == pytest.approx(doc["price"]["usd_per_unit"])
            assert all(c["source"] and c["kind"] in ("list", "reported", "estimate") for c in doc["price"]["components"])


def test_unknown_chip_exits_2_with_did_you_mean(capsys):
    code, out, err = run(["catalog", "show", "h100"], capsys)
    assert code == 2 and out == ""
    assert "unknown chip 'h100'" in err and "Did you mean" in err and "h100_sxm" in err
    code, _, err = run(["catalog", "show", "mi355"], capsys)
    assert code == 2 and "mi355x" in err
    code, _, err = run(["catalog", "show", "zzzz_nothing"], capsys)
    assert code == 2 and "Known chips:" in err


def _write_catalog(tmp_path: Path) -> Path:
    """A user catalog: the bundled H100 with a legacy single-figure price, and a lease-only TPU."""
    raw = yaml.safe_load((Path(__file__).resolve().parent.parent / "inputs" / "catalog" / "chips.yaml").read_text())
    by_id = {c["chip_id"]: c for c in raw["chips"]}
    h100 = dict(by_id["h100_sxm"], chip_id="my_h100", price={"usd": 300000, "basis": "per_server", "kind": "reported"})
    h100.pop("lease")
    tpu = dict(by_id["tpu_v6e"], chip_id="my_tpu")
    path = tmp_path / "chips.yaml"
    path.write_text(yaml.safe_dump({"chips": [h100, tpu]}, sort_keys=False))
    return path


def test_catalog_flag_reads_another_catalog(tmp_path, capsys):
    path = _write_catalog(tmp_path)
    code, out, _ = run(["catalog", "list", "--catalog", str(path)], capsys)
    assert code == 0 and "my_h100" in out and "my_tpu" in out and "h100_sxm" not in out and "2 chips." in out
    assert "300,000" in out and "37,500" in out
    code, out, _ = run(["catalog", "show", "my_h100", "--catalog", str(path)], capsys)
    assert code == 0 and "USD 300,000 per unit of 8 chips" in out and "Lease: no lease terms." in out
    code, _, err = run(["catalog", "show", "h100_sxm", "--catalog", str(path)], capsys)
    assert code == 2 and "my_h100" in err


def test_invalid_catalog_file_exits_2_with_located_problems(tmp_path, capsys):
    path = tmp_path / "chips.yaml"
    path.write_text("chips:\n- chip_id: x\n  vendor: V\n")
    code, out, err = run(["catalog", "list", "--catalog", str(path)], capsys)
    assert code == 2 and out == "" and "chips.yaml" in err and "chips[0]" in err
    code, _, err = run(["catalog", "list", "--catalog", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "file not found" in err
