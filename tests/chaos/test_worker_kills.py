"""Scenario 1: kill -9 `hub worker` processes mid-run; nothing lost, nothing twice (SPEC §9)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.chaos.scenarios import worker_kills

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_worker_kills_lose_nothing_and_send_nothing_twice(chaos_servers: str, report: Callable[[str], None]) -> None:
    verdict = worker_kills(chaos_servers, report, recipients=1500, duration_s=12, kill_every_s=2)
    assert verdict.problems == []
    assert (verdict.lost, verdict.duplicates) == (0, 0)
