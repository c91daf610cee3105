"""kopf's diff base is built only where a change handler reads it."""

from __future__ import annotations

import kopf

from kcost.operator import diffbase, main

PLURALS = {("apps/v1", "Deployment"): "deployments"}
PLURALS[("optimizer.kcost.dev/v1alpha1", "OptimizationRecommendation")] = "optimizationrecommendations"


def storage() -> diffbase.ChangeHandledDiffBase:
    return diffbase.ChangeHandledDiffBase(prefix="kcost.dev", key="last-handled-configuration")


def test_an_event_only_resource_gets_an_empty_essence_and_others_their_spec() -> None:
    deployment = kopf.Body({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 3}})
    assert storage().build(body=deployment) == {}
    policy = kopf.Body(
        {"apiVersion": "optimizer.kcost.dev/v1alpha1", "kind": "OptimizationPolicy", "spec": {"mode": "recommend"}}
    )
    assert storage().build(body=policy)["spec"] == {"mode": "recommend"}


def test_the_event_only_resources_have_no_change_or_spawning_handler() -> None:
    """Were one added, its diff would be against nothing: the list in diffbase must lose that resource."""
    assert main.configure  # the handlers are registered on import
    registry = kopf.get_default_registry()
    by_change = {
        handler.selector.any_name
        for handler in [*registry._changing.get_all_handlers(), *registry._spawning.get_all_handlers()]
        if handler.selector is not None
    }
    assert set(PLURALS) == diffbase.EVENT_ONLY
    assert not by_change & set(PLURALS.values())
