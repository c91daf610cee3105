"""``kubectl cost analyze``: start an Analysis now and, with ``--wait``, follow it to the end."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from kcost.cli.kubectl_cost import errors, options, units

if TYPE_CHECKING:
    from kcost.cli.kubectl_cost.session import Context
    from kcost.kube.client import KubeClient

Body = dict[str, Any]
# The API server appends a random suffix: runs started in the same second never share a name.
NAME_PREFIX = "cli-"
FINISHED = ("Succeeded", "Failed")


@click.command("analyze")
@options.namespace_options
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
    from kcost.api.v1alpha1.analysis import AnalysisSpec, AnalyzerSpec, ProfileRef
    from kcost.cli.kubectl_cost import calls, session

    scope = [] if all_namespaces else [namespace or "default"]
    spec = AnalysisSpec(profile_ref=ProfileRef(name=profile), namespaces=scope, window=window)
    if analyzers:
        spec.analyzers = [AnalyzerSpec(name=name) for name in analyzers]
    body = {
        "metadata": {"generateName": NAME_PREFIX, "labels": {"app.kubernetes.io/created-by": "kubectl-cost"}},
        "spec": spec.to_api(),
    }

    async def work(kube: KubeClient) -> Body:
        created = await calls.create_analysis(kube, body)
        name = created["metadata"]["name"]
        # Said before any wait, so that a user who stops waiting knows which run to look at.
        click.echo(f"analysis.optimizer.kcost.dev/{name} created")
        return await _follow(kube, name, timeout) if wait else created

    result = session.run(ctx, work)
    if wait:
        _print_outcome(result)
        if (result.get("status") or {}).get("phase") != "Succeeded":
            sys.exit(errors.EXIT_RUN_FAILED)


def _print_outcome(analysis: Body) -> None:
    status = analysis.get("status") or {}
    ready: Body = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    summary = status.get("summary") or {}
    click.echo(f"{status.get('phase')}: {ready.get('message', '')}")
    savings_by_type = summary.get("savingsByType") or {}
    for kind, count in sorted((summary.get("recommendationsByType") or {}).items()):
        click.echo(f"  {kind:<20} {count:>4}  {units.money(savings_by_type.get(kind, 0)):>10}/month")


def _analyzers_done(analysis: Body) -> tuple[int, int]:
    """How many of the enabled analyzers finished the current run, of how many."""
    status = analysis.get("status") or {}
    sections = status.get("analyzers") or {}
    enabled = [a["name"] for a in analysis.get("spec", {}).get("analyzers", []) if a.get("enabled", True)]
    done = sum(
        1
        for name in enabled
        if sections.get(name, {}).get("phase") in FINISHED
        and sections.get(name, {}).get("runId") == status.get("runId")
    )
    return done, len(enabled)


async def _follow(kube: KubeClient, name: str, wait_s: float) -> Body:
    """Poll the Analysis ``name`` with a progress bar until it finishes; fail after ``wait_s`` seconds."""
    import asyncio
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from kcost.cli.kubectl_cost import calls

    deadline = time.monotonic() + wait_s
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task("waiting for the operator", total=None)
        while True:
            body = await calls.get_analysis(kube, name) or {}
            phase = (body.get("status") or {}).get("phase")
            done, enabled = _analyzers_done(body)
            progress.update(
                task,
                description=f"{phase or 'Pending'}: {done}/{enabled} analyzers done",
                total=enabled or None,
                completed=done,
            )
            if phase in FINISHED or time.monotonic() >= deadline:
                break
            await asyncio.sleep(1)
    if phase not in FINISHED:
        errors.fail(
            f"Analysis {name} did not finish within {wait_s:.0f} s (it keeps running: kubectl get kca {name})",
            errors.EXIT_RUN_FAILED,
        )
    return body
