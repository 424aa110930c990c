"""Start-up recovery of ``hub run``: what the ledger says is owed is queued again before serving."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

import msgspec

from hub.status import RunState
from hub.store.records import RunRecord

__all__ = ["RecoveryReport", "fan_outs_owed", "recover"]

log = logging.getLogger(__name__)

#: Ledger ids read per page.
PAGE = 1000


class RecoveryReport(msgspec.Struct, frozen=True):
    """What start-up recovery queued: campaign fan-outs resumed and owed sends re-enqueued."""

    fan_outs: int = 0
    sends: int = 0


def fan_outs_owed(runs: Iterable[RunRecord]) -> list[int]:
    """Runs whose fan-out was under way when the process stopped (pure): running campaign runs not fanned out.

    API sends write their rows directly, so only campaign runs have a fan-out to resume; it restarts from the
    run's checkpoint and inserts no row twice.
    """
    return [
        run.id for run in runs if run.kind == "campaign" and run.state == RunState.RUNNING and run.fanned_out_at is None
    ]


def recover(
    *,
    enqueue_fan_out: Callable[[int], object],
    enqueue_sends: Callable[[Sequence[int]], object],
    now: datetime | None = None,
) -> RecoveryReport:
    """Queue again everything the ledger says is owed and due (sync; database calls through ``run_sync``).

    Meant for an empty queue (the embedded Redis starts empty: whatever it held died with the previous
    process), so every due ``pending`` row is enqueued at once rather than after the sweeper's idle delay.
    Enqueuing a row that is also queued elsewhere is harmless: the claim sends it once. Rows left ``sending``
    by a hard kill are not touched here; the recovery sweep marks them ``unknown`` once stale.

    Args:
        enqueue_fan_out: queues ``fan_out_run(run_id)``.
        enqueue_sends: queues the sends of the ids.
        now: the instant rows must be due by (UTC); defaults to now.
    """
    from hub.store import queries
    from hub.store.db import run_sync

    now = now or datetime.now(UTC)
    runs = run_sync(queries.list_runs(states=[RunState.RUNNING], limit=10_000))
    fan_outs = fan_outs_owed(runs)
    for run_id in fan_outs:
        enqueue_fan_out(run_id)
    sends, after_id = 0, 0
    while True:
        ids = run_sync(queries.due_message_ids(now, PAGE, after_id=after_id))
        if not ids:
            break
        enqueue_sends(ids)
        sends += len(ids)
        after_id = ids[-1]
    report = RecoveryReport(fan_outs=len(fan_outs), sends=sends)
    if fan_outs or sends:
        log.info("recovered from the ledger: %d fan-out(s) resumed, %d owed send(s) queued", len(fan_outs), sends)
    return report
