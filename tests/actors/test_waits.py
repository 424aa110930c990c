"""Waits that are not send attempts: the daily tier budget and the per-recipient window hold a message, never
drop it, and never use up a retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from actor_harness import Harness

import actors
from actors.outcome import business_initiated
from actors.sweep import sweep
from hub.config import PerRecipientLimit
from hub.status import MessageStatus
from hub.store import queries as q
from hub.tier_budget import budget_key, budget_usage

ADA, BOB, CY = "+14155550100", "+14155550101", "+14155550102"
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last_inbound_at", "expected"),
    [
        (None, True),
        (NOW - timedelta(hours=2), False),
        (NOW - timedelta(hours=24), False),
        (NOW - timedelta(hours=24, seconds=1), True),
    ],
    ids=["never-wrote", "inside-window", "window-edge", "outside-window"],
)
def test_business_initiated(last_inbound_at: datetime | None, expected: bool) -> None:
    assert business_initiated(last_inbound_at=last_inbound_at, now=NOW) is expected


def _send(harness: Harness, *phones: str) -> list[int]:
    ids = []
    for phone in phones:  # one run each: a recipient may appear in several runs
        _, (message_id,) = harness.new_run([phone])
        ids.append(message_id)
    actors.enqueue_sends(ids)
    harness.drain()
    return ids


def test_new_recipient_over_the_tier_budget_waits_without_using_an_attempt(
    make_harness: Callable[..., Harness],
) -> None:
    # Given a tier of one unique recipient per 24 h
    harness = make_harness(daily_unique_recipients=1)
    # When two new recipients are sent to
    _, bob = _send(harness, ADA, BOB)
    # Then the first is sent; the second is owed again, due when the budget frees up, with no attempt used
    assert [c.msg.to for c in harness.transport.calls] == [ADA]
    held = harness.message(bob)
    assert (held.status, held.attempts) == (MessageStatus.PENDING, 0)
    assert held.next_attempt_at is not None
    assert held.next_attempt_at > datetime.now(UTC) + timedelta(hours=23)
    assert "tier budget" in (held.error_message or "")


def test_the_tier_budget_survives_a_redis_restart(make_harness: Callable[..., Harness]) -> None:
    # Given a tier of one unique recipient per 24 h, used by a send to Ada
    harness = make_harness(daily_unique_recipients=1)
    _send(harness, ADA)
    # When Redis forgets everything (a restart; the embedded Redis of `hub run` on every start)
    harness.redis.flushdb()
    # Then a new recipient still waits (the budget is rebuilt from the ledger), and Ada costs nothing
    (bob,) = _send(harness, BOB)
    _send(harness, ADA)
    assert [c.msg.to for c in harness.transport.calls] == [ADA, ADA]
    held = harness.message(bob)
    assert (held.status, held.attempts) == (MessageStatus.PENDING, 0)
    assert "tier budget" in (held.error_message or "")


def test_recipient_already_counted_in_the_last_24h_costs_nothing(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(daily_unique_recipients=1)
    _send(harness, ADA, ADA)
    assert harness.transport.sends_to(ADA) == 2


def test_contact_inside_its_session_window_is_not_counted(make_harness: Callable[..., Harness]) -> None:
    # Given a full budget and a contact who wrote an hour ago
    harness = make_harness(daily_unique_recipients=1)
    harness.run(_inbound(BOB, datetime.now(UTC) - timedelta(hours=1)))
    # When both are sent to, then both go out
    _send(harness, ADA, BOB)
    assert sorted(c.msg.to for c in harness.transport.calls) == [ADA, BOB]


def test_held_message_is_sent_once_the_budget_frees_up(
    make_harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a message held by a full budget
    harness = make_harness(daily_unique_recipients=1)
    _, bob = _send(harness, ADA, BOB)
    # When a day has passed (the budget's entries left the window) and the sweeper runs
    later = datetime.now(UTC) + timedelta(hours=24, minutes=1)
    monkeypatch.setattr(actors.row, "utcnow", lambda: later)
    harness.redis.delete(budget_key(harness.namespace))
    report = sweep(harness.settings, later)
    harness.drain()
    # Then it is sent, on its first attempt
    assert report.requeued == 1
    assert harness.transport.sends_to(BOB) == 1
    assert (harness.message(bob).status, harness.message(bob).attempts) == (MessageStatus.QUEUED, 1)


def test_status_reads_the_budget_the_workers_fill(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(daily_unique_recipients=1)
    _send(harness, ADA, BOB)
    used, next_slot = budget_usage(harness.redis, cap=1, key=budget_key(harness.namespace), now=datetime.now(UTC))
    assert used == 1
    assert next_slot is not None and next_slot > datetime.now(UTC) + timedelta(hours=23)


def test_message_delayed_by_the_per_recipient_limit_keeps_its_attempts(make_harness: Callable[..., Harness]) -> None:
    # Given at most one message per recipient per second
    harness = make_harness(per_recipient=PerRecipientLimit(max=1, window_seconds=1))
    # When two messages go to the same recipient
    first, second = _send(harness, ADA, ADA)
    # Then both are sent, the second after waiting for the window, each on its first attempt
    assert harness.transport.sends_to(ADA) == 2
    assert [harness.message(i).attempts for i in (first, second)] == [1, 1]
    history = harness.run(q.history(second))
    assert "waiting" in [event.status for event in history]


async def _inbound(phone: str, at: datetime) -> None:
    await q.record_inbound(
        q.InboundRecord(sid=f"SM{at.timestamp():.0f}", from_phone=phone, to="+14155238886", body="hi", received_at=at)
    )
