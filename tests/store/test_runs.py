"""Runs on both engines: exactly one per campaign fire, compare-and-set states, checkpoints, cancel, finish."""

from __future__ import annotations

import asyncio

import pytest
from helpers_store import at, run_with

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.status import RunState
from hub.store import queries as q

pytestmark = pytest.mark.anyio


async def test_same_campaign_fire_makes_one_run(db_settings: Settings) -> None:
    first, created = await q.create_run(campaign="sale", fire_key="2026-01-01T09:00:00Z", trigger="schedule")
    again, created_again = await q.create_run(campaign="sale", fire_key="2026-01-01T09:00:00Z", trigger="schedule")

    assert (created, created_again) == (True, False)
    assert again.id == first.id


async def test_concurrent_fires_make_one_run(db_settings: Settings) -> None:
    results = await asyncio.gather(*(q.create_run(campaign="sale", fire_key="k") for _ in range(10)))

    assert sum(created for _, created in results) == 1
    assert len({run.id for run, _ in results}) == 1


async def test_runs_without_fire_key_never_collide(db_settings: Settings) -> None:
    first, _ = await q.create_run(campaign="sale")
    second, created = await q.create_run(campaign="sale")

    assert created and second.id != first.id


async def test_missed_run_is_final_at_creation(db_settings: Settings) -> None:
    run, _ = await q.create_run(campaign="sale", fire_key="k", state=RunState.MISSED, now=at(0))

    assert (run.state, run.finished_at) == (RunState.MISSED, at(0))


async def test_run_keeps_meta_and_expiry_from_meta(db_settings: Settings) -> None:
    run, _ = await q.create_run(meta={"rate_limit": {"per_second": 5}, "expires_at": "2026-01-01T12:00:10+00:00"})

    stored = await q.get_run(run.id)

    assert stored is not None and stored.meta["rate_limit"] == {"per_second": 5}
    assert stored.expires_at == at(10)


async def test_set_state_is_compare_and_set(db_settings: Settings) -> None:
    run, _ = await q.create_run()

    moved = await q.set_run_state(run.id, RunState.RUNNING, from_states=[RunState.SCHEDULED], now=at(1))
    refused = await q.set_run_state(run.id, RunState.RUNNING, from_states=[RunState.SCHEDULED])

    assert moved is not None and moved.state == RunState.RUNNING
    assert refused is None


async def test_a_running_run_starts_when_its_first_row_is_claimed(db_settings: Settings) -> None:
    run, ids = await run_with(2, state=RunState.RUNNING)
    assert (await _run(run.id)).started_at is None  # running, nothing claimed yet

    await q.claim_for_send(ids[0], at(5))
    await q.claim_for_send(ids[1], at(7))

    assert (await _run(run.id)).started_at == at(5)  # the first claim's instant, kept by the later ones


async def test_a_claim_that_claims_nothing_does_not_start_the_run(db_settings: Settings) -> None:
    run, (message_id,) = await run_with(1, state=RunState.PAUSED)

    assert await q.claim_for_send(message_id, at(5)) is None  # a paused run's rows are not claimed

    assert (await _run(run.id)).started_at is None


async def test_a_batch_claim_starts_each_of_its_runs(db_settings: Settings) -> None:
    first, (a,) = await run_with(1, state=RunState.RUNNING)
    second, _ = await q.create_run(state=RunState.RUNNING)
    (b,) = await q.insert_messages(second.id, [q.NewMessage(recipient="+14155559999", body="hi")], now=at(0))

    assert len(await q.claim_batch_for_send([a, b], at(3))) == 2

    assert [(await _run(r.id)).started_at for r in (first, second)] == [at(3), at(3)]


async def test_started_at_is_kept_across_pause_and_resume(db_settings: Settings) -> None:
    run, (message_id,) = await run_with(1, state=RunState.RUNNING)
    await q.claim_for_send(message_id, at(1))
    await q.set_run_state(run.id, RunState.PAUSED, now=at(2))

    resumed = await q.set_run_state(run.id, RunState.RUNNING, now=at(3))

    assert resumed is not None and resumed.started_at == at(1)


async def test_checkpoint_and_total_are_recorded(db_settings: Settings) -> None:
    run, _ = await q.create_run()

    await q.update_checkpoint(run.id, 500, total=1200)
    await q.update_checkpoint(run.id, 1200, fanned_out=True, now=at(5))

    stored = await q.get_run(run.id)
    assert stored is not None and (stored.checkpoint, stored.total, stored.fanned_out_at) == (1200, 1200, at(5))


async def test_list_runs_newest_first_per_campaign(db_settings: Settings) -> None:
    a, _ = await q.create_run(campaign="a")
    await q.create_run(campaign="b")
    a2, _ = await q.create_run(campaign="a")

    runs = await q.list_runs(campaign="a")

    assert [r.id for r in runs] == [a2.id, a.id]


async def test_cancel_cancels_pending_and_leaves_claimed(db_settings: Settings) -> None:
    run, ids = await run_with(3)
    await q.claim_for_send(ids[0], at(1))

    canceled = await q.cancel_run(run.id, now=at(2))

    assert canceled == 2
    assert await q.run_counts(run.id) == {"sending": 1, "canceled": 2}
    stored = await q.get_run(run.id)
    assert stored is not None and stored.state == RunState.CANCELED


async def test_finish_waits_for_fan_out_and_owed_rows(db_settings: Settings) -> None:
    run, (message_id,) = await run_with(1)
    await q.set_run_state(run.id, RunState.RUNNING)
    assert not await q.finish_if_done(run.id)  # fan-out not done

    await q.update_checkpoint(run.id, 1, fanned_out=True)
    assert not await q.finish_if_done(run.id)  # one row still pending

    await q.claim_for_send(message_id, at(1))
    await q.mark_submitted(message_id, "SM1", "queued")
    assert await q.finish_if_done(run.id, now=at(9))
    stored = await q.get_run(run.id)
    assert stored is not None and (stored.state, stored.finished_at) == (RunState.FINISHED, at(9))


async def test_a_run_that_never_claimed_a_row_starts_when_it_finishes(db_settings: Settings) -> None:
    run, _ = await q.create_run(state=RunState.RUNNING)
    await q.insert_messages(run.id, [q.NewMessage(recipient="+14155550100", status=S.SKIPPED)], now=at(0))
    await q.update_checkpoint(run.id, 1, fanned_out=True)

    assert await q.finish_if_done(run.id, now=at(4))

    stored = await _run(run.id)
    assert (stored.state, stored.started_at, stored.finished_at) == (RunState.FINISHED, at(4), at(4))


async def test_finish_if_settled_finishes_a_run_that_owes_nothing(db_settings: Settings) -> None:
    run, (message_id,) = await run_with(1, state=RunState.RUNNING)
    await q.update_checkpoint(run.id, 1, fanned_out=True)
    await q.claim_for_send(message_id, at(1))
    assert not await q.finish_if_settled(run.id)  # one row still sending

    await q.mark_submitted(message_id, "SM1", "queued", now=at(2))

    assert await q.finish_if_settled(run.id, now=at(3))
    stored = await _run(run.id)
    assert (stored.state, stored.started_at, stored.finished_at) == (RunState.FINISHED, at(1), at(3))


async def test_run_counts_group_by_status(db_settings: Settings) -> None:
    run, ids = await run_with(3)
    await q.claim_for_send(ids[0], at(1))
    await q.mark_final(ids[0], S.FAILED)

    assert await q.run_counts(run.id) == {"failed": 1, "pending": 2}


async def _run(run_id: int) -> q.RunRecord:
    stored = await q.get_run(run_id)
    assert stored is not None
    return stored
