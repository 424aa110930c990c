"""``POST /v1/render``: a dry run over HTTP, through the same compile/render path as real sends."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency

from hub.api.campaigns import lookup_campaign
from hub.api.errors import Unprocessable
from hub.api.openapi import error_responses
from hub.api.plan import API_NAME, ApiRecipient, RawRecipient, contacts_for, raw_recipients, spec_of
from hub.api.schemas import RENDER_EXAMPLES, RenderItem, RenderRequest, RenderResult, json_body
from hub.api.templates import ensure_sendable
from hub.campaigns.spec import CampaignSpec, MessageSpec
from hub.config import Settings
from hub.contacts import contact_zone, with_contact
from hub.errors import CampaignError, InvalidPhoneError, RenderError
from hub.phones import normalize_phone
from hub.rendering import CompiledMessage, compile_message, render_message
from hub.sendable import contact_refusal
from hub.status import MessageStatus
from hub.store import queries
from hub.templates.guard import text_refusal

__all__ = ["MAX_RENDER_LIMIT", "RenderController", "campaign_preview", "dry_run"]

#: Most recipients one dry-run request renders (the CLI is the tool for whole audiences).
MAX_RENDER_LIMIT = 1000


def dry_run(
    compiled: CompiledMessage,
    recipients: Iterable[RawRecipient],
    settings: Settings,
    contacts: Mapping[str, dict[str, Any]] | None = None,
) -> list[RenderItem]:
    """Render each recipient as it would be sent, reporting failures per recipient instead of raising (pure).

    Args:
        contacts: the recipients' contact attributes by phone, for a message that reads ``contact`` (None: it
            does not, and ``contact`` is not set).

    Returns:
        One item per recipient, in order: ``ok`` with the message, or ``rejected`` with the reason.
    """
    items: list[RenderItem] = []
    for raw in recipients:
        try:
            phone = normalize_phone(raw.to, settings.phones.default_region)
        except InvalidPhoneError as exc:
            items.append(RenderItem(to=raw.to, status="rejected", error=f"invalid phone number: {exc}"))
            continue
        variables = raw.vars if contacts is None else with_contact(raw.vars, contacts.get(phone))
        try:
            message = render_message(compiled, ApiRecipient(phone=phone, vars=variables, source=raw.field))
        except RenderError as exc:
            items.append(RenderItem(to=phone, status="rejected", error=str(exc)))
            continue
        items.append(
            RenderItem(
                to=phone,
                status="ok",
                body=message.body,
                content_sid=message.content_sid,
                content_variables=message.content_variables,
                media_url=list(message.media_url),
            )
        )
    return items


def _compile(spec: MessageSpec, settings: Settings, name: str, source: str) -> CompiledMessage:
    try:
        return compile_message(spec, settings, name=name, source=source)
    except CampaignError as exc:
        raise Unprocessable(exc.message, field=exc.field or "body") from None


async def _campaign_items(spec: CampaignSpec, data: RenderRequest, settings: Settings) -> list[RenderItem]:
    """Dry-run the first ``limit`` audience entries of a repository campaign (or only the one numbered ``to``)."""
    from hub.audience import AudienceProblem, iter_audience

    compiled = _compile(spec.one_message(), settings, spec.name, str(spec.source))
    wanted = None
    if data.to:
        try:
            wanted = normalize_phone(data.to, settings.phones.default_region)
        except InvalidPhoneError as exc:
            raise Unprocessable(f"invalid phone number: {exc}", field="to") from None
    picked: list[RenderItem | RawRecipient] = []
    for entry in iter_audience(spec, settings):
        if isinstance(entry, AudienceProblem):
            if wanted is None:
                picked.append(RenderItem(to=entry.raw, status=entry.status, error=f"{entry.source}: {entry.reason}"))
        elif wanted is None or entry.phone == wanted:
            picked.append(RawRecipient(entry.phone, dict(entry.vars), entry.source))
        if len(picked) >= data.limit:
            break
    raws = [item for item in picked if isinstance(item, RawRecipient)]
    contacts = await contacts_for(compiled, (raw.to for raw in raws), settings)
    rendered = iter(dry_run(compiled, raws, settings, contacts))
    return [next(rendered) if isinstance(item, RawRecipient) else item for item in picked]


async def _ad_hoc_items(data: RenderRequest, settings: Settings) -> list[RenderItem]:
    spec = spec_of(data, body=data.body, variables=data.vars)
    numbers = list(data.phone_numbers or ())
    if data.to:
        numbers.append(data.to)
    recipients = raw_recipients(data.recipients, numbers)[: data.limit]
    compiled = _compile(spec, settings, API_NAME, "request")
    contacts = await contacts_for(compiled, (raw.to for raw in recipients), settings)
    return dry_run(compiled, recipients, settings, contacts)


async def _checked(
    items: Sequence[RenderItem], content_sid: str | None, settings: Settings, template_body: str | None = None
) -> list[RenderItem]:
    """The send path's checks on each rendered item (one contacts read): opted out is skipped, a free-form body
    outside the contact's 24 h window is rejected, and so is a template whose text with the item's variables would
    pass 1,024 characters (63021), as the send would record them."""
    now = datetime.now(UTC)
    contacts = await queries.get_contacts([item.to for item in items if item.status == "ok"])
    out: list[RenderItem] = []
    for item in items:
        refusal = None
        if item.status == "ok":
            enforce = settings.session_window.enforce
            refusal = contact_refusal(contacts.get(item.to), content_sid=content_sid, now=now, enforce_window=enforce)
        if refusal is not None:
            status = "skipped" if refusal.status == MessageStatus.SKIPPED else "rejected"
            item = RenderItem(to=item.to, status=status, error=refusal.text)
        elif item.status == "ok" and (too_long := text_refusal(template_body, item.content_variables)) is not None:
            item = RenderItem(to=item.to, status="rejected", error=too_long)
        out.append(item)
    return out


async def _held(items: list[RenderItem], spec: CampaignSpec, settings: Settings) -> list[RenderItem]:
    """When the campaign's send window lets each rendered message go (``send_at``; None: now), in each recipient's
    zone (its contact's ``timezone`` attribute wins over the number's: one read)."""
    from hub.window import held_until

    if spec.schedule is None or spec.schedule.send_window is None:
        return items
    until = held_until(spec, settings.timezone, datetime.now(UTC))
    found = await queries.contact_attributes([item.to for item in items if item.status == "ok"])
    out = []
    for item in items:
        due = until(item.to, contact_zone(found.get(item.to))) if item.status == "ok" else None
        out.append(msgspec.structs.replace(item, send_at=due) if due is not None else item)
    return out


async def campaign_preview(settings: Settings, name: str, limit: int) -> list[RenderItem]:
    """The first ``limit`` messages of a repository campaign as ``POST /v1/render`` would show them."""
    spec = lookup_campaign(settings, name)
    items = await _campaign_items(spec, RenderRequest(campaign=name, limit=limit), settings)
    return await _checked(await _held(items, spec, settings), spec.one_message().content_sid, settings)


class RenderController(Controller):
    """Dry runs: nothing is stored, nothing is sent."""

    path = "/render"
    tags = ["render"]

    @post(
        "/",
        operation_id="render",
        summary="Dry-run a campaign or an ad-hoc message",
        status_code=200,
        responses=error_responses(404),
    )
    async def render(
        self, data: Annotated[RenderRequest, json_body(*RENDER_EXAMPLES)], settings: NamedDependency[Settings]
    ) -> RenderResult:
        if not 1 <= data.limit <= MAX_RENDER_LIMIT:
            raise Unprocessable(f"limit must be between 1 and {MAX_RENDER_LIMIT}", field="limit")
        if data.campaign:
            spec = lookup_campaign(settings, data.campaign)
            content_sid = spec.one_message().content_sid
            template = await ensure_sendable(content_sid, settings)  # 409, as the send answers for a blocked one
            items = await _held(await _campaign_items(spec, data, settings), spec, settings)
        else:
            content_sid = data.content_sid
            template = await ensure_sendable(content_sid, settings)
            items = await _ad_hoc_items(data, settings)
        items = await _checked(items, content_sid, settings, template.body if template is not None else None)
        rendered = sum(1 for item in items if item.status == "ok")
        rejected = sum(1 for item in items if item.status == "rejected")
        skipped = len(items) - rendered - rejected
        return RenderResult(items=items, rendered=rendered, rejected=rejected, skipped=skipped)
