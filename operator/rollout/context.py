"""What one decision of a rollout starts from, whatever the workload's kind."""

from __future__ import annotations

import dataclasses
import datetime

from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RolloutStatus, WorkloadShape
from kcost.operator.rollout.pod_looks import PodLooks


@dataclasses.dataclass(frozen=True)
class StepContext:
    """The recommendation, its rollout as recorded, the strategy in force, now, and the PromQL checks' verdicts."""

    rec: OptimizationRecommendation
    rollout: RolloutStatus
    previous: WorkloadShape  # what a rollback restores
    strategy: RolloutStrategy
    now: datetime.datetime
    failed_checks: tuple[str, ...] = ()  # why each failing check failed
    passed_checks: tuple[str, ...] = ()  # the value each passing check passed with
    looks: PodLooks | None = None  # the last look at each rolling update's pods (None: list them every look)

    @property
    def changes(self) -> WorkloadShape:
        """The values being applied: the proposal within the policy's constraints."""
        return self.rollout.target or self.rec.spec.changes
