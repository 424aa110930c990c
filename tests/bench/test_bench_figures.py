"""The benchmarks' pure arithmetic: pace windows, steady rates, goals."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench_module(name: str) -> ModuleType:
    # bench/ holds scripts, not a package: its modules import each other by bare name.
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        ([], []),
        ([10.0], []),
        ([10.0, 10.5, 11.0, 11.2, 12.1], [2, 2]),
        ([10.0, 10.9, 11.95], [2]),
        ([5.0, 5.1, 7.5], [2, 0]),
    ],
)
def test_windows_count_full_seconds_from_the_first_create(stamps: list[float], expected: list[int]) -> None:
    assert _bench_module("pace_bench").windows(stamps) == expected


@pytest.mark.parametrize(
    ("series", "total", "expected"),
    [
        ([(0.0, 0), (1.0, 10), (9.0, 90), (10.0, 100)], 100, 80 / 8),
        ([(0.0, 0), (1.0, 100)], 100, 100.0),
        ([(0.0, 0), (0.5, 95), (2.0, 100)], 100, 50.0),
        ([(0.0, 0), (1.0, 5)], 100, 0.0),
    ],
)
def test_steady_rate_spans_ten_to_ninety_percent_else_overall(
    series: list[tuple[float, int]], total: int, expected: float
) -> None:
    assert _bench_module("bench_common").steady_rate(series, total) == pytest.approx(expected)


@pytest.mark.parametrize(("latency_ms", "goal"), [(150.0, 1000.0), (0.0, 1500.0), (100.0, 1000.0), (20.0, 1500.0)])
def test_e2e_goal_follows_the_fake_latency(latency_ms: float, goal: float) -> None:
    assert _bench_module("e2e_send").goal_for(latency_ms) == goal
