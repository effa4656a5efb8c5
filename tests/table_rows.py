"""Plain readers shared by the tests of the bundled and held-out measurement tables (no planner imports: fast)."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file as dicts keyed by its header."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def catalog_ids(path: Path, key: str, list_key: str) -> set[str]:
    """The ids (`key`) of the entries under `list_key` of a catalog YAML file."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    items = data[list_key] if isinstance(data, dict) else data
    return {str(x[key]) for x in items}


def number(s: str | None) -> float | None:
    """A CSV cell as a float, None when empty."""
    s = (s or "").strip()
    return float(s) if s else None
