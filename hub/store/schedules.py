"""Campaign schedules as the schedulers have seen them: since when each one has been in force."""

from __future__ import annotations

from datetime import datetime

from hub.store.rows import when
from hub.store.tables import CampaignSchedule

__all__ = ["note_schedule"]


async def note_schedule(campaign: str, fingerprint: str, now: datetime) -> datetime:
    """Record that a scheduler sees ``campaign`` with the schedule ``fingerprint`` at ``now``; say since when.

    The first scheduler to see a fingerprint sets the instant; the others (and later calls) read it, so
    several scheduler processes agree. A different fingerprint starts a new instant.

    Args:
        campaign: the campaign name.
        fingerprint: ``hub.planning.schedule_fingerprint`` (or any marker, such as for a removed file).
        now: the scheduler's current instant (aware).

    Returns:
        When this fingerprint was first seen (UTC).
    """
    row = CampaignSchedule(campaign=campaign, fingerprint=fingerprint, seen_since=when(now))
    await CampaignSchedule.insert(row).on_conflict(
        target=CampaignSchedule.campaign,
        action="DO UPDATE",
        values=[CampaignSchedule.fingerprint, CampaignSchedule.seen_since],
        where=CampaignSchedule.fingerprint != fingerprint,
    )
    seen = await (
        CampaignSchedule.select(CampaignSchedule.seen_since).where(CampaignSchedule.campaign == campaign).first()
    )
    assert seen is not None, "the row was just written"
    return when(seen["seen_since"])
