"""What a send attempt leads to: the pure decisions of ``send_message`` (session window, error handling)."""

from __future__ import annotations

from typing import Literal, NamedTuple

from hub.config import RetrySettings
from hub.errors import AmbiguousSendError, PermanentSendError, SendError, TransientSendError
from hub.policy import backoff_ms, opts_out_contact

# The contact rules live in hub (the dry runs decide with them too); re-exported for the send path.
from hub.sendable import (
    OUTSIDE_WINDOW_CODE,
    OUTSIDE_WINDOW_REASON,
    SESSION_WINDOW,
    business_initiated,
    outside_session_window,
)


class Outcome(NamedTuple):
    """How to settle a row after a failed send.

    Attributes:
        action: ``retry`` (back to pending, re-enqueued after ``delay_ms``), ``failed`` or ``unknown``.
        delay_ms: wait before the retry, ms (0 otherwise).
        code: Twilio error code to record.
        reason: message to record.
        opt_out: also mark the contact opted out (21610, 63014).
    """

    action: Literal["retry", "failed", "unknown"]
    delay_ms: int = 0
    code: int | None = None
    reason: str | None = None
    opt_out: bool = False


def after_error(exc: SendError, *, attempts: int, retries: RetrySettings) -> Outcome:
    """Decide what a classified send error does to the row (pure).

    Args:
        exc: the transport's classified error.
        attempts: how many times the row has been claimed, this attempt included (1 on the first send).
        retries: ``retries.*`` (budget and backoff bounds, ms).
    """
    if isinstance(exc, AmbiguousSendError):
        return Outcome("unknown", code=exc.code, reason=exc.message)
    if isinstance(exc, TransientSendError):
        if attempts <= retries.max_retries:
            delay = backoff_ms(
                attempts,
                min_ms=retries.min_backoff_ms,
                max_ms=retries.max_backoff_ms,
                retry_after_ms=exc.retry_after_ms,
            )
            return Outcome("retry", delay_ms=delay, code=exc.code, reason=exc.message)
        reason = f"gave up after {attempts} attempts: {exc.message}"
        return Outcome("failed", code=exc.code, reason=reason)
    assert isinstance(exc, PermanentSendError | SendError)
    return Outcome("failed", code=exc.code, reason=exc.message, opt_out=opts_out_contact(exc.code))


__all__ = [
    "OUTSIDE_WINDOW_CODE",
    "OUTSIDE_WINDOW_REASON",
    "SESSION_WINDOW",
    "Outcome",
    "after_error",
    "business_initiated",
    "outside_session_window",
]
