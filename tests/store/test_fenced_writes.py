"""Fenced writes: every write of a worker names its claim (``claimed_at``); once the row was claimed again, the
old claim's writes change nothing, alone or coalesced with others."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest
from helpers_store import at, run_with

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.store import queries as q

pytestmark = pytest.mark.anyio

OLD, NEW = at(1), at(100)

Write = Callable[[int, datetime], Awaitable[object]]

WRITES: dict[str, Write] = {
    "submit": lambda i, claim: q.mark_submitted(i, "SMold", "queued", now=at(101), claimed_at=claim),
    "release": lambda i, claim: q.release_for_retry(i, next_attempt_at=at(101), claimed_at=claim),
    "final": lambda i, claim: q.mark_final(i, S.FAILED, error_code=21211, now=at(101), claimed_at=claim),
    "unknown": lambda i, claim: q.mark_final(i, S.UNKNOWN, now=at(101), claimed_at=claim),
}


async def reclaimed() -> int:
    """A row claimed at ``OLD``, given back, and claimed again at ``NEW`` by another worker."""
    _, (message_id,) = await run_with(1)
    assert await q.claim_for_send(message_id, OLD)
    assert await q.release_for_retry(message_id, next_attempt_at=OLD, count_attempt=False, claimed_at=OLD)
    assert await q.claim_for_send(message_id, NEW)
    return message_id


@pytest.mark.parametrize("write", sorted(WRITES))
async def test_a_write_under_a_lost_claim_changes_nothing(pg_settings: Settings, write: str) -> None:
    message_id = await reclaimed()
    before = await q.get_message(message_id, with_history=True)
    assert await WRITES[write](message_id, OLD) is None
    assert await q.get_message(message_id, with_history=True) == before


@pytest.mark.parametrize("write", sorted(WRITES))
async def test_a_write_under_the_current_claim_goes_through(pg_settings: Settings, write: str) -> None:
    message_id = await reclaimed()
    assert await WRITES[write](message_id, NEW) is not None


async def test_a_lost_claims_submit_coalesced_with_others_changes_only_theirs(pg_settings: Settings) -> None:
    lost = await reclaimed()
    _, others = await run_with(2)
    for message_id in others:
        assert await q.claim_for_send(message_id, OLD)
    results = await asyncio.gather(
        q.mark_submitted(lost, "SMlost", "queued", now=at(101), claimed_at=OLD),
        *(q.mark_submitted(i, f"SM{i}", "queued", now=at(101), claimed_at=OLD) for i in others),
    )
    assert results[0] is None
    assert [record.status for record in results[1:] if record is not None] == [S.QUEUED, S.QUEUED]
    row = await q.get_message(lost)
    assert row is not None and (row.status, row.sid) == (S.SENDING, None)
