"""The policy engine: what the OptimizationPolicy governing a workload allows.

Pure functions over the API types, used by the operator (auto-approval, rollouts) and
by the admission webhook (approvals that break a policy are refused). Which policy
governs a workload is ``kcost.api.matching``: the analyzers read it too (hysteresis).
"""
