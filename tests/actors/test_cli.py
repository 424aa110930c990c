"""CLI edges of the pipeline: worker command line and refusal, ``--at`` parsing, the status report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.cli.send import parse_at
from hub.cli.status import budget_line, describe, milestone_counts
from hub.cli.worker import EMBEDDED_REFUSED, dramatiq_command
from hub.status import RunState
from hub.store.records import RunProgress, RunRecord

T = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_worker_refuses_embedded_redis(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("redis: {url: embedded}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "config.yaml"), "worker"])
    assert result.exit_code == 2
    assert EMBEDDED_REFUSED in result.output


def test_dramatiq_command_names_the_boot_module_and_sizes() -> None:
    command = dramatiq_command(2, 8, ("send",))
    assert command[1:] == ["-m", "dramatiq", "actors.boot", "--processes", "2", "--threads", "8", "--queues", "send"]


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-12-01T09:00:00+01:00", "UTC", T),
        ("2026-12-01T09:00", "Europe/Berlin", T),
        ("2026-12-01T08:00", "UTC", T),
    ],
)
def test_parse_at(text: str, tz: str, expected: datetime) -> None:
    assert parse_at(text, tz) == expected


def test_parse_at_rejects_garbage() -> None:
    with pytest.raises(click.BadParameter):
        parse_at("tomorrow-ish", "UTC")


def _progress(counts: dict[str, int]) -> RunProgress:
    run = RunRecord(
        id=7,
        campaign="promo",
        kind="campaign",
        trigger="cli",
        fire_key=None,
        state=RunState.RUNNING,
        scheduled_at=None,
        started_at=T,
        finished_at=None,
        expires_at=None,
        fanned_out_at=None,
        created_at=T,
        total=10,
        checkpoint=10,
        git_commit=None,
        meta={},
    )
    owed = counts.get("pending", 0)
    return RunProgress(
        run=run,
        counts=counts,
        total=10,
        owed=owed,
        rate_per_second=2.0,
        eta_seconds=owed / 2 if owed else None,
        window_s=60.0,
    )


def test_describe_lists_counts_rate_and_eta() -> None:
    lines = describe(_progress({"pending": 4, "delivered": 3, "read": 2, "failed": 1}))
    assert lines[0] == "run 7  promo  running  total 10"
    assert lines[1] == "  pending 4  delivered 3  read 2  failed 1"
    assert lines[2] == "  rate 2.0/s (last 60 s)  owed 4  eta 2 s"


def test_milestones_count_messages_that_got_at_least_that_far() -> None:
    counts = milestone_counts(_progress({"pending": 4, "delivered": 3, "read": 2, "failed": 1}))
    assert counts == {"handed to Twilio": 5, "delivered": 5, "read": 2, "failed": 1}


@pytest.mark.parametrize(
    ("used", "next_slot_at", "expected"),
    [
        (400, None, "tier budget: 400/1000 new recipients in the last 24 h"),
        (
            1000,
            T + timedelta(hours=3),
            "tier budget: 1000/1000 new recipients in the last 24 h; exhausted: new recipients wait until "
            "2026-12-01 11:00:00 UTC (in 3.0 h)",
        ),
    ],
    ids=["room-left", "exhausted"],
)
def test_budget_line(used: int, next_slot_at: datetime | None, expected: str) -> None:
    assert budget_line(1000, used, next_slot_at, T) == expected
