"""Workloads that a GitOps tool owns, and the patch that carries a change to their repository.

kcost never changes such a workload live: Argo CD or Flux would revert it on the next
sync (or, worse, fight kcost). The change is published instead as a kustomize
strategic-merge patch, ready to commit next to the workload's manifest.
"""

from __future__ import annotations

from typing import Any

import yaml

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation

# Argo CD tracks by annotation (tracking-id) or, by default, by the instance label;
# Flux's kustomize and helm controllers label what they apply.
ARGO_ANNOTATIONS = ("argocd.argoproj.io/tracking-id",)
ARGO_LABELS = ("app.kubernetes.io/instance", "argocd.argoproj.io/instance")
FLUX_LABELS = ("kustomize.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/name")

# Where each kind keeps its pod template's containers.
POD_SPEC_PATH = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Rollout": ("spec", "template", "spec"),
}


def gitops_owner(metadata: dict[str, Any]) -> str | None:
    """``argocd`` or ``flux`` when the workload's metadata shows it is managed by one, else None."""
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    if any(key in annotations for key in ARGO_ANNOTATIONS) or any(key in labels for key in ARGO_LABELS):
        return "argocd"
    if any(key in labels for key in FLUX_LABELS):
        return "flux"
    return None


def strategic_merge_patch(rec: OptimizationRecommendation) -> dict[str, Any]:
    """A patch that, applied by kustomize to the workload's manifest, gives exactly the proposed values.

    Containers merge by name, so only the named containers' resources change. Scaling
    to zero (an idle workload) sets ``spec.replicas``.
    """
    target = rec.spec.target_ref
    patch: dict[str, Any] = {
        "apiVersion": target.api_version,
        "kind": target.kind,
        "metadata": {"name": target.name, "namespace": rec.namespace},
    }
    containers = []
    for container in rec.spec.changes.containers:
        resources = {}
        if container.requests is not None and container.requests.to_api():
            resources["requests"] = container.requests.to_api()
        if container.limits is not None and container.limits.to_api():
            resources["limits"] = container.limits.to_api()
        if resources:
            containers.append({"name": container.name, "resources": resources})
    if containers:
        node = patch
        for key in POD_SPEC_PATH.get(target.kind, POD_SPEC_PATH["Deployment"]):
            node = node.setdefault(key, {})
        node["containers"] = containers
    if rec.spec.changes.replicas is not None:
        patch.setdefault("spec", {})["replicas"] = rec.spec.changes.replicas
    return patch


def patch_yaml(rec: OptimizationRecommendation) -> str:
    """The patch as a YAML document, with a comment saying where it belongs."""
    header = (
        f"# kcost: {rec.spec.type.value} for {rec.spec.target_ref.kind} {rec.namespace}/{rec.spec.target_ref.name}"
        f" ({rec.name}); add under `patches:` in the workload's kustomization.yaml\n"
    )
    return header + yaml.safe_dump(strategic_merge_patch(rec), sort_keys=False)
