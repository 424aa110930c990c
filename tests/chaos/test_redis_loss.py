"""Scenario 2: Redis flushed and restarted mid-run; the sweeper re-enqueues from the ledger (SPEC §2, §9)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.chaos.scenarios import redis_loss

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_redis_flush_and_restart_lose_nothing_and_send_nothing_twice(
    chaos_servers: str, report: Callable[[str], None]
) -> None:
    verdict = redis_loss(chaos_servers, report, recipients=1200, duration_s=9)
    assert verdict.problems == []
    assert (verdict.lost, verdict.duplicates) == (0, 0)
