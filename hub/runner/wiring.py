"""What the scheduler sets in motion, wired where both layers meet (the scheduler never imports the actors, and
the actors never import the scheduler)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import actors
from actors.enqueue import enqueue_rows, run_send_options
from actors.sweep import SweepReport
from hub.config import Settings
from hub.store.records import RunRecord
from scheduler.main import Hooks


def scheduler_hooks(settings: Settings) -> Hooks:
    """For :func:`scheduler.main.build_scheduler`: a run's fan-out, the sends of due rows (with their run's cap),
    the recovery sweep, and the advance of journey entries."""

    def enqueue_due(ids: Sequence[int], run: RunRecord | None) -> int:
        options = run_send_options(run, settings) if run is not None else {}
        return enqueue_rows(list(ids), options=options)

    def recover(now: datetime) -> SweepReport:
        return actors.sweep(settings, now)

    def journeys(now: datetime) -> None:
        actors.advance_journeys.send()

    return Hooks(
        start_run=actors.fan_out_run.send, enqueue_sends=enqueue_due, recover=recover, advance_journeys=journeys
    )


__all__ = ["scheduler_hooks"]
