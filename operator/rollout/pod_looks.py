"""When a gated rolling update's pods are worth listing, and what their last listing showed.

A Deployment's rolling update changes its status several times, and each change wakes
its rollout (the worker watches it): listing the pods at every such look made nine
listings a rollout at a thousand, most of them telling nothing the Deployment's own
status had not. The status says whether pods of the current template exist yet and
whether they are all Ready; what only a listing tells is which of them restart or are
OOM-killed. So a look lists them only where that can change the decision:

- rolling, once the status says the new pods are all Ready (the listing confirms it
  before the watch starts), and otherwise at most once per interval once new pods
  exist: a crash-looping pod never turns Ready, so the status never says so;
- watched, when the status says a pod is not Ready, at the window's end (the look
  that decides to keep the change), and otherwise at most once per interval (a pod
  that restarts can stay Ready: only its own status tells);
- rolling back or done, never: those decisions do not read health.

Kept in the worker's memory only: a restarted operator lists again.
"""

from __future__ import annotations

import dataclasses
import datetime
from enum import Enum
from typing import Any

from kcost.api.v1alpha1.recommendation import RolloutStage
from kcost.operator.rollout.canary import CanaryHealth

Key = tuple[str, str]  # the recommendation's namespace and name


class NewPods(Enum):
    """What a Deployment's own status says of the pods of its current template."""

    NONE_YET = "none yet"
    NOT_READY = "not all Ready"
    READY = "all Ready"


@dataclasses.dataclass(frozen=True)
class Look:
    """When the pods were last listed and what they showed; ``health`` None: not listed yet, and ``pods`` what the
    status said when this look was taken."""

    at: datetime.datetime
    health: CanaryHealth | None
    pods: NewPods | None = None


def new_pods(deployment: dict[str, Any]) -> NewPods:
    """From the Deployment's status alone: its current template's pods not created yet, not all Ready, or all Ready.
    Ready pods of the old template are subtracted as if all were Ready, so "all Ready" is never said too early."""
    status = deployment.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(deployment["metadata"].get("generation") or 0):
        return NewPods.NOT_READY  # the status still speaks of an earlier template
    replicas = int(deployment["spec"].get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    if updated == 0 and replicas > 0:
        return NewPods.NONE_YET
    old = max(0, int(status.get("replicas") or 0) - updated)
    new_ready_at_least = int(status.get("readyReplicas") or 0) - old
    return NewPods.READY if updated >= replicas and new_ready_at_least >= replicas else NewPods.NOT_READY


def worth_listing(
    stage: RolloutStage,
    pods: NewPods,
    look: Look | None,
    now: datetime.datetime,
    *,
    interval: datetime.timedelta,
    window_ends: datetime.datetime | None = None,
) -> bool:
    """Whether this look lists the pods (see the module's docstring)."""
    if stage in (RolloutStage.ROLLING_BACK, RolloutStage.DONE):
        return False
    if stage is RolloutStage.OBSERVING:
        if look is None or look.health is None:
            return True
        over = window_ends is not None and now >= window_ends
        return pods is not NewPods.READY or over or now - look.at >= interval
    if pods is NewPods.READY:
        return True
    return pods is NewPods.NOT_READY and look is not None and now - look.at >= interval


@dataclasses.dataclass(frozen=True)
class Gate:
    """One look at one rollout's pods: its stage, when its watch ends, and how long a listing serves."""

    looks: PodLooks
    key: Key
    stage: RolloutStage
    interval: datetime.timedelta
    window_ends: datetime.datetime | None = None

    def held(self, deployment: dict[str, Any], now: datetime.datetime) -> CanaryHealth | None:
        """The pods' health to decide on without listing them, or None when they are to be listed. Rolling, that is
        no pod at all (the update can only be waited for without a listing); watched, the last listing's."""
        pods = new_pods(deployment)
        look = self.looks.get(self.key)
        if worth_listing(self.stage, pods, look, now, interval=self.interval, window_ends=self.window_ends):
            return None
        if self.stage is RolloutStage.SCALING:
            self.looks.not_listed(self.key, now, pods)
        if look is not None and look.health is not None and self.stage is RolloutStage.OBSERVING:
            return look.health
        return CanaryHealth()

    def listed(self, now: datetime.datetime, health: CanaryHealth) -> None:
        self.looks.listed(self.key, now, health)


class PodLooks:
    """The last look at each rolling update's pods, in memory."""

    def __init__(self) -> None:
        self._looks: dict[Key, Look] = {}

    def get(self, key: Key) -> Look | None:
        return self._looks.get(key)

    def listed(self, key: Key, at: datetime.datetime, health: CanaryHealth) -> None:
        self._looks[key] = Look(at, health)

    def not_listed(self, key: Key, at: datetime.datetime, pods: NewPods) -> None:
        """A look that did not list: the interval to the first listing begins when new pods are first seen."""
        look = self._looks.get(key)
        if look is None or NewPods.NONE_YET in (look.pods, pods):
            self._looks[key] = Look(at, None, pods)

    def due(self, key: Key, interval: datetime.timedelta) -> datetime.datetime | None:
        """When a listing falls due for want of a newer one (None: no look held)."""
        look = self._looks.get(key)
        return None if look is None else look.at + interval

    def forget(self, key: Key) -> None:
        self._looks.pop(key, None)
