"""``kubectl cost recommendations`` (``recs``) and ``kubectl cost show``: the proposals and their evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kcost.api.labels import LABEL_ANALYSIS
from kcost.cli.kubectl_cost import errors, options, outputs, units

if TYPE_CHECKING:
    from kcost.api.v1alpha1.recommendation import (
        ContainerResources,
        OptimizationRecommendation,
        OptimizationRecommendationSpec,
    )
    from kcost.cli.kubectl_cost.session import Context
    from kcost.kube.client import KubeClient

Item = dict[str, Any]


def _savings(item: Item) -> float:
    return float(item["spec"].get("estimatedMonthlySavings", 0))


def _phase(item: Item) -> str:
    return str((item.get("status") or {}).get("phase", ""))


TABLE = outputs.Table(
    columns=[
        outputs.Column("NAMESPACE", lambda i: i["metadata"]["namespace"]),
        outputs.Column("NAME", lambda i: i["metadata"]["name"]),
        outputs.Column("TARGET", lambda i: f"{i['spec']['targetRef']['kind']}/{i['spec']['targetRef']['name']}"),
        outputs.Column("TYPE", lambda i: i["spec"]["type"]),
        outputs.Column("SAVINGS/MO", lambda i: units.money(_savings(i)), numeric=True),
        outputs.Column("CONFIDENCE", lambda i: f"{float(i['spec']['confidence']):.2f}", numeric=True),
        outputs.Column("RISK", lambda i: i["spec"]["riskLevel"]),
        outputs.Column("PHASE", _phase),
    ],
    wide=[
        outputs.Column("ANALYSIS", lambda i: i["metadata"].get("labels", {}).get(LABEL_ANALYSIS, "")),
        outputs.Column("METHOD", lambda i: i["spec"].get("evidence", {}).get("method", "")),
    ],
)


@click.command("recommendations")
@options.namespace_options
@click.option("--type", "rec_type", default=None, help="Only this type, e.g. right-sizing.")
@click.option("--phase", default=None, help="Only this phase, e.g. Proposed.")
@click.option("--min-savings", type=float, default=0.0, help="Only savings of at least this much per month.")
@options.output_option
@click.pass_obj
def recommendations(
    ctx: Context,
    namespace: str | None,
    all_namespaces: bool,
    rec_type: str | None,
    phase: str | None,
    min_savings: float,
    output: str,
) -> None:
    """List recommendations, largest savings first, with a total.

    \b
    Examples:
      kubectl cost recommendations -A
      kubectl cost recs -n shop --type right-sizing --phase Proposed -o wide
    """
    from kcost.cli.kubectl_cost import calls, session

    async def work(kube: KubeClient) -> list[Item]:
        return await calls.list_recommendations(kube, options.chosen_namespace(namespace, all_namespaces))

    chosen = [
        i
        for i in session.run(ctx, work)
        if (rec_type is None or i["spec"]["type"] == rec_type)
        and (phase is None or _phase(i) == phase)
        and _savings(i) >= min_savings
    ]
    chosen.sort(key=lambda i: -_savings(i))
    outputs.emit(chosen, output, TABLE)
    if not outputs.is_machine_readable(output):
        total = sum(_savings(i) for i in chosen)
        click.echo(f"\n{len(chosen)} recommendations, {units.money(total)} per month in total")


@click.command("show")
@click.argument("name")
@options.namespace_option
@options.output_option
@click.pass_obj
def show(ctx: Context, name: str, namespace: str | None, output: str) -> None:
    """The evidence behind one recommendation: current vs proposed, usage, OOMs, confidence, risk.

    \b
    Examples:
      kubectl cost show -n shop deployment-web-right-sizing
      kubectl cost show -n shop deployment-web-right-sizing -o yaml
    """
    from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
    from kcost.cli.kubectl_cost import calls, session

    chosen_namespace = namespace or "default"

    async def work(kube: KubeClient) -> Item | None:
        return await calls.get_recommendation(kube, name, chosen_namespace)

    body = session.run(ctx, work)
    if body is None:
        errors.fail(
            f"no recommendation {name!r} in namespace {chosen_namespace} (try `kubectl cost recs -A`)",
            errors.EXIT_NOT_FOUND,
        )
    if outputs.is_machine_readable(output):
        outputs.emit([body], output)
        return
    print_evidence(OptimizationRecommendation.model_validate(body))


def print_evidence(rec: OptimizationRecommendation) -> None:
    """The recommendation for a person: facts, the changes side by side, usage per container."""
    spec = rec.spec
    click.secho(f"{rec.namespace}/{rec.name}", bold=True)
    facts = [
        ("target", f"{spec.target_ref.kind}/{spec.target_ref.name}"),
        ("type", spec.type.value),
        ("phase", rec.status.phase.value if rec.status.phase else "-"),
        ("savings", f"{units.money(spec.estimated_monthly_savings)} {spec.currency}/month"),
        ("confidence", f"{spec.confidence:.2f}"),
        ("risk", spec.risk_level.value),
        ("method", spec.evidence.method),
        ("samples", str(spec.evidence.sample_count)),
        ("window", spec.evidence.window or "-"),
        *([("class", spec.evidence.workload_class.value)] if spec.evidence.workload_class else []),
    ]
    width = max(len(label) for label, _ in facts) + 1
    for label, value in facts:
        click.echo(f"  {label + ':':<{width}}  {value}")
    click.echo()
    outputs.print_rows(["CONTAINER", "RESOURCE", "CURRENT", "PROPOSED"], _change_rows(spec))
    if spec.evidence.containers:
        click.echo()
        outputs.print_rows(
            ["CONTAINER", "CPU P50", "CPU P95", "CPU MAX", "MEMORY P95", "MEMORY MAX", "OOM KILLS", "CLASS"],
            [
                [
                    evidence.name,
                    units.cores(evidence.cpu_cores.p50 if evidence.cpu_cores else None),
                    units.cores(evidence.cpu_cores.p95 if evidence.cpu_cores else None),
                    units.cores(evidence.cpu_cores.max if evidence.cpu_cores else None),
                    units.memory(evidence.memory_bytes.p95 if evidence.memory_bytes else None),
                    units.memory(evidence.memory_bytes.max if evidence.memory_bytes else None),
                    str(evidence.oom_events),
                    evidence.workload_class.value if evidence.workload_class else "-",
                ]
                for evidence in spec.evidence.containers
            ],
            [False, True, True, True, True, True, True, False],
        )
    if rec.status.rollout is not None:
        print_rollout(rec)
    if spec.evidence.usage_sparkline:
        click.echo(f"\n  daily CPU use: {units.sparkline(spec.evidence.usage_sparkline)}")
    for note in spec.evidence.notes:
        click.echo(f"  note: {note}")


def _change_rows(spec: OptimizationRecommendationSpec) -> list[list[str]]:
    """One row per container resource that is set before or after, then replicas."""
    current = {c.name: c for c in spec.current.containers}
    rows = []
    for change in spec.changes.containers:
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                old = _quantity(current.get(change.name), kind, resource)
                new = _quantity(change, kind, resource)
                if new or old:
                    rows.append([change.name, f"{resource} {kind[:-1]}", old or "-", new or "-"])
    if spec.current.replicas is not None or spec.changes.replicas is not None:
        rows.append(["", "replicas", _count(spec.current.replicas), _count(spec.changes.replicas)])
    return rows


def _quantity(container: ContainerResources | None, kind: str, resource: str) -> str | None:
    values = getattr(container, kind) if container is not None else None
    return getattr(values, resource) if values is not None else None


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def print_rollout(rec: OptimizationRecommendation) -> None:
    """Where the rollout is, the steps it passed, and what its last health checks saw."""
    rollout = rec.status.rollout
    if rollout is None:
        return
    click.echo()
    ready = next((c for c in rec.status.conditions if c.type == "Ready"), None)
    click.echo(
        f"  rollout: {rollout.strategy or '-'}, {rollout.stage.value}" + (f" ({ready.message})" if ready else "")
    )
    if rollout.reason:
        click.echo(f"  reason:  {rollout.reason}")
    if rollout.steps:
        outputs.print_rows(
            ["STEP", "SHARE", "STARTED", "PASSED"],
            [
                [str(s.step + 1), f"{s.percent}%", f"{s.started_at:%H:%M:%S}", f"{s.finished_at:%H:%M:%S}"]
                for s in rollout.steps
            ],
            [True, True, False, False],
        )
    for observation in rollout.observations[-5:]:
        state = "healthy" if observation.healthy else "UNHEALTHY"
        click.echo(f"  {observation.time:%H:%M:%S} step {observation.step + 1}: {state}: {observation.message}")
