"""``kubectl cost``: kcost from the command line, straight from the Kubernetes API.

Installed as the console script ``kubectl-cost`` so that kubectl finds it on PATH.
It uses the user's kubeconfig and needs no kcost API server. Imports are lazy: the
help must come up fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kcost.kube.client import KubeClient

EXIT_NOT_INSTALLED = 3
EXIT_FORBIDDEN = 4
EXIT_UNREACHABLE = 5
EXIT_NOT_FOUND = 6
OUTPUTS = ("table", "wide", "json", "yaml")


class Context:
    """Connection flags shared by every subcommand."""

    def __init__(self, kubeconfig: str | None, context: str | None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context


def fail(message: str, code: int) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def run(ctx: Context, work: Any) -> Any:
    """Run ``work(kube)`` with a client, turning API errors into messages a user can act on."""
    import asyncio

    from kubernetes_asyncio.client.exceptions import ApiException

    from kcost.kube.client import connect

    async def main() -> Any:
        async with connect(ctx.kubeconfig, ctx.context) as kube:
            return await work(kube)

    try:
        return asyncio.run(main())
    except ApiException as error:
        if error.status == 404:
            # Missing objects come back as None from get(); a 404 here means the kinds are not served.
            fail(
                "kcost is not installed in this cluster (no optimizer.kcost.dev resources): "
                "install it with `helm install kcost helm/kcost`",
                EXIT_NOT_INSTALLED,
            )
        if error.status == 403:
            fail(f"forbidden: {_forbidden_detail(error)}", EXIT_FORBIDDEN)
        if error.status == 401:
            fail("unauthorized: your kubeconfig credentials were refused", EXIT_FORBIDDEN)
        raise
    except (OSError, TimeoutError) as error:
        fail(
            f"no cluster reachable ({type(error).__name__}: {error}); check --kubeconfig and --context",
            EXIT_UNREACHABLE,
        )
    except Exception as error:
        if type(error).__name__ in (
            "ClientConnectorError",
            "ServerDisconnectedError",
            "ClientConnectorCertificateError",
        ):
            fail(f"no cluster reachable: {error}; check --kubeconfig and --context", EXIT_UNREACHABLE)
        if type(error).__name__ == "ConfigException":
            fail(f"no usable kubeconfig: {error}", EXIT_UNREACHABLE)
        raise


def _forbidden_detail(error: Any) -> str:
    import json

    try:
        return str(json.loads(error.body).get("message"))
    except (ValueError, TypeError, AttributeError):
        return str(error.reason)


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
    """
    click_ctx.obj = Context(kubeconfig, kube_context)


def _selector_namespaces(namespace: str | None, all_namespaces: bool) -> str | None:
    return None if all_namespaces else namespace or "default"


def emit(items: list[dict[str, Any]], output: str, columns: list[tuple[str, Any]], wide: list[tuple[str, Any]]) -> None:
    """Print objects as a table (colour only on a terminal) or as a Kubernetes List in JSON/YAML."""
    if output in ("json", "yaml"):
        document = {"apiVersion": "v1", "kind": "List", "items": items}
        if output == "json":
            import json

            click.echo(json.dumps(document, indent=2))
        else:
            import yaml

            dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: much faster
            click.echo(yaml.dump(document, Dumper=dumper, sort_keys=False), nl=False)
        return
    chosen = columns + (wide if output == "wide" else [])
    rows = [[str(getter(item)) for _, getter in chosen] for item in items]
    if not sys.stdout.isatty():
        # Piped: plain aligned text like kubectl's, fast for thousands of rows and never cut.
        widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, (name, _) in enumerate(chosen)]
        lines = ["   ".join(name.ljust(width) for (name, _), width in zip(chosen, widths, strict=True)).rstrip()]
        lines += [
            "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
        click.echo("\n".join(lines))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, _ in chosen:
        table.add_column(name, justify="right" if name in ("SAVINGS/MO", "CONFIDENCE", "RECS") else "left")
    for row in rows:
        table.add_row(*row)
    Console(highlight=False).print(table)


def _output_option(function: Any) -> Any:
    return click.option("-o", "--output", type=click.Choice(OUTPUTS), default="table", show_default=True)(function)


def _namespace_options(function: Any) -> Any:
    function = click.option("-A", "--all-namespaces", is_flag=True, help="Across all namespaces.")(function)
    return click.option("-n", "--namespace", default=None, help="Namespace [default: default].")(function)


@cli.command("recommendations")
@_namespace_options
@click.option("--type", "rec_type", default=None, help="Only this type, e.g. right-sizing.")
@click.option("--phase", default=None, help="Only this phase, e.g. Proposed.")
@click.option("--min-savings", type=float, default=0.0, help="Only savings of at least this much per month.")
@_output_option
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
    from kcost.api.v1alpha1.recommendation import OptimizationRecommendation

    async def work(kube: KubeClient) -> list[dict[str, Any]]:
        return await kube.list_raw(OptimizationRecommendation, _selector_namespaces(namespace, all_namespaces))

    items = run(ctx, work)
    chosen = [
        i
        for i in items
        if (rec_type is None or i["spec"]["type"] == rec_type)
        and (phase is None or (i.get("status") or {}).get("phase") == phase)
        and float(i["spec"].get("estimatedMonthlySavings", 0)) >= min_savings
    ]
    chosen.sort(key=lambda i: -float(i["spec"].get("estimatedMonthlySavings", 0)))
    columns = [
        ("NAMESPACE", lambda i: i["metadata"]["namespace"]),
        ("NAME", lambda i: i["metadata"]["name"]),
        ("TARGET", lambda i: f"{i['spec']['targetRef']['kind']}/{i['spec']['targetRef']['name']}"),
        ("TYPE", lambda i: i["spec"]["type"]),
        ("SAVINGS/MO", lambda i: f"{float(i['spec']['estimatedMonthlySavings']):,.2f}"),
        ("CONFIDENCE", lambda i: f"{float(i['spec']['confidence']):.2f}"),
        ("RISK", lambda i: i["spec"]["riskLevel"]),
        ("PHASE", lambda i: (i.get("status") or {}).get("phase", "")),
    ]
    wide = [
        ("ANALYSIS", lambda i: i["metadata"].get("labels", {}).get("kcost.dev/analysis", "")),
        ("METHOD", lambda i: i["spec"].get("evidence", {}).get("method", "")),
    ]
    emit(chosen, output, columns, wide)
    if output in ("table", "wide"):
        total = sum(float(i["spec"]["estimatedMonthlySavings"]) for i in chosen)
        click.echo(f"\n{len(chosen)} recommendations, {total:,.2f} per month in total")


cli.add_command(recommendations, "recs")


def _sparkline(values: list[float]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    if not values:
        return ""
    top = max(values) or 1.0
    return "".join(bars[min(len(bars) - 1, int(v / top * (len(bars) - 1)))] for v in values)


def _fmt_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


@cli.command("show")
@click.argument("name")
@click.option("-n", "--namespace", default=None, help="Namespace [default: default].")
@_output_option
@click.pass_obj
def show(ctx: Context, name: str, namespace: str | None, output: str) -> None:
    """The evidence behind one recommendation: current vs proposed, usage, OOMs, confidence, risk.

    \b
    Examples:
      kubectl cost show -n shop deployment-web-right-sizing
      kubectl cost show -n shop deployment-web-right-sizing -o yaml
    """
    from kcost.api.v1alpha1.recommendation import OptimizationRecommendation

    async def work(kube: KubeClient) -> dict[str, Any] | None:
        return await kube.get_raw(OptimizationRecommendation, name, namespace or "default")

    body = run(ctx, work)
    if body is None:
        fail(
            f"no recommendation {name!r} in namespace {namespace or 'default'} (try `kubectl cost recs -A`)",
            EXIT_NOT_FOUND,
        )
        return
    if output in ("json", "yaml"):
        emit([body], output, [], [])
        return
    rec = OptimizationRecommendation.model_validate(body)
    spec = rec.spec
    click.secho(f"{rec.namespace}/{rec.name}", bold=True)
    click.echo(f"  target:      {spec.target_ref.kind}/{spec.target_ref.name}")
    click.echo(f"  type:        {spec.type.value}    phase: {rec.status.phase.value if rec.status.phase else '-'}")
    click.echo(f"  savings:     {spec.estimated_monthly_savings:,.2f} {spec.currency}/month")
    click.echo(f"  confidence:  {spec.confidence:.2f}    risk: {spec.risk_level.value}")
    click.echo(f"  method:      {spec.evidence.method}")
    click.echo(f"  samples:     {spec.evidence.sample_count}    window: {spec.evidence.window or '-'}")
    current = {c.name: c for c in spec.current.containers}
    click.echo("\n  container          resource   current     proposed")
    for change in spec.changes.containers:
        before = current.get(change.name)
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                new = getattr(getattr(change, kind) or object(), resource, None)
                old = getattr(getattr(before, kind, None) or object(), resource, None) if before else None
                if new or old:
                    click.echo(f"  {change.name:<18} {resource + ' ' + kind[:-1]:<10} {old or '-':<11} {new or '-'}")
    if spec.current.replicas is not None or spec.changes.replicas is not None:
        click.echo(f"  replicas: {spec.current.replicas} -> {spec.changes.replicas}")
    for evidence in spec.evidence.containers:
        cpu, memory = evidence.cpu_cores, evidence.memory_bytes
        click.echo(
            f"\n  {evidence.name}: cpu p50 {cpu.p50 if cpu else '-'} p95 {cpu.p95 if cpu else '-'} "
            f"max {cpu.max if cpu else '-'} cores; memory p95 {_fmt_bytes(memory.p95 if memory else None)} "
            f"max {_fmt_bytes(memory.max if memory else None)}; OOM kills {evidence.oom_events}"
        )
    if spec.evidence.usage_sparkline:
        click.echo(f"\n  daily CPU use: {_sparkline(spec.evidence.usage_sparkline)}")
    for note in spec.evidence.notes:
        click.echo(f"  note: {note}")


@cli.command("analyze")
@_namespace_options
@click.option("--window", default="14d", show_default=True, help="How much history to read.")
@click.option("--profile", default="default", show_default=True, help="The ClusterCostProfile to price with.")
@click.option("--analyzer", "analyzers", multiple=True, help="Analyzers to run [default: rightsizing, idle].")
@click.option("--wait/--no-wait", default=False, help="Follow the run with a progress bar until it ends.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait with --wait.")
@click.pass_obj
def analyze(
    ctx: Context,
    namespace: str | None,
    all_namespaces: bool,
    window: str,
    profile: str,
    analyzers: tuple[str, ...],
    wait: bool,
    timeout: float,
) -> None:
    """Start an Analysis now; with --wait, follow it and print what it found.

    \b
    Examples:
      kubectl cost analyze -A --wait
      kubectl cost analyze -n shop --window 7d --wait
    """
    import datetime

    from kcost.api.v1alpha1.analysis import Analysis, AnalysisSpec, AnalyzerSpec, ProfileRef

    scope = [] if all_namespaces else [namespace or "default"]
    spec = AnalysisSpec(profile_ref=ProfileRef(name=profile), namespaces=scope, window=window)
    if analyzers:
        spec.analyzers = [AnalyzerSpec(name=name) for name in analyzers]
    name = f"cli-{datetime.datetime.now(datetime.UTC):%Y%m%d-%H%M%S}"
    body = {
        "metadata": {"name": name, "labels": {"app.kubernetes.io/created-by": "kubectl-cost"}},
        "spec": spec.to_api(),
    }

    async def work(kube: KubeClient) -> dict[str, Any]:
        created = await kube.apply(Analysis, body, field_manager="kubectl-cost")
        if wait:
            created = await _follow(kube, name, timeout)
        return created

    result = run(ctx, work)
    click.echo(f"analysis.optimizer.kcost.dev/{name} created")
    if wait:
        status = result.get("status") or {}
        phase = status.get("phase")
        ready: dict[str, Any] = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
        summary = status.get("summary") or {}
        click.echo(f"{phase}: {ready.get('message', '')}")
        for kind, count in sorted((summary.get("recommendationsByType") or {}).items()):
            click.echo(f"  {kind:<20} {count:>4}  {summary.get('savingsByType', {}).get(kind, 0):>10,.2f}/month")
        if phase != "Succeeded":
            sys.exit(1)


async def _follow(kube: KubeClient, name: str, wait_s: float) -> dict[str, Any]:
    import asyncio
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from kcost.api.v1alpha1.analysis import Analysis

    deadline = time.monotonic() + wait_s
    body: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True, console=None
    ) as progress:
        task = progress.add_task("waiting for the operator", total=None)
        while time.monotonic() < deadline:
            body = await kube.get_raw(Analysis, name) or {}
            status = body.get("status") or {}
            phase = status.get("phase")
            analyzers = status.get("analyzers") or {}
            enabled = [a["name"] for a in body.get("spec", {}).get("analyzers", []) if a.get("enabled", True)]
            done = sum(
                1
                for a in enabled
                if analyzers.get(a, {}).get("phase") in ("Succeeded", "Failed")
                and analyzers.get(a, {}).get("runId") == status.get("runId")
            )
            progress.update(
                task,
                description=f"{phase or 'Pending'}: {done}/{len(enabled)} analyzers done",
                total=len(enabled) or None,
                completed=done,
            )
            if phase in ("Succeeded", "Failed"):
                return body
            await asyncio.sleep(1)
    fail(f"Analysis {name} did not finish within {wait_s:.0f} s (it keeps running: kubectl get kca {name})", 1)
    return body


@cli.command("summary")
@click.option("--profile", default=None, help="The ClusterCostProfile [default: the only one].")
@_output_option
@click.pass_obj
def summary(ctx: Context, profile: str | None, output: str) -> None:
    """Cluster cost per hour and month, by resource and idle; savings by type; top namespaces; last analysis.

    \b
    Examples:
      kubectl cost summary
      kubectl cost summary -o json
    """
    from kcost.api.v1alpha1.analysis import Analysis
    from kcost.api.v1alpha1.profile import ClusterCostProfile
    from kcost.api.v1alpha1.recommendation import OptimizationRecommendation

    async def work(kube: KubeClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        return (
            await kube.list_raw(ClusterCostProfile),
            await kube.list_raw(Analysis),
            await kube.list_raw(OptimizationRecommendation),
        )

    profiles, analyses, recs = run(ctx, work)
    if profile:
        profiles = [p for p in profiles if p["metadata"]["name"] == profile]
    document = _summary_document(profiles, analyses, recs)
    if output in ("json", "yaml"):
        emit([document], output, [], [])
        return
    _print_summary(document)


def _summary_document(
    profiles: list[dict[str, Any]], analyses: list[dict[str, Any]], recs: list[dict[str, Any]]
) -> dict[str, Any]:
    import datetime

    open_recs = [r for r in recs if (r.get("status") or {}).get("phase") in (None, "Proposed", "Approved")]
    by_type: dict[str, float] = {}
    best_by_target: dict[tuple[str, str, str], float] = {}
    for rec in open_recs:
        savings = float(rec["spec"]["estimatedMonthlySavings"])
        by_type[rec["spec"]["type"]] = by_type.get(rec["spec"]["type"], 0.0) + savings
        target = (rec["metadata"]["namespace"], rec["spec"]["targetRef"]["kind"], rec["spec"]["targetRef"]["name"])
        # Two proposals for one workload are alternatives: count the larger.
        best_by_target[target] = max(best_by_target.get(target, 0.0), savings)
    finished = [a for a in analyses if (a.get("status") or {}).get("finishedAt")]
    last = max(finished, key=lambda a: a["status"]["finishedAt"], default=None)
    status = (profiles[0].get("status") or {}) if profiles else {}
    age = None
    if last is not None:
        finished_at = datetime.datetime.fromisoformat(last["status"]["finishedAt"].replace("Z", "+00:00"))
        age = int((datetime.datetime.now(datetime.UTC) - finished_at).total_seconds())
    return {
        "profile": profiles[0]["metadata"]["name"] if profiles else None,
        "currency": status.get("currency", "USD"),
        "hourlyCost": status.get("hourlyCost"),
        "monthlyCost": status.get("monthlyCost"),
        "topNamespaces": status.get("topNamespaces", []),
        "potentialMonthlySavings": round(sum(best_by_target.values()), 2),
        "savingsByType": {k: round(v, 2) for k, v in sorted(by_type.items())},
        "openRecommendations": len(open_recs),
        "lastAnalysis": None
        if last is None
        else {
            "name": last["metadata"]["name"],
            "phase": last["status"].get("phase"),
            "ageSeconds": age,
        },
    }


def _print_summary(document: dict[str, Any]) -> None:
    currency = document["currency"]
    monthly, hourly = document["monthlyCost"], document["hourlyCost"]
    click.secho(f"Cluster cost ({document['profile'] or 'no ClusterCostProfile'})", bold=True)
    if monthly and hourly:
        click.echo(f"  {hourly['total']:,.2f} {currency}/hour   {monthly['total']:,.2f} {currency}/month")
        for part in ("cpu", "memory", "gpu", "storage", "network", "idle"):
            if monthly.get(part):
                share = monthly[part] / monthly["total"] * 100 if monthly["total"] else 0
                click.echo(f"    {part:<8} {monthly[part]:>12,.2f}/month  {share:5.1f}%")
    else:
        click.echo("  not priced yet (is the kcost cost analyzer running?)")
    click.secho(
        f"\nPotential savings: {document['potentialMonthlySavings']:,.2f} {currency}/month "
        f"from {document['openRecommendations']} open recommendations",
        bold=True,
    )
    for kind, value in document["savingsByType"].items():
        click.echo(f"    {kind:<20} {value:>12,.2f}/month")
    if document["topNamespaces"]:
        click.secho("\nTop namespaces", bold=True)
        for item in document["topNamespaces"][:5]:
            click.echo(f"    {item['namespace']:<20} {item['monthlyCost']:>12,.2f}/month")
    last = document["lastAnalysis"]
    if last:
        click.echo(f"\nLast analysis: {last['name']} ({last['phase']}, {last['ageSeconds'] // 60} min ago)")
    else:
        click.echo("\nNo analysis has finished yet: run `kubectl cost analyze -A --wait`")


@cli.command("costs")
@click.option(
    "--by", "group_by", default="namespace", show_default=True, help="Group by namespace, workload, node or label=KEY."
)
@click.option("--profile", default=None, help="The ClusterCostProfile whose prices to use [default: the only one].")
@_output_option
@click.pass_obj
def costs(ctx: Context, group_by: str, profile: str | None, output: str) -> None:
    """Current cost allocation per month: max(request, usage) of every container, and idle.

    \b
    Examples:
      kubectl cost costs
      kubectl cost costs --by label=team -o json
    """
    from kcost.analyzers.cost import analyzer as cost
    from kcost.analyzers.cost import model
    from kcost.api.v1alpha1.profile import ClusterCostProfile

    if group_by not in ("namespace", "workload", "node") and not group_by.startswith("label="):
        raise click.BadParameter("expected namespace, workload, node or label=KEY", param_hint="--by")

    async def work(kube: KubeClient) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
        profiles = await kube.list_raw(ClusterCostProfile)
        nodes = await kube.nodes()
        pods = await kube.pods()
        return profiles, nodes, pods

    profiles, nodes, pods = run(ctx, work)
    chosen = next((p for p in profiles if profile is None or p["metadata"]["name"] == profile), None)
    if chosen is None:
        fail(
            f"no ClusterCostProfile{' ' + repr(profile) if profile else ''}: create one (see config/samples)",
            EXIT_NOT_FOUND,
        )
        return
    parsed = ClusterCostProfile.model_validate(chosen)
    prices = {(n.instance_type, n.region, n.capacity_type): n.hourly_price for n in parsed.status.nodes}
    priced = []
    for node in nodes:
        identity = model.node_identity(
            node["metadata"].get("labels") or {}, parsed.spec.provider.value, parsed.spec.region or ""
        )
        capacity = (node.get("status") or {}).get("capacity") or {}
        priced.append(
            model.price_node(
                node["metadata"]["name"],
                identity,
                parse_q(capacity.get("cpu", "0")),
                parse_q(capacity.get("memory", "0")) / model.GIB,
                parse_q(capacity.get("nvidia.com/gpu", "0")),
                hourly_price=prices.get((identity.instance_type or "unknown", identity.region, identity.capacity_type)),
                price_source="profile",
            )
        )
    allocation = model.allocate([n for n in priced if n.cpu_cores > 0 and n.memory_gib > 0], cost.containers_of(pods))
    rows: dict[str, dict[str, float]] = {}
    for item in allocation.containers:
        key = model.group_key(item.use, group_by)
        row = rows.setdefault(key, {"cpu": 0.0, "memory": 0.0, "gpu": 0.0, "total": 0.0})
        for part, value in (("cpu", item.cpu), ("memory", item.memory), ("gpu", item.gpu), ("total", item.total)):
            row[part] += value * model.HOURS_PER_MONTH
    items = [
        {"name": key, **{k: round(v, 2) for k, v in row.items()}}
        for key, row in sorted(rows.items(), key=lambda kv: -kv[1]["total"])
    ]
    items.append(
        {
            "name": "__idle__",
            "cpu": 0.0,
            "memory": 0.0,
            "gpu": 0.0,
            "total": round(allocation.idle * model.HOURS_PER_MONTH, 2),
        }
    )
    currency = parsed.spec.pricing.currency
    columns = [
        (group_by.upper(), lambda i: i["name"]),
        (f"CPU {currency}/MO", lambda i: f"{i['cpu']:,.2f}"),
        (f"MEMORY {currency}/MO", lambda i: f"{i['memory']:,.2f}"),
        (f"TOTAL {currency}/MO", lambda i: f"{i['total']:,.2f}"),
    ]
    emit(items, output, columns, [(f"GPU {currency}/MO", lambda i: f"{i['gpu']:,.2f}")])
    if output in ("table", "wide"):
        click.echo(
            f"\ntotal {allocation.total * model.HOURS_PER_MONTH:,.2f} {currency}/month, "
            f"of which idle {allocation.idle * model.HOURS_PER_MONTH:,.2f}"
        )


def parse_q(value: str) -> float:
    from kcost.api.v1alpha1.common import parse_quantity

    return parse_quantity(value)


@cli.group("pricing")
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
@_output_option
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
    from kcost.api.v1alpha1.profile import ClusterCostProfile

    if catalog_path is None:

        async def work(kube: KubeClient) -> list[dict[str, Any]]:
            return await kube.list_raw(ClusterCostProfile)

        profiles = [ClusterCostProfile.model_validate(p) for p in run(ctx, work)]
        catalog_path = next(
            (p.spec.pricing.catalog.path for p in profiles if p.spec.pricing.catalog and p.spec.pricing.catalog.path),
            None,
        )
        if catalog_path is None:
            fail(
                "no price file: give --catalog FILE, or a ClusterCostProfile with spec.pricing.catalog.path",
                EXIT_NOT_FOUND,
            )
            return
    sheet = asyncio.run(catalog_source.load_catalog(Path(catalog_path)))
    groups = cheapest_matching(
        sheet.prices.values(), vcpu=vcpu, memory_gib=parse_q(memory) / 2**30, gpus=gpus, per_group=top
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
            "usdPerMonth": round(o.usd_per_hour * 730, 2),
        }
        for g in groups
        for o in g.offers
    ]
    items.sort(key=lambda i: (i["provider"], i["capacityType"], i["usdPerHour"]))
    columns = [
        ("PROVIDER", lambda i: i["provider"]),
        ("REGION", lambda i: i["region"]),
        ("CAPACITY", lambda i: i["capacityType"]),
        ("TYPE", lambda i: i["instanceType"]),
        ("VCPU", lambda i: f"{i['vcpu']:g}"),
        ("MEMORY", lambda i: f"{i['memoryGiB']:g}Gi"),
        ("USD/H", lambda i: f"{i['usdPerHour']:.4f}"),
        ("USD/MO", lambda i: f"{i['usdPerMonth']:,.2f}"),
    ]
    emit(items, output, columns, [("GPUS", lambda i: str(i["gpus"]))])


def main() -> None:
    cli()
