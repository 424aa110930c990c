"""How many owed rows of a run the queue holds (pure): a few batches' worth, the rest stays in the ledger."""

from __future__ import annotations

import pytest

from hub.run_share import room, window_rows


@pytest.mark.parametrize(
    ("run_rate", "per_second", "batch_size", "expected"),
    [
        pytest.param(20.0, 80.0, 100, 200, id="capped-two-batches"),
        pytest.param(None, 80.0, 100, 200, id="uncapped-two-batches-at-80"),
        pytest.param(None, 400.0, 100, 1000, id="a-high-cap-keeps-its-seconds"),
        pytest.param(1000.0, 80.0, 100, 200, id="a-cap-above-the-sender-is-the-sender"),
        pytest.param(20.0, 80.0, 1, 50, id="batches-of-one"),
    ],
)
def test_window_rows(run_rate: float | None, per_second: float, batch_size: int, expected: int) -> None:
    assert window_rows(run_rate, per_second, batch_size) == expected


@pytest.mark.parametrize(("window", "queued", "expected"), [(200, 0, 200), (200, 150, 50), (200, 260, 0)])
def test_room(window: int, queued: int, expected: int) -> None:
    assert room(window, queued) == expected
