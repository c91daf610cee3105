"""Range answers kept on disk, so that a re-run asks Prometheus only for the steps since the last run.

Every usage query of a run reads a grid of whole steps since the epoch (``QueryPlan``), and
Prometheus evaluates each step of a range query on its own: a point an earlier run read at
time t is the point a new run reads at t, as long as the samples before t did not change. So
a read of [start, end] keeps the cached points up to a margin before the cached answer's end
and asks Prometheus only for the rest: one request as before, for a few steps instead of
the whole window.

One file per (Prometheus URL, PromQL, step), i.e. per query of a namespace: a run loads one
at a time and never holds the whole cluster's. A file is a magic line, a JSON header (the
key, the grid, each series' labels and length, a CRC of the points) and the points as raw
little-endian float64, exactly as decoded from Prometheus: answers from the cache are
bit-identical to a full read. No pickle: a file is data only.

The cache is only a cache: a missing, unreadable, corrupt or foreign file, another grid or
an answer older than ``max_age_s`` costs a full read, never an answer; a failed write is
logged and the run goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from kcost.analyzers.metrics.prometheus import PrometheusClient, RangeSeries

log = logging.getLogger("kcost.analyzers.metrics.range_cache")

MAGIC = b"kcost-range-cache 1\n"
# Samples may reach Prometheus this long after their timestamp and still change a point:
# a raw selector reads the last sample up to the lookback delta (5 minutes) back, a scrape
# or a staleness marker lands up to an interval late. Points within this of the cached
# end (plus the step under evaluation) are read again; anything later is bounded by max_age_s.
LATE_SAMPLES_S = 300
DEFAULT_MAX_AGE_S = 24 * 3600.0
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class _Header(msgspec.Struct, frozen=True):
    url: str
    promql: str
    step_s: float
    start_s: float
    end_s: float
    # When the whole window was last read: incremental reads keep it, so a changed past lasts max_age_s at most.
    full_read_at_s: float
    labels: list[dict[str, str]]
    lengths: list[int]  # points per series
    crc32: int


@dataclass(frozen=True)
class CachedAnswer:
    """A range answer as cached: its grid and series, and when its whole window was last read from Prometheus."""

    start_s: float
    end_s: float
    step_s: float
    full_read_at_s: float
    series: list[RangeSeries]


def margin_steps(step_s: float) -> int:
    """Steps before the cached end that are read again: those late samples could still change, and one more."""
    return math.ceil(LATE_SAMPLES_S / step_s) + 1


def reusable_until(cached: CachedAnswer, start_s: float, end_s: float, step_s: float) -> float | None:
    """The time from which a read of [start_s, end_s] must ask Prometheus, or None for the whole window.

    The cached points before it are final; None when the cached answer does not cover the
    window's start, lies on another grid or ends outside the window (slid past it, or a later
    window than this one), or when what is left to keep is nothing.
    """
    if cached.step_s != step_s or cached.start_s > start_s or not start_s <= cached.end_s <= end_s:
        return None
    steps_apart = (cached.end_s - start_s) / step_s
    if steps_apart != round(steps_apart):
        return None
    fresh_from_s = cached.end_s - margin_steps(step_s) * step_s
    return fresh_from_s if fresh_from_s > start_s else None


def _label_key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    # Prometheus returns a matrix sorted by label set, pair by pair: the same order as these tuples.
    return tuple(sorted(labels.items()))


def merge(
    cached: Iterable[RangeSeries], fresh: Iterable[RangeSeries], start_s: float, fresh_from_s: float
) -> list[RangeSeries]:
    """The answer of a full read: cached points in [start_s, fresh_from_s), then Prometheus' from fresh_from_s on.

    A series only in the cache keeps its points in the window (it ended since); one only in the
    fresh answer is new. Series without a point in the window are left out, as Prometheus would.
    """
    parts: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[FloatArray]]] = {}
    for item in cached:
        times = item.points[:, 0]
        kept = item.points[np.searchsorted(times, start_s) : np.searchsorted(times, fresh_from_s)]
        if kept.size:
            parts[_label_key(item.labels)] = (item.labels, [kept])
    for item in fresh:
        new = item.points[np.searchsorted(item.points[:, 0], fresh_from_s) :]
        if new.size:
            parts.setdefault(_label_key(item.labels), (item.labels, []))[1].append(new)
    return [
        RangeSeries(labels, arrays[0] if len(arrays) == 1 else np.concatenate(arrays))
        for _, (labels, arrays) in sorted(parts.items(), key=lambda entry: entry[0])
    ]


def _points_at(series: Iterable[RangeSeries], at_s: float) -> dict[tuple[tuple[str, str], ...], bytes]:
    """Each series' value at ``at_s`` (its exact bits), for the series with a point there."""
    found = {}
    for item in series:
        times = item.points[:, 0]
        index = int(np.searchsorted(times, at_s))
        if index < times.size and times[index] == at_s:
            found[_label_key(item.labels)] = item.points[index, 1].tobytes()
    return found


def agrees(cached: Iterable[RangeSeries], fresh: Iterable[RangeSeries], at_s: float) -> bool:
    """Whether both answers have the same series with the same values at ``at_s``, a step both hold as final.

    The first step read again was older than the late-sample margin when it was cached: if it
    changed, so did the past (backfilled or deleted samples, another Prometheus behind the
    same URL), and the cached points cannot be trusted.
    """
    return _points_at(cached, at_s) == _points_at(fresh, at_s)


def encode(url: str, promql: str, answer: CachedAnswer) -> list[bytes | memoryview]:
    """The file's parts: magic, header length, header, then each series' points as raw float64."""
    payloads = [np.ascontiguousarray(item.points, dtype="<f8").data.cast("B") for item in answer.series]
    crc = 0
    for payload in payloads:
        crc = zlib.crc32(payload, crc)
    header = msgspec.json.encode(
        _Header(
            url=url,
            promql=promql,
            step_s=answer.step_s,
            start_s=answer.start_s,
            end_s=answer.end_s,
            full_read_at_s=answer.full_read_at_s,
            labels=[item.labels for item in answer.series],
            lengths=[len(item.points) for item in answer.series],
            crc32=crc,
        )
    )
    return [MAGIC, len(header).to_bytes(8, "little"), header, *payloads]


def decode(raw: bytearray, url: str, promql: str) -> CachedAnswer | None:
    """The cached answer of this query, or None if ``raw`` is not one (another query, truncated, corrupt)."""
    if not raw.startswith(MAGIC):
        return None
    at = len(MAGIC) + 8
    header_length = int.from_bytes(raw[len(MAGIC) : at], "little")
    try:
        header = msgspec.json.decode(raw[at : at + header_length], type=_Header)
    except msgspec.DecodeError:
        return None
    payload = memoryview(raw)[at + header_length :]
    points = sum(header.lengths)
    if (
        (header.url, header.promql) != (url, promql)
        or min(header.lengths, default=0) < 0
        or len(header.labels) != len(header.lengths)
        or len(payload) != points * 16
        or zlib.crc32(payload) != header.crc32
    ):
        return None
    flat = np.frombuffer(payload, dtype="<f8").reshape(-1, 2)
    offsets = np.cumsum([0, *header.lengths])
    series = [RangeSeries(labels, flat[offsets[i] : offsets[i + 1]]) for i, labels in enumerate(header.labels)]
    return CachedAnswer(header.start_s, header.end_s, header.step_s, header.full_read_at_s, series)


@dataclass
class RangeCache:
    """Range answers under ``directory``; counts the reads it served incrementally and in full.

    Each read makes one request, for the new steps or the whole window; two when the cached
    answer turns out stale (``agrees``): the new steps, then the whole window.
    """

    directory: Path
    max_age_s: float = DEFAULT_MAX_AGE_S
    clock: Callable[[], float] = time.time
    incremental_reads: int = 0
    full_reads: int = 0
    # Cached answers found to disagree with Prometheus on a step both hold as final (then read in full).
    disagreements: int = 0
    _write_failed: bool = field(default=False, repr=False)

    def path_of(self, url: str, promql: str, step_s: float) -> Path:
        digest = hashlib.sha256(f"{url}\0{promql}\0{step_s!r}".encode()).hexdigest()
        return self.directory / f"{digest[:40]}.range"

    async def query_range(
        self, prometheus: PrometheusClient, promql: str, start_s: float, end_s: float, step_s: float
    ) -> list[RangeSeries]:
        """What ``prometheus.query_range`` answers, asking it only for the steps the cache cannot give."""
        path = self.path_of(prometheus.url, promql, step_s)
        cached = await asyncio.to_thread(self._load, path, prometheus.url, promql)
        now_s = self.clock()
        fresh_from_s = None
        if cached is not None and now_s - cached.full_read_at_s <= self.max_age_s:
            fresh_from_s = reusable_until(cached, start_s, end_s, step_s)
        answer = None
        if cached is not None and fresh_from_s is not None:
            fresh = await prometheus.query_range(promql, fresh_from_s, end_s, step_s)
            if agrees(cached.series, fresh, fresh_from_s):
                self.incremental_reads += 1
                series = merge(cached.series, fresh, start_s, fresh_from_s)
                answer = CachedAnswer(start_s, end_s, step_s, cached.full_read_at_s, series)
            else:
                self.disagreements += 1
                log.info("range cache %s: the past changed at %.0f; reading the whole window", path.name, fresh_from_s)
            del fresh
        del cached
        if answer is None:
            self.full_reads += 1
            series = await prometheus.query_range(promql, start_s, end_s, step_s)
            answer = CachedAnswer(start_s, end_s, step_s, now_s, series)
        await asyncio.to_thread(self._store, path, prometheus.url, promql, answer)
        return series

    def _load(self, path: Path, url: str, promql: str) -> CachedAnswer | None:
        try:
            with path.open("rb") as file:
                raw = bytearray(os.fstat(file.fileno()).st_size)
                if file.readinto(raw) != len(raw):
                    return None
        except OSError:
            return None
        return decode(raw, url, promql)

    def _store(self, path: Path, url: str, promql: str, answer: CachedAnswer) -> None:
        temporary = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: a reader (the other analyzer, the next run) sees the old file or the new one.
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".partial-", delete=False) as file:
                temporary = Path(file.name)
                for part in encode(url, promql, answer):
                    file.write(part)
            os.replace(temporary, path)
        except OSError as error:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            if not self._write_failed:
                self._write_failed = True
                log.warning("range cache %s not written (re-runs read the whole window): %s", self.directory, error)

    def prune(self) -> int:
        """Delete files no run has written for twice ``max_age_s`` (namespaces and queries gone); returns how many."""
        removed = 0
        oldest_s = self.clock() - 2 * self.max_age_s
        try:
            entries = list(self.directory.iterdir())
        except OSError:
            return 0
        for entry in entries:
            try:
                if entry.stat().st_mtime < oldest_s:
                    entry.unlink()
                    removed += 1
            except OSError:
                continue
        return removed
