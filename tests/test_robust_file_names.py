"""A file name written in an input is used as written, never trimmed (issue #24, leftover 3).

`file: ' run.json'` used to be stripped and read `run.json`. Every field that names a file is refused, located, when
it is empty or has whitespace around it, also when a file with the trimmed name exists. The fields come from the
schema (every field typed `FileName`), so a new file field is covered without editing this test; `extends`, which is
read before the schema, and the same names through `--set` are covered too.
"""

from __future__ import annotations

import os
import shutil
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from planner.errors import InputError
from planner.io.loader import load_inputs
from planner.schemas import common
from planner.schemas.scenario import Scenario
from tests.conftest import INPUTS

SPACES = [" ", "\t", "\n", "  ", "\u00a0"]


def _is_file_name(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        return any(getattr(m, "func", None) is common._check_file_name for m in typing.get_args(annotation)[1:])
    return any(_is_file_name(a) for a in typing.get_args(annotation))


def _file_fields(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Dotted paths of every FileName field under `model` (`[0]` for list items)."""
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        if _is_file_name(field.annotation) or any(getattr(m, "func", None) is common._check_file_name
                                                  for m in field.metadata):  # pydantic moves Annotated metadata here
            yield path
        for arg in (field.annotation, *typing.get_args(field.annotation)):
            inner = typing.get_args(arg)[0] if typing.get_origin(arg) is list else arg
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from _file_fields(inner, f"{path}[0]" if typing.get_origin(arg) is list else path)
                break


FIELDS = sorted(set(_file_fields(Scenario)))


def test_every_file_field_of_the_scenario_is_found() -> None:
    assert set(FIELDS) >= {"extends", "inputs.chips", "inputs.models", "inputs.workloads", "inputs.sites",
                           "inputs.calibration", "inputs.measurements[0].file"}


def _case(tmp: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of the bundled inputs and the example scenario's data, with a measurement file and calibration."""
    shutil.copytree(INPUTS, tmp / "inputs")
    scenario = tmp / "inputs" / "scenarios" / "example.yaml"
    data = yaml.safe_load(scenario.read_text())
    (scenario.parent / "m.csv").write_text("x\n")
    (scenario.parent / "base.yaml").write_text(scenario.read_text())
    return scenario, data


def _set(data: dict[str, Any], path: str, value: str) -> str:
    """Write `value` at the schema path `path` of the scenario data; returns the locator a problem should have."""
    if path == "extends":
        data["extends"] = value
        return "extends"
    if path == "inputs.measurements[0].file":
        data["inputs"]["measurements"] = [{"file": value, "model_id": "x", "chip_id": "y", "precision": "fp8", "tp": 1}]
        return path
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return path


def _good_name(data: dict[str, Any], path: str) -> str:
    """A name that exists relative to the scenario, for the field at `path`."""
    if path == "extends":
        return "base.yaml"
    if path.startswith("inputs.measurements"):
        return "m.csv"
    if path == "inputs.calibration":
        return "../catalog/chips.yaml"  # any existing file: the point is the name, not the content
    return data["inputs"][path.split(".")[1]]


VARIANTS = [(f, where, ws) for f in FIELDS for where in ("before", "after") for ws in SPACES] + \
           [(f, "empty", "") for f in FIELDS]


@pytest.mark.parametrize(("field", "where", "ws"), VARIANTS, ids=[f"{f}-{w}-{i}" for i, (f, w, _) in enumerate(VARIANTS)])
def test_a_file_name_with_whitespace_around_it_or_empty_is_refused_where_it_is_written(
        tmp_path: Path, field: str, where: str, ws: str) -> None:
    scenario, data = _case(tmp_path)
    name = _good_name(data, field)
    value = "" if where == "empty" else (ws + name if where == "before" else name + ws)
    locator = _set(data, field, value)
    scenario.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    with pytest.raises(InputError) as info:
        load_inputs(scenario)
    mine = [p for p in info.value.problems if p.file == "example.yaml" and p.locator == locator]
    assert mine, [str(p) for p in info.value.problems]
    expected = "is empty" if where == "empty" else "whitespace"
    assert expected in mine[0].message, str(mine[0])
    if where != "empty":
        assert repr(name) in mine[0].message  # says what to write


@pytest.mark.parametrize("field", [f for f in FIELDS if f.startswith("inputs.") and "[" not in f])
@pytest.mark.parametrize("ws", [" ", "\t"])
def test_the_same_names_through_set_are_refused_at_the_command_line(field: str, ws: str) -> None:
    with pytest.raises(InputError) as info:
        load_inputs(INPUTS / "scenarios" / "example.yaml", [f"{field}='{ws}x.yaml'"])
    assert any(p.file == "example.yaml --set" and p.locator == field and "whitespace" in p.message
               for p in info.value.problems), [str(p) for p in info.value.problems]


# A file named by `--set inputs.*` that cannot be read (missing, a folder, a device, a pipe) is the override's
# problem: located at the command line, `(example.yaml --set, inputs.sites)`, with the hint that a --set path is
# relative to the working directory. It was located at the file alone (`(zero) | /dev/zero is a character device`),
# naming no field. The same file written in the scenario keeps its file locator (tests/bad_inputs).
ROLES = [f for f in FIELDS if f.startswith("inputs.") and "[" not in f]
UNREADABLE = {"missing": lambda d: d / "nope.yaml", "folder": lambda d: d, "device": lambda d: Path("/dev/zero"),
              "pipe": lambda d: (os.mkfifo(d / "p.yaml"), d / "p.yaml")[1]}


@pytest.mark.parametrize("kind", UNREADABLE)
@pytest.mark.parametrize("field", ROLES)
def test_an_unreadable_file_named_by_set_is_located_at_the_override(tmp_path: Path, field: str, kind: str) -> None:
    target = UNREADABLE[kind](tmp_path)
    with pytest.raises(InputError) as info:
        load_inputs(INPUTS / "scenarios" / "example.yaml", [f"{field}={target}"])
    mine = [p for p in info.value.problems if p.file == "example.yaml --set" and p.locator == field]
    assert mine, [str(p) for p in info.value.problems]
    if kind == "missing":
        assert "relative to the working directory" in mine[0].message
