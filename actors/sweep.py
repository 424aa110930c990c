"""Recovery sweeper: re-enqueue owed rows nobody will send, settle stuck claims, expire and finish runs.

Safe anywhere (worker, scheduler, ``hub run``) and any number of times at once: every step is a compare-and-set
in the ledger, and an extra ``send_message`` for a row is harmless (its claim fails).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import dramatiq
import msgspec

from actors import runtime
from actors.enqueue import enqueue_many
from actors.middleware.inflight import inflight_of
from hub.config import Settings
from hub.status import RunState
from hub.store import queries
from hub.store.db import run_sync

log = logging.getLogger(__name__)

#: A due row untouched for this long with no live queue message is lost (younger ones may be mid-enqueue).
IDLE_S = 30.0
#: Ids read from the ledger per page.
PAGE = 1000
#: Seconds between sweeps inside ``hub worker``.
INTERVAL_S = 10.0


class SweepReport(msgspec.Struct, frozen=True):
    """What one sweep did: rows re-enqueued, claims marked ``unknown``, rows expired, runs finished."""

    requeued: int = 0
    stale: int = 0
    expired: int = 0
    finished: int = 0


def stale_after(settings: Settings) -> timedelta:
    """How old a ``sending`` claim must be before the sweeper gives up on its worker (2 x Twilio timeout + 60 s)."""
    return timedelta(seconds=2 * settings.twilio.timeout_seconds + 60)


def sweep(settings: Settings, now: datetime | None = None, *, broker: dramatiq.Broker | None = None) -> SweepReport:
    """Run one sweep (sync; the database calls go through :func:`hub.store.db.run_sync`).

    Args:
        settings: the hub settings (Twilio timeout).
        now: the sweep time (UTC); defaults to now.
        broker: where to re-enqueue; defaults to the actors' broker.
    """
    from actors.send import send_message

    now = now or datetime.now(UTC)
    broker = broker or send_message.broker
    stale = run_sync(queries.stale_sending(now - stale_after(settings), now=now))
    if stale:
        log.warning("sweeper: %d message(s) stuck in sending marked unknown: %s", len(stale), stale[:20])
    expired = run_sync(queries.expire_messages(now))
    requeued = _requeue_lost(broker, now)
    finished = 0
    for run in run_sync(queries.list_runs(states=[RunState.RUNNING], limit=1000)):
        if run_sync(queries.finish_if_done(run.id, now=now)):
            finished += 1
    report = SweepReport(requeued=requeued, stale=len(stale), expired=expired, finished=finished)
    if requeued or finished or expired:
        log.info("sweeper: %r", report)
    return report


def _requeue_lost(broker: dramatiq.Broker, now: datetime) -> int:
    from actors.send import send_message

    inflight = inflight_of(broker)
    idle_since = now - timedelta(seconds=IDLE_S)
    after_id = 0
    total = 0
    while True:
        ids = run_sync(queries.due_message_ids(now, PAGE, idle_since=idle_since, after_id=after_id))
        if not ids:
            return total
        live = inflight.live(ids) if inflight is not None else set()
        lost = [i for i in ids if i not in live]
        # Swept rows get the sender cap only; a run's own cap comes with fan-out's enqueue.
        total += enqueue_many(send_message, lost, options={})
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


__all__ = ["IDLE_S", "PeriodicSweeper", "SweepReport", "stale_after", "sweep", "sweep_once"]
