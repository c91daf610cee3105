"""Which namespaces an object covers: named ones plus selector matches."""

from __future__ import annotations

from typing import Any

from kcost.api.v1alpha1.common import LabelSelector

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


def select_namespaces(listed: list[str], selector: LabelSelector | None, namespaces: list[dict[str, Any]]) -> list[str]:
    """Listed namespaces that exist, plus those the selector matches; all but the system ones if neither is given."""
    by_name = {ns["metadata"]["name"]: ns["metadata"].get("labels") or {} for ns in namespaces}
    if not listed and selector is None:
        return sorted(name for name in by_name if name not in SYSTEM_NAMESPACES)
    chosen = {name for name in listed if name in by_name}
    if selector is not None:
        chosen |= {name for name, labels in by_name.items() if selector.matches(labels)}
    return sorted(chosen)
