"""``kcost dev-cluster``: the local control plane, Prometheus and scenarios."""

from __future__ import annotations

import shlex
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kcost.api.units import GIB

if TYPE_CHECKING:
    from kcost.devcluster.cluster import DevCluster
    from kcost.devcluster.nodes import NodeSpec
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


def trace_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--trace FILE --trace-vms N --trace-days D``: a scenario made from a usage trace."""
    for option in reversed(
        (
            click.option(
                "--trace",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=None,
                help="Load a usage trace file (schema of ../shared/data/traces) as workloads.",
            ),
            click.option("--trace-vms", default=20, show_default=True, help="How many VMs of the trace to load."),
            click.option(
                "--trace-days",
                type=click.FloatRange(min=0, min_open=True, max=60),
                default=14.0,
                show_default=True,
                help="Days of history to write from the trace.",
            ),
        )
    ):
        command = option(command)
    return command


def fleet_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--nodes N --node-type T``: the fleet a command creates."""
    command = click.option(
        "--node-type",
        default=None,
        metavar="TYPE",
        help="Instance type of the --nodes fleet and of nodes added to fit a trace, e.g. m5.2xlarge, "
        "r5.4xlarge, e2-standard-8, Standard_D4s_v5 [default: m5.8xlarge].",
    )(command)
    return click.option(
        "--nodes",
        "node_count",
        type=click.IntRange(min=1),
        default=None,
        help="Create this many nodes of --node-type instead of the default fleet (or the scenario's own).",
    )(command)


def _fleet(node_count: int | None, node_type: str | None, trace: Path | None) -> tuple[list[NodeSpec] | None, str]:
    """The ``--nodes`` fleet (None when not asked for) and the type of nodes to add."""
    from kcost.devcluster import instance_types
    from kcost.devcluster.nodes import nodes_of_type
    from kcost.devcluster.scenario import fleet

    if node_type is not None and node_count is None and trace is None:
        raise click.UsageError("--node-type needs --nodes N (or a --trace to size a fleet for)")
    chosen_type = node_type or fleet.DEFAULT_NODE_TYPE
    try:
        instance_types.lookup(chosen_type)
    except instance_types.UnknownInstanceTypeError as error:
        raise click.BadParameter(str(error), param_hint="--node-type") from None
    return (None if node_count is None else nodes_of_type(node_count, chosen_type)), chosen_type


def _scenario(
    name: str | None,
    trace: Path | None,
    nodes: list[NodeSpec] | None,
    node_type: str,
    *,
    trace_vms: int = 20,
    trace_days: float = 14,
) -> Scenario | None:
    """The scenario asked for, on the ``--nodes`` fleet when one was given, sized so that its pods fit."""
    from kcost.devcluster.scenario import library

    if trace is not None:
        return library.from_trace(trace, vms=trace_vms, days=trace_days, nodes=nodes or (), node_type=node_type)
    if name is None:
        return None
    if name not in library.BUILT_IN:
        raise click.BadParameter(
            f"unknown scenario {name!r}; built in: {', '.join(library.BUILT_IN)}", param_hint="--scenario"
        )
    scenario = library.BUILT_IN[name]()
    return scenario if nodes is None else library.on_nodes(scenario, nodes, node_type)


def _say_added_nodes(cluster: DevCluster, scenario: Scenario, fleet_nodes: list[NodeSpec] | None) -> None:
    """Say which nodes were added so that a trace's, or a --nodes fleet's, pods fit."""
    from kcost.devcluster.scenario import fleet

    given = {node.name for node in fleet_nodes or ()}
    added = [node for node in scenario.nodes if node.name not in given]
    pods, _ = fleet.pod_requests(scenario.workloads)
    cpu_cores = sum(pod.cpu_cores for pod in pods)
    memory_gib = sum(pod.memory_bytes for pod in pods) / GIB
    message = f"{scenario.name}: {len(pods)} pods request {cpu_cores:.1f} cores and {memory_gib:.1f} GiB; "
    if added:
        message += (
            f"adding {len(added)} kwok nodes ({fleet.describe(added)}) so they fit with {fleet.HEADROOM:.0%} headroom"
        )
    else:
        message += f"the {len(given)} nodes hold them with {fleet.HEADROOM:.0%} headroom"
    cluster.console.print(message, markup=False, highlight=False, soft_wrap=True)


def _dir(cluster: DevCluster) -> str:
    from kcost.devcluster.state import dir_flag

    return dir_flag(cluster.work_dir)


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
@trace_options
@fleet_options
@click.option(
    "--real-node",
    is_flag=True,
    help="Also run a real node here (containerd, kubelet, kube-proxy; needs root), e.g. for the Helm chart.",
)
def up(
    work_dir: Path | None,
    scenario: str | None,
    trace: Path | None,
    trace_vms: int,
    trace_days: float,
    node_count: int | None,
    node_type: str | None,
    real_node: bool,
) -> None:
    """Start the cluster (idempotent: starts only what is not running).

    \b
    Nodes: the default fleet (4 small AWS nodes), or --nodes N of --node-type, or a
    scenario's own; a --trace adds nodes until its VMs fit, and says so.
    """
    import time

    from kcost.devcluster import progress
    from kcost.devcluster.nodes import default_nodes
    from kcost.devcluster.scenario import loader
    from kcost.devcluster.state import dir_flag

    fleet_nodes, chosen_type = _fleet(node_count, node_type, trace)
    cluster = _cluster(work_dir)
    started = time.monotonic()
    try:
        with progress.step(cluster.console, f"reading {trace}…" if trace else "preparing the scenario…"):
            chosen = _scenario(scenario, trace, fleet_nodes, chosen_type, trace_vms=trace_vms, trace_days=trace_days)
        if chosen is not None and (trace is not None or fleet_nodes is not None):
            _say_added_nodes(cluster, chosen, fleet_nodes)
        cluster.up(chosen.nodes if chosen is not None else fleet_nodes or default_nodes(), real_node=real_node)
        if chosen is not None:
            loader.load(cluster, chosen)
    except click.ClickException:
        raise
    except Exception as error:  # noqa: BLE001 - every failure becomes one readable line
        _fail(error)
    cluster.console.print(f"dev cluster ready in {time.monotonic() - started:.1f} s ({cluster.work_dir})")
    hint = f'use it with: eval "$(kcost dev-cluster env{dir_flag(cluster.work_dir)})"'
    cluster.console.print(hint, markup=False, highlight=False, soft_wrap=True)


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
        _fail(RuntimeError(f"no dev cluster in {cluster.work_dir}: run `kcost dev-cluster up{_dir(cluster)}` first"))
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
@trace_options
@fleet_options
def load(
    work_dir: Path | None,
    scenario: str | None,
    trace: Path | None,
    trace_vms: int,
    trace_days: float,
    node_count: int | None,
    node_type: str | None,
) -> None:
    """Load a scenario (built-in name, or --trace FILE) into the running cluster, with its nodes."""
    from kcost.devcluster import progress
    from kcost.devcluster.scenario import loader

    fleet_nodes, chosen_type = _fleet(node_count, node_type, trace)
    cluster = _cluster(work_dir)
    try:
        with progress.step(cluster.console, f"reading {trace}…" if trace else "preparing the scenario…"):
            chosen = _scenario(scenario, trace, fleet_nodes, chosen_type, trace_vms=trace_vms, trace_days=trace_days)
        if chosen is None:
            raise click.UsageError("name a scenario or give --trace FILE")
        if trace is not None or fleet_nodes is not None:
            _say_added_nodes(cluster, chosen, fleet_nodes)
        end = loader.load(cluster, chosen)
    except click.ClickException:
        raise
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


@dev_cluster.command("image")
@work_dir_option
def image(work_dir: Path | None) -> None:
    """Build kcost's image from this checkout (no Docker, no registry); load it into the real node if one runs.

    \b
    Prints the chart values that run it on that node, e.g.
      helm install kcost helm/kcost -n kcost --create-namespace $(kcost dev-cluster image)
    """
    from kcost.devcluster import images, realnode

    cluster = _cluster(work_dir)
    state = cluster.state()
    try:
        built = images.build_kcost_image(cluster.console)
        if state is not None and state.real_node is not None:
            cluster.load_image(built)
    except Exception as error:  # noqa: BLE001 - every failure becomes one readable line
        _fail(error)
        return
    cluster.console.print(f"OCI archive: {built.archive} ({built.size_bytes / 2**20:.0f} MiB)")
    values = [f"image.repository={built.repository}", f"image.tag={built.tag}", "image.pullPolicy=Never"]
    flags = [*(f"--set {value}" for value in values), *realnode.REAL_NODE_HELM_FLAGS]
    # Unquoted: meant for $(…) in a shell, where quotes would reach helm as they are.
    click.echo(" ".join(flags))
