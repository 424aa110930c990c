"""Small builders shared by the store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.store import queries as q

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus some seconds: a fixed clock for the tests."""
    return T0 + timedelta(seconds=seconds)


def phones(n: int, start: int = 0) -> list[str]:
    """``n`` distinct E.164 numbers."""
    return [f"+1415555{i:04d}" for i in range(start, start + n)]


async def run_with(n: int, **run_kwargs: object) -> tuple[q.RunRecord, list[int]]:
    """A run with ``n`` pending messages; returns the run and the message ids."""
    run, _ = await q.create_run(**run_kwargs)  # type: ignore[arg-type]
    ids = await q.insert_messages(run.id, [q.NewMessage(recipient=p, body="hi") for p in phones(n)], now=T0)
    return run, ids


async def submitted(sid: str = "SM1") -> int:
    """A message claimed and handed to Twilio as ``sid`` (status ``queued``)."""
    _, (message_id,) = await run_with(1)
    assert await q.claim_for_send(message_id, at(1))
    assert await q.mark_submitted(message_id, sid, "queued", now=at(2))
    return message_id
