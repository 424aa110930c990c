"""What a send attempt leads to: the pure decisions of ``send_message`` (session window, error handling)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from hub.config import RetrySettings
from hub.errors import AmbiguousSendError, PermanentSendError, SendError, TransientSendError
from hub.policy import backoff_ms, opts_out_contact

#: WhatsApp's customer-service window: free-form bodies are allowed this long after the contact last wrote.
SESSION_WINDOW = timedelta(hours=24)
#: Twilio's code for "outside the 24 h window"; recorded when we refuse before calling Twilio.
OUTSIDE_WINDOW_CODE = 63016
OUTSIDE_WINDOW_REASON = "outside the 24 h session window: free-form body refused, send an approved template instead"


def outside_session_window(
    *, content_sid: str | None, last_inbound_at: datetime | None, now: datetime, enforce: bool
) -> bool:
    """True when a free-form body must not go to this contact (pure).

    Only a contact *known* to be outside the window is refused: with no inbound on record we cannot tell
    (the contact may have written before the hub existed), so Twilio decides.

    Args:
        content_sid: the message's approved template, if any (templates are always allowed).
        last_inbound_at: when the contact last wrote to us (UTC), if ever recorded.
        now: current time (UTC).
        enforce: ``session_window.enforce``.
    """
    if not enforce or content_sid or last_inbound_at is None:
        return False
    return now - last_inbound_at > SESSION_WINDOW


def business_initiated(*, last_inbound_at: datetime | None, now: datetime) -> bool:
    """True when a message counts towards the daily tier budget (pure).

    Meta counts unique users reached *outside* an open customer-service window (``../shared/TWILIO.md`` §7.4),
    template or not; a contact with no inbound on record is taken as outside (the safe side of the limit).

    Args:
        last_inbound_at: when the contact last wrote to us (UTC), if ever recorded.
        now: current time (UTC).
    """
    return last_inbound_at is None or now - last_inbound_at > SESSION_WINDOW


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
