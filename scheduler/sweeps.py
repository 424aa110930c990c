"""The scheduler's periodic sweeps: due runs, due messages, recovery (with expiry). Each takes the current instant."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.planning import as_utc
from hub.status import RunState

if TYPE_CHECKING:
    from hub.store.records import RunRecord
    from scheduler.fire import Firer
    from scheduler.main import Intervals, Sweep

__all__ = ["DueMessages", "EnqueueMessages", "default_sweeps"]

log = logging.getLogger(__name__)

#: Enqueues the sends of ledger rows of one run (None: run unknown), with that run's rate cap.
EnqueueMessages = Callable[[Sequence[int], "RunRecord | None"], Any]
#: Ids fetched per page of the due-message sweep.
DUE_PAGE = 1000
#: Running runs examined to give due rows their run's rate cap.
RUNS_LIMIT = 1000
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

    Rows are enqueued per run, with the run's own rate cap (``rate_limit``), so a row delayed by quiet hours
    keeps its campaign's pace.

    Args:
        enqueue: enqueues the sends of the ids of one run.
        start: the instant the scheduler started.
    """

    def __init__(self, enqueue: EnqueueMessages, *, start: datetime) -> None:
        self.enqueue = enqueue
        self.watermark = as_utc(start) - INITIAL_LOOKBACK

    def __call__(self, now: datetime) -> int:
        from hub.store import queries

        at = as_utc(now)
        remaining = set(self._due(at, None))
        total = len(remaining)
        if remaining:
            # Grouping costs a query per running run, so it is paid only when something came due.
            for run in _run_sync(queries.list_runs(states=[RunState.RUNNING], limit=RUNS_LIMIT)):
                ids = [i for i in self._due(at, run.id) if i in remaining]
                if ids:
                    self.enqueue(ids, run)
                    remaining.difference_update(ids)
                if not remaining:
                    break
            if remaining:
                self.enqueue(sorted(remaining), None)
            log.info("%d message(s) came due: enqueued", total)
        self.watermark = at
        return total

    def _due(self, at: datetime, run_id: int | None) -> list[int]:
        from hub.store import queries

        found: list[int] = []
        while True:
            ids = _run_sync(
                queries.due_message_ids(
                    at, DUE_PAGE, after_id=found[-1] if found else 0, send_at_after=self.watermark, run_id=run_id
                )
            )
            found.extend(ids)
            if len(ids) < DUE_PAGE:
                return found


def default_sweeps(
    firer: Firer,
    intervals: Intervals,
    *,
    enqueue_sends: EnqueueMessages,
    recover: Sweep,
    advance_journeys: Sweep | None = None,
) -> dict[str, tuple[float, Sweep]]:
    """The sweeps ``hub scheduler`` runs: name -> (interval in seconds, task).

    - ``due-runs``: runs created ``scheduled`` (``send_at``) start when due (compare-and-set, then fan-out).
    - ``due-messages``: rows whose ``send_at`` came due are enqueued (``enqueue_sends``).
    - ``recovery``: ``recover``: lost queue messages re-enqueued, stale claims made ``unknown``, unsent messages
      of expired runs ended ``expired``, finished runs closed.
    - ``journeys``: ``advance_journeys``: journey entries whose timer fell due or that got an event move on.

    ``enqueue_sends``, ``recover`` and ``advance_journeys`` are the actors', handed over by the process that wires
    the scheduler.
    """
    sweeps: dict[str, tuple[float, Sweep]] = {
        "due-runs": (intervals.due_s, lambda now: firer.start_due_runs()),
        "due-messages": (intervals.due_s, DueMessages(enqueue_sends, start=firer.clock())),
        "recovery": (intervals.recovery_s, recover),
    }
    if advance_journeys is not None:
        sweeps["journeys"] = (intervals.due_s, advance_journeys)
    return sweeps
