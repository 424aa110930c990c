"""The send path's short-lived memory of template statuses (one lookup per template every few seconds, not per
message). One per worker runtime (``actors.runtime.Runtime.templates``): a registry write elsewhere is seen once
the entry is older than :data:`STATUS_CACHE_S`."""

from __future__ import annotations

import time
from collections.abc import Callable

#: How long the send path trusts a status it read, seconds.
STATUS_CACHE_S = 5.0


class TemplateStatusCache:
    """Template statuses the send path read, each trusted for :data:`STATUS_CACHE_S`.

    Args:
        clock: monotonic seconds (tests move it).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # content_sid -> (monotonic time read, status, refusal reason or None, the template's text when known)
        self._entries: dict[str, tuple[float, str | None, str | None, str | None]] = {}

    def _fresh(self, content_sid: str) -> tuple[float, str | None, str | None, str | None] | None:
        entry = self._entries.get(content_sid)
        if entry is None or self._clock() - entry[0] >= STATUS_CACHE_S:
            return None
        return entry

    def cached(self, content_sid: str) -> tuple[str | None, str | None] | None:
        """(status, refusal reason) read less than :data:`STATUS_CACHE_S` ago, or None."""
        entry = self._fresh(content_sid)
        return None if entry is None else (entry[1], entry[2])

    def cached_body(self, content_sid: str) -> str | None:
        """The template's text as last read (within :data:`STATUS_CACHE_S`), or None."""
        entry = self._fresh(content_sid)
        return None if entry is None else entry[3]

    def remember(self, content_sid: str, status: str | None, reason: str | None, body: str | None = None) -> None:
        self._entries[content_sid] = (self._clock(), status, reason, body)

    def forget(self) -> None:
        """Drop every entry."""
        self._entries.clear()


__all__ = ["STATUS_CACHE_S", "TemplateStatusCache"]
