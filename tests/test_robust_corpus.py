"""A corpus of named bad inputs (`tests/bad_inputs/<case>/`), each refused with exit 2 and a located message.

`_base/` is a frozen copy of the bundled example (scenario.yaml, workloads.csv, sites.yaml; the catalogs come
from `inputs/catalog/`). Each case folder holds only the files it replaces (same relative names, e.g.
`workloads.csv`, `catalog/chips.yaml`) plus `expect.txt`:

    # what the case is
    exit: 2
    problem: (workloads.csv, row 3, ttft_ms) | Input should be greater than 0

Every `problem:` fragment must appear in one line of the report. A few cases are odd but valid (exit 0).
Cases that need file-system objects git cannot hold (a pipe, an unreadable file) are tests at the bottom.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from tests.conftest import INPUTS, run_cli

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
BASE = CORPUS / "_base"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_"))
PROBLEM_LINE = re.compile(r"^  - \(.+?\) \| .+$")


def assemble(case: str | None, dest: Path) -> Path:
    """`_base` + bundled catalogs + the case's files in `dest`; returns the scenario path."""
    shutil.copytree(BASE, dest)
    shutil.copytree(INPUTS / "catalog", dest / "catalog")
    if case is not None:
        for src in (CORPUS / case).rglob("*"):
            if src.is_file() and src.name != "expect.txt":
                target = dest / src.relative_to(CORPUS / case)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
    return dest / "scenario.yaml"


def read_expect(case: str) -> tuple[int, list[str]]:
    code, problems = None, []
    for line in (CORPUS / case / "expect.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("exit:"):
            code = int(line.split(":", 1)[1])
        elif line.startswith("problem:"):
            problems.append(line.split(":", 1)[1].strip())
    assert code is not None, f"{case}/expect.txt has no exit: line"
    return code, problems


def check_report(code: int, err: str) -> list[str]:
    """No traceback; on exit 2 a count line and one `  - (file, locator) | message` line per problem."""
    assert "Traceback" not in err and "internal error" not in err, err
    if code != 2:
        return []
    lines = err.rstrip("\n").splitlines()
    assert re.match(r"^\d+ problems? in the input( \(the first \d+ of each file shown\))?:$", lines[0]), err
    bad = [line for line in lines[1:] if not PROBLEM_LINE.match(line)]
    assert not bad, f"problem lines not in the `  - (file, locator) | message` form: {bad[:3]}"
    assert int(lines[0].split()[0]) == len(lines) - 1 or "shown" in lines[0]
    return lines[1:]


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30
    for case in CASES:
        assert (CORPUS / case / "expect.txt").is_file(), case


def test_base_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["validate", str(assemble(None, tmp_path / "sc"))], capsys)
    assert code == 0, err
    assert "Scenario 'example': valid." in out


@pytest.mark.parametrize("case", CASES)
def test_bad_input_case(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected_code, fragments = read_expect(case)
    scenario = assemble(case, tmp_path / "sc")
    code, out, err = run_cli(["validate", str(scenario)], capsys)
    assert code == expected_code, f"{case}: exit {code}, expected {expected_code}\n{out}\n{err}"
    problems = check_report(code, err)
    for fragment in fragments:
        parts = fragment.split("...") if fragment != "..." else [fragment]
        hits = [p for p in problems if all(part in p for part in parts)]
        assert hits, f"{case}: no problem line containing {fragment!r} in:\n{err}"
    assert all(len(p) < 2_000 for p in problems), "a problem line should stay readable"


# ---------------------------------------------------------------- file-system cases git cannot store


def test_pipe_as_input_is_refused_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Opening a FIFO for reading blocks until a writer appears: it must be refused before it is opened."""
    scenario = assemble(None, tmp_path / "sc")
    os.mkfifo(tmp_path / "sc" / "pipe.csv")
    text = scenario.read_text().replace("workloads: workloads.csv", "workloads: pipe.csv")
    scenario.write_text(text)
    code, _, err = run_cli(["validate", str(scenario)], capsys)
    assert code == 2
    assert "(pipe.csv) | " in err and "not a regular file" in err


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = assemble(None, tmp_path / "sc")
    sites = tmp_path / "sc" / "sites.yaml"
    if os.geteuid() != 0:
        sites.chmod(0)
    else:  # root reads anything: make the open fail the way a permission error would
        real_open = Path.open

        def deny(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self.name == "sites.yaml":
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", deny)
    try:
        code, _, err = run_cli(["validate", str(scenario)], capsys)
    finally:
        sites.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert code == 2
    assert "(sites.yaml) | cannot read" in err and "Permission denied" in err


def test_symlink_loop_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    code, _, err = run_cli(["validate", str(loop)], capsys)
    assert code == 2, err
    check_report(code, err)
    assert "(loop.yaml)" in err


def test_scenario_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["validate", str(tmp_path)], capsys)
    assert code == 2
    check_report(code, err)
    assert "is a directory, expected a file" in err


def test_every_problem_found_across_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three corpus cases overlaid at once: one report lists all of their problems."""
    scenario = assemble("csv_zero_ttft", tmp_path / "sc")
    for case in ("sites_cooling_water", "scenario_negative_budget"):
        for src in (CORPUS / case).glob("*.yaml"):
            shutil.copyfile(src, tmp_path / "sc" / src.name)
    code, _, err = run_cli(["validate", str(scenario)], capsys)
    assert code == 2
    problems = "\n".join(check_report(code, err))
    # the sites file fails on its own, so cross-file checks that need it are skipped; the others all report
    assert "sites[0].rack_types[0].cooling" in problems
    assert "policy.capex_budget_usd_total" in problems
    assert "row 8, ttft_ms" in problems
