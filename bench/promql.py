"""Prometheus's CPU for each way of asking it for usage (the fast path's, the old bare counter, the PromQL
per-second forms, memory peaks, and the decode floor), against a running dev cluster with history, with
ratios to the bare counter measured in the same round. The same as `kcost bench promql`.

Usage: python bench/promql.py [--dir DEV_CLUSTER_DIR] [--days 14] [--namespaces 10] [--repeats 3]
"""

from __future__ import annotations

from kcost.cli import bench_promql

if __name__ == "__main__":
    bench_promql.promql.main(prog_name="python bench/promql.py")
