"""What the send path refuses for a contact (pure): opted out, or a free-form body outside the 24 h window.

The send actor and the dry runs (``hub render``, ``POST /v1/render``) decide with these same functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from hub.status import MessageStatus
from hub.store.records import ContactRecord

__all__ = [
    "OPTED_OUT_REASON",
    "OUTSIDE_WINDOW_CODE",
    "OUTSIDE_WINDOW_REASON",
    "SESSION_WINDOW",
    "Refusal",
    "business_initiated",
    "contact_refusal",
    "outside_session_window",
]

#: WhatsApp's customer-service window: free-form bodies are allowed this long after the contact last wrote.
SESSION_WINDOW = timedelta(hours=24)
#: Twilio's code for "outside the 24 h window"; recorded when we refuse before calling Twilio.
OUTSIDE_WINDOW_CODE = 63016
OUTSIDE_WINDOW_REASON = "outside the 24 h session window: free-form body refused, send an approved template instead"
OPTED_OUT_REASON = "contact opted out"


class Refusal(NamedTuple):
    """Why a message must not go to a contact: the final status to record, Twilio's code if any, the reason."""

    status: MessageStatus
    code: int | None
    reason: str

    @property
    def text(self) -> str:
        """The reason as recorded and shown: Twilio's code first when there is one."""
        return f"{self.code}: {self.reason}" if self.code else self.reason


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


def contact_refusal(
    contact: ContactRecord | None, *, content_sid: str | None, now: datetime, enforce_window: bool
) -> Refusal | None:
    """The send path's verdict on a contact before any call to Twilio (pure): skipped when opted out, failed when
    a free-form body would go outside the 24 h window, else None (send).

    Args:
        contact: what the ledger knows of the recipient, or None.
        content_sid: the message's approved template, if any.
        now: current time (UTC).
        enforce_window: ``session_window.enforce``.
    """
    if contact is None:
        return None
    if contact.opted_out:
        return Refusal(MessageStatus.SKIPPED, None, OPTED_OUT_REASON)
    if outside_session_window(
        content_sid=content_sid, last_inbound_at=contact.last_inbound_at, now=now, enforce=enforce_window
    ):
        return Refusal(MessageStatus.FAILED, OUTSIDE_WINDOW_CODE, OUTSIDE_WINDOW_REASON)
    return None
