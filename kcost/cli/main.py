"""``kcost``: run the operator and analyzers, drive the dev cluster, run benchmarks.

Subcommands import their modules lazily so that ``kcost --help`` stays fast, and so that a
long-running process imports only what it runs: ``kcost operator`` importing the bench
commands carried scikit-learn, pandas and scipy, about 55 MiB it never used.
"""

from __future__ import annotations

import importlib

import click

# Command name → "module:attribute", imported only when the command runs (or help lists it).
SUBCOMMANDS = {
    "dev-cluster": "kcost.cli.devcluster:dev_cluster",
    "manifests": "kcost.cli.manifests:manifests",
    "operator": "kcost.cli.run:operator",
    "analyzer": "kcost.cli.run:analyzer",
    "bench": "kcost.cli.bench:bench",
    "run": "kcost.cli.run:run_all",
    "demo": "kcost.cli.demo:demo",
    "webhook": "kcost.cli.webhook:webhook",
    "api": "kcost.cli.api:api",
    "ml": "kcost.cli.ml:ml",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when asked for by name."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._lazy:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self._lazy[cmd_name].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self._lazy[cmd_name]} is not a click command")
        return command


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kcost")
def cli() -> None:
    """kcost: a Kubernetes-native cost optimizer."""


def main() -> None:
    from kcost.config import ConfigError

    try:
        cli()
    except ConfigError as error:
        # A KCOST_* variable or the kubeconfig, found unusable after startup: one line, not a traceback.
        raise SystemExit(f"Error: {error}") from None
