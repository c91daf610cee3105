"""The apply engine: approved changes reach workloads through a canary, health gates and rollback.

All state lives in the recommendation's ``status.rollout`` and ``status.previous``,
so an operator killed at any point resumes (or rolls back) from there.
"""
