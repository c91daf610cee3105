"""Churn: how often each strategy's proposal for a workload changes over daily runs, with and without hysteresis.

Replays a usage trace as 14 daily runs (each window ends a day later) and prints, per
strategy, the changes and rollouts per workload (median, p95), the cost ratio against the
better of vpa and krr-simple, and what hysteresis costs in points of that ratio.
The same as `kcost bench churn`.

Usage: python bench/churn.py --traces FILE.csv.gz [--runs 14] [--train-days 14] [--min-change-percent 10] [--json]
"""

from __future__ import annotations

from kcost.cli import bench

if __name__ == "__main__":
    bench.churn.main(prog_name="python bench/churn.py")
