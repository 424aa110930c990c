"""The send actor: ``send_batch(ids)`` sends each ledger row of ``ids`` at most once (a single send is a batch of
one; :func:`actors.enqueue.enqueue_rows` queues them)."""

from __future__ import annotations

import dramatiq

from actors import runtime
from actors.batch import Batch, batch_kwargs
from hub.store import queries

#: The queue of the send actor (``fan_out_run`` uses ``default``), so workers can be split by role.
SEND_QUEUE = "send"
#: Seconds a batch may take end to end; Dramatiq interrupts it past this (its rows then wait for the sweeper).
SEND_TIME_LIMIT_MS = 120_000


@dramatiq.actor(actor_name="send_batch", queue_name=SEND_QUEUE, time_limit=SEND_TIME_LIMIT_MS)
async def send_batch(message_ids: list[int], run_rate: float | None = None, run_id: int | None = None) -> None:
    """Send each ledger row of ``message_ids`` at most once (the rows of run ``run_id``, capped at ``run_rate``/s).

    A second delivery of the same batch claims nothing and sends nothing.
    """
    ids = list(dict.fromkeys(int(i) for i in message_ids))
    if not ids:
        return
    rt = runtime.current()
    if run_rate and run_id is None:  # a batch queued before its run travelled with it: the run's bucket needs it
        first = await queries.get_message(ids[0])
        run_id = first.run_id if first is not None else None
    await Batch(rt, enqueue=_enqueue, run_rate=run_rate, run_id=run_id).send(ids)


def _enqueue(ids: list[int], run_rate: float | None, run_id: int | None, delay_ms: float) -> None:
    delay = max(0, int(delay_ms)) or None
    send_batch.send_with_options(args=(ids,), kwargs=batch_kwargs(run_rate, run_id), delay=delay)


__all__ = ["SEND_QUEUE", "SEND_TIME_LIMIT_MS", "send_batch"]
