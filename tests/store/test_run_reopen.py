"""A run finished while one of its rows was ``unknown`` goes back to ``running`` when reconciliation releases
that row, and finishes again once the row settles."""

from __future__ import annotations

import asyncio

import pytest
from helpers_store import at, run_with

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.status import RunState
from hub.store import queries as q
from hub.store.unsettled import release_unknown

pytestmark = pytest.mark.anyio


async def finished_with_an_unknown_row() -> tuple[int, int]:
    """A run whose only row ended ``unknown`` (nothing owed), finished by the sweeper."""
    run, (message_id,) = await run_with(1, state=RunState.RUNNING)
    await q.update_checkpoint(run.id, 1, total=1, fanned_out=True, now=at(0))
    assert await q.claim_for_send(message_id, at(1))
    assert await q.mark_final(message_id, S.UNKNOWN, error_message="timed out", now=at(2))
    assert await q.finish_if_done(run.id, now=at(3))
    return run.id, message_id


async def release(message_id: int) -> S | None:
    message = await q.get_message(message_id)
    assert message is not None and message.claimed_at is not None
    return await release_unknown(message_id, claimed_at=message.claimed_at, reason="not at Twilio", now=at(60))


async def test_releasing_a_row_of_a_finished_run_puts_the_run_back_to_running(db_settings: Settings) -> None:
    run_id, message_id = await finished_with_an_unknown_row()

    assert await release(message_id)

    run = await q.get_run(run_id)
    assert run is not None and (run.state, run.finished_at) == (RunState.RUNNING, None)


async def test_a_reopened_run_finishes_again_once_its_row_settles(db_settings: Settings) -> None:
    run_id, message_id = await finished_with_an_unknown_row()
    await release(message_id)
    assert not await q.finish_if_done(run_id, now=at(61))  # the row is owed again

    assert await q.claim_for_send(message_id, at(62))
    assert await q.mark_submitted(message_id, "SMagain", "queued", now=at(63))

    assert await q.finish_if_done(run_id, now=at(64))
    run = await q.get_run(run_id)
    assert run is not None and run.state == RunState.FINISHED


async def test_a_second_release_of_the_same_row_changes_nothing(db_settings: Settings) -> None:
    run_id, message_id = await finished_with_an_unknown_row()
    message = await q.get_message(message_id)
    assert message is not None and message.claimed_at is not None
    assert await release(message_id)

    again = await release_unknown(message_id, claimed_at=message.claimed_at, reason="again", now=at(70))

    run = await q.get_run(run_id)
    assert again is None
    assert run is not None and run.state == RunState.RUNNING


async def test_a_released_row_leaves_a_canceled_run_canceled(db_settings: Settings) -> None:
    run_id, message_id = await finished_with_an_unknown_row()
    assert await q.set_run_state(run_id, RunState.CANCELED)

    assert await release(message_id)

    run = await q.get_run(run_id)
    assert run is not None and run.state == RunState.CANCELED


async def test_a_released_row_of_a_canceled_run_is_canceled_not_left_pending(db_settings: Settings) -> None:
    # Nothing sends a canceled run's pending rows: one released to pending would stay owed for good.
    run_id, message_id = await finished_with_an_unknown_row()
    assert await q.set_run_state(run_id, RunState.CANCELED)

    becomes = await release(message_id)

    message = await q.get_message(message_id)
    assert becomes == S.CANCELED
    assert message is not None and message.status == S.CANCELED


async def test_a_released_row_of_a_live_run_is_owed_again(db_settings: Settings) -> None:
    _, message_id = await finished_with_an_unknown_row()

    becomes = await release(message_id)

    message = await q.get_message(message_id)
    assert becomes == S.PENDING
    assert message is not None and message.status == S.PENDING


async def test_finishing_and_releasing_at_once_never_leave_a_finished_run_with_a_row_owed(
    db_settings: Settings,
) -> None:
    # The sweeper may count a run's owed rows while reconciliation releases one of them.
    for _ in range(20):
        run, (message_id,) = await run_with(1, state=RunState.RUNNING)
        await q.update_checkpoint(run.id, 1, total=1, fanned_out=True, now=at(0))
        assert await q.claim_for_send(message_id, at(1))
        assert await q.mark_final(message_id, S.UNKNOWN, error_message="timed out", now=at(2))

        await asyncio.gather(q.finish_if_done(run.id, now=at(3)), release(message_id))

        after, message = await q.get_run(run.id), await q.get_message(message_id)
        assert after is not None and message is not None
        assert (after.state, message.status) != (RunState.FINISHED, S.PENDING)
