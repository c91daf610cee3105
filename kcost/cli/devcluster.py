"""``kcost dev-cluster``: the local control plane, Prometheus and scenarios."""

from __future__ import annotations

import shlex
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from kcost.devcluster.cluster import DevCluster
    from kcost.devcluster.scenario.model import Scenario

work_dir_option = click.option(
    "--dir",
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Work folder of the cluster [default: $KCOST_DEV_DIR or ./.kcost/dev-cluster].",
)


def _cluster(work_dir: Path | None) -> DevCluster:
    from rich.console import Console

    from kcost.devcluster.cluster import DevCluster
    from kcost.devcluster.state import default_work_dir

    return DevCluster((work_dir or default_work_dir()).absolute(), Console(stderr=True))


def _scenario(name: str | None, trace: Path | None, trace_vms: int) -> Scenario | None:
    from kcost.devcluster.scenario import library

    if trace is not None:
        return library.from_trace(trace, vms=trace_vms)
    if name is None:
        return None
    if name not in library.BUILT_IN:
        raise click.BadParameter(
            f"unknown scenario {name!r}; built in: {', '.join(library.BUILT_IN)}", param_hint="--scenario"
        )
    return library.BUILT_IN[name]()


def _fail(error: Exception) -> None:
    click.secho(f"error: {error}", fg="red", err=True)
    sys.exit(1)


@click.group("dev-cluster")
def dev_cluster() -> None:
    """A real local control plane (etcd, kube-apiserver, controller-manager, scheduler,
    kwok nodes) and Prometheus, all on 127.0.0.1.

    \b
    Examples:
      kcost dev-cluster up --scenario demo
      eval "$(kcost dev-cluster env)" && kubectl get nodes,pods -A
      kcost dev-cluster down
    """


@dev_cluster.command()
@work_dir_option
@click.option("--scenario", default=None, help="Load a built-in scenario (smoke, demo) after start.")
@click.option(
    "--trace",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Load a usage trace file (schema of ../shared/data/traces) as workloads.",
)
@click.option("--trace-vms", default=20, show_default=True, help="How many VMs of the trace to load.")
def up(work_dir: Path | None, scenario: str | None, trace: Path | None, trace_vms: int) -> None:
    """Start the cluster (idempotent: starts only what is not running)."""
    import time

    from kcost.devcluster.nodes import default_nodes
    from kcost.devcluster.scenario import loader

    cluster = _cluster(work_dir)
    chosen = _scenario(scenario, trace, trace_vms)
    started = time.monotonic()
    try:
        cluster.up(default_nodes() if chosen is None else chosen.nodes)
        if chosen is not None:
            loader.load(cluster, chosen)
    except Exception as error:  # noqa: BLE001 - every failure becomes one readable line
        _fail(error)
    cluster.console.print(f"dev cluster ready in {time.monotonic() - started:.1f} s ({cluster.work_dir})")
    cluster.console.print('use it with: eval "$(kcost dev-cluster env)"')


@dev_cluster.command()
@work_dir_option
@click.option("--purge", is_flag=True, help="Also delete the work folder (data, certificates).")
def down(work_dir: Path | None, purge: bool) -> None:
    """Stop every process of the cluster."""
    cluster = _cluster(work_dir)
    cluster.purge() if purge else cluster.down()
    cluster.console.print("dev cluster stopped" + (" and purged" if purge else ""))


@dev_cluster.command()
@work_dir_option
def status(work_dir: Path | None) -> None:
    """Show which processes run; exit 1 when any is stopped."""
    cluster = _cluster(work_dir)
    report = cluster.status()
    for name, process_state in report.items():
        click.echo(f"{name:<25} {process_state}")
    state = cluster.state()
    if state is not None:
        for key, value in state.exports().items():
            click.echo(f"{key:<25} {value}")
    sys.exit(0 if all(value.startswith("running") for value in report.values()) else 1)


@dev_cluster.command()
@work_dir_option
def env(work_dir: Path | None) -> None:
    """Print the exports a shell needs: eval "$(kcost dev-cluster env)"."""
    cluster = _cluster(work_dir)
    state = cluster.state()
    if state is None:
        _fail(RuntimeError(f"no dev cluster in {cluster.work_dir}: run `kcost dev-cluster up` first"))
        return
    from kcost.devcluster import binaries

    for key, value in state.exports().items():
        click.echo(f"export {key}={shlex.quote(value)}")
    # kubectl of the cluster's own release first: the machine's may be too old for it. Then this
    # kcost's own scripts (the venv's bin), so that kubectl finds the `kubectl-cost` plugin.
    kube_bin, scripts = shlex.quote(str(binaries.KUBE.bin_dir)), shlex.quote(sysconfig.get_path("scripts"))
    click.echo(f'export PATH={kube_bin}:{scripts}:"$PATH"')


@dev_cluster.command()
@work_dir_option
@click.argument("scenario", required=False)
@click.option("--trace", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--trace-vms", default=20, show_default=True)
def load(work_dir: Path | None, scenario: str | None, trace: Path | None, trace_vms: int) -> None:
    """Load a scenario (built-in name, or --trace FILE) into the running cluster."""
    from kcost.devcluster.scenario import loader

    chosen = _scenario(scenario, trace, trace_vms)
    if chosen is None:
        raise click.UsageError("name a scenario or give --trace FILE")
    cluster = _cluster(work_dir)
    try:
        end = loader.load(cluster, chosen)
    except Exception as error:  # noqa: BLE001
        _fail(error)
        return
    cluster.console.print(f"loaded {chosen.name}: {len(chosen.workloads)} workloads, history until {end}")


@dev_cluster.command()
@work_dir_option
@click.option("--user", default=None, help="Mint for this user name (client certificate).")
@click.option("--group", "groups", multiple=True, help="Group of --user (repeatable).")
@click.option(
    "--service-account", default=None, metavar="NAMESPACE/NAME", help="Mint a token for this service account."
)
def kubeconfig(work_dir: Path | None, user: str | None, groups: tuple[str, ...], service_account: str | None) -> None:
    """Mint a kubeconfig for another identity and print its path (to test RBAC)."""
    if (user is None) == (service_account is None):
        raise click.UsageError("give exactly one of --user or --service-account")
    cluster = _cluster(work_dir)
    try:
        if user is not None:
            path = cluster.mint_user_kubeconfig(user, groups)
        else:
            namespace, _, name = (service_account or "").partition("/")
            if not namespace or not name:
                raise click.BadParameter("expected NAMESPACE/NAME", param_hint="--service-account")
            path = cluster.mint_service_account_kubeconfig(namespace, name)
    except click.ClickException:
        raise
    except Exception as error:  # noqa: BLE001
        _fail(error)
        return
    click.echo(str(path))
