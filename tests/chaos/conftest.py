"""Chaos fixtures: the scenario report (printed in pytest's summary and appended to a file) and the servers' gate."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.chaos import harness

_LINES = pytest.StashKey[list[str]]()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``report(line)``: what a scenario tried and counted; shown in the terminal summary whatever ``-s`` says,
    and appended to ``$HUB_CHAOS_REPORT`` (default: ``chaos-report.txt`` in pytest's base temp folder)."""
    config = request.config
    lines = config.stash.setdefault(_LINES, [])
    default = Path(str(config._tmp_path_factory.getbasetemp())) / "chaos-report.txt"  # type: ignore[attr-defined]
    path = Path(os.environ.get("HUB_CHAOS_REPORT", default))

    def write(line: str) -> None:
        entry = f"{request.node.name}: {line}"
        lines.append(entry)
        with path.open("a", encoding="utf-8") as out:
            out.write(entry + "\n")

    return write


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(_LINES, [])
    if lines:
        terminalreporter.section("chaos scenarios")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def chaos_servers(redis_url: str, postgres_url: str) -> str:
    """Gate of the process scenarios (real Redis and PostgreSQL, like every integration test); returns the
    PostgreSQL admin URL. Each scenario runs its own ``redis-server`` so it may restart and flush it."""
    if not harness.private_redis_available():
        pytest.fail("redis-server is not installed: the chaos scenarios start their own")
    return postgres_url
