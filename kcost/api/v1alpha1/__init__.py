"""``optimizer.kcost.dev/v1alpha1``: the four kinds, the single source of the CRDs."""

from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import API_VERSION, GROUP, VERSION
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation

KINDS = (ClusterCostProfile, Analysis, OptimizationRecommendation, OptimizationPolicy)

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "VERSION",
    "Analysis",
    "ClusterCostProfile",
    "OptimizationPolicy",
    "OptimizationRecommendation",
]
