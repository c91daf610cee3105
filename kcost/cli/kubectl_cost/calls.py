"""Every call ``kubectl cost`` makes to the Kubernetes API, one small function each.

Commands never touch the client themselves: what the CLI reads and writes is all here.
Answers are the API's own objects (dicts), so ``-o json|yaml`` prints them as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation

if TYPE_CHECKING:
    from kcost.kube.client import KubeClient

Body = dict[str, Any]
FIELD_MANAGER = "kubectl-cost"


async def list_recommendations(kube: KubeClient, namespace: str | None = None) -> list[Body]:
    """The recommendations of ``namespace``, or of every namespace with None."""
    return await kube.list_raw(OptimizationRecommendation, namespace)


async def get_recommendation(kube: KubeClient, name: str, namespace: str) -> Body | None:
    return await kube.get_raw(OptimizationRecommendation, name, namespace)


async def list_analyses(kube: KubeClient) -> list[Body]:
    return await kube.list_raw(Analysis)


async def get_analysis(kube: KubeClient, name: str) -> Body | None:
    return await kube.get_raw(Analysis, name)


async def create_analysis(kube: KubeClient, body: Body) -> Body:
    """Create (never overwrite) an Analysis; with ``metadata.generateName`` the server picks a unique name."""
    return await kube.create(Analysis, body, field_manager=FIELD_MANAGER)


async def list_profiles(kube: KubeClient) -> list[Body]:
    return await kube.list_raw(ClusterCostProfile)


async def list_nodes(kube: KubeClient) -> list[Body]:
    return await kube.nodes()


async def list_pods(kube: KubeClient) -> list[Body]:
    """The pods of every namespace."""
    return await kube.pods()
