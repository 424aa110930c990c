"""When a wait ends (pure): a duration from now, or the next wall-clock time in the recipient's zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.campaigns.journey import Wait

__all__ = ["wait_until"]


def wait_until(wait: Wait, at: datetime, timezone: str) -> datetime:
    """The instant a wait that begins at ``at`` ends.

    Args:
        wait: a duration, or ``until`` (``HH:MM``) in the recipient's local time.
        at: when the wait begins (aware).
        timezone: the recipient's IANA zone.

    Returns:
        An aware UTC instant; for ``until``, the first such local time at or after ``at`` (a time that a DST
        change skips that day falls at the shifted instant the zone maps it to).
    """
    if wait.duration is not None:
        return (at + wait.duration).astimezone(UTC)
    assert wait.until is not None
    zone = ZoneInfo(timezone)
    hour, minute = (int(part) for part in wait.until.split(":"))
    local = at.astimezone(zone)
    for days in (0, 1, 2):
        day = local.date() + timedelta(days=days)
        candidate = datetime.combine(day, time(hour, minute), tzinfo=zone)
        if candidate.astimezone(UTC) >= at.astimezone(UTC):
            return candidate.astimezone(UTC)
    raise AssertionError("unreachable: a wall-clock time recurs within two days")
