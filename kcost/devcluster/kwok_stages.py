"""kwok's pod lifecycle for the dev cluster, plus faults a test can ask for.

kwok plays the kubelets by moving objects through *stages*. Once a config file names
any pod stage, kwok's built-in ones are off, so this file gives the whole pod
lifecycle: scheduled pods go Running and Ready, pods of Jobs complete, deleted pods
go away. On top of that, faults for testing rollouts: a pod carrying the canary
label and a fault annotation (copied from the workload's pod template, so only the
canary's pods match) is OOM-killed, made unready, or restarted.

    template annotation  sim.kcost.dev/canary-fault: oom-kill | unready | restart
    Job pod annotation   sim.kcost.dev/job-fault: oom-kill (the pod fails, OOMKilled)

A workload without a canary (an HPA-scaled Deployment's gated rolling update) has no
label telling its new pods apart: with ``sim.kcost.dev/fault-at-memory: <quantity>``
beside ``canary-fault: oom-kill`` in its template, the pods whose first container
requests that memory (the new values) are OOM-killed, label or not.

In-place resizes (``pods/resize``) are answered as a kubelet answers them: running
pods report their containers' resources in ``status.containerStatuses[].resources``,
and a pod whose spec no longer matches them gets them copied over (the resize is
actuated). A pod annotated ``sim.kcost.dev/resize: infeasible`` is answered instead
with the condition ``PodResizePending`` (reason ``Infeasible``), as a kubelet answers
a resize its node cannot hold.
"""

from __future__ import annotations

from typing import Any

import yaml

CANARY_LABEL = "kcost.dev/canary"
FAULT_ANNOTATION = "sim.kcost.dev/canary-fault"
FAULTS = ("oom-kill", "unready", "restart")
RESIZE_ANNOTATION = "sim.kcost.dev/resize"
# The memory request (as written in the template) of the pods OOM-killed without the canary label.
FAULT_MEMORY_ANNOTATION = "sim.kcost.dev/fault-at-memory"
# A Job's pods end OOM-killed (phase Failed) instead of completing.
JOB_FAULT_ANNOTATION = "sim.kcost.dev/job-fault"
# Whether the containers' resources in the spec and in the status differ: a resize not yet actuated.
_RESIZE_WAITING = {
    "key": "[.spec.containers[].resources] == [(.status.containerStatuses // [])[].resources]",
    "operator": "In",
    "values": ["false"],
}

# kwok plays pod stages with 4 workers by default, each waiting on the API server: a thousand Deployments rolling at
# once then wait a minute for their new pods to turn Ready, which a kubelet per node would do in parallel.
KWOK_OPTIONS = {
    "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
    "kind": "KwokConfiguration",
    "options": {"podPlayStageParallelism": 32},
}
_NOT_DELETED = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}


def _phase(*phases: str) -> dict[str, Any]:
    return {"key": ".status.phase", "operator": "In", "values": list(phases)}


def _ready_is(*values: str) -> dict[str, Any]:
    return {
        "key": '.status.conditions.[] | select( .type == "Ready" ) | .status',
        "operator": "In",
        "values": list(values),
    }


def _conditions(ready: bool) -> str:
    value = '"True"' if ready else '"False"'
    return "\n".join(
        f"- type: {kind}\n  status: {status}\n  lastTransitionTime: {{{{ $now | Quote }}}}"
        for kind, status in (("Initialized", '"True"'), ("Ready", value), ("ContainersReady", value))
    )


def _container_statuses(*, ready: bool, restarts: int, last_reason: str | None, exit_code: int = 137) -> str:
    last_state = ""
    if last_reason:
        last_state = (
            "\n  lastState:\n    terminated:\n"
            f"      reason: {last_reason}\n      exitCode: {exit_code}\n"
            "      startedAt: {{ $now | Quote }}\n      finishedAt: {{ $now | Quote }}"
        )
    return (
        "{{ range .spec.containers }}\n"
        "- name: {{ .name | Quote }}\n  image: {{ .image | Quote }}\n"
        "  resources: {{ .resources | toJson }}\n"
        f"  ready: {'true' if ready else 'false'}\n  started: true\n  restartCount: {restarts}\n"
        "  state:\n    running:\n      startedAt: {{ $now | Quote }}"
        f"{last_state}\n"
        "{{ end }}"
    )


def _running_status(*, ready: bool, restarts: int = 0, last_reason: str | None = None) -> str:
    return (
        "{{ $now := Now }}\n"
        "phase: Running\n"
        "startTime: {{ $now | Quote }}\n"
        "hostIP: {{ NodeIPWith .spec.nodeName | Quote }}\n"
        'podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" )'
        ' ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}\n'
        f"conditions:\n{_conditions(ready)}\n"
        f"containerStatuses:\n{_container_statuses(ready=ready, restarts=restarts, last_reason=last_reason)}\n"
    )


def _completed_status(*, phase: str = "Succeeded", reason: str = "Completed", exit_code: int = 0) -> str:
    return (
        "{{ $now := Now }}\n"
        f"phase: {phase}\n"
        "containerStatuses:\n"
        "{{ range .spec.containers }}\n"
        "- name: {{ .name | Quote }}\n  image: {{ .image | Quote }}\n  ready: false\n  started: false\n"
        f"  restartCount: 0\n  state:\n    terminated:\n      reason: {reason}\n      exitCode: {exit_code}\n"
        "      startedAt: {{ $now | Quote }}\n      finishedAt: {{ $now | Quote }}\n"
        "{{ end }}"
    )


def _stage(name: str, expressions: list[dict[str, Any]], next_: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
            "selector": {"matchExpressions": expressions},
            "next": next_,
        },
    }


def _fault(fault: str, status: str) -> dict[str, Any]:
    return _stage(
        f"kcost-canary-{fault}",
        [
            _NOT_DELETED,
            _phase("Running"),
            _ready_is("True"),
            {"key": f'.metadata.labels["{CANARY_LABEL}"]', "operator": "Exists"},
            {"key": f'.metadata.annotations["{FAULT_ANNOTATION}"]', "operator": "In", "values": [fault]},
        ],
        {"statusTemplate": status},
    )


def _resize_stages() -> list[dict[str, Any]]:
    """A resize actuated (each container status gets its spec's resources), or found infeasible."""
    actuated = (
        "containerStatuses:\n"
        "{{ range $i, $status := .status.containerStatuses }}\n"
        '- {{ set $status "resources" (index $.spec.containers $i).resources | toJson }}\n'
        "{{ end }}"
    )
    infeasible = (
        'conditions:\n- type: PodResizePending\n  status: "True"\n  reason: Infeasible\n'
        '  message: "Node didn\'t have enough capacity (simulated by kwok)"\n'
        "  lastTransitionTime: {{ Now | Quote }}"
    )
    not_infeasible = {
        "key": f'.metadata.annotations["{RESIZE_ANNOTATION}"]',
        "operator": "NotIn",
        "values": ["infeasible"],
    }
    pending = '.status.conditions.[] | select( .type == "PodResizePending" ) | .status'
    return [
        _stage(
            "kcost-pod-resize",
            [_NOT_DELETED, _phase("Running"), _RESIZE_WAITING, not_infeasible],
            {"statusTemplate": actuated},
        ),
        _stage(
            "kcost-pod-resize-infeasible",
            [
                _NOT_DELETED,
                _phase("Running"),
                _RESIZE_WAITING,
                {"key": f'.metadata.annotations["{RESIZE_ANNOTATION}"]', "operator": "In", "values": ["infeasible"]},
                {"key": pending, "operator": "DoesNotExist"},
            ],
            {"statusTemplate": infeasible},
        ),
    ]


def pod_stages() -> list[dict[str, Any]]:
    """Every pod stage the dev cluster's kwok runs."""
    restart_running = (
        "{{ $now := Now }}\n"
        f"containerStatuses:\n{_container_statuses(ready=True, restarts=3, last_reason='Error', exit_code=1)}\n"
    )
    job_pod = [
        _NOT_DELETED,
        _phase("Running"),
        {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]},
    ]
    job_fault = f'.metadata.annotations["{JOB_FAULT_ANNOTATION}"]'
    return [
        _stage(
            "kcost-pod-ready",
            [_NOT_DELETED, _phase("Pending"), {"key": ".spec.nodeName", "operator": "Exists"}],
            {"statusTemplate": _running_status(ready=True)},
        ),
        _stage(
            "kcost-pod-complete",
            [*job_pod, {"key": job_fault, "operator": "NotIn", "values": ["oom-kill"]}],
            {"statusTemplate": _completed_status()},
        ),
        _stage(
            "kcost-job-pod-oom-kill",
            [*job_pod, {"key": job_fault, "operator": "In", "values": ["oom-kill"]}],
            {"statusTemplate": _completed_status(phase="Failed", reason="OOMKilled", exit_code=137)},
        ),
        _stage(
            "kcost-pod-delete",
            [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}],
            {"finalizers": {"empty": True}, "delete": True},
        ),
        _fault("oom-kill", _running_status(ready=False, restarts=1, last_reason="OOMKilled")),
        _stage(
            "kcost-new-values-oom-kill",
            [
                _NOT_DELETED,
                _phase("Running"),
                _ready_is("True"),
                {"key": f'.metadata.annotations["{FAULT_ANNOTATION}"]', "operator": "In", "values": ["oom-kill"]},
                {"key": f'.metadata.annotations["{FAULT_MEMORY_ANNOTATION}"]', "operator": "Exists"},
                {
                    "key": "[.spec.containers[0].resources.requests.memory] == "
                    f'[.metadata.annotations["{FAULT_MEMORY_ANNOTATION}"]]',
                    "operator": "In",
                    "values": ["true"],
                },
            ],
            {"statusTemplate": _running_status(ready=False, restarts=1, last_reason="OOMKilled")},
        ),
        _fault("unready", _running_status(ready=False)),
        # Restarts keep the pod Ready: only the restart count tells.
        _stage(
            "kcost-canary-restart",
            [
                _NOT_DELETED,
                _phase("Running"),
                {"key": f'.metadata.labels["{CANARY_LABEL}"]', "operator": "Exists"},
                {"key": f'.metadata.annotations["{FAULT_ANNOTATION}"]', "operator": "In", "values": ["restart"]},
                {"key": ".status.containerStatuses.[].lastState.terminated", "operator": "DoesNotExist"},
            ],
            {"statusTemplate": restart_running},
        ),
        *_resize_stages(),
    ]


def config_yaml() -> str:
    """The kwok config file: its options, then the stages, as YAML documents."""
    return yaml.safe_dump_all([KWOK_OPTIONS, *pod_stages()], sort_keys=False)
