"""The recommendations under rollout as the watch last delivered them, so a look at one costs no read.

A body from the watch may lag behind kcost's own last write (the write's answer comes
first, its event later). Deciding on such a body would repeat a step already taken, so
after each write the body serves again only once the watch has delivered that very
version (its resourceVersion, compared for equality as the API asks); the same
after a read, since an older event may still be on its way.
"""

from __future__ import annotations

from typing import Any

Key = tuple[str, str]


def key_of(body: dict[str, Any]) -> Key:
    metadata = body.get("metadata") or {}
    return metadata.get("namespace") or "", metadata.get("name") or ""


def version_of(body: dict[str, Any]) -> str | None:
    return (body.get("metadata") or {}).get("resourceVersion")


class WatchedBodies:
    """The last delivered body of each recommendation, and the version of kcost's write it still waits for."""

    def __init__(self) -> None:
        self._bodies: dict[Key, dict[str, Any]] = {}
        # Key → the version kcost wrote last and the watch has not delivered yet (None: unknown, read it).
        self._awaiting: dict[Key, str | None] = {}

    def delivered(self, body: dict[str, Any], *, keep: bool = True) -> None:
        """A body from the watch: the newest known, and fresh once it is (or follows) kcost's own last write.
        ``keep``: False once the recommendation is no longer under rollout (its body is let go)."""
        key = key_of(body)
        if key in self._awaiting and self._awaiting[key] == version_of(body):
            del self._awaiting[key]
        if keep:
            self._bodies[key] = body
        else:
            # An older event may still follow what kcost wrote: what it waits for stays until delivered.
            self._bodies.pop(key, None)

    def read(self, body: dict[str, Any]) -> None:
        """A body just read from the API server: the watch may still deliver older ones, so what it holds serves
        again once the watch has delivered the version read (for a recommendation the watch no longer keeps, the
        wait lasts until its next event or its deletion: one short string)."""
        self.wrote(key_of(body), version_of(body))

    def wrote(self, key: Key, version: str | None) -> None:
        """kcost wrote the recommendation; ``version``: the resourceVersion the write answered (None: unknown)."""
        body = self._bodies.get(key)
        if version is not None and body is not None and version_of(body) == version:
            self._awaiting.pop(key, None)  # the write's own event came before its answer
        else:
            self._awaiting[key] = version

    def fresh(self, key: Key) -> dict[str, Any] | None:
        """The body to decide on, None when it must be read (never delivered, or behind kcost's last write)."""
        return None if key in self._awaiting else self._bodies.get(key)

    def forget(self, key: Key) -> None:
        """Deleted: nothing kept for it (no later event of that object can come)."""
        self._bodies.pop(key, None)
        self._awaiting.pop(key, None)

    def __len__(self) -> int:
        return len(self._bodies)
