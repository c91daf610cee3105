"""How cost history is grouped: by cluster, namespace, workload, or the value of one label.

The status API's ``groupBy`` (``label:KEY``) and ``kubectl cost costs --by`` (``label=KEY``)
both parse into a ``Grouping`` and name their groups with ``Grouping.group_of``, so the two
answer the same groups with the same sums for the same range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kcost.history.queries import CostTotals

# The namespace, kind and name of the cost no workload uses (node cost minus allocations). Here, not in
# ``models``: the analyzers name it without importing SQLAlchemy, which only the history writer needs.
IDLE = "__idle__"
# OpenCost's (and Kubecost's) name for the cost of what lacks the property grouped by.
UNALLOCATED = "__unallocated__"
# A Kubernetes label key: an optional DNS-subdomain prefix and "/", then a name of at most 63 characters.
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
LABEL_KEY = re.compile(rf"^({_DNS_LABEL}(\.{_DNS_LABEL})*/)?{_LABEL_NAME}$")
MAX_PREFIX_LENGTH = 253
#: The forms the status API's ``groupBy`` accepts, as a JSON-schema pattern.
GROUP_BY_PATTERN = rf"^(namespace|cluster|workload|label:({_DNS_LABEL}(\.{_DNS_LABEL})*/)?{_LABEL_NAME})$"


class GroupBy(StrEnum):
    """What a range of cost history is summed by."""

    NAMESPACE = "namespace"
    CLUSTER = "cluster"
    WORKLOAD = "workload"
    LABEL = "label"


@dataclass(frozen=True)
class Grouping:
    """A ``GroupBy``, and for ``LABEL`` the label's key."""

    by: GroupBy
    label_key: str | None = None

    @classmethod
    def parse(cls, text: str, label_separator: str = ":") -> Grouping:
        """``namespace``, ``cluster``, ``workload`` or ``label<separator>KEY``; else ``ValueError`` naming the forms."""
        label_prefix = f"{GroupBy.LABEL}{label_separator}"
        if text.startswith(label_prefix):
            key = text.removeprefix(label_prefix)
            prefix, _, _ = key.rpartition("/")
            if not LABEL_KEY.match(key) or len(prefix) > MAX_PREFIX_LENGTH:
                raise ValueError(
                    f"{key!r} is not a Kubernetes label key ([prefix/]name, the name at most 63 letters, digits, "
                    "'-', '_' or '.')"
                )
            return cls(GroupBy.LABEL, key)
        if text in {GroupBy.NAMESPACE, GroupBy.CLUSTER, GroupBy.WORKLOAD}:
            return cls(GroupBy(text))
        raise ValueError(f"expected namespace, cluster, workload or {label_prefix}KEY, got {text!r}")

    @property
    def per_workload(self) -> bool:
        """Whether this grouping reads the per-workload rows (``workload_daily_costs``)."""
        return self.by in (GroupBy.WORKLOAD, GroupBy.LABEL)

    def group_of(self, row: CostTotals) -> str:
        """The name of the group ``row`` is summed in.

        Workloads are ``namespace/Kind/name``; a workload without the label goes in
        ``__unallocated__``; idle cost is ``__idle__`` in every grouping but ``cluster``.
        """
        if self.by is GroupBy.CLUSTER:
            return row.cluster or ""
        if self.by is GroupBy.NAMESPACE or row.namespace == IDLE:
            return row.namespace or ""
        if self.by is GroupBy.WORKLOAD:
            return f"{row.namespace}/{row.workload_kind}/{row.workload_name}"
        return UNALLOCATED if row.label_value is None else row.label_value

    def __str__(self) -> str:
        return f"{self.by}:{self.label_key}" if self.by is GroupBy.LABEL else str(self.by)
