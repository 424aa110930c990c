"""What the sweepers use, on both engines: due rows, stuck claims, expiry."""

from __future__ import annotations

import pytest
from helpers_store import T0, at, run_with

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.status import RunState
from hub.store import queries as q

pytestmark = pytest.mark.anyio


async def test_due_ids_are_pending_and_due(db_settings: Settings) -> None:
    run, ids = await run_with(2)
    (later,) = await q.insert_messages(run.id, [q.NewMessage(recipient="+14155559999", send_at=at(100))])
    await q.claim_for_send(ids[0], at(1))

    assert await q.due_message_ids(at(50)) == [ids[1]]
    assert await q.due_message_ids(at(100)) == [ids[1], later]


async def test_due_ids_skip_paused_runs(db_settings: Settings) -> None:
    run, _ = await run_with(2)
    await q.set_run_state(run.id, RunState.PAUSED)

    assert await q.due_message_ids(at(1)) == []


async def test_due_ids_page_with_limit_and_after_id(db_settings: Settings) -> None:
    _, ids = await run_with(5)

    first = await q.due_message_ids(at(1), limit=2)
    rest = await q.due_message_ids(at(1), after_id=first[-1])

    assert first + rest == ids


async def test_due_ids_idle_since_skips_recently_touched_rows(db_settings: Settings) -> None:
    run, ids = await run_with(1)  # created at T0
    (fresh,) = await q.insert_messages(run.id, [q.NewMessage(recipient="+14155559999")], now=at(100))

    assert await q.due_message_ids(at(200), idle_since=at(50)) == ids
    assert fresh not in await q.due_message_ids(at(200), idle_since=at(50))


async def test_stale_sending_becomes_unknown_with_reason(db_settings: Settings) -> None:
    _, ids = await run_with(2)
    await q.claim_for_send(ids[0], at(1))
    await q.claim_for_send(ids[1], at(100))

    marked = await q.stale_sending(at(50), now=at(120))

    assert marked == [ids[0]]
    message = await q.get_message(ids[0], with_history=True)
    assert message is not None and message.status == S.UNKNOWN and message.error_message
    assert [(e.status, e.source) for e in message.history] == [("unknown", "sweeper")]


async def test_unknown_is_never_claimed_again(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)
    await q.claim_for_send(message_id, at(1))
    await q.stale_sending(at(50))

    assert await q.claim_for_send(message_id, at(60)) is None
    assert await q.due_message_ids(at(60)) == []


async def test_expiry_ends_pending_rows_of_expired_runs(db_settings: Settings) -> None:
    run, ids = await run_with(2, expires_at=at(60))
    other, _ = await run_with(1)
    await q.claim_for_send(ids[0], at(1))

    assert await q.expire_messages(at(59)) == 0
    assert await q.expire_messages(at(61)) == 1
    assert await q.run_counts(run.id) == {"sending": 1, "expired": 1}
    assert await q.run_counts(other.id) == {"pending": 1}


async def test_due_ids_since_watermark_are_rows_that_came_due_after_it(db_settings: Settings) -> None:
    run, (immediate,) = await run_with(1)
    old, recent = await q.insert_messages(
        run.id,
        [
            q.NewMessage(recipient="+14155559998", send_at=at(10)),
            q.NewMessage(recipient="+14155559999", send_at=at(40)),
        ],
    )

    assert await q.due_message_ids(at(60), send_at_after=at(30)) == [recent]
    assert await q.due_message_ids(at(60)) == [immediate, old, recent]


async def test_a_runs_owed_rows_are_its_due_ids_above_the_cursor(db_settings: Settings) -> None:
    run, ids = await run_with(6)
    other, _ = await run_with(2)
    (later,) = await q.insert_messages(run.id, [q.NewMessage(recipient="+14155559999", send_at=at(100))], now=T0)
    await q.claim_for_send(ids[2], at(1))
    await q.release_for_retry(ids[3], next_attempt_at=at(80), now=at(1))

    for now in (at(50), at(100)):
        expected = await q.due_message_ids(now, 3, run_id=run.id, after_id=ids[0], idle_since=now)
        assert await q.owed_of_run(run.id, after_id=ids[0], limit=3, now=now) == expected
    assert await q.owed_of_run(run.id, after_id=ids[0], limit=10, now=at(100)) == [
        ids[1],
        ids[3],
        ids[4],
        ids[5],
        later,
    ]
    assert await q.owed_of_run(other.id, after_id=0, limit=0, now=at(100)) == []


async def test_a_held_runs_rows_are_not_owed_now(db_settings: Settings) -> None:
    paused, _ = await run_with(2)
    expired, _ = await run_with(2, expires_at=at(10))
    await q.set_run_state(paused.id, RunState.PAUSED)

    assert await q.owed_of_run(paused.id, after_id=0, limit=10, now=at(1)) == []
    assert await q.owed_of_run(expired.id, after_id=0, limit=10, now=at(20)) == []
    assert len(await q.owed_of_run(expired.id, after_id=0, limit=10, now=at(5))) == 2
