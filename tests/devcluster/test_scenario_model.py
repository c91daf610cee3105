from __future__ import annotations

import pytest
from pydantic import ValidationError

from kcost.api.units import GIB, MIB
from kcost.devcluster.nodes import NodeSpec
from kcost.devcluster.scenario import library, manifests
from kcost.devcluster.scenario.model import ContainerSpec, HPASpec, Scenario, WorkloadSpec

NODE = NodeSpec(name="n1", cpu_cores=2, memory_bytes=4 * GIB)


def test_builtin_scenarios_are_valid() -> None:
    for build in library.BUILT_IN.values():
        scenario = build()
        assert scenario.workloads
        assert scenario.namespaces == sorted(scenario.namespaces)


def test_workloads_that_do_not_fit_are_refused_with_the_numbers() -> None:
    big = WorkloadSpec(name="big", namespace="a", replicas=5, containers=[ContainerSpec(cpu_request_cores=1)])
    with pytest.raises(ValidationError, match=r"request 5\.0 cores .* nodes have 2 cores"):
        Scenario(name="s", nodes=[NODE], workloads=[big])


def test_duplicate_workloads_are_refused() -> None:
    one = WorkloadSpec(name="web", namespace="a")
    with pytest.raises(ValidationError, match="defined twice: a/web"):
        Scenario(name="s", nodes=[NODE], workloads=[one, one])


def test_leak_without_limit_and_replicas_outside_hpa_are_refused() -> None:
    with pytest.raises(ValidationError, match="memory leak needs memory_limit_bytes"):
        ContainerSpec(memory_leak_bytes_per_hour=MIB)
    with pytest.raises(ValidationError, match=r"outside the HPA's 2..4"):
        WorkloadSpec(name="w", namespace="a", replicas=1, hpa=HPASpec(min_replicas=2, max_replicas=4))


def test_manifests_carry_requests_limits_and_hpa() -> None:
    objects = manifests.manifests(library.smoke())
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert kinds[0][0] == "Namespace", "namespaces first"
    assert ("HorizontalPodAutoscaler", "api") in kinds
    assert ("Service", "search") in kinds, "a StatefulSet needs its headless service"
    web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}}
    assert web["metadata"]["labels"]["team"] == "storefront"


def test_quantities() -> None:
    assert manifests.cpu_quantity(0.25) == "250m"
    assert manifests.memory_quantity(512 * MIB) == "512Mi"
    assert manifests.memory_quantity(1000) == "1000"
