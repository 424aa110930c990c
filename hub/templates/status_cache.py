"""The send path's short-lived memory of template statuses (one lookup per template every few seconds, not per
message); the registry forgets it whenever it writes a status."""

from __future__ import annotations

import time

#: How long the send path trusts a status it read, seconds.
STATUS_CACHE_S = 5.0

# content_sid -> (monotonic time read, status, refusal reason or None, the template's text when known)
_cache: dict[str, tuple[float, str | None, str | None, str | None]] = {}


def cached(content_sid: str) -> tuple[str | None, str | None] | None:
    """(status, refusal reason) read less than :data:`STATUS_CACHE_S` ago, or None."""
    entry = _cache.get(content_sid)
    if entry is None or time.monotonic() - entry[0] >= STATUS_CACHE_S:
        return None
    return entry[1], entry[2]


def remember(content_sid: str, status: str | None, reason: str | None, body: str | None = None) -> None:
    _cache[content_sid] = (time.monotonic(), status, reason, body)


def cached_body(content_sid: str) -> str | None:
    """The template's text as last read (within :data:`STATUS_CACHE_S`), or None."""
    entry = _cache.get(content_sid)
    if entry is None or time.monotonic() - entry[0] >= STATUS_CACHE_S:
        return None
    return entry[3]


def forget_cached_statuses() -> None:
    """Drop every cached status (after a sync or refresh, and in tests)."""
    _cache.clear()


__all__ = ["STATUS_CACHE_S", "cached", "cached_body", "forget_cached_statuses", "remember"]
