"""Whether this replica leads, read from the peering object at most once every few seconds for the whole operator.

Kopf hands each object's handlers a shallow copy of the memo, so a value kept in the
memo itself would be read again for every object (a thousand recommendations: a
thousand peering reads at start-up, and one per watch event after). This object is
shared by every copy, and concurrent callers wait for the one read under way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Awaitable, Callable

# One peering read serves every reconcile for this long (thousands of objects share it).
TTL_S = 2.0


@dataclasses.dataclass
class Leadership:
    """The last answer of ``read`` (does this replica lead?), kept for ``ttl_s``."""

    read: Callable[[], Awaitable[bool]]
    ttl_s: float = TTL_S
    known: bool | None = None  # None until first read
    _checked_at: float = -math.inf
    _lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)

    async def leading(self) -> bool:
        """Whether this replica leads, read again once the last answer is older than ``ttl_s``."""
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if self.known is None or now - self._checked_at > self.ttl_s:
                self.known = await self.read()
                self._checked_at = now
            return self.known
