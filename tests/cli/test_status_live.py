"""``hub status`` on a terminal: the live view draws a bar per milestone with the run's counts."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

from rich.console import Console

from hub.cli.status import _live
from hub.config import Settings
from hub.status import MessageStatus, RunState
from hub.store import queries
from hub.store.db import run_sync
from hub.store.records import NewMessage, StatusUpdate


def _run_of_five() -> int:
    """A bulk run of 5: 1 read, 1 delivered, 1 failed, 2 still pending."""
    run, _ = run_sync(queries.create_run(kind="bulk", state=RunState.RUNNING))
    ids = run_sync(
        queries.insert_messages(run.id, [NewMessage(recipient=f"+1415555020{i}", body="hi") for i in range(5)])
    )
    now = datetime.now(UTC)
    for i, steps in enumerate([("delivered", "read"), ("delivered",)]):
        assert run_sync(queries.claim_for_send(ids[i], now)) is not None
        run_sync(queries.mark_submitted(ids[i], f"SM{i:032d}", "queued"))
        for step in steps:
            run_sync(queries.apply_status(StatusUpdate(sid=f"SM{i:032d}", status=step, at=now, source="simulator")))
    assert run_sync(queries.claim_for_send(ids[2], now)) is not None
    run_sync(queries.mark_final(ids[2], MessageStatus.FAILED, error_code=63016, error_message="outside the window"))
    return run.id


def test_live_view_shows_each_milestone_of_the_run_out_of_its_total(pg_settings: Settings) -> None:
    run_id = _run_of_five()
    console = Console(record=True, file=StringIO(), force_terminal=True, width=100)

    _live(pg_settings, str(run_id), watch=False, interval=0.0, console=console)

    words = [line.split() for line in console.export_text().splitlines() if line.strip()]
    lines = [" ".join(w) for w in words]
    # A bar line: the milestone, the bar (one run of glyphs), then reached/total.
    bars = {" ".join(w[:-2]): w[-1] for w in words if "/" in w[-1]}
    assert bars == {"handed to Twilio": "2/5", "delivered": "2/5", "read": "1/5", "failed": "1/5"}
    assert f"run {run_id} bulk send running total 5" in lines
    assert "pending 2 delivered 1 read 1 failed 1" in lines
