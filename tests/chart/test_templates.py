"""What the chart renders: containers, probes, security, history, replicas, and values it refuses."""

from __future__ import annotations

from typing import Any

from tests.chart.render import of_kind, render, render_error


def _pod(documents: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = of_kind(documents, "Deployment")
    return dict(deployment["spec"]["template"]["spec"])


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {variable["name"]: variable.get("value", variable.get("valueFrom")) for variable in container["env"]}


def test_one_pod_runs_the_operator_the_analyzers_and_the_webhook() -> None:
    containers = {c["name"]: c for c in _pod(render())["containers"]}
    assert set(containers) == {"operator", "analyzer-cost", "analyzer-idle", "analyzer-rightsizing", "webhook"}
    assert containers["operator"]["args"] == ["operator"]
    assert containers["analyzer-rightsizing"]["args"] == ["analyzer", "rightsizing"]
    assert containers["webhook"]["args"] == ["webhook"]
    ports = [_env(c)["KCOST_METRICS_PORT"] for c in containers.values()]
    assert len(set(ports)) == len(ports), "each process needs its own /metrics port"


def test_every_container_is_restricted_probed_and_sized() -> None:
    pod = _pod(render("api.enabled=true"))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, container["name"]
        assert security["allowPrivilegeEscalation"] is False, container["name"]
        assert security["capabilities"] == {"drop": ["ALL"]}, container["name"]
        assert security["runAsNonRoot"] is True, container["name"]
        assert container["startupProbe"]["httpGet"] == container["livenessProbe"]["httpGet"], container["name"]
        assert container["resources"]["requests"]["memory"], container["name"]
        assert container["resources"]["limits"]["memory"], container["name"]
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], container["name"]
        assert _env(container)["KCOST_LOG_FORMAT"] == "json"


def test_only_the_containers_behind_a_service_gate_the_pods_readiness() -> None:
    # A Pod leaves every Service while any container with a readiness probe is unready: a busy analyzer
    # must not take the webhook (failurePolicy Fail) out of its Service.
    containers = {c["name"]: c for c in _pod(render("api.enabled=true"))["containers"]}
    gated = {name for name, container in containers.items() if "readinessProbe" in container}
    assert gated == {"webhook", "api"}
    assert containers["webhook"]["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_operator_answers_kopf_liveness_on_its_health_port() -> None:
    operator = next(c for c in _pod(render())["containers"] if c["name"] == "operator")
    assert _env(operator)["KCOST_LIVENESS_ENDPOINT"] == "http://0.0.0.0:8080/healthz"
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_history_on_sqlite_keeps_the_file_on_a_claim() -> None:
    documents = render()
    (claim,) = of_kind(documents, "PersistentVolumeClaim")
    pod = _pod(documents)
    volume = next(v for v in pod["volumes"] if v["name"] == "history")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    operator = next(c for c in pod["containers"] if c["name"] == "operator")
    assert _env(operator)["KCOST_DATABASE_URL"] == "sqlite+aiosqlite:////var/lib/kcost/history.db"
    assert {"name": "history", "mountPath": "/var/lib/kcost"} in operator["volumeMounts"]
    (deployment,) = of_kind(documents, "Deployment")
    assert deployment["spec"]["strategy"]["type"] == "Recreate", "a ReadWriteOnce claim is let go before reuse"


def test_history_on_postgresql_reads_the_url_from_a_secret() -> None:
    documents = render("history.database=postgresql", "history.postgresql.existingSecret=kcost-db")
    assert not of_kind(documents, "PersistentVolumeClaim")
    for container in _pod(documents)["containers"]:
        assert _env(container)["KCOST_DATABASE_URL"] == {"secretKeyRef": {"name": "kcost-db", "key": "url"}}
    assert "history.postgresql.existingSecret" in render_error("history.database=postgresql")


def test_replicas_meet_in_the_peering_behind_a_disruption_budget() -> None:
    assert not of_kind(render(), "PodDisruptionBudget"), "with one replica a PDB would block every drain"
    documents = render("replicas=2", "history.database=postgresql", "history.postgresql.existingSecret=db")
    (budget,) = of_kind(documents, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    operator = next(c for c in _pod(documents)["containers"] if c["name"] == "operator")
    assert _env(operator)["KCOST_PEERING_NAME"] == "kcost"
    assert "SQLite" in render_error("replicas=2")


def test_the_schema_refuses_what_kcost_cannot_use() -> None:
    assert "logFormat" in render_error("logFormat=xml")
    assert "/history/database" in render_error("history.database=mysql")
    assert "replicas" in render_error("replicas=0")
    assert "unknownValue" in render_error("unknownValue=1")


def test_the_status_api_is_off_by_default_and_has_its_service_and_roles_when_on() -> None:
    assert "api" not in {c["name"] for c in _pod(render())["containers"]}
    documents = render("api.enabled=true")
    api = next(c for c in _pod(documents)["containers"] if c["name"] == "api")
    assert api["args"] == ["api"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "kcost-api" in {service["metadata"]["name"] for service in of_kind(documents, "Service")}
    role = next(r for r in of_kind(documents, "ClusterRole") if r["metadata"]["name"] == "kcost-api")
    assert {"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]} in role[
        "rules"
    ]


def test_optional_monitoring_objects() -> None:
    assert not of_kind(render(), "ServiceMonitor")
    documents = render("monitoring.serviceMonitor.enabled=true", "monitoring.prometheusRule.enabled=true")
    (monitor,) = of_kind(documents, "ServiceMonitor")
    (metrics,) = [s for s in of_kind(documents, "Service") if s["metadata"]["name"] == "kcost-metrics"]
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {p["name"] for p in metrics["spec"]["ports"]}
    assert of_kind(documents, "PrometheusRule")


def test_uninstall_first_deletes_kcost_objects_while_the_operator_runs() -> None:
    (job,) = of_kind(render(), "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-delete"
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kcost-uninstall", "its own account, allowed only the deletions"
    (container,) = pod["containers"]
    assert container["command"][:3] == ["python", "-m", "kcost.cli.uninstall"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert not of_kind(render("uninstall.deleteObjects=false"), "Job")


def test_no_service_links_in_kcosts_environment() -> None:
    # The kubelet would add KCOST_WEBHOOK_PORT=tcp://… for the Service kcost-webhook; kcost
    # refused it as its own setting and every container crashed on a real node.
    documents = render("api.enabled=true")
    (job,) = of_kind(documents, "Job")
    for pod in (_pod(documents), job["spec"]["template"]["spec"]):
        assert pod["enableServiceLinks"] is False


def test_the_metrics_analyzers_share_a_range_cache_in_an_empty_dir() -> None:
    pod = _pod(render())
    (volume,) = [v for v in pod["volumes"] if v["name"] == "analyzer-cache"]
    assert volume["emptyDir"] == {}, "only a cache: lost with the Pod"
    containers = {c["name"]: c for c in pod["containers"]}
    for name in ("analyzer-rightsizing", "analyzer-idle"):
        env = _env(containers[name])
        assert env["KCOST_ANALYZER_CACHE_MAX_AGE_SECONDS"] == "86400"
        mount = {"name": "analyzer-cache", "mountPath": env["KCOST_ANALYZER_CACHE_DIR"]}
        assert mount in containers[name]["volumeMounts"], name
    for name in ("analyzer-cost", "operator", "webhook"):
        assert "KCOST_ANALYZER_CACHE_DIR" not in _env(containers[name]), name


def test_the_range_cache_can_be_limited_or_turned_off() -> None:
    limited = _pod(render("analyzerCache.sizeLimit=2Gi"))
    assert next(v for v in limited["volumes"] if v["name"] == "analyzer-cache")["emptyDir"] == {"sizeLimit": "2Gi"}
    off = _pod(render("analyzerCache.enabled=false"))
    assert "analyzer-cache" not in {v["name"] for v in off["volumes"]}
    assert not any("KCOST_ANALYZER_CACHE_DIR" in _env(c) for c in off["containers"])
    assert "sizeLimit" in render_error("analyzerCache.sizeLimit=lots")


def test_the_rightsizing_analyzer_sizes_in_worker_processes_the_values_set() -> None:
    containers = {c["name"]: c for c in _pod(render())["containers"]}
    assert _env(containers["analyzer-rightsizing"])["KCOST_ANALYZER_SIZING_PROCESSES"] == "0"
    assert "KCOST_ANALYZER_SIZING_PROCESSES" not in _env(containers["analyzer-idle"])
    two = {c["name"]: c for c in _pod(render("analyzers.rightsizing.sizingProcesses=2"))["containers"]}
    assert _env(two["analyzer-rightsizing"])["KCOST_ANALYZER_SIZING_PROCESSES"] == "2"
    assert "sizingProcesses" in render_error("analyzers.rightsizing.sizingProcesses=-1")
