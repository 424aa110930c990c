"""The content template registry: WhatsApp templates known to the hub and their last synced approval state."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from hub.errors import AmbiguousTemplate
from hub.store.rows import loads, utc, when
from hub.store.tables import ContentTemplate

_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")


class TemplateRecord(msgspec.Struct, kw_only=True, frozen=True):
    """One registry row. Times are UTC.

    Attributes:
        declared: the body's placeholders in order (``["1", "2"]``).
        samples: sample values per placeholder, as submitted to Twilio.
        approval_status: WhatsApp approval status in lowercase (``unsubmitted``, ``received``, ``pending``,
            ``approved``, ``rejected``, ``paused``, ``disabled``; anything else Twilio says is kept as is).
    """

    friendly_name: str
    language: str
    content_sid: str
    body: str
    declared: list[str] = msgspec.field(default_factory=list)
    samples: dict[str, str] = msgspec.field(default_factory=dict)
    category: str | None = None
    approval_status: str = "unsubmitted"
    rejection_reason: str | None = None
    last_synced_at: datetime | None = None
    created_at: datetime | None = None


def _record(row: dict[str, Any]) -> TemplateRecord:
    variables = loads(row.get("variables")) or {}
    created = row.get("created_at")
    synced = row.get("last_synced_at")
    return TemplateRecord(
        friendly_name=row["friendly_name"],
        language=row["language"],
        content_sid=row["content_sid"],
        body=row["body"] or "",
        declared=[str(v) for v in variables.get("declared", [])],
        samples={str(k): str(v) for k, v in (variables.get("samples") or {}).items()},
        category=row["category"],
        approval_status=row["approval_status"],
        rejection_reason=row["rejection_reason"],
        last_synced_at=utc(synced),
        created_at=utc(created),
    )


async def upsert_template(record: TemplateRecord) -> TemplateRecord:
    """Insert the template, or update every field of the row with the same ``content_sid``.

    ``created_at`` of an existing row is kept.
    """
    values: dict[Any, Any] = {
        ContentTemplate.friendly_name: record.friendly_name,
        ContentTemplate.language: record.language,
        ContentTemplate.body: record.body,
        ContentTemplate.variables: {"declared": list(record.declared), "samples": dict(record.samples)},
        ContentTemplate.category: record.category,
        ContentTemplate.approval_status: record.approval_status,
        ContentTemplate.rejection_reason: record.rejection_reason,
        ContentTemplate.last_synced_at: utc(record.last_synced_at),
    }
    row = ContentTemplate(
        content_sid=record.content_sid,
        created_at=when(record.created_at),
        **{column._meta.name: value for column, value in values.items()},
    )
    rows = (
        await ContentTemplate.insert(row)
        .on_conflict(target=ContentTemplate.content_sid, action="DO UPDATE", values=list(values))
        .returning(*ContentTemplate.all_columns())
    )
    return _record(rows[0])


def choose_named(name: str, records: list[TemplateRecord]) -> TemplateRecord | None:
    """The template a friendly name means (pure): the only one, else the one approved.

    Raises:
        AmbiguousTemplate: several share the name and not exactly one of them is approved.
    """
    if len(records) <= 1:
        return records[0] if records else None
    approved = [record for record in records if record.approval_status == "approved"]
    if len(approved) == 1:
        return approved[0]
    sids = ", ".join(record.content_sid for record in records)
    raise AmbiguousTemplate(
        f"{len(records)} templates are named {name!r} ({sids}) and {len(approved)} approved: name one by its sid"
    )


async def templates_named(name: str) -> list[TemplateRecord]:
    """Every registered template with this friendly name, oldest first."""
    rows = await ContentTemplate.select().where(ContentTemplate.friendly_name == name).order_by(ContentTemplate.id)
    return [_record(row) for row in rows]


async def get_template(sid_or_name: str) -> TemplateRecord | None:
    """The template with this content sid (``HX...``), else the one this friendly name means (:func:`choose_named`).

    Raises:
        AmbiguousTemplate: the name is shared and no single one of them is approved.
    """
    if _SID.match(sid_or_name):
        row = await ContentTemplate.select().where(ContentTemplate.content_sid == sid_or_name).first()
        if row is not None:
            return _record(row)
    return choose_named(sid_or_name, await templates_named(sid_or_name))


async def list_templates() -> list[TemplateRecord]:
    """Every registered template, by friendly name."""
    rows = await ContentTemplate.select().order_by(ContentTemplate.friendly_name).order_by(ContentTemplate.id)
    return [_record(row) for row in rows]


async def template_statuses(content_sids: Iterable[str]) -> dict[str, str]:
    """Approval status per known content sid (sids not in the registry are absent)."""
    wanted = sorted(set(content_sids))
    if not wanted:
        return {}
    rows = await ContentTemplate.select(ContentTemplate.content_sid, ContentTemplate.approval_status).where(
        ContentTemplate.content_sid.is_in(wanted)
    )
    return {row["content_sid"]: row["approval_status"] for row in rows}


async def set_template_status(
    content_sid: str,
    status: str,
    *,
    rejection_reason: str | None = None,
    category: str | None = None,
    synced_at: datetime | None = None,
) -> TemplateRecord | None:
    """Record a new approval status (and reason; the category only when given) for a known template.

    Returns:
        The updated row, or None when the sid is not in the registry.
    """
    values: dict[Any, Any] = {
        ContentTemplate.approval_status: status,
        ContentTemplate.rejection_reason: rejection_reason,
        ContentTemplate.last_synced_at: when(synced_at),
    }
    if category is not None:
        values[ContentTemplate.category] = category
    rows = (
        await ContentTemplate.update(values)
        .where(ContentTemplate.content_sid == content_sid)
        .returning(*ContentTemplate.all_columns())
    )
    return _record(rows[0]) if rows else None


__all__ = [
    "TemplateRecord",
    "choose_named",
    "get_template",
    "list_templates",
    "set_template_status",
    "template_statuses",
    "templates_named",
    "upsert_template",
]
