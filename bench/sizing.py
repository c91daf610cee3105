"""The rightsizing analyzer's sizing step on generated workloads, in process (no cluster): CPU seconds per
1,000 workloads, median of several runs; ``--digest`` prints a digest of the answers in every mode, equal
before and after a change that must give the same answers. The same as `kcost bench sizing`.

Usage: python bench/sizing.py [--workloads 2000] [--repeats 5] [--mode default|class-aware|rules] [--digest]
"""

from __future__ import annotations

from kcost.cli import bench_sizing

if __name__ == "__main__":
    bench_sizing.sizing.main(prog_name="python bench/sizing.py")
