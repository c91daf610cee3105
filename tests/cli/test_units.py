"""How `kubectl cost` writes CPU, memory and money."""

from __future__ import annotations

import pytest

from kcost.cli.kubectl_cost import units


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.12515525708333067, "125m"), (0.0, "0m"), (0.9994, "999m"), (1.0, "1.00"), (2.345, "2.35"), (None, "-")],
)
def test_cores_as_millicores_below_one_core(value: float | None, text: str) -> None:
    assert units.cores(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(400_000_000, "381Mi"), (5 * 2**20 + 2**19, "5.5Mi"), (2**30, "1.00Gi"), (3.5 * 2**30, "3.50Gi"), (None, "-")],
)
def test_memory_in_mib_or_gib(value: float | None, text: str) -> None:
    assert units.memory(value) == text


def test_money_and_sparkline() -> None:
    assert units.money(1234.5) == "1,234.50"
    assert units.sparkline([0.1, 0.3, 0.2]) == "▃█▅"
    assert units.sparkline([]) == ""
