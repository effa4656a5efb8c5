"""Issue #24, classes 1 and 2 plus special files: generated from the schemas themselves, not listed by hand.

* every numeric field of every input schema (scenario, sites, chips, models, workload CSV columns) is fed a
  boolean, a quoted number, 1e308 and -1e308 (and 1e30 on whole-number fields): `planner validate` must end
  with exit 2 and a problem located at that field;
* every numeric field declares a lower and an upper bound (the schema walk below checks it);
* every id-keyed mapping and id field gets whitespace-variant keys (`' h100_sxm'`, `'2027Q1 '`), alone and next to
  the clean spelling: exit 2, located, naming both spellings where two fold into one;
* every file argument of every subcommand is given a FIFO, a link to /dev/zero and a directory, in a
  subprocess with a timeout: exit 2 and a located message, never a hang.
"""

from __future__ import annotations

import copy
import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from planner.schemas.chips import ChipCatalog
from planner.schemas.common import StrictModel, _kinds
from planner.schemas.models import ModelCatalog
from planner.schemas.scenario import Scenario
from planner.schemas.sites import SitesFile
from planner.schemas.workloads import WorkloadRow
from tests.conftest import INPUTS, REPO, run_cli
from tests.test_robust_corpus import check_report

EXAMPLE = INPUTS / "scenarios" / "example.yaml"
SCENARIO = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
# mappings the example leaves empty are filled, so their keys and numeric fields are generated too
SCENARIO["chip_terms"] = {"h100_sxm": {"discount_fraction": 0.05, "lead_time_quarters": 1}}
SCENARIO["vendors"] = {"NVIDIA": {"discount_fraction": 0.02}}
SCENARIO["policy"]["capex_budget_usd_by_quarter"] = {SCENARIO["horizon"]["first_quarter"]: 60_000_000}
SITES = yaml.safe_load((EXAMPLE.parent / "example" / "sites.yaml").read_text(encoding="utf-8"))
CSV_TEXT = (EXAMPLE.parent / "example" / "workloads.csv").read_text(encoding="utf-8")
CHIPS = yaml.safe_load((INPUTS / "catalog" / "chips.yaml").read_text(encoding="utf-8"))
MODELS = yaml.safe_load((INPUTS / "catalog" / "models.yaml").read_text(encoding="utf-8"))
FILES = {"scenario.yaml": (Scenario, SCENARIO), "sites.yaml": (SitesFile, SITES),
         "chips.yaml": (ChipCatalog, CHIPS), "models.yaml": (ModelCatalog, MODELS)}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    import typing

    out: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    for arg in typing.get_args(annotation):
        out += _models_in(arg)
    return out


def numeric_paths(model: type[BaseModel], data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], bool, type[BaseModel]]]:
    """(path, is_integer, owning model) of every numeric field reachable in `data` (present or settable)."""
    import typing

    if not isinstance(data, dict):
        return
    for name, field in model.model_fields.items():
        kinds = _kinds(field.annotation)
        if "number" in kinds and "bool" not in kinds and "dict" not in kinds:
            args = {field.annotation, *typing.get_args(field.annotation)}
            yield (*path, name), int in args and float not in args, model
        sub = data.get(name)
        for m in _models_in(field.annotation):
            if isinstance(sub, dict) and typing.get_origin(field.annotation) is dict:
                first = next(iter(sub), None)
                if first is not None:
                    yield from numeric_paths(m, sub[first], (*path, name, first))
            elif isinstance(sub, dict):
                yield from numeric_paths(m, sub, (*path, name))
            elif isinstance(sub, list) and sub and isinstance(sub[0], dict):
                yield from numeric_paths(m, sub[0], (*path, name, 0))


def _loc(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    data = copy.deepcopy(data)
    node = data
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return data


def _write_case(dest: Path, files: dict[str, Any], csv_text: str = CSV_TEXT) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    scenario = copy.deepcopy(files.get("scenario.yaml", SCENARIO))
    scenario["inputs"] = {**scenario["inputs"], "chips": "chips.yaml", "models": "models.yaml",
                          "workloads": "workloads.csv", "sites": "sites.yaml"}
    for name, default in (("sites.yaml", SITES), ("chips.yaml", CHIPS), ("models.yaml", MODELS)):
        (dest / name).write_text(yaml.safe_dump(files.get(name, default), sort_keys=False), encoding="utf-8")
    (dest / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    (dest / "workloads.csv").write_text(csv_text, encoding="utf-8")
    return dest / "scenario.yaml"


BAD_VALUES: dict[str, Any] = {"true": True, "false": False, "quoted": "1", "huge": 1e308, "minus_huge": -1e308}

# every field gets `true` and 1e308; the other bad values rotate over the fields (to keep the run short)
CASES = []
_ROTATE = ("false", "quoted", "minus_huge")
_i = 0
for _file, (_model, _data) in FILES.items():
    for _path, _is_int, _owner in numeric_paths(_model, _data):
        _kinds_here = ["true", "huge", _ROTATE[_i % len(_ROTATE)]] + (["count_1e30"] if _is_int else [])
        _i += 1
        for _kind in _kinds_here:
            _value = {**BAD_VALUES, "count_1e30": 1e30}[_kind]
            CASES.append(pytest.param(_file, _path, _value, id=f"{_file}:{_loc(_path)}={_kind}"))


def test_the_generated_base_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["validate", str(_write_case(tmp_path, {}))], capsys)
    assert code == 0, err


def test_enough_cases() -> None:
    """The walk reaches every schema: the count fails if a schema stops being walked."""
    files = {p.values[0] for p in CASES}
    assert files == set(FILES) and len(CASES) >= 250, len(CASES)


@pytest.mark.parametrize(("file", "path", "value"), CASES)
def test_numeric_field_rejects(file: str, path: tuple[Any, ...], value: Any, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _, data = FILES[file]
    scenario = _write_case(tmp_path, {file: _set(data, path, value)})
    code, _, err = run_cli(["validate", str(scenario)], capsys)
    assert code == 2, f"{file} {_loc(path)}={value!r}: exit {code}\n{err}"
    lines = check_report(code, err)
    want = f"({file}, {_loc(path)}"

    def located(line: str) -> bool:  # a union field's error names its branch: `price.SystemPrice.components[0].usd`
        return line.startswith(f"  - ({file}, ") and all(str(p) in line.split(" | ")[0] for p in path)

    assert any(located(line) for line in lines), f"no problem at {want}:\n{err}"
    if isinstance(value, float) and abs(value) >= 1e30:
        assert any(("at most" in line or "at least" in line or "greater than" in line or "less than" in line)
                   and located(line)
                   for line in lines), err


CSV_NUMERIC = [name for name, f in WorkloadRow.model_fields.items()
               if "number" in _kinds(f.annotation)]


@pytest.mark.parametrize("value", ["true", "1e308", "-1e308"])
@pytest.mark.parametrize("column", CSV_NUMERIC)
def test_csv_numeric_column_rejects(column: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = list(csv.reader(io.StringIO(CSV_TEXT)))
    col = rows[0].index(column) if column in rows[0] else None
    if col is None:
        rows[0].append(column)
        for r in rows[1:]:
            r.append("")
        col = len(rows[0]) - 1
    rows[1][col] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    code, _, err = run_cli(["validate", str(_write_case(tmp_path, {}, buf.getvalue()))], capsys)
    assert code == 2, err
    assert any(line.startswith(f"  - (workloads.csv, row 2, {column})") for line in check_report(code, err)), err


def test_every_numeric_field_is_bounded() -> None:
    """Every numeric field of every input schema has a lower and an upper limit (dict values included)."""
    import typing

    missing = []
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [Scenario, SitesFile, ChipCatalog, ModelCatalog, WorkloadRow]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            todo += _models_in(field.annotation)
            kinds = _kinds(field.annotation)
            if "number" not in kinds or "bool" in kinds:
                continue
            metadata = list(field.metadata)
            if "dict" in kinds:  # the bounds sit on the value type
                value_type = typing.get_args(field.annotation)[1]
                metadata = [m for a in typing.get_args(value_type)[1:] for m in getattr(a, "metadata", [a])]
            upper = any(getattr(m, "le", None) is not None or getattr(m, "lt", None) is not None for m in metadata)
            lower = any(getattr(m, "ge", None) is not None or getattr(m, "gt", None) is not None for m in metadata)
            if not (upper and lower):
                missing.append(f"{model.__name__}.{name}")
    assert issubclass(Scenario, StrictModel) and len(seen) >= 15
    assert not missing, f"numeric fields without both bounds: {missing}"


# ---------------------------------------------------------------- whitespace in keys and ids

def _key_cases() -> Iterator[Any]:
    for where in ("chip_terms", "vendors", "policy.capex_budget_usd_by_quarter"):
        for pad in (" {}", "{} ", "\t{}"):
            for twin in (True, False):
                yield pytest.param("scenario.yaml", where, pad, twin, id=f"{where}:{pad!r}:{'twin' if twin else 'alone'}")
    for file, where in (("sites.yaml", "sites.0.site_id"), ("sites.yaml", "sites.0.rack_types.0.rack_type_id"),
                        ("chips.yaml", "chips.0.chip_id"), ("models.yaml", "models.0.model_id"),
                        ("scenario.yaml", "horizon.first_quarter"), ("scenario.yaml", "name")):
        for pad in (" {}", "{} "):
            yield pytest.param(file, where, pad, False, id=f"{file}:{where}:{pad!r}")


@pytest.mark.parametrize(("file", "where", "pad", "twin"), list(_key_cases()))
def test_whitespace_keys_and_ids(file: str, where: str, pad: str, twin: bool, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    data = copy.deepcopy(FILES[file][1])
    parts = [int(p) if p.isdigit() else p for p in where.split(".")]
    node = data
    for p in parts[:-1]:
        node = node[p]
    last = parts[-1]
    if isinstance(node[last], dict):  # a mapping: pad its first key
        mapping = node[last]
        key = next(iter(mapping))
        padded = pad.format(key)
        mapping[padded] = copy.deepcopy(mapping[key])
        if not twin:
            del mapping[key]
        locator, spellings = _loc(tuple(parts)), [repr(padded)] + ([repr(key)] if twin else [])
    else:  # an id or quarter value
        padded = pad.format(node[last])
        node[last] = padded
        locator, spellings = _loc(tuple(parts)), [repr(padded)]
    code, _, err = run_cli(["validate", str(_write_case(tmp_path, {file: data}))], capsys)
    assert code == 2, err
    hits = [line for line in check_report(code, err) if line.startswith(f"  - ({file}, {locator}")]
    assert hits and all(s in hits[0] for s in spellings), f"{locator}: {spellings} not named:\n{err}"


# ---------------------------------------------------------------- special files, in subprocesses with a timeout

SPECIALS = ("fifo", "dev_zero_link", "directory")
TIMEOUT_S = 60


def _special(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero_link":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()


def _commands(tmp: Path, kind: str) -> dict[str, list[str]]:
    """Every file argument of every subcommand, given `kind` instead of a file (the rest stays valid)."""
    scenario = _write_case(tmp / "base", {})
    special = tmp / "special.x"
    _special(special, kind)
    run = tmp / "run"
    run.mkdir()
    _special(run / "plan.json", kind)

    def with_input(role: str) -> str:
        d = tmp / f"in_{role}"
        data = copy.deepcopy(SCENARIO)
        data["inputs"] = {**data["inputs"]}
        p = _write_case(d, {})
        data = yaml.safe_load(p.read_text())
        if role == "extends":
            data["extends"] = str(special)
        elif role == "measurements":
            data["inputs"]["measurements"] = [str(special)]
        else:
            data["inputs"][role] = str(special)
        p.write_text(yaml.safe_dump(data, sort_keys=False))
        return str(p)

    out = str(tmp / "out")
    cmds = {
        "validate scenario": ["validate", str(special)],
        "plan scenario": ["plan", str(special), "--out", out + "1"],
        "compare scenario": ["compare", str(special), str(scenario), "--out", out + "2", "--cache-dir", str(tmp / "c")],
        "sweep scenario": ["sweep", str(special), "--param", "policy.headroom_fraction=0,0.1", "--out", out + "3"],
        "report plan.json": ["report", str(run)],
        "topology --purchases": ["topology", str(scenario), "--purchases", str(special), "--out", out + "4"],
        "topology --plan": ["topology", str(scenario), "--plan", str(special), "--out", out + "5"],
        "topology scenario": ["topology", str(special), "--out", out + "6"],
        "replan --from": ["replan", str(scenario), "--from", str(special), "--commit-through",
                          SCENARIO["horizon"]["first_quarter"], "--out", out + "7"],
        "replan scenario": ["replan", str(special), "--from", str(special), "--commit-through",
                            SCENARIO["horizon"]["first_quarter"], "--out", out + "8"],
    }
    for role in ("chips", "models", "workloads", "sites", "calibration", "measurements", "extends"):
        cmds[f"validate inputs.{role}"] = ["validate", with_input(role)]
    return cmds


# One child process per kind runs every command in turn, in-process, each under its own SIGALRM timeout: a command
# that blocks (a FIFO opened for reading, /dev/zero read to the end) is interrupted and reported as a hang, and the
# child costs one interpreter start instead of one per command (17 starts per kind made the test the suite's
# slowest and, on a loaded machine, made commands time out that were only waiting for a core).
_RUNNER = r"""
import contextlib, io, json, signal, sys
from planner.cli import main

class Hang(BaseException):  # not an Exception: the CLI's catch-all must not swallow it as an internal error
    pass

def on_alarm(*_):
    raise Hang()

signal.signal(signal.SIGALRM, on_alarm)
cmds, timeout, results = json.loads(sys.argv[1]), int(sys.argv[2]), {}
for name, args in cmds.items():
    err = io.StringIO()
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as exc:
                code = exc.code
    except Hang:
        code = "hang"
    finally:
        signal.alarm(0)
    results[name] = [code, err.getvalue()[-2000:]]
print(json.dumps(results))
"""


@pytest.mark.parametrize("kind", SPECIALS)
def test_special_files_for_every_file_argument(kind: str, tmp_path: Path) -> None:
    import json

    cmds = _commands(tmp_path, kind)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(cmds), str(TIMEOUT_S)], cwd=tmp_path, env=env,
                          text=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT_S * (len(cmds) + 1))
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(results) == set(cmds)
    failures = []
    for name, (code, err) in results.items():
        if code == "hang":
            failures.append(f"{name}: still running after {TIMEOUT_S} s (hang)")
        elif code != 2 or "Traceback" in err or " | " not in err or "special.x" not in err and "plan.json" not in err:
            failures.append(f"{name}: exit {code}\n{err[-600:]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("text", "number"), [("1e15", 1e15), ("1.0e15", 1e15), ("-2.5E-3", -2.5e-3), (".5e3", 500.0),
                                              ("1.0e+15", 1e15)])
def test_exponent_numbers_are_numbers(text: str, number: float, tmp_path: Path) -> None:
    """YAML 1.1 (PyYAML) reads `1e15` as a string; the planner's reader, `--set` and `sweep --param` read it as the
    number a user means, so it meets the field's bound check, not a "quoted number" refusal."""
    from planner.io.safe_yaml import load_yaml, parse_scalar
    from planner.sweep.params import parse_param

    f = tmp_path / "x.yaml"
    f.write_text(f"price_usd: {text}\nid: 2027Q1\nword: e5\n", encoding="utf-8")
    data, problems = load_yaml(f, "x.yaml")
    assert not problems and data == {"price_usd": number, "id": "2027Q1", "word": "e5"}
    assert parse_scalar(text) == number
    assert parse_param(f"policy.headroom_fraction={text},0").values == (number, 0)


NEGATIVE_ZERO = [pytest.param(f, path, id=f"{f}:{_loc(path)}") for f, (m, d) in FILES.items()
                 for path, is_int, _ in numeric_paths(m, d) if not is_int]


@pytest.mark.parametrize(("file", "path"), NEGATIVE_ZERO)
def test_negative_zero_is_read_as_zero(file: str, path: tuple[Any, ...]) -> None:
    # YAML `-0.0` in a field that admits 0 (a budget, a fraction) was kept as -0.0 and shown as "$-0" / "-0 %".
    import math

    from pydantic import ValidationError

    model, data = FILES[file]
    try:
        parsed = model.model_validate(_set(data, path, -0.0)).model_dump()
    except ValidationError:
        return  # the field needs more than 0: refused, located (test_numeric_field_rejects covers how)
    node: Any = parsed
    for p in path:
        node = node[p]
    assert node == 0 and math.copysign(1.0, node) == 1.0, f"{file} {_loc(path)} kept {node!r}"


def test_usd_rounded_to_zero_has_no_minus_sign() -> None:
    from planner.results.units import fmt_usd

    assert [fmt_usd(x) for x in (-0.0, -0.004, -0.6, -1.0)] == ["$0", "$0", "-$1", "-$1"]
    assert fmt_usd(-0.004, 2) == "$0.00" and fmt_usd(-0.006, 2) == "-$0.01"


SUBNORMAL = [pytest.param(f, path, v, id=f"{f}:{_loc(path)}={v:g}") for f, (m, d) in FILES.items()
             for path, is_int, _ in numeric_paths(m, d) if not is_int for v in (1e-320, -5e-324, 1e-31)]


@pytest.mark.parametrize(("file", "path", "value"), SUBNORMAL)
def test_a_number_too_small_to_mean_anything_is_refused(file: str, path: tuple[Any, ...], value: float) -> None:
    # memory_gb: 1e-320 passed `gt=0` and `planner perf` crashed (OverflowError, exit 1) on its reciprocal.
    from pydantic import ValidationError

    model, data = FILES[file]
    with pytest.raises(ValidationError) as info:
        model.model_validate(_set(data, path, value))
    assert any(tuple(e["loc"][: len(path)]) == path or all(str(p) in str(e["loc"]) for p in path)
               for e in info.value.errors()), info.value.errors()


@pytest.mark.parametrize("column", CSV_NUMERIC)
def test_a_csv_number_too_small_to_mean_anything_is_refused(column: str) -> None:
    from pydantic import ValidationError

    row = next(csv.DictReader(io.StringIO(CSV_TEXT)))
    row = {k: v for k, v in row.items() if v != ""}
    with pytest.raises(ValidationError) as info:
        WorkloadRow.model_validate({**row, column: "1e-320"})
    assert [e["loc"][0] for e in info.value.errors()] == [column]
