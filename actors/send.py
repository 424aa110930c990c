"""``send_message(message_id)``: claim one ledger row, hand it to the transport, and record what happened."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq

from actors import runtime
from actors.enqueue import enqueue_rows, run_send_options, send_options
from actors.holds import run_states
from actors.middleware.retries import ClaimAbandoned
from actors.outcome import (
    OUTSIDE_WINDOW_CODE,
    OUTSIDE_WINDOW_REASON,
    after_error,
    business_initiated,
    outside_session_window,
)
from hub.claims import Claim, send_deadline
from hub.errors import SendError
from hub.rendering import OutboundMessage
from hub.status import MessageStatus
from hub.store import queries
from hub.store.records import ContactRecord, MessageRecord
from hub.templates import guard as template_guard
from hub.twilio_rules import TEMPLATE_TOO_LONG_CODE, validity_period_s
from hub.webhooks import status_callback_url
from scheduler.budget import BUDGET_WINDOW
from scheduler.tier_budget import AsyncTierBudget, budget_key

log = logging.getLogger(__name__)

#: The queue of ``send_message`` (``fan_out_run`` uses ``default``), so workers can be split by role.
SEND_QUEUE = "send"
#: Seconds a send may take end to end; Dramatiq interrupts it past this (the row then waits for the sweeper).
SEND_TIME_LIMIT_MS = 120_000
#: A row due within this long is re-enqueued with the exact delay; later ones wait for the sweeper.
SHORT_DELAY = timedelta(minutes=1)
#: Seconds a worker keeps trying to give back a claim it could not use while the database is unreachable.
RELEASE_PATIENCE_S = 30.0


def _now() -> datetime:
    return datetime.now(UTC)


@dramatiq.actor(actor_name="send_message", queue_name=SEND_QUEUE, throttled=True, time_limit=SEND_TIME_LIMIT_MS)
async def send_message(message_id: int) -> None:
    """Send ledger row ``message_id`` at most once.

    A second delivery of the same Dramatiq message (or a stray duplicate) finds the row claimed and does
    nothing. Every classified failure is settled in the ledger here; see :mod:`actors.middleware.retries`.
    """
    asked_at = runtime.current().clock()
    now = _now()
    try:
        record = await queries.claim_for_send(message_id, now)
    except Exception:
        # The claim may have committed with only its answer lost (the connection died mid-statement): a claim
        # stamped ``now`` is this call's alone and nothing reached Twilio, so give it back; otherwise the row would
        # sit in ``sending``, unclaimable by the retry, until the sweeper gave up on it as ``unknown``.
        await _release_token(message_id, now)
        raise
    if record is None:
        await _not_claimed(message_id, now)
        return
    await _send_claimed(record, claim_of(record, now, asked_at))


def claim_of(record: MessageRecord, now: datetime, asked_at: float) -> Claim:
    """This worker's claim on ``record``, stamped ``now``, asked for at monotonic ``asked_at``."""
    deadline = send_deadline(runtime.current().settings.twilio.timeout_seconds)
    return Claim(record.id, now, asked_at, deadline.total_seconds())


async def _not_claimed(message_id: int, now: datetime) -> None:
    """The claim failed: already taken or final (do nothing), or pending but not yet due (come back then)."""
    current = await queries.get_message(message_id)
    if current is None or current.status != MessageStatus.PENDING:
        return
    due = max(t for t in (current.send_at, current.next_attempt_at, now) if t is not None)
    # Soon: come back exactly then. Later: not parked in Redis; the sweeper enqueues it once it is due.
    if now < due <= now + SHORT_DELAY:
        await _enqueue(message_id, current.run_id, delay_ms=_ms(due - now))
    # Pending and due but not claimable: its run is paused or canceled. Resume re-enqueues (or the sweeper does).


#: Called right before the HTTP call of a claimed row; False when it gave the row back (no send slot in time).
Pace = Callable[[MessageRecord, Claim], Awaitable[bool]]


async def _send_claimed(
    record: MessageRecord,
    claim: Claim,
    *,
    contacts: Mapping[str, ContactRecord] | None = None,
    pace: Pace | None = None,
) -> None:
    """Send one claimed row and settle it: the per-row logic shared by ``send_message`` and ``send_batch``.

    Every write names ``claim`` (a row claimed again since is left alone), and the HTTP call starts only while
    the claim's lease holds (:mod:`hub.claims`).

    Args:
        record: the row, claimed by this call.
        claim: the claim (its instant is the ``now`` of the checks).
        contacts: the batch's contacts by phone (read once for the batch); None reads this row's contact.
        pace: takes the send slot immediately before the HTTP call (``send_batch``); ``send_message`` is paced by
            the throttle before its claim.
    """
    rt = runtime.current()
    settings = rt.settings
    now = claim.token
    reached_transport = False
    try:
        # A rejected/paused/disabled template pauses the run and gives the row back (hub.templates.guard).
        if await template_guard.hold_if_blocked(
            record.id, record.run_id, record.content_sid, claimed_at=now, settings=settings
        ):
            return
        too_long = template_guard.cached_text_refusal(record.content_sid, record.content_variables)
        if too_long is not None:  # Twilio would take it and fail it (63021): refused here, nothing sent
            await _final(claim, MessageStatus.FAILED, TEMPLATE_TOO_LONG_CODE, too_long)
            return
        if contacts is None:
            contact = await queries.get_contact(record.recipient)
        else:
            contact = contacts.get(record.recipient)
        if contact is not None and contact.opted_out:
            await _final(claim, MessageStatus.SKIPPED, None, "contact opted out")
            return
        last_inbound = contact.last_inbound_at if contact is not None else None
        if outside_session_window(
            content_sid=record.content_sid,
            last_inbound_at=last_inbound,
            now=now,
            enforce=settings.session_window.enforce,
        ):
            await _final(claim, MessageStatus.FAILED, OUTSIDE_WINDOW_CODE, OUTSIDE_WINDOW_REASON)
            return
        if await _over_tier_budget(rt, record, claim, last_inbound):
            return
        if await _over_recipient_limit(rt, record, claim):
            return
        if pace is not None and not await pace(record, claim):
            return
        assert rt.transport is not None, "the worker's transport is not started"
        if not claim.may_send(rt.clock()):
            # Stalled (stopped, starved, a long GC) until its lease ran out: the row may be someone else's now.
            log.warning("message %r: claim lease ran out before the send; given back if still ours", record.id)
            await _release_quietly(claim)
            return
        reached_transport = True
        callback = status_callback_url(settings.public_url, record.id)  # names the row: see hub.store.reconcile
        run = await run_states(rt).get(record.run_id)  # cached: the batch's pace hook has just read it
        validity = validity_period_s(run.expires_at if run is not None else None, _now())
        receipt = await rt.transport.send(_outbound(record, validity), status_callback=callback)
    except SendError as exc:
        if not await template_guard.hold_after_error(record.id, record.run_id, record.content_sid, exc, claimed_at=now):
            await _settle_error(record, claim, exc)
        return
    except BaseException as exc:
        if reached_transport:
            # Twilio may have the message: never release the claim; the sweeper marks it unknown.
            log.exception("send of message %r failed after the transport was called; left to the sweeper", record.id)
            raise ClaimAbandoned(f"message {record.id}: unexpected error after the send call") from exc
        # Nothing reached Twilio: give the row back and let Dramatiq retry (a database or Redis outage).
        await _release_quietly(claim)
        raise
    # Twilio has the message: record its sid even across a short database outage (else the row ends ``unknown``).
    submitted: list[MessageRecord | None] = []

    async def submit() -> None:
        submitted.append(await queries.mark_submitted(record.id, receipt.sid, receipt.status, claimed_at=now))

    if not await _patiently(submit):
        raise ClaimAbandoned(f"message {record.id}: sent as {receipt.sid} but the ledger could not record it")
    if submitted[-1] is None:
        log.error("message %r: sent as %s after its claim was taken: the row was not written", record.id, receipt.sid)


async def _over_recipient_limit(rt: runtime.Runtime, record: MessageRecord, claim: Claim) -> bool:
    """Record this send in the recipient's window; when it is full, put the row back until it has room."""
    limit = rt.settings.rate_limits.per_recipient
    if rt.recipients is None or limit.max <= 0:
        return False
    wait_ms = await rt.recipients.wait_ms(
        record.recipient, record.id, max_sends=limit.max, window_s=limit.window_seconds
    )
    if wait_ms <= 0:
        return False
    until = claim.token + timedelta(milliseconds=wait_ms)
    await _wait(record, claim, until, "per-recipient limit reached; waiting for the window")
    return True


async def _over_tier_budget(
    rt: runtime.Runtime, record: MessageRecord, claim: Claim, last_inbound: datetime | None
) -> bool:
    """Count a business-initiated message's recipient in the daily tier budget; when it is used up, put the row
    back until a slot frees up (``rate_limits.daily_unique_recipients``, shared by every worker through Redis)."""
    cap = rt.settings.rate_limits.daily_unique_recipients
    now = claim.token
    if cap is None or rt.recipients is None or not business_initiated(last_inbound_at=last_inbound, now=now):
        return False
    budget = AsyncTierBudget(rt.recipients.client, cap=cap, key=budget_key(rt.namespace))
    allowed, until = await budget.acquire(record.recipient, now)
    if allowed:
        return False
    until = until or now + BUDGET_WINDOW  # a cap of 0 frees nothing: look again a window later, never drop
    reason = f"daily tier budget of {cap} unique recipients used up; waiting until {until.isoformat()}"
    log.info("message %r: %s", record.id, reason)
    await _wait(record, claim, until, reason)
    return True


async def _wait(record: MessageRecord, claim: Claim, until: datetime, reason: str) -> None:
    """Give a claimed row back until ``until`` without using up a send attempt (it never reached Twilio).

    Soon: re-enqueued with exactly that delay. Later: not parked in Redis; the sweeper enqueues it once due.
    """
    released = await queries.release_for_retry(
        record.id,
        next_attempt_at=until,
        error_code=None,
        error_message=reason,
        count_attempt=False,
        claimed_at=claim.token,
    )
    wait = until - _now()
    if released is not None and wait <= SHORT_DELAY:
        await _enqueue(record.id, record.run_id, delay_ms=_ms(wait))


async def _settle_error(record: MessageRecord, claim: Claim, exc: SendError) -> None:
    """Settle a failed create by the policy table (:mod:`hub.policy`): retry, throttle, fail, unknown or pause."""
    retries = runtime.current().settings.retries
    outcome = after_error(exc, attempts=record.attempts, retries=retries, to=record.recipient)
    if outcome.action in ("retry", "throttle", "pause"):
        # Owed again. A rate limit or a paused sender is not an attempt: it never uses up the retry budget.
        counted = outcome.action == "retry"
        log.info("message %r: %s (%s); again in %d ms", record.id, outcome.action, exc.message, outcome.delay_ms)
        until = _now() + timedelta(milliseconds=outcome.delay_ms)
        released = await queries.release_for_retry(
            record.id,
            next_attempt_at=until,
            error_code=outcome.code,
            error_message=outcome.reason,
            count_attempt=counted,
            claimed_at=claim.token,
        )
        if released is None:
            return
        if outcome.action == "pause":
            await queries.pause_run(record.run_id, outcome.reason or exc.message)  # resume queues its rows again
            return
        if outcome.defer_run:
            await queries.defer_owed(record.run_id, until)
        await _enqueue(record.id, record.run_id, delay_ms=outcome.delay_ms)
        return
    status = MessageStatus.UNKNOWN if outcome.action == "unknown" else MessageStatus.FAILED
    await _final(claim, status, outcome.code, outcome.reason)
    if outcome.opt_out:
        await queries.set_opt_out(record.recipient, source=f"twilio:{outcome.code}")


async def _final(claim: Claim, status: MessageStatus, code: int | None, reason: str | None) -> None:
    await queries.mark_final(
        claim.message_id,
        status,
        error_code=code,
        error_message=reason,
        from_states=[MessageStatus.SENDING],
        claimed_at=claim.token,
    )


async def _release_quietly(claim: Claim) -> None:
    """Give back this worker's claim when it is still its own (nothing reached Twilio); past the store's patience
    the sweeper settles the row."""
    await _release_token(claim.message_id, claim.token)


async def _release_token(message_id: int, claimed_at: datetime) -> None:
    def release() -> Awaitable[object]:
        return queries.release_for_retry(
            message_id,
            next_attempt_at=claimed_at,
            error_code=None,
            error_message=None,
            count_attempt=False,
            claimed_at=claimed_at,
        )

    if not await _patiently(release):
        log.warning("could not release the claim on message %r; the sweeper will settle it", message_id)


async def _patiently(write: Callable[[], Awaitable[object]]) -> bool:
    """Run a ledger write, again while the store is unreachable, for up to :data:`RELEASE_PATIENCE_S`.

    For writes that must not be lost to a short database outage and are safe to repeat (compare-and-set).

    Returns:
        Whether the write went through.
    """
    delay_s = 0.1
    deadline = time.monotonic() + RELEASE_PATIENCE_S
    while True:
        try:
            await write()
            return True
        except Exception:  # the store is what failed: wait for it, a database outage is usually short
            if time.monotonic() + delay_s > deadline:
                return False
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 2.0)


async def _enqueue(message_id: int, run_id: int, *, delay_ms: int) -> None:
    """Send ``send_message(message_id)`` again after ``delay_ms``, with the run's throttle options."""
    run = await queries.get_run(run_id)
    options: dict[str, Any] = (
        send_options(run_id, {})
        if run is None
        else await asyncio.to_thread(run_send_options, run, runtime.current().settings)  # may read campaign files
    )
    send_message.send_with_options(args=(message_id,), delay=max(0, int(delay_ms)), **options)


def _outbound(record: MessageRecord, validity_period_s: int | None = None) -> OutboundMessage:
    return OutboundMessage(
        to=record.recipient,
        body=record.body,
        content_sid=record.content_sid,
        content_variables=record.content_variables,
        media_url=list(record.media_url),
        validity_period_s=validity_period_s,
    )


def _ms(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() * 1000))


def enqueue_sends(message_ids: list[int], *, run_id: int | None = None, meta: dict[str, Any] | None = None) -> int:
    """Enqueue the sends of ``message_ids``, pipelined (the API's and start-up recovery's entry point; see
    :func:`actors.enqueue.enqueue_rows`).

    Args:
        message_ids: ledger row ids (owed rows).
        run_id: their run, when they share one and it may carry its own rate cap.
        meta: that run's meta (``rate_limit.per_second``).

    Returns:
        How many messages were enqueued.
    """
    options = send_options(run_id, meta or {}) if run_id is not None else {}
    return enqueue_rows(message_ids, options=options)


__all__ = ["SEND_QUEUE", "enqueue_sends", "send_message"]
