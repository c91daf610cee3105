"""Units every part of kcost computes with, defined once."""

from __future__ import annotations

#: Bytes in a mebibyte (Mi) and a gibibyte (Gi), as Kubernetes quantities count them.
MIB = 1024**2
GIB = 1024**3
#: Hours in a month as cloud providers and OpenCost bill them (365 × 24 / 12 = 730).
HOURS_PER_MONTH = 730.0
