"""Building the few live formulas the workbook uses: conditional sums that survive hostile labels.

SUMIF/SUMIFS read their criterion as a pattern: a label starting with `=`, `<` or `>`, containing `*`,
`?` or `~`, looking like a number, or differing from another label only in case would match the wrong
rows. For such labels we fall back to SUMPRODUCT(--EXACT(range, cell), sum_range), an exact,
case-sensitive match. Criteria always point at the label's cell; label text never enters a formula.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def quote_sheet(name: str) -> str:
    """Sheet name as used in a reference: `'Purchase orders'`."""
    return "'" + name.replace("'", "''") + "'"


def criterion_safe(label: str) -> bool:
    """True if SUMIF would match `label` exactly (as text, ignoring case)."""
    if not label or label != label.strip() or label[0] in "=<>" or any(ch in label for ch in "*?~"):
        return False
    try:
        float(label)
    except ValueError:
        return True
    return False


def labels_need_exact(labels: Iterable[str]) -> bool:
    """True if any label is unsafe as a SUMIF criterion or two labels differ only in case."""
    seen: set[str] = set()
    for label in labels:
        folded = label.casefold()
        if not criterion_safe(label) or folded in seen:
            return True
        seen.add(folded)
    return False


def conditional_sum(sum_range: str, conditions: Sequence[tuple[str, str]], exact: bool) -> str:
    """`=SUMIF(...)` / `=SUMIFS(...)` over (criteria_range, criterion_cell) pairs, or the EXACT fallback."""
    if not conditions:
        return f"=SUM({sum_range})"
    if exact:
        tests = "*".join(f"EXACT({rng},{cell})" for rng, cell in conditions)
        return f"=SUMPRODUCT(--({tests}),{sum_range})" if len(conditions) > 1 else \
            f"=SUMPRODUCT(--{tests},{sum_range})"
    if len(conditions) == 1:
        rng, cell = conditions[0]
        return f"=SUMIF({rng},{cell},{sum_range})"
    pairs = ",".join(f"{rng},{cell}" for rng, cell in conditions)
    return f"=SUMIFS({sum_range},{pairs})"
