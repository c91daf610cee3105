"""`kubectl cost`, found by the real kubectl through its plugin discovery."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from e2e.conftest import custom_profile
from kcost.api.v1alpha1 import OptimizationRecommendation
from kcost.devcluster import binaries
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes

NAMESPACE = "e2e-cli"
BIN = str(Path(sys.executable).parent)


def _plugin_env(kubeconfig: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "KUBECONFIG": str(kubeconfig)}


def kubectl_cost(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binaries.kubectl(), "cost", *args],
        capture_output=True,
        text=True,
        env=_plugin_env(kubeconfig),
        timeout=120,
        check=False,
    )


def _created_name(stdout: str) -> str:
    return stdout.split("analysis.optimizer.kcost.dev/")[1].split(maxsplit=1)[0]


def _rec(name: str, target: str, savings: float, rec_type: str = "right-sizing") -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "type": rec_type,
            "current": {"containers": [{"name": "app", "requests": {"cpu": "1", "memory": "1Gi"}}]},
            "changes": {"containers": [{"name": "app", "requests": {"cpu": "250m", "memory": "512Mi"}}]},
            "estimatedMonthlySavings": savings,
            "confidence": 0.9,
            "riskLevel": "low",
            "evidence": {
                "method": "test",
                "sampleCount": 4032,
                "window": "14d",
                "usageSparkline": [0.1, 0.3, 0.2],
                "containers": [
                    {
                        "name": "app",
                        "cpuCores": {"p50": 0.1, "p95": 0.2, "max": 0.3},
                        "memoryBytes": {"p95": 400000000, "max": 450000000},
                        "oomEvents": 1,
                    }
                ],
            },
        },
    }


@pytest.fixture(scope="module")
def cli_recs(kcost_crds: DevCluster, kubectl: Any) -> Path:
    kubectl("create", "namespace", NAMESPACE)
    docs = [
        _rec("deployment-web-right-sizing", "web", 40.5),
        _rec("deployment-api-right-sizing", "api", 12.25),
        _rec("deployment-old-idle-workload", "old", 7.0, "idle-workload"),
    ]
    applied = kubectl("apply", "-f", "-", input_text=yaml.safe_dump_all(docs))
    assert applied.returncode == 0, applied.stderr
    return kcost_crds.require_state().admin_kubeconfig


def test_plugin_is_found_by_kubectl(cli_recs: Path) -> None:
    plugins = subprocess.run(
        [binaries.kubectl(), "plugin", "list"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
    )
    assert "kubectl-cost" in plugins.stdout
    result = kubectl_cost(cli_recs, "--help")
    assert result.returncode == 0
    for command in ("summary", "recommendations", "show", "analyze"):
        assert command in result.stdout


def test_recommendations_sorted_filtered_with_total(cli_recs: Path) -> None:
    table = kubectl_cost(cli_recs, "recs", "-n", NAMESPACE)
    assert table.returncode == 0, table.stderr
    lines = [line for line in table.stdout.splitlines() if "deployment-" in line]
    assert [line.split()[1] for line in lines] == [
        "deployment-web-right-sizing",
        "deployment-api-right-sizing",
        "deployment-old-idle-workload",
    ]
    assert "3 recommendations, 59.75 per month in total" in table.stdout
    assert "\x1b[" not in table.stdout, "no colour when not on a terminal"
    filtered = kubectl_cost(cli_recs, "recs", "-A", "--type", "right-sizing", "--min-savings", "20", "-o", "wide")
    assert "deployment-web-right-sizing" in filtered.stdout
    assert "deployment-api-right-sizing" not in filtered.stdout
    assert "METHOD" in filtered.stdout


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_machine_outputs_round_trip_into_the_api_types(cli_recs: Path, output: str) -> None:
    result = kubectl_cost(cli_recs, "recs", "-n", NAMESPACE, "-o", output)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout) if output == "json" else yaml.safe_load(result.stdout)
    recs = [OptimizationRecommendation.model_validate(item) for item in document["items"]]
    assert {r.name for r in recs} == {
        "deployment-web-right-sizing",
        "deployment-api-right-sizing",
        "deployment-old-idle-workload",
    }
    shown = kubectl_cost(cli_recs, "show", "-n", NAMESPACE, "deployment-web-right-sizing", "-o", output)
    item = (json.loads(shown.stdout) if output == "json" else yaml.safe_load(shown.stdout))["items"][0]
    assert OptimizationRecommendation.model_validate(item).spec.estimated_monthly_savings == 40.5


def test_show_prints_the_evidence(cli_recs: Path) -> None:
    result = kubectl_cost(cli_recs, "show", "-n", NAMESPACE, "deployment-web-right-sizing")
    assert result.returncode == 0, result.stderr
    # Columns are aligned with spaces: compare words.
    words = [" ".join(line.split()) for line in result.stdout.splitlines()]
    for fragment in (
        "target: Deployment/web",
        "savings: 40.50 USD/month",
        "CONTAINER RESOURCE CURRENT PROPOSED",
        "app cpu request 1 250m",
        "app memory request 1Gi 512Mi",
        "CONTAINER CPU P50 CPU P95 CPU MAX MEMORY P95 MEMORY MAX OOM KILLS CLASS",
        "app 100m 200m 300m 381Mi 429Mi 1 -",
        "daily CPU use: ▃█▅",
    ):
        assert fragment in words, fragment
    missing = kubectl_cost(cli_recs, "show", "-n", NAMESPACE, "nope")
    assert missing.returncode == 6
    assert "no recommendation 'nope' in namespace e2e-cli" in missing.stderr


def test_summary_in_every_format(cli_recs: Path) -> None:
    table = kubectl_cost(cli_recs, "summary")
    assert table.returncode == 0, table.stderr
    assert "Potential savings:" in table.stdout
    document = json.loads(kubectl_cost(cli_recs, "summary", "-o", "json").stdout)["items"][0]
    assert document["savingsByType"]["right-sizing"] >= 52.75
    assert document["openRecommendations"] >= 3


def test_errors_a_user_can_act_on(dev_cluster: DevCluster, cli_recs: Path, tmp_path: Path) -> None:
    nobody = dev_cluster.mint_user_kubeconfig("nobody")
    forbidden = kubectl_cost(nobody, "recs", "-A")
    assert forbidden.returncode == 4
    assert "forbidden" in forbidden.stderr
    assert "optimizationrecommendations" in forbidden.stderr
    unreachable = tmp_path / "kubeconfig"
    unreachable.write_text(
        cli_recs.read_text().replace(dev_cluster.require_state().apiserver_url, "https://127.0.0.1:1")
    )
    down = kubectl_cost(unreachable, "recs", "-A")
    assert down.returncode == 5
    assert "no cluster reachable" in down.stderr


def test_a_cluster_without_kcost_says_so(tmp_path: Path) -> None:
    bare = DevCluster(tmp_path / "bare", Console(stderr=True))
    try:
        state = bare.up(default_nodes()[:1])
        result = kubectl_cost(state.admin_kubeconfig, "recs", "-A")
    finally:
        bare.down()
    assert result.returncode == 3
    assert "kcost is not installed in this cluster" in result.stderr


def test_costs_by_namespace_label_and_workload(cli_recs: Path, kubectl: Any) -> None:
    profile = custom_profile("cli", "http://127.0.0.1:1")
    assert kubectl("apply", "-f", "-", input_text=json.dumps(profile)).returncode == 0
    made = kubectl(
        "create", "deployment", "priced", "-n", NAMESPACE, "--image=registry.k8s.io/pause:3.10", "--replicas=2"
    )
    assert made.returncode == 0, made.stderr
    kubectl("set", "resources", "deployment/priced", "-n", NAMESPACE, "--requests=cpu=250m,memory=256Mi")
    kubectl("rollout", "status", "deployment/priced", "-n", NAMESPACE, "--timeout=60s")
    table = kubectl_cost(cli_recs, "costs", "--profile", "cli")
    assert table.returncode == 0, table.stderr
    assert "NAMESPACE" in table.stdout
    assert "__idle__" in table.stdout
    assert "USD/month, of which idle" in table.stdout
    items = json.loads(kubectl_cost(cli_recs, "costs", "--profile", "cli", "--by", "workload", "-o", "json").stdout)[
        "items"
    ]
    assert all(item["total"] >= 0 for item in items)
    # The ReplicaSet between counts as its Deployment, as in the history store.
    priced = [item for item in items if item["name"] == f"{NAMESPACE}/Deployment/priced"]
    assert len(priced) == 1, items
    assert priced[0]["cpu"] > 0
    bad = kubectl_cost(cli_recs, "costs", "--by", "colour")
    assert bad.returncode == 2
    assert "expected namespace, workload, node or label=KEY" in bad.stderr
    kubectl("delete", "ccp", "cli", "--timeout=30s")


def test_pricing_compare_finds_the_cheapest_fitting_types(cli_recs: Path) -> None:
    catalog = (
        Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pricing" / "cloud-instance-prices.csv.gz"
    )
    result = kubectl_cost(
        cli_recs, "pricing", "compare", "--cpu", "4", "--memory", "16Gi", "--catalog", str(catalog), "-o", "json"
    )
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    assert {"aws", "gcp", "azure"} <= {i["provider"] for i in items}
    assert all(i["vcpu"] >= 4 and i["memoryGiB"] >= 16 for i in items)
    aws = [i for i in items if i["provider"] == "aws" and i["capacityType"] == "on-demand"]
    assert aws == sorted(aws, key=lambda i: i["usdPerHour"])
    assert "m5.xlarge" in {i["instanceType"] for i in aws} or aws[0]["usdPerHour"] <= 0.192


def test_analyze_waits_for_the_run_and_prints_what_it_found(cli_recs: Path, kubectl: Any, spawn: Any) -> None:
    profile = custom_profile("cli-run", "http://127.0.0.1:1", provider="onprem")
    assert kubectl("apply", "-f", "-", input_text=json.dumps(profile)).returncode == 0
    kubectl("create", "deployment", "analyzed", "-n", NAMESPACE, "--image=registry.k8s.io/pause:3.10")
    spawn("operator", "operator")
    spawn("analyzer", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer")
    result = kubectl_cost(
        cli_recs,
        "analyze",
        "-n",
        NAMESPACE,
        "--profile",
        "cli-run",
        "--analyzer",
        "fixture",
        "--window",
        "7d",
        "--wait",
        "--timeout",
        "90",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "created" in result.stdout
    assert "Succeeded:" in result.stdout
    assert "right-sizing" in result.stdout
    name = _created_name(result.stdout)
    created = json.loads(kubectl("get", "kca", name, "-o", "json").stdout)
    assert created["spec"]["window"] == "7d"
    assert created["spec"]["namespaces"] == [NAMESPACE]
    kubectl("delete", "kca", name, "--timeout=30s")
    kubectl("delete", "ccp", "cli-run", "--timeout=30s")


def test_analyses_started_at_the_same_moment_are_distinct(cli_recs: Path, kubectl: Any) -> None:
    windows = ["1d", "2d", "3d"]
    started = [
        subprocess.Popen(
            [binaries.kubectl(), "cost", "analyze", "-n", NAMESPACE, "--profile", "cli-same-moment", "--window", w],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_plugin_env(cli_recs),
        )
        for w in windows
    ]
    outputs = [process.communicate(timeout=120) for process in started]
    assert [process.returncode for process in started] == [0, 0, 0], outputs
    names = [_created_name(stdout) for stdout, _ in outputs]
    try:
        assert len(set(names)) == len(windows), names
        for name, window in zip(names, windows, strict=True):
            created = json.loads(kubectl("get", "kca", name, "-o", "json").stdout)
            assert created["spec"]["window"] == window, "each run keeps its own spec: none overwrote another"
    finally:
        kubectl("delete", "kca", *set(names), "--timeout=30s")


def test_dev_cluster_env_puts_kubectl_cost_on_path(dev_cluster: DevCluster) -> None:
    """After `eval "$(.venv/bin/kcost dev-cluster env)"`, the README's `kubectl cost …` commands work."""
    kcost = Path(sys.executable).with_name("kcost")
    elsewhere = [p for p in os.environ["PATH"].split(os.pathsep) if p and Path(p).resolve() != Path(BIN).resolve()]
    script = (
        f'eval "$({shlex.quote(str(kcost))} dev-cluster env --dir {shlex.quote(str(dev_cluster.work_dir))})"'
        " && command -v kubectl && kubectl cost --help"
    )
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": os.pathsep.join(elsewhere)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == str(binaries.kubectl()), "the cluster's own kubectl comes first"
    assert "recommendations" in result.stdout
