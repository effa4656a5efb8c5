"""Results: read and validate `plan.json`, tidy tables, key figures and checks, atomic file writing.

Modules: `plan_io` (read_plan, validate_plan), `atomic` (atomic_write, write_json_atomic), `tables`
(plan_tables), `summary` (key figures and findings in words), `reconcile` (money identities),
`comparison` (figures across scenarios), `units` (formats).
"""
