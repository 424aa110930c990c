"""One delivery of the send actor: its rows claimed in waves, just in time, and sent concurrently on the loop.

One Dramatiq message per row cost more CPU than the send itself (the message's hooks and scripts, a thread per
send in flight, a claim and a contact read per row); here those are paid once per wave: one claim statement, one
contact read, then every claimed row goes through :func:`actors.row.send_row` on the event loop. A single send
(the API's, a retry, a wait) is a batch of one.

Waves: before claiming, the batch reserves send slots (:meth:`actors.pacing.Pacer.reserve_wave`, at most a second
ahead) and claims only as many rows as it got slots, so a SIGKILLed worker strands about ``per_second`` rows, not
a whole batch. No slot goes unused for a row that cannot be claimed: a batch delivered again reserves slots only
for its rows still pending, and a claim that finds fewer rows than slots hands the spare ones to the next rows.
Each row checks its run (:mod:`actors.holds`: a paused run's row goes back to ``pending``, a canceled run's ends
``canceled``) before it takes its slot and again once the slot is due; the slot's lateness is checked after that,
so a read that stalled costs the slot instead of spending it late.

The guarantees hold row by row: a row claimed elsewhere (a second delivery) is not returned by the claim and not
sent; a pending row not yet due comes back alone with the exact delay; a transient failure is released and
retried alone; a permanent one fails, an ambiguous one is ``unknown``; an unexpected error after the HTTP call
leaves the row to the sweeper.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from actors import row, runtime
from actors.holds import Hold, run_states
from actors.middleware.inflight import RUN_ROWS, advance_cursor, cursor_key, inflight_key
from actors.middleware.retries import ClaimAbandoned
from actors.pacing import Pacer, SlotPool, WaveRoom
from hub.claims import Claim
from hub.pace import buckets_for
from hub.run_share import room, window_rows
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

#: Queues a batch: ``(ids, run_rate, run_id, delay_ms)``.
Enqueue = Callable[[list[int], float | None, int | None, float], None]


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


class Batch:
    """One delivery of the send actor: its waves, and the sends they started.

    Args:
        rt: the process runtime (started on this loop).
        enqueue: queues ids again (the send actor's ``send_with_options``).
        run_rate: the run's own cap, messages per second.
        run_id: the run of the ids (its bucket, its state).
    """

    def __init__(self, rt: runtime.Runtime, *, enqueue: Enqueue, run_rate: float | None, run_id: int | None) -> None:
        assert rt.slots is not None, "the worker's runtime is not started"
        self.rt = rt
        self.enqueue = enqueue
        self.run_rate = run_rate
        self.pace_rate = run_rate  # the run bucket's rate: its own cap or its fair share, whichever is lower
        self.run_id = run_id
        self.pacer = Pacer.on(
            rt.slots,
            rt.settings.rate_limits.per_second,
            stopping=rt.stopping.is_set,
            on_wait=rt.metrics.waited,
            on_miss=rt.metrics.missed_slots.inc,
        )
        self.slots = rt.slots
        self.runs = run_states(rt)
        self.room = rt.wave_room
        self.gate = asyncio.Semaphore(SEND_CONCURRENCY)
        self.sends: list[asyncio.Task[None]] = []
        self.claimed_runs: set[int] = set()

    def requeue(self, ids: list[int], delay_ms: float) -> None:
        """Queue ``ids`` again as a batch of this run after ``delay_ms``."""
        self.enqueue(ids, self.run_rate, self.run_id, delay_ms)

    async def send(self, ids: list[int]) -> None:
        """Claim and send ``ids`` wave by wave; return once every started send is settled."""
        remaining = deque(ids)
        failure: BaseException | None = None
        try:
            await self._waves(remaining)
        except Exception as exc:  # a wave's claim or contact read failed: its rows were given back
            failure = exc
        # Every row is claimed (or handed on): the run's next rows are queued now, while this batch's last wave is
        # still sending, so the run's sends go on without a gap.
        await self._top_up(len(ids))
        outcomes = await asyncio.gather(*self.sends, return_exceptions=True)
        await self._finish_settled_runs()
        raise_first([*outcomes, failure])

    async def _top_up(self, delivered: int) -> None:
        """Queue the run's next owed rows as this batch has claimed its last, as many as the run's window has room
        for (:mod:`hub.run_share`): the queue holds a few batches of each run, the ledger the rest.

        Args:
            delivered: the ids of this delivery (its message stays live, counted, until it is acknowledged).
        """
        if self.run_id is None or self.rt.stopping.is_set():
            return
        try:
            if await self.runs.hold(self.run_id, row.utcnow()) is not None:
                return  # paused: resume queues the run's owed rows; canceled or expired: nothing is owed
            size = self.rt.settings.sending.batch_size
            window = window_rows(self.run_rate, self.rt.settings.rate_limits.per_second, size)
            key = inflight_key(self.rt.namespace)
            queued = max(0, int(await self.slots.client.hget(key, f"{RUN_ROWS}{self.run_id}") or 0) - delivered)
            free = room(window, queued)
            if free < size and queued > 0:
                return  # whole batches only, unless none is left
            client, namespace = self.slots.client, self.rt.namespace
            after = int(await client.get(cursor_key(namespace, self.run_id)) or 0)
            now = row.utcnow()
            due = await queries.owed_of_run(self.run_id, after_id=after, limit=free, now=now)
            if not due or not await advance_cursor(client, namespace, self.run_id, after, due[-1]):
                return  # nothing left above the cursor, or another batch of the run is queueing these
            live = await client.hmget(key, [str(i) for i in due])  # already queued another way (a hand-off, a wait)
            owed = [i for i, count in zip(due, live, strict=True) if not count or int(count) <= 0]
        except Exception:  # the sweeper queues them instead
            log.warning("run %r: could not queue its next rows; the sweeper will", self.run_id, exc_info=True)
            return
        for start in range(0, len(owed), size):
            self.requeue(owed[start : start + size], 0)

    async def _finish_settled_runs(self) -> None:
        """Finish each run this batch claimed rows of if it owes nothing now: the batch that settles a run's last
        rows finishes it at once (the sweeper only catches what this misses)."""
        for run_id in sorted(self.claimed_runs):
            try:
                await queries.finish_if_settled(run_id)
            except Exception:  # the sweeper finishes the run instead; the batch's sends stand
                log.warning("run %r: could not check whether it is finished", run_id, exc_info=True)

    async def _waves(self, remaining: deque[int]) -> None:
        began = time.monotonic()
        if len(remaining) > 1:
            # A batch delivered again (its worker lost, a retry after an outage) names rows already sent: no slot is
            # reserved for those (each would be a send missing from its window).
            pending = set(await queries.pending_of(list(remaining)))
            kept = [i for i in remaining if i in pending]
            remaining.clear()
            remaining.extend(kept)
        while remaining:
            if self.rt.stopping.is_set() or time.monotonic() - began > WAVES_FOR_S:
                self._hand_off(remaining, delay_ms=0)
                return
            if self.run_id is not None and await self.runs.hold(self.run_id, row.utcnow()) is not None:
                return  # the rest stay owed in the ledger: resume queues them again, cancel settles them
            # The sender's pace for this wave's slots: the cap, or less for a while after Twilio's rate limits; and
            # this run's part of it: its own cap or its fair share beside the runs sending at the same time.
            self.pacer.per_second = await self.slots.sender_pace(self.rt.settings.rate_limits.per_second)
            if self.run_id is not None:
                self.pace_rate = await self.slots.run_pace(self.run_id, self.run_rate, self.pacer.per_second)
            # Each claimed row keeps its place until its slot is spent or it gives up (see _one).
            spare = await self.room.take(min(len(remaining), SEND_CONCURRENCY))
            try:
                wave = await self.pacer.reserve_wave(self.run_id, self.pace_rate, spare)
                if not isinstance(wave, list):
                    self._hand_off(remaining, delay_ms=wave.retry_ms)
                    return
                self.room.give(spare - len(wave))
                pool, spare = SlotPool(wave), len(wave)
                # Slots a claim found no row for (claimed by a concurrent delivery of this batch, not yet due) go to
                # the next ids at once: a slot left unused is a send missing from its window.
                while spare and remaining:
                    ids = [remaining.popleft() for _ in range(min(spare, len(remaining)))]
                    spare -= await self._start_wave(ids, pool)
            finally:
                self.room.give(spare)

    async def _start_wave(self, wave: list[int], pool: SlotPool) -> int:
        """Claim ``wave`` in one statement and start a send per claimed row, each to take a slot of ``pool``.

        Returns:
            How many rows were claimed.
        """
        asked_at = self.rt.clock()
        now = row.utcnow()
        try:
            claimed = await queries.claim_batch_for_send(wave, now)
        except Exception:
            # The claim may have committed with only its answer lost: give back what this call stamped ``now``.
            await asyncio.gather(*(row.release_token(i, now) for i in wave))
            raise
        taken = {record.id for record in claimed}
        self.claimed_runs.update(record.run_id for record in claimed)
        for message_id in wave:
            if message_id not in taken:
                self.sends.append(asyncio.create_task(row.not_claimed(message_id, now, self.requeue)))
        if not claimed:
            return 0
        claims = row.claims_of(claimed, now, asked_at)
        try:
            contacts = await queries.get_contacts(record.recipient for record in claimed)
        except Exception:
            await asyncio.gather(*(row.release(claim, "error") for claim in claims))
            raise
        for record, claim in zip(claimed, claims, strict=True):
            self.sends.append(asyncio.create_task(self._one(record, claim, contacts, pool)))
        return len(claimed)

    async def _one(
        self, record: MessageRecord, claim: Claim, contacts: dict[str, ContactRecord], pool: SlotPool
    ) -> None:
        place = _Place(self.room)
        try:
            async with self.gate:
                pace = self._pace(pool, place)
                await row.send_row(record, claim, contacts=contacts, pace=pace, requeue=self.requeue)
        finally:
            place.give()

    def _pace(self, pool: SlotPool, place: _Place) -> row.Pace:
        """The last step before a row's HTTP call: its run's state, then a slot of ``pool`` (a new one when it is
        spent or missed), then the run's state again once the slot is due (read at most every 250 ms per run), and
        last the slot's lateness (a read that stalled past it costs the slot, never a burst). False when the row
        was given back."""

        async def pace(record: MessageRecord, claim: Claim) -> bool:
            if await self._held(record, claim):
                return False

            async def running() -> bool:
                return not await self._held(record, claim)

            run_bucket_first = len(buckets_for(self.run_id, self.pace_rate, self.pacer.per_second)) > 1
            slot_at = pool.take(self.pacer.clock(), late_ok=run_bucket_first)
            try:
                wait_ms = await self.pacer.acquire(self.run_id, self.pace_rate, first_slot_at=slot_at, check=running)
            finally:
                place.give()  # the slot is spent (or given up): the room may take the next wave's rows
            if wait_ms is None:
                return False
            if wait_ms > 0:
                now = row.utcnow()
                stopping = self.rt.stopping.is_set()
                reason = "worker stopping" if stopping else "waiting for a send slot"
                label = "stopping" if stopping else "slot"
                await row.wait(record, claim, now + timedelta(milliseconds=wait_ms), reason, self.requeue, label)
                return False
            return True

        return pace

    async def _held(self, record: MessageRecord, claim: Claim) -> bool:
        now = row.utcnow()
        hold = await self.runs.hold(record.run_id, now)
        if hold is None:
            return False
        self.rt.metrics.gave_back(hold)
        await _give_back(claim, hold, now)
        return True

    def _hand_off(self, remaining: deque[int], *, delay_ms: float) -> None:
        """Queue the ids this batch did not claim as a new batch (they are still ``pending``: nothing is lost)."""
        rest = list(remaining)
        remaining.clear()
        self.requeue(rest, delay_ms)


class _Place:
    """A claimed row's place in the loop's :class:`actors.pacing.WaveRoom`, given back once."""

    __slots__ = ("room",)

    def __init__(self, room: WaveRoom) -> None:
        self.room: WaveRoom | None = room

    def give(self) -> None:
        if self.room is not None:
            self.room.give()
            self.room = None


async def _give_back(claim: Claim, hold: Hold, now: datetime) -> None:
    """A claimed row whose run holds it, before its HTTP call: canceled ends it, pause and expiry leave it owed."""
    if hold == "canceled":
        await row.final(claim, MessageStatus.CANCELED, None, "run canceled")
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


def batch_kwargs(run_rate: float | None, run_id: int | None) -> dict[str, Any]:
    """The keyword arguments of a send actor message for a run and its cap (only those that are set)."""
    kwargs: dict[str, Any] = {}
    if run_rate:
        kwargs["run_rate"] = float(run_rate)
    if run_id is not None:
        kwargs["run_id"] = int(run_id)
    return kwargs


__all__ = ["SEND_CONCURRENCY", "Batch", "Enqueue", "batch_kwargs", "raise_first"]
