"""The dry run's engine: a campaign's audience rendered and checked exactly as the send would, line by line."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from hub.audience import AudienceProblem, ContactPages, Recipient, iter_audience
from hub.campaigns.files import display_path
from hub.campaigns.spec import CampaignSpec
from hub.cli.ledger_checks import CHUNK, Attributes, Ledger, contact_reader
from hub.config import Settings
from hub.contacts import with_contact, zone_of
from hub.errors import InvalidPhoneError, RenderError
from hub.phones import normalize_phone
from hub.rendering import CompiledMessage, compile_message, render_message
from hub.sendable import contact_refusal
from hub.status import MessageStatus
from hub.templates.guard import text_refusal

__all__ = ["HeldLine", "Outcome", "RenderLine", "dry_run"]


class RenderLine(msgspec.Struct, omit_defaults=False):
    """One line of ``hub render --json`` (SPEC §6)."""

    to: str
    status: Literal["ok", "rejected", "skipped"]
    body: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    media_url: list[str] = []
    error: str | None = None


class HeldLine(RenderLine, kw_only=True):
    """A line whose message the campaign's send window holds: ``send_at`` (UTC) is when it would go."""

    send_at: datetime


#: What happened to one recipient; a render error is sent as ``rejected`` but counted apart, and so is a message
#: the send would fail before calling Twilio (a free-form body outside the contact's 24 h window).
Outcome = Literal["ok", "rejected", "skipped", "render_error", "refused"]


def dry_run(
    spec: CampaignSpec,
    settings: Settings,
    *,
    to: str | None,
    limit: int | None,
    ledger: Ledger | None = None,
    now: datetime | None = None,
    template_texts: Mapping[str, str] | None = None,
) -> Iterator[tuple[Outcome, RenderLine]]:
    """Render a campaign's audience, one line per recipient, through the same renderer and checks as a real send.

    Args:
        spec: the campaign.
        settings: the project settings.
        to: only the recipient with this E.164 number (already normalised), or None for all.
        limit: stop after this many recipients, or None.
        ledger: when given, each rendered recipient also meets the send path's contact checks (opted out:
            skipped; a body outside the 24 h window: refused), looked up a chunk at a time, and a message that
            reads ``contact`` gets the contact's attributes (without a ledger: an empty contact).
        now: the instant the checks and the send window are evaluated for (default: now).
        template_texts: each content template's text by sid, where known: a recipient whose variables make it
            longer than 1,024 characters is refused as the send would refuse it (63021).

    Raises:
        CampaignError: a template does not compile.
    """
    at = now or datetime.now(UTC)
    from hub.window import held_until

    send_at = held_until(spec, settings.timezone, at)
    read = ledger.attributes if ledger is not None else None
    lines = _rendered(spec, settings, to=to, limit=limit, send_at=send_at, texts=template_texts or {}, read=read)
    if ledger is None:
        return lines
    return _contact_checked(lines, ledger, spec.one_message().content_sid, settings.session_window.enforce, at)


def _contact_checked(
    lines: Iterator[tuple[Outcome, RenderLine]], ledger: Ledger, content_sid: str | None, enforce: bool, now: datetime
) -> Iterator[tuple[Outcome, RenderLine]]:
    while chunk := list(itertools.islice(lines, CHUNK)):
        phones = [line.to for outcome, line in chunk if outcome == "ok"]
        contacts = ledger.contacts(phones) if phones else {}
        for outcome, line in chunk:
            refusal = None
            if outcome == "ok":
                refusal = contact_refusal(
                    contacts.get(line.to), content_sid=content_sid, now=now, enforce_window=enforce
                )
            if refusal is None:
                yield outcome, line
                continue
            if refusal.status == MessageStatus.SKIPPED:  # opted out: skipped, as the send would
                yield "skipped", RenderLine(to=line.to, status="skipped", error=refusal.text)
            else:  # the send would fail it before calling Twilio
                yield "refused", RenderLine(to=line.to, status="rejected", error=refusal.text)


def _rendered(
    spec: CampaignSpec,
    settings: Settings,
    *,
    to: str | None,
    limit: int | None,
    send_at: Callable[..., datetime | None],
    texts: Mapping[str, str],
    read: Attributes | None,
) -> Iterator[tuple[Outcome, RenderLine]]:
    compiled = compile_message(spec.one_message(), settings, name=spec.name, source=display_path(spec.source, settings))
    picked = _picked(spec, settings, to=to, limit=limit, pages=_pages(read))
    if "contact" in compiled.names:
        picked = _with_contacts(picked, read or contact_reader(None, None))
    elif read is not None and spec.schedule is not None and spec.schedule.send_window is not None:
        picked = _with_contacts(picked, read)  # a contact's timezone places its send window
    for item in picked:
        if isinstance(item, AudienceProblem):
            yield item.status, RenderLine(to=item.raw, status=item.status, error=f"{item.source}: {item.reason}")
        else:
            yield _render(compiled, item, send_at, texts)


def _with_contacts(
    items: Iterator[Recipient | AudienceProblem], read: Attributes
) -> Iterator[Recipient | AudienceProblem]:
    """Recipients with ``contact`` (their contacts' attributes, read a chunk at a time), as the fan-out renders them."""
    while chunk := list(itertools.islice(items, CHUNK)):
        found = read([item.phone for item in chunk if isinstance(item, Recipient)])
        for item in chunk:
            if isinstance(item, Recipient):
                item = msgspec.structs.replace(item, vars=with_contact(item.vars, found.get(item.phone)))
            yield item


def _pages(read: Attributes | None) -> ContactPages | None:
    """Stored contacts for a ``contacts`` audience: from the ledger when the dry run reads it."""
    if read is None:
        return None
    from hub.store import queries

    return queries.contact_pages


def _picked(
    spec: CampaignSpec, settings: Settings, *, to: str | None, limit: int | None, pages: ContactPages | None
) -> Iterator[Recipient | AudienceProblem]:
    """The audience entries the dry run shows: those numbered ``to`` (or all), up to ``limit``."""
    count = 0
    for item in iter_audience(spec, settings, pages):
        if limit is not None and count >= limit:
            return
        if isinstance(item, AudienceProblem):
            if to is not None and _normalized(item.raw, settings) != to:
                continue
        elif to is not None and item.phone != to:
            continue
        count += 1
        yield item


def _render(
    compiled: CompiledMessage,
    recipient: Recipient,
    send_at: Callable[..., datetime | None],
    texts: Mapping[str, str],
) -> tuple[Outcome, RenderLine]:
    try:
        message = render_message(compiled, recipient)
    except RenderError as exc:
        return "render_error", RenderLine(to=recipient.phone, status="rejected", error=str(exc))
    too_long = text_refusal(texts.get(message.content_sid or ""), message.content_variables)
    if too_long is not None:  # the send fails it before calling Twilio (63021)
        return "refused", RenderLine(to=message.to, status="rejected", error=too_long)
    fields: dict[str, Any] = {
        "to": message.to,
        "status": "ok",
        "body": message.body,
        "content_sid": message.content_sid,
        "content_variables": message.content_variables,
        "media_url": message.media_url,
    }
    held_until = send_at(message.to, zone_of(recipient.vars))
    if held_until is None:
        return "ok", RenderLine(**fields)
    return "ok", HeldLine(**fields, send_at=held_until)


def _normalized(raw: str, settings: Settings) -> str | None:
    try:
        return normalize_phone(raw, settings.phones.default_region)
    except InvalidPhoneError:
        return None
