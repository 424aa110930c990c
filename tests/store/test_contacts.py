"""Contacts, inbound messages and idempotency keys on both engines."""

from __future__ import annotations

import pytest
from helpers_store import at

from hub import contacts
from hub.config import Settings
from hub.contact_import import ImportRow
from hub.store import queries as q

pytestmark = pytest.mark.anyio

PHONE = "+14155550100"


def inbound(sid: str = "SMin", seconds: float = 0) -> q.InboundRecord:
    return q.InboundRecord(sid=sid, from_phone=PHONE, to="whatsapp:+14155238886", body="hello", received_at=at(seconds))


async def test_unknown_contact_is_none(db_settings: Settings) -> None:
    assert await q.get_contact(PHONE) is None


async def test_opt_out_then_opt_in(db_settings: Settings) -> None:
    out = await q.set_opt_out(PHONE, "keyword", at(1))
    assert (out.opted_out, out.opt_out_source) == (True, "keyword")
    assert await q.opted_out([PHONE, "+14155550101"]) == {PHONE}

    back = await q.set_opt_in(PHONE, at(2))
    assert not back.opted_out
    assert await q.opted_out([PHONE]) == set()


async def test_inbound_is_stored_once_and_opens_window(db_settings: Settings) -> None:
    first = await q.record_inbound(inbound(seconds=5))
    again = await q.record_inbound(inbound(seconds=5))

    contact = await q.get_contact(PHONE)
    assert (first, again) == (True, False)
    assert contact is not None and contact.last_inbound_at == at(5)


async def test_older_inbound_does_not_move_window_back(db_settings: Settings) -> None:
    await q.record_inbound(inbound("SMnew", seconds=10))
    await q.record_inbound(inbound("SMold", seconds=5))

    contact = await q.get_contact(PHONE)
    assert contact is not None and contact.last_inbound_at == at(10)


async def test_inbound_keeps_opt_out(db_settings: Settings) -> None:
    await q.set_opt_out(PHONE, "keyword", at(1))

    await q.record_inbound(inbound(seconds=5))

    assert await q.opted_out([PHONE]) == {PHONE}


async def test_missing_idempotency_key_is_none(db_settings: Settings) -> None:
    assert await q.get_idempotent("nope") is None


async def test_a_put_contact_reads_back_with_its_attributes_and_tags(db_settings: Settings) -> None:
    await q.change_contact(PHONE, contacts.replace({"tier": "vip", "visits": 3}, ["b", "a", "a"]), at=at(1))

    found = await q.read_contact(PHONE)

    assert found is not None
    assert (found.attributes, found.tags, found.updated_at) == ({"tier": "vip", "visits": 3}, ["a", "b"], at(1))


async def test_a_patch_merges_attributes_removes_nulls_and_edits_tags(db_settings: Settings) -> None:
    await q.change_contact(PHONE, contacts.replace({"tier": "vip", "city": "Berlin"}, ["a", "b"]))

    found = await q.change_contact(
        PHONE, contacts.patch({"city": None, "visits": 2}, add_tags=["c"], remove_tags=["a"])
    )

    assert found is not None and (found.attributes, found.tags) == ({"tier": "vip", "visits": 2}, ["b", "c"])


async def test_erasing_a_contact_keeps_its_opt_out(db_settings: Settings) -> None:
    await q.change_contact(PHONE, contacts.replace({"tier": "vip"}, ["a"]))
    await q.set_opt_out(PHONE, "api", at(1))

    erased = await q.change_contact(PHONE, contacts.erase(), create=False)

    assert erased is not None and (erased.attributes, erased.tags, erased.opted_out_at) == ({}, [], at(1))


async def test_erasing_an_unknown_contact_creates_nothing(db_settings: Settings) -> None:
    assert await q.change_contact(PHONE, contacts.erase(), create=False) is None
    assert await q.read_contact(PHONE) is None


async def test_contacts_list_by_tag_and_opt_out_in_pages(db_settings: Settings) -> None:
    for i in range(5):
        await q.change_contact(f"+1415555010{i}", contacts.replace({}, ["vip"] if i % 2 == 0 else []))
    await q.set_opt_out("+14155550102", "api")

    vip = await q.list_contacts(tag="vip", limit=2)
    rest = await q.list_contacts(tag="vip", after_id=vip[-1].id, limit=2)
    out = await q.list_contacts(opted_out=True)

    assert [c.phone for c in vip + rest] == ["+14155550100", "+14155550102", "+14155550104"]
    assert [c.phone for c in out] == ["+14155550102"]


async def test_attributes_are_read_for_many_phones_at_once(db_settings: Settings) -> None:
    await q.change_contact(PHONE, contacts.replace({"tier": "vip"}, []))
    await q.change_contact("+14155550101", contacts.replace({}, ["a"]))

    found = await q.contact_attributes([PHONE, "+14155550101", "+14155550102"])

    assert found == {PHONE: {"tier": "vip"}}


async def test_an_import_merges_attributes_adds_tags_and_keeps_the_opt_out(db_settings: Settings) -> None:
    await q.change_contact(PHONE, contacts.replace({"tier": "gold", "city": "Berlin"}, ["a"]))
    await q.set_opt_out(PHONE, "keyword", at(1))

    written = await q.import_contacts(
        [ImportRow(PHONE, {"tier": "vip"}, ["b"]), ImportRow("+14155550101", {"tier": "new"}, [])]
    )

    found = await q.read_contact(PHONE)
    assert written == 2
    assert found is not None and (found.attributes, found.tags, found.opted_out_at) == (
        {"tier": "vip", "city": "Berlin"},
        ["a", "b"],
        at(1),
    )
