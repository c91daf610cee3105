"""SubjectAccessReview answers reused only for the same question, only while young, only when allowed."""

from __future__ import annotations

from kcost.webhooks.access import AccessReviews
from kcost.webhooks.admission import UserInfo

ALICE = UserInfo(username="alice", uid="42", groups=["team-a"])


class Reviewer:
    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed
        self.asked: list[tuple[str, str, str, str]] = []

    async def __call__(self, user: UserInfo, verb: str, name: str, namespace: str) -> bool:
        self.asked.append((user.username, verb, name, namespace))
        return self.allowed


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


async def test_without_a_ttl_every_decision_asks() -> None:
    reviewer = Reviewer(allowed=True)
    reviews = AccessReviews(reviewer, ttl_s=0)
    for _ in range(3):
        assert await reviews.allowed(ALICE, "approve", "rec", "shop")
    assert len(reviewer.asked) == 3


async def test_an_allowed_answer_is_reused_for_the_same_question_until_it_expires() -> None:
    reviewer, clock = Reviewer(allowed=True), Clock()
    reviews = AccessReviews(reviewer, ttl_s=5, clock=clock)
    assert await reviews.allowed(ALICE, "approve", "rec", "shop")
    assert await reviews.allowed(ALICE, "approve", "rec", "shop")
    assert len(reviewer.asked) == 1
    # Another verb, object, group set or uid is another question.
    await reviews.allowed(ALICE, "reject", "rec", "shop")
    await reviews.allowed(ALICE, "approve", "other", "shop")
    await reviews.allowed(ALICE.model_copy(update={"groups": ["team-b"]}), "approve", "rec", "shop")
    await reviews.allowed(ALICE.model_copy(update={"uid": "43"}), "approve", "rec", "shop")
    assert len(reviewer.asked) == 5
    clock.now_s += 5.1
    assert await reviews.allowed(ALICE, "approve", "rec", "shop")
    assert len(reviewer.asked) == 6


async def test_a_refusal_is_never_reused() -> None:
    reviewer = Reviewer(allowed=False)
    reviews = AccessReviews(reviewer, ttl_s=5, clock=Clock())
    assert not await reviews.allowed(ALICE, "approve", "rec", "shop")
    reviewer.allowed = True  # a Role just granted works at once
    assert await reviews.allowed(ALICE, "approve", "rec", "shop")
    assert len(reviewer.asked) == 2
