"""The batch claim of ``send_batch`` and the batch contact read."""

from __future__ import annotations

import asyncio

import pytest
from helpers_store import at, phones, run_with

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.status import RunState
from hub.store import queries as q

pytestmark = pytest.mark.anyio


async def test_batch_claim_returns_only_the_rows_claimable_now(db_settings: Settings) -> None:
    # Given four rows: one claimed already, one due later, and two owed now; and a row of a paused run
    _, (taken, later, a, b) = await run_with(4)
    assert await q.claim_for_send(taken, at(1))
    await q.claim_for_send(later, at(1))
    await q.release_for_retry(later, next_attempt_at=at(60), error_code=None, error_message=None)
    paused, (held,) = await run_with(1)
    await q.set_run_state(paused.id, RunState.PAUSED)

    claimed = await q.claim_batch_for_send([taken, later, a, b, held], at(2))

    assert sorted(r.id for r in claimed) == [a, b]
    assert {(r.status, r.attempts, r.claimed_at) for r in claimed} == {(S.SENDING, 1, at(2))}


async def test_batch_claim_returns_the_rows_in_id_order(db_settings: Settings) -> None:
    _, ids = await run_with(20)
    await q.claim_for_send(ids[5], at(1))
    await q.release_for_retry(ids[5], next_attempt_at=at(1), error_code=None, error_message=None)  # updated last

    claimed = await q.claim_batch_for_send(list(reversed(ids)), at(2))

    assert [r.id for r in claimed] == ids


async def test_overlapping_concurrent_batch_claims_claim_each_row_once(db_settings: Settings) -> None:
    _, ids = await run_with(30)
    batches = [ids[:20], ids[10:], list(reversed(ids)), ids[::2]]

    results = await asyncio.gather(*(q.claim_batch_for_send(batch, at(1)) for batch in batches))

    won = sorted(r.id for claimed in results for r in claimed)
    assert won == sorted(ids)


async def test_get_contacts_returns_the_known_ones_by_phone(db_settings: Settings) -> None:
    known, opted, unknown = phones(3)
    await q.set_opt_in(known)
    await q.set_opt_out(opted, source="test")

    found = await q.get_contacts([known, opted, unknown, opted])

    assert sorted(found) == [known, opted]
    assert found[opted].opted_out and not found[known].opted_out
