"""Journeys on the worker side: enter a run's audience, and advance entries whose timer fell due or got an event."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dramatiq
import msgspec

from actors import runtime
from actors.enqueue import enqueue_rows, run_send_options
from hub.audience import AudienceProblem, iter_audience
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.errors import CampaignError, RenderError
from hub.journeys.engine import Enter, Event, Stimulus, Timer
from hub.journeys.entries import next_for, state_of
from hub.journeys.pinned import pinned_spec, pinning
from hub.journeys.spec_cache import SpecCache
from hub.journeys.variables import entry_recipient
from hub.status import RunState
from hub.store import journeys, queries
from hub.store.db import run_sync, transaction
from hub.store.records import RunRecord
from hub.window import send_at_for

log = logging.getLogger(__name__)

#: Audience entries per insert (and per checkpoint) when a run enters its audience.
CHUNK = 5000
#: Entries advanced per transaction (one claim, one save statement): each holds its entries' row locks while the
#: engine decides, about 50 ms for 1,000.
BATCH = 1000
#: One call of the actor goes on this long while it finds work; the next sweep tick goes on.
BUSY_S = 20.0
#: Calls per worker process that go on (two: one decides while the other's statement runs in PostgreSQL).
BUSY_PER_PROCESS = 2
#: The pause of a busy call after a batch that was not full (the claim lag it adds while timers trickle in).
IDLE_S = 0.05
_BUSY = threading.BoundedSemaphore(BUSY_PER_PROCESS)


def enter_audience(run: RunRecord, spec: CampaignSpec, settings: Settings) -> int:
    """Enter every recipient of a scheduled journey run (pinning the campaign first); resumable from the checkpoint.

    Returns:
        The number of entries created.
    """
    source, text = pinning(spec, settings)
    pinned = run_sync(journeys.pin_journey(run.id, source, text))
    spec = pinned_spec(pinned, settings)
    assert spec.journey is not None
    renderer = SpecCache(settings).renderer_for(run.id, spec)
    entry = spec.journey.entry
    first = spec.journey.steps[0].id
    position, created = run.checkpoint, 0
    audience = itertools.islice(iter_audience(spec, settings, queries.contact_pages), run.checkpoint, None)
    while chunk := list(itertools.islice(audience, CHUNK)):
        position += len(chunk)
        now = datetime.now(UTC)
        entries = []
        contacts: dict[str, dict[str, Any]] = {}
        if renderer.key_reads_contact:
            phones = [item.phone for item in chunk if not isinstance(item, AudienceProblem)]
            contacts = run_sync(queries.contact_attributes(phones))
        for item in chunk:
            if isinstance(item, AudienceProblem):
                log.info("journey run %r: %s not entered: %s", run.id, item.raw, item.reason)
                continue
            contact = contacts.get(item.phone)
            who = entry_recipient(
                item.phone, item.vars, source=item.source, event={}, contact=contact, entry_id=None, started_at=now
            )
            try:
                key = renderer.key(who)
            except RenderError as exc:
                log.warning("journey run %r: %s not entered: %s", run.id, item.phone, exc)
                continue
            entries.append(journeys.NewEntry(recipient=item.phone, key=key, vars=dict(item.vars)))
        ids = run_sync(
            journeys.insert_entries(
                run.id,
                spec.name,
                first,
                entries,
                now=now,
                never_again=entry.never_again,
                reenter_after_s=entry.reenter_after_s,
                checkpoint=position,
            )
        )
        created += len(ids)
    run_sync(queries.update_checkpoint(run.id, position, total=position, fanned_out=True))
    log.info("journey run %r: %d audience entries, %d entered", run.id, position, created)
    return created


@dramatiq.actor(actor_name="advance_journeys", queue_name="default", max_retries=0, time_limit=600_000)
def advance_journeys() -> None:
    """Advance entries whose timer is due and entries with events waiting, batch by batch (safe to run anywhere,
    any number at once: entries are claimed with SKIP LOCKED and saved by compare-and-set).

    While it finds work it goes on (a short pause after a batch that was not full) for up to :data:`BUSY_S`, at
    most :data:`BUSY_PER_PROCESS` calls per process at once; another call meanwhile does one batch and returns. Each
    sweep tick sends one, and a going-on call whose first batch was full sends one more, so a burst of due timers
    soon keeps that many advancers per worker process busy, and a quiet journey costs one short call a tick.
    """
    settings = runtime.current().settings
    cache = _cache(settings)

    def enqueue(run: RunRecord, ids: list[int]) -> None:
        enqueue_rows(ids, options=run_send_options(run, settings))

    if not _BUSY.acquire(blocking=False):
        advance_batch(settings, cache, datetime.now(UTC), enqueue)
        return
    try:
        deadline = time.monotonic() + BUSY_S
        first = True
        while time.monotonic() < deadline:
            moved = advance_batch(settings, cache, datetime.now(UTC), enqueue)
            if moved == 0:
                return
            if first and moved == BATCH:
                # A backlog: one more advancer joins now, not at the next sweep tick (one per tick took the burst
                # seconds to reach every worker's busy calls). It goes on only if it finds a busy slot free.
                advance_journeys.send()
            first = False
            if moved < BATCH:
                time.sleep(IDLE_S)
    finally:
        _BUSY.release()


_CACHES: dict[int, SpecCache] = {}


def _cache(settings: Settings) -> SpecCache:
    """The process's spec cache for these settings (pinned runs are parsed once per process, not per call)."""
    cache = _CACHES.get(id(settings))
    if cache is None or cache.settings is not settings:
        _CACHES.clear()
        cache = _CACHES[id(settings)] = SpecCache(settings)
    return cache


#: Hands a run's new owed message rows to the send path (the actor enqueues ``send_batch`` messages).
Enqueue = Callable[[RunRecord, list[int]], object]


class _Batch:
    """What one batch decided, handed on once its transaction committed: owed sends by run, runs that may be done."""

    def __init__(self) -> None:
        self.owed: dict[int, list[int]] = defaultdict(list)
        self.ended: set[int] = set()
        self.paused: set[int] = set()


def advance_batch(settings: Settings, cache: SpecCache, now: datetime, enqueue: Enqueue) -> int:
    """One batch of due timers and one of events, each in its own transaction, then their sends handed on.

    Returns:
        The larger of the two batches' sizes (timers or events handled): :data:`BATCH` means there may be more.
    """
    batch = _Batch()
    timers = _rolled_back_as_none(run_sync, _due(settings, cache, now, batch))
    events = _rolled_back_as_none(run_sync, _events(settings, cache, now, batch))
    for run_id, ids in batch.owed.items():
        run = run_sync(queries.get_run(run_id))
        if run is not None and ids:
            enqueue(run, ids)
    for run_id in batch.ended:
        run_sync(queries.finish_if_done(run_id))
    return max(timers, events)


def _rolled_back_as_none(run: Callable[[Any], int], batch: Any) -> int:
    try:
        return run(batch)
    except journeys.ChangedMeanwhile as exc:  # rolled back; its entries are claimed again on the next call
        log.warning("journey batch rolled back: %s", exc)
        return 0


async def _specs(cache: SpecCache, entries: list[journeys.EntryRow], batch: _Batch) -> dict[int, CampaignSpec]:
    """The pinned journey of each run of ``entries``; a run whose journey cannot be read is paused (and left out)."""
    runs = sorted({entry.run for entry in entries})
    missing = cache.missing(runs)
    metas = await journeys.run_metas(missing) if missing else {}
    specs: dict[int, CampaignSpec] = {}
    for run_id in runs:
        try:
            specs[run_id] = cache.spec_for(run_id, metas.get(run_id, {}))
        except CampaignError as exc:
            # Retrying cannot help until someone fixes the files: paused, its timers wait and nothing is lost.
            await queries.set_run_state(run_id, RunState.PAUSED, from_states=[RunState.RUNNING])
            log.error("journey run %r paused: its entries cannot advance: %s", run_id, exc)
            batch.paused.add(run_id)
    return specs


async def _due(settings: Settings, cache: SpecCache, now: datetime, batch: _Batch) -> int:
    async with transaction():
        claimed = await journeys.claim_due(now, BATCH)
        if not claimed:
            return 0
        specs = await _specs(cache, claimed, batch)
        decide = _Decider(settings, cache, now, await _contacts(cache, claimed, specs))
        saves = []
        for entry in claimed:
            spec = specs.get(entry.run)
            if spec is None:
                continue
            stimulus: Stimulus = Enter(now) if entry.phase == "entering" else Timer(now, entry.step)
            moved = decide(entry, spec, stimulus)
            if moved is not None:
                saves.append(moved[0])
        await _save(saves, now, batch)
    return len(claimed)


async def _events(settings: Settings, cache: SpecCache, now: datetime, batch: _Batch) -> int:
    async with transaction():
        events = await journeys.claim_events(BATCH)
        if not events:
            return 0
        read = await journeys.lock_entries(sorted({e.entry for e in events}))
        specs = await _specs(cache, read, batch)
        held = {entry.id for entry in read if entry.run not in specs}
        if held:  # their run was just paused: its events wait with it, for when it is fixed and resumed
            await journeys.requeue_events([event for event in events if event.entry in held])
        decide = _Decider(settings, cache, now, await _contacts(cache, read, specs))
        # Each entry is decided event after event in memory, then saved once against the version it was read at.
        current = {entry.id: entry for entry in read}
        merged: dict[int, journeys.EntrySave] = {}
        for event in events:
            entry = current.get(event.entry)
            spec = specs.get(entry.run) if entry is not None else None
            if entry is None or spec is None:
                continue
            if entry.phase == "entering":  # its first steps come first, then the event
                entry = _merge(merged, current, entry, decide(entry, spec, Enter(now)))
            if not entry.active:
                continue
            if event.message is not None and event.message != entry.last_message:
                continue  # a status of an earlier message: only the latest one counts
            _merge(merged, current, entry, decide(entry, spec, Event(event.type, event.at)))
        originals = {entry.id: entry for entry in read}
        saves = [msgspec.structs.replace(save, entry=originals[entry_id]) for entry_id, save in merged.items()]
        await _save(saves, now, batch)
    return len(events)


async def _contacts(
    cache: SpecCache, entries: list[journeys.EntryRow], specs: dict[int, CampaignSpec]
) -> dict[str, dict[str, Any]]:
    """The attributes of the batch's contacts, in one statement; none read for runs whose journey never reads them."""
    phones = [
        entry.recipient
        for entry in entries
        if entry.run in specs and cache.renderer_for(entry.run, specs[entry.run]).reads_contact
    ]
    return await queries.contact_attributes(phones) if phones else {}


def _merge(
    merged: dict[int, journeys.EntrySave],
    current: dict[int, journeys.EntryRow],
    entry: journeys.EntryRow,
    moved: tuple[journeys.EntrySave, journeys.EntryRow] | None,
) -> journeys.EntryRow:
    """Fold one decision (None: nothing changed) into the entry's pending save; returns the entry as it now stands."""
    if moved is None:
        return entry
    save, after = moved
    before = merged.get(after.id)
    if before is not None:
        save = msgspec.structs.replace(
            save, path=[*before.path, *save.path], messages=[*before.messages, *save.messages]
        )
    merged[after.id] = save
    current[after.id] = after
    return after


async def _save(saves: list[journeys.EntrySave], now: datetime, batch: _Batch) -> None:
    owed = await journeys.save_entries(saves, now=now)
    for run_id, message_id in owed:
        batch.owed[run_id].append(message_id)
    batch.ended.update(save.entry.run for save in saves if save.phase == "ended")


#: Stands for "a message sent in this batch" as an entry's latest message until the batch is saved: a status
#: event in the same batch is of an earlier message.
_NEW_MESSAGE = -1


class _Decider:
    """Runs the pure engine for one entry and stimulus: the save it needs and the entry as it will stand."""

    def __init__(
        self, settings: Settings, cache: SpecCache, now: datetime, contacts: dict[str, dict[str, Any]]
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.now = now
        self.contacts = contacts

    def __call__(
        self, entry: journeys.EntryRow, spec: CampaignSpec, stimulus: Stimulus
    ) -> tuple[journeys.EntrySave, journeys.EntryRow] | None:
        now = self.now
        zone = (spec.schedule.timezone if spec.schedule else None) or self.settings.timezone
        window = spec.schedule.send_window if spec.schedule else None

        def send_at(phone: str, own_zone: str | None) -> datetime | None:
            if window is None:
                return None
            at = send_at_for(phone, window, zone, now, recipient_tz=own_zone)
            return at if at > now else None

        renderer = self.cache.renderer_for(entry.run, spec)
        contact = self.contacts.get(entry.recipient)
        outcome = next_for(entry, stimulus, spec, renderer, timezone=zone, send_at=send_at, contact=contact)
        state = outcome.state
        if state == state_of(entry) and not outcome.path:
            return None
        seen = sorted(state.seen)
        save = journeys.EntrySave(
            entry=entry,
            step=state.step,
            phase=state.phase,
            reached_at=state.reached_at,
            due_at=state.due_at,
            seen=seen,
            outcome=state.outcome,
            path=outcome.path,
            messages=outcome.messages,
        )
        after = msgspec.structs.replace(
            entry,
            step=state.step,
            phase=state.phase,
            reached_at=state.reached_at,
            due_at=state.due_at,
            seen=seen,
            outcome=state.outcome,
            active=state.phase != "ended",
            last_message=_NEW_MESSAGE if outcome.messages else entry.last_message,
        )
        return save, after
