"""What a transport can say about messages it already handed over: the ground truth reconciliation reads."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import msgspec


class RemoteMessage(msgspec.Struct, frozen=True):
    """One message the provider holds for a recipient (Twilio's Message resource, trimmed).

    Attributes:
        sid: the provider's message sid.
        to: recipient in E.164 (no ``whatsapp:`` prefix).
        body: the body the provider stored (for a template, the rendered text; Twilio does not echo ContentSid).
        status: the provider's status word (``queued``, ``delivered``...).
        created_at: when the provider created it (UTC).
        direction: ``outbound-api`` for messages we created.
        error_code: the provider's error code, if any.
        error_message: the provider's text for ``error_code``, if any.
    """

    sid: str
    to: str
    body: str | None
    status: str
    created_at: datetime
    direction: str = "outbound-api"
    error_code: int | None = None
    error_message: str | None = None


@runtime_checkable
class SentLookup(Protocol):
    """A transport that can list what it sent to a number (Twilio, the fake transport)."""

    async def find_sent(self, to: str, since: datetime) -> list[RemoteMessage] | None:
        """Messages to ``to`` (E.164) created at or after ``since`` (UTC).

        Returns:
            Every such message, or None when the answer would not be complete (too many to read, or the
            transport cannot know): callers must then assume nothing.
        """
        ...


def bare_phone(address: str | None) -> str:
    """``whatsapp:+14155550100`` -> ``+14155550100`` (pure); other values are returned stripped."""
    value = (address or "").strip()
    return value.split(":", 1)[1] if ":" in value else value


__all__ = ["RemoteMessage", "SentLookup", "bare_phone"]
