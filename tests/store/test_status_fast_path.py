"""The status callback's hot path: one database round trip for a known sid; compare-and-set sets (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from helpers_store import at, submitted

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.store import db
from hub.store import queries as q
from hub.store.status_sql import forward_from

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("reported", "forward"),
    [
        (S.SENT, ["accepted", "pending", "queued", "scheduled", "sending", "unknown"]),
        (S.DELIVERED, ["accepted", "pending", "queued", "scheduled", "sending", "sent", "unknown"]),
        (S.READ, ["accepted", "delivered", "pending", "queued", "scheduled", "sending", "sent", "unknown"]),
        (S.FAILED, ["accepted", "pending", "queued", "scheduled", "sending", "sent", "unknown"]),
        (None, []),
    ],
)
def test_forward_from(reported: S | None, forward: list[str]) -> None:
    assert forward_from(reported) == forward


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the engine calls made (each is one round trip to the database)."""
    engine = db.current_engine()
    calls: list[str] = []
    for name in ("run_querystring", "fetch", "run_atomic"):
        if hasattr(engine, name):
            original = getattr(engine, name)

            def counted(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
                calls.append(_name)
                return _original(*args, **kwargs)

            monkeypatch.setattr(engine, name, counted)
    return calls


async def test_callback_for_a_known_sid_is_one_round_trip(db_settings: Settings, round_trips: list[str]) -> None:
    await submitted("SM1")
    round_trips.clear()

    outcome = await q.apply_status(q.StatusUpdate(sid="SM1", status="delivered", at=at(10)))

    assert outcome == "applied"
    assert len(round_trips) == 1


async def test_duplicate_callback_is_one_round_trip(db_settings: Settings, round_trips: list[str]) -> None:
    await submitted("SM1")
    await q.apply_status(q.StatusUpdate(sid="SM1", status="delivered", at=at(10)))
    round_trips.clear()

    outcome = await q.apply_status(q.StatusUpdate(sid="SM1", status="delivered", at=at(11)))

    assert outcome == "duplicate"
    assert len(round_trips) == 1
