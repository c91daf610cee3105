"""``kubectl cost summary``: what the cluster costs, what could be saved, the last analysis."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import click

from kcost.cli.kubectl_cost import options, outputs, units

if TYPE_CHECKING:
    from kcost.cli.kubectl_cost.session import Context
    from kcost.kube.client import KubeClient

Body = dict[str, Any]
COST_PARTS = ("cpu", "memory", "gpu", "storage", "network", "idle")


@click.command("summary")
@click.option("--profile", default=None, help="The ClusterCostProfile [default: the only one].")
@options.output_option
@click.pass_obj
def summary(ctx: Context, profile: str | None, output: str) -> None:
    """Cluster cost per hour and month, by resource and idle; savings by type; top namespaces; last analysis.

    \b
    Examples:
      kubectl cost summary
      kubectl cost summary -o json
    """
    from kcost.cli.kubectl_cost import calls, session

    async def work(kube: KubeClient) -> tuple[list[Body], list[Body], list[Body]]:
        return await calls.list_profiles(kube), await calls.list_analyses(kube), await calls.list_recommendations(kube)

    profiles, analyses, recs = session.run(ctx, work)
    if profile:
        profiles = [p for p in profiles if p["metadata"]["name"] == profile]
    document = summary_document(profiles, analyses, recs, datetime.datetime.now(datetime.UTC))
    if outputs.is_machine_readable(output):
        outputs.emit([document], output)
        return
    _print_summary(document)


def summary_document(
    profiles: list[Body], analyses: list[Body], recs: list[Body], now: datetime.datetime
) -> dict[str, Any]:
    """The summary as one JSON-ready document (what ``-o json|yaml`` prints)."""
    from kcost.api import savings
    from kcost.api.v1alpha1.recommendation import OptimizationRecommendation

    found = savings.potential_savings(OptimizationRecommendation.model_validate(r) for r in recs)
    finished = [a for a in analyses if (a.get("status") or {}).get("finishedAt")]
    last = max(finished, key=lambda a: a["status"]["finishedAt"], default=None)
    status = (profiles[0].get("status") or {}) if profiles else {}
    return {
        "profile": profiles[0]["metadata"]["name"] if profiles else None,
        "currency": status.get("currency", "USD"),
        "hourlyCost": status.get("hourlyCost"),
        "monthlyCost": status.get("monthlyCost"),
        "topNamespaces": status.get("topNamespaces", []),
        "potentialMonthlySavings": found.potential_monthly_savings,
        "savingsByType": found.savings_by_type,
        "openRecommendations": found.recommendations,
        "lastAnalysis": None if last is None else _last_analysis(last, now),
    }


def _last_analysis(analysis: Body, now: datetime.datetime) -> dict[str, Any]:
    finished_at = datetime.datetime.fromisoformat(analysis["status"]["finishedAt"].replace("Z", "+00:00"))
    return {
        "name": analysis["metadata"]["name"],
        "phase": analysis["status"].get("phase"),
        "ageSeconds": int((now - finished_at).total_seconds()),
    }


def _print_summary(document: dict[str, Any]) -> None:
    currency = document["currency"]
    monthly, hourly = document["monthlyCost"], document["hourlyCost"]
    click.secho(f"Cluster cost ({document['profile'] or 'no ClusterCostProfile'})", bold=True)
    if monthly and hourly:
        click.echo(
            f"  {units.money(hourly['total'])} {currency}/hour   {units.money(monthly['total'])} {currency}/month"
        )
        for part in COST_PARTS:
            if monthly.get(part):
                share = monthly[part] / monthly["total"] * 100 if monthly["total"] else 0
                click.echo(f"    {part:<8} {units.money(monthly[part]):>12}/month  {share:5.1f}%")
    else:
        click.echo("  not priced yet (is the kcost cost analyzer running?)")
    click.secho(
        f"\nPotential savings: {units.money(document['potentialMonthlySavings'])} {currency}/month "
        f"from {document['openRecommendations']} open recommendations",
        bold=True,
    )
    for kind, value in document["savingsByType"].items():
        click.echo(f"    {kind:<20} {units.money(value):>12}/month")
    if document["topNamespaces"]:
        click.secho("\nTop namespaces", bold=True)
        for item in document["topNamespaces"][:5]:
            click.echo(f"    {item['namespace']:<20} {units.money(item['monthlyCost']):>12}/month")
    last = document["lastAnalysis"]
    if last:
        click.echo(f"\nLast analysis: {last['name']} ({last['phase']}, {last['ageSeconds'] // 60} min ago)")
    else:
        click.echo("\nNo analysis has finished yet: run `kubectl cost analyze -A --wait`")
