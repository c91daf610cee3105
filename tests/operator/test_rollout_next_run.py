"""A CronJob's change judged by its next run: patched, waited for, Applied or rolled back."""

from __future__ import annotations

import datetime

from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import RolloutStage, RolloutStatus
from kcost.operator.rollout import next_run
from kcost.operator.rollout.canary import ActionKind, CanaryHealth

START = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
STRATEGY = RolloutStrategy()
STATUS = RolloutStatus(strategy="next-run", started_at=START)


def run_of(*, succeeded: bool = False, failure: str | None = None, oom: int = 0) -> next_run.JobRun:
    return next_run.JobRun(
        name="nightly-1", started_at=START, succeeded=succeeded, failure=failure, health=CanaryHealth(oom_killed=oom)
    )


def test_the_job_template_is_patched_first() -> None:
    action, status = next_run.decide(STATUS, STRATEGY, next_run.RunWorld(START, has_new_values=False, run=None))
    assert action.kind is ActionKind.PROMOTE
    assert status.step_started_at == START


def test_it_waits_for_the_next_run_then_applies_when_it_succeeds() -> None:
    action, status = next_run.decide(STATUS, STRATEGY, next_run.RunWorld(START, has_new_values=True, run=None))
    assert action.kind is ActionKind.WAIT
    assert action.message == "waiting for the next run"
    assert status.stage is RolloutStage.OBSERVING
    running = next_run.RunWorld(START, has_new_values=True, run=run_of())
    assert next_run.decide(status, STRATEGY, running)[0].kind is ActionKind.WAIT
    done_at = START + datetime.timedelta(minutes=1)
    action, status = next_run.decide(
        status, STRATEGY, next_run.RunWorld(done_at, has_new_values=True, run=run_of(succeeded=True))
    )
    assert action.kind is ActionKind.APPLIED
    assert status.stage is RolloutStage.DONE
    assert [(s.percent, s.started_at, s.finished_at) for s in status.steps] == [(100, START, done_at)]
    assert status.observations[-1].message == "Job nightly-1 succeeded"


def test_a_failed_run_restores_the_template_and_rolls_back() -> None:
    world = next_run.RunWorld(START, has_new_values=True, run=run_of(failure="BackoffLimitExceeded: too many"))
    action, status = next_run.decide(STATUS, STRATEGY, world)
    assert action.kind is ActionKind.RESTORE
    assert status.reason == "Job nightly-1 failed: BackoffLimitExceeded: too many"
    restored = next_run.RunWorld(START, has_new_values=False, run=None)
    action, status = next_run.decide(status, STRATEGY, restored)
    assert action.kind is ActionKind.ROLLED_BACK
    assert status.stage is RolloutStage.DONE


def test_an_oom_killed_run_rolls_back_even_if_the_job_then_succeeds() -> None:
    world = next_run.RunWorld(START, has_new_values=True, run=run_of(succeeded=True, oom=1))
    action, status = next_run.decide(STATUS, STRATEGY, world)
    assert action.kind is ActionKind.RESTORE
    assert "OOMKilled" in (status.reason or "")


def test_a_suspended_cronjob_is_said_to_be_waited_for_once() -> None:
    """A suspended CronJob makes no run: the rollout says so (recorded once, so written once) and how to go on."""
    world = next_run.RunWorld(START, has_new_values=True, run=None, suspended=True, cronjob="nightly")
    action, status = next_run.decide(STATUS, STRATEGY, world)
    assert action.kind is ActionKind.WAIT
    assert action.message == next_run.suspended_message("nightly")
    assert "spec.suspend" in action.message
    assert "kubectl create job --from=cronjob/nightly" in action.message
    assert [o.message for o in status.observations] == [action.message]
    later = next_run.RunWorld(START + datetime.timedelta(minutes=5), True, None, suspended=True, cronjob="nightly")
    assert next_run.decide(status, STRATEGY, later)[1] == status
