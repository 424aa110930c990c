"""API idempotency keys: claim a key inside the create's transaction, store its response, replay it later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.store.records import IdempotencyRecord
from hub.store.rows import loads, when
from hub.store.tables import IdempotencyKey

#: ``response`` of a claimed key whose request has not committed its answer yet.
IN_FLIGHT: dict[str, Any] = {}


def _idempotency(row: dict[str, Any]) -> IdempotencyRecord:
    return IdempotencyRecord(
        key=row["key"],
        request_hash=row["request_hash"],
        response=loads(row["response"]),
        created_at=when(row["created_at"]),
    )


async def get_idempotent(key: str) -> IdempotencyRecord | None:
    """The response stored for ``key``, or None."""
    row = await IdempotencyKey.select().where(IdempotencyKey.key == key).first()
    return _idempotency(row) if row else None


async def claim_idempotent(key: str, request_hash: str, at: datetime | None = None) -> IdempotencyRecord | None:
    """Claim ``key`` for this request; call it first inside :func:`hub.store.db.transaction`.

    The key row is inserted (unique) with an empty response. A concurrent claim of the same key in another
    transaction waits until this one ends (on the unique index), then
    sees the committed row, so exactly one of them creates. Store the answer with
    :func:`complete_idempotent` in the same transaction.

    Returns:
        None when this call claimed the key (go on and create), else the record already there: compare its
        ``request_hash``; its ``response`` is :data:`IN_FLIGHT` (``{}``) only if its request never completed.
    """
    rows = (
        await IdempotencyKey.insert(
            IdempotencyKey(key=key, request_hash=request_hash, response=IN_FLIGHT, created_at=when(at))
        )
        .on_conflict(target=IdempotencyKey.key, action="DO NOTHING")
        .returning(IdempotencyKey.id)
    )
    if rows:
        return None
    stored = await get_idempotent(key)
    if stored is None:  # only if the winner was deleted in between
        raise RuntimeError("an idempotency key conflicted but cannot be found")
    return stored


async def complete_idempotent(key: str, response: Any) -> None:
    """Store the response of a key claimed with :func:`claim_idempotent` (same transaction)."""
    await IdempotencyKey.update({IdempotencyKey.response: response}).where(IdempotencyKey.key == key)


__all__ = ["IN_FLIGHT", "claim_idempotent", "complete_idempotent", "get_idempotent"]
