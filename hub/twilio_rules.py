"""What Twilio refuses in a WhatsApp create, checked before anything is sent, and the ValidityPeriod (pure).

TWILIO.md §1.2 and §1.4: a ``ContentSid`` is ``HX`` + 32 hex digits; a content template brings its own media (a
``MediaUrl`` beside it is refused); a template's text with its variables substituted must not pass 1,024
characters (63021); ``ValidityPeriod`` is 1 to 36,000 seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
#: Longest WhatsApp template text once its variables are substituted (63021 beyond it).
TEMPLATE_TEXT_MAX = 1024
#: Twilio's code for content WhatsApp refuses (a template's text over :data:`TEMPLATE_TEXT_MAX`).
TEMPLATE_TOO_LONG_CODE = 63021
#: Twilio's largest ``ValidityPeriod``, seconds.
MAX_VALIDITY_S = 36_000
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class Refusal(NamedTuple):
    """Why Twilio would refuse a request: the field to fix and what is wrong."""

    field: str
    message: str


def request_refusal(*, content_sid: str | None, media_url: Sequence[str]) -> Refusal | None:
    """The first thing Twilio would refuse in a message's shape, or None (pure)."""
    if content_sid is None:
        return None
    if not CONTENT_SID.fullmatch(content_sid):
        return Refusal("content_sid", f"expected a Content SID (HX followed by 32 hex digits), found {content_sid!r}")
    if media_url:
        return Refusal(
            "media_url", "not allowed with content_sid: a content template carries its own media (Twilio refuses both)"
        )
    return None


def template_text(body: str, variables: Mapping[str, str] | None) -> str:
    """A template's text with ``{{1}}``... replaced by ``variables`` (a missing one keeps its placeholder)."""
    values = variables or {}
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), body)


def template_too_long(body: str, variables: Mapping[str, str] | None) -> str | None:
    """Why a template with these variables would fail with 63021 (over 1,024 characters), or None."""
    length = len(template_text(body, variables))
    if length <= TEMPLATE_TEXT_MAX:
        return None
    return f"the template's text with its variables is {length} characters; WhatsApp allows {TEMPLATE_TEXT_MAX} (63021)"


def validity_period_s(expires_at: datetime | None, now: datetime) -> int | None:
    """``ValidityPeriod`` for a message of a run that expires at ``expires_at``: the seconds left (rounded up), at
    least 1 and at most 36,000; None without an expiry (Twilio's default applies)."""
    if expires_at is None:
        return None
    left = math.ceil((expires_at - now).total_seconds())
    return max(1, min(MAX_VALIDITY_S, left))


__all__ = [
    "CONTENT_SID",
    "MAX_VALIDITY_S",
    "TEMPLATE_TEXT_MAX",
    "TEMPLATE_TOO_LONG_CODE",
    "Refusal",
    "request_refusal",
    "template_text",
    "template_too_long",
    "validity_period_s",
]
