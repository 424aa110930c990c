"""Twilio slower than the client's timeout mid-run, through real `hub worker` processes (issue 14, fault 1): a
create that times out leaves its row ``unknown``, never sent again blindly; reconciliation attaches the create that
lands late and releases only rows Twilio never created, once the quarantine has passed. Every recipient ends with
exactly one create.

The sweeps here run on the real clock (the quarantine is what is under test), with a quarantine longer than the
slowdown, as the default (15 minutes) is longer than any create Twilio still completes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.chaos import harness as h
from tests.chaos.stack import Stack, stack

# A slowdown of 10 x the timeout, then the quarantine after it, take longer than the suite's 120 s per test.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

TIMEOUT_S = 1.0
RECIPIENTS = 240
PER_SECOND = 60.0
#: How long the fake answers slowly, seconds (rows claimed meanwhile time out).
SLOW_FOR_S = 2.0


def _creates_in_flight(s: Stack) -> int:
    """Creates the fake has received and not yet answered (a slow one lands only when it answers)."""
    stats = s.fake.stats()
    return int(stats["requests"]) - int(stats["auth_failures"]) - sum(stats["attempts_per_recipient"].values())


def _unsettled(database_url: str) -> dict[str, int]:
    counts = h.status_counts(database_url)
    return {status: n for status, n in counts.items() if status in {"pending", "sending", "unknown"}}


@pytest.mark.parametrize("slowdown", [3, 10])
def test_creates_slower_than_the_client_timeout_are_attached_or_sent_once(
    slowdown: int, chaos_servers: str, report: Callable[[str], None]
) -> None:
    phones = [h.phone(i) for i in range(RECIPIENTS)]
    latency_s = slowdown * TIMEOUT_S
    config: dict[str, Any] = {
        "twilio": {"timeout_seconds": TIMEOUT_S, "reconcile_quarantine_seconds": latency_s + 3.0},
        "rate_limits": {"per_second": PER_SECOND},
    }
    with stack(chaos_servers, **config) as s:
        for name in ("worker-0", "worker-1"):
            s.start_worker(name, threads=4)
        s.wait_consumers(2)
        # Given a run under way
        s.create_run(phones)
        h.wait_for(lambda: s.fake.stats()["accepted"] >= RECIPIENTS // 4, 60, "a quarter of the run sent")
        # When Twilio takes slowdown x the client's timeout to answer (and still creates) for a while
        s.fake.configure(latency_ms=latency_s * 1000)
        time.sleep(SLOW_FOR_S)
        s.fake.configure(latency_ms=0)
        timed_out = h.wait_for(
            lambda: h.status_counts(s.database_url).get("unknown", 0) or None, 60, "creates that timed out"
        )
        # Then, with the sweeper and reconciliation on the real clock, every row ends with exactly one create
        h.wait_for(
            lambda: s.sweep(timedelta(0)) is not None and not _unsettled(s.database_url),
            120,
            "every row sent, attached or released and sent again",
            interval_s=0.5,
        )
        # ... also once every slow create has landed (a row released too early would now have two)
        h.wait_for(lambda: _creates_in_flight(s) == 0, 60, "the slow creates landed")
        h.wait_for(
            lambda: s.sweep(timedelta(0)) is not None and not _unsettled(s.database_url),
            60,
            "the ledger settled after the last create",
            interval_s=0.5,
        )
        verdict = s.verdict(phones)
        stats = s.fake.stats()
        report(
            f"Twilio at {slowdown} x the {TIMEOUT_S} s timeout for {SLOW_FOR_S} s: {timed_out} row(s) unknown at"
            f" first, fake duplicates: {len(stats['duplicates'])}; {verdict.line()}"
        )
        assert verdict.problems == []
        assert (verdict.lost, verdict.duplicates, verdict.unknown) == (0, 0, 0)
        assert stats["duplicates"] == []
