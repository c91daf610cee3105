"""The canary state machine, driven against a simulated Deployment pair until it settles.

The simulation is deliberately slow: pods become available one tick after they are
asked for, so every wait in the machine is exercised. Invariants are checked at every
tick, and a run can be "killed" at any tick (the status the machine computed is lost
and it decides again from the old one), as the operator could be.
"""

from __future__ import annotations

import dataclasses
import datetime
import random

import pytest

from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import RolloutStage, RolloutStatus
from kcost.operator.rollout import canary as engine
from kcost.operator.rollout.canary import ActionKind

START = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
TICK = datetime.timedelta(seconds=30)


@dataclasses.dataclass
class Deployment:
    replicas: int
    available: int
    new_values: bool = False

    def tick(self) -> None:
        # One tick later, what was asked for is there (up or down).
        self.available = self.replicas

    def state(self) -> engine.WorkloadState:
        return engine.WorkloadState(
            replicas=self.replicas, available=self.available, updated=self.replicas, has_new_values=self.new_values
        )


@dataclasses.dataclass
class Cluster:
    original: Deployment
    canary: Deployment | None = None
    oom_at_step: int | None = None
    never_ready: bool = False
    check_fails_at_step: int | None = None  # a PromQL check fails from this step on
    history: list[int] = dataclasses.field(default_factory=list)  # available pods, every tick

    def act(self, action: engine.Action) -> None:
        if action.kind is ActionKind.CREATE_CANARY:
            assert self.canary is None, "never two canaries"
            self.canary = Deployment(replicas=action.replicas or 0, available=0, new_values=True)
        elif action.kind is ActionKind.SCALE_CANARY and self.canary is not None:
            self.canary.replicas = action.replicas or 0
        elif action.kind is ActionKind.SCALE_ORIGINAL:
            self.original.replicas = action.replicas or 0
            self.original.available = min(self.original.available, self.original.replicas)
        elif action.kind in (ActionKind.PROMOTE, ActionKind.RESTORE):
            self.original.new_values = action.kind is ActionKind.PROMOTE
            self.original.replicas = action.replicas or 0
        elif action.kind is ActionKind.DELETE_CANARY:
            self.canary = None

    def tick(self) -> None:
        self.original.tick()
        if self.canary is not None and not self.never_ready:
            self.canary.tick()
        self.history.append(self.original.available + (self.canary.available if self.canary else 0))

    def world(self, now: datetime.datetime, step: int) -> engine.World:
        oom = 1 if self.oom_at_step is not None and step >= self.oom_at_step and self.canary else 0
        ready = self.canary.available if self.canary else 0
        failing = self.check_fails_at_step is not None and step >= self.check_fails_at_step
        failed = ("PromQL check error_rate: error_rate=0.2 above maxValue 0.05",) if failing else ()
        passed = () if failing else ("error_rate=0.002 ≤ 0.05",)
        return engine.World(
            now=now,
            original=self.original.state(),
            canary=self.canary.state() if self.canary else None,
            health=engine.CanaryHealth(ready=ready, oom_killed=oom, failed_checks=failed, passed_checks=passed),
            floor=4,
        )


STRATEGY = RolloutStrategy.model_validate(
    {
        "steps": [
            {"replicas": "20%", "duration": "2m"},
            {"replicas": "50%", "duration": "2m"},
            {"replicas": "100%", "duration": "2m"},
        ]
    }
)


def run(
    cluster: Cluster, *, crash_chance: float = 0.0, seed: int = 0, strategy: RolloutStrategy = STRATEGY
) -> tuple[engine.Action, RolloutStatus]:
    chance = random.Random(seed)
    status = RolloutStatus(strategy="canary", original_replicas=5, started_at=START)
    now = START
    for _ in range(500):
        action, computed = engine.decide(status, strategy, cluster.world(now, status.step))
        if action.kind in (ActionKind.APPLIED, ActionKind.ROLLED_BACK):
            return action, computed
        if action.kind is not ActionKind.WAIT:
            cluster.act(action)
        if chance.random() >= crash_chance:
            status = computed  # else: killed before the status was written
        cluster.tick()
        now += TICK
    raise AssertionError("the rollout never settled")


def test_a_healthy_canary_goes_through_every_step_and_is_promoted() -> None:
    cluster = Cluster(original=Deployment(replicas=5, available=5))
    action, status = run(cluster)
    assert action.kind is ActionKind.APPLIED
    assert cluster.canary is None
    assert cluster.original.new_values
    assert cluster.original.replicas == 5
    assert [s.percent for s in status.steps] == [20, 50, 100]
    assert status.stage is RolloutStage.DONE
    assert min(cluster.history) >= 4


def test_an_oom_killed_canary_rolls_back_and_restores_the_original() -> None:
    cluster = Cluster(original=Deployment(replicas=5, available=5), oom_at_step=1)
    action, status = run(cluster)
    assert action.kind is ActionKind.ROLLED_BACK
    assert "OOMKilled" in (status.reason or "")
    assert cluster.canary is None
    assert not cluster.original.new_values
    assert cluster.original.replicas == 5
    assert [s.percent for s in status.steps] == [20]
    assert status.observations[-1].healthy is False


def test_a_failing_promql_check_rolls_back_with_its_name_and_value_and_passing_values_are_observed() -> None:
    cluster = Cluster(original=Deployment(replicas=5, available=5), check_fails_at_step=1)
    action, status = run(cluster)
    assert action.kind is ActionKind.ROLLED_BACK
    assert status.reason == "PromQL check error_rate: error_rate=0.2 above maxValue 0.05"
    assert cluster.canary is None
    assert not cluster.original.new_values
    assert [s.percent for s in status.steps] == [20]
    assert status.observations[0].message == "1/1 canary pods Ready; error_rate=0.002 ≤ 0.05"
    assert status.observations[0].healthy


def test_a_canary_that_never_becomes_ready_rolls_back_after_the_progress_deadline() -> None:
    cluster = Cluster(original=Deployment(replicas=5, available=5), never_ready=True)
    strategy = STRATEGY.model_copy(update={"progress_deadline": "3m"})
    action, status = run(cluster, strategy=strategy)
    assert action.kind is ActionKind.ROLLED_BACK
    assert "not Ready within 3m" in (status.reason or "")
    assert cluster.original.replicas == 5


def test_pods_slower_to_start_than_a_zero_second_step_are_not_a_failure() -> None:
    # all-at-once is one step of 0s: the time pods take to become Ready is the progress deadline's, not the step's.
    cluster = Cluster(original=Deployment(replicas=5, available=5))
    all_at_once = RolloutStrategy.model_validate({"steps": [{"replicas": "100%", "duration": "0s"}]})
    action, status = run(cluster, strategy=all_at_once)
    assert action.kind is ActionKind.APPLIED, status.reason
    assert cluster.original.new_values


@pytest.mark.parametrize("seed", range(20))
def test_killed_at_random_moments_it_still_settles_safely(seed: int) -> None:
    cluster = Cluster(original=Deployment(replicas=5, available=5), oom_at_step=2 if seed % 2 else None)
    action, _ = run(cluster, crash_chance=0.3, seed=seed)
    assert action.kind is (ActionKind.ROLLED_BACK if seed % 2 else ActionKind.APPLIED)
    assert cluster.canary is None
    assert cluster.original.replicas == 5
    assert cluster.original.new_values is not bool(seed % 2)
    assert min(cluster.history) >= 4


def test_the_reason_of_many_long_failed_checks_fits_the_schemas_limit() -> None:
    failed = tuple(f"PromQL check c{i}: Prometheus at http://p did not answer: " + "x" * 400 for i in range(5))
    reason = engine.unhealthy(engine.CanaryHealth(failed_checks=failed), STRATEGY.health_checks) or ""
    assert len(reason) == engine.MAX_REASON_CHARS
    assert reason.startswith("PromQL check c0: ")
    assert reason.endswith("…")
    assert engine.unhealthy(engine.CanaryHealth(), STRATEGY.health_checks) is None


def test_a_reason_is_cut_to_what_the_schema_allows() -> None:
    assert engine.fit_reason("short") == "short"
    cut = engine.fit_reason("x" * 5000)
    assert len(cut) == engine.MAX_REASON_CHARS
    assert cut.endswith("…")
