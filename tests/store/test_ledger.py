"""The ledger write path: insert, claim, submit, retry, final states."""

from __future__ import annotations

import asyncio

import pytest
from helpers_store import T0, at, phones, run_with, submitted

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.status import RunState
from hub.store import queries as q

pytestmark = pytest.mark.anyio


async def test_insert_returns_ids_of_new_pending_rows(db_settings: Settings) -> None:
    run, _ = await q.create_run()
    rows = [q.NewMessage(recipient=p, body="hi") for p in phones(3)]
    rows.append(q.NewMessage(recipient="12", status=S.REJECTED, error_message="invalid number"))

    ids = await q.insert_messages(run.id, rows, now=T0)

    assert len(ids) == 3
    assert await q.run_counts(run.id) == {"pending": 3, "rejected": 1}


async def test_inserted_row_reads_back_field_for_field(db_settings: Settings) -> None:
    run, _ = await q.create_run()
    new = q.NewMessage(
        recipient="+14155550100",
        content_sid="HX123",
        content_variables={"1": "Ada", "2": "ünïcode"},
        media_url=["https://example.com/a.png"],
        step=2,
        send_at=at(90),
        meta={"vars": {"first_name": "Ada"}},
    )

    (message_id,) = await q.insert_messages(run.id, [new], now=T0)

    message = await q.get_message(message_id)
    assert message is not None
    assert (message.run_id, message.recipient, message.step, message.body) == (run.id, "+14155550100", 2, None)
    assert (message.content_sid, message.content_variables) == ("HX123", {"1": "Ada", "2": "ünïcode"})
    assert (message.media_url, message.meta) == (["https://example.com/a.png"], {"vars": {"first_name": "Ada"}})
    assert (message.status, message.attempts, message.sid) == (S.PENDING, 0, None)
    assert (message.send_at, message.created_at, message.updated_at, message.finished_at) == (at(90), T0, T0, None)


async def test_insert_twice_creates_no_second_row(db_settings: Settings) -> None:
    run, first = await run_with(3)

    again = await q.insert_messages(run.id, [q.NewMessage(recipient=p, body="other") for p in phones(3)])

    assert again == []
    assert await q.run_counts(run.id) == {"pending": 3}
    assert len(first) == 3


async def test_same_recipient_in_another_step_is_a_new_row(db_settings: Settings) -> None:
    run, _ = await run_with(1)

    ids = await q.insert_messages(run.id, [q.NewMessage(recipient=phones(1)[0], body="later", step=1)])

    assert len(ids) == 1


async def test_rejected_row_keeps_its_reason_and_is_final(db_settings: Settings) -> None:
    run, _ = await q.create_run()
    await q.insert_messages(run.id, [q.NewMessage(recipient="abc", status=S.REJECTED, error_message="bad number")])

    (message,), _ = await q.list_messages(run_id=run.id)

    assert (message.status, message.error_message) == (S.REJECTED, "bad number")
    assert message.finished_at is not None


async def test_claim_moves_pending_to_sending_once(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)

    first = await q.claim_for_send(message_id, at(1))
    second = await q.claim_for_send(message_id, at(2))

    assert first is not None and (first.status, first.attempts, first.claimed_at) == (S.SENDING, 1, at(1))
    assert second is None


async def test_twenty_concurrent_claims_have_one_winner(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)

    results = await asyncio.gather(*(q.claim_for_send(message_id, at(1)) for _ in range(20)))

    assert sum(r is not None for r in results) == 1


async def test_message_not_due_is_not_claimed(db_settings: Settings) -> None:
    run, _ = await q.create_run()
    (message_id,) = await q.insert_messages(run.id, [q.NewMessage(recipient="+14155550100", send_at=at(60))])

    assert await q.claim_for_send(message_id, at(59)) is None
    assert await q.claim_for_send(message_id, at(60)) is not None


@pytest.mark.parametrize("state", [RunState.PAUSED, RunState.CANCELED])
async def test_held_run_is_not_claimable(db_settings: Settings, state: RunState) -> None:
    run, (message_id,) = await run_with(1)
    await q.set_run_state(run.id, state)

    assert await q.claim_for_send(message_id, at(1)) is None


async def test_resumed_run_is_claimable_again(db_settings: Settings) -> None:
    run, (message_id,) = await run_with(1)
    await q.set_run_state(run.id, RunState.PAUSED)
    await q.set_run_state(run.id, RunState.RUNNING, from_states=[RunState.PAUSED])

    assert await q.claim_for_send(message_id, at(1)) is not None


async def test_expired_run_is_not_claimable(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1, expires_at=at(10))

    assert await q.claim_for_send(message_id, at(11)) is None


async def test_mark_submitted_stores_sid_and_twilio_status(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)
    await q.claim_for_send(message_id, at(1))

    message = await q.mark_submitted(message_id, "SM123", "accepted", now=at(2))

    assert message is not None
    assert (message.status, message.sid, message.sent_at) == (S.ACCEPTED, "SM123", at(2))


async def test_mark_submitted_needs_a_claim(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)

    assert await q.mark_submitted(message_id, "SM123", "queued") is None


async def test_mark_submitted_after_sweeper_gave_up_still_records_sid(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)
    await q.claim_for_send(message_id, at(1))
    await q.stale_sending(at(100), now=at(100))

    message = await q.mark_submitted(message_id, "SM9", "queued", now=at(101))

    assert message is not None and (message.status, message.sid) == (S.QUEUED, "SM9")


async def test_release_for_retry_returns_row_to_pending_after_delay(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)
    await q.claim_for_send(message_id, at(1))

    released = await q.release_for_retry(message_id, next_attempt_at=at(30), error_code=20429, error_message="busy")

    assert released is not None and (released.status, released.error_code) == (S.PENDING, 20429)
    assert await q.claim_for_send(message_id, at(29)) is None
    again = await q.claim_for_send(message_id, at(30))
    assert again is not None and again.attempts == 2


@pytest.mark.parametrize("status", [S.FAILED, S.SKIPPED, S.UNKNOWN, S.REJECTED])
async def test_mark_final_from_sending(db_settings: Settings, status: S) -> None:
    _, (message_id,) = await run_with(1)
    await q.claim_for_send(message_id, at(1))

    message = await q.mark_final(message_id, status, error_code=63016, error_message="outside window", now=at(2))

    assert message is not None and (message.status, message.error_code) == (status, 63016)
    assert (message.finished_at is None) == (status == S.UNKNOWN)


async def test_mark_final_is_compare_and_set(db_settings: Settings) -> None:
    message_id = await submitted()

    assert await q.mark_final(message_id, S.FAILED) is None
    assert (await q.get_message(message_id)).status == S.QUEUED  # type: ignore[union-attr]


async def test_mark_final_from_pending_when_allowed(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)

    message = await q.mark_final(message_id, S.CANCELED, from_states=[S.PENDING], source="api")

    assert message is not None and message.status == S.CANCELED
