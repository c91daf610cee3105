"""``kcost``: run the operator and analyzers, drive the dev cluster, run benchmarks.

Subcommands import their modules lazily so that ``kcost --help`` stays fast.
"""

from __future__ import annotations

import click

from kcost.cli import api, bench, demo, devcluster, manifests, ml, run, webhook


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kcost")
def cli() -> None:
    """kcost: a Kubernetes-native cost optimizer."""


cli.add_command(devcluster.dev_cluster)
cli.add_command(manifests.manifests)
cli.add_command(run.operator)
cli.add_command(run.analyzer)
cli.add_command(bench.bench)
cli.add_command(run.run_all)
cli.add_command(demo.demo)
cli.add_command(webhook.webhook)
cli.add_command(api.api)
cli.add_command(ml.ml)


def main() -> None:
    from kcost.config import ConfigError

    try:
        cli()
    except ConfigError as error:
        # A KCOST_* variable or the kubeconfig, found unusable after startup: one line, not a traceback.
        raise SystemExit(f"Error: {error}") from None
