"""The learned parts' cost in an analysis of the demo: sizing with rules only vs with anomaly screening and the
calibrated confidence, the same run, several repeats, medians and their ratio (budget ×1.2). The same as
`kcost bench ml-overhead`.

Usage: python bench/ml_overhead.py [--repeats 7] [--json]
"""

from __future__ import annotations

from kcost.cli import bench_ml_overhead

if __name__ == "__main__":
    bench_ml_overhead.ml_overhead.main(prog_name="python bench/ml_overhead.py")
