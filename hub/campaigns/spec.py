"""Typed shape of a campaign file (SPEC §5). Validation beyond types lives in the loader."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec


class _Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class MessageSpec(_Strict, frozen=True):
    """What one message says: exactly one of ``template`` / ``body`` / ``content_sid``.

    Shared by campaign files and API sends, so both render through the same path.
    """

    template: str | None = None  # a file under templates/messages/
    body: str | None = None  # inline Jinja
    content_sid: str | None = None  # an approved WhatsApp template (HX...)
    content_variables: dict[str, str] | None = None  # each value is Jinja
    media_url: list[str] = []  # Jinja allowed
    vars: dict[str, Any] = {}  # campaign-wide variables


class InlineRecipient(msgspec.Struct, frozen=True):
    """One inline audience entry: ``phone`` plus any variables."""

    phone: str
    vars: dict[str, Any] = {}


class AudienceSpec(_Strict, frozen=True):
    """Where recipients come from; sources are merged and de-duplicated by phone."""

    recipients: list[dict[str, Any]] = []  # each has `phone` and other fields (variables)
    csv: str | None = None  # path relative to the project root; header row with a `phone` column


class SendWindow(_Strict, frozen=True):
    """Quiet hours, in the recipient's local time: sends happen between ``start`` and ``end`` (``HH:MM``)."""

    start: str
    end: str


class Schedule(_Strict, frozen=True):
    """When a campaign fires: ``at`` (one-shot) or ``cron`` (5-field, recurring)."""

    at: datetime | None = None
    cron: str | None = None
    timezone: str | None = None  # IANA; defaults to settings.timezone
    send_window: SendWindow | None = None


class RateLimit(_Strict, frozen=True):
    per_second: float


class CampaignSpec(_Strict, frozen=True):
    """One validated campaign file."""

    name: str
    source: Path  # the YAML file it came from
    message: MessageSpec
    description: str = ""
    enabled: bool = True
    audience: AudienceSpec = AudienceSpec()
    schedule: Schedule | None = None
    rate_limit: RateLimit | None = None
    expires_after: timedelta | None = None  # from "12h", "30m", "2d"
    valid_until: datetime | None = None
