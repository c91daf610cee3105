"""Daily cost forecast: prophet against seasonal-naive and linear-trend, backtested on a usage trace.

Prints, per training length and method, MAPE and 80% interval coverage over the next days,
and the verdict (which method the forecast uses by default). The same as `kcost bench forecast`.

Usage: python bench/forecast.py --traces FILE.csv.gz [--group-size 10] [--train-days 14 ...] [--json]
"""

from __future__ import annotations

from kcost.cli import bench_forecast

if __name__ == "__main__":
    bench_forecast.forecast.main(prog_name="python bench/forecast.py")
