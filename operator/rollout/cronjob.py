"""A CronJob's change against the cluster: its job template patched, its next run found and judged.

The pod template of a CronJob is at ``spec.jobTemplate.spec.template``; ``as_workload``
shows it where a Deployment has its own, so the resource helpers of ``deployment``
(live values, overlays, comparisons) serve it unchanged.
"""

from __future__ import annotations

import datetime
from typing import Any

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RolloutStatus, WorkloadShape
from kcost.kube.workloads import WorkloadClient
from kcost.operator.rollout import context, deployment, next_run
from kcost.operator.rollout.canary import Action, ActionKind

Body = dict[str, Any]
POD_SPEC_PATH = ("spec", "jobTemplate", "spec", "template", "spec")
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def as_workload(cronjob: Body) -> Body:
    """The CronJob seen as a workload with a pod template (and no replicas)."""
    template = ((cronjob.get("spec") or {}).get("jobTemplate") or {}).get("spec", {}).get("template") or {}
    return {"metadata": cronjob.get("metadata") or {}, "spec": {"template": template}}


def _condition(job: Body, condition_type: str) -> Body | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == condition_type and condition.get("status") == "True":
            return dict(condition)
    return None


def _time(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def next_job(cronjob: Body, jobs: list[Body], wanted: list[Body]) -> Body | None:
    """The first Job the CronJob created on the new values (the run that judges the change), or None."""
    uid = cronjob["metadata"].get("uid")
    runs = [
        job
        for job in jobs
        if any(owner.get("uid") == uid for owner in job["metadata"].get("ownerReferences") or [])
        and deployment.has_resources(job, wanted)
    ]
    return min(runs, key=lambda job: str(job["metadata"].get("creationTimestamp") or ""), default=None)


async def observe(
    workloads: WorkloadClient,
    rec: OptimizationRecommendation,
    *,
    changes: WorkloadShape,
    now: datetime.datetime,
    failed_checks: tuple[str, ...],
    passed_checks: tuple[str, ...] = (),
) -> next_run.RunWorld | None:
    """The job template and the next run; None when the CronJob is gone."""
    ref = deployment.target(rec)
    body = await workloads.get(ref)
    if body is None:
        return None
    wanted = deployment.proposed_resources(changes)
    job = next_job(body, await workloads.jobs(ref.namespace), wanted)
    run = None
    if job is not None:
        name = job["metadata"]["name"]
        pods = await workloads.pods(ref.namespace, f"{JOB_NAME_LABEL}={name}")
        failed = _condition(job, "Failed")
        run = next_run.JobRun(
            name=name,
            started_at=_time((job.get("status") or {}).get("startTime")),
            succeeded=_condition(job, "Complete") is not None,
            failure=None if failed is None else f"{failed.get('reason')}: {failed.get('message')}",
            health=deployment.pod_health(pods, failed_checks, passed_checks),
        )
    return next_run.RunWorld(
        now=now,
        has_new_values=deployment.has_resources(as_workload(body), wanted),
        run=run,
        suspended=bool((body.get("spec") or {}).get("suspend")),
        cronjob=ref.name,
    )


async def advance(workloads: WorkloadClient, step: context.StepContext) -> tuple[Action, RolloutStatus] | None:
    """Observe, decide and act once; None when the CronJob is gone."""
    rec, changes = step.rec, step.changes
    world = await observe(
        workloads,
        rec,
        changes=changes,
        now=step.now,
        failed_checks=step.failed_checks,
        passed_checks=step.passed_checks,
    )
    if world is None:
        return None
    action, decided = next_run.decide(step.rollout, step.strategy, world)
    if action.kind in (ActionKind.PROMOTE, ActionKind.RESTORE):
        body = await workloads.get(deployment.target(rec))
        if body is not None:
            restore = action.kind is ActionKind.RESTORE
            containers = deployment.overlay(as_workload(body), step.previous if restore else changes, exact=restore)
            await workloads.apply_containers(deployment.target(rec), POD_SPEC_PATH, containers)
    return action, decided
