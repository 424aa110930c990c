"""Firing a campaign: one scheduled fire makes at most one run, written to the database before anything is enqueued."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from hub.budget import expires_at
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.planning import (
    MisfireDecision,
    as_utc,
    catch_up_fires,
    fire_key,
    misfire_decision,
    past_at,
    schedule_fingerprint,
    schedule_zone,
)
from hub.status import RunState

__all__ = ["REMOVED", "Clock", "FireOutcome", "Firer", "NoteSchedule", "StartRun", "utc_now"]

log = logging.getLogger(__name__)

#: Enqueues the fan-out of a run (``actors.fan_out.fan_out_run.send``); must not block on the fan-out itself.
StartRun = Callable[[int], Any]
#: The current instant, aware (injected in tests).
Clock = Callable[[], datetime]
#: ``(campaign, fingerprint, now) -> seen_since``: records durably since when a schedule has been seen.
NoteSchedule = Callable[[str, str, datetime], datetime]

#: The fingerprint of a campaign whose file is gone: adding it back is a new schedule, first seen anew.
REMOVED = "removed"

#: How far back a starting scheduler looks for fires nobody recorded (they become ``missed`` runs).
DEFAULT_LOOKBACK_S = 24 * 3600
#: Scheduled runs examined per due sweep.
DUE_RUNS_LIMIT = 500


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class FireOutcome(NamedTuple):
    """What one fire did: ``created`` is False when another scheduler (or an earlier start) already had the run."""

    campaign: str
    fire_key: str
    run_id: int
    created: bool
    state: RunState


def _store() -> Any:
    # Imported late: the store binds Piccolo tables to an engine, which `hub check` and the pure tests never need.
    from hub.store import queries

    return queries


def _run_sync(coro: Any) -> Any:
    from hub.store.db import run_sync

    return run_sync(coro)


def _note_schedule(campaign: str, fingerprint: str, now: datetime) -> datetime:
    result: datetime = _run_sync(_store().note_schedule(campaign, fingerprint, now))
    return result


def _template_refusal(campaign: CampaignSpec) -> str | None:
    """Why the campaign's content template may not be sent (rejected, paused, disabled), or None."""
    from hub.templates.guard import TemplateNotSendable, assert_sendable

    try:
        for _, message in campaign.messages():
            _run_sync(assert_sendable(message.content_sid))
    except TemplateNotSendable as exc:
        return exc.reason
    return None


class Firer:
    """The scheduler's only way to start a campaign run: :meth:`fire`, shared by live fires, catch-up and tests.

    Args:
        settings: ``timezone`` (default schedule zone) and ``scheduler.misfire_grace_seconds``.
        clock: the current instant.
        start_run: enqueues the fan-out of a created run.
        note_schedule: records since when a schedule has been seen (the database's ``campaign_schedule``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        start_run: StartRun,
        note_schedule: NoteSchedule = _note_schedule,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.start_run = start_run
        self.note_schedule = note_schedule
        self.grace_s = settings.scheduler.misfire_grace_seconds

    def fire(
        self, campaign: CampaignSpec, scheduled_time: datetime, *, decision: MisfireDecision | None = None
    ) -> FireOutcome:
        """Record the run of ``campaign``'s fire at ``scheduled_time`` exactly once, then enqueue its fan-out.

        Late by more than the misfire grace (or told ``missed``), the run is recorded as ``missed`` and
        nothing is enqueued. The unique ``(campaign, fire_key)`` in the database makes a second call for the
        same fire (another scheduler process, a restart, the fall-back hour's repeat) find the run and do
        nothing.

        Args:
            campaign: the campaign (must have a ``schedule``).
            scheduled_time: the fire's scheduled instant.
            decision: run or missed, as catch-up decided; None decides by lateness alone (a live fire).
        """
        if campaign.schedule is None:
            raise ValueError(f"campaign {campaign.name!r} has no schedule")
        tz = schedule_zone(campaign.schedule, self.settings.timezone)
        key = fire_key(scheduled_time, tz)
        scheduled = as_utc(scheduled_time)
        now = as_utc(self.clock())
        if decision is None:
            decision = misfire_decision(scheduled, now, self.grace_s)
        state = RunState.RUNNING if decision == "run" else RunState.MISSED
        meta = _run_meta(campaign, scheduled, tz)
        refusal = _template_refusal(campaign) if state is RunState.RUNNING else None
        if refusal is not None:
            # Recorded (not skipped) so the fire stays exactly-once and the reason shows in `hub status` and the API.
            state, meta = RunState.CANCELED, {**meta, "refused": refusal}
        run, created = _run_sync(
            _store().create_run(
                campaign=campaign.name,
                kind="campaign",
                trigger="schedule",
                fire_key=key,
                state=state,
                scheduled_at=scheduled,
                expires_at=expires_at(now, campaign.expires_after, campaign.valid_until, tz=tz)
                if state is RunState.RUNNING
                else None,
                meta=meta,
                now=now,
            )
        )
        if created and state is RunState.RUNNING:
            log.info("campaign %r fired for %s: run %d started", campaign.name, key, run.id)
            self.start_run(run.id)
        elif created and refusal is not None:
            log.warning("campaign %r fire %s refused: %s (run %d canceled)", campaign.name, key, refusal, run.id)
        elif created:
            late_s = (now - scheduled).total_seconds()
            log.warning(
                "campaign %r missed its fire at %s (%.0f s late): run %d recorded", campaign.name, key, late_s, run.id
            )
        else:
            log.debug("campaign %r fire %s already has run %d", campaign.name, key, run.id)
        return FireOutcome(campaign.name, key, run.id, created, RunState(run.state))

    def catch_up(self, specs: Iterable[CampaignSpec], *, lookback_s: float = DEFAULT_LOOKBACK_S) -> list[FireOutcome]:
        """Account for fires that passed while no scheduler ran (docs/SCHEDULING.md).

        Records that each campaign's schedule is seen now (the first sight of a schedule is kept in the
        database), then, for fires after that first sight: the latest one runs if it is within the misfire
        grace, the others are recorded ``missed``. A fire before the schedule was first seen never runs.

        Args:
            specs: the campaigns loaded or changed (disabled and unscheduled ones are only noted).
            lookback_s: how far back passed fires are recorded as missed.
        """
        now = self.clock()
        tz = self.settings.timezone
        outcomes: list[FireOutcome] = []
        for spec in specs:
            seen_since = self.note_schedule(spec.name, schedule_fingerprint(spec, tz), now)
            if not spec.enabled or spec.schedule is None:
                continue
            at = past_at(spec.schedule, tz, seen_since)
            if at is not None:
                log.warning(
                    "campaign %r: its at (%s) is before its schedule was first seen (%s): it never fires; "
                    "start a run with `hub send`",
                    spec.name,
                    at.isoformat(),
                    as_utc(seen_since).isoformat(),
                )
            owed = catch_up_fires(
                spec.schedule, tz, now, grace_s=self.grace_s, lookback_s=lookback_s, seen_since=seen_since
            )
            outcomes.extend(self.fire(spec, moment, decision="missed") for moment in owed.missed)
            if owed.late is not None:
                outcomes.append(self.fire(spec, owed.late, decision="run"))
        return outcomes

    def note_removed(self, names: Iterable[str]) -> None:
        """Record that these campaigns' files are gone, so adding one back counts as a new schedule."""
        now = self.clock()
        for name in names:
            self.note_schedule(name, REMOVED, now)

    def start_due_runs(self) -> list[int]:
        """Start runs created as ``scheduled`` (``hub send --at``, the API's ``send_at``) once they are due.

        Each is moved to ``running`` by compare-and-set, so only one scheduler enqueues its fan-out.

        Returns:
            The ids of the runs this call started.
        """
        store = _store()
        now = as_utc(self.clock())
        runs = _run_sync(store.list_runs(states=[RunState.SCHEDULED], limit=DUE_RUNS_LIMIT))
        started: list[int] = []
        for run in sorted(runs, key=lambda r: r.id):
            if run.scheduled_at is not None and as_utc(run.scheduled_at) > now:
                continue
            moved = _run_sync(store.set_run_state(run.id, RunState.RUNNING, from_states=[RunState.SCHEDULED], now=now))
            if moved is not None:
                log.info("run %d is due: started", run.id)
                if run.campaign:  # an API send wrote its rows already: the due sweep sends them, no fan-out
                    self.start_run(run.id)
                else:  # one with nothing owed (all rejected or skipped) is done as soon as it starts
                    _run_sync(store.finish_if_done(run.id, now=now))
                started.append(run.id)
        return started


def _run_meta(campaign: CampaignSpec, scheduled: datetime, tz: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"fire_time": scheduled.isoformat(), "timezone": tz, "source": str(campaign.source)}
    window = campaign.schedule.send_window if campaign.schedule else None
    if window is not None:
        meta["send_window"] = {"start": window.start, "end": window.end}
    if campaign.rate_limit is not None:
        # The run's own cap travels with it, so every re-enqueue of its rows (retries, sweeps) keeps it.
        meta["rate_limit"] = {"per_second": campaign.rate_limit.per_second}
    return meta
