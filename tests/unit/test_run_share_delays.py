"""A run's batches are queued at the run's pace (pure): the delay of each is the time the ones before it take."""

from __future__ import annotations

import pytest

from hub.run_share import LEAD_MS, MAX_SPREAD_MS, batch_delays_ms


@pytest.mark.parametrize(
    ("sizes", "run_rate", "per_second", "expected"),
    [
        pytest.param([100] * 6, 20.0, 80.0, [0, 2000, 7000, 12000, 17000, 22000], id="capped-at-its-cap"),
        pytest.param([100] * 6, None, 80.0, [0, 0, 0, 750, 2000, 3250], id="uncapped-at-the-sender-cap"),
        pytest.param([100] * 4, 200.0, 80.0, [0, 0, 0, 750], id="cap-above-the-sender-is-the-sender"),
        pytest.param([100, 100, 40, 100], 10.0, 80.0, [0, 7000, 17000, 21000], id="a-short-batch-takes-less"),
        pytest.param([100], 0.001, 80.0, [0], id="the-first-batch-goes-now"),
        pytest.param([], 20.0, 80.0, [], id="no-batches"),
    ],
)
def test_batch_delays(sizes: list[int], run_rate: float | None, per_second: float, expected: list[float]) -> None:
    assert batch_delays_ms(sizes, run_rate, per_second) == expected


def test_a_long_run_is_spread_over_at_most_the_maximum() -> None:
    delays = batch_delays_ms([100] * 100, 1.0, 80.0)
    assert delays[-1] == MAX_SPREAD_MS
    assert delays[36] == 36 * 100_000 - LEAD_MS
    assert delays == sorted(delays)
