"""Replies: a run's row was replied to when its recipient wrote at or after it was sent; the funnel's count and the
message search's ``replied`` filter read the same rule."""

from __future__ import annotations

import pytest
from helpers_store import T0, at, phones

from hub.config import Settings
from hub.store import queries as q
from hub.store.breakdown import replied_count
from hub.store.records import InboundRecord

pytestmark = pytest.mark.anyio


async def sent_run(rows: int, sent: int) -> tuple[int, list[int]]:
    """A run created at T0 with ``rows`` rows to +1415555 0000.., the first ``sent`` of them sent at T0 + 60 s."""
    run, _ = await q.create_run(now=T0)
    ids = await q.insert_messages(run.id, [q.NewMessage(recipient=p, body="hi") for p in phones(rows)], now=T0)
    for n, message_id in enumerate(ids[:sent]):
        assert await q.claim_for_send(message_id, at(59))
        assert await q.mark_submitted(message_id, f"SM{run.id}x{n}", "queued", now=at(60))
    return run.id, ids


async def inbound(phone: str, seconds: float) -> None:
    sid = f"SMin{phone[1:]}x{seconds:g}"
    await q.record_inbound(InboundRecord(sid=sid, from_phone=phone, to="+1", body="hi", received_at=at(seconds)))


async def a_run_with_replies() -> tuple[int, list[int]]:
    """Rows 0-2 sent; a reply from 0 (twice), a message from 1 before its send, one from 4 (never sent)."""
    run_id, ids = await sent_run(5, sent=3)
    await inbound("+14155550000", 120)  # after the send: a reply
    await inbound("+14155550000", 180)  # the same recipient again: still one
    await inbound("+14155550001", 30)  # before the send: not a reply
    await inbound("+14155550004", 120)  # never sent (still pending): not a reply
    await inbound("+14155559999", 120)  # not in this run
    return run_id, ids


async def test_replied_counts_recipients_who_wrote_after_their_message_was_sent(db_settings: Settings) -> None:
    run_id, _ = await a_run_with_replies()
    other, _ = await sent_run(1, sent=0)

    assert await replied_count(run_id) == 1
    assert await replied_count(other) == 0


async def test_the_replied_filter_lists_exactly_the_rows_the_count_counts(db_settings: Settings) -> None:
    run_id, ids = await a_run_with_replies()

    items, cursor = await q.list_messages(run_id=run_id, replied=True)

    assert ([m.id for m in items], cursor) == ([ids[0]], None)
    assert {m.recipient for m in items} == {"+14155550000"} and len(items) == await replied_count(run_id)


async def test_replied_false_lists_the_runs_other_rows(db_settings: Settings) -> None:
    run_id, ids = await a_run_with_replies()

    items, _ = await q.list_messages(run_id=run_id, replied=False)

    assert sorted(m.id for m in items) == ids[1:]


async def test_a_reply_answers_rows_of_its_senders_runs_only(db_settings: Settings) -> None:
    first, first_ids = await sent_run(2, sent=2)
    second, _ = await sent_run(2, sent=0)  # the same numbers, never sent
    await inbound("+14155550001", 120)

    assert [m.id for m in (await q.list_messages(run_id=first, replied=True))[0]] == [first_ids[1]]
    assert (await q.list_messages(run_id=second, replied=True))[0] == []


async def test_the_replied_filter_pages_like_any_search(db_settings: Settings) -> None:
    run_id, ids = await sent_run(5, sent=5)
    for phone in phones(5):
        await inbound(phone, 120)

    first, cursor = await q.list_messages(run_id=run_id, replied=True, limit=3)
    rest, end = await q.list_messages(run_id=run_id, replied=True, limit=3, cursor=cursor)

    assert [m.id for m in first + rest] == sorted(ids, reverse=True) and end is None


async def test_the_replied_filter_needs_a_run(db_settings: Settings) -> None:
    with pytest.raises(TypeError, match="replied needs run_id"):
        await q.list_messages(replied=True)


_SEED = [
    "INSERT INTO run (campaign, fire_key, kind, trigger, state, created_at, meta) SELECT 'c', 'k' || i, 'campaign', "
    "'api', 'running', now() - interval '1 hour', '{}' FROM generate_series(1, 2) AS i",
    "INSERT INTO message (run, step, recipient, body, media_url, status, attempts, created_at, updated_at, sent_at, "
    "meta) SELECT (SELECT min(id) FROM run) + i % 2, 0, '+1415' || lpad(i::text, 7, '0'), 'hi', '[]', 'delivered', 1, "
    "now(), now(), now() - interval '30 minutes', '{}' FROM generate_series(1, 5000) AS i",
    "INSERT INTO inbound_message (sid, from_phone, \"to\", body, payload, received_at) SELECT 'SMin' || i, "
    "'+1415' || lpad((i * 7)::text, 7, '0'), '+1', 'ok', '{}', now() FROM generate_series(1, 50) AS i",
    "ANALYZE",
]


async def test_replies_are_found_from_the_inbound_side_whatever_the_run(pg_url: str) -> None:
    import asyncpg

    # Given runs of thousands of rows and a few inbound messages. A prepared statement's generic plan knows
    # neither the run nor its size: it must still look each inbound sender's rows up, not read every row of the
    # run for a hash or merge join (1.3 s at 1,000,000 rows).
    connection = await asyncpg.connect(dsn=pg_url)
    try:
        for statement in _SEED:
            await connection.execute(statement)
        async with connection.transaction():
            await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            run_id = await connection.fetchval("SELECT min(id) FROM run")
            plan = await connection.fetch("EXPLAIN SELECT count(DISTINCT recipient) FROM hub_replied_rows($1)", run_id)
    finally:
        await connection.close()

    text = "\n".join(row[0] for row in plan)
    assert "Nested Loop" in text and "Hash Join" not in text and "Merge Join" not in text, text
