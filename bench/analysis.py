"""Analysis at scale: N workloads with 14 days of history at 60 s, end to end on the local stack.

For N = 1,000, 5,000 and 10,000 (each in a cluster of its own), three runs each: the
earlier read path (before), the current one (after), and the current one again on
unchanged data (with the recommendations that run wrote). Per run: wall time from
creating the Analysis to Succeeded, the analyzer's read wait / size / write split, its
peak RSS, its Prometheus requests and those of all clients, CPU seconds per process; then
after ÷ before per N and the growth with N. The same as `kcost bench analysis`.

Usage: python bench/analysis.py [--workloads N ...] [--namespaces 50] [--no-baseline] [--json]
"""

from __future__ import annotations

from kcost.cli import bench_analysis

if __name__ == "__main__":
    bench_analysis.analysis.main(prog_name="python bench/analysis.py")
