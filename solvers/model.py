"""The MILP container: a PuLP problem, its variables by key, and a registry of named constraints.

Expressions are built from (variable, coefficient) pairs summed in a dict first: PuLP's
`LpAffineExpression(pairs)` keeps only the last coefficient of a repeated variable, and Python's `sum()`
over PuLP expressions is quadratic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pulp

Pairs = Iterable[tuple[pulp.LpVariable, float]]

_SAFE = re.compile(r"[^A-Za-z0-9_]")


def safe_name(*parts: object) -> str:
    """A solver-safe name from key parts (MPS names may not hold spaces or punctuation)."""
    return "_".join(_SAFE.sub("_", str(p)) for p in parts)


def affine(pairs: Pairs, constant: float = 0.0) -> pulp.LpAffineExpression:
    """Sum (variable, coefficient) pairs into one expression, merging repeated variables."""
    coef: dict[pulp.LpVariable, float] = {}
    for var, c in pairs:
        if c:
            coef[var] = coef.get(var, 0.0) + c
    return pulp.LpAffineExpression(list(coef.items()), constant=constant)


@dataclass(frozen=True)
class ConstraintInfo:
    """What a named constraint means, for reports: family, where, quarter, and the unit of its right-hand side."""

    family: str
    where: str
    quarter: str
    unit: str
    rhs: float
    sense: int
    pairs: tuple[tuple[str, float], ...]


@dataclass
class PlanModel:
    """A PuLP problem plus variable dictionaries keyed by set tuples and a constraint registry."""

    prob: pulp.LpProblem
    vars: dict[str, dict[Any, pulp.LpVariable]] = field(default_factory=dict)
    constraints: dict[str, ConstraintInfo] = field(default_factory=dict)
    objective_terms: dict[str, list[tuple[pulp.LpVariable, float]]] = field(default_factory=dict)
    #: families whose constraints get a penalised slack (diagnosis runs): family -> penalty per unit of rhs
    relax: dict[str, float] = field(default_factory=dict)

    def add_vars(self, family: str, keys: Iterable[Any], cat: str = "Integer", low: float = 0.0, up: float | None = None) -> dict[Any, pulp.LpVariable]:
        """Create one variable per key (only eligible keys are ever passed)."""
        d = {}
        for k in keys:
            parts = k if isinstance(k, tuple) else (k,)
            d[k] = self.prob.add_variable(safe_name(family, *parts), lowBound=low, upBound=up, cat=cat)
        self.vars[family] = d
        return d

    def add(self, name: str, pairs: Pairs, sense: str, rhs: float, *, family: str, where: str = "", quarter: str = "", unit: str = "") -> None:
        """Add `sum(pairs) (<=|>=|==) rhs` under a unique name."""
        pairs = list(pairs)
        if family in self.relax and sense != "==":
            slack = self.prob.add_variable(safe_name("slack", name), lowBound=0, upBound=None, cat="Continuous")
            self.vars.setdefault("slack", {})[name] = slack
            pairs.append((slack, -1.0 if sense == "<=" else 1.0))
            self.add_objective("limit_slack", [(slack, self.relax[family])])
        expr = affine(pairs)
        if name in self.constraints:
            raise ValueError(f"duplicate constraint name {name}")
        s = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}[sense]
        self.prob += pulp.LpConstraint(expr, sense=s, rhs=rhs, name=name)
        self.constraints[name] = ConstraintInfo(
            family=family, where=where, quarter=quarter, unit=unit, rhs=rhs, sense=s,
            pairs=tuple((v.name, c) for v, c in expr.items()),
        )

    def add_objective(self, term: str, pairs: Pairs) -> None:
        """Register an objective term (capex, energy, ...) so results can split the objective."""
        self.objective_terms.setdefault(term, []).extend(pairs)

    def set_objective(self, sense: int = pulp.LpMinimize) -> None:
        self.prob.sense = sense
        self.prob.setObjective(affine(p for pairs in self.objective_terms.values() for p in pairs))

    @property
    def n_vars(self) -> int:
        return sum(len(d) for d in self.vars.values())

    @property
    def n_int_vars(self) -> int:
        return sum(1 for d in self.vars.values() for v in d.values() if v.cat == pulp.LpInteger)
