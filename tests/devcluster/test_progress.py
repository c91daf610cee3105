"""Long steps say what they do, also where a spinner would print nothing."""

from __future__ import annotations

import io

from rich.console import Console

from kcost.devcluster import progress


def test_outside_a_terminal_a_step_is_one_line() -> None:
    log = io.StringIO()
    with progress.step(Console(file=log, width=40), "writing demo history (14 days at 120 s)…"):
        pass
    assert log.getvalue() == "writing demo history (14 days at 120 s)…\n", "one unwrapped line"
