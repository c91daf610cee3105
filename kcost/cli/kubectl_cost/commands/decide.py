"""``kubectl cost approve | reject | rollback | patch``: a person's decisions on one recommendation.

Decisions are written to the recommendation's ``spec.approval`` (the user's part); the
operator does the rest. Who approved is stamped by kcost's admission webhook from the
request, never taken from the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kcost.api.decisions import DECISIONS, approval_patch, expected_phases
from kcost.cli.kubectl_cost import errors, options, outputs

if TYPE_CHECKING:
    from kcost.cli.kubectl_cost.session import Context
    from kcost.kube.client import KubeClient

Item = dict[str, Any]


def _decide(ctx: Context, verb: str, name: str, namespace: str | None, reason: str | None, output: str) -> None:
    from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
    from kcost.cli.kubectl_cost import calls, session

    allowed, _ = DECISIONS[verb]
    chosen = namespace or "default"
    patch = approval_patch(verb, reason)

    async def work(kube: KubeClient) -> Item | None:
        body = await calls.get_recommendation(kube, name, chosen)
        if body is None:
            return None
        phase = (body.get("status") or {}).get("phase")
        if phase not in allowed:
            errors.fail(
                f"recommendation {chosen}/{name} is {phase}; `{verb}` needs it {expected_phases(verb)}",
                errors.EXIT_WRONG_STATE,
            )
        await kube.merge_patch(OptimizationRecommendation, name, chosen, patch)
        return await calls.get_recommendation(kube, name, chosen)

    body = session.run(ctx, work)
    if body is None:
        errors.fail(
            f"no recommendation {name!r} in namespace {chosen} (try `kubectl cost recs -A`)", errors.EXIT_NOT_FOUND
        )
    if outputs.is_machine_readable(output):
        outputs.emit([body], output)
        return
    done = {"approve": "approved", "reject": "rejected", "rollback": "rollback requested for"}[verb]
    click.echo(f"{done} {chosen}/{name}; follow it with `kubectl cost show -n {chosen} {name}`")


def _decision(verb: str, summary: str) -> click.Command:
    @click.command(verb, help=f"{summary}\n\n\b\nExamples:\n  kubectl cost {verb} -n shop deployment-web-right-sizing")
    @click.argument("name")
    @options.namespace_option
    @click.option("--reason", default=None, help="Why, recorded with the decision.")
    @options.output_option
    @click.pass_obj
    def command(ctx: Context, name: str, namespace: str | None, reason: str | None, output: str) -> None:
        _decide(ctx, verb, name, namespace, reason, output)

    return command


approve = _decision("approve", "Approve a proposed recommendation: the operator applies it (canary, health, rollback).")
reject = _decision("reject", "Dismiss a recommendation; a later run will not propose it again as long as it stands.")
rollback = _decision("rollback", "Undo an applied recommendation: its workload's previous values are restored.")


@click.command("patch")
@click.argument("name")
@options.namespace_option
@click.pass_obj
def patch(ctx: Context, name: str, namespace: str | None) -> None:
    """Print the kustomize patch that makes the recommendation's change in a GitOps repository.

    \b
    Examples:
      kubectl cost patch -n shop deployment-web-right-sizing > kcost-patch.yaml
      # then add `patches: [{path: kcost-patch.yaml}]` to the workload's kustomization.yaml
    """
    from kcost.api import gitops
    from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
    from kcost.cli.kubectl_cost import calls, session

    chosen = namespace or "default"

    async def work(kube: KubeClient) -> Item | None:
        return await calls.get_recommendation(kube, name, chosen)

    body = session.run(ctx, work)
    if body is None:
        errors.fail(
            f"no recommendation {name!r} in namespace {chosen} (try `kubectl cost recs -A`)", errors.EXIT_NOT_FOUND
        )
    click.echo(gitops.patch_yaml(OptimizationRecommendation.model_validate(body)), nl=False)
