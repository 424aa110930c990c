"""Campaign checks against the content templates (``hub check``, ``hub render``): only an approved template is sent,
its content_variables fit its placeholders, and its text with them stays within 1,024 characters (63021).

The rules are the send path's (:mod:`hub.templates.guard`). A template is read from the registry when the
database is there (the embedded server's data folder exists, or a PostgreSQL server answers within a few
seconds; ``hub check`` must not create a database as a side effect); one the registry does not hold as approved
is looked up at Twilio when Twilio is configured (nothing is written). Without either, it is a warning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from hub.campaigns.files import display_path
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.errors import CampaignError
from hub.store.embedded import data_folder
from hub.store.templates import TemplateRecord
from hub.templates.approval import approval_warning
from hub.templates.guard import (
    TemplateNotSendable,
    not_at_twilio,
    refusal_of,
    text_refusal,
    twilio_configured,
    unverified,
    worth_asking,
)
from hub.templates.variables import content_variable_problems

log = logging.getLogger(__name__)

#: Seconds to wait for a database before checking without the registry.
REGISTRY_TIMEOUT_S = 5.0

#: What is known of a template: its record (registry or Twilio), or why it cannot be sent (not at Twilio, or
#: Twilio could not be asked).
Known = TemplateRecord | TemplateNotSendable


def template_findings(
    spec: CampaignSpec, known: Mapping[str, Known], file: str
) -> tuple[list[CampaignError], list[str]]:
    """Errors and warnings for one campaign's templates (pure).

    Args:
        spec: the campaign.
        known: what is known of each template, by content sid (see :func:`known_templates`).
        file: the campaign file as the user would type it.

    Returns:
        ``(errors, warnings)``: a template that is not approved, not at Twilio or could not be verified, and
        variables that do not fit its declared placeholders (count, keys ``"1".."n"``, empty values) are errors;
        a template nobody could be asked about is a warning line ``file: content_sid: warning: ...``.
    """
    errors: list[CampaignError] = []
    warnings: list[str] = []
    for at, message in spec.messages():
        sid = message.content_sid
        if not sid:
            continue
        prefix = f"{at}." if at else ""
        found = known.get(sid)
        if found is None:
            warnings.append(f"{file}: {prefix}content_sid: warning: {approval_warning(None)}")
            continue
        refusal = found if isinstance(found, TemplateNotSendable) else refusal_of(found)
        if refusal is not None:
            errors.append(CampaignError(file, f"{prefix}content_sid", refusal.reason))
        if isinstance(found, TemplateNotSendable):
            continue
        label = f"template {found.friendly_name!r} ({sid})"
        errors.extend(
            CampaignError(file, f"{prefix}content_variables", f"{label}: {problem}")
            for problem in content_variable_problems(found.declared, message.content_variables)
        )
    return errors, warnings


def text_findings(
    spec: CampaignSpec, known: Mapping[str, Known], file: str, rendered: Iterable[tuple[str, Mapping[str, str]]]
) -> list[CampaignError]:
    """The send path's 1,024-character rule (63021) on rendered recipients of a one-message campaign (pure).

    Args:
        spec: the campaign.
        known: see :func:`known_templates`.
        file: the campaign file as the user would type it.
        rendered: ``(field, content_variables)`` per rendered recipient (``audience.recipients[0]``, ...).
    """
    message = spec.message
    found = known.get(message.content_sid) if message is not None and message.content_sid else None
    if not isinstance(found, TemplateRecord):
        return []
    label = f"template {found.friendly_name!r} ({found.content_sid})"
    errors: list[CampaignError] = []
    for field, variables in rendered:
        refusal = text_refusal(found.body, variables)
        if refusal is not None:
            errors.append(CampaignError(file, field, f"{label}: {refusal}"))
    return errors


def known_templates(sids: Iterable[str], settings: Settings) -> dict[str, Known] | None:
    """What the registry and Twilio know of each template: the registry's record when it holds one as approved or
    blocked (rejected, paused, disabled); else Twilio's, when Twilio is configured; else the registry's, if any.

    Nothing is written: a template looked up at Twilio is not registered by a check.

    Returns:
        None when there is nobody to ask (no registry to read, Twilio not configured).
    """
    wanted = sorted(set(sids))
    registry = load_registry(settings) if wanted else {}
    if registry is None and not twilio_configured(settings):
        return None
    registry = registry or {}
    known: dict[str, Known] = {}
    for sid in wanted:
        record = registry.get(sid)
        if worth_asking(record) and twilio_configured(settings):
            known[sid] = ask_twilio(sid, settings)
        elif record is not None:
            known[sid] = record
    return known


def ask_twilio(content_sid: str, settings: Settings) -> Known:
    """The template as Twilio has it now (its text and WhatsApp approval), or why it cannot be sent."""
    import msgspec

    from hub.templates.registry import record_from
    from hub.transport.content import ContentApiError, ContentClient

    client = ContentClient(settings)
    try:
        info = client.fetch(content_sid)
        info = msgspec.structs.replace(info, approval=client.approval(content_sid))
    except ContentApiError as exc:
        return not_at_twilio(content_sid) if exc.http_status == 404 else unverified(content_sid, exc)
    finally:
        client.close()
    return record_from(info, previous=None, now=datetime.now(UTC))


def registry_available(settings: Settings) -> bool:
    """False when reading the registry would have to create a database (no embedded data folder yet)."""
    if settings.database.is_embedded:
        return (data_folder(settings) / "PG_VERSION").is_file()
    return True


def load_registry(settings: Settings) -> dict[str, TemplateRecord] | None:
    """Every registered template by sid, or None when the database is absent, unreachable or not migrated."""
    if not registry_available(settings):
        return None
    from hub.store import db, queries

    async def read() -> list[TemplateRecord]:
        await db.connect(settings)
        return await queries.list_templates()

    try:
        records = db.run_sync(asyncio.wait_for(read(), REGISTRY_TIMEOUT_S))
    except Exception as exc:  # any failure means "check without the registry", never a crash of `hub check`
        log.info("template registry not read (%s); template variables are not checked", type(exc).__name__)
        return None
    return {record.content_sid: record for record in records}


def registry_findings(
    specs: Iterable[CampaignSpec], settings: Settings
) -> tuple[list[CampaignError], list[str], dict[str, Known]]:
    """:func:`template_findings` and :func:`text_findings` (inline recipients) for every campaign that sends a
    template.

    Returns:
        ``(errors, warnings, known)``: ``known`` as :func:`known_templates` found it.
    """
    with_templates = [spec for spec in specs if any(message.content_sid for _, message in spec.messages())]
    if not with_templates:
        return [], [], {}
    sids = (message.content_sid for spec in with_templates for _, message in spec.messages() if message.content_sid)
    known = known_templates(sids, settings)
    if known is None:
        return [], [], {}
    errors: list[CampaignError] = []
    warnings: list[str] = []
    for spec in with_templates:
        file = display_path(spec.source, settings)
        found, noted = template_findings(spec, known, file)
        errors.extend(found)
        warnings.extend(noted)
        errors.extend(text_findings(spec, known, file, _inline_variables(spec, settings, file)))
    return errors, warnings, known


def _inline_variables(spec: CampaignSpec, settings: Settings, file: str) -> list[tuple[str, Mapping[str, str]]]:
    """``(field, content_variables)`` of each inline recipient that renders (render errors are reported apart)."""
    from hub.audience import Recipient
    from hub.errors import HubError
    from hub.phones import normalize_phone
    from hub.rendering import compile_message, render_message

    if spec.message is None or not spec.audience.recipients:
        return []
    try:
        compiled = compile_message(spec.message, settings, name=spec.name, source=file)
    except HubError:
        return []
    out: list[tuple[str, Mapping[str, str]]] = []
    for index, entry in enumerate(spec.audience.recipients):
        field = f"audience.recipients[{index}]"
        try:
            phone = normalize_phone(str(entry.get("phone")), settings.phones.default_region)
            variables = {key: value for key, value in entry.items() if key != "phone"}
            message = render_message(compiled, Recipient(phone, variables, f"{file}:{field}"))
        except HubError:
            continue
        out.append((field, message.content_variables or {}))
    return out


__all__ = [
    "REGISTRY_TIMEOUT_S",
    "Known",
    "ask_twilio",
    "known_templates",
    "load_registry",
    "registry_available",
    "registry_findings",
    "template_findings",
    "text_findings",
]
