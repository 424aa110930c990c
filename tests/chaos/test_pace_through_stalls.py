"""The pace holds through a database or Redis stall mid-run: no burst above the send cap once it ends (a send's
slot is taken after every read it depends on, and a slot missed while a read hung is dropped, not spent late), and
no dip below it after (a batch delivered again reserves no slot for rows already sent, and a claim that finds fewer
rows than slots hands the spare ones to the next rows)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import pytest

from tests.chaos.scenarios import pace_through_a_stall

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PER_SECOND = 40.0
#: The most a 1-s window may hold: the cap plus 5 %, and the send of a slot up to 40 ms before the window.
MOST = math.floor(PER_SECOND * 1.05) + 1


def after_recovery(windows: dict[int, int], ended_s: float) -> list[int]:
    """The full 1-s windows after the one a stall ended in, up to the run's last (partial) window."""
    last = max(windows)
    return [windows.get(second, 0) for second in range(math.floor(ended_s) + 1, last)]


def test_windows_after_recovery_leave_out_the_stall_and_the_last_window() -> None:
    windows = {0: 40, 1: 40, 2: 5, 5: 30, 6: 40, 7: 40, 8: 12}
    assert after_recovery(windows, ended_s=5.4) == [40, 40]
    assert after_recovery(windows, ended_s=1.5) == [5, 0, 0, 30, 40, 40]


@pytest.mark.parametrize(("what", "stall_s"), [("database", 10.0), ("redis", 4.0)])
def test_the_pace_holds_at_the_cap_through_a_stall(
    chaos_servers: str, report: Callable[[str], None], what: str, stall_s: float
) -> None:
    verdict, windows, ended_s = pace_through_a_stall(
        chaos_servers, report, what=what, per_second=PER_SECOND, stall_s=stall_s
    )
    assert (verdict.lost, verdict.duplicates) == (0, 0)
    # No window above the cap, the stall's and the recovery's included (a burst of what the stall held back)
    assert max(windows.values()) <= MOST
    # After it, the pace is back at the cap: the median window at least 85 % of it. Not 95 %: on a loaded 2-core
    # machine slots woken for too late are dropped before and after a stall alike (35-38 of 40 per window at a load
    # of 8); the dip this guards against left half the windows at 40-60 % of the cap for 20 s.
    after = after_recovery(windows, ended_s)
    assert len(after) >= 4, f"too few windows after the stall to judge the pace: {windows}"
    assert statistics.median(after) >= PER_SECOND * 0.85, f"windows after the stall: {after}"
