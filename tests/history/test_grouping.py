"""Parsing the forms of a cost grouping, and naming each row's group."""

from __future__ import annotations

import datetime
import re

import pytest

from kcost.history.grouping import GROUP_BY_PATTERN, GroupBy, Grouping
from kcost.history.queries import CostTotals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("namespace", Grouping(GroupBy.NAMESPACE)),
        ("cluster", Grouping(GroupBy.CLUSTER)),
        ("workload", Grouping(GroupBy.WORKLOAD)),
        ("label:team", Grouping(GroupBy.LABEL, "team")),
        ("label:app.kubernetes.io/name", Grouping(GroupBy.LABEL, "app.kubernetes.io/name")),
    ],
)
def test_the_accepted_forms(text: str, expected: Grouping) -> None:
    assert Grouping.parse(text) == expected
    assert str(expected) == text
    assert re.match(GROUP_BY_PATTERN, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour", "expected namespace, cluster, workload or label:KEY, got 'colour'"),
        ("label", "expected namespace, cluster, workload or label:KEY, got 'label'"),
        ("label:", "'' is not a Kubernetes label key"),
        ("label:-team", "'-team' is not a Kubernetes label key"),
        ("label:Example.com/team", "'Example.com/team' is not a Kubernetes label key"),
        (f"label:{'a' * 254}/team", "is not a Kubernetes label key"),
    ],
)
def test_other_forms_are_refused_naming_the_accepted_ones(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Grouping.parse(text)


def test_kubectl_writes_a_label_with_an_equals_sign() -> None:
    assert Grouping.parse("label=team", label_separator="=") == Grouping(GroupBy.LABEL, "team")
    with pytest.raises(ValueError, match="label=KEY"):
        Grouping.parse("label:team", label_separator="=")


def _row(namespace: str, kind: str | None = None, name: str | None = None, label: str | None = None) -> CostTotals:
    day = datetime.date(2026, 1, 1)
    return CostTotals(
        "prod", namespace, day, 1, 0, 0, 0, 0, 0, 1, workload_kind=kind, workload_name=name, label_value=label
    )


def test_group_names() -> None:
    web = _row("shop", "Deployment", "web", "a")
    bare = _row("shop", "Pod", "debug", None)
    idle = _row("__idle__", "__idle__", "__idle__")
    workload, label = Grouping(GroupBy.WORKLOAD), Grouping(GroupBy.LABEL, "team")
    assert [workload.group_of(row) for row in (web, bare, idle)] == [
        "shop/Deployment/web",
        "shop/Pod/debug",
        "__idle__",
    ]
    assert [label.group_of(row) for row in (web, bare, idle)] == ["a", "__unallocated__", "__idle__"]
    assert Grouping(GroupBy.CLUSTER).group_of(idle) == "prod"
    assert Grouping(GroupBy.NAMESPACE).group_of(web) == "shop"
    assert label.group_of(_row("shop", "Deployment", "web", "")) == ""
