"""The learned parts' cost in an analysis of the demo: the rightsizing analyzer's per-workload work with
`learned: false` vs true, and the sizing alone as an upper bound, the same run, several repeats, medians and
their ratios (budget ×1.2). The same as `kcost bench ml-overhead`.

Usage: python bench/ml_overhead.py [--repeats 7] [--json]
"""

from __future__ import annotations

from kcost.cli import bench_ml_overhead

if __name__ == "__main__":
    bench_ml_overhead.ml_overhead.main(prog_name="python bench/ml_overhead.py")
