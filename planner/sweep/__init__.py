"""`planner sweep`: the same scenario re-planned over a grid or sample of `--set` what-ifs, locally or on Ray."""
