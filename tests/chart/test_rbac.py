"""The chart's roles grant exactly what the code calls: each rule maps to the code that needs it.

A rule added to the chart without an entry here fails; an entry whose code is gone fails; an
entry the chart does not grant fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.render import NAMESPACE, of_kind, render

ROOT = Path(__file__).resolve().parents[2]
Grant = tuple[str, str, str]  # (apiGroup, resource, verb)
KINDS = ("analyses", "clustercostprofiles", "optimizationpolicies", "optimizationrecommendations")
CLIENT, WORKLOADS = "kcost/kube/client.py", "kcost/kube/workloads.py"

# (apiGroups, resources, verbs) → the code (file, text in it) that needs them.
NEEDED_BY: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], list[tuple[str, str]]]] = [
    (("optimizer.kcost.dev",), KINDS, ("list", "watch"), [("operator/main.py", "@kopf.on.")]),
    (("optimizer.kcost.dev",), KINDS, ("get",), [(CLIENT, "get_cluster_custom_object(GROUP")]),
    (("optimizer.kcost.dev",), KINDS, ("patch",), [(CLIENT, "patch_cluster_custom_object(GROUP")]),
    (
        ("optimizer.kcost.dev",),
        ("optimizationrecommendations",),
        ("create",),
        [
            ("analyzers/contract/recommendations.py", "await kube.apply("),
        ],
    ),
    (("optimizer.kcost.dev",), ("analyses",), ("delete",), [("operator/analysis.py", "await kube.delete(Analysis")]),
    (
        ("optimizer.kcost.dev",),
        tuple(f"{kind}/status" for kind in KINDS),
        ("patch",),
        [
            (CLIENT, "patch_cluster_custom_object_status("),
            (CLIENT, "patch_namespaced_custom_object_status("),
        ],
    ),
    (
        ("kopf.dev",),
        ("clusterkopfpeerings",),
        ("list", "watch", "patch"),
        [
            ("operator/main.py", "settings.peering.clusterwide = True"),
        ],
    ),
    (("kopf.dev",), ("clusterkopfpeerings",), ("create",), [(CLIENT, "create_cluster_custom_object(PEERING_GROUP")]),
    (("kopf.dev",), ("clusterkopfpeerings",), ("get",), [(CLIENT, "get_cluster_custom_object(PEERING_GROUP")]),
    # kopf's resource observer watches CRDs in a cluster-wide operator.
    (
        ("apiextensions.k8s.io",),
        ("customresourcedefinitions",),
        ("list", "watch"),
        [
            ("operator/main.py", "clusterwide=True"),
        ],
    ),
    (("",), ("events",), ("create",), [(CLIENT, "create_namespaced_event(")]),
    (
        ("apps",),
        ("deployments",),
        ("create",),
        [("operator/rollout/deployment.py", "await workloads.create(canary_ref")],
    ),
    (
        ("apps",),
        ("deployments",),
        ("delete",),
        [("operator/rollout/deployment.py", "await workloads.delete(canary_ref)")],
    ),
    (("apps",), ("deployments/scale",), ("patch",), [(WORKLOADS, "patch_namespaced_custom_object_scale(")]),
    (
        ("apps",),
        ("deployments", "daemonsets"),
        ("patch",),
        [
            ("operator/rollout/deployment.py", "await workloads.apply_containers("),
            ("operator/rollout/daemonset.py", "await deployment.act(workloads"),
        ],
    ),
    (("apps",), ("statefulsets",), ("patch",), [("operator/rollout/statefulset.py", "await workloads.set_partition(")]),
    (("batch",), ("cronjobs",), ("patch",), [("operator/rollout/cronjob.py", "await workloads.apply_containers(")]),
    (("",), ("pods",), ("patch",), [(WORKLOADS, "patch_namespaced_pod(")]),
    (("",), ("pods",), ("delete",), [(WORKLOADS, "delete_namespaced_pod(")]),
    (("",), ("pods/resize",), ("patch",), [(WORKLOADS, "patch_namespaced_pod_resize(")]),
    (("policy",), ("poddisruptionbudgets",), ("list",), [(WORKLOADS, '"poddisruptionbudgets"')]),
    (("",), ("namespaces",), ("list",), [(CLIENT, "self._core.list_namespace")]),
    # The webhook mirrors namespace labels (list, then watch from that version).
    (("",), ("namespaces",), ("watch",), [("kcost/kube/watch.py", "client.CoreV1Api(api).list_namespace")]),
    (("",), ("nodes",), ("list",), [(CLIENT, "self._core.list_node")]),
    (("",), ("persistentvolumeclaims",), ("list",), [(CLIENT, "list_persistent_volume_claim_for_all_namespaces")]),
    (("",), ("pods",), ("list",), [(CLIENT, "list_pod_for_all_namespaces"), (WORKLOADS, "list_namespaced_pod(")]),
    (
        ("apps",),
        ("deployments", "statefulsets", "daemonsets"),
        ("get", "list"),
        [
            ("analyzers/metrics/workloads.py", "WORKLOAD_KINDS"),
            ("webhooks/cluster.py", "get_workload("),
        ],
    ),
    (
        ("batch",),
        ("cronjobs", "jobs"),
        ("get", "list"),
        [
            ("kcost/api/v1alpha1/recommendation.py", '"CronJob": ("batch/v1", "cronjobs")'),
            ("kcost/api/v1alpha1/recommendation.py", '"Job": ("batch/v1", "jobs")'),
        ],
    ),
    (
        ("argoproj.io",),
        ("rollouts",),
        ("get", "list"),
        [
            ("kcost/api/v1alpha1/recommendation.py", '"Rollout": ("argoproj.io/v1alpha1", "rollouts")'),
        ],
    ),
    (("autoscaling",), ("horizontalpodautoscalers",), ("list",), [(WORKLOADS, '"horizontalpodautoscalers"')]),
    (
        ("admissionregistration.k8s.io",),
        ("validatingwebhookconfigurations",),
        ("get", "update"),
        [
            ("webhooks/registration.py", "api.read_validating_webhook_configuration"),
            ("webhooks/registration.py", "api.replace_validating_webhook_configuration"),
        ],
    ),
    (
        ("admissionregistration.k8s.io",),
        ("mutatingwebhookconfigurations",),
        ("get", "update"),
        [
            ("webhooks/registration.py", "api.read_mutating_webhook_configuration"),
            ("webhooks/registration.py", "api.replace_mutating_webhook_configuration"),
        ],
    ),
    (
        ("authorization.k8s.io",),
        ("subjectaccessreviews",),
        ("create",),
        [
            ("webhooks/cluster.py", "create_subject_access_review("),
        ],
    ),
    (("",), ("secrets",), ("get",), [(CLIENT, "read_namespaced_secret(")]),
    (("",), ("configmaps",), ("get",), [(CLIENT, "read_namespaced_config_map(")]),
    (("apps",), ("deployments",), ("watch",), [("operator/main.py", '@_on_every_event("apps", "v1", "deployments")')]),
]


# The uninstall hook's own ServiceAccount (kcost/cli/uninstall.py).
UNINSTALL = "kcost/cli/uninstall.py"
UNINSTALL_NEEDED_BY: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], list[tuple[str, str]]]] = [
    (("optimizer.kcost.dev",), ("analyses", "clustercostprofiles", "optimizationpolicies"), ("list", "delete"), [
        (UNINSTALL, "await kube.list_raw(kind)"),
        (UNINSTALL, "await kube.delete(kind"),
        (UNINSTALL, "WITH_FINALIZERS: tuple[type[Resource], ...] = (Analysis, ClusterCostProfile, OptimizationPolicy)"),
    ]),
    (("optimizer.kcost.dev",), ("optimizationrecommendations",), ("list",), [
        (UNINSTALL, "await kube.list_raw(OptimizationRecommendation)"),
    ]),
]  # fmt: skip
ACCOUNTS = {"kcost": NEEDED_BY, "kcost-uninstall": UNINSTALL_NEEDED_BY}


def _needed(account: str = "kcost") -> set[Grant]:
    return {
        (group, resource, verb)
        for groups, resources, verbs, _ in ACCOUNTS[account]
        for group in groups
        for resource in resources
        for verb in verbs
    }


def _granted_to(account: str = "kcost") -> set[Grant]:
    """Every (group, resource, verb) the roles bound to ``account`` grant, default values."""
    documents = render()
    bound = {
        binding["roleRef"]["name"]
        for binding in of_kind(documents, "ClusterRoleBinding") + of_kind(documents, "RoleBinding")
        if {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE} in binding["subjects"]
    }
    roles = [
        role
        for role in of_kind(documents, "ClusterRole") + of_kind(documents, "Role")
        if role["metadata"]["name"] in bound
    ]
    assert roles, f"no role is bound to the ServiceAccount {account}"
    return {
        (group, resource, verb)
        for role in roles
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("account", sorted(ACCOUNTS))
def test_every_granted_rule_is_needed_by_the_code(account: str) -> None:
    unexplained = _granted_to(account) - _needed(account)
    assert not unexplained, (
        f"rules without a reason in NEEDED_BY (remove them, or say which code needs them): {sorted(unexplained)}"
    )


@pytest.mark.parametrize("account", sorted(ACCOUNTS))
def test_every_needed_rule_is_granted(account: str) -> None:
    missing = _needed(account) - _granted_to(account)
    assert not missing, f"the code needs these, the chart does not grant them: {sorted(missing)}"


@pytest.mark.parametrize(
    ("path", "text"),
    sorted({evidence for table in ACCOUNTS.values() for *_, evidences in table for evidence in evidences}),
)
def test_the_code_each_rule_is_kept_for_still_exists(path: str, text: str) -> None:
    assert text in (ROOT / path).read_text(), f"{path} no longer has {text!r}: is its rule still needed?"


def test_wildcards_are_never_granted() -> None:
    for role in of_kind(render("api.enabled=true"), "ClusterRole"):
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], role["metadata"]["name"]


def test_edit_may_approve_and_reject_and_view_only_reads() -> None:
    roles = {role["metadata"]["name"]: role for role in of_kind(render(), "ClusterRole")}
    edit, view = roles["kcost-edit"], roles["kcost-view"]
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    edit_verbs = {
        verb for rule in edit["rules"] if "optimizationrecommendations" in rule["resources"] for verb in rule["verbs"]
    }
    assert {"approve", "reject"} <= edit_verbs
    assert {verb for rule in view["rules"] for verb in rule["verbs"]} == {"get", "list", "watch"}


@pytest.mark.parametrize(
    ("values", "expected_grants"),
    [((), 1), (("api.enabled=true",), 1), (("api.enabled=true", "webhook.enabled=false"), 1)],
)
def test_access_reviews_are_granted_once_whoever_asks(values: tuple[str, ...], expected_grants: int) -> None:
    # The webhook and the status API share the ServiceAccount: a second grant could never be shown needed.
    documents = render(*values)
    bound = {binding["roleRef"]["name"] for binding in of_kind(documents, "ClusterRoleBinding")}
    granting = [
        role["metadata"]["name"]
        for role in of_kind(documents, "ClusterRole")
        if role["metadata"]["name"] in bound
        for rule in role["rules"]
        if "subjectaccessreviews" in rule["resources"] and "create" in rule["verbs"]
    ]
    assert len(granting) == expected_grants, f"subjectaccessreviews/create granted by {granting}"
