"""`hub render` of a journey: each recipient's timeline (step, time, message or decision), nothing written or sent."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
import msgspec

from hub.audience import AudienceProblem, ContactPages, Recipient, iter_audience
from hub.campaigns.spec import CampaignSpec, ContactsSource
from hub.campaigns.steps import check_event
from hub.cli.ledger_checks import CHUNK, Attributes, Ledger, contact_reader
from hub.config import Settings
from hub.contacts import contact_zone
from hub.errors import CampaignError
from hub.journeys.timeline import TIMEOUT, TimelineLine, timeline
from hub.journeys.variables import JourneyRenderer, entry_recipient
from hub.phones import timezone_for

__all__ = ["parse_assumptions", "parse_event_data", "render_journey"]

_ASSUMABLE = ("replied", "read", "delivered", "failed")


def parse_assumptions(values: Sequence[str]) -> list[str]:
    """``--assume`` values: replied, read, delivered, failed, timeout, or a custom event type (raises BadParameter)."""
    out = []
    for value in values:
        if value != TIMEOUT:
            try:
                check_event(value, _ASSUMABLE)
            except ValueError as exc:
                raise click.BadParameter(f"{exc}; or timeout", param_hint="--assume") from None
        out.append(value)
    return out


def parse_event_data(text: str | None) -> dict[str, object]:
    """``--event``: the entering event's data, a JSON object (raises BadParameter)."""
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"expected a JSON object, found invalid JSON: {exc}", param_hint="--event") from None
    if not isinstance(data, dict):
        raise click.BadParameter("expected a JSON object such as '{\"cart_id\": 7}'", param_hint="--event")
    return data


def render_journey(
    spec: CampaignSpec,
    settings: Settings,
    *,
    to: str | None,
    limit: int | None,
    as_json: bool,
    assume: Sequence[str],
    event: dict[str, object],
    contacts: Callable[[], tuple[Ledger | None, str | None]] | None = None,
) -> int:
    """Print the timeline of each recipient (``to``, or the audience up to ``limit``); the exit status.

    Args:
        contacts: opens the ledger (``open_ledger``), called only when the journey reads contacts (``contact``, a
            recipient-local time, a ``contacts`` audience); None: no contact is read (an empty one, with a note).

    Returns:
        1 when a message would fail to render or a recipient is unknown, else 0.
    """
    assert spec.journey is not None
    try:
        renderer = JourneyRenderer(spec, settings)
    except CampaignError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    fallback = (spec.schedule.timezone if spec.schedule else None) or settings.timezone
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    failed = False
    shown = 0
    read, pages = None, None
    if renderer.reads_contact or spec.audience.contacts is not None:
        ledger, why_not = contacts() if contacts is not None else (None, None)
        read = contact_reader(ledger, why_not)
        pages = _contact_pages if ledger is not None else None
    for recipient, contact in _with_contacts(_recipients(spec, settings, to, limit, pages), read):
        shown += 1
        zone = contact_zone(contact) or timezone_for(recipient.phone, fallback)
        who = entry_recipient(
            recipient.phone,
            recipient.vars,
            source=recipient.source,
            event=event,
            contact=contact,
            entry_id=None,
            started_at=start,
        )
        lines = timeline(spec.journey, renderer, who, timezone=zone, start=start, assume=assume)
        failed |= any(line.error or line.outcome == "error" for line in lines)
        if as_json:
            _write_json(recipient.phone, lines)
        else:
            _write_human(spec.name, recipient.phone, zone, lines)
    if shown == 0:
        click.echo(
            f"error: {spec.name} has no recipient {to}" if to else f"error: {spec.name} has no audience", err=True
        )
        return 1
    return 1 if failed else 0


def _contact_pages(source: ContactsSource, after_id: int, limit: int) -> list[tuple[int, str]]:
    """The store's ``contact_pages`` (imported when used: a dry run without a ledger never loads the store)."""
    from hub.store import queries

    return queries.contact_pages(source, after_id, limit)


def _with_contacts(
    recipients: Iterator[Recipient], read: Attributes | None
) -> Iterator[tuple[Recipient, dict[str, Any] | None]]:
    """Each recipient with its contact's attributes, read a chunk at a time (None: not read)."""
    while chunk := list(itertools.islice(recipients, CHUNK)):
        found = read([item.phone for item in chunk]) if read is not None else {}
        for item in chunk:
            yield item, found.get(item.phone)


def _recipients(
    spec: CampaignSpec, settings: Settings, to: str | None, limit: int | None, pages: ContactPages | None
) -> Iterator[Recipient]:
    """The audience's recipients (or the one numbered ``to``; an event-entered journey may enter anyone)."""
    count = 0
    for item in iter_audience(spec, settings, pages):
        if isinstance(item, AudienceProblem) or (to is not None and item.phone != to):
            continue
        if limit is not None and count >= limit:
            return
        count += 1
        yield item
    if to is not None and count == 0 and spec.journey is not None and spec.journey.entry.event is not None:
        yield Recipient(phone=to, vars={}, source="--to")


def _write_json(phone: str, lines: list[TimelineLine]) -> None:
    encoder = msgspec.json.Encoder()
    for line in lines:
        sys.stdout.buffer.write(encoder.encode({"to": phone, **msgspec.to_builtins(line)}) + b"\n")
    sys.stdout.flush()


def _write_human(name: str, phone: str, zone: str, lines: list[TimelineLine]) -> None:
    tz = ZoneInfo(zone)
    click.echo(f"{name} for {phone} ({zone})")
    width = max(len(line.step) for line in lines)
    for line in lines:
        when = line.at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        text = line.outcome + (f" -> {line.detail}" if line.detail and line.outcome != "waiting" else "")
        if line.outcome == "waiting" and line.detail:
            text = f"waiting until {datetime.fromisoformat(line.detail).astimezone(tz).strftime('%Y-%m-%d %H:%M %Z')}"
        elif line.outcome == "awaiting":
            text = f"waiting for {line.detail}"
        click.echo(f"  {when}  {line.step.ljust(width)}  {text}")
        if line.message is not None:
            if line.message.body is not None:
                for body_line in line.message.body.split("\n"):
                    click.echo(f"      | {body_line}")
            if line.message.content_sid is not None:
                click.echo(f"      content_sid: {line.message.content_sid}")
                for key, value in (line.message.content_variables or {}).items():
                    click.echo(f"      {{{{{key}}}}}: {value}")
            for url in line.message.media_url:
                click.echo(f"      media: {url}")
        if line.error:
            click.echo(f"      ✗ {line.error}")
    click.echo("")
