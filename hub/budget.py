"""The daily tier budget and message expiry (pure): unique business-initiated recipients per rolling 24 h."""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.planning import as_utc, localize

__all__ = ["BUDGET_WINDOW", "daily_budget_decision", "expires_at"]

#: WhatsApp's messaging-limit tiers count unique users over a moving 24 h window (TWILIO.md §7.4).
BUDGET_WINDOW = timedelta(hours=24)


def daily_budget_decision(
    sent_unique_in_last_24h: int,
    cap: int | None,
    recipient_already_counted: bool,
    oldest_count_time: datetime | None,
    now: datetime,
) -> tuple[bool, datetime | None]:
    """Whether a business-initiated message to one recipient fits ``rate_limits.daily_unique_recipients``.

    A recipient already reached in the last 24 h costs nothing more; a new one needs a free slot. When
    none is free, the recipient waits until the counted entry that frees a slot leaves the window.

    Args:
        sent_unique_in_last_24h: unique recipients counted in the 24 h ending at ``now``.
        cap: the tier (e.g. 1000); None means unlimited.
        recipient_already_counted: this recipient is among those counted.
        oldest_count_time: when the entry whose expiry frees a slot was counted (the oldest one when the
            count is exactly at the cap; with ``count - cap`` more entries ahead of it when over).
        now: the current instant.

    Returns:
        ``(True, None)`` to send now, else ``(False, wait_until)``: the instant a slot frees up, or None
        when no slot ever will (a cap of 0).
    """
    if cap is None or recipient_already_counted:
        return True, None
    if sent_unique_in_last_24h < cap:
        return True, None
    if cap <= 0:
        return False, None
    if oldest_count_time is None:
        # Full but the caller cannot say since when: the safe bound is a whole window from now.
        return False, as_utc(now) + BUDGET_WINDOW
    return False, max(as_utc(oldest_count_time) + BUDGET_WINDOW, as_utc(now))


def expires_at(
    run_started_at: datetime,
    expires_after: timedelta | None,
    valid_until: datetime | None,
    *,
    tz: str = "UTC",
) -> datetime | None:
    """When messages of a run still unsent end as ``expired``: the earlier of the two limits.

    Args:
        run_started_at: when the run started (aware; naive is taken as UTC).
        expires_after: the campaign's ``expires_after`` (e.g. 12 h), or None.
        valid_until: the campaign's ``valid_until``; a naive value is a wall time in ``tz``.
        tz: the campaign's zone, for a naive ``valid_until``.

    Returns:
        An aware UTC datetime, or None when neither limit is set.
    """
    limits: list[datetime] = []
    if expires_after is not None:
        limits.append(as_utc(run_started_at) + expires_after)
    if valid_until is not None:
        limits.append(localize(valid_until, tz))
    return min(limits) if limits else None
