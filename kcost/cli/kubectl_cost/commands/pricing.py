"""``kubectl cost pricing``: instance prices from a price file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kcost.api.units import GIB, HOURS_PER_MONTH
from kcost.cli.kubectl_cost import errors, options, outputs, units

if TYPE_CHECKING:
    from kcost.cli.kubectl_cost.session import Context
    from kcost.kube.client import KubeClient

Body = dict[str, Any]

TABLE = outputs.Table(
    columns=[
        outputs.Column("PROVIDER", lambda i: i["provider"]),
        outputs.Column("REGION", lambda i: i["region"]),
        outputs.Column("CAPACITY", lambda i: i["capacityType"]),
        outputs.Column("TYPE", lambda i: i["instanceType"]),
        outputs.Column("VCPU", lambda i: f"{i['vcpu']:g}", numeric=True),
        outputs.Column("MEMORY", lambda i: f"{i['memoryGiB']:g}Gi", numeric=True),
        outputs.Column("USD/H", lambda i: f"{i['usdPerHour']:.4f}", numeric=True),
        outputs.Column("USD/MO", lambda i: units.money(i["usdPerMonth"]), numeric=True),
    ],
    wide=[outputs.Column("GPUS", lambda i: str(i["gpus"]), numeric=True)],
)


@click.group("pricing")
def pricing() -> None:
    """Instance prices."""


@pricing.command("compare")
@click.option("--cpu", "vcpu", type=float, required=True, help="vCPUs needed.")
@click.option("--memory", required=True, help="Memory needed, e.g. 16Gi.")
@click.option("--gpu", "gpus", type=int, default=0, help="GPUs needed.")
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A price file [default: the ClusterCostProfile's catalog].",
)
@click.option("--top", default=3, show_default=True, help="Types per provider, region and capacity type.")
@options.output_option
@click.pass_obj
def compare(ctx: Context, vcpu: float, memory: str, gpus: int, catalog_path: str | None, top: int, output: str) -> None:
    """The cheapest instance types that fit a shape, per provider and region, on-demand and spot.

    \b
    Examples:
      kubectl cost pricing compare --cpu 4 --memory 16Gi
      kubectl cost pricing compare --cpu 8 --memory 32Gi --gpu 1 --catalog prices.csv.gz -o json
    """
    import asyncio
    from pathlib import Path

    from kcost.analyzers.pricing import catalog as catalog_source
    from kcost.analyzers.pricing.compare import cheapest_matching
    from kcost.api.v1alpha1.common import parse_quantity

    path = catalog_path or _profile_catalog(ctx)
    sheet = asyncio.run(catalog_source.load_catalog(Path(path)))
    groups = cheapest_matching(
        sheet.prices.values(), vcpu=vcpu, memory_gib=parse_quantity(memory) / GIB, gpus=gpus, per_group=top
    )
    items = [
        {
            "provider": g.provider,
            "region": g.region,
            "capacityType": g.capacity_type,
            "instanceType": o.instance_type,
            "vcpu": o.shape.vcpu,
            "memoryGiB": o.shape.memory_gib,
            "gpus": o.shape.gpus,
            "usdPerHour": o.usd_per_hour,
            "usdPerMonth": round(o.usd_per_hour * HOURS_PER_MONTH, 2),
        }
        for g in groups
        for o in g.offers
    ]
    items.sort(key=lambda i: (i["provider"], i["capacityType"], i["usdPerHour"]))
    outputs.emit(items, output, TABLE)


def _profile_catalog(ctx: Context) -> str:
    """The price file a ClusterCostProfile names (``spec.pricing.catalog.path``)."""
    from kcost.api.v1alpha1.profile import ClusterCostProfile
    from kcost.cli.kubectl_cost import calls, session

    async def work(kube: KubeClient) -> list[Body]:
        return await calls.list_profiles(kube)

    profiles = [ClusterCostProfile.model_validate(p) for p in session.run(ctx, work)]
    path = next(
        (p.spec.pricing.catalog.path for p in profiles if p.spec.pricing.catalog and p.spec.pricing.catalog.path),
        None,
    )
    if path is None:
        errors.fail(
            "no price file: give --catalog FILE, or a ClusterCostProfile with spec.pricing.catalog.path",
            errors.EXIT_NOT_FOUND,
        )
    return path
