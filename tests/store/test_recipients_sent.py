"""The ledger's recent recipients, which rebuild the tier budget when Redis forgot it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers_store import T0, at, phones, run_with

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.store import queries as q

pytestmark = pytest.mark.anyio


async def test_recipients_handed_to_twilio_or_maybe_handed_count_from_their_last_send(pg_settings: Settings) -> None:
    ada, bob, cy, dee, eve = phones(5)
    _, ids = await run_with(5)
    sent_early, maybe_sent, in_flight, _pending, sent_twice = ids
    # Ada: sent in the window. Bob: unknown (Twilio may have it). Cy: being sent now (checked after its claim).
    # Dee: still pending. Eve: sent twice, the later one counts.
    for message_id in (sent_early, maybe_sent, in_flight, sent_twice):
        assert await q.claim_for_send(message_id, at(10))
    assert await q.mark_submitted(sent_early, "SM1", "queued", now=at(20))
    assert await q.mark_final(maybe_sent, S.UNKNOWN, now=at(30), claimed_at=at(10))
    assert await q.mark_submitted(sent_twice, "SM2", "queued", now=at(40))
    run, _ = await q.create_run(campaign="again")
    (again,) = await q.insert_messages(run.id, [q.NewMessage(recipient=eve, body="hi")], now=T0)
    assert await q.claim_for_send(again, at(50))
    assert await q.mark_submitted(again, "SM3", "queued", now=at(60))
    got = dict(await q.recipients_sent_since(T0))
    assert got == {ada: at(20), bob: at(10), eve: at(60)}
    assert {cy, dee}.isdisjoint(got)


async def test_sends_before_the_window_do_not_count(pg_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)
    assert await q.claim_for_send(message_id, at(1))
    assert await q.mark_submitted(message_id, "SM1", "queued", now=at(2))
    assert await q.recipients_sent_since(at(2) + timedelta(microseconds=1)) == []
    assert await q.recipients_sent_since(at(2)) == [(phones(1)[0], at(2))]
