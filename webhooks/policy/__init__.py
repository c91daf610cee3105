"""The policy engine: which OptimizationPolicy governs a workload, and what it allows.

Pure functions over the API types, used by the operator (auto-approval, rollouts) and
by the admission webhook (approvals that break a policy are refused).
"""
