"""Read a scenario YAML, following `extends:` chains with cycle detection and deep-merged overrides.

Paths under `inputs:` are resolved against the folder of the file that wrote them, so a vendor scenario
that extends a base in another folder still finds the base's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.errors import Problem
from planner.io.safe_read import file_problem
from planner.io.safe_yaml import MAX_YAML_BYTES, load_yaml
from planner.schemas.common import file_name_problem

MAX_EXTENDS_DEPTH = 16


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge `override` onto `base`: mappings merge key by key, everything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolved(value: str, folder: Path) -> str:
    """A file name relative to `folder` made absolute; a malformed one (empty, spaces around it) is left as written
    for the schema to refuse (`schemas.common.FileName`), never trimmed into another file's name."""
    if file_name_problem(value):
        return value
    p = Path(value)
    return str(p if p.is_absolute() else (folder / p))


def _resolve_input_paths(raw: dict[str, Any], folder: Path) -> None:
    inputs = raw.get("inputs")
    if isinstance(inputs, dict):
        for key, value in list(inputs.items()):
            if isinstance(value, str):
                inputs[key] = _resolved(value, folder)
            elif key == "measurements" and isinstance(value, list):  # CSV paths, or {file: ..., ...} entries
                inputs[key] = [_resolved_entry(v, folder) for v in value]


def _resolved_entry(value: Any, folder: Path) -> Any:
    if isinstance(value, str):
        return _resolved(value, folder)
    if isinstance(value, dict) and isinstance(value.get("file"), str):
        return {**value, "file": _resolved(value["file"], folder)}
    return value


def _record_origins(data: dict[str, Any], label: str, origins: dict[str, str], prefix: str = "") -> None:
    for key, value in data.items():
        where = f"{prefix}.{key}" if prefix else str(key)
        origins[where] = label
        if isinstance(value, dict):
            _record_origins(value, label, origins, where)


def origin_of(locator: str, origins: dict[str, str]) -> str | None:
    """The file that wrote the value at `locator` (`policy.allowed_chips[2]`), by its longest recorded prefix."""
    cuts = [i for i, ch in enumerate(locator) if ch in ".["] + [len(locator)]
    for cut in reversed(cuts):
        if locator[:cut] in origins:
            return origins[locator[:cut]]
    return None


def read_scenario_raw(
    path: Path, _chain: tuple[Path, ...] = (), origins: dict[str, str] | None = None,
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Load `path` and everything it extends into one merged mapping (not yet validated).

    `origins`, when given, is filled with `dotted.key -> file name` of the file whose value won the merge,
    so a problem in a value inherited from a base scenario can name the base file.
    """
    origins = {} if origins is None else origins
    label = path.name
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop (3.11: RuntimeError), a NUL byte (ValueError):
        resolved = path.absolute()                   # read_text reports it as a located problem
    if resolved in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, resolved))
        return None, [Problem(label, "extends", f"circular `extends`: {cycle}. Remove one of the links.")]
    if len(_chain) >= MAX_EXTENDS_DEPTH:
        return None, [Problem(label, "extends", f"`extends` chain longer than {MAX_EXTENDS_DEPTH} files.")]
    data, problems = load_yaml(path, label)
    if data is None:
        return None, problems
    if not isinstance(data, dict):
        return None, [Problem(label, "", f"a scenario must be a YAML mapping of keys (name, horizon, inputs, ...), got {type(data).__name__}.")]
    data = dict(data)
    _resolve_input_paths(data, resolved.parent)
    parent_ref = data.get("extends")
    if parent_ref is None:
        from planner.io.overrides import merge_appending

        data = merge_appending({}, data)  # `key+:` with no base list is just the list
        _record_origins(data, label, origins)
        return data, []
    if not isinstance(parent_ref, str):
        return None, [Problem(label, "extends", f"must be the path of another scenario file, got {parent_ref!r}.")]
    if file_name_problem(parent_ref):  # empty, or spaces around it
        return None, [Problem(label, "extends", f"{file_name_problem(parent_ref)}.")]
    parent_path = Path(parent_ref)
    if not parent_path.is_absolute():
        parent_path = resolved.parent / parent_path
    bad = file_problem(parent_path, label, "extends", MAX_YAML_BYTES, "base scenario",
                       hint=f" (paths are relative to {resolved.parent})")
    if bad is not None:  # missing, a directory, a pipe (which would block), a device, too large
        return None, [bad]
    base, problems = read_scenario_raw(parent_path, (*_chain, resolved), origins)
    if base is None:
        return None, problems
    from planner.io.overrides import merge_appending

    _record_origins(merge_appending({}, data), label, origins)
    merged = merge_appending(base, data)  # deep_merge plus `key+:` appends to the base's list
    return merged, []
