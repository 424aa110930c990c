"""The scheduler's periodic sweeps: due runs, due messages, recovery (with expiry). Each takes the current instant."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.config import Settings
from scheduler.plan import as_utc

if TYPE_CHECKING:
    from scheduler.fire import Firer
    from scheduler.main import Intervals, Sweep

__all__ = ["DueMessages", "default_sweeps"]

log = logging.getLogger(__name__)

#: Enqueues ``send_message`` for ledger rows (``actors.enqueue.enqueue_many``).
EnqueueMessages = Callable[[Sequence[int]], Any]
#: Ids fetched per page of the due-message sweep.
DUE_PAGE = 1000
#: At start, rows that came due this long before are enqueued; older ones are the recovery sweep's.
INITIAL_LOOKBACK = timedelta(minutes=1)


def _run_sync(coro: Any) -> Any:
    from hub.store.db import run_sync

    return run_sync(coro)


class DueMessages:
    """Enqueue rows whose ``send_at`` came due since the previous sweep (API sends with ``send_at``).

    A watermark, not a Redis delay: a message scheduled for next week is a row, not a week-long queue entry,
    and only rows that came due since the last sweep are enqueued, so a campaign's backlog is not enqueued
    again every second. Rows skipped while due (a paused run, a retry not yet due) are the recovery sweep's.
    Several schedulers may enqueue the same row: the worker's claim sends it once.

    Args:
        enqueue: enqueues ``send_message(id)`` for each id.
        start: the instant the scheduler started.
    """

    def __init__(self, enqueue: EnqueueMessages, *, start: datetime) -> None:
        self.enqueue = enqueue
        self.watermark = as_utc(start) - INITIAL_LOOKBACK

    def __call__(self, now: datetime) -> int:
        from hub.store import queries

        at = as_utc(now)
        total, after_id = 0, 0
        while True:
            ids = _run_sync(queries.due_message_ids(at, DUE_PAGE, after_id=after_id, send_at_after=self.watermark))
            if ids:
                self.enqueue(ids)
                total += len(ids)
                after_id = ids[-1]
            if len(ids) < DUE_PAGE:
                break
        self.watermark = at
        if total:
            log.info("%d message(s) came due: enqueued", total)
        return total


def _enqueue_send(ids: Sequence[int]) -> int:
    from actors.send import enqueue_sends

    # Like the recovery sweep's re-enqueues: the sender cap applies, a run's own cap comes with its fan-out.
    return enqueue_sends(list(ids))


def _recover(settings: Settings) -> Sweep:
    from actors.sweep import sweep

    return lambda now: sweep(settings, now)


def default_sweeps(settings: Settings, firer: Firer, intervals: Intervals) -> dict[str, tuple[float, Sweep]]:
    """The sweeps ``hub scheduler`` runs: name -> (interval in seconds, task).

    - ``due-runs``: runs created ``scheduled`` (``send_at``) start when due (compare-and-set, then fan-out).
    - ``due-messages``: rows whose ``send_at`` came due are enqueued.
    - ``recovery``: ``actors.sweep.sweep``: lost queue messages re-enqueued, stale claims made ``unknown``,
      unsent messages of expired runs ended ``expired``, finished runs closed.
    """
    return {
        "due-runs": (intervals.due_s, lambda now: firer.start_due_runs()),
        "due-messages": (intervals.due_s, DueMessages(_enqueue_send, start=firer.clock())),
        "recovery": (intervals.recovery_s, _recover(settings)),
    }
