"""Operator reads on PostgreSQL: pages of runs, failures by error code, why rows wait, export pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpers_store import phones, run_with

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.status import RunState
from hub.store import queries as q
from hub.store import reports

pytestmark = pytest.mark.anyio


async def test_runs_page_lists_newest_first_in_pages_with_a_cursor(pg_settings: Settings) -> None:
    ids = [(await q.create_run(campaign="sale"))[0].id for _ in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        runs, cursor = await q.runs_page(cursor=cursor, limit=2)
        seen += [run.id for run in runs]
        pages += 1
        if cursor is None:
            break
    assert (seen, pages) == (ids[::-1], 3)


async def test_runs_page_filters_by_campaign_and_state(pg_settings: Settings) -> None:
    a, _ = await q.create_run(campaign="a", state=RunState.RUNNING)
    await q.create_run(campaign="a", state=RunState.SCHEDULED)
    await q.create_run(campaign="b", state=RunState.RUNNING)
    runs, cursor = await q.runs_page(campaign="a", states=[RunState.RUNNING])
    assert ([run.id for run in runs], cursor) == ([a.id], None)


async def test_failures_are_grouped_by_status_and_code_with_twilio_message_count_and_a_sample(
    pg_settings: Settings,
) -> None:
    run, _ = await q.create_run(campaign="sale")
    numbers = phones(6)
    rows = [
        q.NewMessage(recipient=numbers[0], status=S.FAILED, error_code=63016, error_message="Outside window"),
        q.NewMessage(recipient=numbers[1], status=S.FAILED, error_code=63016, error_message="Outside window"),
        q.NewMessage(recipient=numbers[2], status=S.FAILED, error_code=21211, error_message="Invalid 'To'"),
        q.NewMessage(recipient=numbers[3], status=S.REJECTED, error_message="recipient +1: body: missing 'x'"),
        q.NewMessage(recipient=numbers[4], status=S.SKIPPED, error_message="contact opted out"),
        q.NewMessage(recipient=numbers[5], body="hi"),
    ]
    await q.insert_messages(run.id, rows)
    groups = await q.run_failures(run.id)
    assert groups == [
        reports.FailureGroup(
            status="failed", error_code=63016, error_message="Outside window", count=2, sample_to=numbers[0]
        ),
        reports.FailureGroup(
            status="failed", error_code=21211, error_message="Invalid 'To'", count=1, sample_to=numbers[2]
        ),
        reports.FailureGroup(
            status="rejected",
            error_code=None,
            error_message="recipient +1: body: missing 'x'",
            count=1,
            sample_to=numbers[3],
        ),
    ]


async def test_waits_say_why_owed_rows_are_held(pg_settings: Settings) -> None:
    now = datetime.now(UTC)
    run, _ = await q.create_run(campaign="sale")
    numbers = phones(5)
    rows = [q.NewMessage(recipient=p, body="hi") for p in numbers[:4]]
    rows.append(q.NewMessage(recipient=numbers[4], body="hi", send_at=now + timedelta(hours=3)))
    ids = await q.insert_messages(run.id, rows, now=now)
    reasons = [
        (ids[0], now + timedelta(minutes=5), None, "per-recipient limit reached; waiting for the window"),
        (ids[1], now + timedelta(minutes=9), None, "per-recipient limit reached; waiting for the window"),
        (ids[2], now + timedelta(hours=7), None, "daily tier budget of 5 unique recipients used up; waiting until X"),
    ]
    for message_id, until, code, reason in reasons:
        assert await q.claim_for_send(message_id, now)
        await q.release_for_retry(
            message_id, next_attempt_at=until, error_code=code, error_message=reason, count_attempt=False
        )
    waits = {(w.quiet_hours, w.reason): (w.count, w.next_at) for w in await q.run_waits(run.id, now)}
    assert waits == {
        (False, "per-recipient limit reached"): (2, now + timedelta(minutes=5)),
        (False, "daily tier budget of 5 unique recipients used up"): (1, now + timedelta(hours=7)),
        (True, ""): (1, now + timedelta(hours=3)),
        (False, ""): (1, None),  # due now
    }


async def test_export_reads_a_run_in_keyset_pages_each_row_once(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, ids = await run_with(2500)
    await run_with(10)  # another run's rows stay out
    pages: list[int] = []
    real = reports.export_page

    async def counting(run_id: int, after: tuple[str, int] | None, limit: int) -> list[q.MessageRecord]:
        page = await real(run_id, after, limit)
        pages.append(len(page))
        return page

    monkeypatch.setattr(reports, "export_page", counting)
    seen = [m.id async for page in q.iter_run_messages(run.id, page=1000) for m in page]
    assert sorted(seen) == ids and len(seen) == len(set(seen))
    assert pages == [1000, 1000, 500]  # three bounded queries, never the whole run at once


@pytest.mark.parametrize(("state", "has_eta"), [(RunState.RUNNING, True), (RunState.PAUSED, False)])
async def test_a_paused_run_has_no_eta(pg_settings: Settings, state: RunState, has_eta: bool) -> None:
    now = datetime.now(UTC)
    run, ids = await run_with(4, campaign="sale", state=RunState.RUNNING)
    for number, message_id in enumerate(ids[:2]):
        assert await q.claim_for_send(message_id, now)
        assert await q.mark_submitted(message_id, f"SM{number}", "queued", now=now)
    await q.set_run_state(run.id, state)
    progress = await q.run_progress(run.id, now=now + timedelta(seconds=1))
    assert progress is not None and progress.owed == 2 and progress.rate_per_second > 0
    assert (progress.eta_seconds is not None) == has_eta
