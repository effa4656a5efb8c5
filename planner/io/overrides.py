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
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from pydantic import BaseModel

from planner.errors import Problem
from planner.schemas.common import file_name_problem
from planner.schemas.scenario import Scenario

APPEND = "+"


def set_label(scenario_label: str) -> str:
    """How problems name values that came from the command line."""
    return f"{scenario_label} --set"


#: Guards on one override's value (a YAML value on the command line, or a Python value through the API).
MAX_VALUE_CHARS = 100_000
MAX_VALUE_DEPTH = 16
MAX_VALUE_NODES = 10_000
#: Keys resolved when the file is read, before any override applies: overriding them cannot take effect.
NOT_OVERRIDABLE = {"extends": "`extends` is resolved when the scenario file is read, before --set applies; write a "
                              "scenario file with `extends: <base>` instead, or --set the fields you want to change"}


class AssignmentError(ValueError):
    """A malformed `KEY.PATH=VALUE` argument; `path` is the key as far as it can be read (for the locator)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


def split_assignment(text: str, flag: str = "--set", example: str = "policy.headroom_fraction=0.2") -> tuple[str, str]:
    """`KEY.PATH=VALUE` -> (path, raw value text), for `--set` and `sweep --param` alike.

    Refused (AssignmentError), like a key with spaces in an input file: no `=` or no path, whitespace around the whole
    argument (`' policy.x=1'`, `'policy.x=1 '`: a shell quoting slip) or before the `=` (`policy.x =1`). The value is
    YAML, so a space after the `=` (`a.b= [1, 2]`) is YAML's to ignore."""
    if not isinstance(text, str):
        raise AssignmentError(f"{flag} must be a string KEY.PATH=VALUE, got {type(text).__name__} {text!r:.60}")
    path, sep, raw = text.partition("=")
    shown = path.strip()[:200]
    if not sep or not path.strip():
        raise AssignmentError(f"{flag} {text!r:.200}: write KEY.PATH=VALUE, e.g. {example}", shown)
    if text != text.strip():
        raise AssignmentError(f"{flag} {text!r:.200} has whitespace around it; write {text.strip()!r:.200} "
                              "(no spaces before the key or after the value; quote a value that needs them: KEY='a b')", shown)
    if path != path.rstrip():
        raise AssignmentError(f"{flag} {text!r:.200} has whitespace between the key and `=`; write "
                              f"{path.rstrip() + '=' + raw!r:.200} (a key never ends with a space)", shown)
    return path, raw


def parse_set(text: str) -> tuple[str, Any]:
    """`a.b=value` -> ("a.b", YAML value). Raises ValueError (an AssignmentError when the argument is malformed: no
    `=`, no path, whitespace around it or before the `=`) or when the value is not YAML."""
    from planner.io.safe_yaml import _LimitedLoader

    path, raw = split_assignment(text)
    if len(raw) > MAX_VALUE_CHARS:
        raise ValueError(f"--set {path}: the value is {len(raw):,} characters long (at most {MAX_VALUE_CHARS:,}); "
                         "put large values in the scenario file")
    try:
        value = yaml.load(raw, Loader=_LimitedLoader) if raw.strip() else None  # noqa: S506 - a SafeLoader with limits
    except (yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"--set {text!r:.200}: the value is not valid YAML ({first})") from None
    return path, value


def _where(text: Any) -> str:
    """The locator of a malformed `--set` argument: its key as far as it reads, else nothing."""
    return text.partition("=")[0].strip()[:200].rstrip(APPEND) if isinstance(text, str) and "=" in text else ""


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(pydantic model reached through this annotation, whether a free-named key comes first)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if origin is list:  # a list is a value: replaced whole or appended to, never entered by a path
        return None, False
    if origin is dict and len(args) == 2:
        inner, _ = _model_of(args[1])
        return inner, True
    for arg in args:  # Optional[...] / unions
        if arg is not type(None):
            inner, free = _model_of(arg)
            if inner is not None:
                return inner, free
    return None, origin is dict


def _alternatives(annotation: Any) -> list[Any]:
    """The types a value of `annotation` may take: Optional / unions split, Annotated unwrapped, None dropped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _alternatives(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [a for arg in typing.get_args(annotation) if arg is not type(None) for a in _alternatives(arg)]
    return [annotation]


def annotation_at(path: str, root: type[BaseModel] = Scenario) -> Any:
    """The schema annotation of the value at a valid `path` (free names under mappings by name), else None."""
    annotation: Any = root
    for part in path.rstrip(APPEND).split("."):
        nxt = None
        for alt in _alternatives(annotation):
            if isinstance(alt, type) and issubclass(alt, BaseModel) and part in alt.model_fields:
                nxt = alt.model_fields[part].annotation
                break
            if typing.get_origin(alt) is dict and len(typing.get_args(alt)) == 2:
                nxt = typing.get_args(alt)[1]
                break
        if nxt is None:
            return None
        annotation = nxt
    return annotation


def _is_list(annotation: Any) -> bool:
    return any(typing.get_origin(a) is list for a in _alternatives(annotation))


def check_path(path: str, root: type[BaseModel] = Scenario) -> str | None:
    """None when `path` names a field of the schema, else what is wrong (with a did-you-mean).

    Every segment must be a non-empty key without surrounding spaces (`chip_terms. b200.x` would otherwise name a
    new chip ` b200` and leave the file's terms for b200 untouched); `+` (append) only ends a path to a list."""
    parts = path.split(".")
    model: type[BaseModel] | None = root
    free_next = False
    for i, part in enumerate(parts):
        key = part[:-1] if part.endswith(APPEND) and i == len(parts) - 1 else part
        if not key:
            return f"empty key in {path!r} (segment {i + 1}); write KEY.PATH with one name between each pair of dots"
        if key != key.strip():
            return (f"key {key!r} in {path!r} has spaces around it; write {'.'.join(p.strip() for p in parts)!r} "
                    "(names never start or end with a space)")
        if free_next:
            free_next = False
            continue
        if model is None:
            done = ".".join(parts[:i])
            if _is_list(annotation_at(done, root)):
                return (f"{done} is a list: replace it whole ({done}=[...]) or append to it ({done}+=...); "
                        "a path cannot go inside it")
            return f"{done} is a value, not a mapping; nothing lies below it"
        fields = model.model_fields
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {'.'.join([*parts[:i], close[0]])}?" if close else f"; known: {', '.join(fields)}"
            return f"unknown field {key!r}{hint}"
        if i == 0 and key in NOT_OVERRIDABLE:
            return f"cannot override {key!r}: {NOT_OVERRIDABLE[key]}"
        model, free_next = _model_of(fields[key].annotation)
    if free_next:
        below = ".<name>.<field>" if model is not None else ".<name>"
        return f"{path} is a mapping by name; add the name{' and a field' if model is not None else ''}, e.g. {path}{below}=..."
    if path.endswith(APPEND) and not _is_list(annotation_at(path, root)):
        return f"`+=` appends to a list, and {path[:-1]} is not a list; write {path[:-1]}=VALUE to replace it"
    return None


def _value_problem(value: Any, annotation: Any, where: str, depth: int = 0, count: list[int] | None = None) -> str | None:
    """What is wrong with an override value before the schema sees it: too deep or large, not a YAML value, a boolean
    or a non-finite number where the schema wants a number (pydantic would read `true` as 1)."""
    count = [0] if count is None else count
    count[0] += 1
    if count[0] > MAX_VALUE_NODES:
        return f"{where}: the value has more than {MAX_VALUE_NODES:,} items; put large values in the scenario file"
    if depth > MAX_VALUE_DEPTH:
        return f"{where}: the value nests deeper than {MAX_VALUE_DEPTH} levels"
    alts = _alternatives(annotation) if annotation is not None else []
    if isinstance(value, bool):
        numeric = any(a in (int, float) for a in alts) and not any(a is bool for a in alts)
        if numeric:
            return (f"{where}: expected a number, got the YAML boolean {str(value).lower()} (read as {int(value)}); "
                    "write the number itself, e.g. 0 or 1")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where}: expected a finite number, got {value}"
    if value is None or isinstance(value, (int, float, str)):
        return None
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"{where}: keys must be names (strings), got {k!r:.40}"
            inner = None
            for a in alts:
                if isinstance(a, type) and issubclass(a, BaseModel) and k in a.model_fields:
                    inner = a.model_fields[k].annotation
                elif typing.get_origin(a) is dict and len(typing.get_args(a)) == 2:
                    inner = typing.get_args(a)[1]
                if inner is not None:
                    break
            bad = _value_problem(v, inner, f"{where}.{k}", depth + 1, count)
            if bad:
                return bad
        return None
    if isinstance(value, (list, tuple)):
        inner = next((typing.get_args(a)[0] for a in alts if typing.get_origin(a) is list and typing.get_args(a)), None)
        for j, item in enumerate(value):
            bad = _value_problem(item, inner, f"{where}[{j}]", depth + 1, count)
            if bad:
                return bad
        return None
    return f"{where}: {type(value).__name__} is not a scenario value; use numbers, strings, booleans, lists and mappings"


def _catalog_ids(raw: dict[str, Any]) -> list[str] | None:
    """Chip ids of the catalog the (merged, overridden) scenario names, or None when it cannot be read."""
    from pathlib import Path

    from planner.catalog import read_chip_catalog

    inputs = raw.get("inputs")
    path = inputs.get("chips") if isinstance(inputs, dict) else None
    if not isinstance(path, str) or not path.strip():
        return None
    try:
        chips, problems = read_chip_catalog(Path(path.strip()))
    except (OSError, ValueError):
        return None
    return None if problems or not chips else list(chips)


#: Lists whose absence means "everything": `+=` on them starts from everything, as the README promises
#: (`--set policy.allowed_chips+=b200` adds one chip to what may be bought).
ABSENT_MEANS_ALL = {"policy.allowed_chips": _catalog_ids}


def _assign(raw: dict[str, Any], parts: list[str], value: Any, origins: dict[str, str] | None = None,
            label: str = "") -> None:
    """Set (or, with a trailing `+`, append to) the value at `parts`; mark what the override wrote in `origins`."""
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
        path = ".".join([*parts[:-1], last])
        current = node.get(last)
        if current is None and path in ABSENT_MEANS_ALL:
            current = ABSENT_MEANS_ALL[path](raw)
        current = list(current) if isinstance(current, list) else []
        items = value if isinstance(value, list) else [value]
        node[last] = [*current, *(x for x in items if x not in current)] if path in ABSENT_MEANS_ALL else [*current, *items]
        if origins is not None:
            for j in range(len(current), len(node[last])):
                origins[f"{path}[{j}]"] = label
            origins.setdefault(path, label)
            for k in range(1, len(parts)):  # containers the override created
                origins.setdefault(".".join(parts[:k]), label)
    else:
        node[last] = value
        if origins is not None:
            path = ".".join(parts)
            for key in [k for k in origins if k.startswith((f"{path}.", f"{path}["))]:
                del origins[key]  # the file's values below this path are gone
            for k in range(1, len(parts)):
                origins.setdefault(".".join(parts[:k]), label)
            origins[path] = label


def _value_at(raw: Mapping[str, Any], parts: list[str]) -> Any:
    """The value at `parts` in the (merged) scenario mapping, or None when a part is absent."""
    node: Any = raw
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def dropped_fields(current: Any, value: Any, path: str) -> list[str]:
    """Paths of the values under `path` that replacing `current` by the mapping `value` would delete (the scenario,
    or an earlier override, sets them and `value` does not say them), at any depth; [] when `value` is not a mapping
    or keeps them all. A mapping value is a whole section: `policy={}` would silently reset the file's policy."""
    if not isinstance(value, Mapping) or not isinstance(current, Mapping):
        return []
    out: list[str] = []
    for key, old in current.items():
        where = f"{path}.{key}"
        if key not in value:
            out.append(where)
        elif isinstance(old, Mapping) and isinstance(value[key], Mapping):
            out += dropped_fields(old, value[key], where)
    return out


def section_replaced_message(path: str, dropped: list[str]) -> str:
    """Why a mapping value that would delete `dropped` is refused, and what to write instead."""
    shown = ", ".join(dropped[:6]) + (f" and {len(dropped) - 6} more" if len(dropped) > 6 else "")
    return (f"a mapping value replaces the whole of {path}, and would drop {len(dropped)} field"
            f"{'s' if len(dropped) != 1 else ''} the scenario (or an earlier override) sets ({shown}); set fields one by one "
            f"({dropped[0]}=VALUE), or give every field the scenario sets in the mapping")


def apply_sets(
    raw: dict[str, Any], sets: Iterable[str] | Mapping[str, Any] | None, scenario_label: str,
    origins: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[Problem]]:
    """Apply `--set` items (strings `a.b=v`, or a mapping path -> value) to a copy of `raw`.

    Problems (bad syntax, unknown or malformed paths, values the schema would misread) are all returned together;
    valid items are applied regardless, so a later validation still reports the other files' problems. `origins`
    records what each override wrote as `<file> --set`, so a problem found later in that value is located there.
    """
    import copy

    out = copy.deepcopy(raw)
    label = set_label(scenario_label)
    problems: list[Problem] = []
    items: list[tuple[str, Any]] = []
    if isinstance(sets, str):
        sets = [sets]
    if isinstance(sets, Mapping):
        items = [(str(k), v) for k, v in sets.items()]
    else:
        for text in sets or []:
            try:
                items.append(parse_set(text))
            except ValueError as exc:
                problems.append(Problem(label, _where(text), str(exc)))
    for path, value in items:
        bad = check_path(path)
        if bad:
            problems.append(Problem(label, path.rstrip(APPEND) or path, bad))
            continue
        annotation = annotation_at(path)
        if path.endswith(APPEND):
            bad = _value_problem(value if isinstance(value, list) else [value], annotation, path[:-1])
        else:
            bad = _value_problem(value, annotation, path)
        if bad:
            problems.append(Problem(label, path.rstrip(APPEND), bad.partition(": ")[2] if bad.startswith(f"{path.rstrip(APPEND)}: ") else bad))
            continue
        parts = path.split(".")
        dropped = [] if path.endswith(APPEND) else dropped_fields(_value_at(out, parts), value, path)
        if dropped:
            problems.append(Problem(label, path, section_replaced_message(path, dropped)))
            continue
        if path.startswith("inputs.") and isinstance(value, str) and not file_name_problem(value):
            from pathlib import Path

            value = str(Path(value).absolute())  # relative to the working directory, as any CLI path
        _assign(out, parts, value, origins, label)
    return out, problems


def set_hint(problem: Problem) -> Problem:
    """A not-found problem of a path given by `--set inputs.*`: such a path is relative to the working directory."""
    from planner.io.safe_yaml import SCENARIO_PATH_HINT, SET_PATH_HINT

    return Problem(problem.file, problem.locator, problem.message.replace(SCENARIO_PATH_HINT, SET_PATH_HINT))


def blame_overrides(problems: list[Problem], base_problems: list[Problem], scenario_files: set[str],
                    scenario_label: str, input_files: dict[str, str] | None = None) -> list[Problem]:
    """Problems the overrides caused (absent without them) that name a scenario file name the command line instead.
    `input_files`: file label -> the `inputs.*` path of an override that names that file; a problem of the whole
    file (missing, a device, a folder: no locator) is the override's, `(example.yaml --set, inputs.sites)`."""
    label = set_label(scenario_label)
    before = {(p.file, p.locator, p.message) for p in base_problems}
    out = []
    for p in problems:
        if (p.file, p.locator, p.message) in before:
            out.append(p)
        elif p.file in scenario_files:
            out.append(Problem(label, p.locator, p.message))
        elif not p.locator and p.file in (input_files or {}):
            out.append(Problem(label, (input_files or {})[p.file], p.message))
        else:
            out.append(p)
    return out


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


def normalise_sets(sets: Iterable[str] | Mapping[str, Any] | str | None, scenario_label: str = "command line") -> dict[str, Any]:
    """`--set` strings or a mapping -> {path: value}; raises `InputError` listing every malformed item.

    A single string is one override. Repeated appends to one list (`a+=x`, `a+=y`) are kept together (`a+` -> [x, y]);
    a path given twice keeps its last value, as on any command line."""
    from planner.errors import InputError

    label = set_label(scenario_label)
    if sets is None:
        return {}
    if isinstance(sets, str):
        sets = [sets]
    if isinstance(sets, Mapping):
        bad_keys = [k for k in sets if not isinstance(k, str)]
        if bad_keys:
            raise InputError([Problem(label, "", f"override paths must be strings KEY.PATH, got {k!r:.60}") for k in bad_keys])
        return dict(sets)
    out: dict[str, Any] = {}
    problems = []
    for text in sets:
        try:
            path, value = parse_set(text)
        except ValueError as exc:
            problems.append(Problem(label, _where(text), str(exc)))
            continue
        if path.endswith(APPEND) and path in out:
            before = out[path] if isinstance(out[path], list) else [out[path]]
            out[path] = [*before, *(value if isinstance(value, list) else [value])]
        else:
            out[path] = value
    if problems:
        raise InputError(problems)
    return out
