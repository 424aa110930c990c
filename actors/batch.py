"""``send_batch(message_ids)``: claim a batch of ledger rows in one statement and send them concurrently.

One Dramatiq message per row cost more CPU than the send itself (bench/RESULTS.md, issue 8: the message's hooks
and scripts, the throttle, the inflight counter, a thread per send in flight, a claim and a contact read per row).
Here those are paid once per batch: one claim statement, one contact read, then every claimed row goes through
the same per-row logic as ``send_message`` (:func:`actors.send._send_claimed`) on the event loop, each taking its
send slot immediately before its HTTP call (:mod:`actors.pacing`).

The guarantees are ``send_message``'s, row by row: a row claimed elsewhere (a second delivery of the batch, a
stray single) is not returned by the claim and not sent; a pending row not yet due comes back singly with the
exact delay; a transient failure is released and retried as a single ``send_message``; a permanent one fails,
an ambiguous one is ``unknown``; an unexpected error after the HTTP call leaves the row to the sweeper.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import dramatiq

from actors import runtime
from actors import send as single  # the per-row logic; called through the module so tests may patch its clock
from actors.enqueue import BATCH_IDS
from actors.middleware.retries import ClaimAbandoned
from actors.pacing import Pacer
from actors.send import SEND_QUEUE, SEND_TIME_LIMIT_MS, Pace
from hub.store import queries
from hub.store.records import MessageRecord

log = logging.getLogger(__name__)

#: Sends of one batch in flight at once on the worker's event loop (the batch's HTTP calls overlap).
SEND_CONCURRENCY = BATCH_IDS


@dramatiq.actor(actor_name="send_batch", queue_name=SEND_QUEUE, time_limit=SEND_TIME_LIMIT_MS)
async def send_batch(message_ids: list[int], run_rate: float | None = None) -> None:
    """Send each ledger row of ``message_ids`` at most once (the rows of one run, whose cap is ``run_rate``/s).

    Not held by the throttle middleware (it has no ``throttled`` option): each send takes its slots itself.
    A second delivery of the same batch claims nothing and sends nothing.
    """
    ids = list(dict.fromkeys(int(i) for i in message_ids))
    now = single._now()
    try:
        claimed = await queries.claim_batch_for_send(ids, now)
    except Exception:
        # The claim may have committed with only its answer lost: give back what this call stamped ``now``.
        await asyncio.gather(*(single._release_quietly(i, now) for i in ids))
        raise
    taken = {record.id for record in claimed}
    await asyncio.gather(*(single._not_claimed(i, now) for i in ids if i not in taken))
    if not claimed:
        return
    try:
        contacts = await queries.get_contacts(record.recipient for record in claimed)
    except Exception:
        await asyncio.gather(*(single._release_quietly(record.id, now) for record in claimed))
        raise
    pace = _pace_with(runtime.current(), run_rate)
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(record: MessageRecord) -> None:
        async with gate:
            await single._send_claimed(record, now, contacts=contacts, pace=pace)

    outcomes = await asyncio.gather(*(one(record) for record in claimed), return_exceptions=True)
    raise_first(outcomes)


def raise_first(outcomes: list[BaseException | None]) -> None:
    """Re-raise what the batch's sends raised, the retryable first.

    A row that failed before its HTTP call was given back (``pending``): a Dramatiq retry of the whole batch
    claims only such rows again (every other row is settled or claimed). :class:`ClaimAbandoned` (Twilio may
    have the message) is raised only when nothing else failed, so the batch is not retried for it.
    """
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if not errors:
        return
    for error in errors:
        if not isinstance(error, ClaimAbandoned):
            raise error
    raise errors[0]


def _pace_with(rt: runtime.Runtime, run_rate: float | None) -> Pace:
    """The pacing hook of one batch: the run's and the sender's slots; no slot in time gives the row back."""
    assert rt.slots is not None, "the worker's runtime is not started"
    pacer = Pacer.on(rt.slots, rt.settings.rate_limits.per_second, stopping=rt.stopping.is_set)

    async def pace(record: MessageRecord) -> bool:
        wait_ms = await pacer.acquire(record.run_id, run_rate)
        if wait_ms <= 0:
            return True
        now: datetime = single._now()
        reason = "worker stopping" if rt.stopping.is_set() else "waiting for a send slot"
        await single._wait(record, now + timedelta(milliseconds=wait_ms), now, reason)
        return False

    return pace


__all__ = ["SEND_CONCURRENCY", "raise_first", "send_batch"]
