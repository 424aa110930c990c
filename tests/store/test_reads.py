"""Reads on both engines: message with campaign, keyset pages with filters, run progress."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers_store import T0, at, phones, run_with

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.status import RunState
from hub.store import queries as q

pytestmark = pytest.mark.anyio


async def test_get_message_names_its_campaign(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1, campaign="sale")

    message = await q.get_message(message_id)

    assert message is not None and (message.campaign, message.body) == ("sale", "hi")


async def test_get_missing_message_is_none(db_settings: Settings) -> None:
    assert await q.get_message(424242) is None


async def test_keyset_pages_cover_every_row_once(db_settings: Settings) -> None:
    run, ids = await run_with(7)

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        items, cursor = await q.list_messages(run_id=run.id, cursor=cursor, limit=3)
        seen.extend(m.id for m in items)
        pages += 1
        if cursor is None:
            break

    assert (sorted(seen), pages) == (ids, 3)
    assert seen == sorted(seen, reverse=True)  # newest first


async def test_list_filters_by_status_and_recipient(db_settings: Settings) -> None:
    _, ids = await run_with(3)
    await q.claim_for_send(ids[1], at(1))

    sending, _ = await q.list_messages(status=S.SENDING)
    by_phone, _ = await q.list_messages(to=phones(3)[2])

    assert [m.id for m in sending] == [ids[1]]
    assert [m.id for m in by_phone] == [ids[2]]


async def test_list_filters_by_campaign(db_settings: Settings) -> None:
    await run_with(2, campaign="a")
    _, b_ids = await run_with(1, campaign="b")

    items, _ = await q.list_messages(campaign="b")

    assert [m.id for m in items] == b_ids


async def test_list_filters_by_creation_time(db_settings: Settings) -> None:
    run, _ = await q.create_run()
    (early,) = await q.insert_messages(run.id, [q.NewMessage(recipient="+14155550001")], now=T0)
    (late,) = await q.insert_messages(run.id, [q.NewMessage(recipient="+14155550002")], now=T0 + timedelta(hours=1))

    items, _ = await q.list_messages(since=T0 + timedelta(minutes=30))
    older, _ = await q.list_messages(until=T0 + timedelta(minutes=30))

    assert ([m.id for m in items], [m.id for m in older]) == ([late], [early])


@pytest.mark.parametrize("cursor", ["abc", "-1"])
async def test_malformed_cursor_is_rejected(db_settings: Settings, cursor: str) -> None:
    with pytest.raises(ValueError):
        await q.list_messages(cursor=cursor)


async def test_progress_rate_and_eta(db_settings: Settings) -> None:
    run, ids = await run_with(4)
    for n, message_id in enumerate(ids[:3]):
        await q.claim_for_send(message_id, at(0))  # the run starts with its first claim: 60 s old at(60)
        await q.mark_submitted(message_id, f"SM{n}", "queued", now=at(30))

    progress = await q.run_progress(run.id, now=at(60), window_s=60)

    assert progress is not None
    assert (progress.owed, progress.total, progress.rate_per_second) == (1, 4, 3 / 60)
    assert progress.eta_seconds == pytest.approx(20.0)


async def test_progress_of_a_run_younger_than_the_window_is_measured_over_its_age(db_settings: Settings) -> None:
    run, ids = await run_with(4)
    await q.set_run_state(run.id, RunState.RUNNING, now=at(0))
    for n, message_id in enumerate(ids[:2]):
        await q.claim_for_send(message_id, at(0))  # the run starts with its first claim: 10 s old at(10)
        await q.mark_submitted(message_id, f"SM{n}", "queued", now=at(5))

    progress = await q.run_progress(run.id, now=at(10), window_s=60)

    assert progress is not None
    assert (progress.rate_per_second, progress.window_s, progress.eta_seconds) == (0.2, 10.0, pytest.approx(10.0))


async def test_progress_without_recent_sends_has_no_eta(db_settings: Settings) -> None:
    run, _ = await run_with(2)

    progress = await q.run_progress(run.id, now=at(60))

    assert progress is not None and (progress.rate_per_second, progress.eta_seconds) == (0.0, None)


async def test_message_totals_by_status_and_error_code(db_settings: Settings) -> None:
    _, ids = await run_with(3)
    for message_id in ids[:2]:
        await q.claim_for_send(message_id, at(1))
        await q.mark_final(message_id, S.FAILED, error_code=63016)

    totals = await q.message_totals()

    assert totals == {"by_status": {"failed": 2, "pending": 1}, "by_error_code": {"63016": 2}}
