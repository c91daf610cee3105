"""The gated rolling update for HPA-scaled workloads: never a replica count, health-gated, restorable."""

from __future__ import annotations

import dataclasses
import datetime

from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import RolloutStage, RolloutStatus
from kcost.operator.rollout import rolling
from kcost.operator.rollout.canary import ActionKind, CanaryHealth, WorkloadState, World

START = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
STRATEGY = RolloutStrategy.model_validate(
    {"steps": [{"replicas": "50%", "duration": "1m"}, {"replicas": "100%", "duration": "1m"}]}
)


def run(
    *, oom_after_s: float | None = None, check_fails_after_s: float | None = None
) -> tuple[ActionKind, RolloutStatus, list[ActionKind], bool]:
    status = RolloutStatus(strategy="rolling", original_replicas=3, started_at=START)
    new_values, replicas, updated = False, 3, 0
    actions: list[ActionKind] = []
    now = START
    for tick in range(200):
        replicas = 3 + (tick // 10) % 3  # the HPA scales as it likes meanwhile
        elapsed_s = (now - START).total_seconds()
        oom = 1 if oom_after_s is not None and new_values and elapsed_s > oom_after_s else 0
        failing = check_fails_after_s is not None and elapsed_s > check_fails_after_s
        failed = ("PromQL check latency_p99: latency_p99=1.5 above maxValue 0.5",) if failing else ()
        world = World(
            now=now,
            original=WorkloadState(
                replicas=replicas, available=replicas, updated=updated if new_values else 0, has_new_values=new_values
            ),
            canary=None,
            health=CanaryHealth(
                ready=replicas if new_values else 0,
                oom_killed=oom,
                failed_checks=failed,
                passed_checks=() if failing else ("latency_p99=0.1 ≤ 0.5",),
            ),
            floor=0,
        )
        action, status = rolling.decide(status, STRATEGY, world)
        actions.append(action.kind)
        assert action.replicas is None, "a replica count is never decided under an HPA"
        if action.kind in (ActionKind.APPLIED, ActionKind.ROLLED_BACK):
            return action.kind, status, actions, new_values
        if action.kind is ActionKind.PROMOTE:
            new_values = True
        elif action.kind is ActionKind.RESTORE:
            new_values = False
        updated = replicas
        now += datetime.timedelta(seconds=10)
    raise AssertionError("never settled")


def test_a_healthy_rolling_update_is_watched_for_the_whole_duration_and_kept() -> None:
    result, status, actions, new_values = run()
    assert result is ActionKind.APPLIED
    assert new_values
    assert status.stage is RolloutStage.DONE
    assert actions.count(ActionKind.PROMOTE) == 1
    assert status.steps[0].finished_at - status.steps[0].started_at >= datetime.timedelta(minutes=2)
    assert not {ActionKind.CREATE_CANARY, ActionKind.SCALE_ORIGINAL, ActionKind.SCALE_CANARY} & set(actions)


def test_an_oom_during_the_watch_restores_the_template() -> None:
    result, status, actions, new_values = run(oom_after_s=60)
    assert result is ActionKind.ROLLED_BACK
    assert not new_values
    assert "OOMKilled" in (status.reason or "")
    assert ActionKind.RESTORE in actions


def test_a_failing_promql_check_during_the_watch_restores_the_template() -> None:
    result, status, _, new_values = run(check_fails_after_s=60)
    assert result is ActionKind.ROLLED_BACK
    assert not new_values
    assert status.reason == "PromQL check latency_p99: latency_p99=1.5 above maxValue 0.5"
    assert status.observations[0].message.endswith("pods Ready; latency_p99=0.1 ≤ 0.5")


def test_a_surged_pod_not_yet_ready_is_waited_for_not_rolled_back() -> None:
    """At 1,000 rollouts the bench saw a rollback "1 pods not Ready": the surged new pod counted as updated, and the
    old one still available, looked like a finished update before the new pod was Ready."""
    status = RolloutStatus(strategy="rolling", original_replicas=1, started_at=START, step_started_at=START)
    surged = World(
        now=START + datetime.timedelta(seconds=2),
        original=WorkloadState(replicas=1, available=1, updated=1, has_new_values=True),
        canary=None,
        health=CanaryHealth(ready=0),
        floor=0,
    )
    action, waiting = rolling.decide(status, STRATEGY, surged)
    assert action.kind is ActionKind.WAIT, action
    assert waiting.stage is RolloutStage.SCALING
    ready = dataclasses.replace(surged, health=CanaryHealth(ready=1), now=surged.now + datetime.timedelta(seconds=1))
    action, observing = rolling.decide(waiting, STRATEGY, ready)
    assert action.kind is ActionKind.WAIT, action
    assert observing.stage is RolloutStage.OBSERVING, observing
