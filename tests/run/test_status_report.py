"""``hub status`` off a terminal: one plain report per run with the funnel's counts, rate and ETA."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from hub.cli import main
from hub.config import Settings
from hub.status import MessageStatus, RunState
from hub.store import queries
from hub.store.db import run_sync
from hub.store.records import NewMessage, StatusUpdate


def _ledger_with_a_funnel() -> int:
    """A bulk run of 6: 2 read, 1 delivered, 1 sent, 1 failed, 1 still pending."""
    run, _ = run_sync(queries.create_run(kind="bulk", state=RunState.RUNNING))
    ids = run_sync(
        queries.insert_messages(run.id, [NewMessage(recipient=f"+1415555010{i}", body="hi") for i in range(6)])
    )
    reached = ["read", "read", "delivered", "sent"]
    for i, status in enumerate(reached):
        now = datetime.now(UTC)
        assert run_sync(queries.claim_for_send(ids[i], now)) is not None
        run_sync(queries.mark_submitted(ids[i], f"SM{i:032d}", "queued"))
        for step in ("sent", "delivered", "read")[: ("sent", "delivered", "read").index(status) + 1]:
            update = StatusUpdate(sid=f"SM{i:032d}", status=step, at=now, source="simulator")
            run_sync(queries.apply_status(update))
    assert run_sync(queries.claim_for_send(ids[4], datetime.now(UTC))) is not None
    run_sync(queries.mark_final(ids[4], MessageStatus.FAILED, error_code=63016, error_message="outside the window"))
    return run.id


def test_status_of_a_run_prints_counts_per_state_rate_and_eta(pg_settings: Settings) -> None:
    run_id = _ledger_with_a_funnel()
    config = pg_settings.root / "config.yaml"

    result = CliRunner().invoke(main, ["--config", str(config), "status", str(run_id)])

    assert result.exit_code == 0, result.output
    header, counts, tail, *details = result.output.splitlines()
    assert header == f"run {run_id}  bulk send  running  total 6"
    assert counts.split() == ["pending", "1", "sent", "1", "delivered", "1", "read", "2", "failed", "1"]
    assert tail.split()[0] == "rate" and "owed 1" in tail and "eta" in tail
    assert details == [
        "  failures:",
        "    1 failed 63016: outside the window (e.g. +14155550104)",
        "  waiting:",
        "    1 due now",
    ]


def test_status_without_runs_says_so(pg_settings: Settings) -> None:
    config = pg_settings.root / "config.yaml"
    result = CliRunner().invoke(main, ["--config", str(config), "status"])
    assert (result.exit_code, result.output.strip()) == (0, "no runs yet")
