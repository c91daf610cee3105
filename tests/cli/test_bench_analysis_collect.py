"""The analysis bench waits for the last run's recommendations to be collected, but not forever."""

from __future__ import annotations

import io
import subprocess
from typing import Any

import click
import pytest
from rich.console import Console

from kcost.cli.bench_analysis import _wait_for_collection


class _Cluster:
    """Answers ``kubectl get rec`` with the names left, one answer per call (the last one repeats)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, ...]] = []

    def kubectl(self, *args: str, **_: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return subprocess.CompletedProcess(args, 0, stdout=answer, stderr="")


def _console() -> Console:
    return Console(file=io.StringIO())


def test_returns_once_nothing_is_left() -> None:
    cluster = _Cluster("optimizationrecommendation.optimizer.kcost.dev/a\n", "")
    _wait_for_collection(cluster, "bench-10", _console())  # type: ignore[arg-type]
    assert len(cluster.calls) == 2
    assert "kcost.dev/analysis=bench-10" in cluster.calls[0]


def test_names_what_is_left_when_the_deadline_passes() -> None:
    cluster = _Cluster("rec/a\nrec/b\nrec/c\n")
    with pytest.raises(click.ClickException, match=r"3 recommendations of the Analysis bench-10 .* garbage collector"):
        _wait_for_collection(cluster, "bench-10", _console(), timeout_s=0)  # type: ignore[arg-type]
