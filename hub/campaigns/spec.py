"""Typed shape of a campaign file (SPEC §5). Validation beyond types lives in the loader."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from hub.campaigns.journey import Journey
from hub.campaigns.message import MessageSpec
from hub.errors import CampaignError


class _Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class InlineRecipient(msgspec.Struct, frozen=True):
    """One inline audience entry: ``phone`` plus any variables."""

    phone: str
    vars: dict[str, Any] = {}


class ContactsSource(_Strict, frozen=True):
    """Stored contacts as an audience: those with every one of ``tags`` and these ``attributes`` (SPEC §13)."""

    tags: list[str] = []
    attributes: dict[str, Any] = {}


class AudienceSpec(_Strict, frozen=True):
    """Where recipients come from; sources are merged and de-duplicated by phone."""

    recipients: list[dict[str, Any]] = []  # each has `phone` and other fields (variables)
    csv: str | None = None  # path relative to the project root; header row with a `phone` column
    contacts: ContactsSource | None = None  # stored contacts by tags and attributes, in the order first known


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
    message: MessageSpec | None  # None for a journey: its send steps say what they send
    description: str = ""
    enabled: bool = True
    audience: AudienceSpec = AudienceSpec()
    schedule: Schedule | None = None
    rate_limit: RateLimit | None = None
    expires_after: timedelta | None = None  # from "12h", "30m", "2d"
    valid_until: datetime | None = None
    journey: Journey | None = None  # the steps, entry and exit_when of a multi-step campaign (SPEC §10)

    def one_message(self) -> MessageSpec:
        """The message of a one-message campaign.

        Raises:
            CampaignError: the campaign is a journey, whose runs go through its steps instead.
        """
        if self.message is None:
            raise CampaignError(
                str(self.source), "steps", f"{self.name} is a journey; its send steps hold its messages"
            )
        return self.message

    def messages(self) -> list[tuple[str, MessageSpec]]:
        """Every message the campaign may send, each with the field that holds it (``""`` for the top level)."""
        if self.journey is None:
            return [("", self.message)] if self.message is not None else []
        return [(f"steps[{step.index}].send", step.send) for step in self.journey.steps if step.send is not None]
