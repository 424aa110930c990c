"""Every error code a status callback can bring counts as it would on the create (SPEC §8, ``hub.policy.RULES``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers_store import T0, at

from hub.config import RetrySettings, Settings
from hub.policy import RULES, Effect
from hub.status import MessageStatus as S
from hub.status import RunState
from hub.store import queries as q

pytestmark = pytest.mark.anyio

US = "+14155550180"
UK = "+447700900180"
RETRIES = RetrySettings()


async def sent_run(recipient: str = US) -> tuple[int, int, int]:
    """A run with one message Twilio took as ``SMfirst`` and one still owed; returns (run, sent, owed)."""
    run, _ = await q.create_run()
    await q.set_run_state(run.id, RunState.RUNNING)
    sent, owed = await q.insert_messages(
        run.id, [q.NewMessage(recipient=recipient, body="hi"), q.NewMessage(recipient="+14155550181", body="hi")]
    )
    assert await q.claim_for_send(sent, at(1))
    assert await q.mark_submitted(sent, "SMfirst", "queued", now=at(2))
    return run.id, sent, owed


def report(code: int | None, status: str = "undelivered", seconds: float = 10) -> q.StatusUpdate:
    return q.StatusUpdate(sid="SMfirst", status=status, at=at(seconds), error_code=code, error_message=f"error {code}")


async def opted_out(phone: str) -> bool:
    contact = await q.get_contact(phone)
    return contact is not None and contact.opted_out


CODES = sorted(RULES)


@pytest.mark.parametrize("code", CODES)
async def test_every_callback_error_code_counts_as_on_the_create(pg_settings: Settings, code: int) -> None:
    recipient = UK if code == 63049 else US  # 63049 is retried outside the US only
    run_id, sent, owed = await sent_run(recipient)

    await q.apply_status(report(code), retries=RETRIES)

    rule = RULES[code]
    row = await q.get_message(sent, with_history=True)
    run = await q.get_run(run_id)
    other = await q.get_message(owed)
    assert row is not None and run is not None and other is not None
    assert await opted_out(recipient) == (rule.effect is Effect.OPT_OUT)
    if rule.effect in (Effect.FAIL, Effect.OPT_OUT):
        assert (row.status, row.sid, row.error_code) == (S.UNDELIVERED, "SMfirst", code)
        assert run.state == RunState.RUNNING
        return
    # Owed again as a new attempt: the failed one stays in the history under its own sid
    assert (row.status, row.sid, row.error_code) == (S.PENDING, None, code)
    assert {"SMfirst"} == {e.sid for e in row.history if e.sid}
    assert row.next_attempt_at is not None and row.next_attempt_at >= at(10) + timedelta(milliseconds=rule.wait_ms or 0)
    assert (run.state == RunState.PAUSED) == (rule.effect is Effect.PAUSE)
    if rule.effect is Effect.PAUSE:
        assert run.meta["paused_reason"] == rule.why
    deferred = other.next_attempt_at is not None and other.next_attempt_at >= row.next_attempt_at
    assert deferred == rule.defer_run


@pytest.mark.parametrize("code", [None, 12345, 63049])
async def test_a_final_or_unknown_code_stays_final(pg_settings: Settings, code: int | None) -> None:
    _, sent, _ = await sent_run(US)

    await q.apply_status(report(code, status="failed"), retries=RETRIES)

    row = await q.get_message(sent)
    assert row is not None and (row.status, row.sid) == (S.FAILED, "SMfirst")


async def test_a_new_attempt_is_not_made_past_the_retry_budget(pg_settings: Settings) -> None:
    _, sent, _ = await sent_run(US)

    await q.apply_status(report(30001), retries=RetrySettings(max_retries=0))

    row = await q.get_message(sent)
    assert row is not None and (row.status, row.sid) == (S.UNDELIVERED, "SMfirst")


async def test_a_duplicate_callback_reopens_the_row_once(pg_settings: Settings) -> None:
    _, sent, _ = await sent_run(US)
    await q.apply_status(report(63018), retries=RETRIES)

    assert await q.apply_status(report(63018), retries=RETRIES) == "duplicate"
    row = await q.get_message(sent, with_history=True)
    assert row is not None and [e.status for e in row.history].count("retry") == 1


async def test_a_late_report_of_the_failed_attempt_never_settles_the_new_one(pg_settings: Settings) -> None:
    _, sent, _ = await sent_run(US)
    await q.apply_status(report(63018), retries=RETRIES)

    late = q.StatusUpdate(sid="SMfirst", status="sent", at=at(11), message_id=sent)
    assert await q.apply_status(late, retries=RETRIES) == "recorded"

    row = await q.get_message(sent)
    assert row is not None and (row.status, row.sid) == (S.PENDING, None)


async def test_the_new_attempt_is_sent_with_its_own_sid(pg_settings: Settings) -> None:
    _, sent, _ = await sent_run(US)
    await q.apply_status(report(30001), retries=RETRIES)

    assert await q.claim_for_send(sent, T0 + timedelta(hours=1))
    assert await q.mark_submitted(sent, "SMsecond", "queued", now=T0 + timedelta(hours=1))

    row = await q.get_message(sent, with_history=True)
    assert row is not None and (row.status, row.sid) == (S.QUEUED, "SMsecond")
    assert {e.sid for e in row.history if e.sid} == {"SMfirst", "SMsecond"}


@pytest.mark.parametrize("code", [63014, 63018])
async def test_a_failure_reported_before_the_sid_was_stored_counts_once_it_is(pg_settings: Settings, code: int) -> None:
    run, _ = await q.create_run()
    await q.set_run_state(run.id, RunState.RUNNING)
    (message_id,) = await q.insert_messages(run.id, [q.NewMessage(recipient=US, body="hi")])
    assert await q.claim_for_send(message_id, at(1))
    early = q.StatusUpdate(sid="SMfirst", status="undelivered", at=at(2), error_code=code, message_id=message_id)
    assert await q.apply_status(early, retries=RETRIES) == "parked"

    await q.mark_submitted(message_id, "SMfirst", "queued", now=at(3))

    row = await q.get_message(message_id)
    assert row is not None
    if code == 63014:
        assert (row.status, await opted_out(US)) == (S.UNDELIVERED, True)
    else:
        assert (row.status, row.sid) == (S.PENDING, None)
