"""What a send attempt leads to: the pure decisions of the send actor (session window, error handling)."""

from __future__ import annotations

from hub.config import RetrySettings
from hub.errors import SendError
from hub.policy import Decision, after_create_error

# The contact rules live in hub (the dry runs decide with them too); re-exported for the send path.
from hub.sendable import (
    OUTSIDE_WINDOW_CODE,
    OUTSIDE_WINDOW_REASON,
    SESSION_WINDOW,
    business_initiated,
    outside_session_window,
)

#: How to settle a row after a failed send: the policy table's decision (:class:`hub.policy.Decision`).
Outcome = Decision


def after_error(exc: SendError, *, attempts: int, retries: RetrySettings, to: str | None = None) -> Outcome:
    """Decide what a classified send error does to the row (pure): :func:`hub.policy.after_create_error`.

    Args:
        exc: the transport's classified error.
        attempts: how many times the row has been claimed, this attempt included (1 on the first send).
        retries: ``retries.*`` (budget and backoff bounds, ms).
        to: the recipient.
    """
    return after_create_error(exc, attempts=attempts, retries=retries, to=to)


__all__ = [
    "OUTSIDE_WINDOW_CODE",
    "OUTSIDE_WINDOW_REASON",
    "SESSION_WINDOW",
    "Outcome",
    "after_error",
    "business_initiated",
    "outside_session_window",
]
