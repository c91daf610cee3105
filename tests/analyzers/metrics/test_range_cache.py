"""The range cache: a re-run's answer is the full read's, bit for bit, from a short read of the new steps."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from kcost.analyzers.metrics import range_cache
from kcost.analyzers.metrics.prometheus import PrometheusClient, RangeSeries
from kcost.analyzers.metrics.range_cache import RangeCache

STEP_S = 60.0
T0_S = 1_700_000_040.0  # a multiple of the step
MARGIN_S = range_cache.margin_steps(STEP_S) * STEP_S


@dataclass
class FakeSeries:
    labels: dict[str, str]
    first_s: float
    last_s: float
    value: Callable[[float], float] = lambda t: t / 7.0


@dataclass
class FakePrometheus:
    """Points on the grid of each series' life, evaluated like Prometheus: each step on its own."""

    series: list[FakeSeries]
    url: str = "http://prometheus:9090"
    asked: list[tuple[float, float]] = field(default_factory=list)

    async def query_range(self, promql: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        self.asked.append((start_s, end_s))
        grid = np.arange(start_s, end_s + step_s / 2, step_s)
        answer = []
        for item in sorted(self.series, key=lambda s: sorted(s.labels.items())):
            times = grid[(grid >= item.first_s) & (grid <= item.last_s)]
            if times.size:
                values = np.array([item.value(t) for t in times])
                answer.append(RangeSeries(dict(item.labels), np.column_stack((times, values))))
        return answer


def _client(fake: FakePrometheus) -> PrometheusClient:
    return cast(PrometheusClient, fake)


def _assert_identical(got: list[RangeSeries], want: list[RangeSeries]) -> None:
    assert [s.labels for s in got] == [s.labels for s in want]
    for mine, theirs in zip(got, want, strict=True):
        assert mine.points.dtype == theirs.points.dtype
        assert mine.points.tobytes() == theirs.points.tobytes(), mine.labels


class Clock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def _cache(tmp_path: Path, clock: Clock | None = None) -> RangeCache:
    return RangeCache(tmp_path / "ranges", clock=clock or Clock(T0_S + 10_000))


def _window(first_step: int, last_step: int) -> tuple[float, float]:
    return T0_S + first_step * STEP_S, T0_S + last_step * STEP_S


async def test_a_slid_window_reads_only_the_new_steps_and_answers_as_a_full_read(tmp_path: Path) -> None:
    fake = FakePrometheus(
        [
            FakeSeries({"pod": "a"}, T0_S, T0_S + 1e6),
            FakeSeries({"pod": "b", "container": "x"}, T0_S + 50 * STEP_S, T0_S + 1e6, lambda t: float("nan")),
        ]
    )
    cache = _cache(tmp_path)
    first = await cache.query_range(_client(fake), "q", *_window(0, 100), STEP_S)
    _assert_identical(first, await fake.query_range("q", *_window(0, 100), STEP_S))

    fake.asked.clear()
    second = await cache.query_range(_client(fake), "q", *_window(10, 130), STEP_S)
    assert fake.asked == [(T0_S + 100 * STEP_S - MARGIN_S, T0_S + 130 * STEP_S)], "only the new steps and the margin"
    _assert_identical(second, await fake.query_range("q", *_window(10, 130), STEP_S))
    assert (cache.incremental_reads, cache.full_reads) == (1, 1)


async def test_new_and_ended_series_are_those_of_a_full_read(tmp_path: Path) -> None:
    fake = FakePrometheus(
        [
            FakeSeries({"pod": "ended-in-window"}, T0_S, T0_S + 60 * STEP_S),
            FakeSeries({"pod": "ended-before-window"}, T0_S, T0_S + 5 * STEP_S),
            FakeSeries({"pod": "steady"}, T0_S, T0_S + 1e6),
            FakeSeries({"pod": "new"}, T0_S + 110 * STEP_S, T0_S + 1e6),
            FakeSeries({"pod": "new-in-margin"}, T0_S + 98 * STEP_S, T0_S + 1e6),
        ]
    )
    cache = _cache(tmp_path)
    await cache.query_range(_client(fake), "q", *_window(0, 100), STEP_S)
    second = await cache.query_range(_client(fake), "q", *_window(20, 140), STEP_S)
    full = await fake.query_range("q", *_window(20, 140), STEP_S)
    _assert_identical(second, full)
    assert "ended-before-window" not in {s.labels["pod"] for s in second}


async def test_the_margin_is_read_again_and_overrides_the_cached_points(tmp_path: Path) -> None:
    late = {"arrived": False}

    def value(t: float) -> float:
        # A sample that reached Prometheus after the first read changed the last steps it had.
        return 2.0 if late["arrived"] and t > T0_S + 100 * STEP_S - MARGIN_S else 1.0

    fake = FakePrometheus([FakeSeries({"pod": "a"}, T0_S, T0_S + 1e6, value)])
    cache = _cache(tmp_path)
    await cache.query_range(_client(fake), "q", *_window(0, 100), STEP_S)
    late["arrived"] = True
    second = await cache.query_range(_client(fake), "q", *_window(0, 105), STEP_S)
    _assert_identical(second, await fake.query_range("q", *_window(0, 105), STEP_S))
    assert second[0].points[-1, 1] == 2.0


async def test_a_re_run_on_the_same_step_reads_the_margin_only(tmp_path: Path) -> None:
    fake = FakePrometheus([FakeSeries({"pod": "a"}, T0_S, T0_S + 1e6)])
    cache = _cache(tmp_path)
    await cache.query_range(_client(fake), "q", *_window(0, 100), STEP_S)
    fake.asked.clear()
    again = await cache.query_range(_client(fake), "q", *_window(0, 100), STEP_S)
    assert fake.asked == [(T0_S + 100 * STEP_S - MARGIN_S, T0_S + 100 * STEP_S)]
    _assert_identical(again, await fake.query_range("q", *_window(0, 100), STEP_S))


@pytest.mark.parametrize(
    ("why", "second_window", "second_step_s"),
    [
        ("another step", (T0_S, T0_S + 240 * STEP_S), 2 * STEP_S),
        ("slid past the cached end", _window(101, 200), STEP_S),
        ("starts before the cached answer", _window(-50, 120), STEP_S),
        ("ends before the cached answer", _window(0, 90), STEP_S),
        ("another grid", (T0_S + 30, T0_S + 30 + 120 * STEP_S), STEP_S),
    ],
)
async def test_what_the_cache_cannot_give_is_read_whole(
    tmp_path: Path, why: str, second_window: tuple[float, float], second_step_s: float
) -> None:
    fake = FakePrometheus([FakeSeries({"pod": "a"}, T0_S - 1e6, T0_S + 1e6)])
    cache = _cache(tmp_path)
    await cache.query_range(_client(fake), "q", *_window(0, 100), STEP_S)
    fake.asked.clear()
    answer = await cache.query_range(_client(fake), "q", *second_window, second_step_s)
    assert fake.asked == [second_window], why
    _assert_identical(answer, await fake.query_range("q", *second_window, second_step_s))
    assert cache.incremental_reads == 0


async def test_an_answer_older_than_the_maximum_age_is_read_whole_even_after_incremental_reads(
    tmp_path: Path,
) -> None:
    fake = FakePrometheus([FakeSeries({"pod": "a"}, T0_S, T0_S + 1e6)])
    clock = Clock(T0_S + 100 * STEP_S)
    cache = RangeCache(tmp_path, max_age_s=3600, clock=clock)
    await cache.query_range(_client(fake), "q", *_window(0, 100), STEP_S)
    clock.now_s += 1800
    await cache.query_range(_client(fake), "q", *_window(30, 130), STEP_S)
    assert cache.incremental_reads == 1
    clock.now_s += 1801  # an hour since the whole window was read, half an hour since the last read
    fake.asked.clear()
    await cache.query_range(_client(fake), "q", *_window(60, 160), STEP_S)
    assert fake.asked == [_window(60, 160)]


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: raw[:-9] + bytes([raw[-9] ^ 1]) + raw[-8:],  # a flipped bit in the points
        lambda raw: b"not a cache file",
        lambda raw: raw.replace(b'"q"', b'"r"', 1),  # another query's file under this name
        lambda raw: b"",
    ],
)
async def test_a_damaged_file_costs_a_full_read_never_an_answer(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    fake = FakePrometheus([FakeSeries({"pod": "a"}, T0_S, T0_S + 1e6)])
    cache = _cache(tmp_path)
    await cache.query_range(_client(fake), "q", *_window(0, 100), STEP_S)
    path = cache.path_of(fake.url, "q", STEP_S)
    path.write_bytes(damage(path.read_bytes()))
    fake.asked.clear()
    answer = await cache.query_range(_client(fake), "q", *_window(10, 110), STEP_S)
    assert fake.asked == [_window(10, 110)]
    _assert_identical(answer, await fake.query_range("q", *_window(10, 110), STEP_S))


async def test_a_changed_past_is_noticed_on_the_first_step_read_again(tmp_path: Path) -> None:
    # Another Prometheus behind the same URL (a port-forward to another cluster), or backfilled history.
    fake = FakePrometheus([FakeSeries({"pod": "a"}, T0_S, T0_S + 1e6)])
    cache = _cache(tmp_path)
    await cache.query_range(_client(fake), "q", *_window(0, 100), STEP_S)
    fake.series = [FakeSeries({"pod": "a"}, T0_S, T0_S + 1e6, lambda t: t / 3.0)]
    fake.asked.clear()
    answer = await cache.query_range(_client(fake), "q", *_window(10, 110), STEP_S)
    assert fake.asked[-1] == _window(10, 110), "then read whole"
    _assert_identical(answer, await fake.query_range("q", *_window(10, 110), STEP_S))
    assert cache.disagreements == 1


async def test_an_unwritable_folder_only_costs_full_reads(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("")
    fake = FakePrometheus([FakeSeries({"pod": "a"}, T0_S, T0_S + 1e6)])
    cache = RangeCache(tmp_path / "file" / "ranges")
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            answer = await cache.query_range(_client(fake), "q", *_window(0, 100), STEP_S)
            _assert_identical(answer, await fake.query_range("q", *_window(0, 100), STEP_S))
    assert cache.full_reads == 2
    assert len([r for r in caplog.records if "not written" in r.message]) == 1, "said once"


async def test_the_file_holds_labels_and_raw_points_only(tmp_path: Path) -> None:
    fake = FakePrometheus([FakeSeries({"pod": "a"}, T0_S, T0_S + 1e6)])
    cache = _cache(tmp_path)
    await cache.query_range(_client(fake), "q", *_window(0, 9), STEP_S)
    raw = cache.path_of(fake.url, "q", STEP_S).read_bytes()
    assert raw.startswith(range_cache.MAGIC)
    points = (await fake.query_range("q", *_window(0, 9), STEP_S))[0].points
    assert raw.endswith(points.astype("<f8").tobytes())
    assert not list(cache.directory.glob(".partial-*")), "no temporary file left"


def test_prune_deletes_only_files_not_written_for_twice_the_maximum_age(tmp_path: Path) -> None:
    (tmp_path / "old.range").write_bytes(b"x")
    (tmp_path / "recent.range").write_bytes(b"x")
    os.utime(tmp_path / "old.range", (T0_S - 3 * 3600, T0_S - 3 * 3600))
    os.utime(tmp_path / "recent.range", (T0_S - 3600, T0_S - 3600))
    cache = RangeCache(tmp_path, max_age_s=3600, clock=Clock(T0_S))
    assert cache.prune() == 1
    assert [p.name for p in tmp_path.iterdir()] == ["recent.range"]
