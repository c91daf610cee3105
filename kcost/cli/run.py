"""``kcost operator``, ``kcost analyzer``: the long-running processes.

This is the one CLI module allowed to import the operator and the analyzers: it
starts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import click


def _logging(verbose: bool) -> None:
    from kcost.config import Config
    from kcost.observability import logs

    logs.configure(Config.from_env().log_format, verbose=verbose)


@contextlib.asynccontextmanager
async def _telemetry(service: str) -> AsyncIterator[None]:
    """``/metrics`` on ``KCOST_METRICS_PORT`` and OTLP traces (when configured) for one analyzer process."""
    from kcost.config import Config
    from kcost.observability import metrics, tracing

    tracing.setup(service)
    try:
        async with metrics.serve(Config.from_env().metrics_port):
            yield
    finally:
        tracing.shutdown()


@click.command("operator")
@click.option("-v", "--verbose", is_flag=True)
def operator(verbose: bool) -> None:
    """Run the kcost operator (reconciles the four kinds) against $KUBECONFIG or in-cluster."""
    _logging(verbose)
    from kcost.kube import client
    from kcost.operator import main

    async def check_kubeconfig() -> None:
        # kopf retries a failing startup forever; an unusable kubeconfig is better said once, at once.
        async with client.connect():
            pass

    asyncio.run(check_kubeconfig())
    asyncio.run(main.run())


async def _serve_cost() -> None:
    """The cost analyzer: prices every ClusterCostProfile's cluster every KCOST_COST_INTERVAL_SECONDS."""
    import datetime

    from kcost.analyzers.cost import analyzer as cost
    from kcost.analyzers.cost.forecast import Forecaster
    from kcost.analyzers.cost.pricer import PricerFactory
    from kcost.config import Config
    from kcost.history.buffer import BufferedWriter
    from kcost.history.store import HistoryStore
    from kcost.kube import client
    from kcost.observability import metrics

    config = Config.from_env()
    interval = datetime.timedelta(seconds=config.cost_interval_s)
    store = HistoryStore()
    try:
        # A database that is down now is retried by the writer; the pricing goes on regardless.
        await store.connect(config.database_url)
    except Exception as error:  # noqa: BLE001
        logging.getLogger("kcost.analyzers.cost").warning(
            "history store unavailable for now: %s", store.redact(str(error))
        )
    async with (
        _telemetry("kcost-analyzer-cost"),
        client.connect() as kube,
        BufferedWriter(store) as writer,
    ):
        metrics.add_collector(
            metrics.HistoryWriterCollector(lambda: (writer.written, writer.retried, writer.dropped, writer.pending))
        )

        async def record(profile: Any, report: Any) -> None:
            day = datetime.datetime.now(datetime.UTC).date()
            writer.submit(*cost.history_rows(profile.name, day, report.allocation))

        # The forecast reads the daily costs this process writes; it runs beside the pricing, never in its way.
        await asyncio.gather(
            cost.serve(kube, PricerFactory(kube), interval, on_report=record),
            Forecaster(store).serve(kube, interval),
        )
    await store.close()


class _AnalyzerCommand(click.Command):
    """``kcost analyzer NAME --help`` also lists NAME's settings, as the Analysis CRD promises."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        chosen, following = None, iter(args)
        for arg in following:
            if arg == "--plugin":
                chosen = ("plugin", next(following, ""))
            elif arg.startswith("--plugin="):
                chosen = ("plugin", arg.partition("=")[2])
            elif not arg.startswith("-") and chosen is None:
                chosen = ("name", arg)
        ctx.meta["kcost.analyzer"] = chosen
        return super().parse_args(ctx, args)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        chosen = ctx.meta.get("kcost.analyzer")
        if chosen is None:
            return
        from kcost.analyzers import registry

        kind, value = chosen
        if kind == "name" and value == "cost":
            text = "none: the cost analyzer prices every ClusterCostProfile every KCOST_COST_INTERVAL_SECONDS"
        else:
            try:
                model = (
                    registry.load_plugin(value).settings_model if kind == "plugin" else registry.settings_model(value)
                )
                text = registry.describe_settings(model)
            except (registry.UnknownAnalyzerError, ImportError, AttributeError) as error:
                text = str(error)
        with formatter.section(f"Settings of {value} (spec.analyzers[].settings of an Analysis)"):
            for line in text.splitlines():
                formatter.write(" " * formatter.current_indent + line + "\n")


@click.command("analyzer", cls=_AnalyzerCommand)
@click.argument("name", required=False)
@click.option("--plugin", default=None, metavar="MODULE:CLASS", help="Load the analyzer from here instead of by name.")
@click.option("-v", "--verbose", is_flag=True)
def analyzer(name: str | None, plugin: str | None, verbose: bool) -> None:
    """Run one analyzer as its own process: it works on every Running Analysis that enables it.

    `kcost analyzer NAME --help` lists NAME's settings.

    \b
    Examples:
      kcost analyzer rightsizing
      kcost analyzer --plugin my_company.analyzers:GpuIdle
    """
    _logging(verbose)
    from kcost.analyzers import registry, runtime
    from kcost.kube import client

    if name == "cost" and not plugin:
        asyncio.run(_serve_cost())
        return

    try:
        chosen = registry.load_plugin(plugin) if plugin else registry.load(name or "")
    except (registry.UnknownAnalyzerError, ImportError, AttributeError) as error:
        raise click.ClickException(str(error)) from None

    async def serve() -> None:
        # SIGTERM (a Pod stopping) ends the loop as Ctrl-C does: the analyzer lets its workers go.
        task = asyncio.current_task()
        if task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        async with _telemetry(f"kcost-analyzer-{chosen.name}"), client.connect() as kube:
            await runtime.serve(kube, chosen)

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(serve())


def default_analyzer_cache_dir() -> str:
    """Where ``kcost run``'s analyzers keep their range answers unless told: the user's cache folder."""
    from pathlib import Path

    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(cache_home) / "kcost" / "analyzer-ranges")


def _child_env(index: int) -> dict[str, str]:
    """The environment of ``kcost run``'s ``index``-th process: its own metrics port (base + index).

    The analyzers' range cache defaults to the user's cache folder; set to empty, it stays off.
    """
    from kcost.config import Config

    env = dict(os.environ)
    env.setdefault("KCOST_ANALYZER_CACHE_DIR", default_analyzer_cache_dir())
    base = Config.from_env().metrics_port
    if base:
        env["KCOST_METRICS_PORT"] = str(base + index)
    return env


@click.command("run")
@click.option("--analyzer", "analyzers", multiple=True, default=("rightsizing", "idle", "cost"), show_default=True)
@click.option(
    "--webhook/--no-webhook",
    default=True,
    show_default=True,
    help="Also serve the admission webhook and register it with the API server (removed again on a clean stop).",
)
@click.option(
    "--api/--no-api", default=True, show_default=True, help="Also serve the status API (`kcost api`, KCOST_API_PORT)."
)
def run_all(analyzers: tuple[str, ...], webhook: bool, api: bool) -> None:
    """Run the operator, the analyzers, the admission webhook and the status API together, one process each.

    Run it as kcost's own identity (a user in KCOST_WEBHOOK_TRUSTED_USERS, e.g. `kcost` in the dev
    cluster): the webhook leaves that identity's writes alone, so the operator's approvals keep
    their `approvedBy: policy/<name>` and a stopped webhook never blocks kcost itself.
    """
    from pathlib import Path

    commands = [["operator"], *(["analyzer", name] for name in analyzers)]
    if webhook:
        # After the analyzers, so their metrics ports stay base + their index.
        commands.append(["webhook", "--unregister-on-exit"])
    if api:
        # After the webhook (or in its place): metrics ports of the earlier processes do not move.
        commands.append(["api"])
    kcost = str(Path(sys.executable).with_name("kcost"))
    supervise({" ".join(["kcost", *command]): [kcost, *command] for command in commands})


def supervise(commands: dict[str, list[str]]) -> None:
    """Run each named command, the i-th with /metrics on the base port + i, until one ends or a signal comes; then
    stop them all. A process that ended by itself is an error naming it: a partial kcost would quietly do less than
    it says."""
    import subprocess

    names = list(commands)
    children = [subprocess.Popen(argv, env=_child_env(index)) for index, argv in enumerate(commands.values())]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(child.poll() is None for child in children):
        signal.sigtimedwait([signal.SIGCHLD], 1.0)
    ended = next(index for index, child in enumerate(children) if child.returncode is not None)
    asked_to_stop = stopping  # by a signal to `kcost run`, before any process ended by itself
    stop()
    for child in children:
        child.wait(timeout=30)
    if not asked_to_stop:
        code = children[ended].returncode
        raise click.ClickException(f"`{names[ended]}` exited with code {code}; stopped the other processes")
