"""Schedule planning (pure): when a campaign fires, how each fire is keyed, and whether a late fire still runs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

import msgspec

from hub.campaigns.spec import CampaignSpec, Schedule
from hub.cron import cron_trigger

__all__ = [
    "CatchUp",
    "MisfireDecision",
    "PlannedFire",
    "as_utc",
    "catch_up_fires",
    "fire_key",
    "fire_times",
    "localize",
    "misfire_decision",
    "next_fire_time",
    "past_at",
    "plan_next_fires",
    "schedule_fingerprint",
    "schedule_zone",
]

MisfireDecision = Literal["run", "missed"]


def schedule_zone(schedule: Schedule, default_tz: str) -> str:
    """The IANA zone a schedule is read in: its own ``timezone``, else the configured default."""
    return schedule.timezone or default_tz


def localize(naive: datetime, tz: str) -> datetime:
    """Attach ``tz`` to a wall-clock time, as a UTC instant.

    A wall time that does not exist (the spring-forward gap) lands on the shifted time after the gap
    (02:30 on a 02:00->03:00 day is 03:30 local); an ambiguous one (the fall-back hour) is its first
    occurrence. An aware datetime is only converted.
    """
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=ZoneInfo(tz), fold=0).astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken as UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _wall(moment: datetime, tz: str) -> datetime:
    """The naive local wall-clock time of an instant in ``tz`` (the fall-back hour's two instants share it)."""
    return as_utc(moment).astimezone(ZoneInfo(tz)).replace(tzinfo=None, fold=0)


def fire_times(schedule: Schedule, default_tz: str, after: datetime, until: datetime) -> list[datetime]:
    """Every fire of ``schedule`` with ``after < fire <= until``, in UTC, oldest first.

    DST: a cron time inside the spring-forward gap fires once at the shifted time; a cron time inside
    the fall-back hour fires once, at its first occurrence (APScheduler itself would fire it twice).
    Two cron times that land on the same local wall time collapse into one fire.

    Args:
        schedule: the campaign's ``schedule`` (``at`` or 5-field ``cron``).
        default_tz: zone for a schedule without ``timezone`` (``settings.timezone``).
        after: exclusive lower bound (aware; naive is taken as UTC).
        until: inclusive upper bound (aware; naive is taken as UTC).

    Returns:
        UTC datetimes. Empty when nothing fires in the interval or the schedule has neither field.
    """
    tz = schedule_zone(schedule, default_tz)
    start, end = as_utc(after), as_utc(until)
    if schedule.at is not None:
        moment = localize(schedule.at, tz)
        return [moment] if start < moment <= end else []
    if not schedule.cron:
        return []
    trigger = cron_trigger(schedule.cron, tz)
    fires: list[datetime] = []
    seen: set[datetime] = set()
    previous: datetime | None = None
    # Begin one fall-back hour early so a double fire straddling `after` is recognised as already fired.
    cursor = start - timedelta(hours=1)
    while True:
        nxt = trigger.get_next_fire_time(previous, cursor)
        if nxt is None:
            break
        moment = as_utc(nxt)
        if moment > end:
            break
        wall = _wall(moment, tz)
        if wall not in seen:
            seen.add(wall)
            if moment > start:
                fires.append(moment)
        previous = nxt
        cursor = nxt
    return fires


def next_fire_time(schedule: Schedule, default_tz: str, after: datetime) -> datetime | None:
    """The first fire strictly after ``after`` (UTC), or None when the schedule never fires again.

    Looks ahead up to ~366 days (a yearly cron fires within that span).
    """
    tz = schedule_zone(schedule, default_tz)
    start = as_utc(after)
    if schedule.at is not None:
        moment = localize(schedule.at, tz)
        return moment if moment > start else None
    if not schedule.cron:
        return None
    # Walk in month-sized slices so a frequent cron does not build a year of fire times.
    lower = start
    for _ in range(13):
        upper = lower + timedelta(days=31)
        found = fire_times(schedule, default_tz, lower, upper)
        if found:
            return found[0]
        lower = upper
    return None


def fire_key(fire_time: datetime, tz: str) -> str:
    """The identity of one fire of a campaign: the scheduled local wall-clock time and zone.

    The fall-back hour's two instants of 02:30 share one key, so however many times APScheduler (or how
    many scheduler processes) fire it, the database's unique ``(campaign, fire_key)`` admits one run.
    The campaign is not in the key (it is the other half of that unique pair), which keeps the key
    within the 64-character column.

    Args:
        fire_time: the scheduled instant (aware; naive is taken as UTC).
        tz: the schedule's IANA zone.

    Returns:
        e.g. ``"2026-10-25T02:30 Europe/Berlin"`` (seconds appear only when not zero).
    """
    wall = _wall(fire_time, tz)
    spec = "minutes" if wall.second == 0 and wall.microsecond == 0 else "seconds"
    return f"{wall.isoformat(timespec=spec)} {tz}"


def past_at(schedule: Schedule, default_tz: str, now: datetime) -> datetime | None:
    """The instant of a one-shot ``at`` that is already past at ``now`` (UTC), else None.

    Such a schedule never fires for a scheduler that sees it only now (a fire before a schedule was first seen
    never runs); ``hub check`` warns about it.
    """
    if schedule.at is None:
        return None
    moment = localize(schedule.at, schedule_zone(schedule, default_tz))
    return moment if moment <= as_utc(now) else None


def misfire_decision(scheduled: datetime, now: datetime, grace_s: float) -> MisfireDecision:
    """Whether a fire seen at ``now`` still runs: late by at most ``grace_s`` seconds runs, later is missed.

    Args:
        scheduled: the fire's scheduled instant.
        now: the current instant.
        grace_s: ``scheduler.misfire_grace_seconds``.
    """
    late_s = (as_utc(now) - as_utc(scheduled)).total_seconds()
    return "run" if late_s <= grace_s else "missed"


class PlannedFire(NamedTuple):
    """The next fire of one campaign: what the scheduler keeps one APScheduler job for."""

    campaign: str
    fire_time: datetime  # UTC
    tz: str

    @property
    def job_id(self) -> str:
        """Unique per campaign, instant and zone: a changed schedule makes a new job, an unchanged one keeps it."""
        return f"fire:{self.campaign}:{self.fire_time.isoformat()}:{self.tz}"


def plan_next_fires(specs: Iterable[CampaignSpec], default_tz: str, now: datetime) -> list[PlannedFire]:
    """The next fire strictly after ``now`` of every enabled, scheduled campaign (those that will fire again).

    Args:
        specs: the loaded campaigns.
        default_tz: ``settings.timezone``.
        now: the current instant.
    """
    planned: list[PlannedFire] = []
    for spec in specs:
        if not spec.enabled or spec.schedule is None:
            continue
        moment = next_fire_time(spec.schedule, default_tz, now)
        if moment is not None:
            planned.append(PlannedFire(spec.name, moment, schedule_zone(spec.schedule, default_tz)))
    return planned


class CatchUp(NamedTuple):
    """What a scheduler owes one campaign for the fires that passed while none was running."""

    #: The one fire that still runs late: the latest missed one, if it is within the misfire grace.
    late: datetime | None
    #: Every other passed fire, oldest first: recorded as ``missed``, never run.
    missed: list[datetime]


def catch_up_fires(
    schedule: Schedule,
    default_tz: str,
    now: datetime,
    *,
    grace_s: float,
    lookback_s: float,
    seen_since: datetime,
) -> CatchUp:
    """The fires a scheduler starting (or reloading) at ``now`` must account for, and what becomes of each.

    Rules (docs/SCHEDULING.md): a fire at or before ``seen_since`` (when any scheduler first saw this
    schedule) was never asked for and is not accounted for at all; of the later passed fires only the latest
    may run, and only if it is at most ``grace_s`` late; the others are missed. Fires older than
    ``max(grace_s, lookback_s)`` are not looked at.

    Args:
        schedule: the campaign's schedule.
        default_tz: ``settings.timezone``.
        now: the current instant.
        grace_s: ``scheduler.misfire_grace_seconds``.
        lookback_s: how far back passed fires are recorded as missed.
        seen_since: when this schedule (as it is now) was first seen, durably.
    """
    now_utc = as_utc(now)
    floor = max(as_utc(seen_since), now_utc - timedelta(seconds=max(grace_s, lookback_s)))
    if floor >= now_utc:
        return CatchUp(None, [])
    fires = fire_times(schedule, default_tz, floor, now_utc)
    if fires and misfire_decision(fires[-1], now_utc, grace_s) == "run":
        return CatchUp(fires[-1], fires[:-1])
    return CatchUp(None, fires)


def schedule_fingerprint(spec: CampaignSpec, default_tz: str) -> str:
    """What decides a campaign's fire times, hashed: a new fingerprint is a new schedule, first seen anew.

    Covers ``enabled``, ``at``, ``cron`` and the effective zone (so turning a campaign on, or changing the
    default zone it relies on, counts as a new schedule); not the send window, which does not move fires.
    """
    schedule = spec.schedule
    if schedule is None:
        decisive: tuple[object, ...] = (spec.enabled, None)
    else:
        decisive = (spec.enabled, schedule.at, schedule.cron, schedule_zone(schedule, default_tz))
    return hashlib.sha256(msgspec.json.encode(decisive)).hexdigest()[:32]
