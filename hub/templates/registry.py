"""The registry service: create, submit and sync content templates between Twilio's Content API and the store.

Twilio calls run in a worker thread (:class:`~hub.transport.content.ContentClient` is synchronous); every change
is written to the registry table through :mod:`hub.store.queries`. Needs the store connected.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hub.errors import HubError
from hub.store import queries
from hub.store.templates import TemplateRecord
from hub.templates.approval import normalize_status, parse_category
from hub.templates.variables import body_problems, declared_variables

if TYPE_CHECKING:
    from hub.transport.content import Approval, ContentClient, ContentInfo

_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
#: WhatsApp template names: lowercase letters, digits and underscores.
_WHATSAPP_NAME = re.compile(r"^[a-z0-9_]{1,512}$")


class TemplateNotFound(HubError):
    """No template with that sid or friendly name, in the registry or at Twilio."""


class TemplateNameTaken(HubError):
    """A template with this friendly name is registered already: names are unique in the registry."""


class InvalidTemplate(HubError):
    """A template or submission Twilio/WhatsApp would refuse; ``field`` names the request field at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def record_from(info: ContentInfo, *, previous: TemplateRecord | None, now: datetime) -> TemplateRecord:
    """The registry row for a content resource as Twilio returned it (pure).

    The approval in ``info`` wins; without one the previous status and category are kept (a plain fetch says
    nothing about approval), else the template is ``unsubmitted``.
    """
    approval = info.approval
    if approval is not None and approval.status:
        status = normalize_status(approval.status)
        category = approval.category or (previous.category if previous else None)
        reason = approval.rejection_reason
    elif previous is not None:
        status, category, reason = previous.approval_status, previous.category, previous.rejection_reason
    else:
        status, category, reason = normalize_status(None), None, None
    return TemplateRecord(
        friendly_name=info.friendly_name,
        language=info.language,
        content_sid=info.sid,
        body=info.body,
        declared=declared_variables(info.body),
        samples=dict(info.variables),
        category=category,
        approval_status=status,
        rejection_reason=reason,
        last_synced_at=now,
        created_at=previous.created_at if previous else now,
    )


def _now() -> datetime:
    return datetime.now(UTC)


async def create_template(
    client: ContentClient, *, friendly_name: str, language: str, body: str, samples: Mapping[str, str]
) -> TemplateRecord:
    """Check the body and samples, create the content at Twilio, and register it (``unsubmitted``).

    Raises:
        InvalidTemplate: placeholders not ``{{1}}..{{n}}``, or a sample missing (nothing is sent to Twilio).
        ContentApiError: Twilio refused or could not be reached.
    """
    if not friendly_name.strip():
        raise InvalidTemplate("friendly_name must not be empty", field="friendly_name")
    problems = body_problems(body, samples)
    if problems:
        raise InvalidTemplate("; ".join(problems), field="body")
    taken = await queries.templates_named(friendly_name)
    if taken:
        # A name must say which template it means (sends, `hub templates show`); Twilio itself would allow it.
        raise TemplateNameTaken(
            f"a template named {friendly_name!r} exists ({taken[0].content_sid}): pick another name"
        )
    info = await asyncio.to_thread(
        client.create, friendly_name=friendly_name, language=language, body=body, variables=dict(samples)
    )
    return await queries.upsert_template(record_from(info, previous=None, now=_now()))


async def _known(client: ContentClient, sid_or_name: str) -> TemplateRecord:
    """The registry row, or (for a sid Twilio knows but the registry does not) a freshly registered one."""
    record = await queries.get_template(sid_or_name)
    if record is not None:
        return record
    if not _SID.match(sid_or_name):
        raise TemplateNotFound(f"no template named {sid_or_name!r} in the registry (run `hub templates sync`)")
    from hub.transport.content import ContentApiError

    try:
        info = await asyncio.to_thread(client.fetch, sid_or_name)
    except ContentApiError as exc:
        if exc.http_status == 404:
            raise TemplateNotFound(f"no content {sid_or_name} at Twilio") from None
        raise
    return await queries.upsert_template(record_from(info, previous=None, now=_now()))


async def _apply(record: TemplateRecord, approval: Approval | None) -> TemplateRecord:
    status = normalize_status(approval.status if approval else None)
    updated = await queries.set_template_status(
        record.content_sid,
        status,
        rejection_reason=approval.rejection_reason if approval else None,
        category=approval.category if approval else None,
        synced_at=_now(),
    )
    assert updated is not None, "the template was registered just before"
    return updated


async def submit_template(client: ContentClient, sid_or_name: str, *, name: str, category: str) -> TemplateRecord:
    """Submit a template for WhatsApp approval under ``name`` and ``category``.

    Raises:
        InvalidTemplate: ``category`` not MARKETING/UTILITY/AUTHENTICATION, or a name WhatsApp refuses.
        TemplateNotFound: unknown template.
        ContentApiError: Twilio refused or could not be reached.
    """
    try:
        chosen = parse_category(category)
    except ValueError as exc:
        raise InvalidTemplate(str(exc), field="category") from None
    if not _WHATSAPP_NAME.match(name):
        raise InvalidTemplate("name must be lowercase letters, digits and underscores", field="name")
    record = await _known(client, sid_or_name)
    approval = await asyncio.to_thread(client.submit_whatsapp, record.content_sid, name=name, category=chosen.value)
    return await _apply(record, approval)


async def refresh_template(client: ContentClient, sid_or_name: str) -> TemplateRecord:
    """Read the template's approval from Twilio and record it.

    Raises:
        TemplateNotFound: unknown template.
        ContentApiError: Twilio refused or could not be reached.
    """
    record = await _known(client, sid_or_name)
    approval = await asyncio.to_thread(client.approval, record.content_sid)
    return await _apply(record, approval)


async def sync_all(client: ContentClient) -> list[TemplateRecord]:
    """Pull every content resource and its approval (``ContentAndApprovals``) into the registry.

    Returns:
        The registered templates, in Twilio's order.
    """
    infos = await asyncio.to_thread(lambda: list(client.iter_with_approvals()))
    now = _now()
    out: list[TemplateRecord] = []
    for info in infos:
        previous = await queries.get_template(info.sid)
        out.append(await queries.upsert_template(record_from(info, previous=previous, now=now)))
    return out


__all__ = [
    "InvalidTemplate",
    "TemplateNotFound",
    "create_template",
    "record_from",
    "refresh_template",
    "submit_template",
    "sync_all",
]
