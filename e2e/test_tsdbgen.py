"""Blocks written by ``tsdbgen`` (a recent tsdb library) as read by the harness's Prometheus 2.42.

Two days at 60 s of a few series are written, copied into a fresh data folder, and
queried through the HTTP API: every raw sample must come back with the timestamp and
value the reference model (``tsdbgen.expected_values``) gives, gaps included.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from rich.console import Console

from kcost.devcluster import processes, prometheus, tsdbgen
from kcost.devcluster.tsdbgen import GeneratedSeries

STEP_MS = 60_000
DAYS = 2
N_SAMPLES = DAYS * 24 * 60
# UTC midnight three days ago: whole days in the past, the blocks on day boundaries.
START_MS = (int(time.time()) // 86_400 - DAYS - 1) * tsdbgen.DAY_MS
END_MS = START_MS + (N_SAMPLES - 1) * STEP_MS  # the last sample


def _profiles() -> list[npt.NDArray[np.float64]]:
    rng = np.random.default_rng(7)
    steps = np.arange(N_SAMPLES)
    # A counter: CPU seconds used, so it only grows.
    counter = np.cumsum(rng.uniform(0.0, 30.0, N_SAMPLES))
    # A daily gauge shape with gaps: an hour-long outage on day one and scattered misses.
    gauge = 0.6 + 0.3 * np.sin(steps / 1440 * 2 * np.pi) + rng.normal(0, 0.02, N_SAMPLES)
    gauge[600:660] = np.nan
    gauge[rng.choice(N_SAMPLES, 40, replace=False)] = np.nan
    return [counter, gauge]


SERIES = (
    GeneratedSeries({"__name__": "kcost_test_cpu_seconds_total", "pod": "web-0", "namespace": "shop"}, 0),
    GeneratedSeries({"namespace": "shop", "pod": "web-1", "__name__": "kcost_test_cpu_seconds_total"}, 0, scale=0.5),
    GeneratedSeries({"__name__": "kcost_test_memory_bytes", "pod": "web-0"}, 1, scale=512 * 2**20, round_to=4096),
    GeneratedSeries({"__name__": "kcost_test_memory_limit_bytes", "pod": "web-0"}, None, constant=2**30),
)


def _selector(series: GeneratedSeries) -> str:
    matchers = [f'{name}="{value}"' for name, value in series.labels.items() if name != "__name__"]
    return f"{series.labels['__name__']}{{{','.join(matchers)}}}"


@dataclass(frozen=True)
class Loaded:
    url: str
    report: tsdbgen.WriteReport
    profiles: list[npt.NDArray[np.float64]]
    log: Path

    def query(self, promql: str, at_ms: int) -> list[dict[str, Any]]:
        return self._get("query", {"query": promql, "time": f"{at_ms / 1000:.3f}"})

    def query_range(self, promql: str, start_ms: int, end_ms: int, step_s: int) -> list[dict[str, Any]]:
        params = {"query": promql, "start": f"{start_ms / 1000:.3f}", "end": f"{end_ms / 1000:.3f}", "step": step_s}
        return self._get("query_range", params)

    def _get(self, endpoint: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v1/{endpoint}?{urllib.parse.urlencode(params)}", timeout=30) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def expected(self, series: GeneratedSeries) -> npt.NDArray[np.float64]:
        return tsdbgen.expected_values(series, self.profiles, N_SAMPLES)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The blocks written, installed in a fresh data folder, and Prometheus 2.42 started over them."""
    prometheus.require_installed()
    work = tmp_path_factory.mktemp("tsdbgen")
    console = Console(stderr=True)
    tsdbgen.ensure_tsdbgen(console)
    profiles = _profiles()
    report = tsdbgen.write_blocks(
        work / "blocks",
        start_ms=START_MS,
        step_ms=STEP_MS,
        n_samples=N_SAMPLES,
        profiles=profiles,
        series=SERIES,
        workers=2,
        console=console,
    )
    assert prometheus.install_blocks(work / "blocks", work / "data") == DAYS
    port = processes.free_port()
    pid = prometheus.start(work / "data", port, work / "logs")
    try:
        yield Loaded(f"http://127.0.0.1:{port}", report, profiles, work / "logs" / "prometheus.log")
    finally:
        processes.stop(pid)


def test_one_block_per_day_without_overlap(loaded: Loaded) -> None:
    assert len(loaded.report.blocks) == DAYS
    metas = sorted(
        (json.loads((block / "meta.json").read_text()) for block in loaded.report.blocks),
        key=lambda meta: meta["minTime"],
    )
    day_starts = [START_MS + day * tsdbgen.DAY_MS for day in range(DAYS)]
    assert [meta["minTime"] for meta in metas] == day_starts
    # maxTime is exclusive: one past the day's last sample.
    assert [meta["maxTime"] for meta in metas] == [start + tsdbgen.DAY_MS - STEP_MS + 1 for start in day_starts]
    for earlier, later in itertools.pairwise(metas):
        assert earlier["maxTime"] <= later["minTime"], f"{earlier['ulid']} overlaps {later['ulid']}"
    assert all(meta["stats"]["numSeries"] == len(SERIES) for meta in metas)
    written = sum(int(np.count_nonzero(~np.isnan(loaded.expected(series)))) for series in SERIES)
    assert sum(meta["stats"]["numSamples"] for meta in metas) == loaded.report.samples == written


def test_every_raw_sample_reads_back_exactly(loaded: Loaded) -> None:
    # A range selector in an instant query returns the stored samples themselves.
    for series in SERIES:
        result = loaded.query(f"{_selector(series)}[{DAYS + 1}d]", END_MS)
        assert len(result) == 1, f"{_selector(series)}: {result}"
        assert result[0]["metric"] == dict(series.labels)
        timestamps = np.array([round(float(t) * 1000) for t, _ in result[0]["values"]])
        values = np.array([float(v) for _, v in result[0]["values"]])
        expected = loaded.expected(series)
        present = ~np.isnan(expected)
        np.testing.assert_array_equal(timestamps, START_MS + np.flatnonzero(present) * STEP_MS, err_msg=str(series))
        np.testing.assert_array_equal(values, expected[present], err_msg=str(series))


def test_gaps_counts_and_extremes_match_the_profiles(loaded: Loaded) -> None:
    memory = SERIES[2]
    expected = loaded.expected(memory)
    assert np.isnan(expected).sum() > 60, "the profile has gaps to find"
    count = float(loaded.query(f"count_over_time({_selector(memory)}[{DAYS + 1}d])", END_MS)[0]["value"][1])
    assert count == np.count_nonzero(~np.isnan(expected))
    day_one_end = START_MS + tsdbgen.DAY_MS - STEP_MS
    peak = float(loaded.query(f"max_over_time({_selector(memory)}[1d])", day_one_end)[0]["value"][1])
    assert peak == np.nanmax(expected[:1440])
    assert peak % 4096 == 0, "rounded to pages"
    limit = loaded.query(f"max_over_time({_selector(SERIES[3])}[{DAYS + 1}d])", END_MS)[0]["value"][1]
    assert float(limit) == 2**30
    # The counter at half scale grows half as fast.
    rates = {
        series.labels["pod"]: float(result["value"][1])
        for series in SERIES[:2]
        for result in loaded.query(f"increase({_selector(series)}[1d])", END_MS)
    }
    assert rates["web-1"] == pytest.approx(rates["web-0"] / 2, rel=1e-9)


def test_range_query_sees_the_samples_at_their_timestamps(loaded: Loaded) -> None:
    counter = SERIES[1]
    expected = loaded.expected(counter)
    # One evaluation per hour, on sample timestamps: each must be that step's value.
    result = loaded.query_range(_selector(counter), START_MS, END_MS, 3600)
    assert len(result) == 1
    got = {round(float(t) * 1000): float(v) for t, v in result[0]["values"]}
    want = {START_MS + k * STEP_MS: float(expected[k]) for k in range(0, N_SAMPLES, 60)}
    assert got == want


def test_prometheus_logged_no_block_trouble(loaded: Loaded) -> None:
    loaded.query("up", END_MS)  # the server is still answering
    log = loaded.log.read_text(errors="replace").lower()
    for word in ("overlap", "corrupt", "invalid block", "error"):
        assert word not in log, f"{word!r} in the Prometheus log:\n{log[-3000:]}"


def test_malformed_input_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    tool = str(tsdbgen.ensure_tsdbgen())
    bad_magic = subprocess.run([tool, str(tmp_path)], input=b"NOTTSDB\n", capture_output=True, check=False)
    assert bad_magic.returncode == 2
    assert b'malformed input: does not start with the magic "KCTSDB1\\n"' in bad_magic.stderr
    request = b"".join(
        tsdbgen.encode(
            start_ms=START_MS,
            step_ms=STEP_MS,
            n_samples=3,
            profiles=[np.ones(3)],
            series=[GeneratedSeries({"__name__": "x"}, 0)],
        )
    )
    truncated = subprocess.run([tool, str(tmp_path)], input=request[:-5], capture_output=True, check=False)
    assert truncated.returncode == 2
    assert b"malformed input: series 0 of 1" in truncated.stderr
    trailing = subprocess.run([tool, str(tmp_path)], input=request + b"x", capture_output=True, check=False)
    assert trailing.returncode == 2
    assert b"unexpected bytes after the last series" in trailing.stderr
    assert list(tmp_path.iterdir()) == [], "no block from a refused request"
