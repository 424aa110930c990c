"""Operator commands on PostgreSQL: ``hub runs list``, ``hub status RUN`` details, ``hub export``."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from hub.cli import main
from hub.config import Settings
from hub.status import MessageStatus as S
from hub.status import RunState
from hub.store import queries, reports
from hub.store.db import run_sync


def hub(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(settings.root / "config.yaml"), *args], catch_exceptions=False)


def _run(campaign: str, state: RunState = RunState.RUNNING, rows: list[queries.NewMessage] | None = None) -> int:
    run, _ = run_sync(queries.create_run(campaign=campaign, state=state))
    if rows:
        run_sync(queries.insert_messages(run.id, rows))
    return run.id


def _ids(result: Result) -> list[int]:
    return [int(line.split()[0]) for line in result.stdout.splitlines()[1:] if line.split()[0].isdigit()]


def test_runs_list_shows_runs_newest_first_filtered_by_campaign_and_state(pg_settings: Settings) -> None:
    a1 = _run("a", rows=[queries.NewMessage(recipient="+14155550100", body="hi")])
    a2 = _run("a", RunState.PAUSED)
    _run("a", RunState.FINISHED)
    _run("b")
    result = hub(pg_settings, "runs", "list", "--campaign", "a", "--state", "running", "--state", "paused")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].split()[:3] == ["RUN", "CAMPAIGN", "STATE"]
    assert _ids(result) == [a2, a1]
    assert result.stdout.splitlines()[2].split()[:4] == [str(a1), "a", "running", "1"]


def test_runs_list_pages_with_a_cursor(pg_settings: Settings) -> None:
    ids = [_run("a") for _ in range(3)]
    first = hub(pg_settings, "runs", "list", "--limit", "2")
    more = first.stdout.splitlines()[-1]
    assert more.startswith("more: hub runs list --cursor ")
    second = hub(pg_settings, "runs", "list", *more.split()[4:])
    assert (_ids(first), _ids(second)) == ([ids[2], ids[1]], [ids[0]])


def test_status_of_a_run_groups_failures_by_error_code_and_says_why_rows_wait(pg_settings: Settings) -> None:
    now = datetime.now(UTC)
    run_id = _run(
        "sale",
        rows=[
            queries.NewMessage(recipient="+14155550100", status=S.FAILED, error_code=63016, error_message="Outside"),
            queries.NewMessage(recipient="+14155550101", status=S.FAILED, error_code=63016, error_message="Outside"),
            queries.NewMessage(recipient="+14155550102", status=S.FAILED, error_code=21211, error_message="Invalid To"),
            queries.NewMessage(recipient="+14155550103", body="hi"),
            queries.NewMessage(recipient="+14155550104", body="hi", send_at=now + timedelta(hours=2)),
        ],
    )
    waiting = run_sync(queries.list_messages(to="+14155550103"))[0][0].id
    assert run_sync(queries.claim_for_send(waiting, now))
    run_sync(
        queries.release_for_retry(
            waiting,
            next_attempt_at=now + timedelta(minutes=30),
            error_code=None,
            error_message="per-recipient limit reached; waiting for the window",
            count_attempt=False,
        )
    )
    lines = hub(pg_settings, "status", str(run_id)).stdout.splitlines()
    details = lines[lines.index("  failures:") :]
    assert details[:3] == [
        "  failures:",
        "    2 failed 63016: Outside (e.g. +14155550100)",
        "    1 failed 21211: Invalid To (e.g. +14155550102)",
    ]
    assert details[3] == "  waiting:"
    assert sorted(line.split(" (next at")[0] for line in details[4:]) == [
        "    1 outside the send window (quiet hours)",
        "    1 per-recipient limit reached",
    ]


def test_status_of_a_paused_run_shows_no_eta(pg_settings: Settings) -> None:
    now = datetime.now(UTC)
    rows = [queries.NewMessage(recipient=f"+1415555010{i}", body="hi") for i in range(3)]
    run_id = _run("sale", rows=rows)
    first = run_sync(queries.list_messages(run_id=run_id))[0][-1].id
    assert run_sync(queries.claim_for_send(first, now))
    assert run_sync(queries.mark_submitted(first, "SM1", "queued", now=now))
    running = hub(pg_settings, "status", str(run_id)).stdout.splitlines()[2]
    run_sync(queries.set_run_state(run_id, RunState.PAUSED))
    paused = hub(pg_settings, "status", str(run_id)).stdout.splitlines()[2]
    assert "eta -" not in running
    assert paused.endswith("eta -")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_writes_every_row_of_the_run_reading_it_in_pages(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setattr(reports, "EXPORT_PAGE", 400)
    pages: list[int] = []
    real = reports.export_page

    async def counting(run_id: int, after: tuple[str, int] | None, limit: int) -> list[queries.MessageRecord]:
        page = await real(run_id, after, limit)
        pages.append(len(page))
        return page

    monkeypatch.setattr(reports, "export_page", counting)
    numbers = [f"+1415555{i:04d}" for i in range(3000)]
    run_id = _run("sale", rows=[queries.NewMessage(recipient=p, body=f"hi {p}") for p in numbers])
    _run("other", rows=[queries.NewMessage(recipient=numbers[0], body="not this run")])
    result = hub(pg_settings, "export", str(run_id), "--format", fmt)
    assert result.exit_code == 0
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
    else:
        rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(row["to"], row["status"], row["body"]) for row in rows] == [(p, "pending", f"hi {p}") for p in numbers]
    assert pages == [400] * 7 + [200]  # bounded queries, never the whole run at once


def test_export_to_a_file(pg_settings: Settings) -> None:
    run_id = _run("sale", rows=[queries.NewMessage(recipient="+14155550100", body="hi")])
    target = pg_settings.root / "out.csv"
    result = hub(pg_settings, "export", str(run_id), "-o", str(target))
    assert (result.exit_code, result.stderr) == (0, f"run {run_id} exported to {target}\n")
    assert target.read_text(encoding="utf-8").splitlines()[1].split(",")[1:3] == ["+14155550100", "pending"]


def test_export_of_an_unknown_run_is_one_line(pg_settings: Settings) -> None:
    result = hub(pg_settings, "export", "424242")
    assert (result.exit_code, result.stderr) == (1, "error: no run 424242; see `hub runs list`\n")
