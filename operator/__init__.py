"""kcost's kopf operator (``kcost.operator``): one module per kind, the reconcile logic, the rollout engine.

Imported as ``kcost.operator`` only: ``kcost/operator`` links to this folder, and a
top-level ``operator`` would clash with the standard library's module of that name.
"""
