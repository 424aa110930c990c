"""Contacts (attributes, tags, opt-out, 24 h window) and inbound messages."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from hub.store import sql
from hub.store.db import run_sync, transaction
from hub.store.records import ContactChange, ContactProfile, ContactRecord, InboundRecord
from hub.store.rows import chunks, utc, when
from hub.store.tables import Contact, InboundMessage

if TYPE_CHECKING:
    from hub.campaigns.spec import ContactsSource
    from hub.contact_import import ImportRow

#: Phones per lookup.
_LOOKUP_CHUNK = 1000
_SQL = sql.statements("contacts")
_GET_CONTACTS = _SQL["get_contacts"]


def _contact(row: dict[str, Any]) -> ContactRecord:
    return ContactRecord(
        phone=row["phone"],
        opted_out_at=utc(row["opted_out_at"]),
        opt_out_source=row["opt_out_source"],
        last_inbound_at=utc(row["last_inbound_at"]),
        updated_at=when(row["updated_at"]),
    )


async def get_contact(phone: str) -> ContactRecord | None:
    """What we know about ``phone`` (E.164), or None."""
    rows = await sql.fetch(_GET_CONTACTS, {"phones": [phone]})
    return _contact(rows[0]) if rows else None


async def get_contacts(phones: Iterable[str]) -> dict[str, ContactRecord]:
    """What we know about each of ``phones`` (E.164), by phone; phones we know nothing about are absent."""
    wanted = sorted(set(phones))
    found: dict[str, ContactRecord] = {}
    for chunk in chunks(wanted, _LOOKUP_CHUNK):
        rows = await sql.fetch(_GET_CONTACTS, {"phones": list(chunk)})
        found.update((row["phone"], _contact(row)) for row in rows)
    return found


def _profile(row: dict[str, Any]) -> ContactProfile:
    return ContactProfile(
        id=row["id"],
        phone=row["phone"],
        attributes=json.loads(row["attributes"]),
        tags=list(row["tags"] or ()),
        opted_out_at=utc(row["opted_out_at"]),
        opt_out_source=row["opt_out_source"],
        last_inbound_at=utc(row["last_inbound_at"]),
        updated_at=when(row["updated_at"]),
    )


async def contact_attributes(phones: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The attributes of each of ``phones`` that has any, by phone (one statement per thousand phones)."""
    wanted = sorted(set(phones))
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(wanted, _LOOKUP_CHUNK):
        rows = await sql.fetch(_SQL["contact_attributes"], {"phones": list(chunk)})
        found.update((row["phone"], msgspec.json.decode(row["attributes"])) for row in rows)
    return found


async def read_contact(phone: str) -> ContactProfile | None:
    """The contact of ``phone`` (E.164) with its attributes and tags, or None."""
    rows = await sql.fetch(_SQL["read_contacts"], {"phones": [phone]})
    return _profile(rows[0]) if rows else None


async def list_contacts(
    *, tag: str | None = None, opted_out: bool | None = None, after_id: int = 0, limit: int = 100
) -> list[ContactProfile]:
    """Contacts in id order after ``after_id``: those with ``tag`` (None: any), opted out or not (None: both)."""
    values = {"tag": tag, "opted_out": opted_out, "after_id": after_id, "limit": limit}
    return [_profile(row) for row in await sql.fetch(_SQL["list_contacts"], values)]


async def change_contact(
    phone: str, change: ContactChange, *, create: bool = True, at: datetime | None = None
) -> ContactProfile | None:
    """Apply ``change`` to the attributes and tags of ``phone``'s contact (created first when ``create``).

    Returns:
        The contact as it now is; None when it does not exist and ``create`` is false.
    """
    now = when(at)
    values = {
        "phone": phone,
        "replace": change.replace,
        "attributes": json.dumps(change.attributes),
        "drop_attributes": list(change.drop),
        "tags": change.tags,
        "add_tags": list(change.add_tags),
        "remove_tags": list(change.remove_tags),
        "now": now,
    }
    async with transaction():
        if create:
            await sql.fetch(_SQL["ensure_contact"], {"phone": phone, "now": now})
        rows = await sql.fetch(_SQL["change_contact"], values)
    return _profile(rows[0]) if rows else None


async def audience_contacts(
    tags: Sequence[str], attributes: dict[str, Any], *, after_id: int, limit: int
) -> list[tuple[int, str]]:
    """A page of ``(id, phone)`` of the contacts with every one of ``tags`` and these ``attributes``, by id."""
    values = {"tags": list(tags), "attributes": json.dumps(attributes), "after_id": after_id, "limit": limit}
    return [(row["id"], row["phone"]) for row in await sql.fetch(_SQL["audience_contacts"], values)]


def contact_pages(source: ContactsSource, after_id: int, limit: int) -> list[tuple[int, str]]:
    """:func:`audience_contacts` for sync callers (fan-out, entering a journey, a dry run): ``ContactPages``."""
    return run_sync(audience_contacts(source.tags, source.attributes, after_id=after_id, limit=limit))


async def import_contacts(rows: Sequence[ImportRow], *, at: datetime | None = None) -> int:
    """Create or update a batch of contacts (one row per phone): attributes merged, tags added; one statement.

    Returns:
        How many contacts it wrote.
    """
    values = {
        "phones": [row.phone for row in rows],
        "attributes": [json.dumps(row.attributes) for row in rows],
        "tags": [";".join(row.tags) for row in rows],
        "now": when(at),
    }
    found = await sql.fetch(_SQL["import_contacts"], values)
    return int(found[0]["imported"])


async def _upsert(phone: str, values: dict[Any, Any]) -> ContactRecord:
    row = Contact(phone=phone, **{column._meta.name: value for column, value in values.items()})
    rows = (
        await Contact.insert(row)
        .on_conflict(target=Contact.phone, action="DO UPDATE", values=list(values))
        .returning(*Contact.all_columns())
    )
    return _contact(rows[0])


async def set_opt_out(phone: str, source: str, at: datetime | None = None) -> ContactRecord:
    """Opt ``phone`` out (``source``: ``keyword``, ``twilio``, ``api``...). Later sends to it are skipped."""
    at = when(at)
    return await _upsert(phone, {Contact.opted_out_at: at, Contact.opt_out_source: source, Contact.updated_at: at})


async def set_opt_in(phone: str, at: datetime | None = None) -> ContactRecord:
    """Clear an opt-out of ``phone``."""
    return await _upsert(
        phone, {Contact.opted_out_at: None, Contact.opt_out_source: None, Contact.updated_at: when(at)}
    )


async def opted_out(phones: Iterable[str]) -> set[str]:
    """The subset of ``phones`` that opted out."""
    wanted = sorted(set(phones))
    found: set[str] = set()
    for chunk in chunks(wanted, _LOOKUP_CHUNK):
        rows = await Contact.select(Contact.phone).where(
            Contact.phone.is_in(list(chunk)) & Contact.opted_out_at.is_not_null()
        )
        found.update(row["phone"] for row in rows)
    return found


async def record_inbound(message: InboundRecord) -> bool:
    """Store an inbound message and open the sender's 24 h window (``last_inbound_at``).

    Returns:
        False when this sid was already stored (a redelivered webhook); the window is still updated.
    """
    received = when(message.received_at)
    rows = (
        await InboundMessage.insert(
            InboundMessage(
                sid=message.sid,
                from_phone=message.from_phone,
                to=message.to,
                body=message.body,
                payload=dict(message.payload),
                received_at=received,
            )
        )
        .on_conflict(target=InboundMessage.sid, action="DO NOTHING")
        .returning(InboundMessage.id)
    )
    current = await get_contact(message.from_phone)
    if current is None or current.last_inbound_at is None or current.last_inbound_at < received:
        await _upsert(message.from_phone, {Contact.last_inbound_at: received, Contact.updated_at: received})
    return bool(rows)
