"""Analysis at scale: N workloads with 14 days of history at 60 s, end to end on the local stack.

For N = 1,000, 5,000 and 10,000 (each in a cluster of its own): wall time from creating
the Analysis to Succeeded, the analyzer's peak RSS, its Prometheus requests and those of
all clients, and the ratios against the smallest N. The same as `kcost bench analysis`.

Usage: python bench/analysis.py [--workloads N ...] [--namespaces 50] [--json]
"""

from __future__ import annotations

from kcost.cli import bench_analysis

if __name__ == "__main__":
    bench_analysis.analysis.main(prog_name="python bench/analysis.py")
