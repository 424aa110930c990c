"""The scheduler process: APScheduler jobs planned from the campaign files, plus the due, recovery and expiry sweeps."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from hub.config import Settings
from hub.planning import PlannedFire, plan_next_fires
from scheduler.catalog import CampaignCatalog, Loader
from scheduler.fire import DEFAULT_LOOKBACK_S, Clock, Firer, StartRun, utc_now
from scheduler.sweeps import EnqueueMessages, default_sweeps

__all__ = ["Hooks", "HubScheduler", "Intervals", "Sweep", "build_scheduler"]

log = logging.getLogger(__name__)

#: A periodic task of the scheduler process, given the current instant.
Sweep = Callable[[datetime], Any]


class Hooks(TypedDict):
    """What the scheduler sets in motion, handed over by the process that wires it (the scheduler never imports
    the actors): ``build_scheduler(settings, **hooks)``."""

    start_run: StartRun
    enqueue_sends: EnqueueMessages
    recover: Sweep
    advance_journeys: Sweep


_FIRE_PREFIX = "fire:"


@dataclass(frozen=True)
class Intervals:
    """How often each periodic job runs, in seconds."""

    reload_s: float = 15.0
    due_s: float = 1.0
    #: The recovery sweep also expires unsent messages of expired runs.
    recovery_s: float = 10.0


@dataclass
class HubScheduler:
    """One scheduler process. Several may run at once: the database, not APScheduler, decides what runs.

    Each campaign has one APScheduler job: a date job at its next fire, which calls :meth:`Firer.fire` and
    then plans the following fire. Jobs live in memory only (a job store must never be shared between
    schedulers); a restart re-plans them from the files and catches up on fires that passed meanwhile.

    Attributes:
        firer: creates runs (exactly once per fire) and enqueues their fan-out.
        catalog: the campaigns, reloaded when files change.
        sweeps: periodic tasks besides the campaign reload: name -> (interval in seconds, task).
    """

    settings: Settings
    firer: Firer
    catalog: CampaignCatalog
    intervals: Intervals = field(default_factory=Intervals)
    sweeps: dict[str, tuple[float, Sweep]] = field(default_factory=dict)
    lookback_s: float = DEFAULT_LOOKBACK_S
    aps: BackgroundScheduler = field(init=False)
    _lock: threading.RLock = field(init=False, default_factory=threading.RLock)
    #: Campaigns whose recent fires must be checked against the database (new, changed, or a failed fire).
    _catch_up_owed: set[str] = field(init=False, default_factory=set)
    _stopping: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        # misfire_grace_time=None: APScheduler always calls us, however late; Firer.fire decides run or missed.
        self.aps = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )

    @property
    def clock(self) -> Clock:
        return self.firer.clock

    def start(self) -> None:
        """Load the campaigns, catch up on fires missed while down, plan the jobs, and start firing."""
        self.reload()
        self.aps.add_job(self.reload, "interval", seconds=self.intervals.reload_s, id="reload", replace_existing=True)
        for name, (interval_s, task) in self.sweeps.items():
            self.aps.add_job(
                self._sweep,
                "interval",
                seconds=interval_s,
                args=[name, task],
                id=f"sweep:{name}",
                replace_existing=True,
            )
        self.aps.start()
        log.info("scheduler started with %d campaign(s)", len(self.catalog.specs))

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing; with ``wait``, let running jobs finish first."""
        # APScheduler's shutdown holds its job-store lock while it waits for running jobs; a job touching
        # the job store then (sync_jobs after a fire) would deadlock it. Close the door first.
        with self._lock:
            self._stopping = True
        if self.aps.running:
            self.aps.shutdown(wait=wait)

    def reload(self) -> None:
        """Pick up added, changed and removed campaign files; catch up on the added and changed ones."""
        with self._lock:
            if self._stopping:
                return
            try:
                changes = self.catalog.refresh()
            except Exception:
                log.exception("reloading campaigns failed; keeping the current plan")
                return
            if changes:
                log.info("campaigns added %s, changed %s, removed %s", changes.added, changes.changed, changes.removed)
                self._catch_up_owed.update((*changes.added, *changes.changed))
                self._catch_up_owed.difference_update(changes.removed)
                self._note_removed(changes.removed)
            if self._catch_up_owed:
                self._catch_up()
            if changes:
                self.sync_jobs()

    def _note_removed(self, names: list[str]) -> None:
        if not names:
            return
        try:
            self.firer.note_removed(names)
        except Exception:
            # Only costs a catch-up if the file comes back unchanged within the grace: not worth retrying.
            log.exception("recording the removal of campaigns %s failed", names)

    def _catch_up(self) -> None:
        names = sorted(self._catch_up_owed)
        specs = [self.catalog.specs[name] for name in names if name in self.catalog.specs]
        try:
            self.firer.catch_up(specs, lookback_s=self.lookback_s)
        except Exception:
            log.exception("catching up on fires of %s failed; the next reload retries", names)
            return
        self._catch_up_owed.difference_update(names)

    def planned(self) -> list[PlannedFire]:
        """The next fire of every campaign, as it stands now."""
        return plan_next_fires(self.catalog.specs.values(), self.settings.timezone, self.clock())

    def sync_jobs(self) -> None:
        """Make the fire jobs match :meth:`planned`: add the missing ones, remove those no longer planned."""
        with self._lock:
            if self._stopping:
                return
            wanted = {fire.job_id: fire for fire in self.planned()}
            for job in self.aps.get_jobs():
                if job.id.startswith(_FIRE_PREFIX) and job.id not in wanted:
                    self._remove_job(job.id)
            for job_id, fire in wanted.items():
                if self.aps.get_job(job_id) is None:
                    self.aps.add_job(
                        self._on_fire,
                        DateTrigger(run_date=fire.fire_time, timezone=UTC),
                        args=[fire.campaign, fire.fire_time],
                        id=job_id,
                        name=f"fire {fire.campaign}",
                    )

    def _remove_job(self, job_id: str) -> None:
        try:
            self.aps.remove_job(job_id)
        except Exception:  # JobLookupError: it just ran and APScheduler removed it
            log.debug("job %s already gone", job_id)

    def _on_fire(self, campaign: str, fire_time: datetime) -> None:
        spec = self.catalog.specs.get(campaign)
        if spec is None or not spec.enabled or spec.schedule is None:
            log.info("campaign %r no longer scheduled; fire at %s dropped", campaign, fire_time.isoformat())
            return
        try:
            self.firer.fire(spec, fire_time)
        except Exception:
            # Database down, say: the next reload's catch-up retries this fire (within the misfire grace).
            log.exception(
                "firing campaign %r at %s failed; retrying at the next reload", campaign, fire_time.isoformat()
            )
            with self._lock:
                self._catch_up_owed.add(campaign)
        finally:
            self.sync_jobs()

    def _sweep(self, name: str, task: Sweep) -> None:
        try:
            task(self.clock())
        except Exception:
            log.exception("%s sweep failed; it runs again in its next interval", name)


def build_scheduler(
    settings: Settings,
    *,
    start_run: StartRun,
    enqueue_sends: EnqueueMessages | None = None,
    recover: Sweep | None = None,
    advance_journeys: Sweep | None = None,
    clock: Clock = utc_now,
    sweeps: dict[str, tuple[float, Sweep]] | None = None,
    loader: Loader | None = None,
    intervals: Intervals | None = None,
    lookback_s: float = DEFAULT_LOOKBACK_S,
) -> HubScheduler:
    """Wire a scheduler for ``settings``.

    Args:
        settings: the hub settings.
        clock: the current instant (injected in tests).
        start_run: enqueues a run's fan-out (``actors.fan_out_run.send``).
        enqueue_sends: enqueues the sends of due rows of one run; needed by the default sweeps.
        recover: the recovery sweep (``actors.sweep.sweep``); needed by the default sweeps.
        advance_journeys: enqueues the advance of journey entries (``actors.journeys.advance_journeys.send``).
        sweeps: the periodic tasks; defaults to :func:`scheduler.sweeps.default_sweeps` (due runs and messages,
            recovery with expiry).

    The scheduler never imports the actors: whoever wires it hands over what it sets in motion
    (:func:`hub.runner.wiring.scheduler_hooks`).
        loader: loads the campaigns (tests inject one).
        intervals: periodic job intervals.
        lookback_s: how far back a start looks for unrecorded fires (recorded as ``missed`` beyond grace).
    """
    intervals = intervals or Intervals()
    firer = Firer(settings, clock=clock, start_run=start_run)
    catalog = CampaignCatalog(settings) if loader is None else CampaignCatalog(settings, loader=loader)
    if sweeps is None:
        if enqueue_sends is None or recover is None:
            raise ValueError("build_scheduler: the default sweeps need enqueue_sends and recover")
        sweeps = default_sweeps(
            firer, intervals, enqueue_sends=enqueue_sends, recover=recover, advance_journeys=advance_journeys
        )
    return HubScheduler(settings, firer, catalog, intervals=intervals, sweeps=sweeps, lookback_s=lookback_s)
