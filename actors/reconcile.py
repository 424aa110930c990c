"""Reconcile ``unknown`` rows against the provider: attach the sid it holds, or release a row it never got.

A create that timed out, or whose worker died mid-call, leaves its row ``unknown`` (SPEC §8): Twilio may have
the message. The sweeper calls :func:`reconcile_after_sweep` after each sweep; it lists what Twilio holds for
each such row's recipient since the claim (one list call per recipient, at most :data:`MAX_ROWS` rows and
:data:`BUDGET_S` seconds per pass) and applies :func:`hub.reconcile_policy.decide`. The simulator cannot say
what it never received, so with it rows stay ``unknown``.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import msgspec

from actors import runtime
from actors.runtime import ReconcileState
from hub.config import Settings
from hub.reconcile_policy import SKEW, Action, Unsettled, decide
from hub.status import MessageStatus
from hub.store.db import run_sync
from hub.store.unsettled import attach_found, owned_sids, release_unknown, rivals, unsettled_rows
from hub.transport.lookup import RemoteMessage, SentLookup

if TYPE_CHECKING:
    from hub.transport.twilio import TwilioTransport

log = logging.getLogger(__name__)

#: Rows examined per pass (each may cost one list call to Twilio).
MAX_ROWS = 50
#: Seconds one pass may spend before it stops (the sweep waits for it).
BUDGET_S = 20.0


class ReconcileReport(msgspec.Struct, frozen=True):
    """What one pass did with the rows it examined, by verdict; ``last_id`` is the highest id examined and
    ``more`` says rows above it were left for the next pass."""

    attached: int = 0
    released: int = 0
    waiting: int = 0
    ambiguous: int = 0
    unanswerable: int = 0
    last_id: int = 0
    more: bool = False


def quarantine(settings: Settings) -> timedelta:
    """How long after a claim its create could still land at Twilio: ``twilio.reconcile_quarantine_seconds``, and
    never less than 2 x the HTTP timeout."""
    tw = settings.twilio
    return timedelta(seconds=max(tw.reconcile_quarantine_seconds, 2 * tw.timeout_seconds))


async def reconcile_unknown(
    lookup: SentLookup,
    *,
    quarantine: timedelta,
    now: datetime | None = None,
    limit: int = MAX_ROWS,
    after_id: int = 0,
    budget_s: float = BUDGET_S,
) -> ReconcileReport:
    """One pass over ``unknown`` rows without a sid (ids above ``after_id``, at most ``limit``).

    Args:
        lookup: the transport that answers "what did you take for this number".
        quarantine: see :func:`quarantine`.
        now: the current time (UTC).
        limit: rows examined at most.
        after_id: resume after this id (rows left unknown are not re-read first every pass).
        budget_s: stop starting new list calls after this many seconds.
    """
    now = now or datetime.now(UTC)
    rows = await unsettled_rows(limit, after_id=after_id)
    counts = dict.fromkeys(Action, 0)
    listed: dict[str, list[RemoteMessage] | None] = {}
    started = time.monotonic()
    last_id = after_id
    examined = 0
    for row in rows:
        if row.recipient not in listed:
            if time.monotonic() - started > budget_s:
                break
            try:
                listed[row.recipient] = await lookup.find_sent(row.recipient, _since(rows, row.recipient))
            except Exception as exc:  # Twilio down or limiting us: try again next sweep
                log.warning(
                    "reconcile: listing messages failed (%s); %d row(s) left for later", type(exc).__name__, len(rows)
                )
                break
        last_id = row.id
        examined += 1
        counts[await _settle(row, listed[row.recipient], now, quarantine)] += 1
    report = ReconcileReport(
        attached=counts[Action.ATTACH],
        released=counts[Action.RELEASE],
        waiting=counts[Action.WAIT],
        ambiguous=counts[Action.AMBIGUOUS],
        unanswerable=counts[Action.UNANSWERABLE],
        last_id=last_id,
        more=examined < len(rows) or len(rows) >= limit,
    )
    if report.attached or report.released or report.ambiguous:
        log.info("reconcile: %r", report)
    return report


def _since(rows: list[Unsettled], recipient: str) -> datetime:
    claims = [r.claimed_at for r in rows if r.recipient == recipient and r.claimed_at is not None]
    return min(claims, default=datetime.now(UTC)) - SKEW


async def _settle(row: Unsettled, found: list[RemoteMessage] | None, now: datetime, window: timedelta) -> Action:
    known = await owned_sids([m.sid for m in found]) if found else set()
    verdict = decide(row, found, known_sids=known, rivals=await rivals(row), now=now, quarantine=window)
    if verdict.action == Action.ATTACH and verdict.message is not None:
        found_message = verdict.message
        attached = await attach_found(
            row.id,
            found_message.sid,
            found_message.status or "accepted",
            error_code=found_message.error_code,
            error_message=found_message.error_message,
            now=now,
        )
        if not attached:  # settled meanwhile (a late worker report or callback)
            return Action.WAIT
        log.info("reconcile: message %r is %r at Twilio (%s)", row.id, found_message.sid, found_message.status)
    elif verdict.action == Action.RELEASE:
        assert row.claimed_at is not None
        # Stamped with the wall clock, never a later sweep clock: the sweeper re-enqueues only rows idle before now.
        stamp = min(now, datetime.now(UTC))
        becomes = await release_unknown(row.id, claimed_at=row.claimed_at, reason=verdict.reason, now=stamp)
        if becomes is None:
            return Action.WAIT
        if becomes == MessageStatus.CANCELED:
            log.info("reconcile: message %r never reached Twilio; its run is canceled, so the row is too", row.id)
            return Action.RELEASE
        # Queued at once: the sweeper's lost-row pass may not see it (its run may be finished by now, and a
        # worker killed mid-ack can leave the row's live-message count up). Claim-once makes a spare harmless.
        from actors.enqueue import enqueue_rows

        enqueue_rows([row.id], options={})
        log.warning("reconcile: message %r never reached Twilio; owed again and queued", row.id)
    elif verdict.action == Action.AMBIGUOUS:
        log.warning("reconcile: message %r stays unknown: %s", row.id, verdict.reason)
    return verdict.action


def _state() -> ReconcileState:
    """The process runtime's reconcile state (a fresh one, not kept, where the actors are not set up)."""
    try:
        return runtime.current().reconcile
    except RuntimeError:
        return ReconcileState()


def _twilio_lookup(state: ReconcileState, settings: Settings) -> TwilioTransport | None:
    """This process's Twilio client for lookups (built once per account and base URL); None off Twilio."""
    if settings.effective_transport != "twilio":
        return None
    tw = settings.twilio
    key = (tw.account_sid, tw.api_base_url, tw.timeout_seconds)
    with state.lock:
        if state.key != key:
            from hub.transport.twilio import TwilioTransport

            state.lookup = TwilioTransport(settings, max_connections=4)
            state.key = key
        lookup: TwilioTransport = state.lookup
        return lookup


async def _pass_closing(
    lookup: TwilioTransport, settings: Settings, now: datetime | None, cursor: int
) -> ReconcileReport:
    # The client's HTTP session is closed after every pass (the next one opens another when it lists): one
    # left open between sweeps is reported as an unclosed client session when the process exits.
    try:
        return await reconcile_unknown(lookup, quarantine=quarantine(settings), now=now, after_id=cursor)
    finally:
        await lookup.close()


def _count(report: ReconcileReport) -> None:
    """Add a pass's verdicts to this process's metrics (none when the actors are not set up here)."""
    try:
        metrics = runtime.current().metrics
    except RuntimeError:
        return
    verdicts = ("attached", "released", "waiting", "ambiguous", "unanswerable")
    metrics.reconciled({verdict: getattr(report, verdict) for verdict in verdicts})


def reconcile_after_sweep(
    settings: Settings, now: datetime | None = None, *, lookup: SentLookup | None = None
) -> ReconcileReport | None:
    """One reconcile pass from sync code (the sweeper); never raises, a failure is logged and retried later.

    Args:
        settings: the hub settings (transport, Twilio timeout).
        now: the sweep time (UTC).
        lookup: what to ask (the caller closes it); defaults to this process's Twilio client when the
            transport is Twilio (closed after the pass), else nothing is done.

    Returns:
        The pass's report, or None when nothing could be asked or the pass failed.
    """
    state = _state()
    try:
        cursor = state.cursor
        if lookup is not None:
            report = run_sync(reconcile_unknown(lookup, quarantine=quarantine(settings), now=now, after_id=cursor))
        else:
            own = _twilio_lookup(state, settings)
            if own is None:
                return None
            # One pass at a time on the shared client (the scheduler's and a worker's sweeper may share a
            # process): a pass closing it must not cut another's list call. A busy client means rows are covered.
            if not state.passing.acquire(blocking=False):
                return None
            try:
                report = run_sync(_pass_closing(own, settings, now, cursor))
            finally:
                state.passing.release()
        state.cursor = report.last_id if report.more else 0
        _count(report)
        return report
    except Exception:
        log.exception("reconcile: pass failed; retried at the next sweep")
        return None


__all__ = ["BUDGET_S", "MAX_ROWS", "ReconcileReport", "quarantine", "reconcile_after_sweep", "reconcile_unknown"]
