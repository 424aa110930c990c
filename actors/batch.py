"""``send_batch(message_ids)``: claim a batch's ledger rows in waves, just in time, and send them concurrently.

One Dramatiq message per row cost more CPU than the send itself (bench/RESULTS.md, issue 8: the message's hooks
and scripts, the throttle, the inflight counter, a thread per send in flight, a claim and a contact read per row).
Here those are paid once per wave of rows: one claim statement, one contact read, then every claimed row goes
through the same per-row logic as ``send_message`` (:func:`actors.send._send_claimed`) on the event loop.

Waves: before claiming, the batch reserves send slots (:meth:`actors.pacing.Pacer.reserve_wave`, at most a second
ahead) and claims only as many rows as it got slots; each row is sent at one of them. Rows claimed but not yet
handed to Twilio are therefore bounded, across every worker, by the slots reserved within the horizon
(``per_second`` x 1 s): a SIGKILLed worker strands about that many, not a whole batch per thread. At high caps a
wave is the whole batch. Right before each HTTP call the row's run is checked (:mod:`actors.holds`, one read per
run per 250 ms): a paused run's row goes back to ``pending`` (no attempt spent), a canceled run's row ends
``canceled``, so a pause or cancel takes effect within a quarter of a second.

The guarantees are ``send_message``'s, row by row: a row claimed elsewhere (a second delivery of the batch, a
stray single) is not returned by the claim and not sent; a pending row not yet due comes back singly with the
exact delay; a transient failure is released and retried as a single ``send_message``; a permanent one fails,
an ambiguous one is ``unknown``; an unexpected error after the HTTP call leaves the row to the sweeper.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import dramatiq

from actors import runtime
from actors import send as single  # the per-row logic; called through the module so tests may patch its clock
from actors.holds import Hold, run_states
from actors.middleware.limits import Slot
from actors.middleware.retries import ClaimAbandoned
from actors.middleware.throttle import decide
from actors.pacing import HORIZON_MS, Pacer, SlotPool
from actors.send import SEND_QUEUE, SEND_TIME_LIMIT_MS, Pace
from hub.claims import Claim
from hub.status import MessageStatus
from hub.store import queries
from hub.store.records import ContactRecord, MessageRecord

log = logging.getLogger(__name__)

#: Sends of one batch in flight at once on the worker's event loop (the batch's HTTP calls overlap); also the
#: largest wave, so a wave's rows never wait for the gate past their slots (``sending.batch_size`` may be larger).
SEND_CONCURRENCY = 100
#: Seconds a batch keeps starting waves; past it, the ids it has not claimed go back to the queue as a new batch
#: (a batch paced behind many others must end well inside the actor's time limit).
WAVES_FOR_S = 45.0
#: Longest a batch waits for the first slot of its next wave, ms; past it, the ids it has not claimed go back to
#: the queue with that delay instead of holding a worker thread (as the throttle does for ``send_message``).
WAVE_MAX_BLOCK_MS = 5_000.0
# Longest single sleep while waiting for a wave's first slot, ms: a stopping worker is not held up.
_MAX_NAP_MS = 1000.0

@dramatiq.actor(actor_name="send_batch", queue_name=SEND_QUEUE, time_limit=SEND_TIME_LIMIT_MS)
async def send_batch(message_ids: list[int], run_rate: float | None = None, run_id: int | None = None) -> None:
    """Send each ledger row of ``message_ids`` at most once (the rows of run ``run_id``, capped at ``run_rate``/s).

    Not held by the throttle middleware (it has no ``throttled`` option): the batch takes its slots itself.
    A second delivery of the same batch claims nothing and sends nothing.
    """
    ids = list(dict.fromkeys(int(i) for i in message_ids))
    if not ids:
        return
    rt = runtime.current()
    if run_rate and run_id is None:  # a batch queued before its run travelled with it: the run's bucket needs it
        first = await queries.get_message(ids[0])
        run_id = first.run_id if first is not None else None
    await _Batch(rt, run_rate=run_rate, run_id=run_id).send(ids)


def raise_first(outcomes: Iterable[BaseException | None]) -> None:
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


class _Batch:
    """One delivery of ``send_batch``: its waves, and the sends they started."""

    def __init__(self, rt: runtime.Runtime, *, run_rate: float | None, run_id: int | None) -> None:
        assert rt.slots is not None, "the worker's runtime is not started"
        self.rt = rt
        self.run_rate = run_rate
        self.run_id = run_id
        self.pacer = Pacer.on(rt.slots, rt.settings.rate_limits.per_second, stopping=rt.stopping.is_set)
        self.runs = run_states(rt)
        self.gate = asyncio.Semaphore(SEND_CONCURRENCY)
        self.sends: list[asyncio.Task[None]] = []

    async def send(self, ids: list[int]) -> None:
        """Claim and send ``ids`` wave by wave; return once every started send is settled."""
        remaining = deque(ids)
        failure: BaseException | None = None
        try:
            await self._waves(remaining)
        except Exception as exc:  # a wave's claim or contact read failed: its rows were given back
            failure = exc
        outcomes = await asyncio.gather(*self.sends, return_exceptions=True)
        raise_first([*outcomes, failure])

    async def _waves(self, remaining: deque[int]) -> None:
        began = time.monotonic()
        blocked_ms = 0.0
        while remaining:
            if self.rt.stopping.is_set() or time.monotonic() - began > WAVES_FOR_S:
                self._hand_off(remaining, delay_ms=0)
                return
            if self.run_id is not None and await self.runs.hold(self.run_id, single._now()) is not None:
                return  # the rest stay owed in the ledger: resume queues them again, cancel settles them
            slots = await self.pacer.reserve_wave(self.run_id, self.run_rate, min(len(remaining), SEND_CONCURRENCY))
            if not slots:
                decision = decide(
                    Slot(granted=False, wait_ms=self.pacer.beyond_ms),
                    blocked_ms=blocked_ms,
                    horizon_ms=HORIZON_MS,
                    max_block_ms=WAVE_MAX_BLOCK_MS,
                    jitter_ms=random.uniform(0, HORIZON_MS / 2),
                )
                if decision.action == "requeue":
                    self._hand_off(remaining, delay_ms=decision.wait_ms)
                    return
                nap_ms = min(decision.wait_ms, _MAX_NAP_MS)
                await self.pacer.sleep(nap_ms / 1000)
                blocked_ms += nap_ms
                continue
            blocked_ms = 0.0
            wave = [remaining.popleft() for _ in range(min(len(slots), len(remaining)))]
            await self._start_wave(wave, SlotPool(slots))

    async def _start_wave(self, wave: list[int], pool: SlotPool) -> None:
        """Claim ``wave`` in one statement and start a send per claimed row, each to take a slot of ``pool``."""
        asked_at = self.rt.clock()
        now = single._now()
        try:
            claimed = await queries.claim_batch_for_send(wave, now)
        except Exception:
            # The claim may have committed with only its answer lost: give back what this call stamped ``now``.
            await asyncio.gather(*(single._release_token(i, now) for i in wave))
            raise
        taken = {record.id for record in claimed}
        for message_id in wave:
            if message_id not in taken:
                self.sends.append(asyncio.create_task(single._not_claimed(message_id, now)))
        if not claimed:
            return
        claims = [single.claim_of(record, now, asked_at) for record in claimed]
        try:
            contacts = await queries.get_contacts(record.recipient for record in claimed)
        except Exception:
            await asyncio.gather(*(single._release_quietly(claim) for claim in claims))
            raise
        pace = self._pace(pool)
        for record, claim in zip(claimed, claims, strict=True):
            self.sends.append(asyncio.create_task(self._one(record, claim, contacts, pace)))

    async def _one(self, record: MessageRecord, claim: Claim, contacts: dict[str, ContactRecord], pace: Pace) -> None:
        async with self.gate:
            await single._send_claimed(record, claim, contacts=contacts, pace=pace)

    def _pace(self, pool: SlotPool) -> Pace:
        """The pacing hook of one wave: a slot of ``pool`` (a new one when it is spent or missed), then the run's
        state; False when the row was given back."""

        async def pace(record: MessageRecord, claim: Claim) -> bool:
            slot_at = pool.take(self.pacer.clock())
            wait_ms = await self.pacer.acquire(self.run_id, self.run_rate, first_slot_at=slot_at)
            now: datetime = single._now()
            if wait_ms > 0:
                reason = "worker stopping" if self.rt.stopping.is_set() else "waiting for a send slot"
                await single._wait(record, claim, now + timedelta(milliseconds=wait_ms), reason)
                return False
            hold = await self.runs.hold(record.run_id, now)
            if hold is None:
                return True
            await _give_back(claim, hold, now)
            return False

        return pace

    def _hand_off(self, remaining: deque[int], *, delay_ms: float) -> None:
        """Queue the ids this batch did not claim as a new batch (they are still ``pending``: nothing is lost)."""
        rest = list(remaining)
        remaining.clear()
        kwargs: dict[str, Any] = {}
        if self.run_rate:
            kwargs["run_rate"] = self.run_rate
        if self.run_id is not None:
            kwargs["run_id"] = self.run_id
        send_batch.send_with_options(args=(rest,), kwargs=kwargs, delay=max(0, int(delay_ms)) or None)


async def _give_back(claim: Claim, hold: Hold, now: datetime) -> None:
    """A claimed row whose run holds it, before its HTTP call: canceled ends it, pause and expiry leave it owed."""
    if hold == "canceled":
        await single._final(claim, MessageStatus.CANCELED, None, "run canceled")
        return
    # Resume queues the paused run's owed rows again; the sweeper expires an expired run's.
    await queries.release_for_retry(
        claim.message_id,
        next_attempt_at=now,
        error_code=None,
        error_message=f"run {hold}",
        count_attempt=False,
        claimed_at=claim.token,
    )


__all__ = ["SEND_CONCURRENCY", "raise_first", "run_states", "send_batch"]
