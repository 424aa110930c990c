"""Apply one status report (callback, simulator, reconciliation): by its sid, else through the row it names."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from hub import policy
from hub.config import RetrySettings
from hub.status import MessageStatus, from_twilio
from hub.store.attempts import defer_owed, pause_run, reopen_for_new_attempt
from hub.store.contacts import set_opt_out
from hub.store.reconcile import resolve_by_row
from hub.store.records import StatusUpdate
from hub.store.rows import when
from hub.store.status_sql import apply_stored, record_and_apply
from hub.store.tables import Message

__all__ = ["Outcome", "apply_status", "settle_error_code"]


class Outcome(StrEnum):
    """What :func:`apply_status` did with a report."""

    APPLIED = "applied"  # the message moved to a new status
    RECORDED = "recorded"  # kept in the history; the status did not move (late, out of order, or unknown word)
    DUPLICATE = "duplicate"  # the same report was seen before; nothing stored
    PARKED = "parked"  # no message has this sid yet; applied when the worker stores it
    RECONCILED = "reconciled"  # no message had this sid; the row the callback names took it
    SECOND_SID = "second_sid"  # a second create at Twilio for the row the callback names: a duplicate, recorded


async def apply_status(update: StatusUpdate, *, retries: RetrySettings | None = None) -> str:
    """Store a status report and apply it to its message, monotonically; then its error code, if any.

    The common case is one commit (see :mod:`hub.store.status_sql`). When no message has the sid yet the event
    stays parked: the worker applies it when it stores the sid (:func:`hub.store.ledger.mark_submitted`). Because
    that may have happened between the lookup and the commit, the sid is looked up once more. Still unmatched, a
    report whose callback URL names its row is settled through that row (:mod:`hub.store.reconcile`).

    A ``failed``/``undelivered`` report that moved its row then goes through the policy table
    (:func:`hub.policy.after_callback_error`): an opt-out code opts the contact out; a "not now" code makes the
    row owed again as a new attempt (and may defer its run); a sender-level code also pauses the run.

    Args:
        update: the report.
        retries: ``retries.*`` (budget and backoff of new attempts); the defaults when None.

    Returns:
        An :class:`Outcome` value.
    """
    outcome = await _apply(update)
    if outcome in (Outcome.APPLIED, Outcome.RECONCILED) and update.error_code is not None:
        await _after_error_code(update, retries or RetrySettings())
    return outcome.value


async def _apply(update: StatusUpdate) -> Outcome:
    done = await record_and_apply(update, from_twilio(update.status))
    if done.event_id is None:
        return Outcome.DUPLICATE
    if done.moved:
        return Outcome.APPLIED
    if done.message_id is not None:
        return Outcome.RECORDED
    # The sid may have been stored since the statement looked: apply the stored report to that message.
    again = await apply_stored(done.event_id, update, from_twilio(update.status))
    if again.message_id is not None:
        return Outcome.APPLIED if again.moved else Outcome.RECORDED
    if update.message_id is not None:
        return Outcome(await resolve_by_row(done.event_id, update))
    return Outcome.PARKED


_FAILED = (MessageStatus.FAILED.value, MessageStatus.UNDELIVERED.value)


async def _after_error_code(update: StatusUpdate, retries: RetrySettings) -> None:
    """Apply the policy table to an error code a callback brought (the row now failed/undelivered under its sid)."""
    assert update.error_code is not None
    await settle_error_code(update.sid, update.error_code, update.error_message, when(update.at), retries)


async def settle_error_code(
    sid: str, code: int, message: str | None, at: datetime, retries: RetrySettings | None = None
) -> None:
    """What Twilio's error ``code`` for ``sid`` does beyond the row's status, by the policy table: opt the contact
    out, make the row owed again as a new attempt (deferring its run), or pause its run. Only while the row holding
    ``sid`` is ``failed``/``undelivered`` (a duplicate, or a row already reopened, changes nothing).

    Also called when reports parked before the sid was stored are applied (:func:`hub.store.ledger.mark_submitted`).
    """
    row = (
        await Message.select(Message.id, Message.run, Message.recipient, Message.attempts, Message.status)
        .where(Message.sid == sid)
        .first()
    )
    if row is None or row["status"] not in _FAILED:
        return
    decision = policy.after_callback_error(
        code, message=message, attempts=row["attempts"], retries=retries or RetrySettings(), to=row["recipient"]
    )
    if decision is None:
        return
    if decision.opt_out:
        await set_opt_out(row["recipient"], source=f"twilio:{code}")
    if decision.action not in ("retry", "throttle", "pause"):
        return
    until = at + timedelta(milliseconds=decision.delay_ms)
    reason = decision.reason or f"Twilio error {code}"
    if not await reopen_for_new_attempt(row["id"], sid, next_attempt_at=until, error_code=code, reason=reason):
        return
    if decision.defer_run:
        await defer_owed(row["run"], until)
    if decision.action == "pause":
        await pause_run(row["run"], reason)
