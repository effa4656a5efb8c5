"""What-ifs without YAML: `--set key.path=value` applied to the merged scenario mapping before validation.

    --set policy.headroom_fraction=0.2           replace a value (YAML-typed: 0.2 is a float, true a bool)
    --set chip_terms.b200.price_usd_per_server=300000
    --set policy.allowed_chips+=b200             append to a list (a YAML list appends every item)

Paths are checked against the scenario schema before anything is applied, so a misspelt key is reported with
its locator and a did-you-mean; values are then validated with the file, and a bad one is reported as
`(example.yaml --set, policy.headroom_fraction) | ...`. Keys under `vendors.<name>` and `chip_terms.<chip>`
are free (the name or chip id); the field below them is checked.

The same `+` suffix works in scenario files that `extends` a base: `allowed_chips+: [b200]` appends to the
base's list instead of replacing it (see `merge_appending`).
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from pydantic import BaseModel

from planner.errors import Problem
from planner.schemas.scenario import Scenario

APPEND = "+"


def set_label(scenario_label: str) -> str:
    """How problems name values that came from the command line."""
    return f"{scenario_label} --set"


def parse_set(text: str) -> tuple[str, Any]:
    """`a.b=value` -> ("a.b", YAML value). Raises ValueError when there is no `=` or no path."""
    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ValueError(f"--set {text!r}: write KEY.PATH=VALUE, e.g. policy.headroom_fraction=0.2")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ValueError(f"--set {text!r}: the value is not valid YAML ({str(exc).splitlines()[0]})") from None
    return path, value


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(pydantic model reached through this annotation, whether a free-named key comes first)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if origin is dict and len(args) == 2:
        inner, _ = _model_of(args[1])
        return inner, True
    for arg in args:  # Optional[...] / unions
        if arg is not type(None):
            inner, free = _model_of(arg)
            if inner is not None:
                return inner, free
    return None, origin is dict


def check_path(path: str, root: type[BaseModel] = Scenario) -> str | None:
    """None when `path` names a field of the schema, else what is wrong (with a did-you-mean)."""
    parts = path.split(".")
    model: type[BaseModel] | None = root
    free_next = False
    for i, part in enumerate(parts):
        key = part[:-1] if part.endswith(APPEND) and i == len(parts) - 1 else part
        if not key:
            return f"empty key in {path!r}"
        if free_next:
            free_next = False
            continue
        if model is None:
            done = ".".join(parts[:i])
            return f"{done} is a value, not a mapping; nothing lies below it"
        fields = model.model_fields
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {'.'.join([*parts[:i], close[0]])}?" if close else f"; known: {', '.join(fields)}"
            return f"unknown field {key!r}{hint}"
        model, free_next = _model_of(fields[key].annotation)
    if free_next:
        return f"{path} is a mapping by name; add the name and a field, e.g. {path}.<name>.<field>=..."
    return None


def _assign(raw: dict[str, Any], parts: list[str], value: Any) -> None:
    node = raw
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    last = parts[-1]
    if last.endswith(APPEND):
        last = last[:-1]
        current = node.get(last)
        items = value if isinstance(value, list) else [value]
        node[last] = [*(current if isinstance(current, list) else []), *items]
    else:
        node[last] = value


def apply_sets(
    raw: dict[str, Any], sets: Iterable[str] | Mapping[str, Any] | None, scenario_label: str,
    origins: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[Problem]]:
    """Apply `--set` items (strings `a.b=v`, or a mapping path -> value) to a copy of `raw`.

    Problems (bad syntax, unknown paths) are all returned together; valid items are applied regardless, so a
    later validation still reports the other files' problems. `origins` records each path as `<file> --set`.
    """
    import copy

    out = copy.deepcopy(raw)
    label = set_label(scenario_label)
    problems: list[Problem] = []
    items: list[tuple[str, Any]] = []
    if isinstance(sets, Mapping):
        items = [(str(k), v) for k, v in sets.items()]
    else:
        for text in sets or []:
            try:
                items.append(parse_set(text))
            except ValueError as exc:
                problems.append(Problem(label, "", str(exc)))
    for path, value in items:
        bad = check_path(path)
        if bad:
            problems.append(Problem(label, path, bad))
            continue
        parts = path.split(".")
        if path.startswith("inputs.") and isinstance(value, str):
            from pathlib import Path

            value = str(Path(value).absolute())  # relative to the working directory, as any CLI path
        _assign(out, parts, value)
        if origins is not None:
            origins[path.rstrip(APPEND)] = label
    return out, problems


def merge_appending(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`extends` merge: mappings merge key by key, values and lists replace, `key+:` appends to a list."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(key, str) and key.endswith(APPEND) and len(key) > 1:
            name = key[:-1]
            current = out.get(name)
            items = value if isinstance(value, list) else [value]
            out[name] = [*(current if isinstance(current, list) else []), *items]
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_appending(out[key], value)
        elif isinstance(value, dict):
            out[key] = merge_appending({}, value)  # resolve `+` keys with nothing to append to
        else:
            out[key] = value
    return out


def normalise_sets(sets: Iterable[str] | Mapping[str, Any] | None, scenario_label: str = "command line") -> dict[str, Any]:
    """`--set` strings or a mapping -> {path: value}; raises `InputError` listing every malformed item."""
    from planner.errors import InputError

    if sets is None:
        return {}
    if isinstance(sets, Mapping):
        return {str(k): v for k, v in sets.items()}
    out: dict[str, Any] = {}
    problems = []
    for text in sets:
        try:
            path, value = parse_set(text)
            out[path] = value
        except ValueError as exc:
            problems.append(Problem(set_label(scenario_label), "", str(exc)))
    if problems:
        raise InputError(problems)
    return out
