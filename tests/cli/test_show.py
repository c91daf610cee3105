"""`kubectl cost show` for a person: aligned columns, numbers with units."""

from __future__ import annotations

import re

import pytest

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.cli.kubectl_cost.commands import recommendations

REC = OptimizationRecommendation.model_validate(
    {
        "metadata": {"name": "deployment-web-right-sizing", "namespace": "shop"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "type": "right-sizing",
            "current": {
                "containers": [{"name": "app", "requests": {"cpu": "1", "memory": "1Gi"}}],
                "replicas": 3,
            },
            "changes": {
                "containers": [{"name": "app", "requests": {"cpu": "250m", "memory": "512Mi"}}],
                "replicas": 0,
            },
            "estimatedMonthlySavings": 40.5,
            "confidence": 0.9,
            "riskLevel": "low",
            "evidence": {
                "method": "test",
                "workloadClass": "diurnal",
                "containers": [
                    {
                        "name": "app",
                        "cpuCores": {"p50": 0.12515525708333067, "p95": 0.2, "max": 1.5},
                        "memoryBytes": {"p95": 400_000_000, "max": 2**31},
                        "oomEvents": 1,
                        "workloadClass": "diurnal",
                    },
                    {"name": "sidecar-with-a-long-name"},
                ],
            },
        },
    }
)


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    recommendations.print_evidence(REC)
    return capsys.readouterr().out.splitlines()


def _table(lines: list[str], header_word: str) -> tuple[str, list[str]]:
    """The header line holding ``header_word`` and the rows under it, up to the next blank line."""
    start = next(i for i, line in enumerate(lines) if header_word in line)
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start], lines[start + 1 : end]


def test_usage_numbers_have_units_and_sensible_precision(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(capsys)
    assert not any("0.1251" in line for line in lines)
    _, (app, sidecar) = _table(lines, "CPU P50")
    assert app.split() == ["app", "125m", "200m", "1.50", "381Mi", "2.00Gi", "1", "diurnal"]
    assert sidecar.split() == ["sidecar-with-a-long-name", "-", "-", "-", "-", "-", "0", "-"]


def test_the_workload_class_is_a_line_of_the_facts(capsys: pytest.CaptureFixture[str]) -> None:
    assert [line.split() for line in _lines(capsys) if line.strip().startswith("class:")] == [["class:", "diurnal"]]


@pytest.mark.parametrize("header_word", ["RESOURCE", "CPU P50"])
def test_columns_line_up(header_word: str, capsys: pytest.CaptureFixture[str]) -> None:
    header, rows = _table(_lines(capsys), header_word)
    starts = [match.start() for match in re.finditer(r"\S+(?: \S+)*", header)]
    assert len(starts) >= 4
    for row in rows:
        for start in starts[1:]:
            assert row[start - 1] == " ", f"{row!r} not aligned under {header!r}"
            assert row[start] != " ", f"{row!r} not aligned under {header!r}"


def test_changes_side_by_side_with_replicas(capsys: pytest.CaptureFixture[str]) -> None:
    _, rows = _table(_lines(capsys), "RESOURCE")
    assert [row.split() for row in rows] == [
        ["app", "cpu", "request", "1", "250m"],
        ["app", "memory", "request", "1Gi", "512Mi"],
        ["replicas", "3", "0"],
    ]
