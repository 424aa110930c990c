"""Journey chaos: 5,000 entries on timers and replies through worker kills, Redis loss and racing schedulers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.chaos.journey_chaos import journey_chaos, judge_journey

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_every_step_runs_once_and_every_timer_fires_once_through_kills_and_redis_loss(
    chaos_servers: str, report: Callable[[str], None]
) -> None:
    verdict = journey_chaos(chaos_servers, report, entries=5000)
    assert verdict.problems == []
    assert verdict.ended == 5000
    assert verdict.replied > 0 and verdict.timed_out > 0  # both branches were raced


def test_the_verdict_finds_a_timer_fired_twice_and_a_send_made_twice() -> None:
    entries = [{"id": 1, "active": False, "outcome": "completed"}]
    paths = [
        {"entry": 1, "step": step, "outcome": outcome}
        for step, outcome in [
            ("hold", "waiting"),
            ("hold", "waited"),
            ("hold", "waited"),
            ("remind", "sent"),
            ("wait-reply", "awaiting"),
            ("wait-reply", "timeout"),
        ]
    ]
    messages = [{"id": 9, "entry": 1, "step": 1, "recipient": "+4915100000000", "status": "queued"}]
    verdict = judge_journey(entries, paths, messages, {"whatsapp:+4915100000000": 2})
    assert verdict.problems == [
        "entry 1: path ('hold', 'waited') 2 times",
        "+4915100000000: 2 creates at Twilio for 1 rows",
    ]
