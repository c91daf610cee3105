"""Right-sizing quality: kcost's strategy against VPA and KRR "simple" on a usage trace.

Prints, per strategy, the requested cost, CPU shortfall, memory pressure, OOMs and slack
over the evaluation days, and kcost's ratios to the better of the two references.
The same as `kcost bench quality`.

Usage: python bench/quality.py --traces FILE.csv.gz [--train-days 14] [--eval-days 14] [--json]
"""

from __future__ import annotations

from kcost.cli import bench

if __name__ == "__main__":
    bench.quality.main(prog_name="python bench/quality.py")
