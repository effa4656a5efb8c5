"""Command-line arguments that cannot mean what they say are refused before any work (issue #24, attack of
this landing): an empty argument (`--out "$UNSET"` used to plan into `outputs/` or the current folder), a file or
folder argument with whitespace around it (`--out ' runs'` created a folder named ` runs`), `topology --quarter`
without `--plan` (ignored), `topology --out` a folder of files the planner did not write (overwritten), a sweep
path given twice or also fixed by `--set` (one value silently replaced the other in every point), and `compare
--cache-dir` inside `--out` (lost when the comparison replaced the folder).

The flag cases are generated from the parser: every subcommand's every argument that names a file or folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from planner.cli import build_parser
from planner.errors import InputError
from planner.io.cli_flags import DISTINCT_LISTS, INPUT_ARGUMENTS, PATH_ARGUMENTS
from planner.sweep import folder
from planner.sweep.params import parse_params
from tests.conftest import EXAMPLE, run_cli

EX = str(EXAMPLE)
BASE = {
    "validate": ["validate", EX],
    "perf": ["perf", "--model", "llama3-70b", "--chip", "h100_sxm", "--chips", "8", "--precision", "fp8",
             "--prompt-tokens", "100", "--output-tokens", "100"],
    "topology": ["topology", EX, "--out", "OUT"],
    "plan": ["plan", EX, "--out", "OUT"],
    "report": ["report", "OUT"],
    "compare": ["compare", EX, "--out", "OUT"],
    "sweep": ["sweep", EX, "--param", "policy.headroom_fraction=0,0.1", "--out", "OUT"],
    "breakeven": ["breakeven", EX, "--chip", "b200"],
    "replan": ["replan", EX, "--from", "x/plan.json", "--commit-through", "2027Q2", "--out", "OUT"],
    "catalog list": ["catalog", "list"],
    "catalog show": ["catalog", "show", "h100_sxm"],
}


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix} {name}".strip()
                nested = _subparsers(sub, full)
                out |= nested or {full: sub}
    return out


SUBS = _subparsers(build_parser())
PATH_ACTIONS = [(name, action) for name, sub in SUBS.items() for action in sub._actions
                if action.dest in PATH_ARGUMENTS]


def test_every_subcommand_has_a_base_command_line_and_every_path_argument_is_known() -> None:
    assert set(SUBS) == set(BASE)
    for name, sub in SUBS.items():
        for action in sub._actions:
            if action.type is Path or (action.metavar or "") in ("FILE", "DIR", "CSV", "PLAN_JSON"):
                assert action.dest in PATH_ARGUMENTS, (name, action.dest)
    assert len(PATH_ACTIONS) >= 20


def _argv(name: str, action: argparse.Action, value: str, tmp: Path) -> list[str]:
    argv = [a.replace("OUT", str(tmp / "out")) for a in BASE[name]]
    skip = len(name.split())
    if not action.option_strings:  # the positional after the subcommand
        argv[skip] = value
        return argv
    flag = action.option_strings[0]
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    return argv


def _flag(action: argparse.Action) -> str:
    return action.option_strings[0] if action.option_strings else PATH_ARGUMENTS[action.dest]


CASES = [(name, action, value) for name, action in PATH_ACTIONS for value in ("", " x.yaml", "x.yaml ", "\tx", "x\n")]


@pytest.mark.parametrize(("name", "action", "value"), CASES,
                         ids=[f"{n}-{a.dest}-{v!r}" for n, a, v in CASES])
def test_an_empty_or_padded_path_argument_exits_2_located_before_any_work(
        name: str, action: argparse.Action, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(_argv(name, action, value, tmp_path), capsys)
    assert code == 2, err
    assert f"(command line, {_flag(action)}) | " in err, err
    assert ("is empty" if value == "" else "whitespace") in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("form", [["--out", ""], ["--out="]])
def test_an_empty_out_is_not_the_default_folder(form: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["plan", EX, *form], capsys)
    assert code == 2 and "(command line, --out) | is empty" in err, err
    assert list(tmp_path.iterdir()) == []


def test_topology_quarter_without_plan_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["topology", EX, "--out", str(tmp_path / "t"), "--quarter", "2027Q1"], capsys)
    assert code == 2 and "(command line, --quarter) | " in err and "--plan" in err, err
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("name", [*folder.TOPOLOGY.legacy, "notes.txt"])
def test_topology_never_writes_over_a_file_it_did_not_write(name: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / name).write_text("the user's")
    code, _, err = run_cli(["topology", EX, "--out", str(out)], capsys)
    assert code == 2 and "no .fleet-planner-topology marker" in err, err
    assert [p.name for p in out.iterdir()] == [name] and (out / name).read_text() == "the user's"


def test_a_folder_topology_wrote_is_rewritten_and_one_with_a_stranger_is_not(tmp_path: Path) -> None:
    out = tmp_path / "t"
    out.mkdir()
    (out / folder.TOPOLOGY.manifest).write_text(json.dumps({"kind": "topology", "files": list(folder.TOPOLOGY.legacy)}))
    for name in folder.TOPOLOGY.legacy:
        (out / name).write_text("earlier output")
    assert folder.check_target(out, folder.TOPOLOGY, "", True) is not None
    (out / "notes.txt").write_text("x")
    with pytest.raises(Exception, match="did not write"):
        folder.check_target(out, folder.TOPOLOGY, "", True)


def test_topology_marks_its_folder_and_can_draw_into_it_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t"
    for _ in range(2):
        code, _, err = run_cli(["topology", EX, "--out", str(out)], capsys)
        assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted([folder.TOPOLOGY.manifest, *folder.TOPOLOGY.legacy])


# --------------------------------------------------------------------------- sweep paths given twice

PATHS = ["policy.headroom_fraction", "chip_terms.b200.discount_fraction", "policy.allowed_chips"]
LISTS = ["policy.allowed_chips"]  # `+=` appends to a list only
CLASHES = [(a, b) for a in PATHS for b in (a, *([f"{a}+"] if a in LISTS else []))] + [("policy.depreciation", "policy.depreciation.salvage_fraction"),
                                                           ("policy.depreciation.salvage_fraction", "policy.depreciation")]


@pytest.mark.parametrize(("first", "second"), CLASHES)
def test_a_path_swept_twice_or_inside_another_is_refused(first: str, second: str) -> None:
    with pytest.raises(InputError) as info:
        parse_params([f"{first}=1,2", f"{second}=3"])
    assert [p.locator for p in info.value.problems] == [f"--param {second.rstrip('+')}"] or \
        [p.locator for p in info.value.problems] == [f"--param {second}"]
    assert "already swept" in str(info.value)


@pytest.mark.parametrize(("fixed", "swept"), CLASHES)
def test_a_path_swept_and_fixed_by_set_is_refused(fixed: str, swept: str) -> None:
    with pytest.raises(InputError) as info:
        parse_params([f"{swept}=1,2"], [fixed])
    assert "fixes the same value" in str(info.value)


def test_distinct_paths_sweep_together() -> None:
    params = parse_params([f"{p}=1,2" for p in PATHS], ["policy.capex_budget_usd_total"])
    assert [p.path for p in params] == PATHS


@pytest.mark.parametrize("inside", ["", "sub", "sub/deeper"])
def test_compare_cache_inside_out_is_refused_before_planning(inside: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    code, _, err = run_cli(["compare", EX, "--out", str(out), "--cache-dir", str(out / inside)], capsys)
    assert code == 2 and "(command line, --cache-dir) | " in err and "replaces whole" in err, err
    assert not out.exists()


# --------------------------------------------------------------------------- an input inside --out

INSIDE = [(name, action) for name, action in PATH_ACTIONS if action.dest in INPUT_ARGUMENTS
          and any("--out" in a.option_strings for a in SUBS[name]._actions)]


def test_the_inside_cases_cover_every_subcommand_with_out() -> None:
    assert {name for name, _ in INSIDE} >= {"plan", "replan", "compare", "sweep", "topology", "breakeven"}


@pytest.mark.parametrize(("name", "action"), INSIDE, ids=[f"{n}-{a.dest}" for n, a in INSIDE])
def test_an_input_inside_out_is_refused_and_left_alone(name: str, action: argparse.Action, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    kept = out / "plan.json"  # a planner-written name: the run-folder rule alone would let --force replace it
    kept.write_text("{}")
    argv = _argv(name, action, str(kept), tmp_path)
    if "--out" not in argv:
        argv += ["--out", str(out)]
    code, _, err = run_cli([*argv, *(["--force"] if "--force" in SUBS[name]._option_string_actions else [])], capsys)
    assert code == 2 and f"(command line, {_flag(action)}) | " in err and "is inside --out" in err, err
    assert [p.name for p in out.iterdir()] == ["plan.json"] and kept.read_text() == "{}"


# --------------------------------------------------------------------------- an item given twice

REPEATS = [(name, action, is_path) for name, sub in SUBS.items() for action in sub._actions
           for dest, _, is_path in DISTINCT_LISTS if action.dest == dest and (action.nargs in ("+", "*") or
                                                                              isinstance(action, argparse._AppendAction))]


def test_the_repeat_cases_cover_compare_breakeven_and_perf() -> None:
    assert {name for name, _, _ in REPEATS} >= {"compare", "breakeven", "perf"}


@pytest.mark.parametrize(("name", "action", "is_path"), REPEATS, ids=[f"{n}-{a.dest}" for n, a, _ in REPEATS])
@pytest.mark.parametrize("spelling", ["same", "another spelling"])
def test_an_item_given_twice_is_refused(name: str, action: argparse.Action, is_path: bool, spelling: str,
                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    item = str(EXAMPLE) if is_path else "b200"
    if spelling != "same" and not is_path:
        pytest.skip("ids have one spelling")
    twice = str(EXAMPLE.parent / ".." / "scenarios" / EXAMPLE.name) if spelling != "same" else item
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in BASE[name]]
    if action.option_strings:
        flag = action.option_strings[0]
        if flag in argv:
            i = argv.index(flag)
            del argv[i:i + 2]
        argv += [flag, item, flag, twice] if isinstance(action, argparse._AppendAction) else [flag, item, twice]
    else:
        argv[1:2] = [item, twice]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and f"(command line, {_flag(action)}) | " in err and "is given twice" in err, err


# A flag that takes one value given twice: argparse kept the last silently (`--out a --out b` wrote to b,
# `--requests 7 --requests 9` asked for 9, `--measurements a.csv --measurements b.csv` dropped a.csv). Every
# single-value flag of every subcommand, generated from the parser, in both spellings (`--flag v`, `--flag=v`).
SINGLE_ACTIONS = [(name, action) for name, sub in SUBS.items() for action in sub._actions
                  if type(action) is argparse._StoreAction and action.option_strings]


def test_single_value_flags_are_found() -> None:
    assert len(SINGLE_ACTIONS) >= 60
    assert {"--out", "--requests", "--measurements", "--time-limit"} <= {a.option_strings[-1] for _, a in SINGLE_ACTIONS}


@pytest.mark.parametrize(("name", "action"), SINGLE_ACTIONS,
                         ids=[f"{n}:{a.option_strings[-1]}" for n, a in SINGLE_ACTIONS])
def test_a_single_value_flag_given_twice_is_refused(name: str, action: argparse.Action) -> None:
    from planner.cli import _parser
    from planner.io.cli_flags import repeated_flags

    flag = max(action.option_strings, key=len)
    base = list(BASE[name])
    if flag in base:  # the base command line's own value of it
        del base[base.index(flag):base.index(flag) + 2]
    for twice in ([flag, "1", flag, "2"], [f"{flag}=1", flag, "2"]):
        argv = [*base, *twice]
        problems = repeated_flags(_parser(), argv)
        assert [(p.file, p.locator) for p in problems] == [("command line", flag)], argv
        assert "'1', then '2'" in problems[0].message
    assert repeated_flags(_parser(), [*base, flag, "1"]) == []


@pytest.mark.parametrize("argv", [
    ["plan", EX, "--out", "OUT", "--out", "OUT2"],
    [*BASE["perf"], "--requests", "7", "--requests", "9"],
    [*BASE["perf"], "--measurements", "a.csv", "--measurements", "b.csv"],
    [*BASE["catalog show"], "--catalog", "a.yaml", "--catalog", "b.yaml"],
    [*BASE["sweep"], "--work", "1", "--workers", "2"],  # an abbreviation is the same flag
])
def test_the_cli_refuses_a_repeated_flag_before_any_work(argv: list[str], capsys, tmp_path: Path) -> None:
    argv = [a.replace("OUT2", str(tmp_path / "out2")).replace("OUT", str(tmp_path / "out")) for a in argv]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "is given 2 times" in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


def test_repeatable_flags_and_switches_may_repeat() -> None:
    from planner.cli import _parser
    from planner.io.cli_flags import repeated_flags

    assert repeated_flags(_parser(), [*BASE["plan"], "--set", "a=1", "--set", "b=2", "--quiet", "--quiet"]) == []
    assert repeated_flags(_parser(), [*BASE["sweep"], "--param", "x=1,2"]) == []
    assert repeated_flags(_parser(), [*BASE["breakeven"], "--chip", "h100_sxm"]) == []
