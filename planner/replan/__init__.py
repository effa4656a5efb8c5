"""The quarterly planning cycle: re-plan from last quarter's plan (`planner replan`).

roll_forward (committed orders become fleet, past forecast rows dropped, spent budget deducted)
-> the usual sets and model -> order-change penalties (solvers/replan_orders.py) -> solve -> what changed and why.
"""
