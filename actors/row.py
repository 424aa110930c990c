"""One claimed ledger row through the send path: the checks, the slot, the HTTP call, and what it settles.

The row is claimed by a batch (:mod:`actors.batch`; a single send is a batch of one). Every write names the claim
(:mod:`hub.claims`), so a row claimed again elsewhere is left alone; every classified failure is settled in the
ledger here (see :mod:`actors.middleware.retries`); waits and retries go back to the queue through ``requeue``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from actors import runtime
from actors.holds import run_states
from actors.middleware.retries import ClaimAbandoned
from actors.outcome import (
    OUTSIDE_WINDOW_CODE,
    OUTSIDE_WINDOW_REASON,
    after_error,
    business_initiated,
    outside_session_window,
)
from hub.budget import BUDGET_WINDOW
from hub.claims import Claim, send_deadline
from hub.errors import SendError
from hub.rendering import OutboundMessage
from hub.status import MessageStatus
from hub.store import queries
from hub.store.records import ContactRecord, MessageRecord
from hub.templates import guard as template_guard
from hub.tier_budget import TierBudget, budget_key
from hub.twilio_rules import TEMPLATE_TOO_LONG_CODE, validity_period_s
from hub.webhooks import status_callback_url

log = logging.getLogger(__name__)

#: A row due within this long is re-enqueued with the exact delay; later ones wait for the sweeper.
SHORT_DELAY = timedelta(minutes=1)
#: Seconds a worker keeps trying to give back a claim it could not use while the database is unreachable.
RELEASE_PATIENCE_S = 30.0

#: Checks the row's run and takes its send slot, right before the HTTP call; False when it gave the row back.
Pace = Callable[[MessageRecord, Claim], Awaitable[bool]]
#: Queues ids again after a delay in ms (as a batch of the same run).
Requeue = Callable[[list[int], float], None]


def utcnow() -> datetime:
    """The wall clock claims are stamped with (UTC)."""
    return datetime.now(UTC)


def claims_of(records: list[MessageRecord], now: datetime, asked_at: float) -> list[Claim]:
    """This worker's claims on ``records``, stamped ``now``, asked for at monotonic ``asked_at``."""
    deadline_s = send_deadline(runtime.current().settings.twilio.timeout_seconds).total_seconds()
    return [Claim(record.id, now, asked_at, deadline_s) for record in records]


async def not_claimed(message_id: int, now: datetime, requeue: Requeue) -> None:
    """The claim failed: already taken or final (do nothing), or pending but not yet due (come back then)."""
    current = await queries.get_message(message_id)
    if current is None or current.status != MessageStatus.PENDING:
        return
    due = max(t for t in (current.send_at, current.next_attempt_at, now) if t is not None)
    # Soon: come back exactly then. Later: not parked in Redis; the sweeper enqueues it once it is due.
    if now < due <= now + SHORT_DELAY:
        requeue([message_id], _ms(due - now))
    # Pending and due but not claimable: its run is paused or canceled. Resume re-enqueues (or the sweeper does).


async def send_row(
    record: MessageRecord,
    claim: Claim,
    *,
    contacts: Mapping[str, ContactRecord],
    pace: Pace,
    requeue: Requeue,
) -> None:
    """Send one claimed row and settle it.

    Every write names ``claim`` (a row claimed again since is left alone), and the HTTP call starts only while
    the claim's lease holds (:mod:`hub.claims`).

    Args:
        record: the row, claimed by this call.
        claim: the claim (its instant is the ``now`` of the checks).
        contacts: the batch's contacts by phone (read once for the batch).
        pace: checks the row's run and takes its send slot, after every other read the send depends on.
        requeue: queues ids again after a delay (ms), for a retry or a wait.
    """
    rt = runtime.current()
    settings = rt.settings
    now = claim.token
    reached_transport = False
    started: float | None = None
    try:
        # A template that is not approved pauses the run and gives the row back (hub.templates.guard).
        if await template_guard.hold_if_blocked(
            record.id, record.run_id, record.content_sid, cache=rt.templates, claimed_at=now, settings=settings
        ):
            rt.metrics.gave_back("template")
            return
        too_long = template_guard.cached_text_refusal(rt.templates, record.content_sid, record.content_variables)
        if too_long is not None:  # Twilio would take it and fail it (63021): refused here, nothing sent
            await final(claim, MessageStatus.FAILED, TEMPLATE_TOO_LONG_CODE, too_long)
            return
        contact = contacts.get(record.recipient)
        if contact is not None and contact.opted_out:
            await final(claim, MessageStatus.SKIPPED, None, "contact opted out")
            return
        last_inbound = contact.last_inbound_at if contact is not None else None
        if outside_session_window(
            content_sid=record.content_sid,
            last_inbound_at=last_inbound,
            now=now,
            enforce=settings.session_window.enforce,
        ):
            await final(claim, MessageStatus.FAILED, OUTSIDE_WINDOW_CODE, OUTSIDE_WINDOW_REASON)
            return
        if await _over_tier_budget(rt, record, claim, last_inbound, requeue):
            return
        if await _over_recipient_limit(rt, record, claim, requeue):
            return
        if not await pace(record, claim):
            return
        assert rt.transport is not None, "the worker's transport is not started"
        if not claim.may_send(rt.clock()):
            # Stalled (stopped, starved, a long GC) until its lease ran out: the row may be someone else's now.
            log.warning("message %r: claim lease ran out before the send; given back if still ours", record.id)
            await release(claim, "lease")
            return
        reached_transport = True
        callback = status_callback_url(settings.public_url, record.id)  # names the row: see hub.store.reconcile
        run = run_states(rt).known(record.run_id)  # read by the pace hook before the slot: nothing awaited here
        validity = validity_period_s(run.expires_at if run is not None else None, utcnow())
        started = time.perf_counter()
        receipt = await rt.transport.send(_outbound(record, validity), status_callback=callback)
    except SendError as exc:
        elapsed = None if started is None else time.perf_counter() - started
        held = template_guard.hold_after_error(
            record.id, record.run_id, record.content_sid, exc, cache=rt.templates, claimed_at=now
        )
        if await held:
            rt.metrics.created("pause", exc.code, elapsed)
        else:
            rt.metrics.created(await _settle_error(record, claim, exc, requeue), exc.code, elapsed)
        return
    except BaseException as exc:
        if reached_transport:
            # Twilio may have the message: never release the claim; the sweeper marks it unknown.
            log.exception("send of message %r failed after the transport was called; left to the sweeper", record.id)
            raise ClaimAbandoned(f"message {record.id}: unexpected error after the send call") from exc
        # Nothing reached Twilio: give the row back and let Dramatiq retry (a database or Redis outage).
        await release(claim, "error")
        raise
    assert started is not None
    rt.metrics.created("accepted", None, time.perf_counter() - started)
    # Twilio has the message: record its sid even across a short database outage (else the row ends ``unknown``).
    submitted: list[MessageRecord | None] = []

    async def submit() -> None:
        submitted.append(
            await queries.mark_submitted(record.id, receipt.sid, receipt.status, claimed_at=now, submits=rt.submits)
        )

    if not await _patiently(submit):
        raise ClaimAbandoned(f"message {record.id}: sent as {receipt.sid} but the ledger could not record it")
    if submitted[-1] is None:
        rt.metrics.duplicates.inc()
        log.error("message %r: sent as %s after its claim was taken: the row was not written", record.id, receipt.sid)


async def _over_recipient_limit(rt: runtime.Runtime, record: MessageRecord, claim: Claim, requeue: Requeue) -> bool:
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
    await wait(record, claim, until, "per-recipient limit reached; waiting for the window", requeue, "recipient_window")
    return True


async def _over_tier_budget(
    rt: runtime.Runtime, record: MessageRecord, claim: Claim, last_inbound: datetime | None, requeue: Requeue
) -> bool:
    """Count a business-initiated message's recipient in the daily tier budget; when it is used up, put the row
    back until a slot frees up (``rate_limits.daily_unique_recipients``, shared by every worker through Redis)."""
    cap = rt.settings.rate_limits.daily_unique_recipients
    now = claim.token
    if cap is None or rt.recipients is None or not business_initiated(last_inbound_at=last_inbound, now=now):
        return False
    budget = TierBudget(rt.recipients.client, cap=cap, key=budget_key(rt.namespace))
    allowed, until = await budget.acquire(record.recipient, now)
    if allowed:
        return False
    until = until or now + BUDGET_WINDOW  # a cap of 0 frees nothing: look again a window later, never drop
    reason = f"daily tier budget of {cap} unique recipients used up; waiting until {until.isoformat()}"
    log.info("message %r: %s", record.id, reason)
    await wait(record, claim, until, reason, requeue, "tier_budget")
    return True


async def wait(record: MessageRecord, claim: Claim, until: datetime, reason: str, requeue: Requeue, label: str) -> None:
    """Give a claimed row back until ``until`` without using up a send attempt (it never reached Twilio).

    Soon: re-enqueued with exactly that delay. Later: not parked in Redis; the sweeper enqueues it once due.
    ``label`` names the reason in the metrics (``recipient_window``, ``tier_budget``, ``slot``, ``stopping``).
    """
    runtime.current().metrics.gave_back(label)
    released = await queries.release_for_retry(
        record.id,
        next_attempt_at=until,
        error_code=None,
        error_message=reason,
        count_attempt=False,
        claimed_at=claim.token,
    )
    delay = until - utcnow()
    if released is not None and delay <= SHORT_DELAY:
        requeue([record.id], _ms(delay))


async def _settle_error(record: MessageRecord, claim: Claim, exc: SendError, requeue: Requeue) -> str:
    """Settle a failed create by the policy table (:mod:`hub.policy`): retry, throttle, fail, unknown or pause.

    Returns:
        The action taken.
    """
    retries = runtime.current().settings.retries
    outcome = after_error(exc, attempts=record.attempts, retries=retries, to=record.recipient)
    if outcome.action in ("retry", "throttle", "pause"):
        # Owed again. A rate limit or a paused sender is not an attempt: it never uses up the retry budget.
        counted = outcome.action == "retry"
        log.info("message %r: %s (%s); again in %d ms", record.id, outcome.action, exc.message, outcome.delay_ms)
        until = utcnow() + timedelta(milliseconds=outcome.delay_ms)
        released = await queries.release_for_retry(
            record.id,
            next_attempt_at=until,
            error_code=outcome.code,
            error_message=outcome.reason,
            count_attempt=counted,
            claimed_at=claim.token,
        )
        if released is None:
            return outcome.action
        if outcome.action == "pause":
            await queries.pause_run(record.run_id, outcome.reason or exc.message)  # resume queues its rows again
            return outcome.action
        if outcome.action == "throttle":
            await _slow_down(runtime.current())
        if outcome.action == "retry":
            runtime.current().metrics.retries.inc()
        if outcome.defer_run:
            await queries.defer_owed(record.run_id, until)
        requeue([record.id], outcome.delay_ms)
        return outcome.action
    status = MessageStatus.UNKNOWN if outcome.action == "unknown" else MessageStatus.FAILED
    await final(claim, status, outcome.code, outcome.reason)
    if outcome.opt_out:
        await queries.set_opt_out(record.recipient, source=f"twilio:{outcome.code}")
    return outcome.action


async def _slow_down(rt: runtime.Runtime) -> None:
    """Twilio refused a create for the sender's rate: every worker's pace drops for a while (the row is owed again
    already; a throttle that cannot be recorded only leaves the pace as it was)."""
    if rt.slots is None:
        return
    try:
        await rt.slots.rate_limited(rt.settings.rate_limits.per_second)
    except Exception:
        log.warning("could not record Twilio's rate limit; the pace stays as it was", exc_info=True)


async def final(claim: Claim, status: MessageStatus, code: int | None, reason: str | None) -> None:
    await queries.mark_final(
        claim.message_id,
        status,
        error_code=code,
        error_message=reason,
        from_states=[MessageStatus.SENDING],
        claimed_at=claim.token,
    )


async def release(claim: Claim, label: str) -> None:
    """Give back this worker's claim when it is still its own (nothing reached Twilio); past the store's patience
    the sweeper settles the row. ``label`` names the reason in the metrics (``lease``, ``error``)."""
    runtime.current().metrics.gave_back(label)
    await release_token(claim.message_id, claim.token)


async def release_token(message_id: int, claimed_at: datetime) -> None:
    """Give back the claim stamped ``claimed_at``, also when the caller cannot know whether it committed."""

    def write() -> Awaitable[object]:
        return queries.release_for_retry(
            message_id,
            next_attempt_at=claimed_at,
            error_code=None,
            error_message=None,
            count_attempt=False,
            claimed_at=claimed_at,
        )

    if not await _patiently(write):
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


def _outbound(record: MessageRecord, validity_s: int | None = None) -> OutboundMessage:
    return OutboundMessage(
        to=record.recipient,
        body=record.body,
        content_sid=record.content_sid,
        content_variables=record.content_variables,
        media_url=list(record.media_url),
        validity_period_s=validity_s,
    )


def _ms(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() * 1000))


__all__ = [
    "SHORT_DELAY",
    "Pace",
    "Requeue",
    "claims_of",
    "final",
    "not_claimed",
    "release",
    "release_token",
    "send_row",
    "utcnow",
    "wait",
]
