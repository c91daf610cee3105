"""``kcost bench promql``: Prometheus's CPU for each way of asking it for the usage the analyzers read.

Against a running dev cluster with history (``kcost bench analysis --keep``, or
``kcost dev-cluster up --scenario demo``): each form's range queries over the same
namespaces and the grid a run started now would read, Prometheus's own
``process_cpu_seconds_total`` before and after, median of ``--repeats`` rounds taken in
turn (so a busy moment of the machine falls on every form alike), and the ratio to the
bare counter selector measured in the same round. The decode floor is one instant
``count_over_time`` over the whole window: every sample read once, nothing done per step.

A step that falls on the generated history's whole-minute scrapes (14 days at 5 minutes: 600 s)
is Prometheus 2.42's worst case for the range functions: each window then starts a millisecond
after a sample, and it seeks at every step (README: "The CPU counter's last sample").
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import statistics
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click

from kcost.analyzers.metrics.workloads import QueryPlan, last_sample, per_second
from kcost.devcluster.state import ClusterState, default_work_dir

# Where each query names its namespace.
NAMESPACE = "__NAMESPACE__"
CPU = f'container_cpu_usage_seconds_total{{{NAMESPACE},container!=""}}'
MEMORY = f'container_memory_working_set_bytes{{{NAMESPACE},container!=""}}'
TIMEOUT_S = 600


@dataclass(frozen=True)
class Form:
    """One way of asking: a range query from ``lag_steps`` steps before the window, or (``instant``) one value."""

    name: str
    promql: str
    lag_steps: int = 0
    instant: bool = False


@dataclass(frozen=True)
class Measured:
    form: str
    promql: str
    cpu_s: list[float]
    median_cpu_s: float
    ratio: float | None
    answer_bytes: int
    points: int


def _forms(plan: QueryPlan) -> list[Form]:
    window_s = plan.rate_window_s
    lag_steps = window_s // plan.step_s
    bare_per_second = f"clamp_min({CPU} - {CPU} offset {window_s}s, 0) / {window_s}"
    return [
        Form("CPU, bare counter (before)", CPU, lag_steps),
        Form("CPU, last sample (fast path)", last_sample(CPU, window_s), lag_steps),
        Form("CPU, c - c offset W (bare)", bare_per_second),
        Form("CPU, per_second (last samples)", per_second(CPU, window_s)),
        Form("memory, peak in each step", f"max_over_time({MEMORY}[{plan.step_range}])"),
        Form("CPU, decode floor (one pass)", f"count_over_time({CPU}[{plan.window_range}])", instant=True),
    ]


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 - the dev cluster's http
            body: bytes = response.read()
            return body
    except OSError as error:  # URLError, HTTPError (a 4xx/5xx answer) and timeouts
        raise click.ClickException(
            f"{url.partition('?')[0]}: {error}; is the dev cluster up (kcost dev-cluster up --dir …)?"
        ) from error


def _cpu_s(prometheus_url: str) -> float:
    for line in _get(f"{prometheus_url}/metrics").decode().splitlines():
        if line.startswith("process_cpu_seconds_total "):
            return float(line.rsplit(" ", 1)[1])
    raise click.ClickException(f"{prometheus_url}/metrics has no process_cpu_seconds_total: is it Prometheus?")


def _namespaces(prometheus_url: str, plan: QueryPlan, limit: int, chosen: tuple[str, ...]) -> list[str]:
    query = urllib.parse.urlencode(
        {"match[]": "container_cpu_usage_seconds_total", "start": plan.start_s, "end": plan.end_s}
    )
    found: list[str] = sorted(json.loads(_get(f"{prometheus_url}/api/v1/label/namespace/values?{query}"))["data"])
    if not found:
        raise click.ClickException(
            f"Prometheus at {prometheus_url} has no container_cpu_usage_seconds_total in the last window: "
            "load a history first (kcost bench analysis --keep, or kcost dev-cluster up --scenario demo)"
        )
    missing = sorted(set(chosen) - set(found))
    if missing:
        raise click.ClickException(
            f"--namespace {', '.join(missing)}: no container_cpu_usage_seconds_total there in the window "
            f"(namespaces with usage: {', '.join(found[:20])}{' …' if len(found) > 20 else ''})"
        )
    return sorted(chosen) if chosen else found[:limit]


def _ask(prometheus_url: str, form: Form, plan: QueryPlan, namespace: str) -> tuple[int, int]:
    """The answer's size in bytes and its number of points."""
    promql = form.promql.replace(NAMESPACE, f'namespace="{namespace}"')
    if form.instant:
        params = {"query": promql, "time": plan.end_s}
        path = "query"
    else:
        params = {"query": promql, "start": plan.start_s - form.lag_steps * plan.step_s, "end": plan.end_s}
        params["step"] = plan.step_s
        path = "query_range"
    body = _get(f"{prometheus_url}/api/v1/{path}?{urllib.parse.urlencode(params)}")
    result = json.loads(body)["data"]["result"]
    return len(body), len(result) if form.instant else sum(len(series["values"]) for series in result)


@click.command("promql")
@click.option(
    "--dir",
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Work folder of a running dev cluster [default: $KCOST_DEV_DIR or ./.kcost/dev-cluster].",
)
@click.option(
    "--days",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=1 / 24),
    help="The window (15: what kcost bench analysis reads, a step off the generated scrapes' whole minutes).",
)
@click.option("--resolution-minutes", default=5, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--namespaces",
    "limit",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many of the namespaces with CPU usage (in name order).",
)
@click.option(
    "--namespace",
    "chosen",
    multiple=True,
    help="Only this namespace (repeatable); each must have CPU usage in the window.",
)
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(min=1), help="Rounds of every form.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def promql(
    work_dir: Path | None,
    days: float,
    resolution_minutes: int,
    limit: int,
    chosen: tuple[str, ...],
    repeats: int,
    as_json: bool,
) -> None:
    """Prometheus CPU seconds of each way of reading usage over the same namespaces, and ratios."""
    from rich.console import Console
    from rich.table import Table

    state = ClusterState.load((work_dir or default_work_dir()).absolute())
    if state is None:
        raise click.ClickException("no dev cluster there: start one (kcost dev-cluster up, or --dir)")
    url = state.prometheus_url
    end = datetime.datetime.now(datetime.UTC)
    plan = QueryPlan.for_window(
        end - datetime.timedelta(days=days), end, datetime.timedelta(minutes=resolution_minutes)
    )
    namespaces = _namespaces(url, plan, limit, chosen)
    forms = _forms(plan)
    cpu_s: dict[str, list[float]] = {form.name: [] for form in forms}
    answers: dict[str, tuple[int, int]] = {}
    console = Console(stderr=True)
    with console.status("") as status:
        for round_ in range(repeats):
            for form in forms:
                status.update(f"round {round_ + 1} of {repeats}: {form.name}…")
                before_s = _cpu_s(url)
                sizes = [_ask(url, form, plan, namespace) for namespace in namespaces]
                cpu_s[form.name].append(_cpu_s(url) - before_s)
                answers[form.name] = (sum(size for size, _ in sizes), sum(points for _, points in sizes))
    baseline = cpu_s[forms[0].name]
    rows = [
        Measured(
            form.name,
            form.promql,
            cpu_s[form.name],
            statistics.median(cpu_s[form.name]),
            _ratio(cpu_s[form.name], baseline),
            *answers[form.name],
        )
        for form in forms
    ]
    if as_json:
        found = {"namespaces": namespaces, "step_s": plan.step_s, "forms": [dataclasses.asdict(row) for row in rows]}
        click.echo(json.dumps(found, indent=2))
        return
    table = Table(
        title=(
            f"{len(namespaces)} namespaces, {days:g} days at a {plan.step_s} s step: Prometheus CPU s per round "
            f"(median of {repeats}), ratio to {forms[0].name} in the same round"
        )
    )
    for column in ("form", "CPU s", "rounds", "ratio", "answer MB", "points"):
        table.add_column(column, justify="left" if column == "form" else "right")
    for row in rows:
        table.add_row(
            row.form,
            f"{row.median_cpu_s:.2f}",
            ", ".join(f"{one:.2f}" for one in row.cpu_s),
            f"×{row.ratio:.2f}" if row.ratio is not None else "-",
            f"{row.answer_bytes / 1e6:.1f}",
            f"{row.points:,}",
        )
    Console().print(table)


def _ratio(runs: list[float], baseline: list[float]) -> float | None:
    """The median per round against the bare counter of the same round; none where no round took a clock tick."""
    ratios = [one / base for one, base in zip(runs, baseline, strict=True) if base > 0]
    return statistics.median(ratios) if ratios else None
