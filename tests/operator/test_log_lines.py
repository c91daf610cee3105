"""The operator's log: kopf's success line for every watch event and timer tick is left out."""

from __future__ import annotations

from kcost.operator import main


def test_the_operator_keeps_its_per_event_successes_out_of_the_log() -> None:
    # Every watch-event handler and timer the operator registers: kopf's own wording of their successes.
    assert {
        "Handler '_recommendation_event' succeeded.",
        "Handler '_deployment_event' succeeded.",
        "Handler '_profile_event' succeeded.",
        "Handler '_analysis_event' succeeded.",
        "Timer 'timer-analyses' succeeded.",
    } <= main.ROUTINE_SUCCESSES
    assert not any("reconcile" in line for line in main.ROUTINE_SUCCESSES), "create/update/resume successes stay"
