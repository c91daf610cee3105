"""Anomaly-aware sizing: leave a workload's anomalous hours out of what a strategy learns from.

Every container's usage goes through ``kcost.ml.anomaly`` (hourly windows of CPU and
memory). The samples in anomalous hours are dropped before sizing, so a one-off spike,
a drop or a leak that a restart ended does not set the requests. Where more than
``MAX_ANOMALOUS_SHARE`` of the hours are flagged, the "anomaly" is the workload's own
pattern: nothing is dropped and nothing is reported. Usage is anomalous *now* when one
of the last ``ONGOING_HOURS`` is flagged; auto-apply then holds the change.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kcost.analyzers.rightsizing.history import UsageHistory
from kcost.analyzers.rightsizing.stats import FloatArray
from kcost.api.v1alpha1.recommendation import UsageAnomaly
from kcost.ml import anomaly

MAX_ANOMALOUS_SHARE = 0.2
ONGOING_HOURS = 3


@dataclass(frozen=True)
class Screened:
    """A container's history without its anomalous hours, and what was found."""

    history: UsageHistory
    detection: anomaly.Detection | None

    @property
    def ongoing(self) -> bool:
        if self.detection is None or self.history.ts_s.size == 0:
            return False
        last_hour_s = float(np.floor(self.detection.start_s[-1] / anomaly.HOUR_S) * anomaly.HOUR_S)
        return self.detection.recent(last_hour_s - (ONGOING_HOURS - 1) * anomaly.HOUR_S)


def screen(
    history: UsageHistory, method: anomaly.Method = anomaly.DEFAULT_METHOD, *, until_s: float | None = None
) -> Screened:
    """``history`` without the samples of anomalous hours (unchanged when none or too many are flagged);
    ``until_s``: the window's end (the hour it falls in is not judged: most of it is still to come)."""
    usage = anomaly.hourly(history.ts_s, history.cpu_cores, history.memory_bytes, until_s=until_s)
    detection = anomaly.detect(usage, method)
    if detection.count == 0 or detection.count > MAX_ANOMALOUS_SHARE * usage.start_s.size:
        return Screened(history, None)
    keep = ~detection.sample_mask(history.ts_s)
    kept = UsageHistory(
        ts_s=history.ts_s[keep],
        cpu_cores=history.cpu_cores[keep],
        memory_bytes=history.memory_bytes[keep],
        oom_events=history.oom_events,  # an OOM kill is never an anomaly to forget
        current=history.current,
    )
    return Screened(kept, detection)


@dataclass(frozen=True)
class Found:
    """What screening found in one container, without its samples: all the evidence reports."""

    method: anomaly.Method
    hours_s: FloatArray  # the start of each anomalous hour
    ongoing: bool

    @classmethod
    def of(cls, screened: Screened) -> Found | None:
        if screened.detection is None:
            return None
        detection = screened.detection
        return cls(detection.method, detection.start_s[detection.anomalous], screened.ongoing)


def _at(start_s: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(start_s, datetime.UTC)


def evidence(screened: Sequence[Screened | Found | None]) -> UsageAnomaly | None:
    """What the recommendation's evidence says about anomalies over all of a workload's containers."""
    found = [one for one in (Found.of(s) if isinstance(s, Screened) else s for s in screened) if one is not None]
    if not found:
        return None
    hours = np.unique(np.concatenate([one.hours_s for one in found]))
    return UsageAnomaly(
        method=found[0].method.value,
        anomalous_hours=int(hours.size),
        first_at=_at(float(hours[0])),
        last_at=_at(float(hours[-1])),
        ongoing=any(one.ongoing for one in found),
    )
