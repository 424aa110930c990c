"""Recovery sweeper: re-enqueue owed rows and unfinished fan-outs nobody will process, settle stuck claims, expire
and finish runs.

Safe anywhere (worker, scheduler, ``hub run``) and any number of times at once: every step is a compare-and-set
in the ledger, an extra send message for a row is harmless (its claim fails), and so is an extra
``fan_out_run`` (it inserts no row twice and enqueues only rows it inserted).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import msgspec

from actors import runtime
from actors.broker import HubRedisBroker
from actors.enqueue import enqueue_rows, run_send_options
from actors.middleware.inflight import inflight_of
from actors.send import send_batch
from hub.claims import claim_lease
from hub.config import Settings
from hub.status import RunState
from hub.store import queries
from hub.store.db import run_sync
from hub.store.records import RunRecord

log = logging.getLogger(__name__)

#: A due row untouched for this long with no live queue message is lost (younger ones may be mid-enqueue).
IDLE_S = 30.0
#: Ids read from the ledger per page.
PAGE = 1000
#: Seconds between sweeps inside ``hub worker``.
INTERVAL_S = 10.0


class SweepReport(msgspec.Struct, frozen=True):
    """What one sweep did: rows re-enqueued, claims marked ``unknown``, rows expired, runs finished, fan-outs
    re-enqueued."""

    requeued: int = 0
    stale: int = 0
    expired: int = 0
    finished: int = 0
    fan_outs: int = 0


def stale_after(settings: Settings) -> timedelta:
    """How old a ``sending`` claim must be before the sweeper gives up on its worker (its lease, :mod:`hub.claims`)."""
    return claim_lease(settings.twilio.timeout_seconds)


def sweep(settings: Settings, now: datetime | None = None, *, broker: dramatiq.Broker | None = None) -> SweepReport:
    """Run one sweep (sync; the database calls go through :func:`hub.store.db.run_sync`).

    Args:
        settings: the hub settings (Twilio timeout).
        now: the sweep time (UTC); defaults to now.
        broker: where to re-enqueue; defaults to the actors' broker.
    """
    now = now or datetime.now(UTC)
    broker = broker or send_batch.broker
    requeue_dead_workers(broker)
    stale = run_sync(queries.stale_sending(now - stale_after(settings), now=now))
    if stale:
        log.warning("sweeper: %d message(s) stuck in sending marked unknown: %s", len(stale), stale[:20])
    expired = run_sync(queries.expire_messages(now))
    running = run_sync(queries.list_runs(states=[RunState.RUNNING], limit=1000))
    fan_outs = _resume_fan_outs(broker, running, now)
    _close_direct_runs(running, now)
    requeued = _requeue_lost(broker, settings, running, now)
    finished = 0
    for run in running:
        if run_sync(queries.finish_if_done(run.id, now=now)):
            finished += 1
    report = SweepReport(requeued=requeued, stale=len(stale), expired=expired, finished=finished, fan_outs=fan_outs)
    if requeued or finished or expired or fan_outs:
        log.info("sweeper: %r", report)
    from actors.reconcile import reconcile_after_sweep  # logs and swallows its own failures: the sweep stands

    reconcile_after_sweep(settings, now)
    return report


def fan_outs_to_resume(runs: Iterable[RunRecord], live: set[int], idle_before: datetime) -> list[int]:
    """Runs whose fan-out must be enqueued again (pure).

    A running campaign run whose fan-out has not completed (no ``fanned_out_at``), with no live ``fan_out_run``
    message, and started before ``idle_before`` (a run created a moment ago may be between its creation and the
    enqueue of its fan-out): its message was lost (a crash after the run was created, Redis flushed).

    Args:
        runs: candidate runs.
        live: ids of runs with a live ``fan_out_run`` message.
        idle_before: only runs started (or created) before this instant.
    """
    return [
        run.id
        for run in runs
        if run.state == RunState.RUNNING
        and run.kind == "campaign"
        and run.campaign
        and run.fanned_out_at is None
        and run.id not in live
        and (run.started_at or run.created_at) <= idle_before
    ]


def _resume_fan_outs(broker: dramatiq.Broker, runs: list[RunRecord], now: datetime) -> int:
    from actors.fan_out import fan_out_run

    inflight = inflight_of(broker)
    if inflight is None:  # no counters (the placeholder broker): cannot tell a lost fan-out from a running one
        return 0
    candidates = [run for run in runs if run.fanned_out_at is None]
    live = inflight.live([run.id for run in candidates], actor=fan_out_run.actor_name)
    owed = fan_outs_to_resume(candidates, live, now - timedelta(seconds=IDLE_S))
    for run_id in owed:
        log.warning("sweeper: run %r has an unfinished fan-out and no queued one: fan-out enqueued again", run_id)
        broker.enqueue(fan_out_run.message(run_id))
    return len(owed)


def _close_direct_runs(runs: list[RunRecord], now: datetime) -> None:
    """Mark API runs (bulk, single) as written: their rows are inserted with the run, so once it is past the
    creating request (``IDLE_S``) nothing more will be added and ``finish_if_done`` may close it."""
    idle_before = now - timedelta(seconds=IDLE_S)
    for run in runs:
        if run.kind != "campaign" and run.fanned_out_at is None and run.created_at <= idle_before:
            run_sync(queries.update_checkpoint(run.id, run.checkpoint, fanned_out=True, now=now))


def requeue_dead_workers(broker: dramatiq.Broker, *, heartbeat_timeout_ms: int | None = None) -> None:
    """Put the unacked messages of dead worker processes back on their queues now (Redis brokers only).

    Dramatiq does this itself, but only on a random 0.1 % of its Redis commands, so after a ``kill -9`` the
    messages a worker had prefetched could wait minutes; their rows look live to the sweeper meanwhile.

    Args:
        broker: the broker (anything but a :class:`actors.broker.HubRedisBroker` is left alone).
        heartbeat_timeout_ms: silence after which a worker counts as dead, ms; the broker's own by default
            (60 s). Shorter values can hand a slow live worker's messages out again: harmless, the claim sends
            each row once.
    """
    if isinstance(broker, HubRedisBroker):
        broker.requeue_dead_workers(heartbeat_timeout_ms)


def _requeue_lost(broker: dramatiq.Broker, settings: Settings, running: list[RunRecord], now: datetime) -> int:
    """Re-enqueue due rows with no live message: each running run's with its own rate cap, then any left over.

    Rows re-enqueued in the first pass are live by the second, so none is enqueued twice.
    """
    total = 0
    for run in running:
        options = functools.partial(run_send_options, run, settings)
        total += _requeue_lost_rows(broker, now, run_id=run.id, options=options)
    return total + _requeue_lost_rows(broker, now, run_id=None, options=dict)


def enqueue_owed(run_id: int, settings: Settings, *, broker: dramatiq.Broker | None = None) -> int:
    """Enqueue every due row of a run that has no live queue message (after ``resume``: the sends that met the
    pause were dropped, and waiting for the sweeper's idle delay would stall the run half a minute).

    Returns:
        How many rows were enqueued.
    """
    run = run_sync(queries.get_run(run_id))
    if run is None:
        return 0
    broker = broker or send_batch.broker
    now = datetime.now(UTC)
    return _requeue_lost_rows(
        broker, now, run_id=run_id, options=lambda: run_send_options(run, settings), idle_since=now
    )


def _requeue_lost_rows(
    broker: dramatiq.Broker,
    now: datetime,
    *,
    run_id: int | None,
    options: Callable[[], dict[str, Any]],
    idle_since: datetime | None = None,
) -> int:
    inflight = inflight_of(broker)
    idle_since = idle_since or now - timedelta(seconds=IDLE_S)
    after_id = 0
    total = 0
    run_options: dict[str, Any] | None = None
    while True:
        ids = run_sync(queries.due_message_ids(now, PAGE, idle_since=idle_since, after_id=after_id, run_id=run_id))
        if not ids:
            return total
        live = inflight.live(ids) if inflight is not None else set()
        lost = [i for i in ids if i not in live]
        if lost:
            run_options = options() if run_options is None else run_options  # read campaign files only when needed
            queued = enqueue_rows(lost, options=run_options)
            total += queued
            if queued < len(lost):
                return total  # the run's window is full (hub.run_share): its batches queue the rest as they end
        after_id = ids[-1]


def sweep_once(settings: Settings | None = None) -> SweepReport:
    """One sweep with the process's actor runtime (the scheduler's recovery job calls this)."""
    return sweep(settings or runtime.current().settings)


class PeriodicSweeper:
    """Run :func:`sweep` every ``interval_s`` seconds on a daemon thread until :meth:`stop`."""

    def __init__(self, settings: Settings, *, interval_s: float = INTERVAL_S) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hub-sweeper", daemon=True)

    def start(self) -> PeriodicSweeper:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                sweep(self.settings)
            except Exception:  # a failed sweep (database down) is retried on the next tick
                log.exception("sweeper: sweep failed; retrying in %.0f s", self.interval_s)


__all__ = [
    "IDLE_S",
    "PeriodicSweeper",
    "SweepReport",
    "enqueue_owed",
    "fan_outs_to_resume",
    "requeue_dead_workers",
    "stale_after",
    "sweep",
    "sweep_once",
]
