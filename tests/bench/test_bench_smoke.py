"""Each benchmark runs once at a tiny size against the real servers, so the scripts keep working (no timings)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SMOKE_RUNS = [
    ("e2e_send.py", ["--recipients", "40", "--latency-ms", "0", "--threads", "2"], "creates/s"),
    ("fan_out_bench.py", ["--recipients", "50", "--noop-messages", "50"], "recipients/s"),
    ("webhooks_bench.py", ["--messages", "20", "--concurrency", "4", "--noop-messages", "50"], "callbacks/s"),
    (
        "pace_bench.py",
        ["--seconds", "2", "--per-second", "20", "-p", "2", "-t", "2", "--noop-messages", "50"],
        "windows",
    ),
    ("ui_pages_bench.py", ["--messages", "300", "--repeats", "1"], "slowest request"),
    (
        "journey_timers_bench.py",
        [
            "--entries",
            "200",
            "--steady-per-s",
            "500",
            "--steady-entries",
            "100",
            "--replies",
            "50",
            "--noop-messages",
            "50",
            "-p",
            "1",
            "-t",
            "2",
        ],
        "timers fired/s",
    ),
]


def _server_env(redis_url: str, postgres_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_REDIS_URL": redis_url.rsplit("/", 1)[0] if redis_url.count("/") > 2 else redis_url,
        "BENCH_PG_URL": postgres_url,
    }


@pytest.mark.parametrize(("script", "args", "figure"), SMOKE_RUNS, ids=[run[0] for run in SMOKE_RUNS])
def test_benchmark_runs_and_appends_its_section(
    script: str, args: list[str], figure: str, tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    results = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args, "--results", str(results)],
        env=_server_env(redis_url, postgres_url),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = results.read_text(encoding="utf-8")
    assert text.startswith("\n## ") and "Command: `" in text and figure in text


def test_cpu_per_send_runs_and_reports_its_medians(tmp_path: Path, redis_url: str, postgres_url: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cpu_per_send.py"), "--rows", "200", "--rounds", "1"],
        env=_server_env(redis_url, postgres_url),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "median of 1 rounds" in done.stderr and "slots reserved" in done.stderr
