"""``kubectl cost costs``: today's cost allocation per month, grouped as the user asks; or, with
``--from``/``--to``/``--days``, each namespace's, workload's or label value's cost over past days
from the history store (``costrange``).

Nodes are priced by the cost analyzer's own ``price_nodes``, at the prices that
analyzer published in the profile's status (default unit rates for types it has not
priced), and containers are allocated by its cost model: the same numbers as the
profile's status, grouped any way.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import click

from kcost.cli.kubectl_cost import costrange, errors, options, outputs, units

if TYPE_CHECKING:
    from kcost.analyzers.cost.analyzer import PriceQuote
    from kcost.analyzers.cost.model import Allocation, NodeIdentity
    from kcost.api.v1alpha1.profile import ClusterCostProfile
    from kcost.cli.kubectl_cost.session import Context
    from kcost.kube.client import KubeClient

Body = dict[str, Any]
IDLE_ROW = "__idle__"


class PublishedPrices:
    """A ``Pricer`` quoting the node prices the cost analyzer wrote in the profile's status."""

    def __init__(self, profile: ClusterCostProfile) -> None:
        self._by_type = {(n.instance_type, n.region, n.capacity_type): n for n in profile.status.nodes}

    async def price(self, identity: NodeIdentity, *_: object) -> PriceQuote | None:
        from kcost.analyzers.cost.analyzer import PriceQuote

        # Keyed as the analyzer keys its inventory; its prices already carry the profile's discount.
        node = self._by_type.get((identity.instance_type or "unknown", identity.region, identity.capacity_type))
        if node is None:
            return None
        return PriceQuote(node.hourly_price, "profile", node.priced_at, net_of_discount=True)


@click.command("costs")
@click.option(
    "--by",
    "group_by",
    default="namespace",
    show_default=True,
    help="Group by namespace, workload, node or label=KEY (a range of days: all but node).",
)
@click.option(
    "--profile",
    default=None,
    help="The ClusterCostProfile whose prices (or, for a range, whose history) to use [default: the only one].",
)
@click.option(
    "--from",
    "from_day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day of a past range, from the history store [default: 30 days up to --to].",
)
@click.option(
    "--to",
    "to_day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last day of the range [default: today, UTC].",
)
@click.option("--days", type=click.IntRange(1, costrange.MAX_DAYS), default=None, help="The N days up to --to.")
@click.option(
    "--database-url",
    envvar="KCOST_DATABASE_URL",
    default=None,
    help="The history store, for a range [env: KCOST_DATABASE_URL].",
)
@options.output_option
@click.pass_obj
def costs(
    ctx: Context,
    group_by: str,
    profile: str | None,
    from_day: datetime.datetime | None,
    to_day: datetime.datetime | None,
    days: int | None,
    database_url: str | None,
    output: str,
) -> None:
    """Current cost allocation per month: max(request, usage) of every container, and idle. With a range
    (--from, --to, --days): each namespace's (or, with --by, workload's or label value's) cost over those
    days, the same totals as the status API's /api/v1/costs/history. Workloads without the label are
    __unallocated__; idle cost is __idle__.

    \b
    Examples:
      kubectl cost costs
      kubectl cost costs --by label=team -o json
      kubectl cost costs --days 7
      kubectl cost costs --from 2026-11-01 --to 2026-11-30 -o json
      kubectl cost costs --days 30 --by label=team
    """
    import asyncio

    from kcost.analyzers.cost import analyzer, model
    from kcost.api.v1alpha1.profile import ClusterCostProfile
    from kcost.cli.kubectl_cost import calls, session

    if group_by not in ("namespace", "workload", "node") and not group_by.startswith("label="):
        raise click.BadParameter("expected namespace, workload, node or label=KEY", param_hint="--by")
    day_range = costrange.chosen_range(from_day, to_day, days)
    if day_range is not None:
        grouping = costrange.grouping_of(group_by)
        cluster = profile or _only_profile(ctx)
        totals = costrange.read_totals(database_url, cluster, day_range, grouping)
        costrange.emit(totals, cluster, day_range, grouping, output)
        return

    async def work(kube: KubeClient) -> tuple[list[Body], list[Body], list[Body]]:
        return await calls.list_profiles(kube), await calls.list_nodes(kube), await calls.list_pods(kube)

    profiles, nodes, pods = session.run(ctx, work)
    chosen = next((p for p in profiles if profile is None or p["metadata"]["name"] == profile), None)
    if chosen is None:
        errors.fail(
            f"no ClusterCostProfile{' ' + repr(profile) if profile else ''}: create one (see config/samples)",
            errors.EXIT_NOT_FOUND,
        )
    parsed = ClusterCostProfile.model_validate(chosen)
    priced, _, _ = asyncio.run(analyzer.price_nodes(parsed, nodes, PublishedPrices(parsed)))
    allocation = model.allocate(priced, analyzer.containers_of(pods))
    items = [*_monthly_rows(allocation, group_by), _idle_row(allocation)]
    currency = parsed.spec.pricing.currency
    table = outputs.Table(
        columns=[
            outputs.Column(group_by.upper(), lambda i: i["name"]),
            outputs.Column(f"CPU {currency}/MO", lambda i: units.money(i["cpu"]), numeric=True),
            outputs.Column(f"MEMORY {currency}/MO", lambda i: units.money(i["memory"]), numeric=True),
            outputs.Column(f"TOTAL {currency}/MO", lambda i: units.money(i["total"]), numeric=True),
        ],
        wide=[outputs.Column(f"GPU {currency}/MO", lambda i: units.money(i["gpu"]), numeric=True)],
    )
    outputs.emit(items, output, table)
    if not outputs.is_machine_readable(output):
        click.echo(
            f"\ntotal {units.money(allocation.total * model.HOURS_PER_MONTH)} {currency}/month, "
            f"of which idle {units.money(allocation.idle * model.HOURS_PER_MONTH)}"
        )


def _only_profile(ctx: Context) -> str:
    """The name of the cluster's only ClusterCostProfile (the history store's cluster), as the API defaults it."""
    from kcost.cli.kubectl_cost import calls, session

    names = sorted(str(p["metadata"]["name"]) for p in session.run(ctx, calls.list_profiles))
    if len(names) != 1:
        raise click.BadParameter(
            f"name the ClusterCostProfile whose history to read (profiles: {', '.join(names) or 'none'})",
            param_hint="--profile",
        )
    return names[0]


def _monthly_rows(allocation: Allocation, group_by: str) -> list[Body]:
    """Monthly cost per group by resource, the most expensive first."""
    from kcost.analyzers.cost import model

    rows: dict[str, dict[str, float]] = {}
    for item in allocation.containers:
        row = rows.setdefault(
            model.group_key(item.use, group_by), {"cpu": 0.0, "memory": 0.0, "gpu": 0.0, "total": 0.0}
        )
        for part, value in (("cpu", item.cpu), ("memory", item.memory), ("gpu", item.gpu), ("total", item.total)):
            row[part] += value * model.HOURS_PER_MONTH
    return [
        {"name": key, **{part: round(value, 2) for part, value in row.items()}}
        for key, row in sorted(rows.items(), key=lambda kv: -kv[1]["total"])
    ]


def _idle_row(allocation: Allocation) -> Body:
    from kcost.analyzers.cost import model

    return {
        "name": IDLE_ROW,
        "cpu": 0.0,
        "memory": 0.0,
        "gpu": 0.0,
        "total": round(allocation.idle * model.HOURS_PER_MONTH, 2),
    }
