"""How runs share the workers (pure): a run's batches are queued at the run's pace, not all at once.

Worker threads are shared by every run, and a batch waiting for a send slot holds one. Were all of a run's
batches queued at once, they would fill every thread, each waiting its turn at the run's pace, while the batches
of the other runs waited in the queue behind them (issue 15: a resumed run sent nothing for minutes beside a run
capped at 20/s under an 80/s sender; with only the capped run spread out, it starved in turn behind the other
run's batches). So each batch of a run is queued with a delay: the time the batches before it take at the run's
pace (its own cap, else the sender's), less :data:`LEAD_MS`. A run then keeps only a few seconds of batches
waiting for slots, and the threads stay free for the other runs' batches.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["LEAD_MS", "MAX_SPREAD_MS", "batch_delays_ms"]

#: How far ahead of its turn a batch is queued, ms: enough backlog that the run never waits for a batch to be
#: delivered (delivery, claim and reads take a few hundred ms), little enough that it holds few threads.
LEAD_MS = 3000.0
#: The latest a batch is queued for, ms. Workers keep delayed messages in memory (Dramatiq prefetches up to
#: 1,000 per thread); batches of a run beyond this are queued at this delay and wait for slots from then on.
MAX_SPREAD_MS = 3600 * 1000.0


def batch_delays_ms(sizes: Sequence[int], run_rate: float | None, per_second: float) -> list[float]:
    """The delay of each batch of one run when it is queued, ms.

    Args:
        sizes: the number of ids of each batch, in queue order.
        run_rate: the run's own cap, messages per second (None: none).
        per_second: the sender cap.

    Returns:
        For each batch: the time the ids of the batches before it take at the lower of ``run_rate`` and
        ``per_second``, less :data:`LEAD_MS`, between 0 and :data:`MAX_SPREAD_MS`.
    """
    pace = min(run_rate, per_second) if run_rate else per_second
    delays: list[float] = []
    before = 0
    for size in sizes:
        delays.append(min(max(0.0, before / pace * 1000 - LEAD_MS), MAX_SPREAD_MS))
        before += size
    return delays
