"""Journeys on the worker side: enter a run's audience, and advance entries whose timer fell due or got an event."""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dramatiq

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
#: Entries advanced per transaction: each holds its entries' row locks while the engine decides.
BATCH = 200
#: One call of the actor stops after this many batches; the next sweep tick goes on.
MAX_BATCHES = 50


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
    audience = itertools.islice(iter_audience(spec, settings), run.checkpoint, None)
    while chunk := list(itertools.islice(audience, CHUNK)):
        position += len(chunk)
        now = datetime.now(UTC)
        entries = []
        for item in chunk:
            if isinstance(item, AudienceProblem):
                log.info("journey run %r: %s not entered: %s", run.id, item.raw, item.reason)
                continue
            who = entry_recipient(
                item.phone, item.vars, source=item.source, event={}, contact=None, entry_id=None, started_at=now
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
    any number at once: entries are claimed with SKIP LOCKED and saved by compare-and-set)."""
    settings = runtime.current().settings
    cache = SpecCache(settings)

    def enqueue(run: RunRecord, ids: list[int]) -> None:
        enqueue_rows(ids, options=run_send_options(run, settings))

    for _ in range(MAX_BATCHES):
        moved = advance_batch(settings, cache, datetime.now(UTC), enqueue)
        if moved == 0:
            return


#: Hands a run's new owed message rows to the send path (the actor enqueues ``send_message``).
Enqueue = Callable[[RunRecord, list[int]], object]


def advance_batch(settings: Settings, cache: SpecCache, now: datetime, enqueue: Enqueue) -> int:
    """One batch of due timers and one of events, each in its own transaction, then their sends handed on.

    Returns:
        How many timers and events were handled.
    """
    owed: dict[int, list[int]] = defaultdict(list)
    ended: set[int] = set()
    handled = run_sync(_due(settings, cache, now, owed, ended))
    handled += run_sync(_events(settings, cache, now, owed, ended))
    for run_id, ids in owed.items():
        run = run_sync(queries.get_run(run_id))
        if run is not None and ids:
            enqueue(run, ids)
    for run_id in ended:
        run_sync(queries.finish_if_done(run_id))
    return handled


async def _due(settings: Settings, cache: SpecCache, now: datetime, owed: dict[int, list[int]], ended: set[int]) -> int:
    async with transaction():
        claimed = await journeys.claim_due(now, BATCH)
        for entry in claimed:
            stimulus: Stimulus = Enter(now) if entry.phase == "entering" else Timer(now, entry.step)
            await _advance(settings, cache, entry, stimulus, now, owed, ended)
    return len(claimed)


async def _events(
    settings: Settings, cache: SpecCache, now: datetime, owed: dict[int, list[int]], ended: set[int]
) -> int:
    async with transaction():
        events = await journeys.claim_events(BATCH)
        if not events:
            return 0
        entries = {entry.id: entry for entry in await journeys.lock_entries(sorted({e.entry for e in events}))}
        for event in events:
            entry = entries.get(event.entry)
            if entry is not None and entry.phase == "entering":  # its first steps come first, then the event
                entry = await _advance(settings, cache, entry, Enter(now), now, owed, ended)
            if entry is None or not entry.active:
                continue
            if event.message is not None and event.message != entry.last_message:
                continue  # a status of an earlier message: only the latest one counts
            saved = await _advance(settings, cache, entry, Event(event.type, event.at), now, owed, ended)
            if saved is not None:
                entries[entry.id] = saved
    return len(events)


async def _advance(
    settings: Settings,
    cache: SpecCache,
    entry: journeys.EntryRow,
    stimulus: Stimulus,
    now: datetime,
    owed: dict[int, list[int]],
    ended: set[int],
) -> journeys.EntryRow | None:
    """Decide and save one entry; returns it as saved (None: it could not be advanced)."""
    try:
        spec = cache.spec_for(entry.run, entry.run_meta)
    except CampaignError as exc:
        # Retrying cannot help until someone fixes the files: paused, its timers wait and nothing is lost.
        await queries.set_run_state(entry.run, RunState.PAUSED, from_states=[RunState.RUNNING])
        log.error("journey run %r paused: entry %r cannot advance: %s", entry.run, entry.id, exc)
        return None
    zone = (spec.schedule.timezone if spec.schedule else None) or settings.timezone
    window = spec.schedule.send_window if spec.schedule else None

    def send_at(phone: str) -> datetime | None:
        at = send_at_for(phone, window, zone, now)
        return at if at > now else None

    outcome = next_for(entry, stimulus, spec, cache.renderer_for(entry.run, spec), timezone=zone, send_at=send_at)
    state = outcome.state
    if state == state_of(entry) and not outcome.path:
        return entry
    new_ids = await journeys.save_entry(
        entry,
        step=state.step,
        phase=state.phase,
        reached_at=state.reached_at,
        due_at=state.due_at,
        seen=sorted(state.seen),
        outcome=state.outcome,
        path=outcome.path,
        messages=outcome.messages,
        now=now,
    )
    if new_ids is None:
        log.info("journey entry %r changed meanwhile; left for its next event or timer", entry.id)
        return None
    owed[entry.run].extend(new_ids)
    if state.phase == "ended":
        ended.add(entry.run)
    return journeys.EntryRow(
        **{
            **_fields(entry),
            "step": state.step,
            "phase": state.phase,
            "reached_at": state.reached_at,
            "due_at": state.due_at,
            "seen": sorted(state.seen),
            "outcome": state.outcome,
            "version": entry.version + 1,
            "active": state.phase != "ended",
            "last_message": new_ids[-1] if new_ids else entry.last_message,
        }
    )


def _fields(entry: journeys.EntryRow) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in entry.__struct_fields__}
