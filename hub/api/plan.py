"""Turn a send request into a plan (pure): which recipients get which rendered message, which are rejected and why;
and the one read a plan may need first, the recipients' contact attributes (``contacts_for``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from hub.api.errors import Unprocessable
from hub.api.schemas import MessageFields
from hub.campaigns.spec import MessageSpec
from hub.config import Settings
from hub.contacts import with_contact
from hub.errors import CampaignError, InvalidPhoneError, RenderError
from hub.phones import normalize_phone
from hub.rendering import CompiledMessage, OutboundMessage, compile_message, render_message
from hub.store import queries

__all__ = [
    "MAX_RECIPIENTS",
    "ApiRecipient",
    "Planned",
    "RawRecipient",
    "SendPlan",
    "compile_request",
    "contacts_for",
    "due_time",
    "message_spec",
    "parse_time",
    "plan_send",
    "raw_recipients",
    "spec_of",
]

#: The run/campaign name API sends render with (the ``campaign`` template variable).
API_NAME = "api"


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def parse_time(value: str, field: str) -> datetime:
    """An RFC 3339 time with an offset, in UTC (pure); the only form of a moment the API reads.

    Raises:
        Unprocessable: anything else (no offset, a number, an impossible date), naming ``field``.
    """
    try:
        if not _RFC3339.fullmatch(value):
            raise ValueError(value)
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except ValueError:
        raise Unprocessable(
            f"{field} must be an RFC 3339 time with an offset (e.g. 2026-12-01T09:00:00Z), not {value!r}",
            field=field,
        ) from None


def due_time(send_at: str | None, now: datetime) -> datetime | None:
    """When the rows of a request fall due (pure): None for "now" (absent or past), else ``send_at`` in UTC.

    Raises:
        Unprocessable: ``send_at`` is not an RFC 3339 time with an offset.
    """
    if send_at is None:
        return None
    moment = parse_time(send_at, "send_at")
    return moment if moment > now else None


class RawRecipient(msgspec.Struct, frozen=True):
    """A recipient as the client wrote it: the number unparsed, its variables, and where in the request it was."""

    to: str
    vars: dict[str, Any]
    field: str  # "to", "recipients[3]", "phone_numbers[0]"


class ApiRecipient(msgspec.Struct, frozen=True):
    """A recipient with a valid number, in the shape rendering expects."""

    phone: str
    vars: dict[str, Any]
    source: str


class Planned(msgspec.Struct, frozen=True):
    """One recipient that will be sent to: its message exactly as rendered, and its variables (kept for audit)."""

    message: OutboundMessage
    vars: dict[str, Any]


class SendPlan(msgspec.Struct, frozen=True):
    """What a send request amounts to. ``rejected`` (invalid numbers) and ``skipped`` (a number given twice) hold
    ``(as written, reason)`` in request order."""

    accepted: list[Planned]
    rejected: list[tuple[str, str]]
    skipped: list[tuple[str, str]] = []


def message_spec(
    *,
    body: str | None,
    template: str | None,
    content_sid: str | None,
    content_variables: Mapping[str, str] | None,
    media_url: Sequence[str],
    variables: Mapping[str, Any],
) -> MessageSpec:
    """Build the shared message shape from request fields.

    Raises:
        Unprocessable: not exactly one of body / template / content_sid, or content_variables without content_sid.
    """
    given = [name for name, value in (("body", body), ("template", template), ("content_sid", content_sid)) if value]
    if len(given) != 1:
        found = ", ".join(given) if given else "none"
        raise Unprocessable(f"expected exactly one of body, template, content_sid; found {found}", field="body")
    if content_variables is not None and not content_sid:
        raise Unprocessable("content_variables needs content_sid", field="content_variables")
    return MessageSpec(
        body=body,
        template=template,
        content_sid=content_sid,
        content_variables=dict(content_variables) if content_variables is not None else None,
        media_url=list(media_url),
        vars=dict(variables),
    )


def spec_of(fields: MessageFields, *, body: str | None, variables: Mapping[str, Any]) -> MessageSpec:
    """:func:`message_spec` from a request's message part; ``body`` as the route reads it (``/bulk-send`` also
    takes ``message``), ``variables`` the request-wide ones.

    Raises:
        Unprocessable: as :func:`message_spec`.
    """
    return message_spec(
        body=body,
        template=fields.template,
        content_sid=fields.content_sid,
        content_variables=fields.content_variables,
        media_url=fields.media_url,
        variables=variables,
    )


def _recipient(item: Mapping[str, Any], field: str) -> RawRecipient:
    to = item.get("to", item.get("phone"))
    if not isinstance(to, str) or not to.strip():
        raise Unprocessable("each recipient needs `to` (or `phone`) as a string", field=field)
    nested = item.get("vars", {})
    if not isinstance(nested, dict):
        raise Unprocessable("`vars` must be an object", field=f"{field}.vars")
    flat = {k: v for k, v in item.items() if k not in ("to", "phone", "vars")}
    return RawRecipient(to=to, vars={**flat, **nested}, field=field)


#: Recipients one bulk request may carry (the rest belong in further requests or a campaign's CSV audience).
MAX_RECIPIENTS = 50_000


def raw_recipients(
    recipients: Sequence[Mapping[str, Any]] | None, phone_numbers: Sequence[str] | None
) -> list[RawRecipient]:
    """Read the recipients of a bulk request (``recipients`` then ``phone_numbers``), in request order.

    Raises:
        Unprocessable: none given, more than :data:`MAX_RECIPIENTS`, or a recipient without a number.
    """
    given = len(recipients or ()) + len(phone_numbers or ())
    if given > MAX_RECIPIENTS:
        # One request is planned and written in one transaction; past this it holds the API too long.
        raise Unprocessable(
            f"{given} recipients in one request; at most {MAX_RECIPIENTS}: split the list over several requests "
            "(or commit a campaign with a CSV audience)",
            field="recipients",
        )
    out = [_recipient(item, f"recipients[{i}]") for i, item in enumerate(recipients or ())]
    for i, number in enumerate(phone_numbers or ()):
        if not isinstance(number, str) or not number.strip():
            raise Unprocessable("phone numbers must be non-empty strings", field=f"phone_numbers[{i}]")
        out.append(RawRecipient(to=number, vars={}, field=f"phone_numbers[{i}]"))
    if not out:
        raise Unprocessable("no recipients: give `recipients` or `phone_numbers`", field="recipients")
    return out


def compile_request(spec: MessageSpec, settings: Settings) -> CompiledMessage:
    """A request's message compiled once (raises Unprocessable naming the field)."""
    try:
        return compile_message(spec, settings, name=API_NAME, source="request")
    except CampaignError as exc:
        raise Unprocessable(exc.message, field=exc.field or "body") from None


async def contacts_for(
    compiled: CompiledMessage, phones: Iterable[str], settings: Settings
) -> Mapping[str, dict[str, Any]] | None:
    """The contact attributes of a request's numbers when its message reads ``contact`` (one read), else None."""
    if "contact" not in compiled.names:
        return None
    numbers = []
    for raw in phones:
        try:
            numbers.append(normalize_phone(raw, settings.phones.default_region))
        except InvalidPhoneError:
            continue  # refused with the reason where it is rendered
    return await queries.contact_attributes(numbers)


def plan_send(
    spec: MessageSpec,
    recipients: Sequence[RawRecipient],
    settings: Settings,
    *,
    strict_numbers: bool = False,
    compiled: CompiledMessage | None = None,
    contacts: Mapping[str, dict[str, Any]] | None = None,
) -> SendPlan:
    """Validate, normalise and render every recipient of one request, before anything is stored.

    Args:
        spec: the message.
        recipients: as written in the request.
        settings: for ``phones.default_region`` and the templates folder.
        strict_numbers: raise on an invalid number (a single-message send) instead of rejecting it.
        compiled: the message already compiled (:func:`compile_request`), else compiled here.
        contacts: the recipients' contact attributes (:func:`contacts_for`) when the message reads ``contact``.

    Returns:
        The plan: one rendered message per distinct valid number; invalid numbers and repeats rejected.

    Raises:
        Unprocessable: the message does not compile, or it fails to render for a recipient (the request, not the
            recipient, is what needs fixing), or (``strict_numbers``) a number is invalid.
    """
    compiled = compiled or compile_request(spec, settings)
    region = settings.phones.default_region
    accepted: list[Planned] = []
    rejected: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []  # as a campaign's audience skips a repeated number
    seen: dict[str, str] = {}
    for raw in recipients:
        try:
            phone = normalize_phone(raw.to, region)
        except InvalidPhoneError as exc:
            if strict_numbers:
                raise Unprocessable(f"invalid phone number: {exc}", field=raw.field) from None
            rejected.append((raw.to, f"invalid phone number: {exc}"))
            continue
        if phone in seen:
            skipped.append((raw.to, f"duplicate of {seen[phone]}"))
            continue
        seen[phone] = raw.field
        try:
            variables = raw.vars if contacts is None else with_contact(raw.vars, contacts.get(phone))
            message = render_message(compiled, ApiRecipient(phone=phone, vars=variables, source=raw.field))
        except RenderError as exc:
            raise Unprocessable(str(exc), field=raw.field) from None
        accepted.append(Planned(message=message, vars=raw.vars))
    return SendPlan(accepted=accepted, rejected=rejected, skipped=skipped)
