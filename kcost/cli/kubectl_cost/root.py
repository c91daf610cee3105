"""The ``kubectl cost`` command group, with every command attached."""

from __future__ import annotations

import click

from kcost.cli.kubectl_cost import session
from kcost.cli.kubectl_cost.commands import analyze, costs, dashboard, decide, pricing, recommendations, summary


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kubeconfig", default=None, help="Path to the kubeconfig file.")
@click.option("--context", "kube_context", default=None, help="The kubeconfig context to use.")
@click.pass_context
def cli(click_ctx: click.Context, kubeconfig: str | None, kube_context: str | None) -> None:
    """kcost: Kubernetes cost, waste and savings.

    \b
    Examples:
      kubectl cost summary
      kubectl cost recs -A --min-savings 10
      kubectl cost show -n shop deployment-web-right-sizing
      kubectl cost analyze -n shop --wait
      kubectl cost approve -n shop deployment-web-right-sizing
      kubectl cost dashboard
    """
    click_ctx.obj = session.Context(kubeconfig, kube_context)


cli.add_command(recommendations.recommendations)
cli.add_command(recommendations.recommendations, "recs")
cli.add_command(recommendations.show)
cli.add_command(analyze.analyze)
cli.add_command(summary.summary)
cli.add_command(costs.costs)
cli.add_command(pricing.pricing)
cli.add_command(dashboard.dashboard)
for command in (decide.approve, decide.reject, decide.rollback, decide.patch):
    cli.add_command(command)
