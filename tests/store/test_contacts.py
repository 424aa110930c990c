"""Contacts, inbound messages and idempotency keys on both engines."""

from __future__ import annotations

import pytest
from helpers_store import at

from hub.config import Settings
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
