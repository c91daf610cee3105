"""Anomaly detection: IsolationForest against a robust z-score on anomalies injected into a real trace.

Prints precision, recall and F1 per injected kind (spike, level shift, leak, drop) and
overall, with the verdict on which method is the default. The same as `kcost bench anomaly`.

Usage: python bench/anomaly.py --traces FILE.csv.gz [--seed 14] [--series N] [--json]
"""

from __future__ import annotations

from kcost.cli import bench_anomaly

if __name__ == "__main__":
    bench_anomaly.anomaly.main(prog_name="python bench/anomaly.py")
