"""Idempotency key claims: the first claim wins, later ones read the committed answer."""

from __future__ import annotations

import asyncio

import pytest

from hub.config import Settings
from hub.store import db
from hub.store import queries as q

pytestmark = pytest.mark.anyio


async def test_first_claim_wins_and_later_claims_read_the_answer(db_settings: Settings) -> None:
    async with db.transaction():
        first = await q.claim_idempotent("scope:k", "hash-a")
        await q.complete_idempotent("scope:k", {"status": 202, "body": {"id": 1}})
    async with db.transaction():
        second = await q.claim_idempotent("scope:k", "hash-b")

    assert first is None
    assert second is not None
    assert (second.request_hash, second.response) == ("hash-a", {"status": 202, "body": {"id": 1}})


async def test_a_rolled_back_claim_leaves_the_key_free(db_settings: Settings) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await q.claim_idempotent("scope:k2", "hash-a")
            raise RuntimeError("create failed")

    assert await q.get_idempotent("scope:k2") is None


async def test_concurrent_claims_of_one_key_let_exactly_one_create(db_settings: Settings) -> None:
    async def claim(n: int) -> q.IdempotencyRecord | None:
        async with db.transaction():
            stored = await q.claim_idempotent("scope:k3", f"hash-{n}")
            if stored is None:
                await q.complete_idempotent("scope:k3", {"n": n})
            return stored

    results = await asyncio.gather(*(claim(n) for n in range(8)))

    assert results.count(None) == 1
    answers = {(r.request_hash, r.response["n"]) for r in results if r is not None}
    assert len(answers) == 1 and next(iter(answers))[0] == f"hash-{next(iter(answers))[1]}"
