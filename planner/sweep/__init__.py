"""`planner sweep`: the same scenario re-planned over a grid or sample of `--set` what-ifs, locally or on Ray."""

#: the most points one sweep plans (grid size, `--samples`, values of one `--param`)
MAX_POINTS = 10_000
#: the most parallel plans of a local sweep (`--workers`)
MAX_WORKERS = 256
#: plan statuses cached for good by `sweep` and `compare`: proven optimal (on the real or the reduced option set) or
#: proven infeasible. A time-limited plan (`feasible`), a solver failure or a crash is planned again next time.
FINAL_STATUSES = frozenset({"optimal", "optimal_in_reduced_set", "infeasible"})
