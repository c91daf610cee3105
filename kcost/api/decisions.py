"""A person's decisions on a recommendation: which phases allow each, and what each writes to ``spec.approval``.

``kubectl cost approve|reject|rollback`` and the status API's POST endpoints both apply these.
"""

from __future__ import annotations

from kcost.api.v1alpha1.recommendation import RecommendationPhase

# What each decision needs the recommendation's phase to be (None: not given one yet), and what it writes.
DECISIONS: dict[str, tuple[frozenset[str | None], dict[str, bool]]] = {
    "approve": (frozenset({RecommendationPhase.PROPOSED, None}), {"approved": True}),
    "reject": (
        frozenset({RecommendationPhase.PROPOSED, RecommendationPhase.SUPERSEDED, RecommendationPhase.EXPIRED, None}),
        {"rejected": True},
    ),
    "rollback": (frozenset({RecommendationPhase.APPLIED}), {"rollback": True}),
}


def expected_phases(verb: str) -> str:
    """The phases ``verb`` accepts, for an error message ("Proposed or new")."""
    allowed, _ = DECISIONS[verb]
    return " or ".join(sorted(p for p in allowed if p)) or "new"


def approval_patch(verb: str, reason: str | None) -> dict[str, object]:
    """The merge patch of ``spec.approval`` that records ``verb`` (and why)."""
    _, approval = DECISIONS[verb]
    return {"spec": {"approval": {**approval, **({"reason": reason} if reason else {})}}}
