"""``fan_out_run(run_id)``: stream a campaign run's audience into ledger rows and enqueue one send per new row."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import dramatiq
import msgspec

from actors import runtime
from actors.enqueue import enqueue_rows, run_rate, send_options
from actors.journeys import advance_journeys, enter_audience
from hub.audience import AudienceProblem, Recipient, iter_audience
from hub.campaigns.loader import find_campaign
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.contacts import contact_zone, with_contact
from hub.errors import CampaignError, RenderError
from hub.rendering import CompiledMessage, compile_message, render_message
from hub.status import MessageStatus, RunState
from hub.store import queries
from hub.store.db import run_sync
from hub.store.records import NewMessage, RunRecord

log = logging.getLogger(__name__)

#: Audience entries per ledger insert (and per checkpoint): one statement each on PostgreSQL.
CHUNK = 5000
#: Chunks handed to the writer and not yet written while the next one renders: the render of chunk k+1 overlaps
#: the insert and enqueue of chunk k, and memory stays bounded to a few chunks.
WRITES_AHEAD = 1
#: Run states in which fan-out writes rows (a paused run still gets its rows; they are held until resume).
FAN_OUT_STATES = (RunState.SCHEDULED, RunState.RUNNING, RunState.PAUSED)


@dramatiq.actor(actor_name="fan_out_run", queue_name="default", time_limit=6 * 3_600_000)
def fan_out_run(run_id: int) -> None:
    """Write run ``run_id``'s ledger rows from its audience and enqueue their sends; idempotent and resumable.

    Starts from the run's checkpoint (audience entries already written), so a crash resumes where it stopped.
    A re-run inserts no second row and enqueues only rows it inserted itself; rows inserted whose enqueue was
    lost are re-enqueued by the sweeper.
    """
    settings = runtime.current().settings
    run = run_sync(queries.get_run(run_id))
    if run is None or run.state not in FAN_OUT_STATES:
        log.info("fan-out of run %r skipped: %s", run_id, "no such run" if run is None else run.state)
        return
    if run.state == RunState.SCHEDULED:
        run_sync(queries.set_run_state(run_id, RunState.RUNNING, from_states=[RunState.SCHEDULED]))
    try:
        spec = campaign_for(run, settings)
        if spec.journey is not None:
            enter_audience(run, spec, settings)  # a journey's recipients enter it; its steps send
            advance_journeys.send()
            return
        compiled = compile_message(spec.one_message(), settings, name=spec.name, source=str(spec.source))
    except (CampaignError, RenderError) as exc:
        # Retrying cannot help until someone fixes the file; paused, the run keeps its place (the sweeper does
        # not re-enqueue a paused run's fan-out) and `hub runs resume` continues from the checkpoint.
        run_sync(queries.set_run_state(run_id, RunState.PAUSED, from_states=[RunState.RUNNING, RunState.SCHEDULED]))
        log.error("fan-out of run %r paused: its campaign cannot be loaded: %s", run_id, exc)
        return
    meta = dict(run.meta)
    if run_rate(meta) is None and spec.rate_limit is not None:
        meta["rate_limit"] = {"per_second": spec.rate_limit.per_second}
    options = send_options(run_id, meta)

    window = spec.schedule.send_window if spec.schedule else None
    zone = (spec.schedule.timezone if spec.schedule else None) or settings.timezone
    # Contacts are read only when the message reads `contact` or a send window needs the recipients' zones.
    contact_vars = "contact" in compiled.names
    position = run.checkpoint
    audience = itertools.islice(iter_audience(spec, settings, queries.contact_pages), run.checkpoint, None)
    written = 0
    with _Writer(run_id) as writer:
        for chunk in _chunks(audience, CHUNK):
            now = datetime.now(UTC)
            found = _attributes(chunk) if contact_vars or window is not None else {}
            if contact_vars:
                chunk = [_with_contact(item, found) for item in chunk]
            if window is None:
                rows = [ledger_row(item, compiled) for item in chunk]
            else:
                rows = [ledger_row(item, compiled, send_at=_send_at(item, window, zone, now, found)) for item in chunk]
            position += len(chunk)
            # The caller enqueues chunk k's sends while the writer inserts chunk k+1.
            for new_ids in writer.submit(insert_chunk, run_id, rows, position):
                written += enqueue_rows(new_ids, options=options)
        for new_ids in writer.drain():
            written += enqueue_rows(new_ids, options=options)
    run_sync(queries.update_checkpoint(run_id, position, total=position, fanned_out=True))
    log.info("fan-out of run %r: %d audience entries, %d new sends enqueued", run_id, position, written)
    run_sync(queries.finish_if_done(run_id))


def campaign_for(run: RunRecord, settings: Settings) -> CampaignSpec:
    """The campaign a run sends (its file, as it is now in the repository)."""
    if not run.campaign:
        raise ValueError(f"run {run.id} has no campaign to fan out (API sends write their rows directly)")
    return find_campaign(settings, run.campaign)


def _attributes(chunk: list[Recipient | AudienceProblem]) -> dict[str, dict[str, Any]]:
    """The contact attributes of a chunk's recipients (one statement per thousand)."""
    return run_sync(queries.contact_attributes(item.phone for item in chunk if isinstance(item, Recipient)))


def _with_contact(item: Recipient | AudienceProblem, found: dict[str, dict[str, Any]]) -> Recipient | AudienceProblem:
    if isinstance(item, AudienceProblem):
        return item
    return msgspec.structs.replace(item, vars=with_contact(item.vars, found.get(item.phone)))


def _send_at(
    item: Recipient | AudienceProblem, window: Any, zone: str, now: datetime, found: dict[str, dict[str, Any]]
) -> datetime | None:
    if window is None or isinstance(item, AudienceProblem):
        return None
    from hub.window import send_at_for

    at = send_at_for(item.phone, window, zone, now, recipient_tz=contact_zone(found.get(item.phone)))
    return at if at > now else None


def ledger_row(
    item: Recipient | AudienceProblem, compiled: CompiledMessage, *, send_at: datetime | None = None
) -> NewMessage:
    """The ledger row for one audience entry (pure): owed when it renders, else ``rejected``/``skipped``."""
    if isinstance(item, AudienceProblem):
        return NewMessage(
            recipient=item.raw[:64],
            status=MessageStatus(item.status),
            error_message=f"{item.source}: {item.reason}",
        )
    try:
        message = render_message(compiled, item)
    except RenderError as exc:
        return NewMessage(recipient=item.phone, status=MessageStatus.REJECTED, error_message=str(exc))
    meta: dict[str, Any] = {"source": item.source}
    return NewMessage(
        recipient=message.to,
        body=message.body,
        content_sid=message.content_sid,
        content_variables=message.content_variables,
        media_url=list(message.media_url),
        send_at=send_at,
        meta=meta,
    )


def insert_chunk(run_id: int, rows: list[NewMessage], position: int) -> list[int]:
    """Insert one chunk's rows with the checkpoint they reach; the caller then enqueues the rows it returns.

    The checkpoint commits with the rows (one statement on PostgreSQL), so a crash never leaves it ahead of rows
    not written; rows written whose enqueue a crash lost are owed rows with no live message, which the sweeper
    enqueues (a re-run from the checkpoint no longer meets them).

    Returns:
        Ids of the rows it inserted that are due now: the sends to enqueue.
    """
    # Rows due later (quiet hours) are not parked in Redis: the sweeper enqueues them when they fall due.
    later = [row for row in rows if row.send_at is not None]
    if later:
        run_sync(queries.insert_messages(run_id, later))
        rows = [row for row in rows if row.send_at is None]
    return run_sync(queries.insert_messages(run_id, rows, checkpoint=position))


class _Writer:
    """One thread that writes chunks in the order given while the caller renders (and enqueues) around it.

    At most :data:`WRITES_AHEAD` chunks wait for it; :meth:`submit` blocks beyond that. Once a chunk fails, no later
    chunk is written (its checkpoint would pass the failed rows): the failure is raised to the caller by
    :meth:`submit` or :meth:`drain`, and the actor's retry resumes from the checkpoint.
    """

    def __init__(self, run_id: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hub-fan-out-{run_id}")
        self._queued: deque[Future[list[int]]] = deque()
        self._failed = threading.Event()

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        for future in self._queued:
            future.cancel()
        self._pool.shutdown(wait=True)

    def submit(self, write: Callable[..., list[int]], *args: Any) -> list[list[int]]:
        """Queue ``write(*args)``; returns what the chunks it had to wait for returned, in order."""
        self._queued.append(self._pool.submit(self._guarded, write, *args))
        done = []
        while len(self._queued) > WRITES_AHEAD:
            done.append(self._queued.popleft().result())
        return done

    def drain(self) -> list[list[int]]:
        """Wait for every queued chunk; returns what they returned, in order."""
        done = []
        while self._queued:
            done.append(self._queued.popleft().result())
        return done

    def _guarded(self, write: Callable[..., list[int]], *args: Any) -> list[int]:
        if self._failed.is_set():
            raise RuntimeError("an earlier chunk of this fan-out failed; later chunks are not written")
        try:
            return write(*args)
        except BaseException:
            self._failed.set()
            raise


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


__all__ = ["CHUNK", "WRITES_AHEAD", "campaign_for", "fan_out_run", "insert_chunk", "ledger_row"]
