"""The StatefulSet canary by partition, against a simulated StatefulSet controller (highest ordinals first)."""

from __future__ import annotations

import dataclasses
import datetime

from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import RolloutStage, RolloutStatus
from kcost.operator.rollout import partition
from kcost.operator.rollout.canary import ActionKind, CanaryHealth

START = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
STRATEGY = RolloutStrategy.model_validate(
    {
        "steps": [
            {"replicas": "20%", "duration": "30s"},
            {"replicas": "60%", "duration": "30s"},
            {"replicas": "100%", "duration": "30s"},
        ]
    }
)


@dataclasses.dataclass
class StatefulSet:
    """Pods 0..replicas-1; those at or above the partition follow the template, one pod per tick."""

    replicas: int = 5
    current_partition: int = 0
    new_template: bool = False
    new_pods: set[int] = dataclasses.field(default_factory=set)
    marked: set[int] = dataclasses.field(default_factory=set)
    oom_when_marked: bool = False
    stuck: bool = False  # a canary pod that is not Ready blocks the controller (OrderedReady)
    floor: int = 0  # what its PodDisruptionBudgets keep available

    def tick(self) -> None:
        if self.stuck:
            return
        for ordinal in reversed(range(self.replicas)):
            wanted = self.new_template and ordinal >= self.current_partition
            if (ordinal in self.new_pods) != wanted:
                self.new_pods.symmetric_difference_update({ordinal})
                self.marked.discard(ordinal)  # a recreated pod has the template's labels only
                return

    def world(self, now: datetime.datetime) -> partition.PartitionWorld:
        canary = tuple(f"db-{i}" for i in sorted(self.new_pods))
        oom = len(self.marked & self.new_pods) if self.oom_when_marked else 0
        unready = tuple(f"db-{i}" for i in sorted(self.marked & self.new_pods)) if self.oom_when_marked else ()
        return partition.PartitionWorld(
            now=now,
            replicas=self.replicas,
            partition=self.current_partition,
            has_new_values=self.new_template,
            settled=True,
            canary_pods=canary,
            unmarked=tuple(f"db-{i}" for i in sorted(self.new_pods - self.marked)),
            marked=tuple(f"db-{i}" for i in sorted(self.marked)),
            unready_canary=unready,
            health=CanaryHealth(ready=len(canary) - len(unready), oom_killed=oom),
            available=self.replicas - len(unready),
            floor=self.floor,
        )


def run(sts: StatefulSet) -> tuple[ActionKind, RolloutStatus, list[tuple[ActionKind, int | None]]]:
    status = RolloutStatus(strategy="partition", original_replicas=sts.replicas, original_partition=0, started_at=START)
    actions: list[tuple[ActionKind, int | None]] = []
    now = START
    for _ in range(300):
        action, status = partition.decide(status, STRATEGY, sts.world(now))
        actions.append((action.kind, action.replicas))
        if action.kind in (ActionKind.APPLIED, ActionKind.ROLLED_BACK):
            return action.kind, status, actions
        if action.kind is ActionKind.PARTITION:
            assert action.replicas is not None
            sts.current_partition = action.replicas
        elif action.kind is ActionKind.PATCH_TEMPLATE:
            assert sts.current_partition == sts.replicas, (
                "the template changes only behind a partition that holds every pod"
            )
            sts.new_template = True
        elif action.kind is ActionKind.RESTORE:
            sts.new_template = False
        elif action.kind is ActionKind.MARK_CANARY:
            sts.marked |= sts.new_pods
        elif action.kind is ActionKind.UNMARK_CANARY:
            sts.marked.clear()
        elif action.kind is ActionKind.DELETE_CANARY:  # recreated from the template as it is now
            sts.new_pods -= {int(name.rpartition("-")[2]) for name in sts.world(now).unready_canary}
            sts.marked.clear()
            sts.stuck = False
        sts.tick()
        now += datetime.timedelta(seconds=5)
    raise AssertionError(f"never settled: {actions[-5:]}")


def test_the_partition_is_lowered_step_by_step_and_restored() -> None:
    sts = StatefulSet()
    result, status, actions = run(sts)
    assert result is ActionKind.APPLIED
    assert [record.percent for record in status.steps] == [20, 60, 100]
    partitions = [replicas for kind, replicas in actions if kind is ActionKind.PARTITION]
    assert partitions == [5, 4, 3, 2, 1, 0], "held, then one ordinal at a time"
    assert sts.new_pods == {0, 1, 2, 3, 4}
    assert not sts.marked, "the canary labels are gone after promotion"
    assert status.stage is RolloutStage.DONE
    assert any("canary pods Ready (partition 4)" in o.message for o in status.observations)


def test_a_partition_set_by_its_owner_is_put_back() -> None:
    sts = StatefulSet(current_partition=2)
    status = RolloutStatus(strategy="partition", original_replicas=5, original_partition=2, started_at=START)
    world = dataclasses.replace(sts.world(START), partition=0, has_new_values=True, canary_pods=("db-0",))
    promoting = status.model_copy(update={"stage": RolloutStage.PROMOTING})
    action, _ = partition.decide(promoting, STRATEGY, world)
    assert (action.kind, action.replicas) == (ActionKind.PARTITION, 2)


def test_an_oom_killed_canary_restores_the_template_then_the_partition_then_replaces_the_stuck_pod() -> None:
    sts = StatefulSet(oom_when_marked=True)
    result, status, actions = run_with_stuck_pod(sts)
    assert result is ActionKind.ROLLED_BACK
    assert "OOMKilled" in (status.reason or "")
    kinds = [kind for kind, _ in actions]
    restore = kinds.index(ActionKind.RESTORE)
    assert kinds[restore + 1 :].count(ActionKind.PARTITION) == 1
    assert kinds.index(ActionKind.DELETE_CANARY) > restore
    assert not sts.new_template
    assert sts.current_partition == 0
    assert not status.steps, "no step passed"


def run_with_stuck_pod(sts: StatefulSet) -> tuple[ActionKind, RolloutStatus, list[tuple[ActionKind, int | None]]]:
    """The OOM-killed canary pod stays on the new values until kcost deletes it, as OrderedReady does."""
    original_tick = sts.tick

    def tick() -> None:
        if sts.marked and not sts.new_template:
            sts.stuck = True
        original_tick()

    sts.tick = tick  # type: ignore[method-assign]
    return run(sts)


def test_canary_pods_never_ready_within_the_progress_deadline_roll_back() -> None:
    status = RolloutStatus(strategy="partition", original_replicas=5, original_partition=0, started_at=START)
    sts = StatefulSet(current_partition=4, new_template=True, new_pods={4}, marked={4})
    world = dataclasses.replace(sts.world(START), health=CanaryHealth(ready=0))
    scaling = status.model_copy(update={"step_started_at": START - datetime.timedelta(minutes=5)})
    strategy = STRATEGY.model_copy(update={"progress_deadline": "4m"})
    action, decided = partition.decide(scaling, strategy, world)
    assert action.kind is ActionKind.RESTORE
    assert decided.stage is RolloutStage.ROLLING_BACK
    assert "not Ready within 4m" in (decided.reason or "")
    assert partition.decide(scaling, STRATEGY, world)[0].kind is ActionKind.WAIT, "10m by default: still waiting"


def test_a_rollback_waits_for_the_controller_to_see_the_restored_template() -> None:
    status = RolloutStatus(
        strategy="partition", original_replicas=5, original_partition=0, stage=RolloutStage.ROLLING_BACK
    )
    world = dataclasses.replace(StatefulSet().world(START), settled=False, unready_canary=("db-4",))
    action, _ = partition.decide(status, STRATEGY, world)
    assert action.kind is ActionKind.WAIT
    settled = dataclasses.replace(world, settled=True)
    assert partition.decide(status, STRATEGY, settled)[0].kind is ActionKind.DELETE_CANARY


def test_an_operator_killed_between_acting_and_writing_its_status_still_finishes() -> None:
    """Every other decision's status write is lost: deciding again from the cluster arrives at the same place."""
    sts = StatefulSet()
    status = RolloutStatus(strategy="partition", original_replicas=5, original_partition=0, started_at=START)
    now = START
    for tick in range(400):
        action, decided = partition.decide(status, STRATEGY, sts.world(now))
        if action.kind is ActionKind.APPLIED:
            break
        if action.kind is ActionKind.PARTITION:
            sts.current_partition = action.replicas or 0
        elif action.kind is ActionKind.PATCH_TEMPLATE:
            sts.new_template = True
        elif action.kind is ActionKind.MARK_CANARY:
            sts.marked |= sts.new_pods
        elif action.kind is ActionKind.UNMARK_CANARY:
            sts.marked.clear()
        if tick % 2 == 0:
            status = decided  # written; on odd ticks the operator died before writing
        sts.tick()
        now += datetime.timedelta(seconds=5)
    else:
        raise AssertionError("never applied")
    assert [record.percent for record in decided.steps] == [20, 60, 100]
    assert sts.new_pods == {0, 1, 2, 3, 4}
    assert sts.current_partition == 0


def test_the_partition_is_never_lowered_below_the_disruption_budget() -> None:
    status = RolloutStatus(strategy="partition", original_replicas=5, original_partition=0, started_at=START)
    sts = StatefulSet(current_partition=5, new_template=True, floor=4)
    action, _ = partition.decide(status, STRATEGY, dataclasses.replace(sts.world(START), available=4))
    assert action.kind is ActionKind.WAIT
    assert action.message == "waiting to keep 4 pods available"
    action, _ = partition.decide(status, STRATEGY, sts.world(START))
    assert (action.kind, action.replicas) == (ActionKind.PARTITION, 4)
    strict = StatefulSet(current_partition=5, new_template=True, floor=5)
    action, decided = partition.decide(status, STRATEGY, strict.world(START))
    assert action.kind is ActionKind.RESTORE
    assert "allow no pod down (5 of 5 must stay available)" in (decided.reason or "")
