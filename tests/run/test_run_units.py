"""The pure parts of ``hub run``: the banner, which fan-outs to resume, how long a stop waits; recovery on a ledger."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from hub.config import Settings
from hub.runner import banner, fan_outs_owed, recover, stop_timeout_s
from hub.runner.banner import browsable_host
from hub.status import MessageStatus, RunState
from hub.store import queries
from hub.store.db import run_sync
from hub.store.records import NewMessage, RunRecord

T = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"), ("::1", "[::1]"), ("hub", "hub")],
)
def test_browsable_host(host: str, expected: str) -> None:
    assert browsable_host(host) == expected


def test_banner_names_the_api_its_docs_and_the_embedded_defaults(make_settings: Callable[..., Settings]) -> None:
    text = "\n".join(banner(make_settings(), host="0.0.0.0", port=8123, threads=4))
    assert "http://127.0.0.1:8123 " in text
    assert "docs       http://127.0.0.1:8123/schema" in text
    assert "redis      embedded" in text
    assert "transport  simulator (no Twilio credentials" in text
    assert "4 worker thread(s)" in text


def test_banner_redacts_passwords_and_never_shows_the_twilio_token(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        env={
            "DATABASE_URL": "postgresql://hub:db-pass-123@db:5432/hub",
            "REDIS_URL": "redis://:redis-pass-123@cache:6379/0",
            "TWILIO_ACCOUNT_SID": "AC123",
            "TWILIO_AUTH_TOKEN": "token-secret-123",
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
            "HUB_API_KEYS": "key-secret-123",
        }
    )
    text = "\n".join(banner(settings, host="127.0.0.1", port=8000, threads=8))
    assert "postgresql://hub:***@db:5432/hub" in text
    assert "redis://:***@cache:6379/0" in text
    assert "transport  twilio" in text
    for secret in ("db-pass-123", "redis-pass-123", "token-secret-123", "key-secret-123"):
        assert secret not in text


def test_stop_waits_one_twilio_timeout_plus_slack(make_settings: Callable[..., Settings]) -> None:
    assert stop_timeout_s(make_settings({"twilio": {"timeout_seconds": 7}})) == 12.0


def _run(run_id: int, *, kind: str, state: RunState, fanned_out: bool) -> RunRecord:
    return RunRecord(
        id=run_id,
        campaign="promo" if kind == "campaign" else None,
        kind=kind,
        trigger="schedule",
        fire_key=None,
        state=state,
        scheduled_at=None,
        started_at=T,
        finished_at=None,
        expires_at=None,
        fanned_out_at=T if fanned_out else None,
        created_at=T,
        total=None,
        checkpoint=0,
        git_commit=None,
        meta={},
    )


@pytest.mark.parametrize(
    ("kind", "state", "fanned_out", "owed"),
    [
        ("campaign", RunState.RUNNING, False, True),  # fan-out interrupted: resume it
        ("campaign", RunState.RUNNING, True, False),  # rows all written: the sends are the ledger's
        ("campaign", RunState.PAUSED, False, False),  # resume (hub runs resume) restarts it
        ("campaign", RunState.SCHEDULED, False, False),  # the due-runs sweep starts it
        ("bulk", RunState.RUNNING, False, False),  # API sends write their rows directly
        ("single", RunState.RUNNING, False, False),
    ],
)
def test_fan_outs_owed(kind: str, state: RunState, fanned_out: bool, owed: bool) -> None:
    assert fan_outs_owed([_run(5, kind=kind, state=state, fanned_out=fanned_out)]) == ([5] if owed else [])


def test_recover_queues_every_due_pending_row_and_nothing_else(pg_settings: Settings) -> None:
    # Given a bulk run with due, not-yet-due, claimed and rejected rows
    run, _ = run_sync(queries.create_run(kind="bulk", state=RunState.RUNNING))
    later = datetime.now(UTC) + timedelta(hours=1)
    rows = [
        NewMessage(recipient="+14155550100", body="a"),
        NewMessage(recipient="+14155550101", body="b"),
        NewMessage(recipient="+14155550102", body="c", send_at=later),
        NewMessage(recipient="+14155550103", body="d"),
        NewMessage(recipient="bad", status=MessageStatus.REJECTED, error_message="invalid"),
    ]
    ids = run_sync(queries.insert_messages(run.id, rows))
    assert run_sync(queries.claim_for_send(ids[3], datetime.now(UTC))) is not None
    queued: list[int] = []
    fan_outs: list[int] = []

    # When start-up recovery runs (an empty queue: the embedded Redis restarted)
    report = recover(enqueue_fan_out=fan_outs.append, enqueue_sends=lambda batch: queued.extend(batch))

    # Then the two due pending rows are queued; the later one, the claimed one and the rejected one are not
    assert sorted(queued) == sorted(ids[:2])
    assert fan_outs == []
    assert (report.sends, report.fan_outs) == (2, 0)


def test_recover_resumes_an_interrupted_campaign_fan_out(pg_settings: Settings) -> None:
    run, _ = run_sync(queries.create_run(kind="campaign", campaign="promo", state=RunState.RUNNING))
    done, _ = run_sync(queries.create_run(kind="campaign", campaign="other", state=RunState.RUNNING))
    run_sync(queries.update_checkpoint(done.id, 0, total=0, fanned_out=True))
    fan_outs: list[int] = []
    sends: list[Sequence[int]] = []

    report = recover(enqueue_fan_out=fan_outs.append, enqueue_sends=sends.append)

    assert fan_outs == [run.id]
    assert (report.fan_outs, sends) == (1, [])
