"""Saying what a long step of the harness is doing, in a terminal and in a log alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


@contextmanager
def step(console: Console, message: str) -> Iterator[None]:
    """A spinner with ``message`` in a terminal; elsewhere (CI logs, pipes), where a spinner
    prints nothing, ``message`` as one line."""
    if console.is_terminal:
        with console.status(message):
            yield
    else:
        console.print(message, markup=False, highlight=False, soft_wrap=True)
        yield
