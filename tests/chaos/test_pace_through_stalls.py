"""A database or Redis stall mid-run does not release a burst above the send cap once it ends: a send's slot is
taken after every read it depends on, and a slot missed while a read hung is dropped, not spent late."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from tests.chaos.scenarios import pace_through_a_stall

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PER_SECOND = 40.0


@pytest.mark.parametrize("what", ["database", "redis"])
def test_a_stall_releases_no_burst_above_the_cap(chaos_servers: str, report: Callable[[str], None], what: str) -> None:
    verdict, windows = pace_through_a_stall(chaos_servers, report, what=what, per_second=PER_SECOND)
    assert (verdict.lost, verdict.duplicates) == (0, 0)
    # Every 1-s window within 5 % of the cap (a window may also hold the send of a slot up to 40 ms before it)
    assert max(windows.values()) <= math.floor(PER_SECOND * 1.05) + 1
