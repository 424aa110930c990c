"""Scenario 4: three schedulers, 50 campaigns due within seconds, one scheduler killed: exactly 50 runs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.chaos.scenarios import scheduler_race

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_three_schedulers_fire_fifty_due_campaigns_exactly_once(
    chaos_servers: str, report: Callable[[str], None]
) -> None:
    verdict, runs = scheduler_race(chaos_servers, report, campaigns=50, schedulers=3)
    assert runs == 50
    assert verdict.problems == []
    assert (verdict.lost, verdict.duplicates) == (0, 0)
