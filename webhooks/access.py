"""SubjectAccessReview answers, optionally remembered for a few seconds.

A permission can be revoked at any moment, so an answer is reused only for the very same
question (user name, uid, groups, extra, verb, namespace, name) and only for ``ttl_s``
(KCOST_WEBHOOK_ACCESS_REVIEW_TTL_S; 0, the default, asks every time). Only "allowed" is
remembered, as the API server's own webhook authorizer does: a Role just granted works at
once, a Role just revoked may still let the same decision through for up to ``ttl_s``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable

from kcost.webhooks.admission import UserInfo

Review = Callable[[UserInfo, str, str, str], Awaitable[bool]]
# Past this many remembered answers, the expired ones are dropped.
PRUNE_ABOVE = 10_000


class AccessReviews:
    """``allowed`` asks ``review`` (a SubjectAccessReview), reusing an "allowed" younger than ``ttl_s``."""

    def __init__(self, review: Review, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._review = review
        self._ttl_s = ttl_s
        self._clock = clock
        self._allowed_until: dict[Hashable, float] = {}

    async def allowed(self, user: UserInfo, verb: str, name: str, namespace: str) -> bool:
        """May ``user`` do ``verb`` on the named recommendation?"""
        if self._ttl_s <= 0:
            return await self._review(user, verb, name, namespace)
        extra = tuple(sorted((key, tuple(values)) for key, values in user.extra.items()))
        question = (user.username, user.uid, tuple(user.groups), extra, verb, namespace, name)
        now = self._clock()
        if self._allowed_until.get(question, 0.0) > now:
            return True
        allowed = await self._review(user, verb, name, namespace)
        if allowed:
            if len(self._allowed_until) >= PRUNE_ABOVE:
                self._allowed_until = {key: until for key, until in self._allowed_until.items() if until > now}
            self._allowed_until[question] = now + self._ttl_s
        return allowed
