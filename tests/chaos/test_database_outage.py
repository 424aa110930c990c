"""Scenario 3: the database goes away (a cut proxy) or stalls (a proxy that stops relaying) for seconds mid-run;
the shared server is untouched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.chaos.scenarios import database_outage

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_database_outage_loses_nothing_sends_nothing_twice_and_api_answers_503(
    chaos_servers: str, report: Callable[[str], None]
) -> None:
    verdict, answers = database_outage(chaos_servers, report, recipients=1000, duration_s=12, outage_s=4)
    assert answers == dict.fromkeys(answers, 503)
    assert verdict.problems == []
    assert (verdict.lost, verdict.duplicates, verdict.unknown) == (0, 0, 0)


def test_database_stall_loses_nothing_sends_nothing_twice_and_api_answers_503(
    chaos_servers: str, report: Callable[[str], None]
) -> None:
    # Packets held, not refused: without statement and connect limits every request hung for the stall's length.
    verdict, answers = database_outage(chaos_servers, report, recipients=1000, duration_s=12, outage_s=8, stall=True)
    assert answers == dict.fromkeys(answers, 503)
    assert verdict.problems == []
    assert (verdict.lost, verdict.duplicates, verdict.unknown) == (0, 0, 0)
