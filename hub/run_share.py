"""How runs share the workers (pure): a run keeps only a window of its owed rows queued, the rest in the ledger.

Worker threads are shared by every run, and a batch waiting for send slots holds one. Were all of a run's batches
queued at once, they would fill every thread, each waiting its turn at the run's pace, while the batches of the
other runs waited in the queue behind them (issue 15: a resumed run sent nothing for minutes beside a run capped
at 20/s under an 80/s sender). Spreading a run's batches over time in the delay queue assumed the pace the run
would get: a run that got less (sharing the sender) piled batches up until they filled the threads in turn, and a
long run parked hours of batches in Redis. So the queue holds at most :func:`window_rows` rows of each run, counted
live (:mod:`actors.middleware.inflight`); as each batch of the run ends, it queues the run's next owed rows from the
ledger (:func:`room` says how many), and the sweeper does the same for a run none of whose batches is left. A run
sends as fast as its batches are served, never faster than its cap, and holds only a few threads.
"""

from __future__ import annotations

import math

__all__ = ["BATCHES_AT_LEAST", "WINDOW_S", "room", "window_rows"]

#: Seconds of sends at a run's pace kept queued: enough that the run never waits for its next batch to be
#: delivered and claimed (a few hundred ms), few enough that it holds few threads.
WINDOW_S = 2.5
#: Batches of a run kept queued at the least, so one ends while the next is already sending.
BATCHES_AT_LEAST = 2


def window_rows(run_rate: float | None, per_second: float, batch_size: int) -> int:
    """How many owed rows of a run the queue holds at most.

    Args:
        run_rate: the run's own cap, messages per second (None: none).
        per_second: the sender cap.
        batch_size: ids per send message.
    """
    pace = min(run_rate, per_second) if run_rate else per_second
    return max(BATCHES_AT_LEAST * batch_size, math.ceil(pace * WINDOW_S))


def room(window: int, queued: int) -> int:
    """How many more rows of a run may be queued when ``queued`` already are (never negative)."""
    return max(0, window - queued)
