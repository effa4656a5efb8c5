"""Chip and model catalogs: load, validate, index by id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from planner.errors import InputError, Problem
from planner.io.safe_yaml import load_yaml
from planner.io.validate import validate_model
from planner.schemas.chips import ChipCatalog, ChipSpec
from planner.schemas.models import ModelCatalog, ModelSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHIPS = REPO_ROOT / "inputs" / "catalog" / "chips.yaml"
DEFAULT_MODELS = REPO_ROOT / "inputs" / "catalog" / "models.yaml"


def _unique(ids: list[str], file: str, what: str, key: str) -> list[Problem]:
    seen: dict[str, int] = {}
    out = []
    for i, x in enumerate(ids):
        if x in seen:
            out.append(Problem(file, f"{what}[{i}].{key}", f"duplicate id {x!r} (also at {what}[{seen[x]}]); ids must be unique"))
        else:
            seen[x] = i
    return out


#: Blocks of a chip entry that carry their own `source` and `kind` per line, so SourceRefs do not name them.
SELF_SOURCED_BLOCKS = ("sources", "price", "lease")


def numeric_fields(obj: BaseModel, prefix: str = "") -> dict[str, float]:
    """Dotted name -> value of every numeric (non-bool, non-None) field of a chip entry, recursing into sub-models
    and skipping the self-sourced blocks (`sources`, `price`, `lease`)."""
    out: dict[str, float] = {}
    for name in type(obj).model_fields:
        if name in SELF_SOURCED_BLOCKS:
            continue
        value = getattr(obj, name)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, BaseModel):
            out.update(numeric_fields(value, f"{prefix}{name}."))
        elif isinstance(value, int | float):
            out[f"{prefix}{name}"] = value
    return out


def chip_figures(chip: ChipSpec) -> list[dict[str, Any]]:
    """Every numeric figure of a chip with the SourceRef that backs it: [{field, value, kind, source, note}], kind
    `published` or `estimate` (`unsourced` if no SourceRef names the field). Price and lease lines carry their own
    source and kind and are not listed here."""
    out = []
    for path, value in numeric_fields(chip).items():
        refs = [s for s in chip.sources if path in s.fields]
        out.append({
            "field": path, "value": value,
            "kind": "unsourced" if not refs else "estimate" if any(s.estimate for s in refs) else "published",
            "source": "; ".join(s.citation for s in refs) or "(no SourceRef names this field)",
            "note": "; ".join(s.note for s in refs if s.note) or None,
        })
    return out


def read_chip_catalog(path: Path, label: str | None = None) -> tuple[dict[str, ChipSpec], list[Problem]]:
    """Read chips.yaml -> ({chip_id: ChipSpec}, problems)."""
    label = label or path.name
    data, problems = load_yaml(path, label)
    if data is None:
        return {}, problems
    cat, problems = validate_model(ChipCatalog, data, label)
    if cat is None:
        return {}, problems
    problems = _unique([c.chip_id for c in cat.chips], label, "chips", "chip_id")
    return {c.chip_id: c for c in cat.chips}, problems


def read_model_catalog(path: Path, label: str | None = None) -> tuple[dict[str, ModelSpec], list[Problem]]:
    """Read models.yaml -> ({model_id: ModelSpec}, problems)."""
    label = label or path.name
    data, problems = load_yaml(path, label)
    if data is None:
        return {}, problems
    cat, problems = validate_model(ModelCatalog, data, label)
    if cat is None:
        return {}, problems
    problems = _unique([m.model_id for m in cat.models], label, "models", "model_id")
    return {m.model_id: m for m in cat.models}, problems


def load_chip_catalog(path: Path = DEFAULT_CHIPS) -> dict[str, ChipSpec]:
    """Load chips.yaml or raise InputError with every problem."""
    chips, problems = read_chip_catalog(path)
    if problems:
        raise InputError(problems)
    return chips


def load_model_catalog(path: Path = DEFAULT_MODELS) -> dict[str, ModelSpec]:
    """Load models.yaml or raise InputError with every problem."""
    models, problems = read_model_catalog(path)
    if problems:
        raise InputError(problems)
    return models
