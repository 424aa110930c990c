"""Quiet hours (pure): when a send window next opens in the recipient's local time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.campaigns.spec import CampaignSpec, SendWindow
from hub.phones import timezone_for
from hub.planning import as_utc

__all__ = ["held_until", "in_window", "next_opening", "parse_hhmm", "send_at_for"]


def parse_hhmm(text: str) -> time:
    """``"09:30"`` -> ``time(9, 30)``; ``"24:00"`` means the end of the day.

    Raises:
        ValueError: not ``HH:MM`` with 00 <= HH <= 24 and 00 <= MM <= 59.
    """
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"expected HH:MM, found {text!r}")
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0:
        return time.max
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(f"expected HH:MM between 00:00 and 24:00, found {text!r}")
    return time(h, m)


def in_window(wall: time, window: SendWindow) -> bool:
    """Whether a local wall-clock time is inside the window (start inclusive, end exclusive).

    A window whose end is before its start crosses midnight (``22:00``-``06:00``); equal start and end
    means always open.
    """
    start, end = parse_hhmm(window.start), parse_hhmm(window.end)
    if start == end:
        return True
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def next_opening(now_utc: datetime, window: SendWindow, tz: str) -> datetime:
    """The first instant at or after ``now_utc`` when the window is open in zone ``tz``.

    Args:
        now_utc: the current instant (aware; naive is taken as UTC).
        window: ``start``/``end`` as ``HH:MM`` local wall-clock times.
        tz: the IANA zone the window is read in (the recipient's).

    Returns:
        ``now_utc`` (in UTC) when inside the window, else the next local ``start`` as a UTC instant.
        DST-safe: a ``start`` inside the spring-forward gap opens at the shifted time (02:30 -> 03:30) as
        long as that is still inside the window; a day whose window falls wholly in the gap is skipped.
    """
    now = as_utc(now_utc)
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    if in_window(local.time(), window):
        return now
    start = parse_hhmm(window.start)
    for days in range(3):
        day = local.date() + timedelta(days=days)
        candidate = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
        if candidate <= now:
            continue
        # Round-trip through UTC: in the gap the wall time moves, and may leave a short window.
        if in_window(candidate.astimezone(zone).time(), window):
            return candidate
    # Unreachable for a valid window: some start within three days is open. Kept total, not silent.
    raise ValueError(f"send window {window.start}-{window.end} never opens in {tz}")


def send_at_for(
    recipient_phone: str,
    window: SendWindow | None,
    campaign_tz: str,
    now: datetime,
    *,
    recipient_tz: str | None = None,
) -> datetime:
    """When a message to ``recipient_phone`` may be sent: now, or the next opening of its send window.

    The window is read in the recipient's zone: its contact's own (``recipient_tz``), else the number's
    (``hub.phones.timezone_for``); a number spanning several zones (most of the US) uses the campaign's zone.

    Args:
        recipient_phone: E.164 number.
        window: the campaign's ``schedule.send_window``; None means no quiet hours.
        campaign_tz: the campaign's IANA zone (its schedule's, else ``settings.timezone``).
        now: the current instant.
        recipient_tz: the zone the contact's ``timezone`` attribute names (``hub.contacts.contact_zone``), if any.

    Returns:
        An aware UTC datetime, ``>= now``.
    """
    now_utc = as_utc(now)
    if window is None:
        return now_utc
    return next_opening(now_utc, window, recipient_tz or timezone_for(recipient_phone, fallback=campaign_tz))


def held_until(spec: CampaignSpec, default_tz: str, now: datetime) -> Callable[..., datetime | None]:
    """For a campaign: when its send window lets a message to a phone go, or None when it may go at ``now``; the
    callable takes the phone and, optionally, the zone its contact names (``recipient_tz``), which wins.

    Args:
        spec: the campaign (its ``schedule.send_window`` and ``schedule.timezone``).
        default_tz: ``settings.timezone``, for a schedule without a zone.
        now: the instant asked about.
    """
    window = spec.schedule.send_window if spec.schedule else None
    if window is None:
        return lambda _phone, recipient_tz=None: None
    zone = (spec.schedule.timezone if spec.schedule else None) or default_tz
    at = as_utc(now)

    def until(phone: str, recipient_tz: str | None = None) -> datetime | None:
        due = send_at_for(phone, window, zone, at, recipient_tz=recipient_tz)
        return due if due > at else None

    return until
